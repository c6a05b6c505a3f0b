//! Connect's data model: a record carries a key and a value, each a JSON value with an
//! optional Connect schema. `bytes` values are base64 strings, as JsonConverter writes them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Connect schema types, spelled as JsonConverter spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaType {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    Bytes,
    String,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(Value::String(text.to_ascii_lowercase())).ok()
    }

    /// The name of Kafka's `Schema.Type` constant (`FLOAT64`), as its messages spell it.
    pub fn kafka_name(self) -> &'static str {
        match self {
            Self::Boolean => "BOOLEAN",
            Self::Int8 => "INT8",
            Self::Int16 => "INT16",
            Self::Int32 => "INT32",
            Self::Int64 => "INT64",
            Self::Float => "FLOAT32",
            Self::Double => "FLOAT64",
            Self::Bytes => "BYTES",
            Self::String => "STRING",
            Self::Array => "ARRAY",
            Self::Map => "MAP",
            Self::Struct => "STRUCT",
        }
    }
}

/// A schema's parameters in the order they were set, as Java's `SchemaBuilder` keeps them
/// (a `LinkedHashMap`), so JsonConverter writes them in that order too.
pub type Parameters = indexmap::IndexMap<String, Value>;

/// A Connect schema in JsonConverter's JSON form, its keys in the order Kafka's
/// `JsonConverter.asJsonSchema` writes them (`type`, then `items` / `keys`+`values` /
/// `fields`, then `optional, name, version, doc, parameters, default`), so the bytes on a
/// topic are the ones Kafka Connect writes for the same record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    #[serde(rename = "type")]
    pub schema_type: SchemaType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Schema>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Box<Schema>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Box<Schema>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<Field>>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// One field of a struct schema: the field's name next to its schema, as in
/// `{"type":"int32","optional":false,"field":"id"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    #[serde(flatten)]
    pub schema: Schema,
    pub field: String,
}

impl Schema {
    /// An array schema's items; the error says they are missing.
    pub fn items_schema(&self) -> Result<&Schema, &'static str> {
        self.items.as_deref().ok_or("an array schema has no items")
    }

    /// A map schema's keys and values; the error says which is missing.
    pub fn map_schemas(&self) -> Result<(&Schema, &Schema), &'static str> {
        let keys = self.keys.as_deref().ok_or("a map schema has no keys")?;
        let values = self.values.as_deref().ok_or("a map schema has no values")?;
        Ok((keys, values))
    }

    pub fn new(schema_type: SchemaType) -> Self {
        Self {
            schema_type,
            optional: false,
            name: None,
            version: None,
            doc: None,
            parameters: None,
            default: None,
            items: None,
            keys: None,
            values: None,
            fields: None,
        }
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// `Schema.OPTIONAL_STRING_SCHEMA`.
    pub fn optional_string() -> Self {
        Self::new(SchemaType::String).optional()
    }

    /// A struct schema with `fields`.
    pub fn structure(fields: Vec<Field>) -> Self {
        Self {
            fields: Some(fields),
            ..Self::new(SchemaType::Struct)
        }
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.as_ref()?.iter().find(|f| f.field == name)
    }
}

impl Field {
    pub fn new(name: impl Into<String>, schema: Schema) -> Self {
        Self {
            schema,
            field: name.into(),
        }
    }
}

/// A record header. Values are JSON; a string header is written as its UTF-8 bytes, any
/// other value as its JSON text (what `SimpleHeaderConverter` does for simple types).
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: String,
    pub value: Value,
}

/// The part every record has, whatever its direction.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRecord {
    pub topic: String,
    pub kafka_partition: Option<i32>,
    /// Shared: a source emits the same schema for every record of a table, and a deep copy
    /// per record (a Debezium envelope's schema has ~40 nodes) cost more memory and time
    /// than the record's values.
    pub key_schema: Option<Arc<Schema>>,
    pub key: Value,
    pub value_schema: Option<Arc<Schema>>,
    pub value: Value,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub headers: Vec<Header>,
}

impl ConnectRecord {
    /// A record with a value only.
    pub fn new(topic: impl Into<String>, value_schema: Option<Arc<Schema>>, value: Value) -> Self {
        Self {
            topic: topic.into(),
            kafka_partition: None,
            key_schema: None,
            key: Value::Null,
            value_schema,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }

    pub fn with_key(mut self, key_schema: Option<Arc<Schema>>, key: Value) -> Self {
        self.key_schema = key_schema;
        self.key = key;
        self
    }

    pub fn header(&self, key: &str) -> Option<&Header> {
        self.headers.iter().rev().find(|h| h.key == key)
    }
}

/// What a source task emits: the record plus where in the source it came from. The runtime
/// stores `source_offset` under `source_partition` once Kafka acknowledged the record.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub source_partition: Map<String, Value>,
    pub source_offset: Map<String, Value>,
    pub record: ConnectRecord,
}

/// What a sink task receives: the converted, transformed record plus its Kafka coordinates
/// (of the original record, before any topic-renaming SMT).
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    pub record: ConnectRecord,
    pub original_topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}
