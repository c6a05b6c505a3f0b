//! A JSON value in Avro's JSON encoding written straight to Avro's binary encoding, guided
//! by the schema: one pass, no `apache_avro::types::Value` in between (building one costs an
//! allocation per field and string, and the crate then walks it twice more to validate and
//! to write it). Checked against `apache-avro`'s decoder by the tests below.

use std::fmt;

use apache_avro::Schema;
use apache_avro::schema::{InnerDecimalSchema, UnionSchema, UuidSchema};
use serde_json::Value;

use super::{Names, branch_label};

/// Where a value sits in the request's JSON, rendered only for an error message.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("$"),
            Self::Field(parent, name) => write!(f, "{parent}.{name}"),
            Self::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// Appends the Avro binary datum of `json` (Avro's JSON encoding of a `schema` value) to
/// `out`; the error names the path and what was expected.
pub(crate) fn encode_json(
    json: &Value,
    schema: &Schema,
    names: &Names,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    Encoder { names, out }.value(json, schema, Path::Root)
}

struct Encoder<'a> {
    names: &'a Names,
    out: &'a mut Vec<u8>,
}

fn mismatch(path: Path<'_>, expected: &str, json: &Value) -> String {
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

/// Avro's `long`: zig-zag, then base-128 little-endian groups.
pub(super) fn put_long(out: &mut Vec<u8>, n: i64) {
    #[allow(clippy::cast_sign_loss, reason = "zig-zag maps the sign into bit 0")]
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        #[allow(clippy::cast_possible_truncation, reason = "the low 7 bits")]
        out.push((z & 0x7f) as u8 | 0x80);
        z >>= 7;
    }
    #[allow(clippy::cast_possible_truncation, reason = "z < 0x80")]
    out.push(z as u8);
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    put_long(out, i64::try_from(len).unwrap_or(i64::MAX));
}

impl Encoder<'_> {
    fn value(&mut self, json: &Value, schema: &Schema, path: Path<'_>) -> Result<(), String> {
        let schema = self.names.resolve(schema)?;
        match schema {
            Schema::Null if json.is_null() => {}
            Schema::Null => return Err(mismatch(path, "null", json)),
            Schema::Boolean => {
                let b = json
                    .as_bool()
                    .ok_or_else(|| mismatch(path, "a boolean", json))?;
                self.out.push(u8::from(b));
            }
            Schema::Int => self.int(json, path, "an int")?,
            Schema::Long => self.long(json, path, "a long")?,
            Schema::Float => {
                // Avro's JSON decoder narrows a double to a float the same way.
                #[allow(clippy::cast_possible_truncation)]
                let x = json
                    .as_f64()
                    .ok_or_else(|| mismatch(path, "a float", json))? as f32;
                self.out.extend_from_slice(&x.to_le_bytes());
            }
            Schema::Double => {
                let x = json
                    .as_f64()
                    .ok_or_else(|| mismatch(path, "a double", json))?;
                self.out.extend_from_slice(&x.to_le_bytes());
            }
            Schema::Bytes => {
                let text = string(json, path, "bytes")?;
                self.latin1(text, path, None)?;
            }
            Schema::String => {
                let text = string(json, path, "a string")?;
                put_len(self.out, text.len());
                self.out.extend_from_slice(text.as_bytes());
            }
            Schema::Array(array) => {
                let items = json
                    .as_array()
                    .ok_or_else(|| mismatch(path, "an array", json))?;
                if !items.is_empty() {
                    put_len(self.out, items.len());
                    for (index, item) in items.iter().enumerate() {
                        self.value(item, &array.items, Path::Index(&path, index))?;
                    }
                }
                put_long(self.out, 0);
            }
            Schema::Map(map) => {
                let object = json
                    .as_object()
                    .ok_or_else(|| mismatch(path, "an object (map)", json))?;
                if !object.is_empty() {
                    put_len(self.out, object.len());
                    for (key, entry) in object {
                        put_len(self.out, key.len());
                        self.out.extend_from_slice(key.as_bytes());
                        self.value(entry, &map.types, Path::Field(&path, key))?;
                    }
                }
                put_long(self.out, 0);
            }
            Schema::Union(union) => self.union(json, union, path)?,
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
                for field in &record.fields {
                    let field_path = Path::Field(&path, &field.name);
                    match (object.get(&field.name), &field.default) {
                        (Some(value), _) => self.value(value, &field.schema, field_path)?,
                        (None, Some(default)) => {
                            self.default(default, &field.schema, field_path)?
                        }
                        (None, None) => {
                            return Err(format!(
                                "{field_path}: missing, and the field has no default"
                            ));
                        }
                    }
                }
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
                put_len(self.out, index);
            }
            Schema::Fixed(fixed) => {
                let text = string(json, path, "fixed bytes")?;
                self.fixed(text, path, fixed.size, &fixed.name.fullname(None))?;
            }
            Schema::Decimal(decimal) => {
                let text = string(json, path, "decimal bytes")?;
                match &decimal.inner {
                    InnerDecimalSchema::Bytes => self.latin1(text, path, None)?,
                    InnerDecimalSchema::Fixed(fixed) => {
                        self.fixed(text, path, fixed.size, "the decimal")?;
                    }
                }
            }
            Schema::Uuid(UuidSchema::String) => {
                let text = string(json, path, "a UUID string")?;
                let uuid: apache_avro::Uuid = text
                    .parse()
                    .map_err(|error| format!("{path}: {text} is not a UUID ({error})"))?;
                let text = uuid.as_hyphenated().to_string();
                put_len(self.out, text.len());
                self.out.extend_from_slice(text.as_bytes());
            }
            Schema::Uuid(UuidSchema::Bytes) => {
                let text = string(json, path, "UUID bytes")?;
                self.latin1(text, path, Some(16))
                    .map_err(|_| format!("{path}: not a UUID (16 bytes)"))?;
            }
            Schema::Uuid(UuidSchema::Fixed(fixed)) => {
                let text = string(json, path, "UUID bytes")?;
                self.fixed(text, path, fixed.size, &fixed.name.fullname(None))?;
            }
            Schema::Date => self.int(json, path, "a date (int days)")?,
            Schema::TimeMillis => self.int(json, path, "a time-millis int")?,
            Schema::TimeMicros => self.long(json, path, "a time-micros long")?,
            Schema::TimestampMillis => self.long(json, path, "a timestamp-millis long")?,
            Schema::TimestampMicros => self.long(json, path, "a timestamp-micros long")?,
            Schema::TimestampNanos => self.long(json, path, "a timestamp-nanos long")?,
            Schema::LocalTimestampMillis => {
                self.long(json, path, "a local-timestamp-millis long")?;
            }
            Schema::LocalTimestampMicros => {
                self.long(json, path, "a local-timestamp-micros long")?;
            }
            Schema::LocalTimestampNanos => {
                self.long(json, path, "a local-timestamp-nanos long")?;
            }
            Schema::Duration(_) => {
                let text = string(json, path, "duration bytes")?;
                self.fixed(text, path, 12, "a duration")?;
            }
            Schema::BigDecimal | Schema::Ref { .. } => {
                return Err(format!(
                    "{path}: this bridge cannot write {schema:?} values"
                ));
            }
        }
        Ok(())
    }

    fn int(&mut self, json: &Value, path: Path<'_>, expected: &str) -> Result<(), String> {
        let n = json
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| mismatch(path, expected, json))?;
        put_long(self.out, i64::from(n));
        Ok(())
    }

    fn long(&mut self, json: &Value, path: Path<'_>, expected: &str) -> Result<(), String> {
        let n = json
            .as_i64()
            .ok_or_else(|| mismatch(path, expected, json))?;
        put_long(self.out, n);
        Ok(())
    }

    /// `text`'s characters as bytes (U+0000 to U+00FF), length-prefixed; `exact` checks the
    /// count first.
    fn latin1(&mut self, text: &str, path: Path<'_>, exact: Option<usize>) -> Result<(), String> {
        let count = text.chars().count();
        if exact.is_some_and(|exact| exact != count) {
            return Err(format!("{path}: expected {} bytes", exact.unwrap_or(0)));
        }
        put_len(self.out, count);
        self.latin1_raw(text, path)
    }

    fn latin1_raw(&mut self, text: &str, path: Path<'_>) -> Result<(), String> {
        for c in text.chars() {
            let byte = u8::try_from(u32::from(c))
                .map_err(|_| format!("{path}: bytes are written as characters U+0000 to U+00FF"))?;
            self.out.push(byte);
        }
        Ok(())
    }

    /// A fixed-size byte string, written without a length.
    fn fixed(&mut self, text: &str, path: Path<'_>, size: usize, what: &str) -> Result<(), String> {
        let count = text.chars().count();
        if count != size {
            return Err(format!("{path}: {what} holds {size} bytes, not {count}"));
        }
        self.latin1_raw(text, path)
    }

    fn union(&mut self, json: &Value, union: &UnionSchema, path: Path<'_>) -> Result<(), String> {
        let variants = union.variants();
        if json.is_null() {
            let index = variants
                .iter()
                .position(|v| matches!(v, Schema::Null))
                .ok_or_else(|| format!("{path}: null is not a branch of the union"))?;
            put_len(self.out, index);
            return Ok(());
        }
        let branches = || {
            variants
                .iter()
                .map(|v| branch_label(v).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let wrapped = json
            .as_object()
            .filter(|object| object.len() == 1)
            .and_then(|object| object.iter().next());
        let Some((name, inner)) = wrapped else {
            return Err(format!(
                "{path}: a union value is null or an object with one member named by its branch \
                 (one of {})",
                branches()
            ));
        };
        // Avro's decoder also takes the short name of a named type.
        let index = variants
            .iter()
            .position(|v| branch_label(v) == name.as_str())
            .or_else(|| {
                variants
                    .iter()
                    .position(|v| branch_label(v).rsplit('.').next() == Some(name.as_str()))
            })
            .ok_or_else(|| {
                format!(
                    "{path}: {name} is not a branch of the union (one of {})",
                    branches()
                )
            })?;
        put_len(self.out, index);
        self.value(inner, &variants[index], Path::Field(&path, name))
    }

    /// A field default: written like a value, but a union's default is its first branch,
    /// unwrapped.
    fn default(&mut self, default: &Value, schema: &Schema, path: Path<'_>) -> Result<(), String> {
        match self.names.resolve(schema)? {
            Schema::Union(union) => {
                let first = union
                    .variants()
                    .first()
                    .ok_or_else(|| format!("{path}: empty union"))?;
                put_long(self.out, 0);
                self.value(default, first, path)
            }
            other => self.value(default, other, path),
        }
    }
}

fn string<'a>(json: &'a Value, path: Path<'_>, expected: &str) -> Result<&'a str, String> {
    json.as_str().ok_or_else(|| mismatch(path, expected, json))
}
