//! Keys and values in the schema-registry formats (Avro, JSON Schema, Protobuf), as
//! Confluent REST Proxy writes and reads them: JSON on the HTTP side, Confluent's wire
//! format on the Kafka side (magic byte 0, the 4-byte schema id, Protobuf message indexes).
//!
//! - [`avro_json`]: Avro values in Avro's JSON encoding (unions wrapped).
//! - Protobuf messages in proto3 JSON through `prost-reflect`'s serde support, JSON Schema
//!   values validated by `jsonschema` before they are written.
//!
//! Schemas come from the registry the bridge is configured with (`[bridge]
//! schema_registry_url`, the built-in one by default) through the shared
//! [`schemas::RegistryClient`], which caches ids and registrations as Confluent's
//! serializers do; compiled schemas are kept here by id, so a record costs no registry
//! round trip once its schema was seen. A registry that cannot be reached is a retriable
//! error of the request (503), never a record silently written without its schema.

pub(crate) mod avro_json;
pub(crate) mod strategy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use prost_reflect::{DynamicMessage, SerializeOptions};
use schemas::client::ClientError;
use schemas::compiled::{AvroSchema, ProtobufSchema};
use schemas::{CompiledSchema, RegistryClient, SchemaType, wire};
use serde_json::Value;

use crate::error::ApiError;
use avro_json::Names;

/// The three formats that need a registry, by their REST Proxy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaFormat {
    Avro,
    JsonSchema,
    Protobuf,
}

impl SchemaFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Avro => "avro",
            Self::JsonSchema => "jsonschema",
            Self::Protobuf => "protobuf",
        }
    }

    /// The v3 `type` (`AVRO`, `JSONSCHEMA`, `PROTOBUF`).
    pub fn v3_type(self) -> &'static str {
        match self {
            Self::Avro => "AVRO",
            Self::JsonSchema => "JSONSCHEMA",
            Self::Protobuf => "PROTOBUF",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "avro" => Some(Self::Avro),
            "jsonschema" => Some(Self::JsonSchema),
            "protobuf" => Some(Self::Protobuf),
            _ => None,
        }
    }

    pub fn schema_type(self) -> SchemaType {
        match self {
            Self::Avro => SchemaType::Avro,
            Self::JsonSchema => SchemaType::Json,
            Self::Protobuf => SchemaType::Protobuf,
        }
    }

    pub fn of_schema_type(schema_type: SchemaType) -> Self {
        match schema_type {
            SchemaType::Avro => Self::Avro,
            SchemaType::Json => Self::JsonSchema,
            SchemaType::Protobuf => Self::Protobuf,
        }
    }
}

/// Why a key or value could not be written or read in its schema format, sorted by what
/// the caller must do.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum SchemaError {
    /// The registry is down or answered 5xx: retry later (503, 50003).
    #[error("Schema registry unavailable: {0}")]
    RegistryUnavailable(String),
    /// The registry refused the request (unknown id or subject, incompatible schema …).
    #[error("Schema registry error: {message} (registry error code {error_code})")]
    RegistryRejected { error_code: u32, message: String },
    /// The schema text does not parse (42205).
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    /// The value does not match its schema (42203).
    #[error("Conversion of JSON to {format} failed: {reason}")]
    Conversion {
        format: &'static str,
        reason: String,
    },
    /// A record in Kafka that is not in the consumer's format (42207).
    #[error("{0}")]
    Undecodable(String),
}

impl SchemaError {
    pub(crate) fn from_client(error: ClientError) -> Self {
        match error {
            ClientError::Unavailable(message) => Self::RegistryUnavailable(message),
            ClientError::Rejected {
                error_code: 42201,
                message,
                ..
            } => Self::InvalidSchema(message),
            ClientError::Rejected {
                error_code,
                message,
                ..
            } => Self::RegistryRejected {
                error_code,
                message,
            },
            ClientError::Protocol(message) => Self::RegistryUnavailable(message),
        }
    }

    /// Confluent REST Proxy's status and code for this error.
    pub(crate) fn status_and_code(&self) -> (u16, u32) {
        match self {
            Self::RegistryUnavailable(_) => (503, 50003),
            Self::RegistryRejected { .. } => (422, 42207),
            Self::InvalidSchema(_) => (422, 42205),
            Self::Conversion { .. } => (422, 42203),
            Self::Undecodable(_) => (422, 42207),
        }
    }

    pub(crate) fn into_api(self) -> ApiError {
        let (status, code) = self.status_and_code();
        ApiError::new(
            axum::http::StatusCode::from_u16(status)
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
            code,
            self.to_string(),
        )
    }
}

/// A registered schema compiled, with what converting JSON needs.
#[derive(Debug)]
pub(crate) struct ReadySchema {
    pub id: i32,
    pub compiled: CompiledSchema,
    /// Avro only: the named types, to follow references.
    avro_names: Names,
}

impl ReadySchema {
    pub(crate) fn format(&self) -> SchemaFormat {
        SchemaFormat::of_schema_type(self.compiled.schema_type())
    }

    /// The full name of the schema's record (Avro), first message (Protobuf) or `title`
    /// (JSON Schema): what RECORD_NAME subject strategies use.
    pub(crate) fn record_name(&self) -> Option<String> {
        match &self.compiled {
            CompiledSchema::Avro(avro) => match &avro.schema {
                apache_avro::Schema::Record(record) => Some(record.name.fullname(None)),
                _ => None,
            },
            CompiledSchema::Protobuf(protobuf) => protobuf
                .message_named(None)
                .map(|(message, _)| message.full_name().to_owned()),
            CompiledSchema::Json(json) => json
                .schema
                .get("title")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }

    /// `json` written in this schema's format and framed; the error says where it does not
    /// match.
    pub(crate) fn encode(&self, json: &Value) -> Result<Vec<u8>, SchemaError> {
        let conversion = |reason: String| SchemaError::Conversion {
            format: match self.format() {
                SchemaFormat::Avro => "Avro",
                SchemaFormat::JsonSchema => "JSON Schema",
                SchemaFormat::Protobuf => "Protobuf",
            },
            reason,
        };
        match &self.compiled {
            CompiledSchema::Avro(avro) => {
                let mut datum = Vec::with_capacity(256);
                avro_json::encode_json(json, &avro.schema, &self.avro_names, &mut datum)
                    .map_err(conversion)?;
                Ok(wire::frame(self.id, &datum))
            }
            CompiledSchema::Json(schema) => {
                let violations = schema.violations(json);
                if !violations.is_empty() {
                    return Err(conversion(violations.join("; ")));
                }
                Ok(wire::frame(self.id, json.to_string().as_bytes()))
            }
            CompiledSchema::Protobuf(protobuf) => {
                let (message, indexes) = protobuf
                    .message_named(None)
                    .ok_or_else(|| conversion("the schema declares no message".to_owned()))?;
                let dynamic = DynamicMessage::deserialize(message, json)
                    .map_err(|error| conversion(error.to_string()))?;
                Ok(wire::frame_protobuf(
                    self.id,
                    &indexes,
                    &prost::Message::encode_to_vec(&dynamic),
                ))
            }
        }
    }
}

/// The schema id of a framed payload, read before the schema is needed.
pub(crate) fn framed_id(bytes: &[u8]) -> Result<i32, SchemaError> {
    wire::unframe(bytes)
        .map(|framed| framed.schema_id)
        .map_err(|error| SchemaError::Undecodable(error.to_string()))
}

/// The registry client and the schemas compiled from it, shared by all requests.
#[derive(Debug, Clone)]
pub(crate) struct SchemaCodecs {
    client: RegistryClient,
    ready: Arc<Mutex<HashMap<i32, Arc<ReadySchema>>>>,
    /// One fetch per id at a time: concurrent requests for an id not yet compiled wait
    /// for the first one instead of each asking the registry.
    fetching: Arc<Mutex<HashMap<i32, Arc<tokio::sync::Mutex<()>>>>>,
}

/// Compiled schemas kept, as the client's `schemas.cache.config`.
const READY_CAPACITY: usize = schemas::client::DEFAULT_CACHE_CAPACITY;

impl SchemaCodecs {
    pub(crate) fn new(client: RegistryClient) -> Self {
        Self {
            client,
            ready: Arc::default(),
            fetching: Arc::default(),
        }
    }

    pub(crate) fn client(&self) -> &RegistryClient {
        &self.client
    }

    /// The schema with `id`, compiled once.
    pub(crate) async fn by_id(&self, id: i32) -> Result<Arc<ReadySchema>, SchemaError> {
        if let Some(ready) = self.cached(id) {
            return Ok(ready);
        }
        let gate = Arc::clone(
            self.fetching
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(id)
                .or_default(),
        );
        let _only_fetch = gate.lock().await;
        if let Some(ready) = self.cached(id) {
            return Ok(ready);
        }
        let fetched = self.fetch(id).await;
        self.fetching
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        fetched
    }

    async fn fetch(&self, id: i32) -> Result<Arc<ReadySchema>, SchemaError> {
        let registered = self
            .client
            .schema_by_id(id)
            .await
            .map_err(SchemaError::from_client)?;
        let compiled = CompiledSchema::compile(&registered).map_err(SchemaError::InvalidSchema)?;
        let avro_names = match &compiled {
            CompiledSchema::Avro(AvroSchema { schema, schemata }) => {
                Names::of(schemata.iter().chain(std::iter::once(schema)))
            }
            _ => Names::default(),
        };
        let ready = Arc::new(ReadySchema {
            id,
            compiled,
            avro_names,
        });
        let mut cache = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= READY_CAPACITY
            && let Some(evicted) = cache.keys().next().copied()
        {
            cache.remove(&evicted);
        }
        cache.insert(id, Arc::clone(&ready));
        Ok(ready)
    }

    /// The compiled schema of `id` if it was seen already (the consume path's sync step).
    pub(crate) fn cached(&self, id: i32) -> Option<Arc<ReadySchema>> {
        self.ready
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    /// Registers `text` under `subject` (or finds it registered) and compiles it.
    pub(crate) async fn register(
        &self,
        subject: &str,
        format: SchemaFormat,
        text: &str,
    ) -> Result<Arc<ReadySchema>, SchemaError> {
        // Parse locally first, so that a bad schema is a 42205 with the parser's reason
        // rather than a registry round trip.
        CompiledSchema::compile_text(format.schema_type(), text, &[])
            .map_err(SchemaError::InvalidSchema)?;
        let id = self
            .client
            .register(subject, format.schema_type(), text, &[], false)
            .await
            .map_err(SchemaError::from_client)?;
        self.by_id(id).await
    }

    /// The version of `text` under `subject` (for v3 answers).
    pub(crate) async fn version_of(
        &self,
        subject: &str,
        format: SchemaFormat,
        text: &str,
    ) -> Result<Option<i32>, SchemaError> {
        let found = self
            .client
            .lookup(subject, format.schema_type(), text, &[], false)
            .await
            .map_err(SchemaError::from_client)?;
        Ok(found.version)
    }

    /// Makes sure the schemas of a framed key and value are compiled, so that
    /// [`Self::decode`] needs no registry call; the bytes' own problems are left to it.
    pub(crate) async fn prepare(&self, bytes: Option<&[u8]>) -> Result<(), SchemaError> {
        let Some(id) = bytes.and_then(|bytes| framed_id(bytes).ok()) else {
            return Ok(());
        };
        match self.by_id(id).await {
            Ok(_) => Ok(()),
            Err(error @ SchemaError::RegistryUnavailable(_)) => Err(error),
            // An unknown id or a schema that does not compile is the record's problem.
            Err(_) => Ok(()),
        }
    }

    /// Writes the JSON of a framed key or value in `format` to `out`, with a schema already
    /// [prepared]; the error says why the bytes are not a datum of that format.
    ///
    /// [prepared]: Self::prepare
    pub(crate) fn decode_into(
        &self,
        format: SchemaFormat,
        bytes: &[u8],
        out: &mut String,
    ) -> Result<(), String> {
        let framed = match format {
            SchemaFormat::Protobuf => wire::unframe_protobuf(bytes),
            _ => wire::unframe(bytes),
        }
        .map_err(|error| format!("is not in Confluent's wire format ({error})"))?;
        let ready = self.cached(framed.schema_id).ok_or_else(|| {
            format!(
                "names schema id {} that the registry does not have",
                framed.schema_id
            )
        })?;
        if ready.format() != format {
            return Err(format!(
                "was written with a {} schema (id {})",
                ready.format().name(),
                framed.schema_id
            ));
        }
        let value = match &ready.compiled {
            CompiledSchema::Avro(avro) => {
                return avro_json::write_json(framed.payload, &avro.schema, &ready.avro_names, out)
                    .map_err(|error| {
                        format!("is not an Avro datum of schema {} ({error})", ready.id)
                    });
            }
            CompiledSchema::Json(_) => serde_json::from_slice::<Value>(framed.payload)
                .map_err(|error| format!("is not JSON ({error})"))?,
            CompiledSchema::Protobuf(protobuf) => {
                decode_protobuf(protobuf, &framed.message_indexes, framed.payload)?
            }
        };
        out.push_str(&value.to_string());
        Ok(())
    }
}

fn decode_protobuf(
    protobuf: &ProtobufSchema,
    indexes: &[i32],
    payload: &[u8],
) -> Result<Value, String> {
    let message = protobuf
        .message_at(indexes)
        .ok_or_else(|| format!("names message indexes {indexes:?} that the schema lacks"))?;
    let dynamic = DynamicMessage::decode(message, payload)
        .map_err(|error| format!("is not a Protobuf message ({error})"))?;
    // Like protobuf-java's JsonFormat with default values included, as REST Proxy prints.
    let options = SerializeOptions::new().skip_default_fields(false);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|error| error.to_string())
}
