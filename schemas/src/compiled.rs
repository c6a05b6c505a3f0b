//! A registered schema made ready for values: Avro schemata for `apache-avro`'s datum
//! reader and writer, a `jsonschema` validator, a `prost-reflect` descriptor pool. Turning
//! a service's own values (bridge JSON, Connect data) into these is the service's job;
//! this module holds only what both need.

mod known_protos;

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as AvroValue;
use apache_avro::writer::datum::GenericDatumWriter;
use prost_reflect::{DescriptorPool, FileDescriptor, MessageDescriptor};

use crate::client::RegisteredSchema;
use crate::format::{ResolvedReference, SchemaType};

/// A registered schema compiled for encoding and decoding.
#[derive(Debug, Clone)]
pub enum CompiledSchema {
    Avro(AvroSchema),
    Json(JsonSchema),
    Protobuf(ProtobufSchema),
}

impl CompiledSchema {
    /// Compiles `schema` with its resolved references; the error is the parser's reason.
    pub fn compile(schema: &RegisteredSchema) -> Result<Self, String> {
        Self::compile_text(
            schema.schema_type,
            &schema.schema,
            &schema.resolved_references,
        )
    }

    pub fn compile_text(
        schema_type: SchemaType,
        text: &str,
        references: &[ResolvedReference],
    ) -> Result<Self, String> {
        match schema_type {
            SchemaType::Avro => AvroSchema::compile(text, references).map(Self::Avro),
            SchemaType::Json => JsonSchema::compile(text, references).map(Self::Json),
            SchemaType::Protobuf => ProtobufSchema::compile(text, references).map(Self::Protobuf),
        }
    }

    pub fn schema_type(&self) -> SchemaType {
        match self {
            Self::Avro(_) => SchemaType::Avro,
            Self::Json(_) => SchemaType::Json,
            Self::Protobuf(_) => SchemaType::Protobuf,
        }
    }
}

/// An Avro schema and the named types it may use from its references.
#[derive(Debug, Clone)]
pub struct AvroSchema {
    pub schema: apache_avro::Schema,
    /// The referenced schemas followed by `schema` itself: the names a datum may use.
    pub schemata: Vec<apache_avro::Schema>,
}

impl AvroSchema {
    pub fn compile(text: &str, references: &[ResolvedReference]) -> Result<Self, String> {
        let invalid = |error: apache_avro::Error| format!("Invalid schema {text}: {error}");
        if references.is_empty() {
            let schema = apache_avro::Schema::parse_str(text).map_err(invalid)?;
            return Ok(Self {
                schemata: Vec::new(),
                schema,
            });
        }
        let (schema, mut schemata) = apache_avro::Schema::parse_str_with_list(
            text,
            references.iter().map(|reference| reference.schema.as_str()),
        )
        .map_err(invalid)?;
        schemata.push(schema.clone());
        Ok(Self { schema, schemata })
    }

    /// The Avro binary datum of `value`, which must match the schema (checked).
    pub fn encode(&self, value: AvroValue) -> Result<Vec<u8>, String> {
        let builder = GenericDatumWriter::builder(&self.schema);
        let writer = if self.schemata.is_empty() {
            builder.build()
        } else {
            builder
                .schemata(self.schemata.iter().collect())
                .and_then(|builder| builder.build())
        };
        let mut datum = Vec::new();
        writer
            .and_then(|writer| writer.write_value(&mut datum, value))
            .map_err(|error| error.to_string())?;
        Ok(datum)
    }

    /// The value of an Avro binary datum written with this schema.
    pub fn decode(&self, mut datum: &[u8]) -> Result<AvroValue, String> {
        let builder = GenericDatumReader::builder(&self.schema);
        let reader = if self.schemata.is_empty() {
            builder.build()
        } else {
            builder
                .writer_schemata(self.schemata.iter().collect())
                .and_then(|builder| builder.build())
        };
        reader
            .and_then(|reader| reader.read_value(&mut datum))
            .map_err(|error| error.to_string())
    }
}

/// A JSON Schema and its validator (`$ref`s to references served from memory, never
/// fetched over the network).
#[derive(Debug, Clone)]
pub struct JsonSchema {
    pub schema: serde_json::Value,
    validator: Arc<jsonschema::Validator>,
}

impl JsonSchema {
    pub fn compile(text: &str, references: &[ResolvedReference]) -> Result<Self, String> {
        let schema: serde_json::Value = serde_json::from_str(text)
            .map_err(|error| format!("Invalid schema {text}: {error}"))?;
        let mut documents = HashMap::new();
        for reference in references {
            let document: serde_json::Value = serde_json::from_str(&reference.schema)
                .map_err(|error| format!("Invalid schema {}: {error}", reference.name))?;
            documents.insert(reference.name.clone(), document);
        }
        let validator = jsonschema::options()
            .with_retriever(References(documents))
            .build(&schema)
            .map_err(|error| format!("Invalid schema {text}: {error}"))?;
        Ok(Self {
            schema,
            validator: Arc::new(validator),
        })
    }

    /// Every way `value` fails the schema, each as "`path`: reason"; empty when it passes.
    pub fn violations(&self, value: &serde_json::Value) -> Vec<String> {
        self.validator
            .iter_errors(value)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect()
    }
}

/// Serves `$ref`s from the schema's references, by their reference name (the full URI or
/// its last path segment, as Confluent's resolver accepts both).
struct References(HashMap<String, serde_json::Value>);

impl jsonschema::Retrieve for References {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let text = uri.as_str();
        let last = text.rsplit('/').next().unwrap_or(text);
        self.0
            .get(text)
            .or_else(|| self.0.get(last))
            .cloned()
            .ok_or_else(|| format!("no reference named '{text}'").into())
    }
}

/// A `.proto` file in a descriptor pool with its imports (references, Google's
/// well-known types and the files Confluent imports without references: `confluent/meta.proto`,
/// `confluent/type/decimal.proto`, `google/type/date.proto`, `google/type/timeofday.proto`).
#[derive(Debug, Clone)]
pub struct ProtobufSchema {
    pub file: FileDescriptor,
    /// `(confluent.field_meta).params` of the file's fields, by the field's full name.
    field_params: Arc<HashMap<String, Vec<(String, String)>>>,
}

/// The name the registered schema's own file gets in the pool.
const MAIN_FILE: &str = "schema-registry/main.proto";

impl ProtobufSchema {
    pub fn compile(text: &str, references: &[ResolvedReference]) -> Result<Self, String> {
        // The global pool holds Google's well-known types, which schemas import by name.
        let mut pool = DescriptorPool::global();
        let main = parse(MAIN_FILE, text)?;
        let mut field_params = HashMap::new();
        collect_field_params(
            &main.package.clone().unwrap_or_default(),
            &main.message_type,
            &mut field_params,
        );
        // Confluent's known imports first (they import only Google's files), then the
        // references, which arrive dependencies first.
        let mut imports: Vec<String> = main.dependency.clone();
        for reference in references {
            if let Ok(descriptor) = protox_parse::parse(&reference.name, &reference.schema) {
                imports.extend(descriptor.dependency);
            }
        }
        let referenced: Vec<(&str, &str)> = references
            .iter()
            .map(|reference| (reference.name.as_str(), reference.schema.as_str()))
            .collect();
        let known = known_protos::KNOWN_PROTOS
            .iter()
            .filter(|(name, _)| {
                imports.iter().any(|import| import == name)
                    && !referenced.iter().any(|(reference, _)| reference == name)
            })
            .copied();
        for (name, schema) in known.chain(referenced.iter().copied()) {
            if pool.get_file_by_name(name).is_some() {
                continue;
            }
            let descriptor = parse(name, schema)?;
            pool.add_file_descriptor_proto(descriptor)
                .map_err(|error| format!("Invalid schema {name}: {error}"))?;
        }
        pool.add_file_descriptor_proto(main)
            .map_err(|error| format!("Invalid schema {text}: {error}"))?;
        let file = pool
            .get_file_by_name(MAIN_FILE)
            .ok_or_else(|| "the schema's file is missing from its pool".to_owned())?;
        Ok(Self {
            file,
            field_params: Arc::new(field_params),
        })
    }

    /// The `(confluent.field_meta).params` of a field (Connect's `connect.type`, a
    /// decimal's `precision` and `scale`), empty when it has none.
    pub fn field_params(&self, field_full_name: &str) -> &[(String, String)] {
        self.field_params
            .get(field_full_name)
            .map_or(&[], Vec::as_slice)
    }

    /// The message at Confluent's message indexes (`[0]` is the file's first message).
    pub fn message_at(&self, indexes: &[i32]) -> Option<MessageDescriptor> {
        let (first, nested) = indexes.split_first()?;
        let mut message = self.file.messages().nth(usize::try_from(*first).ok()?)?;
        for index in nested {
            let child = declared_children(&message).nth(usize::try_from(*index).ok()?)?;
            message = child;
        }
        Some(message)
    }

    /// The message named `full_name` (or the first one when `None`) and its indexes.
    pub fn message_named(&self, full_name: Option<&str>) -> Option<(MessageDescriptor, Vec<i32>)> {
        let Some(full_name) = full_name else {
            return self
                .file
                .messages()
                .next()
                .map(|message| (message, vec![0]));
        };
        let message = self.file.parent_pool().get_message_by_name(full_name)?;
        if message.parent_file() != self.file {
            return None;
        }
        Some((message.clone(), indexes_of(&message)?))
    }
}

/// The nested messages a `.proto` declares: map entry types are the parser's, and
/// Confluent's Java serializers (the reference) do not count them in message indexes.
fn declared_children(message: &MessageDescriptor) -> impl Iterator<Item = MessageDescriptor> {
    message
        .child_messages()
        .filter(|child| !child.is_map_entry())
}

fn indexes_of(message: &MessageDescriptor) -> Option<Vec<i32>> {
    let mut path = Vec::new();
    let mut current = message.clone();
    loop {
        match current.parent_message() {
            Some(parent) => {
                let index = declared_children(&parent).position(|child| child == current)?;
                path.push(i32::try_from(index).ok()?);
                current = parent;
            }
            None => {
                let index = current
                    .parent_file()
                    .messages()
                    .position(|top| top == current)?;
                path.push(i32::try_from(index).ok()?);
                path.reverse();
                return Some(path);
            }
        }
    }
}

/// Walks the messages of a parsed file for fields with `(confluent.field_meta)` options.
fn collect_field_params(
    scope: &str,
    messages: &[prost_types::DescriptorProto],
    out: &mut HashMap<String, Vec<(String, String)>>,
) {
    for message in messages {
        let name = message.name.clone().unwrap_or_default();
        let full = if scope.is_empty() {
            name
        } else {
            format!("{scope}.{name}")
        };
        for field in &message.field {
            let Some(options) = &field.options else {
                continue;
            };
            for option in &options.uninterpreted_option {
                let is_field_meta = option.name.len() == 1
                    && option.name[0].name_part.trim_start_matches('.') == "confluent.field_meta";
                if let (true, Some(aggregate)) = (is_field_meta, &option.aggregate_value) {
                    out.insert(
                        format!("{full}.{}", field.name.clone().unwrap_or_default()),
                        known_protos::field_meta_params(aggregate),
                    );
                }
            }
        }
        collect_field_params(&full, &message.nested_type, out);
    }
}

fn parse(name: &str, text: &str) -> Result<prost_types::FileDescriptorProto, String> {
    let mut descriptor = protox_parse::parse(name, text)
        .map_err(|error| format!("Invalid schema {text}: {error}"))?;
    descriptor.source_code_info = None;
    Ok(descriptor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avro_round_trips_a_record() {
        let schema = AvroSchema::compile(
            r#"{"type":"record","name":"r","fields":[{"name":"a","type":"long"}]}"#,
            &[],
        )
        .unwrap();
        let value = AvroValue::Record(vec![("a".into(), AvroValue::Long(7))]);
        let datum = schema.encode(value.clone()).unwrap();
        assert_eq!(datum, [14]);
        assert_eq!(schema.decode(&datum).unwrap(), value);
    }

    #[test]
    fn avro_uses_named_types_of_references() {
        let reference = ResolvedReference {
            name: "com.x.Inner".into(),
            schema: r#"{"type":"record","name":"Inner","namespace":"com.x","fields":[{"name":"b","type":"int"}]}"#.into(),
        };
        let schema = AvroSchema::compile(
            r#"{"type":"record","name":"Outer","namespace":"com.x","fields":[{"name":"i","type":"com.x.Inner"}]}"#,
            &[reference],
        )
        .unwrap();
        let value = AvroValue::Record(vec![(
            "i".into(),
            AvroValue::Record(vec![("b".into(), AvroValue::Int(3))]),
        )]);
        let datum = schema.encode(value.clone()).unwrap();
        assert_eq!(schema.decode(&datum).unwrap(), value);
    }

    #[test]
    fn json_schema_reports_each_violation() {
        let schema = JsonSchema::compile(
            r#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}"#,
            &[],
        )
        .unwrap();
        assert!(schema.violations(&serde_json::json!({"a": 1})).is_empty());
        let violations = schema.violations(&serde_json::json!({"a": "x"}));
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].starts_with("/a:"), "{violations:?}");
    }

    #[test]
    fn json_schema_refs_resolve_to_references() {
        let reference = ResolvedReference {
            name: "address.json".into(),
            schema: r#"{"type":"object","properties":{"zip":{"type":"string"}}}"#.into(),
        };
        let schema = JsonSchema::compile(
            r#"{"type":"object","properties":{"home":{"$ref":"address.json"}}}"#,
            &[reference],
        )
        .unwrap();
        assert!(
            !schema
                .violations(&serde_json::json!({"home": {"zip": 1}}))
                .is_empty()
        );
    }

    #[test]
    fn protobuf_messages_by_index_and_name() {
        let schema = ProtobufSchema::compile(
            r#"syntax = "proto3"; package p;
               import "google/protobuf/timestamp.proto";
               message A { int32 x = 1; }
               message B { map<string, int32> m = 3; message C { string s = 1; } C c = 1; google.protobuf.Timestamp t = 2; }"#,
            &[],
        )
        .unwrap();
        assert_eq!(schema.message_at(&[0]).unwrap().full_name(), "p.A");
        assert_eq!(schema.message_at(&[1, 0]).unwrap().full_name(), "p.B.C");
        assert!(schema.message_at(&[2]).is_none());
        let (message, indexes) = schema.message_named(Some("p.B.C")).unwrap();
        assert_eq!((message.full_name(), indexes), ("p.B.C", vec![1, 0]));
        assert_eq!(schema.message_named(None).unwrap().1, vec![0]);
    }

    #[test]
    fn protobuf_imports_resolve_to_references() {
        let reference = ResolvedReference {
            name: "other.proto".into(),
            schema: r#"syntax = "proto3"; package o; message O { int32 v = 1; }"#.into(),
        };
        let schema = ProtobufSchema::compile(
            r#"syntax = "proto3"; package p; import "other.proto"; message M { o.O inner = 1; }"#,
            &[reference],
        )
        .unwrap();
        assert_eq!(schema.message_at(&[0]).unwrap().full_name(), "p.M");
    }
}
