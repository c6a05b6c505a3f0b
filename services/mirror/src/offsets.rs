//! Offsets across clusters: the dense offset map ([`map`]), MM2's binary layouts
//! ([`format`]), MM2 offset-sync emission ([`syncs`]) and the checkpoint / heartbeat tasks
//! ([`checkpoints`]).

pub mod checkpoints;
pub mod format;
pub(crate) mod group_pass;
pub mod map;
pub mod syncs;

use std::time::{Duration, Instant};

use broker_core::KafkaClients;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::error::MirrorError;
use format::MapRecord;
use map::OffsetMap;

/// Reads a single-partition internal topic from the beginning to its end (read_committed),
/// handing every record to `apply`. Blocking: call it from a blocking thread.
pub(crate) fn read_to_end(
    clients: &KafkaClients,
    topic: &str,
    timeout: Duration,
    mut apply: impl FnMut(&[u8], &[u8]),
) -> Result<(), MirrorError> {
    read_to_end_timed(clients, topic, timeout, |key, value, _| apply(key, value))
}

/// [`read_to_end`] that also hands over each record's timestamp (ms, when it has one).
pub(crate) fn read_to_end_timed(
    clients: &KafkaClients,
    topic: &str,
    timeout: Duration,
    mut apply: impl FnMut(&[u8], &[u8], Option<i64>),
) -> Result<(), MirrorError> {
    let mut config = clients.consumer_config("kafka-gateway-mirror-reader");
    config
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed");
    let consumer: BaseConsumer = broker_core::clients::create(&config, "internal topic reader")?;
    let (_, high) = match consumer.fetch_watermarks(topic, 0, timeout) {
        Ok(marks) => marks,
        Err(error)
            if error.rdkafka_error_code()
                == Some(rdkafka::error::RDKafkaErrorCode::UnknownTopicOrPartition) =>
        {
            return Ok(());
        }
        Err(error) => return Err(MirrorError::kafka(topic, "read watermarks", error)),
    };
    if high == 0 {
        return Ok(());
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .map_err(|e| MirrorError::kafka(topic, "assign", e))?;
    consumer
        .assign(&assignment)
        .map_err(|e| MirrorError::kafka(topic, "assign", e))?;
    let deadline = Instant::now() + timeout;
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                if let (Some(key), Some(value)) = (message.key(), message.payload()) {
                    apply(key, value, message.timestamp().to_millis());
                }
                if message.offset() + 1 >= high {
                    return Ok(());
                }
            }
            Some(Err(error)) => {
                return Err(MirrorError::kafka(topic, "read internal topic", error));
            }
            None => {}
        }
        let position = consumer
            .position()
            .ok()
            .and_then(|p| p.find_partition(topic, 0).and_then(|e| e.offset().to_raw()));
        if position.is_some_and(|p| p >= high) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(MirrorError::kafka(
                topic,
                "read internal topic",
                rdkafka::error::KafkaError::MessageConsumption(
                    rdkafka::error::RDKafkaErrorCode::OperationTimedOut,
                ),
            ));
        }
    }
}

/// Loads a flow's dense offset map from its topic on the target.
pub(crate) fn load_offset_map(
    clients: &KafkaClients,
    topic: &str,
    timeout: Duration,
) -> Result<OffsetMap, MirrorError> {
    let mut map = OffsetMap::default();
    let mut corrupt = None;
    read_to_end(
        clients,
        topic,
        timeout,
        |key, value| match MapRecord::decode(key, value) {
            Some(record) => map.apply(&record),
            None => corrupt = Some(key.len()),
        },
    )?;
    if let Some(length) = corrupt {
        tracing::warn!(
            topic,
            key_length = length,
            "skipped malformed offset map records"
        );
    }
    Ok(map)
}

pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
