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

// Google's Date is a calendar date; Connect's Date a number of days (TimestampRouter's
// calendar arithmetic serves both).
use crate::transforms::routing::{civil_from_days, days_from_civil};

#[cfg(test)]
mod tests;
