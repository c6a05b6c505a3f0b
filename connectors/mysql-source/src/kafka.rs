//! The Kafka side the runtime does not offer a source connector: creating the topics it
//! writes (`<prefix>.<db>.<table>`, `<prefix>`, the heartbeat and schema history topics;
//! Kafka Connect's `topic.creation.default.*`), and appending DDL to the schema history
//! topic. Both use `schema.history.internal.kafka.bootstrap.servers`; without it, topics
//! must exist before the connector writes to them.

use std::collections::HashSet;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::Value;

use crate::SourceError;
use crate::config::TopicCreation;

/// Creates each topic once per task, before the first record for it is handed out.
pub struct Topics {
    admin: AdminClient<DefaultClientContext>,
    producer: FutureProducer,
    settings: TopicCreation,
    known: HashSet<String>,
}

impl std::fmt::Debug for Topics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topics")
            .field("bootstrap", &self.settings.bootstrap_servers)
            .field("known", &self.known.len())
            .finish()
    }
}

impl Topics {
    pub fn new(settings: TopicCreation) -> Result<Self, SourceError> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &settings.bootstrap_servers);
        let admin = config.create().map_err(|e| {
            SourceError::definite(format!("cannot create a Kafka admin client: {e}"))
        })?;
        let producer = config
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .create()
            .map_err(|e| SourceError::definite(format!("cannot create a Kafka producer: {e}")))?;
        Ok(Self {
            admin,
            producer,
            settings,
            known: HashSet::new(),
        })
    }

    /// Creates the topics not created yet; an existing topic is fine.
    pub async fn ensure<'a>(
        &mut self,
        topics: impl IntoIterator<Item = &'a str>,
        single_partition: bool,
    ) -> Result<(), SourceError> {
        let missing: Vec<String> = topics
            .into_iter()
            .filter(|t| !self.known.contains(*t))
            .map(str::to_owned)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let partitions = if single_partition {
            1
        } else {
            self.settings.partitions
        };
        let new: Vec<NewTopic<'_>> = missing
            .iter()
            .map(|t| {
                NewTopic::new(
                    t,
                    partitions,
                    TopicReplication::Fixed(self.settings.replication_factor),
                )
            })
            .collect();
        let results = self
            .admin
            .create_topics(
                &new,
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .map_err(|e| SourceError::transient(format!("cannot create topics: {e}")))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(SourceError::transient(format!(
                        "cannot create topic {topic}: {code}"
                    )));
                }
            }
        }
        // New topics need a moment before their leaders are known to every broker.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.known.extend(missing);
        Ok(())
    }

    /// Appends one record to the schema history topic and waits for Kafka's ack.
    pub async fn append_history(
        &mut self,
        topic: &str,
        key: &Value,
        value: &Value,
    ) -> Result<(), SourceError> {
        self.ensure([topic], true).await?;
        let key = (!key.is_null()).then(|| key.to_string());
        let value = value.to_string();
        let mut record: FutureRecord<'_, String, String> = FutureRecord::to(topic).payload(&value);
        if let Some(key) = &key {
            record = record.key(key);
        }
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map(|_| ())
            .map_err(|(e, _)| SourceError::transient(format!("cannot write schema history: {e}")))
    }
}
