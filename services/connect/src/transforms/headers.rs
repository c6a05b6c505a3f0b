//! Header SMTs: `InsertHeader` (`header`, `value.literal`), `DropHeaders` (`headers`),
//! `HeaderFrom` (`fields`, `headers`, `operation=move|copy`).

use std::sync::Arc;

use connect_api::{ConnectRecord, Header};
use serde_json::Value;

use super::{AliasConfig, Side, Transformation};
use crate::converters::java_json::java_float;
use crate::error::ConfigIssue;

#[derive(Debug)]
pub(super) struct InsertHeader {
    header: String,
    value: Value,
}

impl InsertHeader {
    pub(super) fn new(settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        Ok(Self {
            header: settings.required("header")?.to_owned(),
            value: literal_value(settings.required("value.literal")?),
        })
    }
}

/// `value.literal` read as Kafka's `Values.parseString` reads the common cases, so the
/// header bytes are the ones `SimpleHeaderConverter` writes for them: `true`/`false` are
/// booleans, a decimal number with an integral value that fits 64 bits is an integer
/// (`1.0`, `1e10`, `007` → `1`, `10000000000`, `7`), another number is a float32
/// (`3.14159265358979` → `3.1415927`), a larger whole number keeps its digits. Anything
/// else stays the text it is (Kafka also
/// re-spells arrays, maps, dates and times; see docs/connect.md).
fn literal_value(literal: &str) -> Value {
    if literal == "true" || literal == "false" {
        return Value::Bool(literal == "true");
    }
    let Some(number) = DecimalLiteral::parse(literal.trim()) else {
        return Value::String(literal.to_owned());
    };
    if let Some(integer) = number.integer() {
        return Value::from(integer);
    }
    if number.is_integral() {
        // Beyond 64 bits Kafka keeps a Decimal, whose text is the digits.
        return Value::String(literal.to_owned());
    }
    match literal.trim().parse::<f32>() {
        // Float.toString's digits, carried as a double that prints the same way.
        Ok(float) if float.is_finite() => java_float(float)
            .parse::<f64>()
            .map_or_else(|_| Value::String(literal.to_owned()), Value::from),
        _ => Value::String(literal.to_owned()),
    }
}

/// A number in `java.math.BigDecimal`'s syntax: sign, digits, fraction, exponent.
#[derive(Debug, PartialEq, Eq)]
struct DecimalLiteral {
    negative: bool,
    /// Every digit, integer part then fraction, without the point.
    digits: String,
    /// The power of ten of the last digit.
    exponent: i64,
}

impl DecimalLiteral {
    fn parse(text: &str) -> Option<Self> {
        let (negative, unsigned) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
            None => (unsigned, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        let fraction_len = i64::try_from(fraction.len()).ok()?;
        Some(Self {
            negative,
            digits: format!("{whole}{fraction}"),
            exponent: exponent.checked_sub(fraction_len)?,
        })
    }

    fn is_integral(&self) -> bool {
        let cut = usize::try_from(self.exponent.min(0).unsigned_abs()).unwrap_or(usize::MAX);
        let digits = self.digits.as_bytes();
        digits[digits.len().saturating_sub(cut)..]
            .iter()
            .all(|b| *b == b'0')
    }

    /// The value when it is a whole number within `i64`.
    fn integer(&self) -> Option<i64> {
        let digits = self.digits.trim_start_matches('0');
        let text = if self.exponent >= 0 {
            if digits.is_empty() {
                return Some(0);
            }
            let zeros = usize::try_from(self.exponent).ok().filter(|z| *z <= 20)?;
            format!("{digits}{}", "0".repeat(zeros))
        } else {
            let cut = usize::try_from(-self.exponent).ok()?;
            let (whole, fraction) = digits.split_at(digits.len().saturating_sub(cut));
            if fraction.bytes().any(|b| b != b'0') {
                return None;
            }
            if whole.is_empty() {
                return Some(0);
            }
            whole.to_owned()
        };
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{text}").parse().ok()
    }
}

impl Transformation for InsertHeader {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        record.headers.push(Header {
            key: self.header.clone(),
            value: self.value.clone(),
        });
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct DropHeaders {
    headers: Vec<String>,
}

impl DropHeaders {
    pub(super) fn new(settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        settings.required("headers")?;
        Ok(Self {
            headers: settings.list("headers"),
        })
    }
}

impl Transformation for DropHeaders {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        record.headers.retain(|h| !self.headers.contains(&h.key));
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    remove: bool,
}

impl HeaderFrom {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        settings.required("fields")?;
        settings.required("headers")?;
        let fields = settings.list("fields");
        let headers = settings.list("headers");
        if fields.len() != headers.len() {
            return Err(ConfigIssue::new(
                settings.key("headers"),
                "'fields' config must have the same number of elements as 'headers' config.",
            ));
        }
        let remove = match settings.required("operation")?.trim() {
            "move" => true,
            "copy" => false,
            other => {
                return Err(ConfigIssue::new(
                    settings.key("operation"),
                    format!(
                        "Invalid value {other} for configuration {}: must be move or copy",
                        settings.key("operation")
                    ),
                ));
            }
        };
        Ok(Self {
            side,
            fields,
            headers,
            remove,
        })
    }
}

impl Transformation for HeaderFrom {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let mut new_headers = Vec::new();
        {
            let (schema, value) = Side::of(&mut record, self.side);
            let Value::Object(map) = value else {
                return Ok(Some(record));
            };
            for (field, header) in self.fields.iter().zip(&self.headers) {
                let field_value = if self.remove {
                    map.remove(field)
                } else {
                    map.get(field).cloned()
                };
                new_headers.push(Header {
                    key: header.clone(),
                    value: field_value.unwrap_or(Value::Null),
                });
            }
            if self.remove
                && let Some(fields) = schema
                    .as_mut()
                    .map(Arc::make_mut)
                    .and_then(|s| s.fields.as_mut())
            {
                fields.retain(|f| !self.fields.contains(&f.field));
            }
        }
        record.headers.extend(new_headers);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::converters::header_to_bytes;

    #[test]
    fn literals_become_the_header_bytes_kafka_writes() {
        // What Values.parseString + SimpleHeaderConverter give in Kafka 4.3.
        for (literal, bytes) in [
            ("plain text", "plain text"),
            ("42", "42"),
            ("1.5", "1.5"),
            ("1e10", "10000000000"),
            ("1.0", "1"),
            ("1.5e3", "1500"),
            ("007", "7"),
            ("-0", "0"),
            ("+5", "5"),
            (" 42 ", "42"),
            ("0.1", "0.1"),
            ("3.14159265358979", "3.1415927"),
            ("-1E-5", "-1.0E-5"),
            ("100000000000000000000.5", "1.0E20"),
            ("9223372036854775808", "9223372036854775808"),
            ("true", "true"),
            ("TRUE", "TRUE"),
            ("[1,2,3]", "[1,2,3]"),
            ("0x10", "0x10"),
            ("", ""),
        ] {
            let value = literal_value(literal);
            assert_eq!(
                header_to_bytes(&value).map(|b| String::from_utf8(b).unwrap()),
                Some(bytes.to_owned()),
                "{literal:?} read as {value}"
            );
        }
        assert_eq!(literal_value("42"), json!(42));
    }
}
