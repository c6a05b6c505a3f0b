//! Avro value → Connect value (`AvroData.toConnectData`).

#[allow(clippy::wildcard_imports)]
use super::*;

/// The Connect value (JSON model) of a decoded Avro value written with `schema`.
pub fn connect_value_of(
    schema: &Value,
    names: &AvroNames,
    value: &AvroValue,
) -> Result<Value, String> {
    to_connect(schema, "", names, value)
}

pub(super) fn to_connect(
    schema: &Value,
    namespace: &str,
    names: &AvroNames,
    value: &AvroValue,
) -> Result<Value, String> {
    let (viewed, inner_namespace) = view(schema, namespace, names)?;
    if let Value::Array(branches) = viewed.as_ref() {
        let AvroValue::Union(index, inner) = value else {
            return Err("a union value was expected".into());
        };
        let index = usize::try_from(*index).unwrap_or(usize::MAX);
        let branch = branches.get(index).ok_or("union index out of range")?;
        let converted = to_connect(branch, namespace, names, inner)?;
        let is_null = |b: &Value| b == "null" || b["type"] == "null";
        let members = branches.iter().filter(|b| !is_null(b)).count();
        if members > 1 && !converted.is_null() {
            let name = union_member_name(branch, namespace, names)?;
            let mut object = Map::new();
            for other in branches.iter().filter(|b| !is_null(b)) {
                object.insert(union_member_name(other, namespace, names)?, Value::Null);
            }
            object.insert(name, converted);
            return Ok(Value::Object(object));
        }
        return Ok(converted);
    }
    let items_view = viewed
        .get("items")
        .map(|items| view(items, namespace, names))
        .transpose()?;
    Ok(match value {
        AvroValue::Null => Value::Null,
        AvroValue::Boolean(b) => Value::Bool(*b),
        AvroValue::Int(i) | AvroValue::Date(i) | AvroValue::TimeMillis(i) => Value::from(*i),
        AvroValue::Long(l)
        | AvroValue::TimestampMillis(l)
        | AvroValue::TimestampMicros(l)
        | AvroValue::TimeMicros(l)
        | AvroValue::LocalTimestampMillis(l)
        | AvroValue::LocalTimestampMicros(l) => Value::from(*l),
        AvroValue::Float(f) => Value::from(f64::from(*f)),
        AvroValue::Double(d) => Value::from(*d),
        AvroValue::String(s) | AvroValue::Enum(_, s) => Value::String(s.clone()),
        AvroValue::Uuid(uuid) => Value::String(uuid.to_string()),
        AvroValue::Bytes(bytes) | AvroValue::Fixed(_, bytes) => Value::String(BASE64.encode(bytes)),
        AvroValue::Decimal(decimal) => {
            let bytes = Vec::<u8>::try_from(decimal).map_err(|error| error.to_string())?;
            Value::String(BASE64.encode(bytes))
        }
        AvroValue::Array(elements) => {
            let items = viewed.get("items").cloned().unwrap_or(Value::Null);
            match items_view {
                Some((entry, entry_namespace)) if is_map_entry(entry.as_ref()) => {
                    map_from_entries(entry.as_ref(), &entry_namespace, names, elements)?
                }
                _ => Value::Array(
                    elements
                        .iter()
                        .map(|element| to_connect(&items, namespace, names, element))
                        .collect::<Result<_, _>>()?,
                ),
            }
        }
        AvroValue::Map(entries) => {
            let values = viewed.get("values").cloned().unwrap_or(Value::Null);
            let mut object = Map::new();
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            for key in keys {
                object.insert(
                    key.clone(),
                    to_connect(&values, namespace, names, &entries[key])?,
                );
            }
            Value::Object(object)
        }
        AvroValue::Record(fields) => {
            let field_schemas = viewed
                .get("fields")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut object = Map::new();
            for (name, field_value) in fields {
                let field_type = field_schemas
                    .iter()
                    .find(|f| f["name"] == name.as_str())
                    .map(|f| f["type"].clone())
                    .ok_or_else(|| format!("the record has no field {name}"))?;
                object.insert(
                    name.clone(),
                    to_connect(&field_type, &inner_namespace, names, field_value)?,
                );
            }
            Value::Object(object)
        }
        AvroValue::Union(_, inner) => to_connect(schema, namespace, names, inner)?,
        other => return Err(format!("unsupported Avro value {other:?}")),
    })
}

pub(super) fn map_from_entries(
    entry: &Value,
    namespace: &str,
    names: &AvroNames,
    elements: &[AvroValue],
) -> Result<Value, String> {
    let field_type = |name: &str| {
        entry["fields"]
            .as_array()
            .and_then(|fields| fields.iter().find(|f| f["name"] == name))
            .map(|f| f["type"].clone())
            .unwrap_or(Value::Null)
    };
    let (key_type, value_type) = (field_type("key"), field_type("value"));
    let mut pairs = Vec::new();
    for element in elements {
        let AvroValue::Record(fields) = element else {
            return Err("a map entry must be a record".into());
        };
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .unwrap_or(&AvroValue::Null)
        };
        pairs.push(json!([
            to_connect(&key_type, namespace, names, get("key"))?,
            to_connect(&value_type, namespace, names, get("value"))?
        ]));
    }
    Ok(Value::Array(pairs))
}
