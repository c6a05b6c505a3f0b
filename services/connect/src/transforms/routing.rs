//! Record-level SMTs: `RegexRouter`, `TimestampRouter`, `Filter`, `TimestampConverter`.

use std::sync::Arc;

use connect_api::{ConnectRecord, Schema, SchemaType};
use regex::Regex;
use serde_json::Value;

use super::fields::logical_timestamp;
use super::predicates::full_match;
use super::{AliasConfig, Side, Transformation};
use crate::error::ConfigIssue;

#[derive(Debug)]
pub(super) struct RegexRouter {
    regex: Regex,
    replacement: String,
}

impl RegexRouter {
    pub(super) fn new(settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        let pattern = settings.required("regex")?;
        let regex = full_match(pattern).map_err(|error| {
            ConfigIssue::new(
                settings.key("regex"),
                format!("Invalid regex {pattern}: {error}"),
            )
        })?;
        Ok(Self {
            regex,
            // Java's `$1` is also the regex crate's syntax; `${1}` keeps `$1a` unambiguous.
            replacement: settings.required("replacement")?.to_owned(),
        })
    }
}

impl Transformation for RegexRouter {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        if self.regex.is_match(&record.topic) {
            let replaced = self
                .regex
                .replace(&record.topic, self.replacement.as_str())
                .into_owned();
            record.topic = replaced;
        }
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct TimestampRouter {
    topic_format: String,
    timestamp_format: String,
}

impl TimestampRouter {
    pub(super) fn new(settings: &AliasConfig<'_>) -> Self {
        Self {
            topic_format: settings
                .get("topic.format")
                .unwrap_or("${topic}-${timestamp}")
                .to_owned(),
            timestamp_format: settings
                .get("timestamp.format")
                .unwrap_or("yyyyMMdd")
                .to_owned(),
        }
    }
}

impl Transformation for TimestampRouter {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let timestamp = record
            .timestamp
            .ok_or_else(|| format!("Timestamp missing on record: topic {}", record.topic))?;
        let formatted = format_timestamp(timestamp, &self.timestamp_format);
        record.topic = self
            .topic_format
            .replace("${topic}", &record.topic)
            .replace("${timestamp}", &formatted);
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct Filter;

impl Transformation for Filter {
    fn apply(&self, _record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        Ok(None)
    }
}

/// `TimestampConverter` between `unix` (ms, or `unix.precision`), `string` (with `format`)
/// and the logical `Timestamp`/`Date`/`Time` types (epoch ms with the Connect logical name).
#[derive(Debug)]
pub(super) struct TimestampConverter {
    side: Side,
    field: Option<String>,
    target: Target,
    format: String,
    precision_factor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Unix,
    String,
    Timestamp,
    Date,
    Time,
}

impl TimestampConverter {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        let target = match settings.required("target.type")?.trim() {
            "unix" => Target::Unix,
            "string" => Target::String,
            "Timestamp" => Target::Timestamp,
            "Date" => Target::Date,
            "Time" => Target::Time,
            other => {
                return Err(ConfigIssue::new(
                    settings.key("target.type"),
                    format!(
                        "Invalid value {other} for configuration {}: Unknown timestamp type",
                        settings.key("target.type")
                    ),
                ));
            }
        };
        let format = settings.get("format").unwrap_or("").to_owned();
        if target == Target::String && format.is_empty() {
            return Err(ConfigIssue::new(
                settings.key("format"),
                "TimestampConverter requires format option to be specified when using string timestamps",
            ));
        }
        let precision_factor = match settings.get("unix.precision").unwrap_or("milliseconds") {
            "seconds" => -1000,
            "microseconds" => 1000,
            "nanoseconds" => 1_000_000,
            _ => 1,
        };
        Ok(Self {
            side,
            field: settings
                .get("field")
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
            target,
            format,
            precision_factor,
        })
    }

    fn to_millis(&self, value: &Value) -> Result<i64, String> {
        match value {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| format!("timestamp {n} is not an integer")),
            Value::String(text) => parse_timestamp(text).ok_or_else(|| {
                format!("Could not parse timestamp: value ({text}) does not match the format")
            }),
            other => Err(format!("Expected a timestamp, found {other}")),
        }
    }

    fn convert(&self, value: &Value) -> Result<(Value, Schema), String> {
        if value.is_null() {
            return Ok((Value::Null, Schema::new(SchemaType::Int64).optional()));
        }
        let millis = self.to_millis(value)?;
        Ok(match self.target {
            Target::Unix => {
                let unix = match self.precision_factor {
                    -1000 => millis / 1000,
                    factor => millis * factor,
                };
                (Value::from(unix), Schema::new(SchemaType::Int64))
            }
            Target::String => (
                Value::String(format_timestamp(millis, &self.format)),
                Schema::new(SchemaType::String),
            ),
            Target::Timestamp => (
                Value::from(millis),
                logical_timestamp(Schema::new(SchemaType::Int64)),
            ),
            Target::Date => {
                let days = millis.div_euclid(86_400_000);
                (
                    Value::from(days),
                    logical(SchemaType::Int32, "org.apache.kafka.connect.data.Date"),
                )
            }
            Target::Time => (
                Value::from(millis.rem_euclid(86_400_000)),
                logical(SchemaType::Int32, "org.apache.kafka.connect.data.Time"),
            ),
        })
    }
}

impl Transformation for TimestampConverter {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let (schema, value) = Side::of(&mut record, self.side);
        match &self.field {
            None => {
                let (converted, mut new_schema) = self.convert(value)?;
                *value = converted;
                if let Some(old) = schema.as_ref() {
                    new_schema.optional = old.optional;
                    *schema = Some(new_schema.into());
                }
            }
            Some(field) => {
                if let Value::Object(map) = value
                    && let Some(current) = map.get(field)
                {
                    let (converted, new_schema) = self.convert(current)?;
                    map.insert(field.clone(), converted);
                    if let Some(field_schema) = schema
                        .as_mut()
                        .map(Arc::make_mut)
                        .and_then(|s| s.fields.as_mut())
                        .and_then(|fields| fields.iter_mut().find(|f| &f.field == field))
                    {
                        let optional = field_schema.schema.optional;
                        field_schema.schema = new_schema;
                        field_schema.schema.optional = optional;
                    }
                }
            }
        }
        Ok(Some(record))
    }
}

/// A Connect logical type (`Date`, `Time`): its name and version 1, as Kafka's builders set.
fn logical(kind: SchemaType, name: &str) -> Schema {
    Schema {
        version: Some(1),
        ..Schema::new(kind).named(name)
    }
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's civil-from-days.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats epoch ms (UTC) with the `SimpleDateFormat` letters `yyyy MM dd HH mm ss SSS`;
/// text in single quotes is literal.
pub(super) fn format_timestamp(millis: i64, format: &str) -> String {
    let days = millis.div_euclid(86_400_000);
    let in_day = millis.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    let mut out = String::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        match c {
            'y' if run == 2 => out.push_str(&format!("{:02}", year % 100)),
            'y' => out.push_str(&format!("{year:04}")),
            'M' => out.push_str(&format!("{month:0run$}")),
            'd' => out.push_str(&format!("{day:0run$}")),
            'H' => out.push_str(&format!("{hour:0run$}")),
            'm' => out.push_str(&format!("{minute:0run$}")),
            's' => out.push_str(&format!("{second:0run$}")),
            'S' => out.push_str(&format!("{milli:03}")),
            other => {
                for _ in 0..run {
                    out.push(other);
                }
            }
        }
        i += run;
    }
    out
}

/// Parses `yyyy-MM-dd[ T]HH:mm:ss[.SSS][Z]` or `yyyy-MM-dd` (UTC) into epoch ms.
fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('Z');
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let mut millis = days_from_civil(year, month, day) * 86_400_000;
    if let Some(time) = time {
        let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
        let mut clock = clock.split(':');
        let hour: i64 = clock.next()?.parse().ok()?;
        let minute: i64 = clock.next().unwrap_or("0").parse().ok()?;
        let second: i64 = clock.next().unwrap_or("0").parse().ok()?;
        let fraction: String = fraction.chars().chain("000".chars()).take(3).collect();
        millis +=
            hour * 3_600_000 + minute * 60_000 + second * 1000 + fraction.parse::<i64>().ok()?;
    }
    Some(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_utc_timestamps() {
        let millis = 1_700_000_000_123;
        assert_eq!(format_timestamp(millis, "yyyyMMdd"), "20231114");
        assert_eq!(
            format_timestamp(millis, "yyyy-MM-dd'T'HH:mm:ss.SSS"),
            "2023-11-14T22:13:20.123"
        );
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123Z"), Some(millis));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400_000));
    }
}
