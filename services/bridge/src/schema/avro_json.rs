//! Avro values in Avro's JSON encoding, the way Confluent REST Proxy reads and writes them
//! (`AvroSchemaUtils`, Avro's `JsonDecoder` / `JsonEncoder`):
//!
//! - a union that is not null is an object with one member named by the branch: the full
//!   name of a named type, else the type's name (`{"string": "x"}`, `{"com.x.Y": {…}}`),
//! - `bytes` and `fixed` are strings whose characters are the bytes (ISO-8859-1),
//! - an enum is its symbol, a record an object of its fields (a missing field takes its
//!   default), logical types are their underlying type (a `timestamp-millis` is a number).
//!
//! Why our own code: `apache-avro` converts JSON to its values without a schema (so a
//! union or a byte string cannot be told apart), and has no JSON encoding of a datum.

use std::collections::HashMap;
use std::fmt::Write as _;

use apache_avro::Schema;
use apache_avro::schema::{InnerDecimalSchema, UnionSchema, UuidSchema};
use apache_avro::types::Value as AvroValue;
use serde_json::{Number, Value};

use crate::json_text::push_json_string;

/// Named types by full name, to follow `Schema::Ref`s.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names(HashMap<String, Schema>);

impl Names {
    /// The named types declared in `schemata` (a schema and those it references).
    pub(crate) fn of<'a>(schemata: impl IntoIterator<Item = &'a Schema>) -> Self {
        let mut names = HashMap::new();
        for schema in schemata {
            collect(schema, &mut names);
        }
        Self(names)
    }

    fn resolve<'a>(&'a self, schema: &'a Schema) -> Result<&'a Schema, String> {
        match schema {
            Schema::Ref { name } => {
                let full = name.fullname(None);
                self.0
                    .get(&full)
                    .ok_or_else(|| format!("the schema names the unknown type {full}"))
            }
            other => Ok(other),
        }
    }
}

fn collect(schema: &Schema, names: &mut HashMap<String, Schema>) {
    match schema {
        Schema::Record(record) => {
            names.insert(record.name.fullname(None), schema.clone());
            for field in &record.fields {
                collect(&field.schema, names);
            }
        }
        Schema::Enum(inner) => {
            names.insert(inner.name.fullname(None), schema.clone());
        }
        Schema::Fixed(inner) => {
            names.insert(inner.name.fullname(None), schema.clone());
        }
        Schema::Array(array) => collect(&array.items, names),
        Schema::Map(map) => collect(&map.types, names),
        Schema::Union(union) => {
            for variant in union.variants() {
                collect(variant, names);
            }
        }
        _ => {}
    }
}

/// The name a union branch has in the JSON encoding.
fn branch_name(schema: &Schema) -> String {
    match schema {
        Schema::Null => "null".into(),
        Schema::Boolean => "boolean".into(),
        Schema::Int | Schema::Date | Schema::TimeMillis => "int".into(),
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => "long".into(),
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::Bytes | Schema::BigDecimal => "bytes".into(),
        Schema::String => "string".into(),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        Schema::Union(_) => "union".into(),
        Schema::Record(record) => record.name.fullname(None),
        Schema::Enum(inner) => inner.name.fullname(None),
        Schema::Fixed(inner) | Schema::Duration(inner) => inner.name.fullname(None),
        Schema::Decimal(decimal) => match &decimal.inner {
            InnerDecimalSchema::Bytes => "bytes".into(),
            InnerDecimalSchema::Fixed(fixed) => fixed.name.fullname(None),
        },
        Schema::Uuid(UuidSchema::String) => "string".into(),
        Schema::Uuid(UuidSchema::Bytes) => "bytes".into(),
        Schema::Uuid(UuidSchema::Fixed(fixed)) => fixed.name.fullname(None),
        Schema::Ref { name } => name.fullname(None),
    }
}

/// A JSON value in Avro's JSON encoding turned into the Avro value of `schema`; the error
/// names the path and what was expected.
pub(crate) fn from_json(json: &Value, schema: &Schema, names: &Names) -> Result<AvroValue, String> {
    convert_in(json, schema, names, "$")
}

fn mismatch(path: &str, expected: &str, json: &Value) -> String {
    let mut shown = json.to_string();
    if shown.len() > 80 {
        let cut = (0..=80)
            .rev()
            .find(|i| shown.is_char_boundary(*i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    format!("{path}: expected {expected}, got {shown}")
}

fn latin1(text: &str, path: &str) -> Result<Vec<u8>, String> {
    text.chars()
        .map(|c| {
            u8::try_from(u32::from(c))
                .map_err(|_| format!("{path}: bytes are written as characters U+0000 to U+00FF"))
        })
        .collect()
}

fn int(json: &Value, path: &str, expected: &str) -> Result<i32, String> {
    json.as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| mismatch(path, expected, json))
}

fn long(json: &Value, path: &str, expected: &str) -> Result<i64, String> {
    json.as_i64().ok_or_else(|| mismatch(path, expected, json))
}

fn convert_in(
    json: &Value,
    schema: &Schema,
    names: &Names,
    path: &str,
) -> Result<AvroValue, String> {
    let schema = names.resolve(schema)?;
    Ok(match schema {
        Schema::Null if json.is_null() => AvroValue::Null,
        Schema::Null => return Err(mismatch(path, "null", json)),
        Schema::Boolean => AvroValue::Boolean(
            json.as_bool()
                .ok_or_else(|| mismatch(path, "a boolean", json))?,
        ),
        Schema::Int => AvroValue::Int(int(json, path, "an int")?),
        Schema::Long => AvroValue::Long(long(json, path, "a long")?),
        // Avro's JSON decoder narrows a double to a float the same way.
        #[allow(clippy::cast_possible_truncation)]
        Schema::Float => AvroValue::Float(
            json.as_f64()
                .ok_or_else(|| mismatch(path, "a float", json))? as f32,
        ),
        Schema::Double => AvroValue::Double(
            json.as_f64()
                .ok_or_else(|| mismatch(path, "a double", json))?,
        ),
        Schema::Bytes => AvroValue::Bytes(latin1(string(json, path, "bytes")?, path)?),
        Schema::String => AvroValue::String(string(json, path, "a string")?.to_owned()),
        Schema::Array(array) => {
            let items = json
                .as_array()
                .ok_or_else(|| mismatch(path, "an array", json))?;
            AvroValue::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| convert_in(item, &array.items, names, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Schema::Map(map) => {
            let object = json
                .as_object()
                .ok_or_else(|| mismatch(path, "an object (map)", json))?;
            AvroValue::Map(
                object
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            convert_in(v, &map.types, names, &format!("{path}.{k}"))?,
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            )
        }
        Schema::Union(union) => union_in(json, union, names, path)?,
        Schema::Record(record) => {
            let object = json
                .as_object()
                .ok_or_else(|| mismatch(path, &format!("a {} record", record.name), json))?;
            if let Some(unknown) = object.keys().find(|k| !record.lookup.contains_key(*k)) {
                return Err(format!(
                    "{path}: {} has no field {unknown}",
                    record.name.fullname(None)
                ));
            }
            let mut fields = Vec::with_capacity(record.fields.len());
            for field in &record.fields {
                let field_path = format!("{path}.{}", field.name);
                let value = match (object.get(&field.name), &field.default) {
                    (Some(value), _) => convert_in(value, &field.schema, names, &field_path)?,
                    (None, Some(default)) => {
                        default_in(default, &field.schema, names, &field_path)?
                    }
                    (None, None) => {
                        return Err(format!(
                            "{field_path}: missing, and the field has no default"
                        ));
                    }
                };
                fields.push((field.name.clone(), value));
            }
            AvroValue::Record(fields)
        }
        Schema::Enum(inner) => {
            let symbol = string(json, path, "an enum symbol")?;
            let index = inner
                .symbols
                .iter()
                .position(|s| s == symbol)
                .ok_or_else(|| {
                    format!(
                        "{path}: {symbol} is not a symbol of {}",
                        inner.name.fullname(None)
                    )
                })?;
            AvroValue::Enum(u32::try_from(index).unwrap_or(u32::MAX), symbol.to_owned())
        }
        Schema::Fixed(fixed) => {
            let bytes = latin1(string(json, path, "fixed bytes")?, path)?;
            if bytes.len() != fixed.size {
                return Err(format!(
                    "{path}: {} holds {} bytes, not {}",
                    fixed.name.fullname(None),
                    fixed.size,
                    bytes.len()
                ));
            }
            AvroValue::Fixed(fixed.size, bytes)
        }
        Schema::Decimal(decimal) => {
            let bytes = latin1(string(json, path, "decimal bytes")?, path)?;
            if let InnerDecimalSchema::Fixed(fixed) = &decimal.inner
                && bytes.len() != fixed.size
            {
                return Err(format!("{path}: the decimal holds {} bytes", fixed.size));
            }
            AvroValue::Decimal(apache_avro::Decimal::from(bytes))
        }
        Schema::Uuid(UuidSchema::String) => {
            let text = string(json, path, "a UUID string")?;
            AvroValue::Uuid(
                text.parse()
                    .map_err(|error| format!("{path}: {text} is not a UUID ({error})"))?,
            )
        }
        Schema::Uuid(_) => {
            let bytes = latin1(string(json, path, "UUID bytes")?, path)?;
            AvroValue::Uuid(
                apache_avro::Uuid::from_slice(&bytes)
                    .map_err(|error| format!("{path}: not a UUID ({error})"))?,
            )
        }
        Schema::Date => AvroValue::Date(int(json, path, "a date (int days)")?),
        Schema::TimeMillis => AvroValue::TimeMillis(int(json, path, "a time-millis int")?),
        Schema::TimeMicros => AvroValue::TimeMicros(long(json, path, "a time-micros long")?),
        Schema::TimestampMillis => {
            AvroValue::TimestampMillis(long(json, path, "a timestamp-millis long")?)
        }
        Schema::TimestampMicros => {
            AvroValue::TimestampMicros(long(json, path, "a timestamp-micros long")?)
        }
        Schema::TimestampNanos => {
            AvroValue::TimestampNanos(long(json, path, "a timestamp-nanos long")?)
        }
        Schema::LocalTimestampMillis => {
            AvroValue::LocalTimestampMillis(long(json, path, "a local-timestamp-millis long")?)
        }
        Schema::LocalTimestampMicros => {
            AvroValue::LocalTimestampMicros(long(json, path, "a local-timestamp-micros long")?)
        }
        Schema::LocalTimestampNanos => {
            AvroValue::LocalTimestampNanos(long(json, path, "a local-timestamp-nanos long")?)
        }
        Schema::Duration(_) => {
            let bytes = latin1(string(json, path, "duration bytes")?, path)?;
            let bytes: [u8; 12] = bytes
                .try_into()
                .map_err(|_| format!("{path}: a duration holds 12 bytes"))?;
            AvroValue::Duration(apache_avro::Duration::from(bytes))
        }
        Schema::BigDecimal | Schema::Ref { .. } => {
            return Err(format!(
                "{path}: this bridge cannot write {schema:?} values"
            ));
        }
    })
}

fn string<'a>(json: &'a Value, path: &str, expected: &str) -> Result<&'a str, String> {
    json.as_str().ok_or_else(|| mismatch(path, expected, json))
}

fn union_in(
    json: &Value,
    union: &UnionSchema,
    names: &Names,
    path: &str,
) -> Result<AvroValue, String> {
    let variants = union.variants();
    let index_of = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    if json.is_null() {
        let index = variants
            .iter()
            .position(|v| matches!(v, Schema::Null))
            .ok_or_else(|| format!("{path}: null is not a branch of the union"))?;
        return Ok(AvroValue::Union(index_of(index), Box::new(AvroValue::Null)));
    }
    let branches: Vec<String> = variants.iter().map(branch_name).collect();
    let wrapped = json
        .as_object()
        .filter(|object| object.len() == 1)
        .and_then(|object| object.iter().next());
    let Some((name, inner)) = wrapped else {
        return Err(format!(
            "{path}: a union value is null or an object with one member named by its branch \
             (one of {})",
            branches.join(", ")
        ));
    };
    // Avro's decoder also takes the short name of a named type.
    let index = branches
        .iter()
        .position(|branch| branch == name)
        .or_else(|| {
            branches
                .iter()
                .position(|branch| branch.rsplit('.').next() == Some(name.as_str()))
        })
        .ok_or_else(|| {
            format!(
                "{path}: {name} is not a branch of the union (one of {})",
                branches.join(", ")
            )
        })?;
    let value = convert_in(inner, &variants[index], names, &format!("{path}.{name}"))?;
    Ok(AvroValue::Union(index_of(index), Box::new(value)))
}

/// A field default: written like a value, but a union's default is its first branch,
/// unwrapped.
fn default_in(
    default: &Value,
    schema: &Schema,
    names: &Names,
    path: &str,
) -> Result<AvroValue, String> {
    match names.resolve(schema)? {
        Schema::Union(union) => {
            let first = union
                .variants()
                .first()
                .ok_or_else(|| format!("{path}: empty union"))?;
            Ok(AvroValue::Union(
                0,
                Box::new(convert_in(default, first, names, path)?),
            ))
        }
        other => convert_in(default, other, names, path),
    }
}

/// Writes `value` (a datum of `schema`) to `out` in Avro's JSON encoding: record fields in
/// the schema's order (as REST Proxy prints them), map entries sorted by key so that the
/// same datum always renders the same text. Written straight into the response body, with
/// no `serde_json::Value` in between: this is the per-record cost of an Avro consumer.
pub(crate) fn write_json(
    value: &AvroValue,
    schema: &Schema,
    names: &Names,
    out: &mut String,
) -> Result<(), String> {
    let schema = names.resolve(schema)?;
    match (value, schema) {
        (AvroValue::Null, _) => out.push_str("null"),
        (AvroValue::Boolean(b), _) => out.push_str(if *b { "true" } else { "false" }),
        (AvroValue::Int(n) | AvroValue::Date(n) | AvroValue::TimeMillis(n), _) => {
            out.push_str(itoa::Buffer::new().format(*n));
        }
        (
            AvroValue::Long(n)
            | AvroValue::TimeMicros(n)
            | AvroValue::TimestampMillis(n)
            | AvroValue::TimestampMicros(n)
            | AvroValue::TimestampNanos(n)
            | AvroValue::LocalTimestampMillis(n)
            | AvroValue::LocalTimestampMicros(n)
            | AvroValue::LocalTimestampNanos(n),
            _,
        ) => out.push_str(itoa::Buffer::new().format(*n)),
        (AvroValue::Float(x), _) => push_number(out, f64::from(*x)),
        (AvroValue::Double(x), _) => push_number(out, *x),
        (AvroValue::Bytes(bytes) | AvroValue::Fixed(_, bytes), _) => push_latin1(out, bytes),
        (AvroValue::String(text) | AvroValue::Enum(_, text), _) => push_json_string(out, text),
        (AvroValue::Uuid(uuid), Schema::Uuid(UuidSchema::String) | Schema::String) => {
            push_json_string(out, &uuid.as_hyphenated().to_string());
        }
        (AvroValue::Uuid(uuid), _) => push_latin1(out, uuid.as_bytes()),
        (AvroValue::Decimal(decimal), _) => {
            let bytes: Vec<u8> = decimal
                .try_into()
                .map_err(|e: apache_avro::Error| e.to_string())?;
            push_latin1(out, &bytes);
        }
        (AvroValue::Duration(duration), _) => {
            let bytes: [u8; 12] = (*duration).into();
            push_latin1(out, &bytes);
        }
        (AvroValue::Array(items), Schema::Array(array)) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json(item, &array.items, names, out)?;
            }
            out.push(']');
        }
        (AvroValue::Map(entries), Schema::Map(map)) => {
            let mut sorted: Vec<_> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, entry)) in sorted.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_json_string(out, key);
                out.push(':');
                write_json(entry, &map.types, names, out)?;
            }
            out.push('}');
        }
        (AvroValue::Record(fields), Schema::Record(record)) => {
            out.push('{');
            for (index, ((name, field_value), field)) in
                fields.iter().zip(&record.fields).enumerate()
            {
                if index > 0 {
                    out.push(',');
                }
                push_json_string(out, name);
                out.push(':');
                write_json(field_value, &field.schema, names, out)?;
            }
            out.push('}');
        }
        (AvroValue::Union(index, inner), Schema::Union(union)) => {
            let branch = usize::try_from(*index)
                .ok()
                .and_then(|i| union.variants().get(i))
                .ok_or_else(|| format!("union branch {index} is out of range"))?;
            if matches!(**inner, AvroValue::Null) {
                out.push_str("null");
            } else {
                out.push('{');
                push_json_string(out, &branch_name(branch));
                out.push(':');
                write_json(inner, branch, names, out)?;
                out.push('}');
            }
        }
        (other, schema) => {
            return Err(format!("the datum {other:?} does not match {schema:?}"));
        }
    }
    Ok(())
}

/// A double as serde_json prints it; JSON has no NaN or infinity, so those are `null`.
fn push_number(out: &mut String, x: f64) {
    match Number::from_f64(x) {
        Some(number) => {
            let _ = write!(out, "{number}");
        }
        None => out.push_str("null"),
    }
}

/// Bytes as a string whose characters are the bytes (ISO-8859-1).
fn push_latin1(out: &mut String, bytes: &[u8]) {
    let text: String = bytes.iter().map(|b| char::from(*b)).collect();
    push_json_string(out, &text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(text: &str) -> (Schema, Names) {
        let schema = Schema::parse_str(text).unwrap();
        let names = Names::of([&schema]);
        (schema, names)
    }

    #[test]
    fn unions_are_wrapped_and_round_trip() {
        let (schema, names) = schema(
            r#"{"type":"record","name":"User","namespace":"com.x","fields":[
                {"name":"name","type":"string"},
                {"name":"age","type":["null","int"],"default":null},
                {"name":"raw","type":"bytes"},
                {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
                {"name":"next","type":["null","User"],"default":null},
                {"name":"tags","type":{"type":"map","values":"long"}}]}"#,
        );
        let input = json!({"name":"x","age":{"int":5},"raw":"\u{00ff}a","kind":"B",
            "next":{"com.x.User":{"name":"y","raw":"","kind":"A","tags":{}}},"tags":{"a":1}});
        let value = from_json(&input, &schema, &names).unwrap();
        let mut text = String::new();
        write_json(&value, &schema, &names, &mut text).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        let expected = json!({"name":"x","age":{"int":5},"raw":"\u{00ff}a","kind":"B",
            "next":{"com.x.User":{"name":"y","age":null,"raw":"","kind":"A","next":null,"tags":{}}},
            "tags":{"a":1}});
        assert_eq!(back, expected);
    }

    #[test]
    fn mismatches_name_the_path() {
        let (schema, names) = schema(
            r#"{"type":"record","name":"r","fields":[{"name":"a","type":["null","long"]}]}"#,
        );
        let error = from_json(&json!({"a": 5}), &schema, &names).unwrap_err();
        assert!(error.starts_with("$.a:"), "{error}");
        let error = from_json(&json!({"a": {"long": "x"}}), &schema, &names).unwrap_err();
        assert!(error.contains("expected a long"), "{error}");
        let error = from_json(&json!({"b": 1}), &schema, &names).unwrap_err();
        assert!(error.contains("no field b"), "{error}");
    }
}
