//! Consumer-group lag in seconds: `now − timestamp of the record at the committed offset`,
//! i.e. the age of the next record the group has not consumed (kafka-lag-exporter's
//! `kafka_consumergroup_group_lag_seconds`, measured from the record instead of
//! interpolated).
//!
//! Cost is bounded per scrape, and an idle group costs nothing:
//! 1. lag 0 (caught up): 0 s, nothing is read;
//! 2. the record at `(topic, partition, committed offset)` was read on an earlier scrape:
//!    its cached timestamp is used. The cache holds only positions some group sits at now,
//!    so a stalled group is read once and a moving one once per new commit;
//! 3. otherwise the record is read through broker-core's [`RecordPeek`] (one small fetch
//!    per partition), at most `lag_seconds_max_peeks` positions per scrape, largest record
//!    lag first, within `lag_seconds_peek_timeout_ms` and the scrape deadline;
//! 4. a position not read this scrape (over the budget, or no answer in time) reports the
//!    age of the last record read for that group and partition at an earlier commit, which
//!    is older than the one at the current commit (timestamps that follow the log), so the
//!    value is an upper bound, too high by at most the time the group consumed since. With no
//!    earlier read there is no series for that partition this scrape. A position that gave
//!    no answer is read again after [`UNANSWERED_RETRY`].
//!
//! Timestamps are the records' own (CreateTime unless the topic uses LogAppendTime): a
//! producer whose clock is off or that sets old timestamps shows as lag, and the age is
//! measured with the gateway's clock.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use broker_core::record_peek::{PartitionKey, RecordPeek};
use broker_core::{BrokerError, KafkaClients};

use crate::lag::GroupLag;

/// How long a position that gave no record waits before it is read again.
pub(crate) const UNANSWERED_RETRY: Duration = Duration::from_secs(30);

/// Lag in seconds of one group on one partition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartitionLagSeconds {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) seconds: f64,
}

/// The lag in seconds of one group's partitions; `max` over them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupLagSeconds {
    pub(crate) group: String,
    pub(crate) partitions: Vec<PartitionLagSeconds>,
}

impl GroupLagSeconds {
    pub(crate) fn max(&self) -> Option<f64> {
        self.partitions.iter().map(|p| p.seconds).reduce(f64::max)
    }
}

/// The record read at a position.
#[derive(Debug, Clone, Copy)]
enum Read {
    Timestamp(i64),
    /// Read without an answer at that instant.
    Unanswered(Instant),
}

/// Per-scrape budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeekBudget {
    pub(crate) max_positions: usize,
    pub(crate) timeout: Duration,
}

#[derive(Debug, Default)]
struct Memory {
    /// By `(topic, partition, offset)`; only positions some group sits at.
    reads: HashMap<(String, i32, i64), Read>,
    /// Last record read per `(group, topic, partition)`: `(offset, timestamp ms)`.
    last: HashMap<(String, String, i32), (i64, i64)>,
}

/// Measures lag in seconds on each scrape, remembering what it read.
#[derive(Debug)]
pub(crate) struct LagSecondsReader {
    peek: Arc<RecordPeek>,
    budget: PeekBudget,
    memory: Mutex<Memory>,
}

/// A position to read and the record lag that ranks it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    key: (String, i32, i64),
    lag: i64,
}

impl LagSecondsReader {
    pub(crate) fn new(clients: &KafkaClients, budget: PeekBudget) -> Result<Self, BrokerError> {
        Ok(Self {
            peek: Arc::new(RecordPeek::new(
                clients,
                "kafka-gateway-metrics-lag-peek",
                "metrics lag peek",
            )?),
            budget,
            memory: Mutex::new(Memory::default()),
        })
    }

    /// The lag in seconds of every group and partition with a known record lag.
    pub(crate) async fn measure(
        &self,
        lags: &[(String, GroupLag)],
        deadline: Instant,
    ) -> Vec<GroupLagSeconds> {
        let to_read = {
            let memory = self.lock();
            select_reads(lags, &memory.reads, self.budget.max_positions)
        };
        let timeout = self
            .budget
            .timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let found = if to_read.is_empty() || timeout.is_zero() {
            HashMap::new()
        } else {
            let peek = Arc::clone(&self.peek);
            let positions: Vec<(PartitionKey, i64)> = to_read
                .iter()
                .map(|(topic, partition, offset)| ((topic.clone(), *partition), *offset))
                .collect();
            broker_core::task::spawn_blocking("metrics-lag-peek", move || {
                peek.timestamps(&positions, timeout)
            })
            .await
            .unwrap_or_default()
        };
        let now = Instant::now();
        let mut memory = self.lock();
        for key in to_read {
            let read = found
                .get(&((key.0.clone(), key.1), key.2))
                .map_or(Read::Unanswered(now), |timestamp| {
                    Read::Timestamp(*timestamp)
                });
            memory.reads.insert(key, read);
        }
        settle(&mut memory, lags, now_millis())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Positions with a record lag that have no usable read: never read, or unanswered for
/// longer than [`UNANSWERED_RETRY`]. Largest lag first, at most `max_positions`.
fn select_reads(
    lags: &[(String, GroupLag)],
    reads: &HashMap<(String, i32, i64), Read>,
    max_positions: usize,
) -> Vec<(String, i32, i64)> {
    let mut wanted: HashMap<(String, i32, i64), i64> = HashMap::new();
    for (_, lag) in lags {
        for partition in &lag.partitions {
            let Some(records) = partition.lag.filter(|l| *l > 0) else {
                continue;
            };
            let key = (
                partition.topic.clone(),
                partition.partition,
                partition.committed,
            );
            let usable = match reads.get(&key) {
                Some(Read::Timestamp(_)) => true,
                Some(Read::Unanswered(at)) => at.elapsed() < UNANSWERED_RETRY,
                None => false,
            };
            if !usable {
                let entry = wanted.entry(key).or_default();
                *entry = (*entry).max(records);
            }
        }
    }
    let mut wanted: Vec<Wanted> = wanted
        .into_iter()
        .map(|(key, lag)| Wanted { key, lag })
        .collect();
    wanted.sort_by(|a, b| b.lag.cmp(&a.lag).then_with(|| a.key.cmp(&b.key)));
    wanted.truncate(max_positions);
    wanted.into_iter().map(|w| w.key).collect()
}

/// Turns the reads into seconds (cases 1, 2 and 4 of the module doc) and forgets the
/// positions and groups no longer present.
fn settle(memory: &mut Memory, lags: &[(String, GroupLag)], now_ms: i64) -> Vec<GroupLagSeconds> {
    let mut positions = HashSet::new();
    let mut group_partitions = HashSet::new();
    let mut result = Vec::new();
    for (group, lag) in lags {
        let mut partitions = Vec::new();
        for partition in &lag.partitions {
            let Some(records) = partition.lag else {
                continue;
            };
            let last_key = (group.clone(), partition.topic.clone(), partition.partition);
            let position = (
                partition.topic.clone(),
                partition.partition,
                partition.committed,
            );
            let seconds = if records == 0 {
                Some(0.0)
            } else {
                positions.insert(position.clone());
                match memory.reads.get(&position) {
                    Some(Read::Timestamp(timestamp)) => {
                        memory
                            .last
                            .insert(last_key.clone(), (partition.committed, *timestamp));
                        Some(age_seconds(now_ms, *timestamp))
                    }
                    _ => memory
                        .last
                        .get(&last_key)
                        .filter(|(offset, _)| *offset <= partition.committed)
                        .map(|(_, timestamp)| age_seconds(now_ms, *timestamp)),
                }
            };
            group_partitions.insert(last_key);
            if let Some(seconds) = seconds {
                partitions.push(PartitionLagSeconds {
                    topic: partition.topic.clone(),
                    partition: partition.partition,
                    seconds,
                });
            }
        }
        result.push(GroupLagSeconds {
            group: group.clone(),
            partitions,
        });
    }
    memory.reads.retain(|key, _| positions.contains(key));
    memory.last.retain(|key, _| group_partitions.contains(key));
    result
}

fn age_seconds(now_ms: i64, timestamp_ms: i64) -> f64 {
    (now_ms.saturating_sub(timestamp_ms)).max(0) as f64 / 1000.0
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lag::PartitionLag;

    fn group(name: &str, partitions: &[(&str, i32, i64, Option<i64>)]) -> (String, GroupLag) {
        (
            name.to_owned(),
            GroupLag {
                partitions: partitions
                    .iter()
                    .map(|(topic, partition, committed, lag)| PartitionLag {
                        topic: (*topic).to_owned(),
                        partition: *partition,
                        committed: *committed,
                        lag: *lag,
                    })
                    .collect(),
                topics: Vec::new(),
            },
        )
    }

    #[test]
    fn only_lagging_unread_positions_are_read_largest_lag_first_within_the_budget() {
        let lags = [
            group("g1", &[("t", 0, 5, Some(10)), ("t", 1, 7, Some(0))]),
            group("g2", &[("t", 0, 5, Some(10)), ("t", 2, 3, Some(50))]),
            group("g3", &[("t", 3, 1, Some(99)), ("t", 4, 1, None)]),
        ];
        let mut reads = HashMap::new();
        reads.insert(("t".to_owned(), 3, 1), Read::Timestamp(1));
        let selected = select_reads(&lags, &reads, 10);
        assert_eq!(
            selected,
            vec![("t".to_owned(), 2, 3), ("t".to_owned(), 0, 5)],
            "t-3 is cached, t-1 is caught up, t-4 has no known lag, t-0 is read once"
        );
        assert_eq!(select_reads(&lags, &reads, 1), vec![("t".to_owned(), 2, 3)]);
    }

    #[test]
    fn an_unanswered_position_waits_before_it_is_read_again() {
        let lags = [group("g", &[("t", 0, 5, Some(1))])];
        let mut reads = HashMap::new();
        reads.insert(("t".to_owned(), 0, 5), Read::Unanswered(Instant::now()));
        assert!(select_reads(&lags, &reads, 10).is_empty());
    }

    #[test]
    fn seconds_are_exact_from_a_read_zero_when_caught_up_and_an_upper_bound_otherwise() {
        let now_ms = 1_000_000;
        let mut memory = Memory::default();
        memory
            .reads
            .insert(("t".to_owned(), 0, 5), Read::Timestamp(now_ms - 120_000));
        let first = settle(
            &mut memory,
            &[group("g", &[("t", 0, 5, Some(3)), ("t", 1, 9, Some(0))])],
            now_ms,
        );
        assert_eq!(first[0].partitions[0].seconds, 120.0);
        assert_eq!(first[0].partitions[1].seconds, 0.0);
        assert_eq!(first[0].max(), Some(120.0));

        // The group committed further but the new position was not read: the last read
        // record, older than the one now at the commit, bounds the age from above.
        let second = settle(
            &mut memory,
            &[group("g", &[("t", 0, 6, Some(2))])],
            now_ms + 1_000,
        );
        assert_eq!(second[0].partitions[0].seconds, 121.0);
        assert!(memory.reads.is_empty(), "position 5 is no longer wanted");

        // A group never read on that partition has no series.
        let other = settle(&mut memory, &[group("h", &[("t", 0, 6, Some(2))])], now_ms);
        assert!(other[0].partitions.is_empty());
        assert!(
            !memory
                .last
                .contains_key(&("g".to_owned(), "t".to_owned(), 0)),
            "departed groups are forgotten"
        );
    }
}
