//! Connect schemas and data ↔ JSON Schema, as Confluent's `JsonSchemaData` maps them (its
//! default settings), so that the schema our JsonSchemaConverter registers is the one Kafka
//! Connect's would register for the same Connect schema:
//!
//! - integers are `{"type":"integer"}` and floats `{"type":"number"}`, with `connect.type`
//!   (`int8` … `float64`) saying which Connect type they were; bytes are base64 strings
//!   (`{"type":"string","connect.type":"bytes"}`), a Decimal is `{"type":"number",
//!   "connect.type":"bytes"}` whose values are still the base64 of the unscaled integer
//!   (Confluent's default `decimal.format=BASE64`); Date, Time and Timestamp are integers
//!   (days, milliseconds of the day, epoch milliseconds) with their Connect name as `title`;
//! - a struct is an object whose properties carry `connect.index` (the field's position);
//!   no property is `required`; `"additionalProperties": false` only with
//!   `object.additional.properties=false`;
//! - an optional schema is `{"oneOf":[{"type":"null"},<schema>]}`, the index on the `oneOf`;
//! - the Connect name is the `title`, the doc the `description`; `connect.version` and
//!   `connect.parameters` carry the rest; a default value is `default`;
//! - a map with (required) string keys is an object with `additionalProperties` and
//!   `connect.type: map`, any other map an array of `{"key":…,"value":…}` objects.
//!
//! Reading goes the other way and also takes schemas that no Connect converter wrote (a
//! plain JSON Schema of Confluent's Python `JSONSerializer`): `integer` is int64, `number`
//! float64, an object without `connect.type` a struct, `["null", T]` an optional T.

mod schema_from_connect;
mod schema_to_connect;
mod values_to_connect;
mod values_to_json;

use connect_api::{Field, Parameters, Schema, SchemaType};
use serde_json::{Map, Value, json};

const NAMESPACE: &str = "io.confluent.connect.json";
const CONNECT_TYPE: &str = "connect.type";
const CONNECT_VERSION: &str = "connect.version";
const CONNECT_PARAMETERS: &str = "connect.parameters";
const CONNECT_INDEX: &str = "connect.index";
const ENUM: &str = "io.confluent.connect.json.Enum";
const ONE_OF: &str = "io.confluent.connect.json.OneOf";
const KEY_FIELD: &str = "key";
const VALUE_FIELD: &str = "value";

/// The `JsonSchemaData` settings a converter passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonSchemaDataOptions {
    /// `object.additional.properties` (default true): false writes
    /// `"additionalProperties": false` on every struct.
    pub object_additional_properties: bool,
    /// `use.optional.for.nonrequired` (default false): a property missing from `required`
    /// reads as an optional field.
    pub use_optional_for_nonrequired: bool,
}

impl Default for JsonSchemaDataOptions {
    fn default() -> Self {
        Self {
            object_additional_properties: true,
            use_optional_for_nonrequired: false,
        }
    }
}

pub use schema_from_connect::json_schema_of;
pub use schema_to_connect::connect_schema_of;
pub use values_to_connect::connect_value_of;
pub(crate) use values_to_connect::minimal_twos_complement;
pub use values_to_json::json_value_of;
pub(crate) use values_to_json::map_pairs;

#[cfg(test)]
mod tests;
