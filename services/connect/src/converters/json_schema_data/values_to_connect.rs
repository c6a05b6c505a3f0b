//! JSON document → Connect value (`JsonSchemaData.toConnectData`) with the Connect schema
//! of the writer's JSON Schema.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::converters::avro_data::DECIMAL;

/// The Connect value of a JSON document read with `schema`.
pub fn connect_value_of(schema: &Schema, json: &Value) -> Result<Value, String> {
    if json.is_null() {
        if let Some(default) = &schema.default {
            return Ok(default.clone());
        }
        if schema.optional {
            return Ok(Value::Null);
        }
        return Err(format!(
            "Invalid null value for required {} field",
            type_label(schema.schema_type)
        ));
    }
    let mismatch = |expected: &str| format!("{json} is not {expected}");
    Ok(match schema.schema_type {
        SchemaType::Boolean => Value::Bool(json.as_bool().ok_or_else(|| mismatch("a boolean"))?),
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 => {
            Value::from(json.as_i64().ok_or_else(|| mismatch("an integer"))?)
        }
        SchemaType::Float | SchemaType::Double => {
            if !json.is_number() {
                return Err(mismatch("a number"));
            }
            json.clone()
        }
        SchemaType::String => match json {
            Value::String(_) => json.clone(),
            _ => return Err(mismatch("a string")),
        },
        SchemaType::Bytes => match json {
            Value::String(_) => json.clone(),
            Value::Number(number) if schema.name.as_deref() == Some(DECIMAL) => {
                Value::from(decimal_bytes(&number.to_string(), scale_of(schema))?)
            }
            _ => return Err(mismatch("base64 bytes")),
        },
        SchemaType::Array => {
            let items = schema.items_schema()?;
            let elements = json.as_array().ok_or_else(|| mismatch("an array"))?;
            Value::Array(
                elements
                    .iter()
                    .map(|element| connect_value_of(items, element))
                    .collect::<Result<_, _>>()?,
            )
        }
        SchemaType::Map => {
            let (keys, values) = schema.map_schemas()?;
            if keys.schema_type == SchemaType::String && !keys.optional {
                let entries = json.as_object().ok_or_else(|| {
                    mismatch("an object (maps with string keys are JSON objects)")
                })?;
                Value::Object(
                    entries
                        .iter()
                        .map(|(key, entry)| Ok((key.clone(), connect_value_of(values, entry)?)))
                        .collect::<Result<_, String>>()?,
                )
            } else {
                let entries = json
                    .as_array()
                    .ok_or_else(|| mismatch("an array of entries"))?;
                let mut pairs = Vec::new();
                for entry in entries {
                    let object = entry
                        .as_object()
                        .filter(|o| o.len() == 2)
                        .ok_or_else(|| format!("Found invalid map entry {entry}"))?;
                    let key = object.get(KEY_FIELD).unwrap_or(&Value::Null);
                    let value = object.get(VALUE_FIELD).unwrap_or(&Value::Null);
                    pairs.push(json!([
                        connect_value_of(keys, key)?,
                        connect_value_of(values, value)?
                    ]));
                }
                Value::Array(pairs)
            }
        }
        SchemaType::Struct => {
            let fields = schema.fields.as_deref().unwrap_or_default();
            if schema.name.as_deref() == Some(ONE_OF) {
                let mut out = Map::new();
                let mut found = false;
                for field in fields {
                    if !found && fits(&field.schema, json) {
                        out.insert(field.field.clone(), connect_value_of(&field.schema, json)?);
                        found = true;
                    } else {
                        out.insert(field.field.clone(), Value::Null);
                    }
                }
                if !found {
                    return Err(format!(
                        "Did not find matching oneof field for data: {json}"
                    ));
                }
                return Ok(Value::Object(out));
            }
            let object = json.as_object().ok_or_else(|| mismatch("an object"))?;
            let mut out = Map::new();
            for field in fields {
                let value = match object.get(&field.field) {
                    // A property that is absent reads as null even for a required field.
                    None => field.schema.default.clone().unwrap_or(Value::Null),
                    Some(value) => connect_value_of(&field.schema, value)
                        .map_err(|error| format!("field {}: {error}", field.field))?,
                };
                out.insert(field.field.clone(), value);
            }
            Value::Object(out)
        }
    })
}

/// Whether `json` is of the union branch `schema` (Confluent's first-match rule).
fn fits(schema: &Schema, json: &Value) -> bool {
    match schema.schema_type {
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 => {
            json.is_i64() || json.is_u64()
        }
        SchemaType::Float | SchemaType::Double => json.is_number(),
        SchemaType::Boolean => json.is_boolean(),
        SchemaType::String | SchemaType::Bytes => json.is_string(),
        SchemaType::Array => json.is_array(),
        SchemaType::Map => json.is_object() || json.is_array(),
        SchemaType::Struct => json
            .as_object()
            .is_some_and(|object| object.keys().all(|key| schema.field(key).is_some())),
    }
}

fn type_label(kind: SchemaType) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_uppercase))
        .unwrap_or_default()
}

fn scale_of(schema: &Schema) -> u32 {
    schema
        .parameters
        .as_ref()
        .and_then(|p| p.get("scale"))
        .and_then(|s| {
            s.as_str()
                .and_then(|s| s.parse().ok())
                .or(s.as_u64().and_then(|s| u32::try_from(s).ok()))
        })
        .unwrap_or(0)
}

/// The base64 of the unscaled two's-complement integer of a decimal written as a JSON
/// number (`decimal.format=NUMERIC` or a producer that is not Connect), at `scale`.
pub(crate) fn decimal_bytes(text: &str, scale: u32) -> Result<String, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if digits.contains(['e', 'E']) {
        return Err(format!(
            "decimal {text} in exponent notation is not supported"
        ));
    }
    let scale = usize::try_from(scale).map_err(|_| "scale too large".to_owned())?;
    let mut fraction = fraction.to_owned();
    if fraction.len() > scale {
        return Err(format!(
            "decimal {text} has more than {scale} fraction digits"
        ));
    }
    while fraction.len() < scale {
        fraction.push('0');
    }
    let unscaled: i128 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| format!("decimal {text} does not fit 128 bits"))?;
    let unscaled = if negative { -unscaled } else { unscaled };
    Ok(BASE64.encode(minimal_twos_complement(unscaled)))
}

/// Java's `BigInteger.toByteArray` for an `i128`: big-endian, as few bytes as the sign needs.
pub(crate) fn minimal_twos_complement(value: i128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (current, next) = (bytes[start], bytes[start + 1]);
        let redundant = (current == 0 && next & 0x80 == 0) || (current == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}
