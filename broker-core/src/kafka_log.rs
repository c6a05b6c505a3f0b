//! A compacted topic read into memory and written with read-your-writes: the Connect
//! worker's config, offset and status stores and the bridge's consumer-instance directory.
//!
//! The reader assigns every partition from the beginning (no consumer group, nothing is
//! committed) and applies each record to the store's state under a `std::sync::Mutex`
//! that is never held across an `.await`. After each record it publishes the partition's
//! position, which is what [`KafkaLog::write`] and [`KafkaLog::read_to_end`] wait on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::metadata::ClusterInspector;
use crate::{BrokerError, ErrorKind, KafkaClients, Shutdown};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::watch;
use tracing::Instrument;

/// How a store folds one record into its state.
pub trait LogState: Send + 'static {
    fn apply(&mut self, key: &[u8], value: Option<&[u8]>, offset: i64);
}

/// How long a write waits to be read back before the caller gets a timeout.
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(30);

pub struct KafkaLog<S> {
    topic: String,
    state: Arc<Mutex<S>>,
    producer: FutureProducer,
    positions: watch::Receiver<HashMap<i32, i64>>,
    consumer: Arc<StreamConsumer>,
    partitions: i32,
}

impl<S> std::fmt::Debug for KafkaLog<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaLog")
            .field("topic", &self.topic)
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

impl<S: LogState> KafkaLog<S> {
    /// Starts the reader; the state holds nothing until [`Self::read_to_end`] returned.
    pub async fn start(
        clients: &KafkaClients,
        topic: &str,
        state: S,
        shutdown: Shutdown,
    ) -> Result<Self, BrokerError> {
        let inspector = ClusterInspector::new(clients, Duration::from_secs(10))?;
        let partitions = i32::try_from(inspector.topic(topic).await?.partitions.len())
            .unwrap_or(1)
            .max(1);
        let mut consumer_config = clients.consumer_config(&format!("kafka-log-reader-{topic}"));
        consumer_config
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "100")
            // Offsets written by exactly-once source tasks count only once committed.
            .set("isolation.level", "read_committed");
        let consumer: StreamConsumer =
            crate::clients::create(&consumer_config, "internal topic reader")?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .map_err(|source| BrokerError::kafka("internal topic assignment", source))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|source| BrokerError::kafka("internal topic assignment", source))?;
        let consumer = Arc::new(consumer);
        let state = Arc::new(Mutex::new(state));
        let (positions_tx, positions) = watch::channel(HashMap::new());
        let producer = clients.producer()?;
        let reader_consumer = Arc::clone(&consumer);
        let reader_state = Arc::clone(&state);
        let reader_topic = topic.to_owned();
        let span = tracing::info_span!("kafka-log-reader", topic);
        crate::task::spawn(
            "kafka-log-reader",
            async move {
                read_loop(
                    reader_consumer,
                    reader_state,
                    positions_tx,
                    reader_topic,
                    shutdown,
                )
                .await;
            }
            .instrument(span),
        );
        Ok(Self {
            topic: topic.to_owned(),
            state,
            producer,
            positions,
            consumer,
            partitions,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Runs `read` on the current state.
    pub fn read<T>(&self, read: impl FnOnce(&S) -> T) -> T {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        read(&state)
    }

    /// Runs `update` on the current state (for settings of the reader itself, not records).
    pub fn update(&self, update: impl FnOnce(&mut S)) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        update(&mut state);
    }

    /// A receiver that changes after every applied record.
    pub fn changes(&self) -> watch::Receiver<HashMap<i32, i64>> {
        self.positions.clone()
    }

    /// Waits until every record present now in the topic has been applied.
    pub async fn read_to_end(&self) -> Result<(), BrokerError> {
        let consumer = Arc::clone(&self.consumer);
        let topic = self.topic.clone();
        let partitions = self.partitions;
        let ends = crate::task::spawn_blocking("kafka-log-end-offsets", move || {
            let mut ends = HashMap::new();
            for partition in 0..partitions {
                let mut attempt = 0;
                let high = loop {
                    match consumer.fetch_watermarks(&topic, partition, Duration::from_secs(10)) {
                        Ok((_, high)) => break high,
                        Err(source) => {
                            let error = BrokerError::kafka("internal topic watermarks", source);
                            // A fresh topic's leader may still be moving in: retry briefly.
                            if !error.is_retriable() || attempt >= 50 {
                                return Err(error);
                            }
                            attempt += 1;
                            #[allow(
                                clippy::disallowed_methods,
                                reason = "on the blocking pool, not a runtime thread"
                            )]
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                };
                ends.insert(partition, high);
            }
            Ok::<_, BrokerError>(ends)
        })
        .await
        .map_err(|error| BrokerError::Other {
            kind: ErrorKind::Internal,
            message: format!("watermark lookup panicked: {error}"),
        })??;
        self.wait_for(move |positions| {
            ends.iter().all(|(partition, end)| {
                *end <= 0 || positions.get(partition).is_some_and(|p| p >= end)
            })
        })
        .await
    }

    async fn wait_for(&self, done: impl Fn(&HashMap<i32, i64>) -> bool) -> Result<(), BrokerError> {
        let mut positions = self.positions.clone();
        let wait = positions.wait_for(|p| done(p));
        match tokio::time::timeout(READ_BACK_TIMEOUT, wait).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(BrokerError::Other {
                kind: ErrorKind::Unavailable,
                message: format!("the reader of {} stopped", self.topic),
            }),
            Err(_) => Err(BrokerError::Timeout {
                operation: "internal topic read-back",
                timeout: READ_BACK_TIMEOUT,
            }),
        }
    }

    /// Writes one record (`None` = tombstone) and returns once the reader applied it.
    pub async fn write(&self, key: &[u8], value: Option<&[u8]>) -> Result<(), BrokerError> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic).key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        let delivery = self
            .producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(source, _)| BrokerError::kafka("internal topic write", source))?;
        let (partition, offset) = (delivery.partition, delivery.offset);
        self.wait_for(move |positions| positions.get(&partition).is_some_and(|p| *p > offset))
            .await
    }

    /// Writes records without waiting for each read-back; waits for the last one.
    pub async fn write_all(
        &self,
        records: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), BrokerError> {
        let mut last = None;
        for (key, value) in records {
            let mut record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&self.topic).key(key.as_slice());
            if let Some(value) = value {
                record = record.payload(value.as_slice());
            }
            let delivery = self
                .producer
                .send(record, Duration::from_secs(30))
                .await
                .map_err(|(source, _)| BrokerError::kafka("internal topic write", source))?;
            last = Some(delivery);
        }
        if let Some(delivery) = last {
            let (partition, offset) = (delivery.partition, delivery.offset);
            self.wait_for(move |positions| positions.get(&partition).is_some_and(|p| *p > offset))
                .await?;
        }
        Ok(())
    }
}

/// How often an idle reader publishes the consumer's own position. Transactional writers
/// (exactly-once sources) leave commit markers that are never handed out as records; only
/// the consumer's position moves past them, so without this a partition ending in a marker
/// would never count as read to its end.
const POSITION_REFRESH: Duration = Duration::from_millis(200);

async fn read_loop<S: LogState>(
    consumer: Arc<StreamConsumer>,
    state: Arc<Mutex<S>>,
    positions: watch::Sender<HashMap<i32, i64>>,
    topic: String,
    shutdown: Shutdown,
) {
    let mut refresh = tokio::time::interval(POSITION_REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let message = tokio::select! {
            () = shutdown.wait() => return,
            // Runs only between records: every record the consumer handed out is applied.
            _ = refresh.tick() => {
                publish_consumer_position(&consumer, &positions, &topic);
                continue;
            }
            message = consumer.recv() => message,
        };
        match message {
            Ok(message) => {
                let (partition, offset) = (message.partition(), message.offset());
                {
                    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                    state.apply(message.key().unwrap_or_default(), message.payload(), offset);
                }
                positions.send_modify(|p| {
                    p.insert(partition, offset + 1);
                });
            }
            Err(error) => {
                tracing::warn!(%error, topic, "internal topic read failed, retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

fn publish_consumer_position(
    consumer: &StreamConsumer,
    positions: &watch::Sender<HashMap<i32, i64>>,
    topic: &str,
) {
    let Ok(list) = consumer.position() else {
        return;
    };
    let ahead: Vec<(i32, i64)> = list
        .elements_for_topic(topic)
        .iter()
        .filter_map(|element| match element.offset() {
            Offset::Offset(offset) => Some((element.partition(), offset)),
            _ => None,
        })
        .filter(|(partition, offset)| {
            positions
                .borrow()
                .get(partition)
                .is_none_or(|known| offset > known)
        })
        .collect();
    if !ahead.is_empty() {
        positions.send_modify(|p| p.extend(ahead));
    }
}
