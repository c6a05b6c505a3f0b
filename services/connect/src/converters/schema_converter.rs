//! Confluent's schema converters: Connect data ↔ Confluent's wire format (magic byte,
//! schema id, payload) with the schema kept in a Schema Registry.
//!
//! Outgoing (sources, and a sink's DLQ): the Connect schema is mapped once to an Avro
//! schema ([`super::avro_data`]), its id found by the configured [`SchemaLookup`] under the
//! subject of the configured strategy, then each value is encoded and framed. Incoming
//! (sinks): the id in the frame is resolved through the registry client (cached by id),
//! the writer's schema mapped to a Connect schema once, each value decoded with it.
//!
//! A registry that cannot be reached or answers 5xx is a retriable error: the runtime
//! backs off and converts the same record again, so nothing is skipped and no offset
//! moves past it. A 4xx (unknown subject, incompatible schema…) fails the record.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use connect_api::Schema;
use schemas::compiled::AvroSchema;
use schemas::{ClientError, RegistryClient, SchemaType, wire};
use serde_json::Value;

use super::ConversionError;
use super::avro_data::{self, AvroNames};
use super::schema_config::{SchemaConverterSettings, SchemaLookup};

/// One configured converter; cheap to share (its caches are behind locks).
#[derive(Debug)]
pub struct SchemaConverter {
    settings: SchemaConverterSettings,
    client: RegistryClient,
    /// Connect schema (its JSON text) → the Avro schema written for it.
    outgoing: Mutex<HashMap<String, Arc<WriterSchema>>>,
    /// (subject, Avro schema text) → id, and subject → latest version, once found.
    ids: Mutex<HashMap<(String, Arc<str>), i32>>,
    latest: Mutex<HashMap<String, (i32, Arc<WriterSchema>)>>,
    /// Schema id → the schema a payload was written with, mapped to Connect.
    incoming: Mutex<HashMap<i32, Arc<ReaderSchema>>>,
}

/// An Avro schema ready to encode Connect values.
#[derive(Debug)]
struct WriterSchema {
    text: Arc<str>,
    json: Value,
    names: AvroNames,
    compiled: AvroSchema,
    /// The record's full name, for the record name strategies.
    record_name: Option<String>,
}

/// A registered schema ready to decode payloads into Connect data.
#[derive(Debug)]
struct ReaderSchema {
    json: Value,
    names: AvroNames,
    compiled: AvroSchema,
    connect: Schema,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn definite(message: impl Into<String>) -> ConversionError {
    ConversionError::definite(message)
}

fn registry_error(what: &str, error: &ClientError) -> ConversionError {
    let message = format!("{what}: {error}");
    if error.is_retriable() {
        ConversionError::retriable(message)
    } else {
        ConversionError::definite(message)
    }
}

impl SchemaConverter {
    pub fn new(settings: SchemaConverterSettings) -> Self {
        let client = RegistryClient::new(settings.registry.clone(), None);
        Self {
            settings,
            client,
            outgoing: Mutex::default(),
            ids: Mutex::default(),
            latest: Mutex::default(),
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
        let schema = schema.ok_or_else(|| {
            definite(
                "the AvroConverter needs a Connect schema; schemaless values are not supported",
            )
        })?;
        let derived = self.writer_schema(schema)?;
        let subject = self
            .settings
            .subject_name_strategy
            .subject(topic, self.settings.is_key, derived.record_name.as_deref())
            .map_err(definite)?;
        let (id, writer) = self.schema_id(&subject, &derived).await?;
        let avro_value =
            avro_data::avro_value_of(&writer.json, &writer.names, value).map_err(|error| {
                definite(format!(
                    "Failed to serialize Avro data from topic {topic}: {error}"
                ))
            })?;
        let datum = writer.compiled.encode(avro_value).map_err(|error| {
            definite(format!(
                "Failed to serialize Avro data from topic {topic}: {error}"
            ))
        })?;
        Ok(Some(wire::frame(id, &datum)))
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
        let framed = wire::unframe(bytes).map_err(|error| {
            definite(format!(
                "Failed to deserialize data for topic {topic} to Avro: {error}"
            ))
        })?;
        let reader = self.reader_schema(framed.schema_id).await?;
        let decoded = reader.compiled.decode(framed.payload).map_err(|error| {
            definite(format!(
                "Failed to deserialize data for topic {topic} to Avro: error deserializing Avro message for id {}: {error}",
                framed.schema_id
            ))
        })?;
        let value = avro_data::connect_value_of(&reader.json, &reader.names, &decoded).map_err(
            |error| {
                definite(format!(
                    "Failed to convert Avro data of topic {topic}: {error}"
                ))
            },
        )?;
        Ok((Some(reader.connect.clone()), value))
    }

    fn writer_schema(&self, schema: &Schema) -> Result<Arc<WriterSchema>, ConversionError> {
        let key = serde_json::to_string(schema).map_err(|error| definite(error.to_string()))?;
        if let Some(found) = locked(&self.outgoing).get(&key) {
            return Ok(Arc::clone(found));
        }
        let json = avro_data::avro_schema_of(schema, self.settings.avro)
            .map_err(|error| definite(format!("Cannot map the Connect schema to Avro: {error}")))?;
        let writer = Arc::new(writer_from_json(json)?);
        let mut cache = locked(&self.outgoing);
        if cache.len() >= self.settings.registry.cache_capacity {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&writer));
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
        if let SchemaLookup::UseLatest { .. } = self.settings.lookup {
            if let Some((id, writer)) = locked(&self.latest).get(subject) {
                return Ok((*id, Arc::clone(writer)));
            }
        } else if let Some(id) = locked(&self.ids).get(&cache_key) {
            return Ok((*id, Arc::clone(derived)));
        }
        let format = self.settings.format;
        let (normalize, text) = (self.settings.normalize, &*derived.text);
        let id = match self.settings.lookup {
            SchemaLookup::AutoRegister => self
                .client
                .register(subject, format, text, &[], normalize)
                .await
                .map_err(|error| {
                    registry_error(
                        &format!("Error registering Avro schema under subject {subject}"),
                        &error,
                    )
                })?,
            SchemaLookup::LookUp => {
                self.client
                    .lookup(subject, format, text, &[], normalize)
                    .await
                    .map_err(|error| {
                        registry_error(
                            &format!("Error retrieving Avro schema id of subject {subject}"),
                            &error,
                        )
                    })?
                    .id
            }
            SchemaLookup::UseLatest { .. } => {
                let latest = self.client.latest(subject).await.map_err(|error| {
                    registry_error(
                        &format!("Error retrieving the latest version of subject {subject}"),
                        &error,
                    )
                })?;
                let json: Value = serde_json::from_str(&latest.schema).map_err(|error| {
                    definite(format!(
                        "the latest schema of {subject} is not JSON: {error}"
                    ))
                })?;
                let writer = Arc::new(writer_from_json(json)?);
                locked(&self.latest).insert(subject.to_owned(), (latest.id, Arc::clone(&writer)));
                return Ok((latest.id, writer));
            }
        };
        locked(&self.ids).insert(cache_key, id);
        Ok((id, Arc::clone(derived)))
    }

    async fn reader_schema(&self, id: i32) -> Result<Arc<ReaderSchema>, ConversionError> {
        if let Some(found) = locked(&self.incoming).get(&id) {
            return Ok(Arc::clone(found));
        }
        let registered = self.client.schema_by_id(id).await.map_err(|error| {
            registry_error(&format!("Error retrieving Avro schema for id {id}"), &error)
        })?;
        if registered.schema_type != SchemaType::Avro {
            return Err(definite(format!(
                "schema id {id} is a {} schema, not an Avro one",
                registered.schema_type.as_str()
            )));
        }
        let parse = |text: &str| {
            serde_json::from_str::<Value>(text)
                .map_err(|error| definite(format!("schema id {id} is not JSON: {error}")))
        };
        let json = parse(&registered.schema)?;
        let mut all = Vec::new();
        for reference in &registered.resolved_references {
            all.push(parse(&reference.schema)?);
        }
        all.push(json.clone());
        let names = AvroNames::collect(&all.iter().collect::<Vec<_>>());
        let connect = avro_data::connect_schema_of(&json, &names)
            .map_err(|error| definite(format!("schema id {id} has no Connect schema: {error}")))?;
        let compiled = AvroSchema::compile(&registered.schema, &registered.resolved_references)
            .map_err(definite)?;
        let reader = Arc::new(ReaderSchema {
            json,
            names,
            compiled,
            connect,
        });
        let mut cache = locked(&self.incoming);
        if cache.len() >= self.settings.registry.cache_capacity {
            cache.clear();
        }
        cache.insert(id, Arc::clone(&reader));
        Ok(reader)
    }
}

fn writer_from_json(json: Value) -> Result<WriterSchema, ConversionError> {
    let text: Arc<str> = Arc::from(json.to_string());
    let compiled = AvroSchema::compile(&text, &[]).map_err(definite)?;
    let names = AvroNames::collect(&[&json]);
    let record_name = match &json {
        Value::Object(object) if object.get("type").is_some_and(|t| t == "record") => {
            let name = object
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Some(match object.get("namespace").and_then(Value::as_str) {
                Some(namespace) if !namespace.is_empty() && !name.contains('.') => {
                    format!("{namespace}.{name}")
                }
                _ => name.to_owned(),
            })
        }
        _ => None,
    };
    Ok(WriterSchema {
        text,
        json,
        names,
        compiled,
        record_name,
    })
}

#[cfg(test)]
mod tests {
    use connect_api::ConfigMap;
    use serde_json::json;

    use super::*;

    /// A converter whose registry is a local port nobody listens on (refused at once).
    fn unreachable_registry() -> SchemaConverter {
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
            SchemaConverterSettings::parse(&config, "value.converter", SchemaType::Avro, "c")
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_retriable_both_ways() {
        let converter = unreachable_registry();
        let schema: Schema = serde_json::from_value(json!({"type": "struct", "name": "a.B",
            "fields": [{"field": "id", "type": "int32"}]}))
        .unwrap();
        let error = converter
            .from_connect("t", Some(&schema), &json!({"id": 1}))
            .await
            .unwrap_err();
        assert!(error.retriable, "{error}");
        let error = converter
            .to_connect("t", Some(&[0, 0, 0, 0, 1, 2]))
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
}
