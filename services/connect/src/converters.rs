//! Key, value and header converters: bytes on Kafka ↔ Connect data.
//!
//! - `org.apache.kafka.connect.json.JsonConverter`: `schemas.enable` (default true) wraps
//!   the payload in `{"schema":…,"payload":…}`; without it the payload is plain JSON.
//!   `decimal.format` writes a Decimal as base64 (`BASE64`, the default) or as a JSON
//!   number (`NUMERIC`, [`decimal_text`]); both are read.
//! - `org.apache.kafka.connect.storage.StringConverter`: UTF-8 text, STRING schema.
//! - `org.apache.kafka.connect.converters.ByteArrayConverter`: pass-through; the bytes are
//!   carried as a base64 string with a BYTES schema, as JsonConverter would. A value with
//!   another schema (a FileStreamSource line is a STRING) fails as in Kafka Connect; a
//!   schemaless string is written as its UTF-8 bytes.
//!
//! - Confluent's `io.confluent.connect.avro.AvroConverter`,
//!   `io.confluent.connect.json.JsonSchemaConverter` and
//!   `io.confluent.connect.protobuf.ProtobufConverter` with a Schema Registry
//!   ([`schema_converter`], mappings in [`avro_data`], [`json_schema_data`] and
//!   [`protobuf_data`], settings in [`schema_config`]).
//!
//! A null payload (tombstone) is a null value both ways. JsonConverter's bytes are the ones
//! Kafka Connect writes for the same record ([`java_json`]).

pub mod decimal_text;
pub mod java_json;

pub mod avro_data;
pub mod json_schema_data;
pub mod protobuf_data;
pub mod schema_config;
pub mod schema_converter;
#[cfg(test)]
mod test_fixtures;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use connect_api::{ConfigMap, Schema, SchemaType};
use serde_json::Value;

use crate::error::ConfigIssue;
pub use java_json::DecimalFormat;
use schema_config::SchemaConverterSettings;
use schema_converter::SchemaConverter;

pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
pub const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";
pub const BYTE_ARRAY_CONVERTER: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";
/// The converters `GET /connector-plugins?connectorsOnly=false` lists.
pub const CONVERTER_CLASSES: &[&str] = &[
    JSON_CONVERTER,
    STRING_CONVERTER,
    BYTE_ARRAY_CONVERTER,
    schema_config::AVRO_CONVERTER,
    schema_config::JSON_SCHEMA_CONVERTER,
    schema_config::PROTOBUF_CONVERTER,
];

/// A converter chosen and configured for one side of a record.
#[derive(Debug, Clone)]
pub enum Converter {
    Json {
        schemas_enable: bool,
        /// How a Decimal payload is written (`decimal.format`); both are read.
        decimal_format: DecimalFormat,
    },
    String,
    ByteArray,
    /// A Confluent schema converter, with its registry client and caches.
    Schema(Arc<SchemaConverter>),
}

/// Why bytes could not become Connect data (or back); the stage goes into DLQ headers.
/// A retriable one (the schema registry is unreachable) is tried again after a backoff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConversionError {
    pub message: String,
    pub retriable: bool,
}

impl ConversionError {
    pub fn definite(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retriable: false,
        }
    }

    pub fn retriable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retriable: true,
        }
    }
}

impl Converter {
    /// JsonConverter with `schemas.enable` and the default `decimal.format=BASE64`.
    pub fn json(schemas_enable: bool) -> Self {
        Self::Json {
            schemas_enable,
            decimal_format: DecimalFormat::Base64,
        }
    }

    /// Reads `<prefix>` (the class) and `<prefix>.schemas.enable` from a connector config;
    /// a missing class means `default`.
    pub fn from_config(
        config: &ConfigMap,
        prefix: &str,
        default: Converter,
    ) -> Result<Self, ConfigIssue> {
        let Some(class) = config.get(prefix).map(|c| c.trim()) else {
            return Ok(default);
        };
        let simple = class.rsplit('.').next().unwrap_or(class);
        match simple {
            "JsonConverter" => {
                let key = format!("{prefix}.schemas.enable");
                let schemas_enable = match config.get(&key).map(|v| v.trim().to_ascii_lowercase()) {
                    None => true,
                    Some(v) if v == "true" => true,
                    Some(v) if v == "false" => false,
                    Some(v) => {
                        return Err(ConfigIssue::new(
                            key.clone(),
                            format!(
                                "Invalid value {v} for configuration {key}: Expected value to be either true or false"
                            ),
                        ));
                    }
                };
                let key = format!("{prefix}.decimal.format");
                let decimal_format = match config.get(&key).map(|v| v.trim().to_ascii_uppercase()) {
                    None => DecimalFormat::Base64,
                    Some(v) if v == "BASE64" => DecimalFormat::Base64,
                    Some(v) if v == "NUMERIC" => DecimalFormat::Numeric,
                    Some(v) => {
                        return Err(ConfigIssue::new(
                            key.clone(),
                            format!(
                                "Invalid value {v} for configuration {key}: String must be one of (case insensitive): BASE64, NUMERIC"
                            ),
                        ));
                    }
                };
                Ok(Self::Json {
                    schemas_enable,
                    decimal_format,
                })
            }
            "StringConverter" => Ok(Self::String),
            "ByteArrayConverter" => Ok(Self::ByteArray),
            _ if let Some(format) = SchemaConverterSettings::format_of(class) => {
                let connector = config.get("name").map_or("", String::as_str);
                let settings = SchemaConverterSettings::parse(config, prefix, format, connector)?;
                Ok(Self::Schema(Arc::new(SchemaConverter::new(settings))))
            }
            _ => Err(ConfigIssue::new(
                prefix,
                format!(
                    "Invalid value {class} for configuration {prefix}: Class {class} could not be found."
                ),
            )),
        }
    }

    /// The class name this converter stands for (DLQ headers, logs).
    pub fn class_name(&self) -> &'static str {
        match self {
            Self::Json { .. } => JSON_CONVERTER,
            Self::String => STRING_CONVERTER,
            Self::ByteArray => BYTE_ARRAY_CONVERTER,
            Self::Schema(converter) => match converter.format() {
                schemas::SchemaType::Avro => schema_config::AVRO_CONVERTER,
                schemas::SchemaType::Json => schema_config::JSON_SCHEMA_CONVERTER,
                schemas::SchemaType::Protobuf => schema_config::PROTOBUF_CONVERTER,
            },
        }
    }

    /// Kafka bytes of `topic` → Connect data.
    pub async fn to_connect(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<Schema>, Value), ConversionError> {
        if let Self::Schema(converter) = self {
            return converter.to_connect(topic, bytes).await;
        }
        let Some(bytes) = bytes else {
            return Ok((None, Value::Null));
        };
        match *self {
            Self::Schema(_) => Err(ConversionError::definite("unreachable")),
            Self::String => Ok((
                Some(Schema::optional_string()),
                Value::String(String::from_utf8_lossy(bytes).into_owned()),
            )),
            Self::ByteArray => Ok((
                Some(Schema::new(SchemaType::Bytes).optional()),
                Value::String(BASE64.encode(bytes)),
            )),
            Self::Json { schemas_enable, .. } => {
                let parsed: Value = serde_json::from_slice(bytes).map_err(|error| {
                    ConversionError::definite(format!("Converting byte[] to Kafka Connect data failed due to serialization error: {error}"))
                })?;
                if !schemas_enable {
                    return Ok((None, parsed));
                }
                let Value::Object(mut envelope) = parsed else {
                    return Err(ConversionError::definite(ENVELOPE_MESSAGE));
                };
                if envelope.len() != 2
                    || !envelope.contains_key("schema")
                    || !envelope.contains_key("payload")
                {
                    return Err(ConversionError::definite(ENVELOPE_MESSAGE));
                }
                let payload = envelope.remove("payload").unwrap_or(Value::Null);
                let mut payload = payload;
                let schema: Option<Schema> = match envelope.remove("schema") {
                    None | Some(Value::Null) => None,
                    Some(schema) => Some(serde_json::from_value(schema).map_err(|error| {
                        ConversionError::definite(format!("Unknown or malformed schema: {error}"))
                    })?),
                };
                if let Some(schema) = &schema {
                    // A Decimal may arrive as a number (decimal.format=NUMERIC).
                    decimal_text::numbers_to_base64(schema, &mut payload)
                        .map_err(ConversionError::definite)?;
                }
                Ok((schema, payload))
            }
        }
    }

    /// Connect data → Kafka bytes for `topic`; a null value is a tombstone.
    pub async fn from_connect(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConversionError> {
        if let Self::Schema(converter) = self {
            return converter.from_connect(topic, schema, value).await;
        }
        if value.is_null()
            && !matches!(
                self,
                Self::Json {
                    schemas_enable: true,
                    ..
                }
            )
        {
            return Ok(None);
        }
        match *self {
            Self::Schema(_) => Err(ConversionError::definite("unreachable")),
            Self::String => Ok(Some(match value {
                Value::String(text) => text.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            })),
            Self::ByteArray => match (schema.map(|s| s.schema_type), value) {
                (Some(kind), _) if kind != SchemaType::Bytes => {
                    Err(ConversionError::definite(format!(
                        "Invalid schema type for ByteArrayConverter: {}",
                        kind.kafka_name()
                    )))
                }
                (Some(SchemaType::Bytes), Value::String(text)) => {
                    BASE64.decode(text).map(Some).map_err(|error| {
                        ConversionError::definite(format!("bytes value is not base64: {error}"))
                    })
                }
                (_, Value::String(text)) => Ok(Some(text.clone().into_bytes())),
                _ => Err(ConversionError::definite(
                    "ByteArrayConverter is not compatible with objects of this type",
                )),
            },
            Self::Json {
                schemas_enable: false,
                decimal_format,
            } => Ok(Some(java_json::payload_bytes(
                schema,
                value,
                decimal_format,
            ))),
            Self::Json {
                schemas_enable: true,
                decimal_format,
            } => {
                if value.is_null() && schema.is_none() {
                    return Ok(None);
                }
                Ok(Some(java_json::envelope_bytes(
                    schema,
                    value,
                    decimal_format,
                )))
            }
        }
    }
}

const ENVELOPE_MESSAGE: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not \
     contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your \
     converter configuration.";

/// Header values on the wire (what `SimpleHeaderConverter` writes for simple values: a
/// string as its UTF-8 bytes, a number as Java spells it, `1.0E10` for a float64).
pub fn header_to_bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone().into_bytes()),
        other => Some(java_json::payload_bytes(None, other, DecimalFormat::Base64)),
    }
}

/// Header bytes → a value: JSON when it parses as a number, bool, array or object; else text.
pub fn header_from_bytes(bytes: Option<&[u8]>) -> Value {
    let Some(bytes) = bytes else {
        return Value::Null;
    };
    let text = String::from_utf8_lossy(bytes).into_owned();
    match serde_json::from_str::<Value>(&text) {
        Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Object(_))) => {
            value
        }
        _ => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use connect_api::Field;
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn json_envelope_round_trips() {
        let converter = Converter::json(true);
        let schema = Schema::structure(vec![Field::new("id", Schema::new(SchemaType::Int32))])
            .named("x.Value");
        let bytes = converter
            .from_connect("t", Some(&schema), &json!({"id": 1}))
            .await
            .unwrap()
            .unwrap();
        let text: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            text,
            json!({"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"x.Value"},"payload":{"id":1}})
        );
        let (back_schema, back) = converter.to_connect("t", Some(&bytes)).await.unwrap();
        assert_eq!(back_schema, Some(schema));
        assert_eq!(back, json!({"id": 1}));
    }

    fn decimal_schema(scale: &str) -> Schema {
        let mut schema = Schema::new(SchemaType::Bytes).named(decimal_text::DECIMAL);
        schema.version = Some(1);
        let mut parameters = connect_api::Parameters::new();
        parameters.insert("scale".into(), json!(scale));
        schema.parameters = Some(parameters);
        schema
    }

    fn json_config(pairs: &[(&str, &str)]) -> Result<Converter, ConfigIssue> {
        let mut config: ConfigMap =
            [("value.converter".to_owned(), JSON_CONVERTER.to_owned())].into();
        for (key, value) in pairs {
            config.insert(format!("value.converter.{key}"), (*value).to_owned());
        }
        Converter::from_config(&config, "value.converter", Converter::String)
    }

    #[tokio::test]
    async fn decimals_are_written_in_either_decimal_format_and_read_from_both() {
        // The bytes Kafka Connect 4.3's JsonConverter writes for Decimal(2) 12.30.
        let envelope = |payload: &str| {
            format!(
                r#"{{"schema":{{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{{"scale":"2"}}}},"payload":{payload}}}"#
            )
        };
        let schema = decimal_schema("2");
        let unscaled = json!("BM4=");
        for (format, payload) in [("BASE64", r#""BM4=""#), ("numeric", "12.30")] {
            let converter = json_config(&[("decimal.format", format)]).unwrap();
            let bytes = converter
                .from_connect("t", Some(&schema), &unscaled)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(String::from_utf8(bytes.clone()).unwrap(), envelope(payload));
            let (read_schema, value) = converter.to_connect("t", Some(&bytes)).await.unwrap();
            assert_eq!(
                (read_schema, value),
                (Some(schema.clone()), unscaled.clone())
            );
        }
    }

    #[test]
    fn validate_rejects_an_unknown_decimal_format() {
        let issue = json_config(&[("decimal.format", "TEXT")]).unwrap_err();
        assert_eq!(issue.key, "value.converter.decimal.format");
    }

    #[tokio::test]
    async fn json_envelope_is_required_when_schemas_are_enabled() {
        let converter = Converter::json(true);
        assert!(
            converter
                .to_connect("t", Some(br#"{"id":1}"#))
                .await
                .is_err()
        );
        let plain = Converter::json(false);
        assert_eq!(
            plain.to_connect("t", Some(br#"{"id":1}"#)).await.unwrap().1,
            json!({"id": 1})
        );
    }

    #[tokio::test]
    async fn string_and_bytes_round_trip() {
        let (schema, value) = Converter::String
            .to_connect("t", Some(b"hello"))
            .await
            .unwrap();
        assert_eq!(
            Converter::String
                .from_connect("t", schema.as_ref(), &value)
                .await
                .unwrap()
                .unwrap(),
            b"hello"
        );
        let (schema, value) = Converter::ByteArray
            .to_connect("t", Some(&[0, 159, 146]))
            .await
            .unwrap();
        assert_eq!(
            Converter::ByteArray
                .from_connect("t", schema.as_ref(), &value)
                .await
                .unwrap()
                .unwrap(),
            vec![0, 159, 146]
        );
        assert_eq!(
            Converter::String.to_connect("t", None).await.unwrap().1,
            Value::Null
        );
    }

    #[test]
    fn the_three_schema_converters_are_known_by_class() {
        for class in [
            schema_config::AVRO_CONVERTER,
            schema_config::JSON_SCHEMA_CONVERTER,
            schema_config::PROTOBUF_CONVERTER,
        ] {
            let config: ConfigMap = [
                ("value.converter".to_owned(), class.to_owned()),
                (
                    "value.converter.schema.registry.url".to_owned(),
                    "http://127.0.0.1:1".to_owned(),
                ),
            ]
            .into();
            let converter =
                Converter::from_config(&config, "value.converter", Converter::String).unwrap();
            assert_eq!(converter.class_name(), class);
            assert!(CONVERTER_CLASSES.contains(&class));
        }
    }

    #[test]
    fn unknown_converter_class_names_the_key() {
        let config: ConfigMap =
            [("value.converter".to_owned(), "com.example.Avro".to_owned())].into();
        let issue =
            Converter::from_config(&config, "value.converter", Converter::String).unwrap_err();
        assert_eq!(issue.key, "value.converter");
    }
}
