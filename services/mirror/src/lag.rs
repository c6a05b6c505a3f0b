//! Replication lag of every partition a flow mirrors, measured apart from the copy threads
//! at each tick of the runner's lag loop (every 5 s).
//!
//! Every partition of the flow's topic plan is measured, whether this process copies it,
//! another process of the same flow does, or nobody does right now: a stalled flow shows
//! a growing lag instead of a frozen or vanished series. A partition that leaves the plan
//! (topic deleted or filtered out) loses all its per-partition series.
//!
//! **Position** (the next source record to copy), freshest first: the record after the
//! last one the target acknowledged to this process's copy thread; else the replication
//! group's committed offset on the source (another process copies the partition, or this
//! one restarted and has not copied a record of it yet); else the log start (a new flow
//! copies from the earliest record). Exactly-once flows commit nothing on the source: their
//! copy task seeds the position from the offset map when it takes the partition.
//!
//! - `record_lag` = source log end − position, in offsets (transaction markers count).
//! - `record_lag_seconds` = now − timestamp of the record at the position, i.e. the age of
//!   the oldest source record not yet copied; 0 when caught up. It is read cheaply:
//!   1. caught up: 0, nothing is read;
//!   2. the position has not moved since the record there was read: that record is still
//!      the oldest one, its cached timestamp is used (a stalled partition is read once);
//!   3. this process copies the partition and its last copied record is at most
//!      [`BOUND_TRUSTED_BELOW`] old: now − that record's timestamp. The next record is not
//!      older than the last copied one (for timestamps that follow the log), so this is an
//!      upper bound, too high by at most [`BOUND_TRUSTED_BELOW`];
//!   4. otherwise a bounded peek: the record at the position is fetched (one record batch
//!      per partition, at most [`MAX_PEEKS`] partitions per tick, largest record lag
//!      first, [`PEEK_DEADLINE`] in all). Exact as of the peek. A partition whose peek does
//!      not answer (e.g. only transaction markers after the position) keeps the bound of 3
//!      if there is one, else its previous value, and is peeked again after
//!      [`PEEK_RETRY`] or when its position moves.
//!
//!   Timestamps are the records' own (CreateTime unless the topic uses LogAppendTime), as
//!   in MM2's `record-age-ms`: a producer that sets old timestamps shows as lag.
//! - `rpo_seconds`: the earlier name of `record_lag_seconds`, same value. It used to be
//!   now − the last copied record's timestamp while the lag was above 0 (case 3 without
//!   its bound), which made a partition quiet for an hour look an hour behind as soon as
//!   one record arrived, and read 0 on a restarted process that had copied nothing yet.
//! - `offset_sync_age_seconds`: time since the last MM2 offset sync of the partition was
//!   acknowledged, for the partitions this process copies (syncs come from the copy
//!   thread); removed when the partition moves to another process.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use broker_core::KafkaClients;
use broker_core::record_peek::RecordPeek;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::config::{Delivery, Flow, ValidatedMirror};
use crate::error::MirrorError;
use crate::metrics::MirrorMetrics;
use crate::replicate::SlotRegistry;
use crate::topics::TopicPlan;

/// Case 3 of `record_lag_seconds`: the largest error accepted from the cheap upper bound.
pub(crate) const BOUND_TRUSTED_BELOW: f64 = 5.0;
/// Partitions peeked per tick and flow at most.
pub(crate) const MAX_PEEKS: usize = 200;
pub(crate) const PEEK_DEADLINE: Duration = Duration::from_secs(2);
pub(crate) const PEEK_RETRY: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(10);

type PartitionKey = (String, i32);

/// The record at a position, as last peeked.
#[derive(Debug, Clone, Copy)]
struct Oldest {
    position: i64,
    /// `None`: peeked without an answer.
    timestamp_ms: Option<i64>,
    peeked_at: Instant,
}

/// What this process's copy thread knows of a partition.
#[derive(Debug, Clone, Copy)]
struct LocalState {
    acknowledged_next: Option<i64>,
    acknowledged_timestamp_ms: Option<i64>,
    last_sync_ms: i64,
}

/// The source reads of one tick.
#[derive(Debug, Default)]
struct SourceRead {
    ends: HashMap<PartitionKey, i64>,
    committed: HashMap<PartitionKey, i64>,
    starts: HashMap<PartitionKey, i64>,
}

/// The blocking librdkafka handles of a flow's lag measurement, on the source.
struct SourceProbe {
    /// Log ends and starts (ListOffsets, batched per leader) and the replication group's
    /// commits (one OffsetFetch). Never subscribes, so it never joins the group.
    offsets: BaseConsumer,
    /// The records at the positions (broker-core's shared peek).
    peek: RecordPeek,
}

impl SourceProbe {
    fn new(clients: &KafkaClients, flow: &Flow) -> Result<Self, MirrorError> {
        let mut offsets = clients.consumer_config(&flow.replication_group());
        offsets.set("enable.auto.commit", "false");
        Ok(Self {
            offsets: broker_core::clients::create(&offsets, "mirror lag reader")?,
            peek: RecordPeek::new(clients, "kafka-gateway-mirror-lag-peek", "mirror lag peek")?,
        })
    }

    /// `at` (a ListOffsets timestamp: -1 end, -2 start) of each partition.
    fn list_offsets(
        &self,
        partitions: &[PartitionKey],
        at: Offset,
    ) -> Result<HashMap<PartitionKey, i64>, MirrorError> {
        if partitions.is_empty() {
            return Ok(HashMap::new());
        }
        let list = partition_list(partitions, |_| at)?;
        let answer = self
            .offsets
            .offsets_for_times(list, READ_TIMEOUT)
            .map_err(|e| MirrorError::kafka("mirror lag", "list offsets", e))?;
        Ok(offsets_of(&answer))
    }

    fn read(
        &self,
        partitions: &[PartitionKey],
        positioned: &BTreeSet<PartitionKey>,
        committed_on_source: bool,
    ) -> Result<SourceRead, MirrorError> {
        let ends = self.list_offsets(partitions, Offset::End)?;
        let unpositioned: Vec<PartitionKey> = partitions
            .iter()
            .filter(|key| !positioned.contains(*key))
            .cloned()
            .collect();
        let committed = if committed_on_source && !unpositioned.is_empty() {
            let list = partition_list(&unpositioned, |_| Offset::Invalid)?;
            let answer = self
                .offsets
                .committed_offsets(list, READ_TIMEOUT)
                .map_err(|e| MirrorError::kafka("mirror lag", "committed offsets", e))?;
            offsets_of(&answer)
        } else {
            HashMap::new()
        };
        let without_start: Vec<PartitionKey> = unpositioned
            .into_iter()
            .filter(|key| !committed.contains_key(key))
            .collect();
        let starts = self.list_offsets(&without_start, Offset::Beginning)?;
        Ok(SourceRead {
            ends,
            committed,
            starts,
        })
    }

    /// The timestamp of the record at each position; partitions that gave none within the
    /// deadline are absent.
    fn peek(&self, positions: &[(PartitionKey, i64)]) -> HashMap<PartitionKey, i64> {
        self.peek
            .timestamps(positions, PEEK_DEADLINE)
            .into_iter()
            .map(|((key, _), timestamp)| (key, timestamp))
            .collect()
    }
}

fn partition_list(
    partitions: &[PartitionKey],
    offset: impl Fn(&PartitionKey) -> Offset,
) -> Result<TopicPartitionList, MirrorError> {
    let mut list = TopicPartitionList::new();
    for key in partitions {
        list.add_partition_offset(&key.0, key.1, offset(key))
            .map_err(|e| MirrorError::kafka(&key.0, "lag partition list", e))?;
    }
    Ok(list)
}

fn offsets_of(list: &TopicPartitionList) -> HashMap<PartitionKey, i64> {
    list.elements()
        .iter()
        .filter(|e| e.error().is_ok())
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) => Some(((e.topic().to_owned(), e.partition()), offset)),
            _ => None,
        })
        .collect()
}

fn age_seconds(now_ms: i64, timestamp_ms: i64) -> f64 {
    (now_ms - timestamp_ms).max(0) as f64 / 1000.0
}

/// The lag measurement of one flow; [`FlowLag::measure`] once per tick.
pub(crate) struct FlowLag {
    flow: Arc<Flow>,
    plan: watch::Receiver<TopicPlan>,
    probe: Arc<SourceProbe>,
    metrics: MirrorMetrics,
    slots: SlotRegistry,
    oldest: HashMap<PartitionKey, Oldest>,
    /// Partitions with lag series.
    reported: BTreeSet<PartitionKey>,
    /// Partitions with an offset-sync age series.
    syncs_reported: BTreeSet<PartitionKey>,
}

impl std::fmt::Debug for FlowLag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowLag")
            .field("flow", &self.flow.name())
            .finish_non_exhaustive()
    }
}

impl FlowLag {
    pub(crate) fn new(
        config: &ValidatedMirror,
        flow: Arc<Flow>,
        plan: watch::Receiver<TopicPlan>,
        metrics: MirrorMetrics,
        slots: SlotRegistry,
    ) -> Result<Self, MirrorError> {
        let clients = KafkaClients::new(config.cluster(&flow.source).cluster.clone());
        Ok(Self {
            probe: Arc::new(SourceProbe::new(&clients, &flow)?),
            flow,
            plan,
            metrics,
            slots,
            oldest: HashMap::new(),
            reported: BTreeSet::new(),
            syncs_reported: BTreeSet::new(),
        })
    }

    pub(crate) fn flow_name(&self) -> String {
        self.flow.name()
    }

    /// Measures every partition of the plan and sets the series; returns each partition's
    /// source log end (for the source-ends topic).
    pub(crate) async fn measure(&mut self) -> Vec<(String, i32, i64)> {
        let flow = self.flow.name();
        let plan = self.plan.borrow().clone();
        let partitions: Vec<PartitionKey> = plan
            .iter()
            .flat_map(|(topic, mirrored)| (0..mirrored.partitions).map(|p| (topic.clone(), p)))
            .collect();
        self.forget_departed(&partitions);
        if partitions.is_empty() {
            return Vec::new();
        }
        let local = self.local_states();
        let positioned: BTreeSet<PartitionKey> = local
            .iter()
            .filter(|(_, state)| state.acknowledged_next.is_some())
            .map(|(key, _)| key.clone())
            .collect();
        let probe = Arc::clone(&self.probe);
        let committed_on_source = self.flow.delivery == Delivery::AtLeastOnce;
        let to_read = partitions.clone();
        let read = broker_core::task::spawn_blocking("mirror-lag-read", move || {
            probe.read(&to_read, &positioned, committed_on_source)
        })
        .await;
        let read = match read {
            Ok(Ok(read)) => read,
            Ok(Err(error)) => {
                tracing::debug!(%flow, %error, "lag not measured this tick");
                return Vec::new();
            }
            Err(error) => {
                tracing::debug!(%flow, %error, "lag reader failed");
                return Vec::new();
            }
        };
        let now_ms = crate::offsets::now_millis();
        let mut measured = Vec::new();
        let mut to_peek = Vec::new();
        for key in &partitions {
            let Some(&end) = read.ends.get(key) else {
                continue;
            };
            let state = local.get(key);
            let position = state
                .and_then(|s| s.acknowledged_next)
                .or_else(|| read.committed.get(key).copied())
                .or_else(|| read.starts.get(key).copied());
            let Some(position) = position else {
                continue;
            };
            let lag = (end - position).max(0);
            measured.push((key.clone(), end, position, lag));
            let bound = state
                .and_then(|s| s.acknowledged_timestamp_ms)
                .map(|ts| age_seconds(now_ms, ts));
            if lag > 0 && self.lag_seconds(key, position, bound, now_ms).is_none() {
                let cached = self.oldest.get(key).filter(|o| o.position == position);
                if cached.is_none_or(|o| o.peeked_at.elapsed() >= PEEK_RETRY) {
                    to_peek.push((key.clone(), position, lag));
                }
            }
        }
        self.peek(to_peek).await;
        let mut ends = Vec::new();
        for (key, end, position, lag) in measured {
            let labels = MirrorMetrics::labels(&flow, &key.0, key.1);
            self.metrics.record_lag.get_or_create(&labels).set(lag);
            let bound = local
                .get(&key)
                .and_then(|s| s.acknowledged_timestamp_ms)
                .map(|ts| age_seconds(now_ms, ts));
            let seconds = if lag == 0 {
                self.oldest.remove(&key);
                Some(0.0)
            } else {
                self.lag_seconds(&key, position, bound, now_ms).or(bound)
            };
            if let Some(seconds) = seconds {
                self.metrics
                    .record_lag_seconds
                    .get_or_create(&labels)
                    .set(seconds);
                self.metrics.rpo_seconds.get_or_create(&labels).set(seconds);
            }
            self.reported.insert(key.clone());
            ends.push((key.0, key.1, end));
        }
        self.report_sync_ages(&local, now_ms);
        ends
    }

    /// Cases 2 and 3 of `record_lag_seconds` (module doc); `None` when a peek is needed.
    fn lag_seconds(
        &self,
        key: &PartitionKey,
        position: i64,
        bound: Option<f64>,
        now_ms: i64,
    ) -> Option<f64> {
        if let Some(Oldest {
            timestamp_ms: Some(timestamp),
            ..
        }) = self.oldest.get(key).filter(|o| o.position == position)
        {
            return Some(age_seconds(now_ms, *timestamp));
        }
        bound.filter(|seconds| *seconds <= BOUND_TRUSTED_BELOW)
    }

    /// Case 4: the records at the positions, largest lags first, at most [`MAX_PEEKS`].
    async fn peek(&mut self, mut wanted: Vec<(PartitionKey, i64, i64)>) {
        if wanted.is_empty() {
            return;
        }
        wanted.sort_by_key(|(_, _, lag)| std::cmp::Reverse(*lag));
        wanted.truncate(MAX_PEEKS);
        let positions: Vec<(PartitionKey, i64)> = wanted
            .iter()
            .map(|(key, position, _)| (key.clone(), *position))
            .collect();
        let probe = Arc::clone(&self.probe);
        let asked = positions.clone();
        let found =
            broker_core::task::spawn_blocking("mirror-lag-peek", move || probe.peek(&asked))
                .await
                .unwrap_or_default();
        let peeked_at = Instant::now();
        for (key, position) in positions {
            let timestamp_ms = found.get(&key).copied();
            self.oldest.insert(
                key,
                Oldest {
                    position,
                    timestamp_ms,
                    peeked_at,
                },
            );
        }
    }

    fn local_states(&self) -> HashMap<PartitionKey, LocalState> {
        let flow = self.flow.name();
        let slots: Vec<_> = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|((slot_flow, _, _), _)| *slot_flow == flow)
            .map(|((_, topic, partition), slot)| ((topic.clone(), *partition), Arc::clone(slot)))
            .collect();
        slots
            .into_iter()
            .map(|(key, slot)| {
                let state = slot.lock();
                let local = LocalState {
                    acknowledged_next: state.acknowledged_next,
                    acknowledged_timestamp_ms: state.acknowledged_timestamp_ms,
                    last_sync_ms: slot.last_sync_ms.load(Ordering::Relaxed),
                };
                (key, local)
            })
            .collect()
    }

    fn report_sync_ages(&mut self, local: &HashMap<PartitionKey, LocalState>, now_ms: i64) {
        let flow = self.flow.name();
        let synced: BTreeSet<PartitionKey> = local
            .iter()
            .filter(|(_, state)| state.last_sync_ms > 0)
            .map(|(key, _)| key.clone())
            .collect();
        for gone in self.syncs_reported.difference(&synced) {
            self.metrics
                .offset_sync_age_seconds
                .remove(&MirrorMetrics::labels(&flow, &gone.0, gone.1));
        }
        for key in &synced {
            if let Some(state) = local.get(key) {
                self.metrics
                    .offset_sync_age_seconds
                    .get_or_create(&MirrorMetrics::labels(&flow, &key.0, key.1))
                    .set(age_seconds(now_ms, state.last_sync_ms));
            }
        }
        self.syncs_reported = synced;
    }

    /// Partitions no longer in the plan lose every per-partition series.
    fn forget_departed(&mut self, partitions: &[PartitionKey]) {
        let current: BTreeSet<&PartitionKey> = partitions.iter().collect();
        let flow = self.flow.name();
        let departed: Vec<PartitionKey> = self
            .reported
            .iter()
            .filter(|key| !current.contains(key))
            .cloned()
            .collect();
        for key in departed {
            self.metrics
                .remove_partition(&MirrorMetrics::labels(&flow, &key.0, key.1));
            self.reported.remove(&key);
            self.syncs_reported.remove(&key);
            self.oldest.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use broker_core::telemetry::MetricsRegistry;

    use super::*;
    use crate::topics::MirroredTopic;

    #[tokio::test]
    async fn a_partition_that_leaves_the_plan_loses_every_series() {
        let config = crate::parse_properties(
            "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\n\
             B.bootstrap.servers = 127.0.0.1:2\nA->B.enabled = true\n",
        )
        .expect("valid properties");
        let flow = Arc::new(config.flows[0].clone());
        let mirrored = MirroredTopic {
            target: "A.orders".to_owned(),
            partitions: 1,
        };
        let (plan, receiver) =
            watch::channel(Arc::new(BTreeMap::from([("orders".to_owned(), mirrored)])));
        let registry = MetricsRegistry::new();
        let metrics = MirrorMetrics::new(&registry);
        let mut lag = FlowLag::new(
            &config,
            flow,
            receiver,
            metrics.clone(),
            SlotRegistry::default(),
        )
        .expect("probe clients");
        let labels = MirrorMetrics::labels("A->B", "orders", 0);
        metrics.record_lag.get_or_create(&labels).set(5);
        metrics.record_lag_seconds.get_or_create(&labels).set(1.5);
        metrics.rpo_seconds.get_or_create(&labels).set(1.5);
        metrics
            .offset_sync_age_seconds
            .get_or_create(&labels)
            .set(3.0);
        metrics.records.get_or_create(&labels).inc();
        lag.reported.insert(("orders".to_owned(), 0));
        lag.syncs_reported.insert(("orders".to_owned(), 0));
        assert!(
            registry
                .render()
                .expect("render")
                .contains("topic=\"orders\"")
        );

        // The topic is no longer mirrored: no source read happens, its series go.
        plan.send(Arc::new(BTreeMap::new()))
            .expect("plan receiver alive");
        assert!(lag.measure().await.is_empty());
        let text = registry.render().expect("render");
        assert!(!text.contains("topic=\"orders\""), "{text}");
        assert!(lag.reported.is_empty() && lag.syncs_reported.is_empty());
    }

    #[test]
    fn a_cached_peek_is_used_only_at_the_same_position_and_the_bound_only_when_small() {
        let config = crate::parse_properties(
            "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\n\
             B.bootstrap.servers = 127.0.0.1:2\nA->B.enabled = true\n",
        )
        .expect("valid properties");
        let flow = Arc::new(config.flows[0].clone());
        let (_plan, receiver) = watch::channel(Arc::new(BTreeMap::new()));
        let registry = MetricsRegistry::new();
        let mut lag = FlowLag::new(
            &config,
            flow,
            receiver,
            MirrorMetrics::new(&registry),
            SlotRegistry::default(),
        )
        .expect("probe clients");
        let key = ("orders".to_owned(), 0);
        let now_ms = 1_000_000;
        lag.oldest.insert(
            key.clone(),
            Oldest {
                position: 42,
                timestamp_ms: Some(now_ms - 90_000),
                peeked_at: Instant::now(),
            },
        );
        // The record at 42 is still the oldest one not copied: 90 s, whatever the bound.
        assert_eq!(lag.lag_seconds(&key, 42, Some(1.0), now_ms), Some(90.0));
        // The position moved: the cache says nothing; a small bound is trusted...
        assert_eq!(lag.lag_seconds(&key, 43, Some(2.0), now_ms), Some(2.0));
        // ...a large one is not (a quiet partition that just got a record): peek.
        assert_eq!(lag.lag_seconds(&key, 43, Some(3600.0), now_ms), None);
        assert_eq!(lag.lag_seconds(&key, 43, None, now_ms), None);
    }
}
