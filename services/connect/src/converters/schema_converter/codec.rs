//! What differs between Confluent's three schema converters: the schema written for a
//! Connect schema, the payload framed for a value, and the way back. Everything else
//! (registry, caches, subject names, retries) is [`super::SchemaConverter`]'s.

use connect_api::Schema;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use schemas::compiled::{AvroSchema, ProtobufSchema};
use schemas::format::ResolvedReference;
use schemas::{RegisteredSchema, SchemaType, wire};
use serde_json::Value;

use crate::converters::avro_data::{self, AvroDataOptions, AvroNames};
use crate::converters::json_schema_data::{self, JsonSchemaDataOptions};
use crate::converters::protobuf_data;

/// A format and the settings of its Connect mapping.
#[derive(Debug, Clone, Copy)]
pub(super) enum Codec {
    Avro(AvroDataOptions),
    JsonSchema(JsonSchemaDataOptions),
    Protobuf,
}

/// A registered (or to be registered) schema ready to encode Connect values.
#[derive(Debug)]
pub(super) struct WriterSchema {
    /// The schema text sent to the registry.
    pub(super) text: std::sync::Arc<str>,
    /// The record / title / message name, for the record name strategies.
    pub(super) record_name: Option<String>,
    encoder: Encoder,
}

/// An Avro schema as JSON (for AvroData's walk), its names and its compiled form.
#[derive(Debug)]
struct AvroParts {
    json: Value,
    names: AvroNames,
    compiled: AvroSchema,
}

#[derive(Debug)]
enum Encoder {
    Avro(Box<AvroParts>),
    JsonSchema,
    Protobuf {
        message: MessageDescriptor,
        indexes: Vec<i32>,
    },
}

/// A registered schema ready to decode payloads into Connect data.
#[derive(Debug)]
pub(super) struct ReaderSchema {
    pub(super) connect: Schema,
    decoder: Decoder,
}

#[derive(Debug)]
enum Decoder {
    Avro(Box<AvroParts>),
    JsonSchema,
    Protobuf { message: MessageDescriptor },
}

/// A framed payload: schema id, Protobuf message indexes (empty otherwise), the rest.
pub(super) struct Unframed<'a> {
    pub(super) schema_id: i32,
    pub(super) message_indexes: Vec<i32>,
    pub(super) payload: &'a [u8],
}

impl Codec {
    pub(super) fn schema_type(self) -> SchemaType {
        match self {
            Self::Avro(_) => SchemaType::Avro,
            Self::JsonSchema(_) => SchemaType::Json,
            Self::Protobuf => SchemaType::Protobuf,
        }
    }

    /// How Confluent's messages name the format ("Failed to serialize Avro data…").
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Avro(_) => "Avro",
            Self::JsonSchema(_) => "JSON",
            Self::Protobuf => "Protobuf",
        }
    }

    /// The schema Confluent's converter derives from a Connect schema.
    pub(super) fn derive(self, schema: &Schema) -> Result<WriterSchema, String> {
        match self {
            Self::Avro(options) => {
                let json = avro_data::avro_schema_of(schema, options)
                    .map_err(|error| format!("Cannot map the Connect schema to Avro: {error}"))?;
                avro_writer(json)
            }
            Self::JsonSchema(options) => {
                let json = json_schema_data::json_schema_of(schema, options).map_err(|error| {
                    format!("Cannot map the Connect schema to JSON Schema: {error}")
                })?;
                Ok(WriterSchema {
                    text: json.to_string().into(),
                    record_name: json_title(&json),
                    encoder: Encoder::JsonSchema,
                })
            }
            Self::Protobuf => {
                let file = protobuf_data::proto_of(schema).map_err(|error| {
                    format!("Cannot map the Connect schema to Protobuf: {error}")
                })?;
                protobuf_writer(&file.text, &[], Some(&file.message))
            }
        }
    }

    /// The subject's latest registered schema, to write with (`use.latest.version`).
    pub(super) fn writer_of(self, registered: &RegisteredSchema) -> Result<WriterSchema, String> {
        self.expect_type(registered)?;
        match self {
            Self::Avro(_) => {
                let json: Value = serde_json::from_str(&registered.schema)
                    .map_err(|error| format!("the latest schema is not JSON: {error}"))?;
                avro_writer(json)
            }
            Self::JsonSchema(_) => {
                let json: Value = serde_json::from_str(&registered.schema)
                    .map_err(|error| format!("the latest schema is not JSON: {error}"))?;
                Ok(WriterSchema {
                    text: registered.schema.as_str().into(),
                    record_name: json_title(&json),
                    encoder: Encoder::JsonSchema,
                })
            }
            Self::Protobuf => {
                protobuf_writer(&registered.schema, &registered.resolved_references, None)
            }
        }
    }

    /// A schema read by id, for the message at `indexes` (Protobuf).
    pub(super) fn reader_of(
        self,
        registered: &RegisteredSchema,
        indexes: &[i32],
    ) -> Result<ReaderSchema, String> {
        self.expect_type(registered)?;
        let id = registered.id;
        match self {
            Self::Avro(_) => {
                let parse = |text: &str| {
                    serde_json::from_str::<Value>(text)
                        .map_err(|error| format!("schema id {id} is not JSON: {error}"))
                };
                let json = parse(&registered.schema)?;
                let mut all = Vec::new();
                for reference in &registered.resolved_references {
                    all.push(parse(&reference.schema)?);
                }
                all.push(json.clone());
                let names = AvroNames::collect(&all.iter().collect::<Vec<_>>());
                let connect = avro_data::connect_schema_of(&json, &names)
                    .map_err(|error| format!("schema id {id} has no Connect schema: {error}"))?;
                let compiled =
                    AvroSchema::compile(&registered.schema, &registered.resolved_references)?;
                Ok(ReaderSchema {
                    connect,
                    decoder: Decoder::Avro(Box::new(AvroParts {
                        json,
                        names,
                        compiled,
                    })),
                })
            }
            Self::JsonSchema(options) => {
                let json: Value = serde_json::from_str(&registered.schema)
                    .map_err(|error| format!("schema id {id} is not JSON: {error}"))?;
                let connect = json_schema_data::connect_schema_of(&json, None, options)
                    .map_err(|error| format!("schema id {id} has no Connect schema: {error}"))?;
                Ok(ReaderSchema {
                    connect,
                    decoder: Decoder::JsonSchema,
                })
            }
            Self::Protobuf => {
                let compiled =
                    ProtobufSchema::compile(&registered.schema, &registered.resolved_references)?;
                let message = compiled.message_at(indexes).ok_or_else(|| {
                    format!("schema id {id} has no message at indexes {indexes:?}")
                })?;
                let connect = protobuf_data::connect_schema_of(&compiled, &message, None)
                    .map_err(|error| format!("schema id {id} has no Connect schema: {error}"))?;
                Ok(ReaderSchema {
                    connect,
                    decoder: Decoder::Protobuf { message },
                })
            }
        }
    }

    fn expect_type(self, registered: &RegisteredSchema) -> Result<(), String> {
        if registered.schema_type == self.schema_type() {
            return Ok(());
        }
        Err(format!(
            "schema id {} is a {} schema, not a {} one",
            registered.id,
            registered.schema_type.as_str(),
            self.schema_type().as_str()
        ))
    }

    /// The framed bytes of a Connect value written with `writer` registered as `id`.
    pub(super) fn encode(
        self,
        writer: &WriterSchema,
        id: i32,
        schema: &Schema,
        value: &Value,
    ) -> Result<Vec<u8>, String> {
        match &writer.encoder {
            Encoder::Avro(avro) => {
                let datum = avro_data::avro_value_of(&avro.json, &avro.names, value)?;
                Ok(wire::frame(id, &avro.compiled.encode(datum)?))
            }
            Encoder::JsonSchema => {
                let json = json_schema_data::json_value_of(schema, value)?;
                let text = serde_json::to_vec(&json).map_err(|error| error.to_string())?;
                Ok(wire::frame(id, &text))
            }
            Encoder::Protobuf { message, indexes } => {
                let encoded = protobuf_data::protobuf_message_of(message, schema, value)?;
                Ok(wire::frame_protobuf(id, indexes, &encoded.encode_to_vec()))
            }
        }
    }

    pub(super) fn unframe(self, bytes: &[u8]) -> Result<Unframed<'_>, String> {
        let framed = match self {
            Self::Protobuf => wire::unframe_protobuf(bytes),
            _ => wire::unframe(bytes),
        }
        .map_err(|error| error.to_string())?;
        Ok(Unframed {
            schema_id: framed.schema_id,
            message_indexes: framed.message_indexes,
            payload: framed.payload,
        })
    }

    /// The Connect value of a payload written with `reader`.
    pub(super) fn decode(self, reader: &ReaderSchema, payload: &[u8]) -> Result<Value, String> {
        match &reader.decoder {
            Decoder::Avro(avro) => {
                let decoded = avro.compiled.decode(payload)?;
                avro_data::connect_value_of(&avro.json, &avro.names, &decoded)
            }
            Decoder::JsonSchema => {
                let json: Value = serde_json::from_slice(payload)
                    .map_err(|error| format!("the payload is not JSON: {error}"))?;
                json_schema_data::connect_value_of(&reader.connect, &json)
            }
            Decoder::Protobuf { message } => {
                let decoded = DynamicMessage::decode(message.clone(), payload)
                    .map_err(|error| error.to_string())?;
                protobuf_data::connect_value_of(&decoded, &reader.connect)
            }
        }
    }
}

fn avro_writer(json: Value) -> Result<WriterSchema, String> {
    let text: std::sync::Arc<str> = json.to_string().into();
    let compiled = AvroSchema::compile(&text, &[])?;
    let names = AvroNames::collect(&[&json]);
    let record_name = match &json {
        Value::Object(object) if object.get("type").is_some_and(|t| t == "record") => {
            let name = object
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Some(match object.get("namespace").and_then(Value::as_str) {
                Some(namespace) if !namespace.is_empty() && !name.contains('.') => {
                    format!("{namespace}.{name}")
                }
                _ => name.to_owned(),
            })
        }
        _ => None,
    };
    Ok(WriterSchema {
        text,
        record_name,
        encoder: Encoder::Avro(Box::new(AvroParts {
            json,
            names,
            compiled,
        })),
    })
}

/// The record name of a JSON Schema for the record name strategies: its `title` (the
/// Connect schema's name); an untitled schema has none and those strategies refuse it.
fn json_title(json: &Value) -> Option<String> {
    json.get("title").and_then(Value::as_str).map(str::to_owned)
}

fn protobuf_writer(
    text: &str,
    references: &[ResolvedReference],
    message_name: Option<&str>,
) -> Result<WriterSchema, String> {
    let compiled = ProtobufSchema::compile(text, references)?;
    let (message, indexes) = compiled
        .message_named(message_name)
        .ok_or_else(|| "the Protobuf schema has no message to write with".to_owned())?;
    Ok(WriterSchema {
        text: text.into(),
        record_name: Some(message.full_name().to_owned()),
        encoder: Encoder::Protobuf { message, indexes },
    })
}
