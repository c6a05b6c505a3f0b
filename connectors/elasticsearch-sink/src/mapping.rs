//! `schema.ignore=false`: an explicit mapping derived from the Connect value schema, used when
//! the sink creates a missing index (Confluent's `Mapping.buildMapping`). Strings map to
//! `text` with a `keyword` sub-field, logical dates and timestamps to `date`, decimals to
//! `double`, structs and compact maps to objects, other maps to `key`/`value` entries.

use connect_api::{Schema, SchemaType};
use serde_json::{Map, Value, json};

use crate::document::is_compact;

/// The `mappings` body for a struct schema; `None` for other schemas (dynamic mapping).
/// Maps written as entry arrays (`compact.map.entries`, see [`crate::document`]) get `key`
/// and `value` properties.
pub fn mappings_of(schema: &Schema, compact_map_entries: bool) -> Option<Value> {
    if schema.schema_type != SchemaType::Struct {
        return None;
    }
    Some(json!({"properties": properties_of(schema, compact_map_entries)}))
}

fn properties_of(schema: &Schema, compact: bool) -> Value {
    let mut properties = Map::new();
    for field in schema.fields.iter().flatten() {
        properties.insert(field.field.clone(), field_mapping(&field.schema, compact));
    }
    Value::Object(properties)
}

fn field_mapping(schema: &Schema, compact: bool) -> Value {
    match schema.name.as_deref() {
        Some("org.apache.kafka.connect.data.Timestamp" | "org.apache.kafka.connect.data.Date") => {
            return json!({"type": "date"});
        }
        Some("org.apache.kafka.connect.data.Decimal") => return json!({"type": "double"}),
        Some("io.debezium.time.Timestamp" | "io.debezium.time.MicroTimestamp") => {
            return json!({"type": "long"});
        }
        _ => {}
    }
    match schema.schema_type {
        SchemaType::Boolean => json!({"type": "boolean"}),
        SchemaType::Int8 => json!({"type": "byte"}),
        SchemaType::Int16 => json!({"type": "short"}),
        SchemaType::Int32 => json!({"type": "integer"}),
        SchemaType::Int64 => json!({"type": "long"}),
        SchemaType::Float => json!({"type": "float"}),
        SchemaType::Double => json!({"type": "double"}),
        SchemaType::Bytes => json!({"type": "binary"}),
        SchemaType::String => {
            json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
        }
        SchemaType::Array => schema.items.as_deref().map_or_else(
            || json!({"type": "object"}),
            |items| field_mapping(items, compact),
        ),
        SchemaType::Map if is_compact(schema, compact) => json!({"type": "object"}),
        SchemaType::Map => {
            let side = |part: Option<&Schema>| {
                part.map_or_else(|| json!({"type": "object"}), |s| field_mapping(s, compact))
            };
            json!({"properties": {
                "key": side(schema.keys.as_deref()),
                "value": side(schema.values.as_deref()),
            }})
        }
        SchemaType::Struct => json!({"properties": properties_of(schema, compact)}),
    }
}

#[cfg(test)]
mod tests {
    use connect_api::Field;

    use super::*;

    #[test]
    fn struct_schema_becomes_properties() {
        let schema = Schema::structure(vec![
            Field::new("id", Schema::new(SchemaType::Int32)),
            Field::new("name", Schema::optional_string()),
            Field::new(
                "at",
                Schema::new(SchemaType::Int64).named("org.apache.kafka.connect.data.Timestamp"),
            ),
            Field::new(
                "inner",
                Schema::structure(vec![Field::new("ok", Schema::new(SchemaType::Boolean))]),
            ),
        ]);
        let mappings = mappings_of(&schema, true).unwrap();
        assert_eq!(mappings["properties"]["id"], json!({"type": "integer"}));
        assert_eq!(mappings["properties"]["name"]["type"], "text");
        assert_eq!(mappings["properties"]["at"], json!({"type": "date"}));
        assert_eq!(
            mappings["properties"]["inner"]["properties"]["ok"],
            json!({"type": "boolean"})
        );
        assert!(mappings_of(&Schema::optional_string(), true).is_none());
    }
}
