//! Connect value → Avro value (`AvroData.fromConnectData`).

#[allow(clippy::wildcard_imports)]
use super::*;

/// The Avro value of a Connect value (JSON model) for the Avro schema `schema`.
pub fn avro_value_of(
    schema: &Value,
    names: &AvroNames,
    value: &Value,
) -> Result<AvroValue, String> {
    to_avro(schema, "", names, value, "")
}

pub(super) fn to_avro(
    schema: &Value,
    namespace: &str,
    names: &AvroNames,
    value: &Value,
    path: &str,
) -> Result<AvroValue, String> {
    let (viewed, inner_namespace) = view(schema, namespace, names)?;
    let mismatch = |expected: &str| {
        let at = if path.is_empty() { "the value" } else { path };
        format!("{at} is {value}, which is not {expected}")
    };
    if let Value::Array(branches) = viewed.as_ref() {
        return union_value(branches, namespace, names, value, path);
    }
    let object = viewed
        .as_object()
        .ok_or("an Avro schema must be an object")?;
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let int = |value: &Value| value.as_i64().ok_or_else(|| mismatch("an integer"));
    Ok(match kind {
        "null" => AvroValue::Null,
        "boolean" => AvroValue::Boolean(value.as_bool().ok_or_else(|| mismatch("a boolean"))?),
        "int" => {
            let number = int(value)?;
            AvroValue::Int(i32::try_from(number).map_err(|_| mismatch("a 32-bit integer"))?)
        }
        "long" => AvroValue::Long(int(value)?),
        "float" => AvroValue::Float(value.as_f64().ok_or_else(|| mismatch("a number"))? as f32),
        "double" => AvroValue::Double(value.as_f64().ok_or_else(|| mismatch("a number"))?),
        "string" => AvroValue::String(match value {
            Value::String(text) => text.clone(),
            _ => return Err(mismatch("a string")),
        }),
        "bytes" | "fixed" => {
            let bytes = match value {
                Value::String(text) => BASE64.decode(text).map_err(|_| mismatch("base64 bytes"))?,
                _ => return Err(mismatch("base64 bytes")),
            };
            match (kind, object.get("logicalType").and_then(Value::as_str)) {
                ("fixed", Some("decimal")) | ("fixed", None) => {
                    AvroValue::Fixed(bytes.len(), bytes)
                }
                (_, Some("decimal")) => AvroValue::Decimal(apache_avro::Decimal::from(bytes)),
                _ => AvroValue::Bytes(bytes),
            }
        }
        "enum" => {
            let symbol = value.as_str().ok_or_else(|| mismatch("an enum symbol"))?;
            let symbols = object
                .get("symbols")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let index = symbols
                .iter()
                .position(|s| s == symbol)
                .ok_or_else(|| mismatch("one of the enum's symbols"))?;
            AvroValue::Enum(u32::try_from(index).unwrap_or(u32::MAX), symbol.to_owned())
        }
        "array" => {
            let items = object.get("items").ok_or("an Avro array has no items")?;
            let (item_view, item_namespace) = view(items, namespace, names)?;
            if is_map_entry(item_view.as_ref()) {
                return map_entries(item_view.as_ref(), &item_namespace, names, value, path);
            }
            let elements = value.as_array().ok_or_else(|| mismatch("an array"))?;
            AvroValue::Array(
                elements
                    .iter()
                    .enumerate()
                    .map(|(index, element)| {
                        to_avro(
                            items,
                            namespace,
                            names,
                            element,
                            &format!("{path}[{index}]"),
                        )
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        "map" => {
            let values = object.get("values").ok_or("an Avro map has no values")?;
            let entries = value.as_object().ok_or_else(|| mismatch("a map"))?;
            AvroValue::Map(
                entries
                    .iter()
                    .map(|(key, entry)| {
                        to_avro(values, namespace, names, entry, &format!("{path}.{key}"))
                            .map(|converted| (key.clone(), converted))
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        "record" | "error" => {
            let fields = value.as_object().ok_or_else(|| mismatch("a struct"))?;
            let mut record = Vec::new();
            for field in object
                .get("fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = field["name"].as_str().unwrap_or_default();
                let field_value = match fields.get(name) {
                    Some(present) => present,
                    None => field.get("default").unwrap_or(&Value::Null),
                };
                let field_path = if path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                };
                record.push((
                    name.to_owned(),
                    to_avro(
                        &field["type"],
                        &inner_namespace,
                        names,
                        field_value,
                        &field_path,
                    )?,
                ));
            }
            AvroValue::Record(record)
        }
        other => return Err(format!("unsupported Avro type {other}")),
    })
}

pub(super) fn union_value(
    branches: &[Value],
    namespace: &str,
    names: &AvroNames,
    value: &Value,
    path: &str,
) -> Result<AvroValue, String> {
    let is_null = |b: &Value| b == "null" || b["type"] == "null";
    let position = |index: usize| u32::try_from(index).unwrap_or(u32::MAX);
    if value.is_null() {
        let index = branches.iter().position(is_null).ok_or_else(|| {
            let at = if path.is_empty() { "the value" } else { path };
            format!("{at} is null but its schema is not optional")
        })?;
        return Ok(AvroValue::Union(position(index), Box::new(AvroValue::Null)));
    }
    let members: Vec<usize> = (0..branches.len())
        .filter(|i| !is_null(&branches[*i]))
        .collect();
    // Connect's union struct: the one field that is set names the branch.
    if members.len() > 1
        && let Value::Object(fields) = value
    {
        for index in &members {
            let name = union_member_name(&branches[*index], namespace, names)?;
            if let Some(member) = fields.get(&name).filter(|m| !m.is_null()) {
                let converted = to_avro(&branches[*index], namespace, names, member, path)?;
                return Ok(AvroValue::Union(position(*index), Box::new(converted)));
            }
        }
    }
    let mut last_error = String::from("no branch of the union matches");
    for index in members {
        match to_avro(&branches[index], namespace, names, value, path) {
            Ok(converted) => return Ok(AvroValue::Union(position(index), Box::new(converted))),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

pub(super) fn map_entries(
    entry: &Value,
    namespace: &str,
    names: &AvroNames,
    value: &Value,
    path: &str,
) -> Result<AvroValue, String> {
    let field_type = |name: &str| {
        entry["fields"]
            .as_array()
            .and_then(|fields| fields.iter().find(|f| f["name"] == name))
            .map(|f| f["type"].clone())
            .unwrap_or(Value::Null)
    };
    let (key_type, value_type) = (field_type("key"), field_type("value"));
    // A map with non-string keys is a list of [key, value] pairs; string keys an object.
    let pairs: Vec<(Value, Value)> = match value {
        Value::Array(pairs) => pairs
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([key, value]) => Ok((key.clone(), value.clone())),
                _ => Err(format!("{path} is not a list of [key, value] pairs")),
            })
            .collect::<Result<_, _>>()?,
        Value::Object(object) => object
            .iter()
            .map(|(key, value)| (Value::String(key.clone()), value.clone()))
            .collect(),
        other => return Err(format!("{path} is {other}, which is not a map")),
    };
    let mut records = Vec::new();
    for (key, entry_value) in pairs {
        records.push(AvroValue::Record(vec![
            (
                "key".to_owned(),
                to_avro(&key_type, namespace, names, &key, path)?,
            ),
            (
                "value".to_owned(),
                to_avro(&value_type, namespace, names, &entry_value, path)?,
            ),
        ]));
    }
    Ok(AvroValue::Array(records))
}
