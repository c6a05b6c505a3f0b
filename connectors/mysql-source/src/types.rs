//! MySQL column types → Connect schemas and values, as Debezium maps them.
//!
//! Values reach us in two forms: as text (the snapshot reads with the text protocol, the
//! session in UTC and utf8mb4) and as binlog row images (binary, strings in the column's
//! own charset, integers without their signedness, `BINARY(n)` without trailing zeros).
//! Both are normalised here so that a row read by the snapshot and the same row read from
//! the binlog produce identical JSON. The column's kind comes from `information_schema`
//! ([`crate::schema`]), never from the binlog alone, because the table map event does not
//! carry signedness, enum labels or names without `binlog_row_metadata=FULL`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use connect_api::{Schema, SchemaType};
use mysql_async::Value as MyValue;
use mysql_async::binlog::value::BinlogValue;
use serde_json::Value;

mod calendar;
mod geometry;

pub use calendar::{days_from_civil, zoned, zoned_iso};
use calendar::{parse_date, parse_datetime, parse_time};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMode {
    Precise,
    Double,
    String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePrecision {
    AdaptiveTimeMicroseconds,
    Adaptive,
    Connect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BigintUnsigned {
    Long,
    Precise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryMode {
    Bytes,
    Base64,
    Hex,
}

/// The `*.handling.mode` / `time.precision.mode` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeModes {
    pub decimal: DecimalMode,
    pub time: TimePrecision,
    pub bigint_unsigned: BigintUnsigned,
    pub binary: BinaryMode,
}

impl Default for TypeModes {
    fn default() -> Self {
        Self {
            decimal: DecimalMode::Precise,
            time: TimePrecision::AdaptiveTimeMicroseconds,
            bigint_unsigned: BigintUnsigned::Precise,
            binary: BinaryMode::Bytes,
        }
    }
}

impl TypeModes {
    /// From already-validated strings; unknown text falls back to the default.
    pub fn parse(decimal: &str, time: &str, bigint: &str, binary: &str) -> Self {
        Self {
            decimal: match decimal.trim() {
                "double" => DecimalMode::Double,
                "string" => DecimalMode::String,
                _ => DecimalMode::Precise,
            },
            time: match time.trim() {
                "adaptive" => TimePrecision::Adaptive,
                "connect" => TimePrecision::Connect,
                _ => TimePrecision::AdaptiveTimeMicroseconds,
            },
            bigint_unsigned: match bigint.trim() {
                "long" => BigintUnsigned::Long,
                _ => BigintUnsigned::Precise,
            },
            binary: match binary.trim() {
                "base64" => BinaryMode::Base64,
                "hex" => BinaryMode::Hex,
                _ => BinaryMode::Bytes,
            },
        }
    }
}

/// Character sets whose bytes we decode ourselves (binlog images are not converted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Latin1,
    Other,
}

impl Charset {
    pub fn from_name(name: &str) -> Self {
        match name {
            "utf8" | "utf8mb3" | "utf8mb4" | "ascii" => Self::Utf8,
            "latin1" => Self::Latin1,
            _ => Self::Other,
        }
    }

    fn decode(self, bytes: &[u8]) -> String {
        match self {
            Self::Latin1 => bytes.iter().map(|b| cp1252(*b)).collect(),
            Self::Utf8 | Self::Other => String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

/// MySQL's `latin1` is Windows-1252.
fn cp1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    if (0x80..0xa0).contains(&byte) {
        HIGH[usize::from(byte - 0x80)]
    } else {
        char::from(byte)
    }
}

/// What a column holds, from `information_schema.COLUMNS`. `Point` is POINT (Debezium's
/// `io.debezium.data.geometry.Point`), `Geometry` every other spatial type
/// (`io.debezium.data.geometry.Geometry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    Integer { bytes: u8, unsigned: bool },
    Decimal { precision: u32, scale: u32 },
    Float,
    Double,
    Date,
    Time { fsp: u8 },
    DateTime { fsp: u8 },
    Timestamp { fsp: u8 },
    Year,
    Text { charset: Charset },
    Binary { fixed: Option<usize> },
    Json,
    Enum(Vec<String>),
    Set(Vec<String>),
    Bit { bits: u32 },
    Point,
    Geometry,
}

/// Labels of `enum('a','b')` / `set('a','b')`, with `''` unescaped.
fn labels(column_type: &str) -> Vec<String> {
    let Some(open) = column_type.find('(') else {
        return Vec::new();
    };
    let inner = column_type[open + 1..].trim_end_matches(')');
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    label.push('\'');
                } else {
                    break;
                }
            } else if c == '\\' {
                if let Some(next) = chars.next() {
                    label.push(next);
                }
            } else {
                label.push(c);
            }
        }
        out.push(label);
    }
    out
}

fn number_in_parens(column_type: &str) -> Option<u32> {
    let open = column_type.find('(')?;
    let close = column_type[open..].find(')')? + open;
    column_type[open + 1..close]
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

impl ColumnKind {
    /// From `DATA_TYPE`, `COLUMN_TYPE`, precision/scale and charset columns. MariaDB's JSON
    /// is an alias of LONGTEXT (with a `json_valid` check) and, as in Debezium's MariaDB
    /// connector, a plain string: only MySQL's `json` type is `io.debezium.data.Json`.
    pub fn from_information_schema(
        data_type: &str,
        column_type: &str,
        numeric_precision: Option<u32>,
        numeric_scale: Option<u32>,
        datetime_precision: Option<u32>,
        charset: Option<&str>,
    ) -> Self {
        let column_type = column_type.to_ascii_lowercase();
        let unsigned = column_type.contains("unsigned");
        let fsp = datetime_precision
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(0);
        let text = || Self::Text {
            charset: Charset::from_name(charset.unwrap_or("utf8mb4")),
        };
        match data_type.to_ascii_lowercase().as_str() {
            "tinyint" | "bool" | "boolean" => Self::Integer { bytes: 1, unsigned },
            "smallint" => Self::Integer { bytes: 2, unsigned },
            "mediumint" => Self::Integer { bytes: 3, unsigned },
            "int" | "integer" => Self::Integer { bytes: 4, unsigned },
            "bigint" => Self::Integer { bytes: 8, unsigned },
            "decimal" | "numeric" => Self::Decimal {
                precision: numeric_precision.unwrap_or(10),
                scale: numeric_scale.unwrap_or(0),
            },
            "float" => Self::Float,
            "double" | "real" => Self::Double,
            "date" => Self::Date,
            "time" => Self::Time { fsp },
            "datetime" => Self::DateTime { fsp },
            "timestamp" => Self::Timestamp { fsp },
            "year" => Self::Year,
            "json" => Self::Json,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => text(),
            "binary" => Self::Binary {
                fixed: number_in_parens(&column_type).and_then(|n| usize::try_from(n).ok()),
            },
            "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                Self::Binary { fixed: None }
            }
            "enum" => Self::Enum(labels(&column_type)),
            "set" => Self::Set(labels(&column_type)),
            "bit" => Self::Bit {
                bits: number_in_parens(&column_type).unwrap_or(1),
            },
            "point" => Self::Point,
            "geometry" | "linestring" | "polygon" | "multipoint" | "multilinestring"
            | "multipolygon" | "geometrycollection" | "geomcollection" => Self::Geometry,
            // Anything newer: the raw bytes.
            _ => Self::Binary { fixed: None },
        }
    }

    /// The Connect schema Debezium gives this kind (not yet optional).
    pub fn schema(&self, modes: &TypeModes) -> Schema {
        let named = |t: SchemaType, name: &str| Schema::new(t).named(name);
        match self {
            Self::Integer {
                bytes: 1 | 2,
                unsigned: false,
            }
            | Self::Integer { bytes: 1, .. } => Schema::new(SchemaType::Int16),
            Self::Integer { bytes: 2 | 3, .. }
            | Self::Integer {
                bytes: 4,
                unsigned: false,
            } => Schema::new(SchemaType::Int32),
            Self::Integer {
                bytes: 8,
                unsigned: true,
            } if modes.bigint_unsigned == BigintUnsigned::Precise => decimal_schema(20, 0),
            Self::Integer { .. } => Schema::new(SchemaType::Int64),
            Self::Decimal { precision, scale } => match modes.decimal {
                DecimalMode::Precise => decimal_schema(*precision, *scale),
                DecimalMode::Double => Schema::new(SchemaType::Double),
                DecimalMode::String => Schema::new(SchemaType::String),
            },
            Self::Float => Schema::new(SchemaType::Float),
            Self::Double => Schema::new(SchemaType::Double),
            Self::Date => match modes.time {
                TimePrecision::Connect => {
                    named(SchemaType::Int32, "org.apache.kafka.connect.data.Date").versioned(1)
                }
                _ => named(SchemaType::Int32, "io.debezium.time.Date").versioned(1),
            },
            Self::Time { fsp } => match (modes.time, fsp) {
                (TimePrecision::Connect, _) => {
                    named(SchemaType::Int32, "org.apache.kafka.connect.data.Time").versioned(1)
                }
                (TimePrecision::Adaptive, 0..=3) => {
                    named(SchemaType::Int32, "io.debezium.time.Time").versioned(1)
                }
                _ => named(SchemaType::Int64, "io.debezium.time.MicroTime").versioned(1),
            },
            Self::DateTime { fsp } => match (modes.time, fsp) {
                (TimePrecision::Connect, _) => {
                    named(SchemaType::Int64, "org.apache.kafka.connect.data.Timestamp").versioned(1)
                }
                (_, 0..=3) => named(SchemaType::Int64, "io.debezium.time.Timestamp").versioned(1),
                _ => named(SchemaType::Int64, "io.debezium.time.MicroTimestamp").versioned(1),
            },
            Self::Timestamp { .. } => {
                named(SchemaType::String, "io.debezium.time.ZonedTimestamp").versioned(1)
            }
            Self::Year => named(SchemaType::Int32, "io.debezium.time.Year").versioned(1),
            Self::Text { .. } => Schema::new(SchemaType::String),
            Self::Binary { .. } => match modes.binary {
                BinaryMode::Bytes => Schema::new(SchemaType::Bytes),
                BinaryMode::Base64 | BinaryMode::Hex => Schema::new(SchemaType::String),
            },
            Self::Json => named(SchemaType::String, "io.debezium.data.Json").versioned(1),
            Self::Enum(values) => with_parameter(
                named(SchemaType::String, "io.debezium.data.Enum").versioned(1),
                "allowed",
                &values.join(","),
            ),
            Self::Set(values) => with_parameter(
                named(SchemaType::String, "io.debezium.data.EnumSet").versioned(1),
                "allowed",
                &values.join(","),
            ),
            Self::Bit { bits: 1 } => Schema::new(SchemaType::Boolean),
            Self::Bit { bits } => with_parameter(
                named(SchemaType::Bytes, "io.debezium.data.Bits").versioned(1),
                "length",
                &bits.to_string(),
            ),
            Self::Point => geometry::point_schema(),
            Self::Geometry => geometry::geometry_schema(),
        }
    }

    /// A value read with the text protocol (session in UTC, utf8mb4).
    pub fn from_text(&self, text: &[u8], modes: &TypeModes) -> Result<Value, String> {
        let as_str = || String::from_utf8_lossy(text).into_owned();
        match self {
            Self::Integer { .. } => {
                let n: i128 = as_str()
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{}` is not an integer", as_str()))?;
                self.integer(n, modes)
            }
            Self::Decimal { scale, .. } => decimal_value(&as_str(), *scale, modes.decimal),
            Self::Float => float_value(&as_str()),
            Self::Double => as_str()
                .trim()
                .parse::<f64>()
                .map(Value::from)
                .map_err(|e| e.to_string()),
            Self::Date => Ok(
                parse_date(&as_str()).map_or(Value::Null, |(y, m, d)| self.date(y, m, d, modes))
            ),
            Self::Time { .. } => self.time(parse_time(&as_str())?, modes),
            Self::DateTime { .. } | Self::Timestamp { .. } => {
                let Some((y, mo, d, h, mi, s, us)) = parse_datetime(&as_str()) else {
                    return Ok(self.zero_datetime());
                };
                self.datetime(y, mo, d, h, mi, s, us, modes)
            }
            Self::Year => as_str()
                .trim()
                .parse::<i32>()
                .map(Value::from)
                .map_err(|e| e.to_string()),
            Self::Text { .. } | Self::Json | Self::Enum(_) | Self::Set(_) => {
                Ok(Value::String(as_str()))
            }
            Self::Binary { .. } => Ok(binary_value(text, modes.binary)),
            Self::Bit { bits } => Ok(bit_value(text, *bits)),
            Self::Point => geometry::point_value(text),
            Self::Geometry => geometry::geometry_value(text),
        }
    }

    /// A value decoded from a binlog row image.
    pub fn from_binlog(&self, value: BinlogValue<'_>, modes: &TypeModes) -> Result<Value, String> {
        let value = match value {
            BinlogValue::Value(value) => value,
            BinlogValue::Jsonb(jsonb) => {
                let json: Value = jsonb
                    .parse()
                    .map(Value::from)
                    .map_err(|e| format!("undecodable JSON value: {e}"))?;
                return Ok(Value::String(json.to_string()));
            }
            BinlogValue::JsonDiff(_) => {
                return Err("partial JSON updates (binlog_row_value_options=PARTIAL_JSON) are not supported; set binlog_row_value_options=''".to_owned());
            }
        };
        match (self, value) {
            (_, MyValue::NULL) => Ok(Value::Null),
            (Self::Integer { .. }, MyValue::Int(n)) => self.integer(i128::from(n), modes),
            (Self::Integer { .. }, MyValue::UInt(n)) => self.integer(i128::from(n), modes),
            (Self::Float, MyValue::Float(f)) => float_value(&f.to_string()),
            (Self::Float | Self::Double, MyValue::Double(f)) => Ok(Value::from(f)),
            (Self::Date, MyValue::Date(y, m, d, ..)) => Ok(if y == 0 && m == 0 && d == 0 {
                Value::Null
            } else {
                self.date(i64::from(y), u32::from(m), u32::from(d), modes)
            }),
            (Self::Time { .. }, MyValue::Time(negative, days, h, m, s, us)) => {
                let micros = ((i64::from(days) * 24 + i64::from(h)) * 3600
                    + i64::from(m) * 60
                    + i64::from(s))
                    * 1_000_000
                    + i64::from(us);
                self.time(if negative { -micros } else { micros }, modes)
            }
            (Self::DateTime { .. }, MyValue::Date(y, mo, d, h, mi, s, us)) => {
                if y == 0 && mo == 0 && d == 0 {
                    return Ok(self.zero_datetime());
                }
                self.datetime(
                    i64::from(y),
                    u32::from(mo),
                    u32::from(d),
                    u32::from(h),
                    u32::from(mi),
                    u32::from(s),
                    us,
                    modes,
                )
            }
            (Self::Timestamp { fsp }, MyValue::Bytes(bytes)) => {
                // TIMESTAMP2: "<seconds since epoch>[.<micros>]".
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let (seconds, micros) = match text.split_once('.') {
                    // The fraction's digits are micro-, milli-… seconds by their count.
                    Some((s, f)) => (
                        s.parse::<i64>(),
                        format!("{f:0<6}")
                            .get(..6)
                            .and_then(|f| f.parse::<u32>().ok())
                            .unwrap_or(0),
                    ),
                    None => (text.parse::<i64>(), 0),
                };
                let seconds = seconds.map_err(|e| e.to_string())?;
                if seconds == 0 && micros == 0 {
                    return Ok(self.zero_datetime());
                }
                // Debezium pads the binlog's value to the column's digits (`05.120Z`) but
                // not the snapshot's (`05.12Z`, see `datetime`).
                Ok(Value::String(zoned(seconds, micros, *fsp)))
            }
            (Self::Timestamp { fsp }, MyValue::Int(seconds)) => {
                Ok(Value::String(zoned(seconds, 0, *fsp)))
            }
            (Self::Enum(labels), MyValue::Int(index)) => Ok(Value::String(
                usize::try_from(index)
                    .ok()
                    .and_then(|i| i.checked_sub(1))
                    .and_then(|i| labels.get(i))
                    .cloned()
                    .unwrap_or_default(),
            )),
            (Self::Set(labels), MyValue::Bytes(bits)) => {
                let chosen: Vec<&str> = labels
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bits.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
                    .map(|(_, l)| l.as_str())
                    .collect();
                Ok(Value::String(chosen.join(",")))
            }
            (Self::Text { charset }, MyValue::Bytes(bytes)) => {
                Ok(Value::String(charset.decode(&bytes)))
            }
            (Self::Binary { fixed }, MyValue::Bytes(mut bytes)) => {
                // The binlog drops BINARY(n)'s trailing zero bytes; SELECT keeps them.
                if let Some(n) = fixed {
                    bytes.resize((*n).max(bytes.len()), 0);
                }
                Ok(binary_value(&bytes, modes.binary))
            }
            (Self::Bit { bits }, MyValue::Bytes(bytes)) => Ok(bit_value(&bytes, *bits)),
            (_, MyValue::Bytes(bytes)) => self.from_text(&bytes, modes),
            (kind, other) => Err(format!(
                "unexpected binlog value {other:?} for a {kind:?} column"
            )),
        }
    }

    fn integer(&self, n: i128, modes: &TypeModes) -> Result<Value, String> {
        let Self::Integer { bytes, unsigned } = self else {
            return Ok(Value::from(i64::try_from(n).unwrap_or_default()));
        };
        // The binlog does not know signedness: reinterpret the column's width.
        let n = if *unsigned && n < 0 {
            n + (1_i128 << (u32::from(*bytes) * 8))
        } else {
            n
        };
        if *bytes == 8 && *unsigned {
            return match modes.bigint_unsigned {
                BigintUnsigned::Precise => {
                    decimal_value(&n.to_string(), 0, DecimalMode::Precise)
                }
                BigintUnsigned::Long => i64::try_from(n).map(Value::from).map_err(|_| {
                    format!("BIGINT UNSIGNED value {n} does not fit a signed int64; set bigint.unsigned.handling.mode=precise")
                }),
            };
        }
        i64::try_from(n).map(Value::from).map_err(|e| e.to_string())
    }

    fn date(&self, year: i64, month: u32, day: u32, _modes: &TypeModes) -> Value {
        Value::from(days_from_civil(year, month, day))
    }

    fn time(&self, micros: i64, modes: &TypeModes) -> Result<Value, String> {
        let Self::Time { fsp } = self else {
            return Ok(Value::Null);
        };
        Ok(match (modes.time, fsp) {
            (TimePrecision::Connect, _) | (TimePrecision::Adaptive, 0..=3) => {
                Value::from(micros.div_euclid(1000))
            }
            _ => Value::from(micros),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn datetime(
        &self,
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        micros: u32,
        modes: &TypeModes,
    ) -> Result<Value, String> {
        let seconds = days_from_civil(year, month, day) * 86_400
            + i64::from(hour) * 3600
            + i64::from(minute) * 60
            + i64::from(second);
        match self {
            Self::Timestamp { .. } => Ok(Value::String(zoned_iso(seconds, micros))),
            Self::DateTime { fsp } => {
                let micros_total = seconds * 1_000_000 + i64::from(micros);
                Ok(match (modes.time, fsp) {
                    (TimePrecision::Connect, _) | (_, 0..=3) => {
                        Value::from(micros_total.div_euclid(1000))
                    }
                    _ => Value::from(micros_total),
                })
            }
            _ => Ok(Value::Null),
        }
    }

    /// `0000-00-00 00:00:00`: Debezium writes the epoch for TIMESTAMP, null otherwise.
    fn zero_datetime(&self) -> Value {
        match self {
            Self::Timestamp { .. } => Value::String("1970-01-01T00:00:00Z".to_owned()),
            _ => Value::Null,
        }
    }
}

trait Versioned {
    fn versioned(self, version: i32) -> Self;
}

impl Versioned for Schema {
    fn versioned(mut self, version: i32) -> Self {
        self.version = Some(version);
        self
    }
}

fn with_parameter(mut schema: Schema, key: &str, value: &str) -> Schema {
    let mut parameters = schema.parameters.take().unwrap_or_default();
    parameters.insert(key.to_owned(), Value::String(value.to_owned()));
    schema.parameters = Some(parameters);
    schema
}

/// `org.apache.kafka.connect.data.Decimal` with Debezium's precision parameter.
pub fn decimal_schema(precision: u32, scale: u32) -> Schema {
    let mut parameters = connect_api::Parameters::new();
    parameters.insert("scale".to_owned(), Value::String(scale.to_string()));
    parameters.insert(
        "connect.decimal.precision".to_owned(),
        Value::String(precision.to_string()),
    );
    let mut schema = Schema::new(SchemaType::Bytes)
        .named("org.apache.kafka.connect.data.Decimal")
        .versioned(1);
    schema.parameters = Some(parameters);
    schema
}

/// A decimal string in the chosen representation; precise = base64 of the unscaled value
/// in big-endian two's complement, as JsonConverter writes a Connect Decimal.
pub fn decimal_value(text: &str, scale: u32, mode: DecimalMode) -> Result<Value, String> {
    let text = text.trim();
    match mode {
        DecimalMode::String => return Ok(Value::String(text.to_owned())),
        DecimalMode::Double => {
            return text
                .parse::<f64>()
                .map(Value::from)
                .map_err(|e| format!("`{text}` is not a number: {e}"));
        }
        DecimalMode::Precise => {}
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let scale = usize::try_from(scale).unwrap_or(0);
    let mut frac: String = frac_part.chars().take(scale).collect();
    while frac.len() < scale {
        frac.push('0');
    }
    let unscaled = format!("{int_part}{frac}");
    if unscaled.is_empty() || !unscaled.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a decimal number"));
    }
    // Base-256 magnitude, most significant byte first.
    let mut magnitude: Vec<u8> = vec![0];
    for digit in unscaled.bytes().map(|b| b - b'0') {
        let mut carry = u32::from(digit);
        for byte in magnitude.iter_mut().rev() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            magnitude.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    // Room for the sign bit.
    if magnitude.first().is_some_and(|b| b & 0x80 != 0) {
        magnitude.insert(0, 0);
    }
    if negative && magnitude.iter().any(|b| *b != 0) {
        for byte in &mut magnitude {
            *byte = !*byte;
        }
        for byte in magnitude.iter_mut().rev() {
            let (v, overflow) = byte.overflowing_add(1);
            *byte = v;
            if !overflow {
                break;
            }
        }
    }
    while magnitude.len() > 1
        && ((magnitude[0] == 0 && magnitude[1] & 0x80 == 0)
            || (magnitude[0] == 0xff && magnitude[1] & 0x80 != 0))
    {
        magnitude.remove(0);
    }
    Ok(Value::String(BASE64.encode(magnitude)))
}

/// FLOAT is 32-bit: print its shortest decimal form so that 1.1 stays 1.1.
fn float_value(text: &str) -> Result<Value, String> {
    let single: f32 = text
        .trim()
        .parse()
        .map_err(|e| format!("`{text}` is not a float: {e}"))?;
    single
        .to_string()
        .parse::<f64>()
        .map(Value::from)
        .map_err(|e| e.to_string())
}

fn binary_value(bytes: &[u8], mode: BinaryMode) -> Value {
    match mode {
        BinaryMode::Bytes | BinaryMode::Base64 => Value::String(BASE64.encode(bytes)),
        BinaryMode::Hex => Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect()),
    }
}

/// BIT(1) → boolean; BIT(n) → io.debezium.data.Bits, little-endian bytes.
fn bit_value(big_endian: &[u8], bits: u32) -> Value {
    if bits == 1 {
        return Value::Bool(big_endian.iter().any(|b| *b != 0));
    }
    let width = usize::try_from(bits.div_ceil(8)).unwrap_or(1);
    let mut bytes: Vec<u8> = big_endian.iter().rev().copied().collect();
    bytes.resize(width, 0);
    Value::String(BASE64.encode(bytes))
}

#[cfg(test)]
mod tests;
