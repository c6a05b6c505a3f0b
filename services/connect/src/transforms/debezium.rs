//! Debezium's `io.debezium.transforms.ExtractNewRecordState`: replaces the change envelope
//! (`before`, `after`, `source`, `op`, …) by the `after` row.
//!
//! `delete.tombstone.handling.mode`: `tombstone` (default: the delete event is dropped, the
//! tombstone passes), `drop` (both dropped), `rewrite` (the `before` row with `__deleted`
//! = "true"; tombstone dropped), `rewrite-with-tombstone` (the same, tombstone kept),
//! `delete-to-tombstone` (the delete event becomes a tombstone). `add.fields` copies
//! envelope fields as `__<name>` (`source.<name>` for source fields), `add.headers` the
//! same as headers.

use std::sync::Arc;

use connect_api::{ConnectRecord, Field, Header, Schema, SchemaType};
use serde_json::{Map, Value};

use super::{AliasConfig, Transformation};
use crate::error::ConfigIssue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeleteMode {
    Drop,
    Tombstone,
    Rewrite,
    RewriteWithTombstone,
    DeleteToTombstone,
}

#[derive(Debug)]
pub(super) struct ExtractNewRecordState {
    mode: DeleteMode,
    add_fields: Vec<String>,
    add_headers: Vec<String>,
}

impl ExtractNewRecordState {
    pub(super) fn new(settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        let key = "delete.tombstone.handling.mode";
        let mode = match settings.get(key).map(str::trim).unwrap_or("tombstone") {
            "drop" => DeleteMode::Drop,
            "tombstone" => DeleteMode::Tombstone,
            "rewrite" => DeleteMode::Rewrite,
            "rewrite-with-tombstone" => DeleteMode::RewriteWithTombstone,
            "delete-to-tombstone" => DeleteMode::DeleteToTombstone,
            other => {
                return Err(ConfigIssue::new(
                    settings.key(key),
                    format!(
                        "Invalid value {other} for configuration {}: must be one of drop, tombstone, rewrite, rewrite-with-tombstone, delete-to-tombstone",
                        settings.key(key)
                    ),
                ));
            }
        };
        Ok(Self {
            mode,
            add_fields: settings.list("add.fields"),
            add_headers: settings.list("add.headers"),
        })
    }
}

fn envelope_field(envelope: &Map<String, Value>, name: &str) -> Value {
    match name.split_once('.') {
        Some(("source", inner)) => envelope
            .get("source")
            .and_then(|s| s.get(inner))
            .cloned()
            .unwrap_or(Value::Null),
        _ => envelope.get(name).cloned().unwrap_or(Value::Null),
    }
}

fn prefixed(name: &str) -> String {
    format!("__{}", name.replace('.', "_"))
}

impl Transformation for ExtractNewRecordState {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        if record.value.is_null() {
            // A tombstone that Debezium emitted after a delete event.
            return Ok(match self.mode {
                DeleteMode::Drop | DeleteMode::Rewrite => None,
                _ => Some(record),
            });
        }
        let Value::Object(envelope) = std::mem::take(&mut record.value) else {
            return Err(
                "ExtractNewRecordState expects a Debezium change event envelope".to_owned(),
            );
        };
        if !envelope.contains_key("op") && !envelope.contains_key("after") {
            // Not a change event (e.g. a heartbeat or schema change): passes unchanged.
            record.value = Value::Object(envelope);
            return Ok(Some(record));
        }
        let op = envelope
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let envelope_schema = record.value_schema.take();
        let row_schema = |name: &str| {
            envelope_schema
                .as_ref()
                .and_then(|s| s.field(name))
                .map(|f| f.schema.clone())
        };
        let (mut row, mut schema) = if op == "d" {
            match self.mode {
                DeleteMode::Drop | DeleteMode::Tombstone => return Ok(None),
                DeleteMode::DeleteToTombstone => {
                    record.value = Value::Null;
                    return Ok(Some(record));
                }
                DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone => {
                    let mut before = envelope.get("before").cloned().unwrap_or(Value::Null);
                    if let Value::Object(map) = &mut before {
                        map.insert("__deleted".to_owned(), Value::String("true".to_owned()));
                    }
                    let mut schema = row_schema("before");
                    if let Some(fields) = schema.as_mut().and_then(|s| s.fields.as_mut()) {
                        fields.push(Field::new("__deleted", Schema::optional_string()));
                    }
                    (before, schema)
                }
            }
        } else {
            let mut after = envelope.get("after").cloned().unwrap_or(Value::Null);
            let mut schema = row_schema("after");
            if matches!(
                self.mode,
                DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone
            ) {
                if let Value::Object(map) = &mut after {
                    map.insert("__deleted".to_owned(), Value::String("false".to_owned()));
                }
                if let Some(fields) = schema.as_mut().and_then(|s| s.fields.as_mut()) {
                    fields.push(Field::new("__deleted", Schema::optional_string()));
                }
            }
            (after, schema)
        };
        if let Value::Object(map) = &mut row {
            for name in &self.add_fields {
                let value = envelope_field(&envelope, name);
                let field_type = match &value {
                    Value::Number(n) if n.is_i64() => SchemaType::Int64,
                    _ => SchemaType::String,
                };
                map.insert(prefixed(name), value);
                if let Some(fields) = schema.as_mut().and_then(|s| s.fields.as_mut()) {
                    fields.push(Field::new(
                        prefixed(name),
                        Schema::new(field_type).optional(),
                    ));
                }
            }
        }
        for name in &self.add_headers {
            record.headers.push(Header {
                key: prefixed(name),
                value: envelope_field(&envelope, name),
            });
        }
        record.value = row;
        record.value_schema = schema.map(Arc::new);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use connect_api::ConfigMap;
    use serde_json::json;

    use super::*;

    fn smt(pairs: &[(&str, &str)]) -> ExtractNewRecordState {
        let config: ConfigMap = pairs
            .iter()
            .map(|(k, v)| (format!("t.{k}"), (*v).to_owned()))
            .collect();
        ExtractNewRecordState::new(&AliasConfig {
            prefix: "t.".to_owned(),
            config: &config,
        })
        .unwrap()
    }

    fn event(op: &str, before: &Value, after: &Value) -> ConnectRecord {
        ConnectRecord::new(
            "db.inventory.customers",
            None,
            json!({"before": before, "after": after, "op": op, "source": {"table": "customers", "ts_ms": 5}}),
        )
    }

    #[test]
    fn unwraps_after_and_adds_fields() {
        let out = smt(&[("add.fields", "op,source.table")])
            .apply(event("c", &Value::Null, &json!({"id": 1})))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            json!({"id": 1, "__op": "c", "__source_table": "customers"})
        );
    }

    #[test]
    fn delete_handling_modes() {
        let delete = || event("d", &json!({"id": 1}), &Value::Null);
        assert!(smt(&[]).apply(delete()).unwrap().is_none());
        let rewritten = smt(&[("delete.tombstone.handling.mode", "rewrite")])
            .apply(delete())
            .unwrap()
            .unwrap();
        assert_eq!(rewritten.value, json!({"id": 1, "__deleted": "true"}));
        let tombstone = smt(&[("delete.tombstone.handling.mode", "delete-to-tombstone")])
            .apply(delete())
            .unwrap()
            .unwrap();
        assert!(tombstone.value.is_null());
        let tomb = ConnectRecord::new("t", None, Value::Null);
        assert!(
            smt(&[("delete.tombstone.handling.mode", "drop")])
                .apply(tomb.clone())
                .unwrap()
                .is_none()
        );
        assert!(smt(&[]).apply(tomb).unwrap().is_some());
    }
}
