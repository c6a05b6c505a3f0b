//! What every schema-aware part of the gateway shares, so that the bridge and Connect
//! never depend on the registry service (services depend on broker-core and the edge only):
//!
//! - [`format`]: Avro, JSON Schema and Protobuf parsing, canonical text and Confluent's
//!   compatibility rules (the registry's core).
//! - [`compiled`]: a registered schema made ready to encode and decode values
//!   (`apache-avro` schemata, a `jsonschema` validator, a `prost-reflect` descriptor pool).
//! - [`wire`]: Confluent's framing of a serialized key or value (magic byte 0, the 4-byte
//!   schema id, Protobuf message indexes).
//! - [`client`]: a client of any Confluent-compatible registry (ours or another), with the
//!   caches Confluent's serializers keep, counted in metrics.

pub mod client;
pub mod compiled;
pub mod format;
pub mod wire;

pub use client::{
    ClientError, RegisteredSchema, RegistryClient, RegistryClientConfig, SchemaReference,
};
pub use compiled::CompiledSchema;
pub use format::SchemaType;
