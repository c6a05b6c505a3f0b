//! An Avro binary datum written straight into a response body in Avro's JSON encoding,
//! guided by the writer's schema: one pass, no `apache_avro::types::Value` in between (the
//! per-record cost of an Avro consumer). Record fields come in the schema's order, as REST
//! Proxy prints them; map entries sorted by key, so the same datum always renders the same
//! text. Checked against `apache-avro`'s encoder by the tests below.

use std::fmt::Write as _;

use apache_avro::Schema;
use apache_avro::schema::{InnerDecimalSchema, UuidSchema};
use serde_json::Number;

use super::{Names, branch_label};
use crate::json_text::push_json_string;

/// Writes the JSON of the datum at the start of `datum` (written with `schema`) to `out`.
pub(crate) fn write_json(
    datum: &[u8],
    schema: &Schema,
    names: &Names,
    out: &mut String,
) -> Result<(), String> {
    let mut decoder = Decoder {
        names,
        input: datum,
    };
    decoder.value(schema, out)
}

struct Decoder<'a> {
    names: &'a Names,
    input: &'a [u8],
}

const TRUNCATED: &str = "the datum ends early";

impl<'a> Decoder<'a> {
    fn value(&mut self, schema: &Schema, out: &mut String) -> Result<(), String> {
        let schema = self.names.resolve(schema)?;
        match schema {
            Schema::Null => out.push_str("null"),
            Schema::Boolean => match self.take(1)? {
                [0] => out.push_str("false"),
                [1] => out.push_str("true"),
                other => return Err(format!("{} is not a boolean", other[0])),
            },
            Schema::Int | Schema::Date | Schema::TimeMillis => {
                let n = self.long()?;
                i32::try_from(n).map_err(|_| format!("{n} is out of an int's range"))?;
                out.push_str(itoa::Buffer::new().format(n));
            }
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => {
                out.push_str(itoa::Buffer::new().format(self.long()?));
            }
            Schema::Float => {
                let bytes: [u8; 4] = self.take(4)?.try_into().map_err(|_| TRUNCATED)?;
                push_number(out, f64::from(f32::from_le_bytes(bytes)));
            }
            Schema::Double => {
                let bytes: [u8; 8] = self.take(8)?.try_into().map_err(|_| TRUNCATED)?;
                push_number(out, f64::from_le_bytes(bytes));
            }
            Schema::Bytes
            | Schema::Decimal(apache_avro::schema::DecimalSchema {
                inner: InnerDecimalSchema::Bytes,
                ..
            })
            | Schema::Uuid(UuidSchema::Bytes) => {
                let bytes = self.sized()?;
                push_latin1(out, bytes);
            }
            Schema::String | Schema::Uuid(UuidSchema::String) => {
                let text = std::str::from_utf8(self.sized()?)
                    .map_err(|error| format!("a string is not UTF-8 ({error})"))?;
                push_json_string(out, text);
            }
            Schema::Fixed(fixed)
            | Schema::Duration(fixed)
            | Schema::Uuid(UuidSchema::Fixed(fixed)) => {
                let bytes = self.take(fixed.size)?;
                push_latin1(out, bytes);
            }
            Schema::Decimal(apache_avro::schema::DecimalSchema {
                inner: InnerDecimalSchema::Fixed(fixed),
                ..
            }) => {
                let bytes = self.take(fixed.size)?;
                push_latin1(out, bytes);
            }
            Schema::Array(array) => {
                out.push('[');
                let mut first = true;
                while let Some(count) = self.block(&array.items)? {
                    for _ in 0..count {
                        if !std::mem::take(&mut first) {
                            out.push(',');
                        }
                        self.value(&array.items, out)?;
                    }
                }
                out.push(']');
            }
            Schema::Map(map) => {
                let mut entries: Vec<(&'a str, String)> = Vec::new();
                // A key takes at least its length byte.
                while let Some(count) = self.block(&Schema::Boolean)? {
                    for _ in 0..count {
                        let key = std::str::from_utf8(self.sized()?)
                            .map_err(|error| format!("a map key is not UTF-8 ({error})"))?;
                        let mut text = String::new();
                        self.value(&map.types, &mut text)?;
                        entries.push((key, text));
                    }
                }
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (index, (key, text)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    push_json_string(out, key);
                    out.push(':');
                    out.push_str(text);
                }
                out.push('}');
            }
            Schema::Record(record) => {
                out.push('{');
                for (index, field) in record.fields.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    push_json_string(out, &field.name);
                    out.push(':');
                    self.value(&field.schema, out)?;
                }
                out.push('}');
            }
            Schema::Enum(inner) => {
                let index = self.long()?;
                let symbol = usize::try_from(index)
                    .ok()
                    .and_then(|i| inner.symbols.get(i))
                    .ok_or_else(|| format!("enum index {index} is out of range"))?;
                push_json_string(out, symbol);
            }
            Schema::Union(union) => {
                let index = self.long()?;
                let branch = usize::try_from(index)
                    .ok()
                    .and_then(|i| union.variants().get(i))
                    .ok_or_else(|| format!("union branch {index} is out of range"))?;
                if matches!(self.names.resolve(branch)?, Schema::Null) {
                    out.push_str("null");
                } else {
                    out.push('{');
                    push_json_string(out, &branch_label(branch));
                    out.push(':');
                    self.value(branch, out)?;
                    out.push('}');
                }
            }
            Schema::BigDecimal | Schema::Ref { .. } => {
                return Err(format!("this bridge cannot read {schema:?} values"));
            }
        }
        Ok(())
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        if self.input.len() < count {
            return Err(TRUNCATED.to_owned());
        }
        let (taken, rest) = self.input.split_at(count);
        self.input = rest;
        Ok(taken)
    }

    /// Avro's `long`: base-128 little-endian groups, then zig-zag.
    fn long(&mut self) -> Result<i64, String> {
        let mut z: u64 = 0;
        for shift in (0..64).step_by(7) {
            let [byte, rest @ ..] = self.input else {
                return Err(TRUNCATED.to_owned());
            };
            self.input = rest;
            z |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                #[allow(clippy::cast_possible_wrap, reason = "zig-zag decoding")]
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err("a long is longer than 10 bytes".to_owned())
    }

    /// A length-prefixed byte string (`bytes`, `string`).
    fn sized(&mut self) -> Result<&'a [u8], String> {
        let len = self.long()?;
        let len = usize::try_from(len).map_err(|_| format!("negative length {len}"))?;
        self.take(len)
    }

    /// The item count of the next block of an array or map, `None` at the end. A negative
    /// count is followed by the block's size in bytes (skipped: the items are read anyway).
    /// A count the rest of the datum cannot hold is refused before any item is read.
    fn block(&mut self, items: &Schema) -> Result<Option<u64>, String> {
        let count = self.long()?;
        if count == 0 {
            return Ok(None);
        }
        if count < 0 {
            self.long()?;
        }
        let count = count.unsigned_abs();
        let empty_items = match self.names.resolve(items)? {
            Schema::Null => true,
            Schema::Record(record) => record.fields.is_empty(),
            _ => false,
        };
        // Items of other types take at least a byte each.
        let most = if empty_items {
            MAX_EMPTY_ITEMS
        } else {
            self.input.len() as u64
        };
        if count > most {
            return Err(format!("a block of {count} items is longer than the datum"));
        }
        Ok(Some(count))
    }
}

/// Items that take no bytes (nulls) one block may hold: a bound on the work a datum of a
/// few bytes can ask for.
const MAX_EMPTY_ITEMS: u64 = 1 << 20;

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
