//! Connect schemas and data ↔ Avro, as Confluent's `AvroData` maps them, so that a schema
//! registered by our AvroConverter is the one Kafka Connect's would register for the same
//! Connect schema, and a sink reads back the names, versions and parameters a source wrote:
//!
//! - a struct is a record named after the Connect schema (`a.b.C` → namespace `a.b`, name
//!   `C`); an unnamed struct is `io.confluent.connect.avro.ConnectDefault` (further distinct
//!   unnamed structs in one schema get a numeric suffix, so the schema still parses);
//! - `connect.name`, `connect.version`, `connect.doc`, `connect.parameters`,
//!   `connect.default` carry the Connect metadata (`connect.meta.data=false` drops them);
//!   int8/int16 are `int` with `connect.type`;
//! - an optional schema is a union with `null` first and a `null` field default; with a
//!   default value of its own the type comes first and the default is that value;
//! - Decimal is `bytes` with the `decimal` logical type (`precision` from
//!   `connect.decimal.precision`, 64 without it), Date/Time/Timestamp are `date`,
//!   `time-millis`, `timestamp-millis`; other named types (Debezium's `io.debezium.time.*`)
//!   stay their base type with `connect.name`;
//! - a map with string keys is an Avro map, any other map an array of
//!   `io.confluent.connect.avro.MapEntry` records with `key` and `value`.
//!
//! The walk goes over the Avro schema as JSON (not `apache_avro::Schema`), because
//! apache-avro drops the properties of primitive types, which carry `connect.*`.
//! Connect values are JSON here (connect-api's model): bytes and decimals are base64,
//! maps with non-string keys are arrays of `[key, value]` pairs.

mod schema_from_connect;
mod schema_to_connect;
mod values_to_avro;
mod values_to_connect;

use std::collections::HashMap;

use apache_avro::types::Value as AvroValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use connect_api::{Field, Parameters, Schema, SchemaType};
use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "io.confluent.connect.avro";
const DEFAULT_NAME: &str = "ConnectDefault";
const DEFAULT_FULL_NAME: &str = "io.confluent.connect.avro.ConnectDefault";
const MAP_ENTRY: &str = "MapEntry";
const UNION: &str = "io.confluent.connect.avro.Union";
const ENUM: &str = "io.confluent.connect.avro.Enum";
const RECORD_DOC: &str = "io.confluent.connect.avro.record.doc";
const FIELD_DOC_PREFIX: &str = "io.confluent.connect.avro.field.doc.";
const FIELD_DEFAULT_FLAG: &str = "io.confluent.connect.avro.field.default";
const CONNECT_NAME: &str = "connect.name";
const CONNECT_VERSION: &str = "connect.version";
const CONNECT_DOC: &str = "connect.doc";
const CONNECT_PARAMETERS: &str = "connect.parameters";
const CONNECT_DEFAULT: &str = "connect.default";
const CONNECT_TYPE: &str = "connect.type";
const CONNECT_INTERNAL_TYPE: &str = "connect.internal.type";
const DECIMAL_PRECISION: &str = "connect.decimal.precision";
const DEFAULT_DECIMAL_PRECISION: i64 = 64;
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
pub const DATE: &str = "org.apache.kafka.connect.data.Date";
pub const TIME: &str = "org.apache.kafka.connect.data.Time";
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

/// The `AvroData` settings a converter passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvroDataOptions {
    /// `connect.meta.data` (default true).
    pub connect_meta_data: bool,
    /// `enhanced.avro.schema.support` (default false): Avro enums survive a round trip.
    pub enhanced_schema_support: bool,
    /// `scrub.invalid.names` (default false): names Avro refuses get `_` instead.
    pub scrub_invalid_names: bool,
}

impl Default for AvroDataOptions {
    fn default() -> Self {
        Self {
            connect_meta_data: true,
            enhanced_schema_support: false,
            scrub_invalid_names: false,
        }
    }
}

pub use schema_from_connect::avro_schema_of;
#[allow(clippy::wildcard_imports)]
use schema_from_connect::*;
#[allow(clippy::wildcard_imports)]
use schema_to_connect::*;
pub use schema_to_connect::{AvroNames, connect_schema_of};
pub use values_to_avro::avro_value_of;
pub use values_to_connect::connect_value_of;

#[cfg(test)]
mod tests;
