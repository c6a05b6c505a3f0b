//! Confluent's schema converters (`AvroConverter`, `JsonSchemaConverter`,
//! `ProtobufConverter`): Connect data ↔ Confluent's wire format (magic byte, schema id,
//! Protobuf message indexes, payload) with the schema kept in a Schema Registry.
//!
//! Outgoing (sources, and a sink's DLQ): the Connect schema is mapped once to the format's
//! schema ([`codec`]: [`super::avro_data`], [`super::json_schema_data`],
//! [`super::protobuf_data`]), its id found by the configured [`SchemaLookup`] under the
//! subject of the configured strategy, then each value is encoded and framed. Incoming
//! (sinks): the id in the frame is resolved through the registry client (cached by id and
//! message indexes), the writer's schema mapped to a Connect schema once, each value
//! decoded with it. The three formats share all of this; only [`codec`] differs.
//!
//! A registry that cannot be reached or answers 5xx is a retriable error: the runtime
//! backs off and converts the same record again, so nothing is skipped and no offset
//! moves past it. A 4xx (unknown subject, incompatible schema…) fails the record.

mod codec;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use connect_api::Schema;
use schemas::{ClientError, RegisteredSchema, RegistryClient, SchemaType};
use serde_json::Value;

use super::ConversionError;
use super::schema_config::{SchemaConverterSettings, SchemaLookup};
use codec::{Codec, ReaderSchema, WriterSchema};

/// One configured converter; cheap to share (its caches are behind locks).
#[derive(Debug)]
pub struct SchemaConverter {
    settings: SchemaConverterSettings,
    codec: Codec,
    client: RegistryClient,
    /// The Connect schemas seen last and the schemas written for them, compared by value:
    /// a source sends a few schemas (one envelope per table) over and over, and comparing
    /// is far cheaper than rendering the key of `outgoing` for every record.
    recent: Mutex<Vec<(Schema, Arc<WriterSchema>)>>,
    /// Connect schema (its JSON text) → the schema written for it.
    outgoing: Mutex<HashMap<String, Arc<WriterSchema>>>,
    /// (subject, schema text) → id, and subject → latest version, once found.
    ids: Mutex<HashMap<(String, Arc<str>), i32>>,
    latest: Mutex<HashMap<String, LatestVersion>>,
    /// (subject, schema text) pairs the cached latest version was found able to read
    /// (`latest.compatibility.strict`).
    readable_by_latest: Mutex<std::collections::HashSet<(String, Arc<str>)>>,
    /// (schema id, message indexes) → the schema a payload was written with, mapped to
    /// Connect.
    incoming: Mutex<HashMap<ReaderKey, Arc<ReaderSchema>>>,
}

/// A subject's latest version, as `use.latest.version` writes with it.
type LatestVersion = (i32, Arc<WriterSchema>, Arc<RegisteredSchema>);

/// Connect schemas compared by value before the keyed cache (see `recent`).
const RECENT_SCHEMAS: usize = 16;

/// A schema id and the Protobuf message indexes of a payload (empty for the others).
type ReaderKey = (i32, Vec<i32>);

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn definite(message: impl Into<String>) -> ConversionError {
    ConversionError::definite(message)
}

/// `latest.compatibility.strict`: the latest version must be able to read what the record's
/// own schema writes (Confluent's `isBackwardCompatible`), else the record fails with
/// Confluent's message.
fn latest_reads(format: SchemaType, latest: &RegisteredSchema, own: &str) -> Result<(), String> {
    let parsed_latest = schemas::format::parse(
        latest.schema_type,
        &latest.schema,
        &latest.resolved_references,
        false,
    )
    .map_err(|error| {
        format!(
            "the latest schema (id {}) does not parse: {error}",
            latest.id
        )
    })?;
    let parsed_own = schemas::format::parse(format, own, &[], false)
        .map_err(|error| format!("the record's schema does not parse: {error}"))?;
    let problems = schemas::format::can_read(&parsed_own, &parsed_latest);
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "Incompatible schema {} with refs {:?} of type {} for schema {}. Set \
         latest.compatibility.strict=false to disable this check ({})",
        parsed_latest.canonical,
        latest
            .references
            .iter()
            .map(|r| &r.name)
            .collect::<Vec<_>>(),
        latest.schema_type.as_str(),
        parsed_own.canonical,
        problems.join("; ")
    ))
}

fn registry_error(what: &str, error: &ClientError) -> ConversionError {
    let message = format!("{what}: {error}");
    if error.is_retriable() {
        ConversionError::retriable(message)
    } else {
        ConversionError::definite(message)
    }
}

/// Empties a cache that reached `capacity` before one more entry goes in.
fn insert_bounded<K: std::hash::Hash + Eq, V>(
    cache: &Mutex<HashMap<K, V>>,
    capacity: usize,
    key: K,
    value: V,
) {
    let mut cache = locked(cache);
    if cache.len() >= capacity {
        cache.clear();
    }
    cache.insert(key, value);
}

impl SchemaConverter {
    pub fn new(settings: SchemaConverterSettings) -> Self {
        let client = RegistryClient::new(settings.registry.clone(), None);
        let codec = match settings.format {
            SchemaType::Avro => Codec::Avro(settings.avro),
            SchemaType::Json => Codec::JsonSchema(settings.json_schema),
            SchemaType::Protobuf => Codec::Protobuf,
        };
        Self {
            settings,
            codec,
            client,
            recent: Mutex::default(),
            outgoing: Mutex::default(),
            ids: Mutex::default(),
            latest: Mutex::default(),
            readable_by_latest: Mutex::default(),
            incoming: Mutex::default(),
        }
    }

    pub fn format(&self) -> SchemaType {
        self.settings.format
    }

    /// Connect data → framed bytes; a null value is a tombstone.
    pub async fn from_connect(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConversionError> {
        if value.is_null() {
            return Ok(None);
        }
        let label = self.codec.label();
        let schema = schema.ok_or_else(|| {
            definite(format!(
                "the {label} converter needs a Connect schema; schemaless values are not supported"
            ))
        })?;
        let derived = self.writer_schema(schema)?;
        let subject = self
            .settings
            .subject_name_strategy
            .subject(topic, self.settings.is_key, derived.record_name.as_deref())
            .map_err(definite)?;
        let (id, writer) = self.schema_id(&subject, &derived).await?;
        let bytes = self
            .codec
            .encode(&writer, id, schema, value)
            .map_err(|error| {
                definite(format!(
                    "Failed to serialize {label} data from topic {topic}: {error}"
                ))
            })?;
        Ok(Some(bytes))
    }

    /// Framed bytes → Connect data; no bytes is a null value without a schema.
    pub async fn to_connect(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<Schema>, Value), ConversionError> {
        let Some(bytes) = bytes else {
            return Ok((None, Value::Null));
        };
        let label = self.codec.label();
        let failed = |error: String| {
            definite(format!(
                "Failed to deserialize data for topic {topic} to {label}: {error}"
            ))
        };
        let framed = self.codec.unframe(bytes).map_err(failed)?;
        let reader = self
            .reader_schema(framed.schema_id, framed.message_indexes)
            .await?;
        let value = self
            .codec
            .decode(&reader, framed.payload)
            .map_err(|error| {
                failed(format!(
                    "error deserializing {label} message for id {}: {error}",
                    framed.schema_id
                ))
            })?;
        Ok((Some(reader.connect.clone()), value))
    }

    fn writer_schema(&self, schema: &Schema) -> Result<Arc<WriterSchema>, ConversionError> {
        if let Some((_, found)) = locked(&self.recent).iter().find(|(seen, _)| seen == schema) {
            return Ok(Arc::clone(found));
        }
        let key = serde_json::to_string(schema).map_err(|error| definite(error.to_string()))?;
        let found = locked(&self.outgoing).get(&key).cloned();
        let writer = match found {
            Some(found) => found,
            None => {
                let writer = Arc::new(self.codec.derive(schema).map_err(definite)?);
                insert_bounded(
                    &self.outgoing,
                    self.settings.registry.cache_capacity,
                    key,
                    Arc::clone(&writer),
                );
                writer
            }
        };
        let mut recent = locked(&self.recent);
        if recent.len() >= RECENT_SCHEMAS {
            recent.remove(0);
        }
        recent.push((schema.clone(), Arc::clone(&writer)));
        Ok(writer)
    }

    /// The id to frame with, and the schema to encode with (the derived one, or the
    /// subject's latest version with `use.latest.version`).
    async fn schema_id(
        &self,
        subject: &str,
        derived: &Arc<WriterSchema>,
    ) -> Result<(i32, Arc<WriterSchema>), ConversionError> {
        let cache_key = (subject.to_owned(), Arc::clone(&derived.text));
        let register = match self.settings.lookup {
            SchemaLookup::UseLatest { strict } => {
                let (id, writer, registered) = self.latest_version(subject).await?;
                if strict && !locked(&self.readable_by_latest).contains(&cache_key) {
                    latest_reads(self.settings.format, &registered, &derived.text)
                        .map_err(definite)?;
                    locked(&self.readable_by_latest).insert(cache_key);
                }
                return Ok((id, writer));
            }
            SchemaLookup::AutoRegister => true,
            SchemaLookup::LookUp => false,
        };
        if let Some(id) = locked(&self.ids).get(&cache_key) {
            return Ok((*id, Arc::clone(derived)));
        }
        let (format, label) = (self.settings.format, self.codec.label());
        let (normalize, text) = (self.settings.normalize, &*derived.text);
        let id = if register {
            self.client
                .register(subject, format, text, &[], normalize)
                .await
                .map_err(|error| {
                    registry_error(
                        &format!("Error registering {label} schema under subject {subject}"),
                        &error,
                    )
                })?
        } else {
            self.client
                .lookup(subject, format, text, &[], normalize)
                .await
                .map_err(|error| {
                    registry_error(
                        &format!("Error retrieving {label} schema id of subject {subject}"),
                        &error,
                    )
                })?
                .id
        };
        locked(&self.ids).insert(cache_key, id);
        Ok((id, Arc::clone(derived)))
    }

    /// The subject's latest version, asked once and then cached.
    async fn latest_version(&self, subject: &str) -> Result<LatestVersion, ConversionError> {
        if let Some((id, writer, registered)) = locked(&self.latest).get(subject) {
            return Ok((*id, Arc::clone(writer), Arc::clone(registered)));
        }
        let latest = self.client.latest(subject).await.map_err(|error| {
            registry_error(
                &format!("Error retrieving the latest version of subject {subject}"),
                &error,
            )
        })?;
        let writer = Arc::new(
            self.codec
                .writer_of(&latest)
                .map_err(|error| definite(format!("the latest schema of {subject}: {error}")))?,
        );
        let found = (latest.id, writer, latest);
        locked(&self.latest).insert(subject.to_owned(), found.clone());
        Ok(found)
    }

    async fn reader_schema(
        &self,
        id: i32,
        message_indexes: Vec<i32>,
    ) -> Result<Arc<ReaderSchema>, ConversionError> {
        let key = (id, message_indexes);
        if let Some(found) = locked(&self.incoming).get(&key) {
            return Ok(Arc::clone(found));
        }
        let label = self.codec.label();
        let registered = self.client.schema_by_id(id).await.map_err(|error| {
            registry_error(
                &format!("Error retrieving {label} schema for id {id}"),
                &error,
            )
        })?;
        let reader = Arc::new(
            self.codec
                .reader_of(&registered, &key.1)
                .map_err(definite)?,
        );
        insert_bounded(
            &self.incoming,
            self.settings.registry.cache_capacity,
            key,
            Arc::clone(&reader),
        );
        Ok(reader)
    }
}

#[cfg(test)]
mod tests {
    use connect_api::ConfigMap;
    use serde_json::json;

    use super::*;

    /// A converter whose registry is a local port nobody listens on (refused at once).
    fn unreachable_registry_for(format: SchemaType) -> SchemaConverter {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap();
        let config: ConfigMap = [(
            "value.converter.schema.registry.url".to_owned(),
            format!("http://127.0.0.1:{port}"),
        )]
        .into();
        SchemaConverter::new(
            SchemaConverterSettings::parse(&config, "value.converter", format, "c").unwrap(),
        )
    }

    fn unreachable_registry() -> SchemaConverter {
        unreachable_registry_for(SchemaType::Avro)
    }

    const FORMATS: [SchemaType; 3] = [SchemaType::Avro, SchemaType::Json, SchemaType::Protobuf];

    #[tokio::test]
    async fn an_unreachable_registry_is_retriable_both_ways() {
        for format in FORMATS {
            an_unreachable_registry_is_retriable_for(format).await;
        }
    }

    async fn an_unreachable_registry_is_retriable_for(format: SchemaType) {
        let converter = unreachable_registry_for(format);
        let schema: Schema = serde_json::from_value(json!({"type": "struct", "name": "a.B",
            "fields": [{"field": "id", "type": "int32"}]}))
        .unwrap();
        let error = converter
            .from_connect("t", Some(&schema), &json!({"id": 1}))
            .await
            .unwrap_err();
        assert!(error.retriable, "{error}");
        let error = converter
            .to_connect("t", Some(&[0, 0, 0, 0, 1, 0, 2]))
            .await
            .unwrap_err();
        assert!(error.retriable, "{error}");
    }

    #[tokio::test]
    async fn bad_input_is_definite() {
        let converter = unreachable_registry();
        let error = converter.to_connect("t", Some(b"{}")).await.unwrap_err();
        assert!(!error.retriable);
        assert!(error.message.contains("Unknown magic byte"), "{error}");
        let error = converter
            .from_connect("t", None, &json!({"id": 1}))
            .await
            .unwrap_err();
        assert!(!error.retriable, "{error}");
        // A tombstone needs no registry.
        assert_eq!(
            converter.from_connect("t", None, &Value::Null).await,
            Ok(None)
        );
        assert_eq!(
            converter.to_connect("t", None).await,
            Ok((None, Value::Null))
        );
    }

    fn registered_avro(text: &str) -> RegisteredSchema {
        RegisteredSchema {
            id: 7,
            schema_type: SchemaType::Avro,
            schema: text.to_owned(),
            references: Vec::new(),
            resolved_references: Vec::new(),
            subject: Some("t-value".to_owned()),
            version: Some(2),
        }
    }

    #[test]
    fn strict_latest_must_read_what_the_records_schema_writes() {
        let own = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
        let needs_b = registered_avro(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#,
        );
        let error = latest_reads(SchemaType::Avro, &needs_b, own).unwrap_err();
        assert!(error.starts_with("Incompatible schema "), "{error}");
        assert!(
            error.contains("Set latest.compatibility.strict=false to disable this check"),
            "{error}"
        );
        let b_has_default = registered_avro(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}"#,
        );
        assert_eq!(latest_reads(SchemaType::Avro, &b_has_default, own), Ok(()));
    }
}
