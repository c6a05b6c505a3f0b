//! Connect schemas and data ↔ Protobuf, as Confluent's `ProtobufData` maps them with its
//! default settings, so that the `.proto` our ProtobufConverter registers is the one Kafka
//! Connect's would register for the same Connect schema:
//!
//! - a struct is a proto3 message named after the Connect schema (`a.b.C` → package
//!   `a.b`, message `C`; unnamed: `ConnectDefault1`, `ConnectDefault2`…); struct fields are
//!   messages nested in the message that uses them first, fields numbered 1, 2… in order
//!   (or by the `io.confluent.connect.protobuf.Tag` parameter);
//! - optional fields are plain proto3 fields (no wrappers, no `optional` keyword: the
//!   defaults `wrapper.for.nullables=false`, `optional.for.nullables=false`);
//! - int8/int16 are `int32` with `(confluent.field_meta).params` `connect.type`;
//! - Decimal is `confluent.type.Decimal` (`precision`/`scale` in the field's params),
//!   Date `google.type.Date`, Time `google.type.TimeOfDay`, Timestamp
//!   `google.protobuf.Timestamp`;
//! - an array is a `repeated` field (an empty array is not written), a map a `repeated`
//!   nested `<Name>Entry` message with `key = 1` and `value = 2`.
//!
//! Reading takes any registered message: every field of a message reads as an optional
//! Connect field with its tag in `io.confluent.connect.protobuf.Tag`, the struct named
//! after the message's simple name; scalars absent on the wire are their proto3 default,
//! messages absent are null; enums are strings; a real `oneof` is a union struct.
//!
//! Not done: Connect unions and enums written as Protobuf (`Union`/`Enum` parameters),
//! field default values (proto3 has none; Confluent's descriptor keeps them as options).

mod schema_from_connect;
mod schema_to_connect;
mod values_to_connect;
mod values_to_protobuf;

use connect_api::{Field, Parameters, Schema, SchemaType};
use serde_json::Value;

const CONNECT_TYPE: &str = "connect.type";
const CONNECT_PRECISION: &str = "connect.decimal.precision";
const TAG: &str = "io.confluent.connect.protobuf.Tag";
const PROTOBUF_TYPE: &str = "io.confluent.connect.protobuf.Type";
const PROTOBUF_ENUM: &str = "io.confluent.connect.protobuf.Enum";
const UNION_PREFIX: &str = "io.confluent.connect.protobuf.Union";
const DEFAULT_NAME: &str = "ConnectDefault";
const ENTRY_SUFFIX: &str = "Entry";
const DECIMAL_TYPE: &str = "confluent.type.Decimal";
const DATE_TYPE: &str = "google.type.Date";
const TIME_TYPE: &str = "google.type.TimeOfDay";
const TIMESTAMP_TYPE: &str = "google.protobuf.Timestamp";
const META_IMPORT: &str = "confluent/meta.proto";

pub use schema_from_connect::{ProtoFile, proto_of};
pub use schema_to_connect::connect_schema_of;
pub use values_to_connect::connect_value_of;
pub use values_to_protobuf::protobuf_message_of;

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests;
