//! One [`SinkRecord`] → one bulk action (or a reason to skip it).
//!
//! - index: the record's topic (after any routing SMT) lower-cased as Confluent's
//!   `convertTopicToIndexName` does, or the data stream `{type}-{dataset}-{namespace}`
//!   (namespace `${topic}` by default);
//! - id: `topic+partition+offset` when the key is ignored, else the key: a string as is, a
//!   number or boolean as its text, a struct or map as compact JSON (Confluent refuses
//!   non-primitive keys; Debezium keys are structs, so we accept them);
//! - body: the Connect value, which must be an object (struct or map); with the schema not
//!   ignored, maps follow `compact.map.entries` ([`crate::document`]);
//! - a null value (tombstone) follows `behavior.on.null.values`: skipped, a delete by id, or
//!   a failure;
//! - version: with `external.version.header` and an id from the key, the header's value as
//!   `version` with `version_type=external` (Confluent's `resolveExternalVersion`: the
//!   header's text parsed as a long). A record without a usable header is invalid.
//!
//! The action and source lines are serialized here, once: retries resend the same bytes.

use std::sync::Arc;

use bytes::Bytes;
use connect_api::SinkRecord;
use serde_json::{Map, Value, json};

use crate::config::{ElasticsearchSinkConfig, NullValueBehavior, WriteMethod};
use crate::document::document_of;

/// The bulk operation of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Index,
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Self::Index => "index",
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// Where a record came from, for logs and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCoordinates {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl std::fmt::Display for RecordCoordinates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}@{}", self.topic, self.partition, self.offset)
    }
}

/// One serialized bulk action: the action line and, except for deletes, the source line.
#[derive(Debug, Clone)]
pub struct EncodedAction {
    pub index: String,
    pub id: String,
    pub operation: Operation,
    /// NDJSON lines, each ending in `\n`.
    pub lines: Bytes,
    pub coordinates: RecordCoordinates,
    /// The external version sent with the action (`external.version.header`).
    pub external_version: Option<i64>,
    /// The record, kept only when the task has an errant record reporter (a DLQ), so that
    /// a document Elasticsearch refuses can be reported.
    pub record: Option<Arc<SinkRecord>>,
}

/// Why a record produced no action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// `behavior.on.null.values=ignore`, or a tombstone without a usable id.
    NullValue,
    /// `drop.invalid.message=true` and the record cannot become a document.
    InvalidMessage,
}

/// What the encoder made of a record.
#[derive(Debug, Clone)]
pub enum Encoded {
    Action(EncodedAction),
    Skip(SkipReason),
}

/// A record that cannot be written and may not be skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("record {coordinates} cannot be written: {reason}")]
    Invalid { coordinates: String, reason: String },
    #[error(
        "record {coordinates} has a null value and behavior.on.null.values=fail; set it to ignore or delete"
    )]
    NullValue { coordinates: String },
}

/// Confluent's `convertTopicToIndexName`.
pub fn index_name_of(topic: &str) -> String {
    let mut index: String = topic.to_lowercase();
    if index.len() > 255 {
        let mut cut = 255;
        while !index.is_char_boundary(cut) {
            cut -= 1;
        }
        index.truncate(cut);
    }
    if index.starts_with('-') || index.starts_with('_') {
        index.remove(0);
    }
    if index == "." || index == ".." {
        index = index.replace('.', "dot");
    }
    index
}

/// Turns records into bulk actions per the validated config.
#[derive(Debug, Clone)]
pub struct Encoder {
    config: ElasticsearchSinkConfig,
    retry_on_conflict: usize,
}

impl Encoder {
    pub fn new(config: ElasticsearchSinkConfig) -> Self {
        let retry_on_conflict = config.bulk.max_in_flight_requests.min(5);
        Self {
            config,
            retry_on_conflict,
        }
    }

    /// The index or data stream `topic` is written to.
    pub fn target_of(&self, topic: &str) -> String {
        match &self.config.data_stream {
            Some(stream) => format!(
                "{}-{}-{}",
                stream.stream_type.prefix(),
                stream.dataset,
                stream.namespace.replace("${topic}", &index_name_of(topic))
            ),
            None => index_name_of(topic),
        }
    }

    pub fn encode(&self, sink_record: &SinkRecord) -> Result<Encoded, EncodeError> {
        let record = &sink_record.record;
        let coordinates = RecordCoordinates {
            topic: sink_record.original_topic.clone(),
            partition: sink_record.kafka_partition,
            offset: sink_record.kafka_offset,
        };
        let invalid = |reason: String| {
            if self.config.drop_invalid_message {
                Ok(Encoded::Skip(SkipReason::InvalidMessage))
            } else {
                Err(EncodeError::Invalid {
                    coordinates: coordinates.to_string(),
                    reason,
                })
            }
        };
        let index = self.target_of(&record.topic);
        if index.is_empty() {
            return invalid(format!(
                "topic `{}` gives an empty index name",
                record.topic
            ));
        }
        let key_ignored = self.config.ignores_key(&record.topic);
        // As in Confluent, offset ids are unique already and carry no version.
        let external_version = match &self.config.external_version_header {
            Some(header) if !key_ignored => match external_version_of(record, header) {
                Ok(version) => Some(version),
                Err(reason) => return invalid(reason),
            },
            _ => None,
        };
        let id = if key_ignored {
            format!(
                "{}+{}+{}",
                record.topic, sink_record.kafka_partition, sink_record.kafka_offset
            )
        } else {
            match document_id_of(&record.key) {
                Some(id) => id,
                None if record.value.is_null() => return Ok(Encoded::Skip(SkipReason::NullValue)),
                None => {
                    return invalid(
                        "the key is null or empty, so it cannot be the document id (set key.ignore=true to use topic+partition+offset)"
                            .to_owned(),
                    );
                }
            }
        };
        if record.value.is_null() {
            return match self.config.null_values {
                NullValueBehavior::Ignore => Ok(Encoded::Skip(SkipReason::NullValue)),
                NullValueBehavior::Fail => Err(EncodeError::NullValue {
                    coordinates: coordinates.to_string(),
                }),
                // With offset ids a tombstone names no earlier document: nothing to delete.
                NullValueBehavior::Delete if key_ignored => {
                    Ok(Encoded::Skip(SkipReason::NullValue))
                }
                NullValueBehavior::Delete => Ok(Encoded::Action(EncodedAction {
                    lines: action_lines(
                        ActionMetadata {
                            operation: Operation::Delete,
                            index: &index,
                            id: &id,
                            retry_on_conflict: None,
                            external_version,
                        },
                        None,
                    ),
                    index,
                    id,
                    operation: Operation::Delete,
                    coordinates,
                    external_version,
                    record: None,
                })),
            };
        }
        let body = if self.config.ignores_schema(&record.topic) {
            std::borrow::Cow::Borrowed(&record.value)
        } else {
            document_of(
                &record.value,
                record.value_schema.as_deref(),
                self.config.compact_map_entries,
            )
        };
        let Value::Object(document) = body.as_ref() else {
            return invalid(format!(
                "the value is a JSON {}, not an object (struct or map)",
                kind_of(&record.value)
            ));
        };
        let (operation, source, retry) = match (&self.config.data_stream, self.config.write_method)
        {
            (Some(stream), _) => {
                let mut document = document.clone();
                if let Some(timestamp) = timestamp_of(
                    &document,
                    stream.timestamp_field.as_deref(),
                    record.timestamp,
                ) {
                    document.insert("@timestamp".to_owned(), timestamp);
                }
                (Operation::Create, Value::Object(document), None)
            }
            (None, WriteMethod::Insert) => (Operation::Index, body.into_owned(), None),
            (None, WriteMethod::Upsert) => (
                Operation::Update,
                json!({"doc": body.as_ref(), "doc_as_upsert": true}),
                Some(self.retry_on_conflict),
            ),
        };
        let metadata = ActionMetadata {
            operation,
            index: &index,
            id: &id,
            retry_on_conflict: retry,
            external_version,
        };
        Ok(Encoded::Action(EncodedAction {
            lines: action_lines(metadata, Some(&source)),
            index,
            id,
            operation,
            coordinates,
            external_version,
            record: None,
        }))
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The document id a key gives, or `None` for a null or empty key.
pub fn document_id_of(key: &Value) -> Option<String> {
    let id = match key {
        Value::Null => return None,
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Array(_) | Value::Object(_) => key.to_string(),
    };
    Some(id).filter(|id| !id.is_empty())
}

/// `@timestamp` for a data stream document: the configured field's value, else the record
/// timestamp, unless the document already has one.
fn timestamp_of(
    document: &Map<String, Value>,
    field: Option<&str>,
    record_timestamp: Option<i64>,
) -> Option<Value> {
    match field {
        Some(field) => document.get(field).cloned(),
        None if document.contains_key("@timestamp") => None,
        None => record_timestamp.map(Value::from),
    }
}

/// The value of `header` as an external version: the header's text (a number header is
/// its digits, as `SimpleHeaderConverter` writes it) parsed as a non-negative long.
pub fn external_version_of(
    record: &connect_api::ConnectRecord,
    header: &str,
) -> Result<i64, String> {
    let Some(found) = record.header(header) else {
        return Err(format!(
            "the header `{header}` (external.version.header) is missing"
        ));
    };
    let text = match &found.value {
        Value::Null => {
            return Err(format!(
                "the header `{header}` (external.version.header) has no value"
            ));
        }
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match text.parse::<i64>() {
        Ok(version) if version >= 0 => Ok(version),
        _ => Err(format!(
            "the header `{header}` (external.version.header) is not a version (a long of at least 0): `{text}`"
        )),
    }
}

/// The action line's fields.
#[derive(Debug, Clone, Copy)]
struct ActionMetadata<'a> {
    operation: Operation,
    index: &'a str,
    id: &'a str,
    retry_on_conflict: Option<usize>,
    external_version: Option<i64>,
}

fn action_lines(action_metadata: ActionMetadata<'_>, source: Option<&Value>) -> Bytes {
    let mut metadata = Map::new();
    metadata.insert("_index".to_owned(), Value::from(action_metadata.index));
    metadata.insert("_id".to_owned(), Value::from(action_metadata.id));
    if let Some(retries) = action_metadata.retry_on_conflict {
        metadata.insert("retry_on_conflict".to_owned(), Value::from(retries));
    }
    if let Some(version) = action_metadata.external_version {
        metadata.insert("version".to_owned(), Value::from(version));
        metadata.insert("version_type".to_owned(), Value::from("external"));
    }
    let mut action = Map::new();
    action.insert(
        action_metadata.operation.name().to_owned(),
        Value::Object(metadata),
    );
    let mut lines = Value::Object(action).to_string().into_bytes();
    lines.push(b'\n');
    if let Some(source) = source {
        // A serde_json::Value always serializes; the writer is a Vec.
        lines.extend_from_slice(source.to_string().as_bytes());
        lines.push(b'\n');
    }
    Bytes::from(lines)
}

#[cfg(test)]
mod tests {
    use connect_api::{ConfigMap, ConnectRecord};

    use super::*;

    fn encoder(pairs: &[(&str, &str)]) -> Encoder {
        let mut map: ConfigMap = [("connection.url".to_owned(), "http://a:9200".to_owned())].into();
        for (k, v) in pairs {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        Encoder::new(ElasticsearchSinkConfig::validate(&map).unwrap())
    }

    fn record(topic: &str, key: Value, value: Value) -> SinkRecord {
        SinkRecord {
            record: ConnectRecord::new(topic, None, value).with_key(None, key),
            original_topic: topic.to_owned(),
            kafka_partition: 2,
            kafka_offset: 42,
        }
    }

    fn lines(encoded: &Encoded) -> Vec<Value> {
        let Encoded::Action(action) = encoded else {
            panic!("expected an action, got {encoded:?}")
        };
        std::str::from_utf8(&action.lines)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn index_names_follow_confluent() {
        assert_eq!(index_name_of("Orders.Public"), "orders.public");
        assert_eq!(index_name_of("_private"), "private");
        assert_eq!(index_name_of("-dash"), "dash");
        assert_eq!(index_name_of(".."), "dotdot");
        assert_eq!(index_name_of(&"x".repeat(300)).len(), 255);
    }

    #[test]
    fn key_ignore_uses_topic_partition_offset() {
        let encoded = encoder(&[("key.ignore", "true")])
            .encode(&record("T", json!("k"), json!({"a": 1})))
            .unwrap();
        assert_eq!(
            lines(&encoded),
            vec![
                json!({"index": {"_index": "t", "_id": "T+2+42"}}),
                json!({"a": 1})
            ]
        );
    }

    #[test]
    fn keys_become_ids() {
        assert_eq!(document_id_of(&json!("abc")).as_deref(), Some("abc"));
        assert_eq!(document_id_of(&json!(17)).as_deref(), Some("17"));
        assert_eq!(document_id_of(&json!(true)).as_deref(), Some("true"));
        assert_eq!(
            document_id_of(&json!({"id": 1})).as_deref(),
            Some(r#"{"id":1}"#)
        );
        assert_eq!(document_id_of(&Value::Null), None);
        assert_eq!(document_id_of(&json!("")), None);
    }

    #[test]
    fn null_key_fails_unless_dropped() {
        let failing = encoder(&[]).encode(&record("t", Value::Null, json!({"a": 1})));
        assert!(matches!(failing, Err(EncodeError::Invalid { .. })));
        let dropped = encoder(&[("drop.invalid.message", "true")])
            .encode(&record("t", Value::Null, json!({"a": 1})))
            .unwrap();
        assert!(matches!(dropped, Encoded::Skip(SkipReason::InvalidMessage)));
    }

    #[test]
    fn non_object_values_are_invalid() {
        let failing = encoder(&[]).encode(&record("t", json!("k"), json!([1, 2])));
        assert!(matches!(failing, Err(EncodeError::Invalid { .. })));
    }

    #[test]
    fn tombstones_follow_behavior_on_null_values() {
        let tombstone = record("t", json!("k"), Value::Null);
        assert!(matches!(
            encoder(&[]).encode(&tombstone),
            Err(EncodeError::NullValue { .. })
        ));
        assert!(matches!(
            encoder(&[("behavior.on.null.values", "ignore")])
                .encode(&tombstone)
                .unwrap(),
            Encoded::Skip(SkipReason::NullValue)
        ));
        let deleted = encoder(&[("behavior.on.null.values", "delete")])
            .encode(&tombstone)
            .unwrap();
        assert_eq!(
            lines(&deleted),
            vec![json!({"delete": {"_index": "t", "_id": "k"}})]
        );
    }

    #[test]
    fn upsert_sends_doc_as_upsert() {
        let encoded = encoder(&[("write.method", "upsert")])
            .encode(&record("t", json!(1), json!({"a": 1})))
            .unwrap();
        assert_eq!(
            lines(&encoded),
            vec![
                json!({"update": {"_index": "t", "_id": "1", "retry_on_conflict": 5}}),
                json!({"doc": {"a": 1}, "doc_as_upsert": true})
            ]
        );
    }

    fn with_header(mut input: SinkRecord, key: &str, value: Value) -> SinkRecord {
        input.record.headers.push(connect_api::Header {
            key: key.to_owned(),
            value,
        });
        input
    }

    #[test]
    fn external_version_comes_from_the_header() {
        let versioned = encoder(&[("external.version.header", "v")]);
        for header in [json!(5), json!("5")] {
            let input = with_header(record("t", json!("k"), json!({"a": 1})), "v", header);
            let encoded = versioned.encode(&input).unwrap();
            assert_eq!(
                lines(&encoded)[0],
                json!({"index": {"_index": "t", "_id": "k", "version": 5, "version_type": "external"}})
            );
            let Encoded::Action(action) = encoded else {
                unreachable!()
            };
            assert_eq!(action.external_version, Some(5));
        }
        let tombstone = with_header(record("t", json!("k"), Value::Null), "v", json!(6));
        let deleted = encoder(&[
            ("external.version.header", "v"),
            ("behavior.on.null.values", "delete"),
        ])
        .encode(&tombstone)
        .unwrap();
        assert_eq!(
            lines(&deleted),
            vec![
                json!({"delete": {"_index": "t", "_id": "k", "version": 6, "version_type": "external"}})
            ]
        );
    }

    #[test]
    fn missing_or_unparsable_version_header_is_invalid() {
        let versioned = encoder(&[("external.version.header", "v")]);
        let missing = record("t", json!("k"), json!({"a": 1}));
        assert!(matches!(
            versioned.encode(&missing),
            Err(EncodeError::Invalid { reason, .. }) if reason.contains("missing")
        ));
        for bad in [json!("five"), json!(1.5), json!(-1), Value::Null] {
            let input = with_header(record("t", json!("k"), json!({"a": 1})), "v", bad);
            assert!(versioned.encode(&input).is_err());
        }
        let dropping = encoder(&[
            ("external.version.header", "v"),
            ("drop.invalid.message", "true"),
        ]);
        assert!(matches!(
            dropping.encode(&missing).unwrap(),
            Encoded::Skip(SkipReason::InvalidMessage)
        ));
    }

    #[test]
    fn offset_ids_carry_no_external_version() {
        let encoded = encoder(&[("external.version.header", "v"), ("key.ignore", "true")])
            .encode(&record("t", json!("k"), json!({"a": 1})))
            .unwrap();
        assert_eq!(
            lines(&encoded)[0],
            json!({"index": {"_index": "t", "_id": "t+2+42"}})
        );
    }

    #[test]
    fn map_entries_follow_compact_map_entries() {
        use connect_api::{Field, Schema, SchemaType};
        let schema = Schema::structure(vec![Field::new(
            "m",
            Schema {
                keys: Some(Box::new(Schema::new(SchemaType::String))),
                values: Some(Box::new(Schema::new(SchemaType::Int32))),
                ..Schema::new(SchemaType::Map)
            },
        )]);
        let mut input = record("t", json!("k"), json!({"m": {"a": 1}}));
        input.record.value_schema = Some(schema.into());
        let compact = encoder(&[]).encode(&input).unwrap();
        assert_eq!(lines(&compact)[1], json!({"m": {"a": 1}}));
        let entries = encoder(&[("compact.map.entries", "false")])
            .encode(&input)
            .unwrap();
        assert_eq!(lines(&entries)[1], json!({"m": [{"key": "a", "value": 1}]}));
        let schema_ignored =
            encoder(&[("compact.map.entries", "false"), ("schema.ignore", "true")])
                .encode(&input)
                .unwrap();
        assert_eq!(lines(&schema_ignored)[1], json!({"m": {"a": 1}}));
    }

    #[test]
    fn data_streams_create_with_timestamp() {
        let mut input = record("Web", json!("k"), json!({"a": 1}));
        input.record.timestamp = Some(1_700_000_000_000);
        let encoded = encoder(&[("data.stream.type", "LOGS"), ("data.stream.dataset", "app")])
            .encode(&input)
            .unwrap();
        assert_eq!(
            lines(&encoded),
            vec![
                json!({"create": {"_index": "logs-app-web", "_id": "k"}}),
                json!({"a": 1, "@timestamp": 1_700_000_000_000_i64})
            ]
        );
        let named = encoder(&[
            ("data.stream.type", "METRICS"),
            ("data.stream.dataset", "app"),
            ("data.stream.namespace", "prod.${topic}"),
        ]);
        assert_eq!(named.target_of("Web"), "metrics-app-prod.web");
        let fixed = encoder(&[
            ("data.stream.type", "LOGS"),
            ("data.stream.dataset", "app"),
            ("data.stream.namespace", "prod"),
        ]);
        assert_eq!(fixed.target_of("Web"), "logs-app-prod");
    }
}
