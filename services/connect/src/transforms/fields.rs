//! Field SMTs on struct/map values: `InsertField`, `ReplaceField`, `MaskField`,
//! `ValueToKey`, `ExtractField`, `HoistField`, `Flatten` (`Cast` is in `cast.rs`).

use std::sync::Arc;

use connect_api::{ConnectRecord, Field, Schema, SchemaType};
use serde_json::{Map, Value};

use super::{AliasConfig, Direction, Side, Transformation};
use crate::error::ConfigIssue;

fn as_object<'a>(
    value: &'a mut Value,
    what: &str,
) -> Result<Option<&'a mut Map<String, Value>>, String> {
    match value {
        Value::Object(map) => Ok(Some(map)),
        Value::Null => Ok(None),
        other => Err(format!(
            "Only Struct or Map objects supported for [{what}], found: {other}"
        )),
    }
}

fn add_field(schema: &mut Option<Arc<Schema>>, name: &str, field_schema: Schema) {
    if let Some(fields) = schema
        .as_mut()
        .map(Arc::make_mut)
        .and_then(|s| s.fields.as_mut())
    {
        fields.retain(|f| f.field != name);
        fields.push(Field::new(name, field_schema));
    }
}

/// An `InsertField` target: the field name and whether its schema is optional (Kafka's
/// `InsertionSpec`: `name!` is required, `name?` and `name` are optional).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Insertion {
    name: String,
    optional: bool,
}

fn insertion(spec: Option<&str>) -> Option<Insertion> {
    let spec = spec?.trim();
    let (name, optional) = match spec.strip_suffix('!') {
        Some(name) => (name, false),
        None => (spec.strip_suffix('?').unwrap_or(spec), true),
    };
    (!name.is_empty()).then(|| Insertion {
        name: name.to_owned(),
        optional,
    })
}

/// `InsertField`. Fields are added after the existing ones in Kafka's order (topic,
/// partition, offset, timestamp, static); the timestamp is Connect's logical `Timestamp`
/// (`int64`, version 1). `offset.field` needs a sink record's Kafka offset: on a source
/// record it fails the record as Kafka's `requireSinkRecord` does.
#[derive(Debug)]
pub(super) struct InsertField {
    side: Side,
    direction: Direction,
    topic: Option<Insertion>,
    partition: Option<Insertion>,
    offset: Option<Insertion>,
    timestamp: Option<Insertion>,
    static_field: Option<(Insertion, String)>,
}

impl InsertField {
    pub(super) fn new(
        side: Side,
        direction: Direction,
        settings: &AliasConfig<'_>,
    ) -> Result<Self, ConfigIssue> {
        let static_field = match (
            insertion(settings.get("static.field")),
            settings.get("static.value"),
        ) {
            (Some(field), Some(value)) => Some((field, value.to_owned())),
            (Some(_), None) => {
                return Err(ConfigIssue::new(
                    settings.key("static.value"),
                    "static.value is required when static.field is set",
                ));
            }
            _ => None,
        };
        Ok(Self {
            side,
            direction,
            topic: insertion(settings.get("topic.field")),
            partition: insertion(settings.get("partition.field")),
            offset: insertion(settings.get("offset.field")),
            timestamp: insertion(settings.get("timestamp.field")),
            static_field,
        })
    }
}

impl Transformation for InsertField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        if self.offset.is_some() && self.direction == Direction::Source {
            return Err(
                "Only SinkRecord supported for [field insertion], found: org.apache.kafka.connect.source.SourceRecord"
                    .to_owned(),
            );
        }
        let topic = record.topic.clone();
        let partition = record.kafka_partition;
        let timestamp = record.timestamp;
        let (schema, value) = Side::of(&mut record, self.side);
        let Some(map) = as_object(value, "field insertion")? else {
            return Ok(Some(record));
        };
        let typed = |insertion: &Insertion, kind: SchemaType| Schema {
            optional: insertion.optional,
            ..Schema::new(kind)
        };
        let mut inserts: Vec<(&Insertion, Value, Schema)> = Vec::new();
        if let Some(field) = &self.topic {
            inserts.push((
                field,
                Value::String(topic),
                typed(field, SchemaType::String),
            ));
        }
        if let Some(field) = &self.partition {
            inserts.push((
                field,
                partition.map_or(Value::Null, Value::from),
                typed(field, SchemaType::Int32),
            ));
        }
        if let Some(field) = &self.offset {
            // The sink runtime hands SMTs no Kafka offset yet.
            inserts.push((field, Value::Null, typed(field, SchemaType::Int64)));
        }
        if let Some(field) = &self.timestamp {
            inserts.push((
                field,
                timestamp.map_or(Value::Null, Value::from),
                logical_timestamp(typed(field, SchemaType::Int64)),
            ));
        }
        if let Some((field, text)) = &self.static_field {
            inserts.push((
                field,
                Value::String(text.clone()),
                typed(field, SchemaType::String),
            ));
        }
        for (field, field_value, field_schema) in inserts {
            map.insert(field.name.clone(), field_value);
            add_field(schema, &field.name, field_schema);
        }
        Ok(Some(record))
    }
}

/// Connect's logical `Timestamp` (`org.apache.kafka.connect.data.Timestamp`, version 1).
pub(super) fn logical_timestamp(int64: Schema) -> Schema {
    Schema {
        version: Some(1),
        ..int64.named("org.apache.kafka.connect.data.Timestamp")
    }
}

#[derive(Debug)]
pub(super) struct ReplaceField {
    side: Side,
    include: Vec<String>,
    exclude: Vec<String>,
    renames: Vec<(String, String)>,
}

impl ReplaceField {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        let mut include = settings.list("include");
        include.extend(settings.list("whitelist"));
        let mut exclude = settings.list("exclude");
        exclude.extend(settings.list("blacklist"));
        let mut renames = Vec::new();
        for pair in settings.list("renames") {
            let Some((from, to)) = pair.split_once(':') else {
                return Err(ConfigIssue::new(
                    settings.key("renames"),
                    format!("Invalid rename mapping: {pair}"),
                ));
            };
            renames.push((from.trim().to_owned(), to.trim().to_owned()));
        }
        Ok(Self {
            side,
            include,
            exclude,
            renames,
        })
    }

    fn keep(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames
            .iter()
            .find(|(from, _)| from == name)
            .map_or(name, |(_, to)| to.as_str())
    }
}

impl Transformation for ReplaceField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let (schema, value) = Side::of(&mut record, self.side);
        let Some(map) = as_object(value, "field replacement")? else {
            return Ok(Some(record));
        };
        let old = std::mem::take(map);
        for (name, field_value) in old {
            if self.keep(&name) {
                map.insert(self.renamed(&name).to_owned(), field_value);
            }
        }
        if let Some(fields) = schema
            .as_mut()
            .map(Arc::make_mut)
            .and_then(|s| s.fields.as_mut())
        {
            fields.retain(|f| self.keep(&f.field));
            for field in fields.iter_mut() {
                field.field = self.renamed(&field.field).to_owned();
            }
        }
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct MaskField {
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
}

impl MaskField {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        settings.required("fields")?;
        Ok(Self {
            side,
            fields: settings.list("fields"),
            replacement: settings.get("replacement").map(str::to_owned),
        })
    }

    fn masked(&self, current: &Value) -> Value {
        match (current, &self.replacement) {
            (Value::String(_), Some(text)) => Value::String(text.clone()),
            (Value::Number(_), Some(text)) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::from(0), |n| {
                    if current.is_i64() {
                        Value::from(n.as_f64().map_or(0, |f| f as i64))
                    } else {
                        Value::Number(n)
                    }
                }),
            (Value::String(_), None) => Value::String(String::new()),
            (Value::Number(n), None) => {
                if n.is_f64() {
                    Value::from(0.0)
                } else {
                    Value::from(0)
                }
            }
            (Value::Bool(_), _) => Value::Bool(false),
            (Value::Array(_), _) => Value::Array(Vec::new()),
            (Value::Object(_), _) => Value::Object(Map::new()),
            (Value::Null, _) => Value::Null,
        }
    }
}

impl Transformation for MaskField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let (_, value) = Side::of(&mut record, self.side);
        if let Some(map) = as_object(value, "masking fields")? {
            for field in &self.fields {
                if let Some(current) = map.get(field) {
                    let masked = self.masked(current);
                    map.insert(field.clone(), masked);
                }
            }
        }
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct ValueToKey {
    fields: Vec<String>,
}

impl ValueToKey {
    pub(super) fn new(settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        settings.required("fields")?;
        Ok(Self {
            fields: settings.list("fields"),
        })
    }
}

impl Transformation for ValueToKey {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let Value::Object(map) = &record.value else {
            return Err(format!(
                "Only Struct or Map objects supported for [copying fields from value to key], found: {}",
                record.value
            ));
        };
        let mut key = Map::new();
        let mut key_fields = Vec::new();
        for field in &self.fields {
            key.insert(
                field.clone(),
                map.get(field).cloned().unwrap_or(Value::Null),
            );
            if let Some(found) = record.value_schema.as_deref().and_then(|s| s.field(field)) {
                key_fields.push(found.clone());
            }
        }
        record.key_schema = record
            .value_schema
            .as_ref()
            .map(|_| Arc::new(Schema::structure(key_fields)));
        record.key = Value::Object(key);
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct ExtractField {
    side: Side,
    path: Vec<String>,
}

impl ExtractField {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        let field = settings.required("field")?.to_owned();
        let nested = settings
            .get("field.syntax.version")
            .is_some_and(|v| v.eq_ignore_ascii_case("V2"));
        let path = if nested {
            field.split('.').map(str::to_owned).collect()
        } else {
            vec![field]
        };
        Ok(Self { side, path })
    }
}

impl Transformation for ExtractField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let (schema, value) = Side::of(&mut record, self.side);
        let mut current_value = std::mem::take(value);
        let mut current_schema = schema.take();
        for name in &self.path {
            current_value = match current_value {
                Value::Object(mut map) => map.remove(name).unwrap_or(Value::Null),
                Value::Null => Value::Null,
                other => {
                    return Err(format!(
                        "Only Struct or Map objects supported for [field extraction], found: {other}"
                    ));
                }
            };
            current_schema =
                current_schema.and_then(|s| s.field(name).map(|f| Arc::new(f.schema.clone())));
        }
        *value = current_value;
        *schema = current_schema;
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct HoistField {
    side: Side,
    field: String,
}

impl HoistField {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        Ok(Self {
            side,
            field: settings.required("field")?.to_owned(),
        })
    }
}

impl Transformation for HoistField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let (schema, value) = Side::of(&mut record, self.side);
        let mut map = Map::new();
        map.insert(self.field.clone(), std::mem::take(value));
        *value = Value::Object(map);
        *schema = schema.take().map(|inner| {
            let inner = Arc::unwrap_or_clone(inner);
            Arc::new(Schema::structure(vec![Field::new(&self.field, inner)]))
        });
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct Flatten {
    side: Side,
    delimiter: String,
}

impl Flatten {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Self {
        Self {
            side,
            delimiter: settings.get("delimiter").unwrap_or(".").to_owned(),
        }
    }

    fn flatten_into(&self, prefix: &str, value: Map<String, Value>, out: &mut Map<String, Value>) {
        for (name, inner) in value {
            let key = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}{}{name}", self.delimiter)
            };
            match inner {
                Value::Object(map) => self.flatten_into(&key, map, out),
                other => {
                    out.insert(key, other);
                }
            }
        }
    }

    fn flatten_schema(&self, prefix: &str, schema: &Schema, out: &mut Vec<Field>) {
        for field in schema.fields.iter().flatten() {
            let key = if prefix.is_empty() {
                field.field.clone()
            } else {
                format!("{prefix}{}{}", self.delimiter, field.field)
            };
            if field.schema.schema_type == SchemaType::Struct {
                self.flatten_schema(&key, &field.schema, out);
            } else {
                let mut inner = field.schema.clone();
                inner.optional = inner.optional || schema.optional;
                out.push(Field::new(key, inner));
            }
        }
    }
}

impl Transformation for Flatten {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let (schema, value) = Side::of(&mut record, self.side);
        if let Value::Object(map) = std::mem::take(value) {
            let mut out = Map::new();
            self.flatten_into("", map, &mut out);
            *value = Value::Object(out);
            if let Some(current) = schema.as_ref() {
                let mut fields = Vec::new();
                self.flatten_schema("", current, &mut fields);
                let mut flat = Schema::structure(fields);
                flat.name.clone_from(&current.name);
                flat.optional = current.optional;
                *schema = Some(Arc::new(flat));
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use connect_api::ConfigMap;
    use serde_json::json;

    use super::*;

    fn settings(config: &ConfigMap) -> AliasConfig<'_> {
        AliasConfig {
            prefix: "t.".to_owned(),
            config,
        }
    }

    fn config(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (format!("t.{k}"), (*v).to_owned()))
            .collect()
    }

    fn record(value: Value) -> ConnectRecord {
        ConnectRecord::new("topic", None, value)
    }

    #[test]
    fn replace_field_includes_excludes_and_renames() {
        let config = config(&[("exclude", "secret"), ("renames", "id:key")]);
        let smt = ReplaceField::new(Side::Value, &settings(&config)).unwrap();
        let out = smt
            .apply(record(json!({"id": 1, "secret": "x", "name": "n"})))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, json!({"key": 1, "name": "n"}));
    }

    #[test]
    fn extract_hoist_and_flatten() {
        let config = config(&[("field", "after")]);
        let out = ExtractField::new(Side::Value, &settings(&config))
            .unwrap()
            .apply(record(json!({"after": {"id": 2}})))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, json!({"id": 2}));
        let out = HoistField::new(Side::Value, &settings(&config))
            .unwrap()
            .apply(out)
            .unwrap()
            .unwrap();
        assert_eq!(out.value, json!({"after": {"id": 2}}));
        let out = Flatten::new(Side::Value, &settings(&ConfigMap::new()))
            .apply(out)
            .unwrap()
            .unwrap();
        assert_eq!(out.value, json!({"after.id": 2}));
    }

    #[test]
    fn value_to_key_and_mask() {
        let out = ValueToKey::new(&settings(&config(&[("fields", "id")])))
            .unwrap()
            .apply(record(json!({"id": 3, "n": "a"})))
            .unwrap()
            .unwrap();
        assert_eq!(out.key, json!({"id": 3}));
        let out = MaskField::new(Side::Value, &settings(&config(&[("fields", "n")])))
            .unwrap()
            .apply(out)
            .unwrap()
            .unwrap();
        assert_eq!(out.value, json!({"id": 3, "n": ""}));
    }
}
