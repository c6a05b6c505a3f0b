//! Connect value → JSON document (`JsonSchemaData.fromConnectData`, `decimal.format=BASE64`).
//!
//! Connect values are JSON already (connect-api's model); what changes is a null replaced
//! by the schema's default, a union struct written as its one set branch, and a map with
//! non-string keys, which Connect data holds as `[key, value]` pairs and JSON Schema as
//! `{"key":…,"value":…}` objects.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The JSON document of a Connect value with `schema`.
pub fn json_value_of(schema: &Schema, value: &Value) -> Result<Value, String> {
    if value.is_null() {
        if let Some(default) = &schema.default {
            return json_value_of(schema, default);
        }
        if schema.optional {
            return Ok(Value::Null);
        }
        return Err(
            "Conversion error: null value for field that is required and has no default value"
                .into(),
        );
    }
    let mismatch = |expected: &str| format!("{value} is not {expected}");
    Ok(match schema.schema_type {
        SchemaType::Array => {
            let items = schema.items_schema()?;
            let elements = value.as_array().ok_or_else(|| mismatch("an array"))?;
            Value::Array(
                elements
                    .iter()
                    .map(|element| json_value_of(items, element))
                    .collect::<Result<_, _>>()?,
            )
        }
        SchemaType::Map => {
            let (keys, values) = schema.map_schemas()?;
            if keys.schema_type == SchemaType::String && !keys.optional {
                let entries = value.as_object().ok_or_else(|| mismatch("a map"))?;
                Value::Object(
                    entries
                        .iter()
                        .map(|(key, entry)| Ok((key.clone(), json_value_of(values, entry)?)))
                        .collect::<Result<_, String>>()?,
                )
            } else {
                Value::Array(
                    map_pairs(value)?
                        .into_iter()
                        .map(|(key, entry)| {
                            Ok(json!({KEY_FIELD: json_value_of(keys, key)?,
                                VALUE_FIELD: json_value_of(values, entry)?}))
                        })
                        .collect::<Result<_, String>>()?,
                )
            }
        }
        SchemaType::Struct => {
            let object = value.as_object().ok_or_else(|| mismatch("a struct"))?;
            let fields = schema.fields.as_deref().unwrap_or_default();
            if schema.name.as_deref() == Some(ONE_OF) {
                for field in fields {
                    if let Some(branch) = object.get(&field.field).filter(|v| !v.is_null()) {
                        return json_value_of(&field.schema, branch);
                    }
                }
                return json_value_of(schema, &Value::Null);
            }
            let mut out = Map::new();
            for field in fields {
                let field_value = object.get(&field.field).unwrap_or(&Value::Null);
                out.insert(
                    field.field.clone(),
                    json_value_of(&field.schema, field_value)
                        .map_err(|error| format!("field {}: {error}", field.field))?,
                );
            }
            Value::Object(out)
        }
        _ => value.clone(),
    })
}

/// A Connect map value with non-string keys: `[[key, value], …]` (or an object).
pub(crate) fn map_pairs(value: &Value) -> Result<Vec<(&Value, &Value)>, String> {
    match value {
        Value::Array(pairs) => pairs
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([key, entry]) => Ok((key, entry)),
                _ => Err(format!("{pair} is not a [key, value] map entry")),
            })
            .collect(),
        _ => Err(format!("{value} is not a map")),
    }
}
