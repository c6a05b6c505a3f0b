//! JSON bytes as Kafka Connect's `JsonConverter` (Jackson) writes them, so a topic
//! written by our runtime and one written by Kafka Connect hold the same bytes for the
//! same record (compaction, deduplication by hash and byte diffs see no change during a
//! migration between the two):
//!
//! - the envelope as `{"schema":…,"payload":…}`, the schema's keys in `asJsonSchema`'s
//!   order (the field order of `connect_api::Schema`) and its parameters in the order they
//!   were set;
//! - struct payloads in the order of their schema's fields (`convertToJson` iterates
//!   `schema.fields()`), whatever order a connector built them in;
//! - FLOAT64 (`double`) values as Java's `Double.toString` spells them (`1.0`, `1.0E20`,
//!   `1.0E-4`), also when the value arrived as an integer; FLOAT32 (`float`) with the
//!   shortest digits of the 32-bit value, as `Float.toString`;
//! - strings escaped as Jackson's UTF-8 generator does: control characters as `\u00XX`
//!   with upper-case hex (or `\b \t \n \f \r`), a character beyond the Basic
//!   Multilingual Plane as its escaped surrogate pair, everything else as UTF-8;
//! - a Decimal as base64 or, with `decimal.format=NUMERIC`, as `BigDecimal.toString`;
//! - no whitespace (Jackson's default).
//!
//! Why our own writer: serde_json's maps forget insertion order (its `preserve_order`
//! feature would change every map in the workspace, the stored-key canonical forms
//! included), and it spells floats its own way (`1e20`); walking the schema is the only way
//! to write a struct in field order.

use std::io;

use connect_api::{Schema, SchemaType};
use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};
use serde_json::{Map, Value};

use super::decimal_text::{DECIMAL, decimal_text};

/// JsonConverter's `decimal.format`: how a Decimal payload is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalFormat {
    /// The unscaled value's two's complement bytes in base64 (our data model's form).
    #[default]
    Base64,
    /// A JSON number spelled as `BigDecimal.toString` (`12.30`, `1.2E-8`, `1E+3`).
    Numeric,
}

/// The envelope JsonConverter writes with `schemas.enable=true`.
pub fn envelope_bytes(schema: Option<&Schema>, value: &Value, decimals: DecimalFormat) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"schema\":");
    serialize_into(&mut out, &schema);
    out.extend_from_slice(b",\"payload\":");
    write_value(&mut out, schema, value, decimals);
    out.push(b'}');
    out
}

/// The payload alone, as JsonConverter writes it with `schemas.enable=false`.
pub fn payload_bytes(schema: Option<&Schema>, value: &Value, decimals: DecimalFormat) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_value(&mut out, schema, value, decimals);
    out
}

fn write_value(out: &mut Vec<u8>, schema: Option<&Schema>, value: &Value, decimals: DecimalFormat) {
    let Some(schema) = schema else {
        serialize_into(out, value);
        return;
    };
    match (schema.schema_type, value) {
        (SchemaType::Struct, Value::Object(object)) => write_struct(out, schema, object, decimals),
        (SchemaType::Bytes, Value::String(base64))
            if decimals == DecimalFormat::Numeric && schema.name.as_deref() == Some(DECIMAL) =>
        {
            match decimal_text(base64, decimal_scale(schema)) {
                Some(text) => out.extend_from_slice(text.as_bytes()),
                None => serialize_into(out, value),
            }
        }
        (SchemaType::Array, Value::Array(items)) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(out, schema.items.as_deref(), item, decimals);
            }
            out.push(b']');
        }
        (SchemaType::Map, Value::Object(object)) => {
            out.push(b'{');
            for (index, (key, child)) in object.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                serialize_into(out, key);
                out.push(b':');
                write_value(out, schema.values.as_deref(), child, decimals);
            }
            out.push(b'}');
        }
        (SchemaType::Double, Value::Number(number)) => match number.as_f64() {
            Some(wide) => out.extend_from_slice(java_double(wide).as_bytes()),
            None => serialize_into(out, value),
        },
        // Java writes a FLOAT32 with Float.toString: the shortest digits of the f32.
        #[allow(clippy::cast_possible_truncation)]
        (SchemaType::Float, Value::Number(number)) => match number.as_f64() {
            // Jackson quotes a non-finite number (`"Infinity"`).
            Some(wide) if !(wide as f32).is_finite() => {
                serialize_into(out, &java_float(wide as f32));
            }
            Some(wide) => out.extend_from_slice(java_float(wide as f32).as_bytes()),
            None => serialize_into(out, value),
        },
        _ => serialize_into(out, value),
    }
}

fn write_struct(
    out: &mut Vec<u8>,
    schema: &Schema,
    object: &Map<String, Value>,
    decimals: DecimalFormat,
) {
    out.push(b'{');
    let fields = schema.fields.as_deref().unwrap_or_default();
    let mut first = true;
    let mut separator = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    for field in fields {
        separator(out);
        serialize_into(out, &field.field);
        out.push(b':');
        write_value(
            out,
            Some(&field.schema),
            object.get(&field.field).unwrap_or(&Value::Null),
            decimals,
        );
    }
    // A key the schema does not declare is kept (after the declared ones) rather than
    // dropped: nothing a connector produced disappears here.
    for (key, child) in object {
        if !fields.iter().any(|field| field.field == *key) {
            separator(out);
            serialize_into(out, key);
            out.push(b':');
            serialize_into(out, child);
        }
    }
    out.push(b'}');
}

/// A Decimal schema's `scale` parameter (a string, as Kafka's `Decimal.builder` sets it).
pub(crate) fn decimal_scale(schema: &Schema) -> i32 {
    schema
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.get("scale"))
        .and_then(|scale| match scale {
            Value::String(text) => text.trim().parse().ok(),
            other => other.as_i64().and_then(|n| i32::try_from(n).ok()),
        })
        .unwrap_or(0)
}

fn serialize_into(out: &mut Vec<u8>, value: &impl Serialize) {
    let mut serializer = serde_json::Serializer::with_formatter(out, JavaFormatter);
    // Writing JSON values and schemas into a Vec cannot fail.
    let _ = value.serialize(&mut serializer);
}

/// serde_json's compact output with Jackson's spelling of strings and Java's of
/// floating-point numbers.
struct JavaFormatter;

impl Formatter for JavaFormatter {
    /// Jackson writes control characters as `\u00XX` with upper-case hex digits (and the
    /// short forms `\b \t \n \f \r`).
    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        let short = |c: u8| [b'\\', c];
        match char_escape {
            CharEscape::Quote => writer.write_all(&short(b'"')),
            CharEscape::ReverseSolidus => writer.write_all(&short(b'\\')),
            CharEscape::Solidus => writer.write_all(&short(b'/')),
            CharEscape::Backspace => writer.write_all(&short(b'b')),
            CharEscape::FormFeed => writer.write_all(&short(b'f')),
            CharEscape::LineFeed => writer.write_all(&short(b'n')),
            CharEscape::CarriageReturn => writer.write_all(&short(b'r')),
            CharEscape::Tab => writer.write_all(&short(b't')),
            CharEscape::AsciiControl(byte) => write!(writer, "\\u{:04X}", u16::from(byte)),
        }
    }

    /// Jackson's UTF-8 generator writes a character outside the Basic Multilingual Plane
    /// as the escaped UTF-16 surrogate pair (`😀` → `\uD83D\uDE00`); the rest as UTF-8.
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (index, character) in fragment.char_indices() {
            if u32::from(character) > 0xFFFF {
                writer.write_all(&fragment.as_bytes()[start..index])?;
                let mut units = [0_u16; 2];
                for unit in character.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04X}")?;
                }
                start = index + character.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(java_double(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(java_float(value).as_bytes())
    }
}

/// Java's `Double.toString` (JDK 19 and later, whose digits are the shortest that read
/// back; JDK 17 sometimes writes more, e.g. `9.999999999999999E22` for `1.0E23`).
pub fn java_double(value: f64) -> String {
    java_spelling(
        value,
        &at_least_two_digits(format!("{:e}", value.abs()), || {
            format!("{:.1e}", value.abs())
        }),
    )
}

/// Java's `Float.toString`: the same layout with the shortest digits of the 32-bit value.
pub fn java_float(value: f32) -> String {
    java_spelling(
        f64::from(value),
        &at_least_two_digits(format!("{:e}", value.abs()), || {
            format!("{:.1e}", value.abs())
        }),
    )
}

/// Java writes at least two significant digits: when one digit is enough to read the value
/// back, it writes the two-digit decimal closest to the value (`4.9E-324` for the smallest
/// double, where the shortest form is `5e-324`).
fn at_least_two_digits(shortest: String, two_digits: impl FnOnce() -> String) -> String {
    let mantissa = shortest.split('e').next().unwrap_or_default();
    if mantissa.contains('.') {
        shortest
    } else {
        two_digits()
    }
}

/// Plain decimal with at least one fraction digit for 10^-3 ≤ |x| < 10^7, else
/// `d.dddE±n`, from Rust's shortest round-tripping `{:e}` digits ("1.2345e-7", "1e20").
fn java_spelling(value: f64, scientific: &str) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN".to_owned()
        } else if value > 0.0 {
            "Infinity".to_owned()
        } else {
            "-Infinity".to_owned()
        };
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value < 0.0 { "-" } else { "" };
    if (1e-3..1e7).contains(&value.abs()) {
        let plain = if exponent >= 0 {
            let whole_len = usize::try_from(exponent + 1).unwrap_or(0);
            let padded = format!("{digits:0<whole_len$}");
            let (whole, fraction) = padded.split_at(whole_len);
            let fraction = if fraction.is_empty() { "0" } else { fraction };
            format!("{whole}.{fraction}")
        } else {
            let zeros = "0".repeat(usize::try_from(-exponent - 1).unwrap_or(0));
            // "1.0e-3" is read as digits "10": the zero only pads the d.d form.
            let significant = digits.trim_end_matches('0');
            format!("0.{zeros}{significant}")
        };
        format!("{sign}{plain}")
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exponent}")
    }
}

#[cfg(test)]
mod tests {
    use connect_api::Field;
    use serde_json::json;

    use super::*;

    #[test]
    fn doubles_are_spelled_as_java_does() {
        for (value, java) in [
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1_234_567.0, "1234567.0"),
            (12_345_678.0, "1.2345678E7"),
            (1e20, "1.0E20"),
            (1.5e-10, "1.5E-10"),
            (100.25, "100.25"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (f64::MAX, "1.7976931348623157E308"),
        ] {
            assert_eq!(java_double(value), java, "{value}");
        }
        assert_eq!(java_double(5e-324), "4.9E-324");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(100.0), "100.0");
        assert_eq!(java_float(1.1), "1.1");
        assert_eq!(java_float(3.4e38), "3.4E38");
        assert_eq!(java_float(f32::from_bits(1)), "1.4E-45");
        assert_eq!(java_float(f32::INFINITY), "Infinity");
    }

    #[test]
    fn strings_are_escaped_as_jackson_does() {
        let text = "a\u{1}\u{b}\u{1f}\u{7f}\"\\/\u{2028} 😀 é\u{8}\u{c}\t";
        assert_eq!(
            String::from_utf8(payload_bytes(None, &json!(text), DecimalFormat::Base64)).unwrap(),
            "\"a\\u0001\\u000B\\u001F\u{7f}\\\"\\\\/\u{2028} \\uD83D\\uDE00 é\\b\\f\\t\""
        );
    }

    #[test]
    fn a_float32_too_large_for_32_bits_is_quoted_as_jackson_does() {
        let schema = Schema::new(SchemaType::Float);
        assert_eq!(
            String::from_utf8(payload_bytes(
                Some(&schema),
                &json!(1e300),
                DecimalFormat::Base64
            ))
            .unwrap(),
            "\"Infinity\""
        );
    }

    fn field(name: &str, schema: Schema) -> Field {
        Field {
            field: name.into(),
            schema,
        }
    }

    #[test]
    fn envelopes_follow_kafka_connect_byte_for_byte() {
        let mut decimal = Schema::new(SchemaType::Bytes);
        decimal.name = Some("org.apache.kafka.connect.data.Decimal".into());
        decimal.version = Some(1);
        let mut parameters = connect_api::Parameters::new();
        parameters.insert("scale".into(), json!("2"));
        parameters.insert("connect.decimal.precision".into(), json!("10"));
        decimal.parameters = Some(parameters);
        let mut schema = Schema::new(SchemaType::Struct);
        schema.name = Some("db.t.Value".into());
        schema.fields = Some(vec![
            field("z", Schema::new(SchemaType::Int32)),
            field("a", Schema::new(SchemaType::Double)),
            field("f", Schema::new(SchemaType::Float)),
            field("d", decimal),
            field("m", Schema::new(SchemaType::String).optional()),
        ]);
        let value = json!({"a": 3, "d": "MDk=", "extra": true, "f": f64::from(1.1_f32), "z": 1});
        let bytes = String::from_utf8(envelope_bytes(Some(&schema), &value, DecimalFormat::Base64))
            .unwrap();
        assert_eq!(
            bytes,
            concat!(
                r#"{"schema":{"type":"struct","fields":["#,
                r#"{"type":"int32","optional":false,"field":"z"},"#,
                r#"{"type":"double","optional":false,"field":"a"},"#,
                r#"{"type":"float","optional":false,"field":"f"},"#,
                r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"d"},"#,
                r#"{"type":"string","optional":true,"field":"m"}],"optional":false,"name":"db.t.Value"},"#,
                r#""payload":{"z":1,"a":3.0,"f":1.1,"d":"MDk=","m":null,"extra":true}}"#
            )
        );
        assert_eq!(
            String::from_utf8(payload_bytes(
                None,
                &json!({"b": 1.0e20}),
                DecimalFormat::Base64
            ))
            .unwrap(),
            r#"{"b":1.0E20}"#
        );
        assert_eq!(
            String::from_utf8(envelope_bytes(None, &json!("x"), DecimalFormat::Base64)).unwrap(),
            r#"{"schema":null,"payload":"x"}"#
        );
    }
}
