//! Connect's `Decimal` between our data model (base64 of the unscaled value's two's
//! complement bytes, as `BigInteger.toByteArray` writes them) and decimal text as Java's
//! `BigDecimal.toString` writes it (`12.30`, `1.2E-8`, `1E+3`): the payload JsonConverter
//! writes with `decimal.format=NUMERIC`, and reads in either format.
//!
//! Any size: MySQL's DECIMAL(65) does not fit 128 bits, so the unscaled value is converted
//! digit by digit (schoolbook base conversion; decimals are short).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use connect_api::{Schema, SchemaType};
use serde_json::Value;

use super::java_json::decimal_scale;

/// The logical name of Connect's decimal.
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";

/// `BigDecimal.toString` of base64 unscaled bytes at `scale`; `None` when the text is not
/// base64.
pub fn decimal_text(base64: &str, scale: i32) -> Option<String> {
    let bytes = BASE64.decode(base64).ok()?;
    let (negative, magnitude) = magnitude_of(&bytes);
    let digits = decimal_digits(&magnitude);
    Some(java_big_decimal_string(negative, &digits, scale))
}

/// Base64 unscaled bytes of decimal text (a JSON number: sign, digits, fraction, exponent)
/// at `scale`. Fewer fraction digits are padded; more are an error, as a value Kafka would
/// refuse to write at this scale.
pub fn decimal_base64(text: &str, scale: i32) -> Result<String, String> {
    let invalid = || format!("{text} is not a decimal number");
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().map_err(|_| invalid())?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = whole.bytes().chain(fraction.bytes()).collect();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    // value = digits × 10^(exponent − fraction length); unscaled = value × 10^scale.
    let fraction_len = i64::try_from(fraction.len()).map_err(|_| invalid())?;
    let shift = exponent - fraction_len + i64::from(scale);
    let mut digits: Vec<u8> = digits.iter().map(|d| d - b'0').collect();
    if shift >= 0 {
        let zeros = usize::try_from(shift).map_err(|_| invalid())?;
        if zeros > 1000 {
            return Err(format!("{text} is too large for scale {scale}"));
        }
        digits.extend(std::iter::repeat_n(0, zeros));
    } else {
        let cut = usize::try_from(-shift).map_err(|_| invalid())?;
        let keep = digits.len().saturating_sub(cut);
        if digits[keep..].iter().any(|d| *d != 0) {
            return Err(format!(
                "{text} has more fraction digits than scale {scale}"
            ));
        }
        digits.truncate(keep);
    }
    let magnitude = bytes_of_digits(&digits);
    Ok(BASE64.encode(twos_complement(negative, &magnitude)))
}

/// Turns every Decimal written as a JSON number in `value` (at any depth of `schema`) into
/// our base64 form. serde_json reads a number as a 64-bit float: digits beyond its ~17
/// significant ones are not kept (docs/connect.md).
pub fn numbers_to_base64(schema: &Schema, value: &mut Value) -> Result<(), String> {
    match (schema.schema_type, value) {
        (SchemaType::Bytes, value @ Value::Number(_))
            if schema.name.as_deref() == Some(DECIMAL) =>
        {
            let text = value.to_string();
            *value = Value::String(decimal_base64(&text, decimal_scale(schema))?);
        }
        (SchemaType::Struct, Value::Object(object)) => {
            for field in schema.fields.iter().flatten() {
                if let Some(child) = object.get_mut(&field.field) {
                    numbers_to_base64(&field.schema, child)?;
                }
            }
        }
        (SchemaType::Array, Value::Array(items)) => {
            if let Some(items_schema) = schema.items.as_deref() {
                for item in items {
                    numbers_to_base64(items_schema, item)?;
                }
            }
        }
        (SchemaType::Map, Value::Object(object)) => {
            if let Some(values_schema) = schema.values.as_deref() {
                for child in object.values_mut() {
                    numbers_to_base64(values_schema, child)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Sign and big-endian magnitude of two's complement bytes.
fn magnitude_of(bytes: &[u8]) -> (bool, Vec<u8>) {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    if !negative {
        return (false, bytes.to_vec());
    }
    // Negate: invert and add one.
    let mut magnitude: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for byte in magnitude.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            break;
        }
    }
    (true, magnitude)
}

/// Decimal digits (most significant first, no leading zeros, "0" for zero) of a
/// big-endian magnitude.
fn decimal_digits(magnitude: &[u8]) -> String {
    let mut number: Vec<u8> = magnitude.to_vec();
    let mut digits = Vec::new();
    while number.iter().any(|b| *b != 0) {
        let mut remainder = 0_u32;
        for byte in &mut number {
            let current = (remainder << 8) | u32::from(*byte);
            *byte = u8::try_from(current / 10).unwrap_or(0);
            remainder = current % 10;
        }
        digits.push(char::from(b'0' + u8::try_from(remainder).unwrap_or(0)));
    }
    if digits.is_empty() {
        return "0".to_owned();
    }
    digits.iter().rev().collect()
}

/// Big-endian magnitude of decimal digit values (0–9).
fn bytes_of_digits(digits: &[u8]) -> Vec<u8> {
    let mut bytes: Vec<u8> = Vec::new();
    for digit in digits {
        let mut carry = u32::from(*digit);
        for byte in bytes.iter_mut().rev() {
            let current = u32::from(*byte) * 10 + carry;
            *byte = low_byte(current);
            carry = current >> 8;
        }
        while carry > 0 {
            bytes.insert(0, low_byte(carry));
            carry >>= 8;
        }
    }
    bytes
}

fn low_byte(value: u32) -> u8 {
    u8::try_from(value & 0xff).unwrap_or(0)
}

/// `BigInteger.toByteArray`: the shortest two's complement, big-endian.
fn twos_complement(negative: bool, magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(magnitude.len());
    // One leading zero byte leaves room for the sign bit.
    let mut bytes: Vec<u8> = std::iter::once(0)
        .chain(magnitude[start..].iter().copied())
        .collect();
    if negative && bytes.len() > 1 {
        for byte in &mut bytes {
            *byte = !*byte;
        }
        for byte in bytes.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
    }
    // A leading byte that only repeats the sign of the next one is redundant.
    while bytes.len() > 1
        && ((bytes[0] == 0 && bytes[1] & 0x80 == 0) || (bytes[0] == 0xff && bytes[1] & 0x80 != 0))
    {
        bytes.remove(0);
    }
    bytes
}

/// `BigDecimal.toString` of `digits` (unscaled magnitude) at `scale`: plain when the scale
/// is not negative and the adjusted exponent is at least −6, else `d.dddE±n`.
fn java_big_decimal_string(negative: bool, digits: &str, scale: i32) -> String {
    let sign = if negative && digits != "0" { "-" } else { "" };
    let length = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let adjusted = length - 1 - i64::from(scale);
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    if scale > 0 && adjusted >= -6 {
        let scale = usize::try_from(scale).unwrap_or(0);
        return if digits.len() > scale {
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            format!("{sign}{whole}.{fraction}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        };
    }
    let (first, rest) = digits.split_at(1);
    let point = if rest.is_empty() { "" } else { "." };
    let exponent_sign = if adjusted >= 0 { "+" } else { "" };
    format!("{sign}{first}{point}{rest}E{exponent_sign}{adjusted}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str, scale: i32) -> String {
        let base64 = decimal_base64(text, scale).unwrap();
        decimal_text(&base64, scale).unwrap()
    }

    #[test]
    fn text_is_big_decimal_to_string() {
        // BigDecimal.toString of new BigDecimal(text).setScale(scale).
        for (text, scale, java) in [
            ("12.30", 2, "12.30"),
            ("12.3", 2, "12.30"),
            ("-12.34", 2, "-12.34"),
            ("0", 0, "0"),
            ("0", 3, "0.000"),
            ("-0.001", 3, "-0.001"),
            ("0.000000012", 9, "1.2E-8"),
            ("0.0000001", 7, "1E-7"),
            ("0.000001", 6, "0.000001"),
            ("1000", -3, "1E+3"),
            ("1200", -2, "1.2E+3"),
            ("-128", 0, "-128"),
            ("255", 0, "255"),
            ("1e3", 0, "1000"),
            (
                "123456789012345678901234567890123456789012345678901234567890.12345",
                5,
                "123456789012345678901234567890123456789012345678901234567890.12345",
            ),
            (
                "-99999999999999999999999999999999999999999",
                0,
                "-99999999999999999999999999999999999999999",
            ),
        ] {
            assert_eq!(round_trip(text, scale), java, "{text} at scale {scale}");
        }
    }

    #[test]
    fn bytes_are_big_integer_to_byte_array() {
        for (text, bytes) in [
            ("0", vec![0_u8]),
            ("1", vec![1]),
            ("127", vec![0x7f]),
            ("128", vec![0x00, 0x80]),
            ("-1", vec![0xff]),
            ("-128", vec![0x80]),
            ("-129", vec![0xff, 0x7f]),
            ("1234", vec![0x04, 0xd2]),
            ("-256", vec![0xff, 0x00]),
        ] {
            assert_eq!(
                BASE64.decode(decimal_base64(text, 0).unwrap()).unwrap(),
                bytes,
                "{text}"
            );
        }
    }

    #[test]
    fn more_fraction_digits_than_the_scale_are_refused() {
        assert!(decimal_base64("1.234", 2).is_err());
        assert!(decimal_base64("1.230", 2).is_ok());
        assert!(decimal_base64("abc", 2).is_err());
    }
}
