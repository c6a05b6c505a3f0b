//! Schemaful values → the JSON Confluent's `DataConverter` writes for them (with
//! `schema.ignore=false`): maps follow `compact.map.entries`.
//!
//! JsonConverter carries a map with string keys as a JSON object and any other map as an
//! array of `[key, value]` pairs. Confluent writes a string-keyed map as an object when
//! `compact.map.entries=true` (the default), otherwise — and always for other keys — as an
//! array of `{"key": …, "value": …}` documents, so that the keys become searchable values
//! instead of field names. Values without a map anywhere in their schema pass untouched.

use std::borrow::Cow;

use connect_api::{Schema, SchemaType};
use serde_json::{Map, Value};

/// The field names of a map entry document.
const MAP_KEY: &str = "key";
const MAP_VALUE: &str = "value";

/// `value` as a document body, given its Connect `schema`.
pub fn document_of<'a>(
    value: &'a Value,
    schema: Option<&Schema>,
    compact_map_entries: bool,
) -> Cow<'a, Value> {
    match schema {
        Some(schema) if contains_map(schema) => {
            Cow::Owned(convert(value, schema, compact_map_entries))
        }
        _ => Cow::Borrowed(value),
    }
}

/// Whether a map with string keys in `schema` is written as an object.
pub fn is_compact(map_schema: &Schema, compact_map_entries: bool) -> bool {
    compact_map_entries
        && map_schema
            .keys
            .as_deref()
            .is_none_or(|keys| keys.schema_type == SchemaType::String)
}

fn contains_map(schema: &Schema) -> bool {
    match schema.schema_type {
        SchemaType::Map => true,
        SchemaType::Array => schema.items.as_deref().is_some_and(contains_map),
        SchemaType::Struct => schema
            .fields
            .iter()
            .flatten()
            .any(|field| contains_map(&field.schema)),
        _ => false,
    }
}

fn convert(value: &Value, schema: &Schema, compact: bool) -> Value {
    match (schema.schema_type, value) {
        (SchemaType::Struct, Value::Object(fields)) => {
            let mut out = Map::with_capacity(fields.len());
            for (name, field_value) in fields {
                let converted = match schema.field(name) {
                    Some(field) => convert(field_value, &field.schema, compact),
                    None => field_value.clone(),
                };
                out.insert(name.clone(), converted);
            }
            Value::Object(out)
        }
        (SchemaType::Array, Value::Array(items)) => match schema.items.as_deref() {
            Some(item_schema) => Value::Array(
                items
                    .iter()
                    .map(|item| convert(item, item_schema, compact))
                    .collect(),
            ),
            None => value.clone(),
        },
        (SchemaType::Map, _) => convert_map(value, schema, compact),
        _ => value.clone(),
    }
}

fn convert_map(value: &Value, schema: &Schema, compact: bool) -> Value {
    let convert_value = |entry: &Value| match schema.values.as_deref() {
        Some(values) => convert(entry, values, compact),
        None => entry.clone(),
    };
    let convert_key = |key: &Value| match schema.keys.as_deref() {
        Some(keys) => convert(key, keys, compact),
        None => key.clone(),
    };
    match value {
        Value::Object(entries) if is_compact(schema, compact) => Value::Object(
            entries
                .iter()
                .map(|(key, entry)| (key.clone(), convert_value(entry)))
                .collect(),
        ),
        Value::Object(entries) => Value::Array(
            entries
                .iter()
                .map(|(key, entry)| {
                    entry_document(Value::String(key.clone()), convert_value(entry))
                })
                .collect(),
        ),
        // JsonConverter's form of a map whose keys are not strings: `[[key, value], …]`.
        Value::Array(pairs) => Value::Array(
            pairs
                .iter()
                .map(|pair| match pair.as_array().map(Vec::as_slice) {
                    Some([key, entry]) => entry_document(convert_key(key), convert_value(entry)),
                    _ => pair.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn entry_document(key: Value, value: Value) -> Value {
    let mut entry = Map::with_capacity(2);
    entry.insert(MAP_KEY.to_owned(), key);
    entry.insert(MAP_VALUE.to_owned(), value);
    Value::Object(entry)
}

#[cfg(test)]
mod tests {
    use connect_api::Field;
    use serde_json::json;

    use super::*;

    fn map_schema(keys: SchemaType, values: Schema) -> Schema {
        Schema {
            keys: Some(Box::new(Schema::new(keys))),
            values: Some(Box::new(values)),
            ..Schema::new(SchemaType::Map)
        }
    }

    fn value_schema() -> Schema {
        Schema::structure(vec![
            Field::new("id", Schema::new(SchemaType::Int32)),
            Field::new(
                "tags",
                map_schema(SchemaType::String, Schema::new(SchemaType::Int32)),
            ),
            Field::new(
                "by_code",
                map_schema(SchemaType::Int32, Schema::optional_string()),
            ),
        ])
    }

    fn value() -> Value {
        json!({"id": 1, "tags": {"a": 1}, "by_code": [[7, "seven"]]})
    }

    #[test]
    fn compact_maps_stay_objects_and_other_keys_become_entries() {
        let input = value();
        let document = document_of(&input, Some(&value_schema()), true);
        assert_eq!(
            *document,
            json!({"id": 1, "tags": {"a": 1}, "by_code": [{"key": 7, "value": "seven"}]})
        );
    }

    #[test]
    fn non_compact_string_maps_become_entries() {
        let input = value();
        let document = document_of(&input, Some(&value_schema()), false);
        assert_eq!(
            *document,
            json!({"id": 1, "tags": [{"key": "a", "value": 1}], "by_code": [{"key": 7, "value": "seven"}]})
        );
    }

    #[test]
    fn nested_maps_in_arrays_and_map_values_are_converted() {
        let inner = map_schema(SchemaType::String, Schema::new(SchemaType::Int32));
        let schema = Schema::structure(vec![Field::new(
            "list",
            Schema {
                items: Some(Box::new(map_schema(SchemaType::String, inner))),
                ..Schema::new(SchemaType::Array)
            },
        )]);
        let value = json!({"list": [{"outer": {"x": 1}}]});
        assert_eq!(
            *document_of(&value, Some(&schema), false),
            json!({"list": [[{"key": "outer", "value": [{"key": "x", "value": 1}]}]]})
        );
    }

    #[test]
    fn values_without_maps_are_borrowed() {
        let schema = Schema::structure(vec![Field::new("id", Schema::new(SchemaType::Int32))]);
        let value = json!({"id": 1});
        assert!(matches!(
            document_of(&value, Some(&schema), false),
            Cow::Borrowed(_)
        ));
        assert!(matches!(document_of(&value, None, false), Cow::Borrowed(_)));
    }
}
