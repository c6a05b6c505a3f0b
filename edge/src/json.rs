//! JSON request bodies read as the Java services we are compatible with read them.
//!
//! Jackson's `ACCEPT_FLOAT_AS_INT` (on by default) takes `166.0` for an `int` field, so
//! Confluent's REST Proxy and Schema Registry accept it, and JSON Schema counts `166.0` as
//! an integer too (so a client generated from our OpenAPI documents may send it). serde
//! refuses it; a body refused for its data is therefore read again with every integral
//! float written as an integer. Use it for control bodies only, never for a body carrying
//! records, whose values must reach Kafka exactly as sent.

use serde::de::DeserializeOwned;
use serde_json::{Number, Value};

/// `serde_json::from_slice`, with integral floats (`3.0`) also taken for integer fields.
/// The error, when there is one, is the one of the body as sent.
pub fn from_slice_integral_floats<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let error = match serde_json::from_slice(bytes) {
        Ok(parsed) => return Ok(parsed),
        Err(error) if error.is_data() => error,
        Err(error) => return Err(error),
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(bytes) else {
        return Err(error);
    };
    if integral_floats_as_integers(&mut value) {
        T::deserialize(value).map_err(|_| error)
    } else {
        Err(error)
    }
}

/// `3.0` as `3`: a float without a fractional part, within i64's range, as an integer.
pub fn integral_float_as_integer(float: f64) -> Option<i64> {
    // i64's range, exclusive of 2^63, which is what f64 rounds i64::MAX up to.
    let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&float);
    #[allow(clippy::cast_possible_truncation)]
    (float.fract() == 0.0 && in_range).then_some(float as i64)
}

/// Rewrites `3.0` as `3` everywhere in `value`; whether anything changed.
fn integral_floats_as_integers(value: &mut Value) -> bool {
    match value {
        Value::Number(number) if number.is_f64() => {
            match number.as_f64().and_then(integral_float_as_integer) {
                Some(integer) => {
                    *number = Number::from(integer);
                    true
                }
                None => false,
            }
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
            integral_floats_as_integers(item) | changed
        }),
        Value::Object(fields) => fields.values_mut().fold(false, |changed, field| {
            integral_floats_as_integers(field) | changed
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Create {
        partitions_count: i32,
        configs: Vec<(String, i64)>,
    }

    #[test]
    fn integral_floats_are_taken_for_integer_fields() {
        let parsed: Create =
            from_slice_integral_floats(br#"{"partitions_count": 3.0, "configs": [["a", -2.0]]}"#)
                .unwrap();
        assert_eq!(
            parsed,
            Create {
                partitions_count: 3,
                configs: vec![("a".into(), -2)]
            }
        );
    }

    #[test]
    fn fractional_floats_and_other_errors_are_refused_as_sent() {
        let error =
            from_slice_integral_floats::<Create>(br#"{"partitions_count": 3.5, "configs": []}"#)
                .unwrap_err();
        assert!(error.to_string().contains("3.5"), "{error}");
        let error =
            from_slice_integral_floats::<Create>(br#"{"partitions_count": 3.0}"#).unwrap_err();
        assert!(error.is_data());
        assert!(
            from_slice_integral_floats::<Create>(b"{")
                .unwrap_err()
                .is_eof()
        );
    }
}
