//! `_schemas` on Kafka: the topic checked (or created) at start-up, a reader task that
//! replays it from the first record into [`RegistryState`], and writes that return only
//! once that reader applied them.
//!
//! Invariants:
//! - The topic has exactly one partition and `cleanup.policy=compact`, or start-up fails
//!   (as Confluent's `KafkaStore` does): ids are only unique if every instance reads every
//!   record in one order.
//! - The reader assigns partition 0 (no consumer group, nothing committed) and publishes the
//!   offset after each applied record; the state lock is a `std::sync::RwLock` never held
//!   across an `.await`.
//! - A write is acknowledged by every in-sync replica (`acks=all`, idempotent) and waits
//!   until the local reader is past its offset, so a caller reads its own write.
//! - [`KafkaStore::sync`] writes a NOOP and waits for it: once it returns the state holds
//!   every record written before, which the primary needs before choosing a new id.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use broker_core::metadata::ClusterInspector;
use broker_core::{BrokerError, ErrorKind, KafkaClients, Shutdown};
use rdkafka::admin::{AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::watch;
use tracing::Instrument;

use crate::store::records::Record;
use crate::store::state::RegistryState;

/// Why the store could not start.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("the schemas topic {topic} cannot be used: {reason}")]
    Topic { topic: String, reason: String },
}

pub struct KafkaStore {
    topic: String,
    state: Arc<RwLock<RegistryState>>,
    producer: FutureProducer,
    /// Next offset to apply (= last applied + 1).
    position: watch::Receiver<i64>,
    timeout: Duration,
}

impl std::fmt::Debug for KafkaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaStore")
            .field("topic", &self.topic)
            .field("position", &*self.position.borrow())
            .finish_non_exhaustive()
    }
}

impl KafkaStore {
    /// Checks or creates the topic and starts the reader; the state fills up in the
    /// background ([`Self::sync`] waits for it).
    pub async fn start(
        clients: &KafkaClients,
        topic: &str,
        replication_factor: Option<i16>,
        timeout: Duration,
        shutdown: Shutdown,
    ) -> Result<Self, StoreError> {
        ensure_topic(clients, topic, replication_factor).await?;
        let mut config = clients.consumer_config(&format!("schema-registry-reader-{topic}"));
        config
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "50");
        let consumer: StreamConsumer =
            broker_core::clients::create(&config, "schemas topic reader")?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, 0, Offset::Beginning)
            .map_err(|source| BrokerError::kafka("schemas topic assignment", source))?;
        consumer
            .assign(&assignment)
            .map_err(|source| BrokerError::kafka("schemas topic assignment", source))?;
        let state = Arc::new(RwLock::new(RegistryState::default()));
        let (position_tx, position) = watch::channel(0);
        let reader_state = Arc::clone(&state);
        let span = tracing::info_span!("schema-registry-reader", topic);
        broker_core::task::spawn(
            "schema-registry-reader",
            read_loop(consumer, reader_state, position_tx, shutdown).instrument(span),
        );
        Ok(Self {
            topic: topic.to_owned(),
            state,
            producer: clients.producer()?,
            position,
            timeout,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The current state; drop the guard before any `.await`.
    pub fn state(&self) -> RwLockReadGuard<'_, RegistryState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `records` in order and returns once the reader applied the last one.
    pub async fn write(&self, records: &[Record]) -> Result<(), BrokerError> {
        let mut last = None;
        for record in records {
            let (key, value) = record.to_bytes();
            let mut message: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
                .partition(0)
                .key(key.as_slice());
            if let Some(value) = &value {
                message = message.payload(value.as_slice());
            }
            let delivery = self
                .producer
                .send(message, self.timeout)
                .await
                .map_err(|(source, _)| BrokerError::kafka("schemas topic write", source))?;
            last = Some(delivery.offset);
        }
        match last {
            Some(offset) => self.wait_past(offset).await,
            None => Ok(()),
        }
    }

    /// Writes a NOOP and waits for it: the state then holds every earlier record.
    pub async fn sync(&self) -> Result<(), BrokerError> {
        self.write(&[Record::Noop]).await
    }

    async fn wait_past(&self, offset: i64) -> Result<(), BrokerError> {
        let mut position = self.position.clone();
        match tokio::time::timeout(self.timeout, position.wait_for(|p| *p > offset)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(BrokerError::Other {
                kind: ErrorKind::Unavailable,
                message: format!("the reader of {} stopped", self.topic),
            }),
            Err(_) => Err(BrokerError::Timeout {
                operation: "schemas topic read-back",
                timeout: self.timeout,
            }),
        }
    }
}

async fn read_loop(
    consumer: StreamConsumer,
    state: Arc<RwLock<RegistryState>>,
    position: watch::Sender<i64>,
    shutdown: Shutdown,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let message = tokio::select! {
            () = shutdown.wait() => return,
            message = consumer.recv() => message,
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "reading the schemas topic failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let offset = message.offset();
        match message.key() {
            None => tracing::warn!(offset, "record without key in the schemas topic, skipped"),
            Some(key) => match Record::parse(key, message.payload()) {
                Ok(record) => {
                    let mut state = state.write().unwrap_or_else(PoisonError::into_inner);
                    if let Err(error) = state.apply(record) {
                        tracing::warn!(offset, %error, "schemas record not applied");
                    }
                }
                Err(error) => tracing::warn!(offset, %error, "malformed schemas record skipped"),
            },
        }
        position.send_replace(offset + 1);
    }
}

/// Creates the topic when missing (one partition, compacted, replication min(brokers, 3)
/// unless configured) and refuses one that is not one compacted partition.
async fn ensure_topic(
    clients: &KafkaClients,
    topic: &str,
    replication_factor: Option<i16>,
) -> Result<(), StoreError> {
    let inspector = ClusterInspector::new(clients, Duration::from_secs(10))?;
    let brokers = inspector.metadata(None).await?.brokers.len();
    let replication = replication_factor.map_or_else(
        || i32::try_from(brokers.clamp(1, 3)).unwrap_or(1),
        i32::from,
    );
    let admin = clients.admin()?;
    let new_topic = NewTopic::new(topic, 1, TopicReplication::Fixed(replication))
        .set("cleanup.policy", "compact");
    let results = admin
        .create_topics(
            [&new_topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|source| BrokerError::kafka("schemas topic creation", source))?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, replication, "created the schemas topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(StoreError::Topic {
                    topic,
                    reason: format!("creation failed: {code}"),
                });
            }
        }
    }
    let mut partitions = 0;
    for _ in 0..300 {
        if let Ok(info) = inspector.topic(topic).await
            && !info.partitions.is_empty()
            && info.partitions.iter().all(|p| p.leader >= 0)
        {
            partitions = info.partitions.len();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if partitions != 1 {
        return Err(StoreError::Topic {
            topic: topic.to_owned(),
            reason: if partitions == 0 {
                "it has no leader after 30 s".to_owned()
            } else {
                format!("it has {partitions} partitions; it must have exactly one")
            },
        });
    }
    let described = admin
        .describe_configs(
            [&ResourceSpecifier::Topic(topic)],
            &AdminOptions::new().request_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|source| BrokerError::kafka("schemas topic config check", source))?;
    for resource in described.into_iter().flatten() {
        let policy = resource
            .get("cleanup.policy")
            .and_then(|entry| entry.value.clone())
            .unwrap_or_default();
        if !policy.split(',').any(|p| p.trim() == "compact") {
            return Err(StoreError::Topic {
                topic: topic.to_owned(),
                reason: format!("its cleanup.policy is `{policy}`; it must be compact"),
            });
        }
    }
    Ok(())
}
