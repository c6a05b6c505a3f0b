//! Lag in seconds of a group on a partition: now − the timestamp of the record at the
//! group's committed offset (the oldest record the group has not consumed yet).
//!
//! That timestamp is read with a one-record fetch and cached per (group, topic, partition,
//! offset): the record at an offset never changes, so the cache is only ever stale by
//! being bounded. When it holds [`MAX_ENTRIES`] it is emptied rather than evicted entry
//! by entry: committed offsets move, so old entries are dead weight anyway.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use broker_core::BrokerError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

/// Most cached timestamps.
const MAX_ENTRIES: usize = 10_000;

/// (topic, partition, offset) → the record's timestamp in ms.
pub(crate) type Position = (String, i32, i64);

#[derive(Debug, Default)]
pub(crate) struct LagSecondsCache {
    timestamps: Mutex<HashMap<Position, i64>>,
}

impl LagSecondsCache {
    pub(crate) fn get(&self, position: &Position) -> Option<i64> {
        self.timestamps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(position)
            .copied()
    }

    pub(crate) fn insert(&self, position: Position, timestamp: i64) {
        let mut timestamps = self
            .timestamps
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if timestamps.len() >= MAX_ENTRIES {
            timestamps.clear();
        }
        timestamps.insert(position, timestamp);
    }
}

/// Reads the timestamp of the record at each position (blocking: run it on the blocking
/// pool). A position whose record did not arrive in time is left out.
pub(crate) fn read_timestamps(
    consumer: &BaseConsumer,
    positions: &[Position],
    timeout: Duration,
) -> Result<Vec<(Position, i64)>, BrokerError> {
    let mut found = Vec::new();
    if positions.is_empty() {
        return Ok(found);
    }
    let mut assignment = TopicPartitionList::new();
    for (topic, partition, offset) in positions {
        assignment
            .add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|e| BrokerError::kafka("lag timestamp assignment", e))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| BrokerError::kafka("lag timestamp assignment", e))?;
    let mut missing: Vec<&Position> = positions.iter().collect();
    let deadline = Instant::now() + timeout;
    while !missing.is_empty() && Instant::now() < deadline {
        let Some(polled) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let Ok(message) = polled else { continue };
        let index = missing.iter().position(|(topic, partition, _)| {
            topic == message.topic() && *partition == message.partition()
        });
        if let Some(index) = index {
            let position = missing.swap_remove(index);
            if let Some(timestamp) = message.timestamp().to_millis() {
                found.push((position.clone(), timestamp));
            }
        }
    }
    Ok(found)
}
