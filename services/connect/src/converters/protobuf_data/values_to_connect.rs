//! Protobuf message → Connect value (`ProtobufData.toConnectData`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use prost_reflect::{DynamicMessage, MapKey, ReflectMessage, Value as Proto};
use serde_json::{Map, json};

use super::schema_to_connect::union_field_name;
#[allow(clippy::wildcard_imports)]
use super::*;
use crate::converters::avro_data::{DATE, DECIMAL, TIME, TIMESTAMP};
use crate::converters::json_schema_data::minimal_twos_complement;

/// The Connect struct of `message`, read with the Connect schema of its descriptor.
pub fn connect_value_of(message: &DynamicMessage, schema: &Schema) -> Result<Value, String> {
    let descriptor = message.descriptor();
    let mut out = Map::new();
    for oneof in descriptor.oneofs().filter(|o| !o.is_synthetic()) {
        let name = union_field_name(&oneof);
        let union_schema = schema.field(&name).map(|f| &f.schema);
        let mut union = Map::new();
        for field in oneof.fields() {
            if message.has_field(&field)
                && let Some(branch) = union_schema.and_then(|s| s.field(field.name()))
            {
                union.insert(
                    field.name().to_owned(),
                    value_of(&message.get_field(&field), &branch.schema)?,
                );
            }
        }
        out.insert(
            name,
            if union.is_empty() {
                Value::Null
            } else {
                Value::Object(union)
            },
        );
    }
    for field in descriptor.fields() {
        if field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
            continue;
        }
        let Some(field_schema) = schema.field(field.name()) else {
            continue;
        };
        // Scalars and lists read as their proto3 default; a message field or a proto3
        // `optional` scalar that is absent reads as null.
        let absent = !message.has_field(&field)
            && ((matches!(field.kind(), prost_reflect::Kind::Message(_))
                && !field.is_list()
                && !field.is_map())
                || field.containing_oneof().is_some());
        let value = if absent {
            Value::Null
        } else {
            value_of(&message.get_field(&field), &field_schema.schema)
                .map_err(|error| format!("field {}: {error}", field.name()))?
        };
        out.insert(field.name().to_owned(), value);
    }
    Ok(Value::Object(out))
}

fn value_of(value: &Proto, schema: &Schema) -> Result<Value, String> {
    Ok(match value {
        Proto::Bool(v) => Value::Bool(*v),
        Proto::I32(v) => Value::from(*v),
        Proto::I64(v) => Value::from(*v),
        Proto::U32(v) => Value::from(*v),
        Proto::U64(v) => Value::from(*v),
        Proto::F32(v) => json!(f64::from(*v)),
        Proto::F64(v) => json!(*v),
        Proto::String(v) => Value::from(v.as_str()),
        Proto::Bytes(v) => Value::from(BASE64.encode(v)),
        Proto::EnumNumber(number) => match schema.schema_type {
            SchemaType::String => {
                let symbol = schema.parameters.as_ref().and_then(|parameters| {
                    parameters.iter().find_map(|(key, tag)| {
                        let symbol = key.strip_prefix(PROTOBUF_ENUM)?.strip_prefix('.')?;
                        (tag.as_str() == Some(number.to_string().as_str())).then_some(symbol)
                    })
                });
                Value::from(symbol.map_or_else(|| number.to_string(), str::to_owned))
            }
            _ => Value::from(*number),
        },
        Proto::Message(message) => message_value_of(message, schema)?,
        Proto::List(items) => match schema.schema_type {
            SchemaType::Map => map_value_of(
                items.iter().map(|item| match item {
                    Proto::Message(entry) => {
                        Ok((entry.get_field_by_number(1), entry.get_field_by_number(2)))
                    }
                    _ => Err("a map entry is not a message".to_owned()),
                }),
                schema,
            )?,
            _ => {
                let element = schema.items_schema()?;
                Value::Array(
                    items
                        .iter()
                        .map(|item| value_of(item, element))
                        .collect::<Result<_, _>>()?,
                )
            }
        },
        Proto::Map(entries) => map_value_of(
            entries.iter().map(|(key, value)| {
                Ok((
                    Some(std::borrow::Cow::Owned(map_key_value(key))),
                    Some(std::borrow::Cow::Borrowed(value)),
                ))
            }),
            schema,
        )?,
    })
}

fn map_key_value(key: &MapKey) -> Proto {
    match key {
        MapKey::Bool(v) => Proto::Bool(*v),
        MapKey::I32(v) => Proto::I32(*v),
        MapKey::I64(v) => Proto::I64(*v),
        MapKey::U32(v) => Proto::U32(*v),
        MapKey::U64(v) => Proto::U64(*v),
        MapKey::String(v) => Proto::String(v.clone()),
    }
}

type Entry<'a> = (
    Option<std::borrow::Cow<'a, Proto>>,
    Option<std::borrow::Cow<'a, Proto>>,
);

fn map_value_of<'a>(
    entries: impl Iterator<Item = Result<Entry<'a>, String>>,
    schema: &Schema,
) -> Result<Value, String> {
    let (keys, values) = schema.map_schemas()?;
    let string_keys = keys.schema_type == SchemaType::String;
    let mut object = Map::new();
    let mut pairs = Vec::new();
    for entry in entries {
        let (key, value) = entry?;
        let key = key.map_or(Ok(Value::Null), |k| value_of(&k, keys))?;
        let value = value.map_or(Ok(Value::Null), |v| value_of(&v, values))?;
        match (string_keys, key) {
            (true, Value::String(key)) => {
                object.insert(key, value);
            }
            (_, key) => pairs.push(json!([key, value])),
        }
    }
    Ok(if string_keys {
        Value::Object(object)
    } else {
        Value::Array(pairs)
    })
}

fn message_value_of(message: &DynamicMessage, schema: &Schema) -> Result<Value, String> {
    let descriptor = message.descriptor();
    let number = |name: &str| -> i64 {
        match message.get_field_by_name(name).as_deref() {
            Some(Proto::I32(v)) => i64::from(*v),
            Some(Proto::I64(v)) => *v,
            Some(Proto::U32(v)) => i64::from(*v),
            _ => 0,
        }
    };
    Ok(match (descriptor.full_name(), schema.name.as_deref()) {
        (DECIMAL_TYPE, Some(DECIMAL)) => {
            let bytes = match message.get_field_by_name("value").as_deref() {
                Some(Proto::Bytes(bytes)) => bytes.to_vec(),
                _ => Vec::new(),
            };
            let target_scale = schema
                .parameters
                .as_ref()
                .and_then(|p| p.get("scale"))
                .and_then(|s| s.as_str().and_then(|s| s.parse::<i64>().ok()))
                .unwrap_or(0);
            Value::from(BASE64.encode(rescale(&bytes, number("scale"), target_scale)?))
        }
        (DATE_TYPE, Some(DATE)) => {
            let (year, month, day) = (number("year"), number("month"), number("day"));
            let month = u32::try_from(month).map_err(|_| format!("invalid month {month}"))?;
            let day = u32::try_from(day).map_err(|_| format!("invalid day {day}"))?;
            Value::from(days_from_civil(year, month, day))
        }
        (TIME_TYPE, Some(TIME)) => Value::from(
            number("hours") * 3_600_000
                + number("minutes") * 60_000
                + number("seconds") * 1000
                + number("nanos") / 1_000_000,
        ),
        (TIMESTAMP_TYPE, Some(TIMESTAMP)) => {
            Value::from(number("seconds") * 1000 + number("nanos").div_euclid(1_000_000))
        }
        (wrapper, _)
            if wrapper.starts_with("google.protobuf.")
                && wrapper.ends_with("Value")
                && schema.schema_type != SchemaType::Struct =>
        {
            match message.get_field_by_name("value") {
                Some(inner) => value_of(&inner, schema)?,
                None => Value::Null,
            }
        }
        _ => connect_value_of(message, schema)?,
    })
}

/// The unscaled bytes of a decimal at `from` scale, rescaled to `to` (Connect's Decimal
/// schema has one scale; a message may carry another).
fn rescale(bytes: &[u8], from: i64, to: i64) -> Result<Vec<u8>, String> {
    if from == to || bytes.is_empty() {
        return Ok(bytes.to_vec());
    }
    if bytes.len() > 16 {
        return Err("a decimal wider than 128 bits cannot be rescaled".into());
    }
    let mut buffer = if bytes[0] & 0x80 != 0 {
        [0xff; 16]
    } else {
        [0; 16]
    };
    buffer[16 - bytes.len()..].copy_from_slice(bytes);
    let mut unscaled = i128::from_be_bytes(buffer);
    let power = |n: i64| 10_i128.checked_pow(u32::try_from(n.unsigned_abs()).unwrap_or(u32::MAX));
    if to > from {
        unscaled = power(to - from)
            .and_then(|p| unscaled.checked_mul(p))
            .ok_or("a decimal overflows when rescaled")?;
    } else {
        unscaled /= power(from - to).ok_or("a decimal overflows when rescaled")?;
    }
    Ok(minimal_twos_complement(unscaled))
}
