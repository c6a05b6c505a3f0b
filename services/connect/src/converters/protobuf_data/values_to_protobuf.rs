//! Connect value → Protobuf message (`ProtobufData.fromConnectData`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value as Proto,
};

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::converters::avro_data::{DATE, DECIMAL, TIME, TIMESTAMP};
use crate::converters::json_schema_data::map_pairs;

/// The message `descriptor` for the Connect struct `value` with `schema`.
pub fn protobuf_message_of(
    descriptor: &MessageDescriptor,
    schema: &Schema,
    value: &Value,
) -> Result<DynamicMessage, String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("{value} is not a struct"))?;
    let mut message = DynamicMessage::new(descriptor.clone());
    for field in schema.fields.as_deref().unwrap_or_default() {
        let field_value = match object.get(&field.field) {
            None | Some(Value::Null) => match &field.schema.default {
                Some(default) => default,
                None => continue,
            },
            Some(value) => value,
        };
        let target = descriptor
            .get_field_by_name(&field.field)
            .ok_or_else(|| format!("Cannot find field with name {}", field.field))?;
        let converted = field_value_of(&target, &field.schema, field_value)
            .map_err(|error| format!("field {}: {error}", field.field))?;
        if let Some(converted) = converted {
            message.set_field(&target, converted);
        }
    }
    Ok(message)
}

/// `None` for an empty array (Confluent writes nothing for it).
fn field_value_of(
    field: &FieldDescriptor,
    schema: &Schema,
    value: &Value,
) -> Result<Option<Proto>, String> {
    match schema.schema_type {
        SchemaType::Array => {
            let items = schema.items_schema()?;
            let elements = value
                .as_array()
                .ok_or_else(|| format!("{value} is not an array"))?;
            if elements.is_empty() {
                return Ok(None);
            }
            let converted = elements
                .iter()
                .map(|element| single_of(&field.kind(), items, element))
                .collect::<Result<_, _>>()?;
            Ok(Some(Proto::List(converted)))
        }
        SchemaType::Map => {
            let (keys, values) = schema.map_schemas()?;
            let pairs: Vec<(Value, &Value)> = match value {
                Value::Object(entries) => entries
                    .iter()
                    .map(|(key, entry)| (Value::from(key.as_str()), entry))
                    .collect(),
                other => map_pairs(other)?
                    .into_iter()
                    .map(|(key, entry)| (key.clone(), entry))
                    .collect(),
            };
            let Kind::Message(entry) = field.kind() else {
                return Err("a map field is not a message".into());
            };
            let key_field = entry.get_field(1).ok_or("a map entry has no key")?;
            let value_field = entry.get_field(2).ok_or("a map entry has no value")?;
            if field.is_map() {
                let mut map = std::collections::HashMap::new();
                for (key, entry_value) in &pairs {
                    let key = map_key(single_of(&key_field.kind(), keys, key)?)?;
                    map.insert(key, single_of(&value_field.kind(), values, entry_value)?);
                }
                return Ok(Some(Proto::Map(map)));
            }
            let mut list = Vec::new();
            for (key, entry_value) in &pairs {
                let mut message = DynamicMessage::new(entry.clone());
                if !key.is_null() {
                    message.set_field(&key_field, single_of(&key_field.kind(), keys, key)?);
                }
                if !entry_value.is_null() {
                    message.set_field(
                        &value_field,
                        single_of(&value_field.kind(), values, entry_value)?,
                    );
                }
                list.push(Proto::Message(message));
            }
            Ok(Some(Proto::List(list)))
        }
        _ => single_of(&field.kind(), schema, value).map(Some),
    }
}

fn map_key(value: Proto) -> Result<MapKey, String> {
    Ok(match value {
        Proto::Bool(v) => MapKey::Bool(v),
        Proto::I32(v) => MapKey::I32(v),
        Proto::I64(v) => MapKey::I64(v),
        Proto::U32(v) => MapKey::U32(v),
        Proto::U64(v) => MapKey::U64(v),
        Proto::String(v) => MapKey::String(v),
        other => return Err(format!("{other:?} cannot be a map key")),
    })
}

fn single_of(kind: &Kind, schema: &Schema, value: &Value) -> Result<Proto, String> {
    let mismatch = |expected: &str| format!("{value} is not {expected}");
    let integer = || value.as_i64().ok_or_else(|| mismatch("an integer"));
    if let Kind::Message(message) = kind {
        return message_value_of(message, schema, value);
    }
    Ok(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Proto::I32(i32::try_from(integer()?).map_err(|_| mismatch("a 32-bit integer"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Proto::I64(integer()?),
        Kind::Uint32 | Kind::Fixed32 => Proto::U32(
            u32::try_from(integer()?).map_err(|_| mismatch("an unsigned 32-bit integer"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Proto::U64(
            value
                .as_u64()
                .ok_or_else(|| mismatch("an unsigned integer"))?,
        ),
        Kind::Float => Proto::F32(value.as_f64().ok_or_else(|| mismatch("a number"))? as f32),
        Kind::Double => Proto::F64(value.as_f64().ok_or_else(|| mismatch("a number"))?),
        Kind::Bool => Proto::Bool(value.as_bool().ok_or_else(|| mismatch("a boolean"))?),
        Kind::String => Proto::String(
            value
                .as_str()
                .ok_or_else(|| mismatch("a string"))?
                .to_owned(),
        ),
        Kind::Bytes => Proto::Bytes(
            BASE64
                .decode(value.as_str().ok_or_else(|| mismatch("base64 bytes"))?)
                .map_err(|_| mismatch("base64 bytes"))?
                .into(),
        ),
        Kind::Enum(enumeration) => match value {
            Value::String(symbol) => Proto::EnumNumber(
                enumeration
                    .get_value_by_name(symbol)
                    .ok_or_else(|| mismatch("one of the enum's symbols"))?
                    .number(),
            ),
            _ => Proto::EnumNumber(
                i32::try_from(integer()?).map_err(|_| mismatch("an enum number"))?,
            ),
        },
        Kind::Message(_) => return Err("unreachable".into()),
    })
}

/// A message-typed value: Connect's logical types, Google's wrappers, or a struct.
fn message_value_of(
    message: &MessageDescriptor,
    schema: &Schema,
    value: &Value,
) -> Result<Proto, String> {
    let mismatch = |expected: &str| format!("{value} is not {expected}");
    let mut out = DynamicMessage::new(message.clone());
    let mut set = |name: &str, field_value: Proto| -> Result<(), String> {
        let field = message
            .get_field_by_name(name)
            .ok_or_else(|| format!("{} has no field {name}", message.full_name()))?;
        out.set_field(&field, field_value);
        Ok(())
    };
    match (message.full_name(), schema.name.as_deref()) {
        (DECIMAL_TYPE, Some(DECIMAL)) => {
            let bytes = BASE64
                .decode(
                    value
                        .as_str()
                        .ok_or_else(|| mismatch("base64 decimal bytes"))?,
                )
                .map_err(|_| mismatch("base64 decimal bytes"))?;
            let scale = schema
                .parameters
                .as_ref()
                .and_then(|p| p.get("scale"))
                .and_then(|s| {
                    s.as_str()
                        .and_then(|s| s.parse::<i32>().ok())
                        .or(s.as_i64().and_then(|s| i32::try_from(s).ok()))
                })
                .unwrap_or(0);
            set("precision", Proto::U32(decimal_precision(&bytes)))?;
            set("scale", Proto::I32(scale))?;
            set("value", Proto::Bytes(bytes.into()))?;
        }
        (DATE_TYPE, Some(DATE)) => {
            let days = value.as_i64().ok_or_else(|| mismatch("a number of days"))?;
            let (year, month, day) = civil_from_days(days);
            set(
                "year",
                Proto::I32(i32::try_from(year).map_err(|_| mismatch("a date"))?),
            )?;
            set("month", Proto::I32(month as i32))?;
            set("day", Proto::I32(day as i32))?;
        }
        (TIME_TYPE, Some(TIME)) => {
            let millis = value
                .as_i64()
                .ok_or_else(|| mismatch("milliseconds of a day"))?;
            if !(0..=86_400_000).contains(&millis) {
                return Err(
                    "Time values must use number of millis greater than 0 and less than 86400000"
                        .into(),
                );
            }
            set("hours", Proto::I32((millis / 3_600_000) as i32))?;
            set("minutes", Proto::I32((millis / 60_000 % 60) as i32))?;
            set("seconds", Proto::I32((millis / 1000 % 60) as i32))?;
            set("nanos", Proto::I32((millis % 1000 * 1_000_000) as i32))?;
        }
        (TIMESTAMP_TYPE, Some(TIMESTAMP)) => {
            let millis = value
                .as_i64()
                .ok_or_else(|| mismatch("epoch milliseconds"))?;
            set("seconds", Proto::I64(millis.div_euclid(1000)))?;
            set(
                "nanos",
                Proto::I32((millis.rem_euclid(1000) * 1_000_000) as i32),
            )?;
        }
        (wrapper, _) if wrapper.starts_with("google.protobuf.") && wrapper.ends_with("Value") => {
            let inner = message
                .get_field_by_name("value")
                .ok_or("a wrapper has no value")?;
            set("value", single_of(&inner.kind(), schema, value)?)?;
        }
        _ => return protobuf_message_of(message, schema, value).map(Proto::Message),
    }
    Ok(Proto::Message(out))
}

/// `BigDecimal.precision()` of an unscaled two's-complement integer: its decimal digits.
fn decimal_precision(bytes: &[u8]) -> u32 {
    if bytes.is_empty() || bytes.len() > 16 {
        return 0;
    }
    let mut buffer = if bytes[0] & 0x80 != 0 {
        [0xff; 16]
    } else {
        [0; 16]
    };
    buffer[16 - bytes.len()..].copy_from_slice(bytes);
    let unscaled = i128::from_be_bytes(buffer).unsigned_abs();
    if unscaled == 0 {
        1
    } else {
        unscaled.ilog10() + 1
    }
}
