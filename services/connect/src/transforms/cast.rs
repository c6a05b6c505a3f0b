//! `Cast$Key` / `Cast$Value`: the whole key or value, or top-level fields of a struct or
//! map, to `int8`, `int16`, `int32`, `int64`, `float32`, `float64`, `boolean` or `string`,
//! with the results Kafka's `Cast` gives, so the bytes a converter writes afterwards are
//! the ones Kafka Connect writes (tests/it/kafka_connect_bytes.rs):
//!
//! - text is read as Java's `Byte.parseByte` … `Long.parseLong` (a sign, decimal digits,
//!   range-checked: `"1.5"` or `"128"` to int8 fail the record), `Double.parseDouble` /
//!   `Float.parseFloat` (surrounding whitespace, `NaN`, `Infinity`, a `d`/`f` suffix) and
//!   `Boolean.parseBoolean` (`true` in any case, nothing else);
//! - numbers narrow as Java's `Number.byteValue()` … `longValue()` do (integers wrap,
//!   fractions truncate and saturate), and a number is `true` when its `longValue()` is not 0;
//! - `string` spells a float64 as `Double.toString` and a float32 as `Float.toString`;
//! - a non-finite float is carried as the text `NaN`, `Infinity` or `-Infinity`, which is
//!   what JsonConverter writes for it (Jackson quotes non-finite numbers);
//! - a cast field gets a fresh schema of the target type that keeps only its optionality
//!   (Kafka builds it with `SchemaBuilder`), a cast whole value keeps its name, version, doc
//!   and parameters (`SchemaUtil.copySchemaBasics`).

use std::sync::Arc;

use connect_api::{ConnectRecord, Schema, SchemaType};
use serde_json::Value;

use super::{AliasConfig, Side, Transformation};
use crate::converters::java_json::{java_double, java_float};
use crate::error::ConfigIssue;

#[derive(Debug)]
pub(super) struct Cast {
    side: Side,
    whole: Option<SchemaType>,
    fields: Vec<(String, SchemaType)>,
}

/// A target named as Kafka's `Schema.Type` (`float64`, any case); `float` and `double`,
/// the JSON schema spellings, are accepted too.
fn cast_type(text: &str) -> Option<SchemaType> {
    match text.trim().to_ascii_lowercase().as_str() {
        "int8" => Some(SchemaType::Int8),
        "int16" => Some(SchemaType::Int16),
        "int32" => Some(SchemaType::Int32),
        "int64" => Some(SchemaType::Int64),
        "float32" | "float" => Some(SchemaType::Float),
        "float64" | "double" => Some(SchemaType::Double),
        "boolean" => Some(SchemaType::Boolean),
        "string" => Some(SchemaType::String),
        _ => None,
    }
}

impl Cast {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        let spec = settings.required("spec")?;
        let bad = |item: &str| {
            ConfigIssue::new(
                settings.key("spec"),
                format!("Invalid value {item} for configuration spec: invalid cast spec"),
            )
        };
        let items = connect_api::config::split_list(spec);
        if items.len() == 1 && !items[0].contains(':') {
            return Ok(Self {
                side,
                whole: Some(cast_type(&items[0]).ok_or_else(|| bad(&items[0]))?),
                fields: Vec::new(),
            });
        }
        let mut fields = Vec::new();
        for item in items {
            let (field, target) = item.split_once(':').ok_or_else(|| bad(&item))?;
            fields.push((
                field.trim().to_owned(),
                cast_type(target).ok_or_else(|| bad(&item))?,
            ));
        }
        Ok(Self {
            side,
            whole: None,
            fields,
        })
    }
}

/// The Java value a cast starts from, by schema type (or, without a schema, by the JSON).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source<'a> {
    Integer(i64),
    /// A float64, or a float32 (`narrow`) whose value is exactly an `f32`.
    Floating {
        value: f64,
        narrow: bool,
    },
    Boolean(bool),
    Text(&'a str),
    /// Base64 bytes: only `string` takes them (as they are).
    Bytes(&'a str),
}

fn out_of_range(text: &str) -> String {
    format!("Value ({text}) was out of range for requested data type")
}

fn source<'a>(schema: Option<&Schema>, value: &'a Value) -> Result<Source<'a>, String> {
    let kind = schema.map(|s| s.schema_type);
    let floating = |narrow: bool| -> Result<Source<'a>, String> {
        let value = match value {
            Value::Number(number) => number.as_f64().unwrap_or(f64::NAN),
            // The text a non-finite float is carried as.
            Value::String(text) => java_parse_double(text).ok_or_else(|| out_of_range(text))?,
            other => return Err(unexpected(other)),
        };
        Ok(Source::Floating { value, narrow })
    };
    match (kind, value) {
        (Some(SchemaType::Double), _) => floating(false),
        (Some(SchemaType::Float), _) => floating(true),
        (Some(kind @ (SchemaType::Array | SchemaType::Map | SchemaType::Struct)), _) => {
            Err(format!(
                "Cast transformation does not support casting from {}; supported types are \
                 [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]",
                kind.kafka_name()
            ))
        }
        (Some(SchemaType::Bytes), Value::String(text)) => Ok(Source::Bytes(text)),
        (_, Value::Number(number)) => match number.as_i64() {
            Some(integer) => Ok(Source::Integer(integer)),
            None => Ok(Source::Floating {
                value: number.as_f64().unwrap_or(f64::NAN),
                narrow: false,
            }),
        },
        (_, Value::Bool(flag)) => Ok(Source::Boolean(*flag)),
        (_, Value::String(text)) => Ok(Source::Text(text)),
        (_, other) => Err(unexpected(other)),
    }
}

fn unexpected(value: &Value) -> String {
    format!("Unexpected type in Cast transformation: {value}")
}

/// `Double.parseDouble`: Java's whitespace trimmed, an optional sign, `NaN`, `Infinity`
/// or a decimal number with an optional exponent and `d`/`f` suffix. Hexadecimal
/// floating-point literals are not read.
fn java_parse_double(text: &str) -> Option<f64> {
    let trimmed = text.trim_matches(|c: char| c <= ' ');
    let unsigned = trimmed.trim_start_matches(['+', '-']);
    if trimmed.len() - unsigned.len() > 1 {
        return None;
    }
    let negative = trimmed.starts_with('-');
    let magnitude = match unsigned {
        "NaN" => return Some(f64::NAN),
        "Infinity" => f64::INFINITY,
        _ => {
            let number = unsigned
                .strip_suffix(['d', 'D', 'f', 'F'])
                .unwrap_or(unsigned);
            let allowed = |c: char| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-');
            if number.is_empty() || !number.chars().all(allowed) {
                return None;
            }
            number.parse::<f64>().ok()?
        }
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// A float as Connect data: a number, or the text JsonConverter writes for a non-finite one.
fn float_value(value: f64) -> Value {
    if value.is_finite() {
        Value::from(value)
    } else {
        Value::String(java_double(value))
    }
}

/// Java's `(int) d`: truncates, saturates, NaN is 0 (Rust's `as` does the same).
#[allow(clippy::cast_possible_truncation)]
fn java_int(value: f64) -> i32 {
    value as i32
}

#[allow(clippy::cast_possible_truncation)]
fn java_long(value: f64) -> i64 {
    value as i64
}

#[allow(clippy::cast_possible_truncation)]
fn cast_integer(source: Source<'_>, target: SchemaType) -> Result<i64, String> {
    let parse = |text: &str| -> Result<i64, String> {
        let parsed = match target {
            SchemaType::Int8 => text.parse::<i8>().map(i64::from).ok(),
            SchemaType::Int16 => text.parse::<i16>().map(i64::from).ok(),
            SchemaType::Int32 => text.parse::<i32>().map(i64::from).ok(),
            _ => text.parse::<i64>().ok(),
        };
        parsed.ok_or_else(|| out_of_range(text))
    };
    let narrow = |wide: i64| -> i64 {
        match target {
            SchemaType::Int8 => i64::from(wide as i8),
            SchemaType::Int16 => i64::from(wide as i16),
            SchemaType::Int32 => i64::from(wide as i32),
            _ => wide,
        }
    };
    Ok(match source {
        Source::Integer(integer) => narrow(integer),
        // Double.byteValue() and shortValue() narrow (int) d; intValue() and longValue()
        // saturate.
        Source::Floating { value, .. } => match target {
            SchemaType::Int64 => java_long(value),
            _ => narrow(i64::from(java_int(value))),
        },
        Source::Boolean(flag) => i64::from(flag),
        Source::Text(text) => parse(text)?,
        Source::Bytes(_) => return Err(BYTES_ONLY_TO_STRING.to_owned()),
    })
}

#[allow(clippy::cast_possible_truncation)]
fn cast_value(schema: Option<&Schema>, value: &Value, target: SchemaType) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let source = source(schema, value)?;
    Ok(match target {
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 => {
            Value::from(cast_integer(source, target)?)
        }
        SchemaType::Float | SchemaType::Double => {
            let wide = match source {
                Source::Integer(integer) => integer as f64,
                Source::Floating { value, .. } => value,
                Source::Boolean(flag) => f64::from(u8::from(flag)),
                Source::Text(text) => java_parse_double(text).ok_or_else(|| out_of_range(text))?,
                Source::Bytes(_) => bytes_only_to_string()?,
            };
            if target == SchemaType::Float && !(wide as f32).is_finite() {
                float_value(f64::from(wide as f32))
            } else {
                float_value(wide)
            }
        }
        SchemaType::Boolean => Value::Bool(match source {
            Source::Integer(integer) => integer != 0,
            Source::Floating { value, .. } => java_long(value) != 0,
            Source::Boolean(flag) => flag,
            Source::Text(text) => text.eq_ignore_ascii_case("true"),
            Source::Bytes(_) => bytes_only_to_string()?,
        }),
        _ => Value::String(match source {
            Source::Integer(integer) => integer.to_string(),
            Source::Floating {
                value,
                narrow: true,
            } => java_float(value as f32),
            Source::Floating {
                value,
                narrow: false,
            } => java_double(value),
            Source::Boolean(flag) => flag.to_string(),
            Source::Text(text) => text.to_owned(),
            Source::Bytes(base64) => base64.to_owned(),
        }),
    })
}

/// Kafka's message when bytes are cast to anything but a string.
const BYTES_ONLY_TO_STRING: &str = "Unexpected type in Cast transformation: class [B";

fn bytes_only_to_string<T>() -> Result<T, String> {
    Err(BYTES_ONLY_TO_STRING.to_owned())
}

/// A cast field's new schema: the target type, optional when the old one was.
fn field_schema(old: &Schema, target: SchemaType) -> Result<Schema, String> {
    let mut schema = Schema::new(target);
    schema.optional = old.optional;
    if let Some(default) = &old.default {
        schema.default = Some(cast_value(Some(old), default, target)?);
    }
    Ok(schema)
}

impl Transformation for Cast {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let (schema, value) = Side::of(&mut record, self.side);
        if value.is_null() {
            return Ok(Some(record));
        }
        if let Some(target) = self.whole {
            *value = cast_value(schema.as_deref(), value, target)?;
            if let Some(schema) = schema.as_mut().map(Arc::make_mut) {
                let default = schema
                    .default
                    .as_ref()
                    .map(|default| cast_value(Some(schema), default, target))
                    .transpose()?;
                schema.default = default;
                schema.schema_type = target;
            }
            return Ok(Some(record));
        }
        let Value::Object(map) = value else {
            let what = if schema.is_some() { "Struct" } else { "Map" };
            return Err(format!(
                "Only {what} objects supported for [cast types], found: {value}"
            ));
        };
        for (field, target) in &self.fields {
            let field_schema_before = schema
                .as_ref()
                .and_then(|s| s.field(field))
                .map(|f| &f.schema);
            if let Some(current) = map.get(field) {
                let cast = cast_value(field_schema_before, current, *target)?;
                map.insert(field.clone(), cast);
            }
            if let Some(slot) = schema
                .as_mut()
                .map(Arc::make_mut)
                .and_then(|s| s.fields.as_mut())
                .and_then(|fields| fields.iter_mut().find(|f| &f.field == field))
            {
                slot.schema = field_schema(&slot.schema, *target)?;
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use connect_api::{ConfigMap, Field};
    use serde_json::json;

    use super::*;

    fn cast(spec: &str, schema: Option<Schema>, value: Value) -> Result<ConnectRecord, String> {
        let config: ConfigMap = [("t.spec".to_owned(), spec.to_owned())].into();
        let settings = AliasConfig {
            prefix: "t.".to_owned(),
            config: &config,
        };
        let smt = Cast::new(Side::Value, &settings).unwrap();
        smt.apply(ConnectRecord::new("topic", schema.map(Arc::new), value))
            .map(Option::unwrap)
    }

    fn string() -> Option<Schema> {
        Some(Schema::new(SchemaType::String))
    }

    #[test]
    fn text_is_read_as_java_parses_it() {
        let value = |spec: &str, text: &str| cast(spec, string(), json!(text)).map(|r| r.value);
        assert_eq!(value("float64", " 2.5 "), Ok(json!(2.5)));
        assert_eq!(value("float64", "+7"), Ok(json!(7.0)));
        assert_eq!(value("float64", "1.5d"), Ok(json!(1.5)));
        assert_eq!(value("float64", "NaN"), Ok(json!("NaN")));
        assert_eq!(value("float64", "-Infinity"), Ok(json!("-Infinity")));
        assert!(value("float64", "inf").is_err());
        assert_eq!(
            value("float32", "1.7976931348623157E308"),
            Ok(json!("Infinity"))
        );
        assert_eq!(value("int8", "+5"), Ok(json!(5)));
        assert_eq!(
            value("int8", "128"),
            Err("Value (128) was out of range for requested data type".to_owned())
        );
        assert!(value("int32", "1.5").is_err());
        assert!(value("int64", " 1").is_err());
        assert_eq!(value("boolean", "TRUE"), Ok(json!(true)));
        assert_eq!(value("boolean", " true"), Ok(json!(false)));
        assert_eq!(value("boolean", "yes"), Ok(json!(false)));
    }

    #[test]
    fn numbers_narrow_and_spell_as_java_does() {
        let int64 = Some(Schema::new(SchemaType::Int64));
        let double = Some(Schema::new(SchemaType::Double));
        let float = Some(Schema::new(SchemaType::Float));
        assert_eq!(
            cast("int8", int64.clone(), json!(300)).unwrap().value,
            json!(44)
        );
        assert_eq!(
            cast("int16", double.clone(), json!(1e10)).unwrap().value,
            json!(-1)
        );
        assert_eq!(
            cast("int32", double.clone(), json!(1e10)).unwrap().value,
            json!(i32::MAX)
        );
        assert_eq!(
            cast("boolean", double.clone(), json!(0.5)).unwrap().value,
            json!(false)
        );
        assert_eq!(
            cast("string", double.clone(), json!(1e10)).unwrap().value,
            json!("1.0E10")
        );
        assert_eq!(
            cast("string", float, json!(f64::from(0.1_f32)))
                .unwrap()
                .value,
            json!("0.1")
        );
        assert_eq!(cast("string", int64, json!(5)).unwrap().value, json!("5"));
        assert_eq!(
            cast("string", double, json!("NaN")).unwrap().value,
            json!("NaN")
        );
    }

    #[test]
    fn a_cast_field_gets_a_fresh_schema_and_a_whole_value_keeps_its_name() {
        let mut named = Schema::new(SchemaType::String).optional().named("x.Line");
        named.version = Some(3);
        let schema = Schema::structure(vec![Field::new("n", named.clone())]);
        let out = cast("n:float64", Some(schema), json!({"n": "1"})).unwrap();
        assert_eq!(
            out.value_schema.unwrap().fields.clone().unwrap()[0].schema,
            Schema::new(SchemaType::Double).optional()
        );
        let out = cast("int32", Some(named), json!("1")).unwrap();
        let whole = out.value_schema.unwrap();
        assert_eq!(
            (whole.schema_type, whole.name.as_deref(), whole.version),
            (SchemaType::Int32, Some("x.Line"), Some(3))
        );
    }

    #[test]
    fn validate_rejects_bad_cast_spec() {
        let config: ConfigMap = [("t.spec".to_owned(), "id:bogus".to_owned())].into();
        let settings = AliasConfig {
            prefix: "t.".to_owned(),
            config: &config,
        };
        assert_eq!(Cast::new(Side::Value, &settings).unwrap_err().key, "t.spec");
        for spec in ["float64", "FLOAT32", "id:int8", "double"] {
            let config: ConfigMap = [("t.spec".to_owned(), spec.to_owned())].into();
            let settings = AliasConfig {
                prefix: "t.".to_owned(),
                config: &config,
            };
            assert!(Cast::new(Side::Value, &settings).is_ok(), "{spec}");
        }
    }
}
