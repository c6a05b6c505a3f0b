//! Parsing a submitted schema into its canonical text, and checking two schemas of one type
//! against each other, for the three types: [`avro`], [`json`], [`protobuf`].
//!
//! The canonical text is what is stored in `_schemas` and hashed for identity: the same
//! schema written with other whitespace gets the same id. With `normalize`, the type's
//! normalized form is used instead (see each module).

pub mod avro;
pub mod json;
pub mod protobuf;

use serde::{Deserialize, Serialize};

/// The three schema formats. AVRO is the default wherever `schemaType` is absent.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    #[default]
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Avro => "AVRO",
            Self::Json => "JSON",
            Self::Protobuf => "PROTOBUF",
        }
    }

    /// `None` for an unknown type (a 42201 for the caller).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "AVRO" => Some(Self::Avro),
            "JSON" => Some(Self::Json),
            "PROTOBUF" => Some(Self::Protobuf),
            _ => None,
        }
    }

    /// What `_schemas` records carry: nothing for AVRO, as Confluent up to 7.9 writes.
    pub fn stored(self) -> Option<String> {
        self.stored_str().map(str::to_owned)
    }

    /// `schemaType` as requests carry it: absent for AVRO.
    pub fn stored_str(self) -> Option<&'static str> {
        (self != Self::Avro).then(|| self.as_str())
    }
}

/// A referenced schema, resolved from its subject and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedReference {
    /// The reference's `name`: Avro full name, Protobuf import path, JSON `$ref` URL.
    pub name: String,
    pub schema: String,
}

/// A schema that parsed, with what the compatibility checks need.
#[derive(Debug, Clone)]
pub struct ParsedSchema {
    pub schema_type: SchemaType,
    /// The text stored and hashed.
    pub canonical: String,
    parsed: Parsed,
}

#[derive(Debug, Clone)]
enum Parsed {
    Avro(Box<apache_avro::Schema>),
    Json(serde_json::Value),
    Protobuf(Box<prost_types::FileDescriptorProto>),
}

/// Parses `text` as `schema_type`; the error is the parser's reason, for a 42201.
pub fn parse(
    schema_type: SchemaType,
    text: &str,
    references: &[ResolvedReference],
    normalize: bool,
) -> Result<ParsedSchema, String> {
    let (canonical, parsed) = match schema_type {
        SchemaType::Avro => {
            let (canonical, schema) = avro::parse(text, references, normalize)?;
            (canonical, Parsed::Avro(Box::new(schema)))
        }
        SchemaType::Json => {
            let (canonical, value) = json::parse(text, normalize)?;
            (canonical, Parsed::Json(value))
        }
        SchemaType::Protobuf => {
            let (canonical, descriptor) = protobuf::parse(text, normalize)?;
            (canonical, Parsed::Protobuf(Box::new(descriptor)))
        }
    };
    Ok(ParsedSchema {
        schema_type,
        canonical,
        parsed,
    })
}

/// Why `reader` cannot read what `writer` wrote, in Confluent's message style; empty when
/// it can. Schemas of different types never can.
pub fn can_read(writer: &ParsedSchema, reader: &ParsedSchema) -> Vec<String> {
    match (&writer.parsed, &reader.parsed) {
        (Parsed::Avro(writer), Parsed::Avro(reader)) => avro::can_read(writer, reader),
        (Parsed::Json(writer), Parsed::Json(reader)) => json::can_read(writer, reader),
        (Parsed::Protobuf(writer), Parsed::Protobuf(reader)) => protobuf::can_read(writer, reader),
        _ => vec![format!(
            "{{errorType:'TYPE_MISMATCH', description:'The schema type changed from {} to {}'}}",
            writer.schema_type.as_str(),
            reader.schema_type.as_str()
        )],
    }
}
