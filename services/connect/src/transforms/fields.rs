//! Field SMTs on struct/map values: `InsertField`, `ReplaceField`, `MaskField`,
//! `ValueToKey`, `ExtractField`, `HoistField`, `Cast`, `Flatten`.

use std::sync::Arc;

use connect_api::{ConnectRecord, Field, Schema, SchemaType};
use serde_json::{Map, Value};

use super::{AliasConfig, Side, Transformation};
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

/// A field spec with Kafka's `!` (required) / `?` (optional) suffix.
fn field_name(spec: Option<&str>) -> Option<String> {
    spec.map(|s| s.trim().trim_end_matches(['!', '?']).to_owned())
        .filter(|s| !s.is_empty())
}

#[derive(Debug)]
pub(super) struct InsertField {
    side: Side,
    topic: Option<String>,
    partition: Option<String>,
    offset: Option<String>,
    timestamp: Option<String>,
    static_field: Option<(String, String)>,
}

impl InsertField {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        let static_field = match (
            field_name(settings.get("static.field")),
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
            topic: field_name(settings.get("topic.field")),
            partition: field_name(settings.get("partition.field")),
            offset: field_name(settings.get("offset.field")),
            timestamp: field_name(settings.get("timestamp.field")),
            static_field,
        })
    }
}

impl Transformation for InsertField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let topic = record.topic.clone();
        let partition = record.kafka_partition;
        let timestamp = record.timestamp;
        let (schema, value) = Side::of(&mut record, self.side);
        let Some(map) = as_object(value, "field insertion")? else {
            return Ok(Some(record));
        };
        let optional = |t| Schema::new(t).optional();
        let mut inserts: Vec<(String, Value, Schema)> = Vec::new();
        if let Some(field) = &self.topic {
            inserts.push((
                field.clone(),
                Value::String(topic),
                optional(SchemaType::String),
            ));
        }
        if let Some(field) = &self.partition {
            inserts.push((
                field.clone(),
                partition.map_or(Value::Null, Value::from),
                optional(SchemaType::Int32),
            ));
        }
        if let Some(field) = &self.offset {
            // Source records have no Kafka offset yet; sink records carry it in the task loop.
            inserts.push((field.clone(), Value::Null, optional(SchemaType::Int64)));
        }
        if let Some(field) = &self.timestamp {
            inserts.push((
                field.clone(),
                timestamp.map_or(Value::Null, Value::from),
                optional(SchemaType::Int64).named("org.apache.kafka.connect.data.Timestamp"),
            ));
        }
        if let Some((field, text)) = &self.static_field {
            inserts.push((
                field.clone(),
                Value::String(text.clone()),
                optional(SchemaType::String),
            ));
        }
        for (field, field_value, field_schema) in inserts {
            map.insert(field.clone(), field_value);
            add_field(schema, &field, field_schema);
        }
        Ok(Some(record))
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
pub(super) struct Cast {
    side: Side,
    whole: Option<SchemaType>,
    fields: Vec<(String, SchemaType)>,
}

fn cast_type(text: &str) -> Option<SchemaType> {
    match SchemaType::parse(text.trim())? {
        t @ (SchemaType::Array | SchemaType::Map | SchemaType::Struct | SchemaType::Bytes) => {
            let _ = t;
            None
        }
        t => Some(t),
    }
}

impl Cast {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        let spec = settings.required("spec")?;
        let bad = |item: &str| {
            ConfigIssue::new(
                settings.key("spec"),
                format!("Invalid value {item} for configuration spec: invalid cast spec"),
            )
        };
        let items = connect_api::config::split_list(spec);
        if items.len() == 1 && !items[0].contains(':') {
            return Ok(Self {
                side,
                whole: Some(cast_type(&items[0]).ok_or_else(|| bad(&items[0]))?),
                fields: Vec::new(),
            });
        }
        let mut fields = Vec::new();
        for item in items {
            let (field, target) = item.split_once(':').ok_or_else(|| bad(&item))?;
            fields.push((
                field.trim().to_owned(),
                cast_type(target).ok_or_else(|| bad(&item))?,
            ));
        }
        Ok(Self {
            side,
            whole: None,
            fields,
        })
    }
}

fn cast_value(value: &Value, target: SchemaType) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let as_f64 = || -> Result<f64, String> {
        match value {
            Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".to_owned()),
            Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("Value ({s}) cannot be cast to {target:?}")),
            other => Err(format!("Value ({other}) cannot be cast to {target:?}")),
        }
    };
    Ok(match target {
        SchemaType::String => Value::String(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        SchemaType::Boolean => Value::Bool(match value {
            Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
            _ => as_f64()? != 0.0,
        }),
        SchemaType::Float | SchemaType::Double => Value::from(as_f64()?),
        _ => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
            Value::String(s) if s.trim().parse::<i64>().is_ok() => {
                Value::from(s.trim().parse::<i64>().unwrap_or_default())
            }
            _ => Value::from(as_f64()?.trunc() as i64),
        },
    })
}

impl Transformation for Cast {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let (schema, value) = Side::of(&mut record, self.side);
        if let Some(target) = self.whole {
            *value = cast_value(value, target)?;
            if let Some(schema) = schema.as_mut() {
                Arc::make_mut(schema).schema_type = target;
            }
            return Ok(Some(record));
        }
        if let Some(map) = as_object(value, "casting fields")? {
            for (field, target) in &self.fields {
                if let Some(current) = map.get(field) {
                    let cast = cast_value(current, *target)?;
                    map.insert(field.clone(), cast);
                }
                if let Some(field_schema) = schema
                    .as_mut()
                    .map(Arc::make_mut)
                    .and_then(|s| s.fields.as_mut())
                    .and_then(|f| f.iter_mut().find(|f| &f.field == field))
                {
                    field_schema.schema.schema_type = *target;
                }
            }
        }
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
    fn value_to_key_mask_and_cast() {
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
        let out = Cast::new(Side::Value, &settings(&config(&[("spec", "id:string")])))
            .unwrap()
            .apply(out)
            .unwrap()
            .unwrap();
        assert_eq!(out.value, json!({"id": "3", "n": ""}));
    }

    #[test]
    fn validate_rejects_bad_cast_spec() {
        let issue =
            Cast::new(Side::Value, &settings(&config(&[("spec", "id:bogus")]))).unwrap_err();
        assert_eq!(issue.key, "t.spec");
    }
}
