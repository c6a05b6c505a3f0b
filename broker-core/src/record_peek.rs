//! The timestamp of the record at a given offset, read with one small fetch per partition:
//! what "lag in seconds" needs (the age of the next record a reader has not consumed yet).
//! Used by the mirror's replication lag and the metrics service's consumer-group lag.
//!
//! One librdkafka consumer is assigned the wanted positions (never subscribed, so it joins
//! no group and commits nothing), polled until every position answered or the deadline
//! passed, then unassigned. A partition can be assigned at one offset at a time, so
//! positions on the same partition (several groups at different offsets) are read in
//! rounds, lowest offset first, sharing the one deadline.
//!
//! The answer for a position is the first record at or after it: a compacted-away or
//! aborted offset is skipped by the fetch, which is still the oldest record not consumed.
//! A position that gets no record in time (only transaction markers after it, a slow
//! leader) is absent from the answer.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::{BrokerError, KafkaClients};

/// A topic and partition.
pub type PartitionKey = (String, i32);

/// Reads record timestamps at offsets; blocking, call it from `spawn_blocking`.
pub struct RecordPeek {
    consumer: BaseConsumer,
}

impl std::fmt::Debug for RecordPeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordPeek").finish_non_exhaustive()
    }
}

impl RecordPeek {
    /// `group_id` only names the client in broker logs: the consumer never joins it.
    pub fn new(
        clients: &KafkaClients,
        group_id: &str,
        operation: &'static str,
    ) -> Result<Self, BrokerError> {
        let mut config = clients.consumer_config(group_id);
        // One small fetch per partition: the broker still returns the whole first batch,
        // prefetching stops at once.
        config
            .set("enable.auto.commit", "false")
            .set("fetch.message.max.bytes", "1024")
            .set("queued.max.messages.kbytes", "64")
            .set("fetch.wait.max.ms", "100");
        Ok(Self {
            consumer: crate::clients::create(&config, operation)?,
        })
    }

    /// The CreateTime (or LogAppendTime) in ms of the record at or after each position;
    /// positions without an answer before `timeout` are absent.
    pub fn timestamps(
        &self,
        positions: &[(PartitionKey, i64)],
        timeout: Duration,
    ) -> HashMap<(PartitionKey, i64), i64> {
        let deadline = Instant::now() + timeout;
        let mut found = HashMap::new();
        for round in rounds(positions) {
            if Instant::now() >= deadline {
                break;
            }
            self.peek_round(&round, deadline, &mut found);
        }
        if let Err(error) = self.consumer.unassign() {
            tracing::debug!(%error, "record peek not unassigned");
        }
        found
    }

    fn peek_round(
        &self,
        round: &BTreeMap<PartitionKey, i64>,
        deadline: Instant,
        found: &mut HashMap<(PartitionKey, i64), i64>,
    ) {
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in round {
            if let Err(error) =
                list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            {
                tracing::debug!(%error, topic, partition, "record peek position skipped");
            }
        }
        if let Err(error) = self.consumer.assign(&list) {
            tracing::debug!(%error, "record peek not assigned");
            return;
        }
        let mut answered = 0;
        while answered < round.len() && Instant::now() < deadline {
            let Some(Ok(message)) = self.consumer.poll(Duration::from_millis(50)) else {
                continue;
            };
            let key = (message.topic().to_owned(), message.partition());
            let Some(&wanted) = round.get(&key) else {
                continue;
            };
            // Only the first record at or after the position counts: the partition goes on
            // delivering later ones while the round waits for the others.
            if message.offset() >= wanted
                && let Some(timestamp) = message.timestamp().to_millis()
                && let std::collections::hash_map::Entry::Vacant(entry) = found.entry((key, wanted))
            {
                entry.insert(timestamp);
                answered += 1;
            }
        }
    }
}

/// Positions split so that each round holds a partition once, lowest offsets first.
fn rounds(positions: &[(PartitionKey, i64)]) -> Vec<BTreeMap<PartitionKey, i64>> {
    let mut per_partition: BTreeMap<&PartitionKey, Vec<i64>> = BTreeMap::new();
    for (key, offset) in positions {
        per_partition.entry(key).or_default().push(*offset);
    }
    let mut rounds: Vec<BTreeMap<PartitionKey, i64>> = Vec::new();
    for (key, mut offsets) in per_partition {
        offsets.sort_unstable();
        offsets.dedup();
        for (index, offset) in offsets.into_iter().enumerate() {
            if rounds.len() <= index {
                rounds.push(BTreeMap::new());
            }
            rounds[index].insert(key.clone(), offset);
        }
    }
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_appears_once_per_round_lowest_offset_first() {
        let key = |t: &str, p: i32| (t.to_owned(), p);
        let rounds = rounds(&[
            (key("a", 0), 9),
            (key("a", 0), 3),
            (key("b", 1), 5),
            (key("a", 0), 3),
        ]);
        assert_eq!(rounds.len(), 2);
        assert_eq!(
            rounds[0],
            BTreeMap::from([(key("a", 0), 3), (key("b", 1), 5)])
        );
        assert_eq!(rounds[1], BTreeMap::from([(key("a", 0), 9)]));
    }
}
