//! The periodic offset tasks of a flow:
//! - checkpoints: every `emit.checkpoints.interval.seconds`, each selected source group's
//!   committed offsets are translated through the dense map and written to
//!   `<source>.checkpoints.internal` on the target in MM2's layout (only when changed);
//! - `sync.group.offsets`: the same translations committed on the target for groups with
//!   no active members there, only forward;
//! - heartbeats: every `emit.heartbeats.interval.seconds`, `(source, target, now)` into the
//!   target's `heartbeats` and, as MM2's reverse herder does, `(target, source, now)` into
//!   the source's `heartbeats`, which the flow then copies as `<source>.heartbeats`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use broker_core::{KafkaClients, Shutdown};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::watch;

use super::format::{Checkpoint, Heartbeat};
use super::load_offset_map;
use super::map::Translated;
use crate::config::{Flow, ValidatedMirror};
use crate::error::MirrorError;
use crate::groups::{commit_offsets, committed_offsets, list_groups, writable_on_target};
use crate::metrics::MirrorMetrics;
use crate::policy::HEARTBEATS_TOPIC;
use crate::topics::TopicPlan;

pub(crate) struct OffsetTasks {
    pub(crate) flow: Arc<Flow>,
    pub(crate) source: KafkaClients,
    pub(crate) target: KafkaClients,
    pub(crate) plan: watch::Receiver<TopicPlan>,
    pub(crate) metrics: MirrorMetrics,
}

type Emitted = BTreeMap<(String, String, i32), (i64, i64)>;

impl OffsetTasks {
    pub(crate) fn new(
        config: &ValidatedMirror,
        flow: Arc<Flow>,
        plan: watch::Receiver<TopicPlan>,
        metrics: MirrorMetrics,
    ) -> Self {
        Self {
            source: KafkaClients::new(config.cluster(&flow.source).cluster.clone()),
            target: KafkaClients::new(config.cluster(&flow.target).cluster.clone()),
            flow,
            plan,
            metrics,
        }
    }

    pub(crate) async fn run(self, shutdown: Shutdown) -> Result<(), MirrorError> {
        let producer: FutureProducer = self.target.producer()?;
        let source_producer: FutureProducer = self.source.producer()?;
        let hour = Duration::from_secs(3600);
        let mut heartbeat_tick = tokio::time::interval(self.flow.heartbeats.unwrap_or(hour));
        let mut checkpoint_tick = tokio::time::interval(self.flow.checkpoints.unwrap_or(hour));
        let mut sync_tick = tokio::time::interval(self.flow.sync_group_offsets.unwrap_or(hour));
        let mut emitted = Emitted::new();
        loop {
            tokio::select! {
                () = shutdown.wait() => return Ok(()),
                _ = heartbeat_tick.tick(), if self.flow.heartbeats.is_some() => {
                    self.heartbeat(&producer, &source_producer).await;
                }
                _ = checkpoint_tick.tick(), if self.flow.checkpoints.is_some() => {
                    if let Err(error) = self.checkpoint(&producer, &mut emitted, &shutdown).await {
                        tracing::warn!(flow = %self.flow.name(), %error, "checkpoint pass failed, retrying at the next interval");
                    }
                }
                _ = sync_tick.tick(), if self.flow.sync_group_offsets.is_some() => {
                    if let Err(error) = self.sync_groups(&shutdown).await {
                        tracing::warn!(flow = %self.flow.name(), %error, "group offset sync failed, retrying at the next interval");
                    }
                }
            }
        }
    }

    async fn heartbeat(&self, target: &FutureProducer, source: &FutureProducer) {
        let now = super::now_millis();
        let forward = Heartbeat {
            source: self.flow.source.clone(),
            target: self.flow.target.clone(),
            timestamp_ms: now,
        };
        let reverse = Heartbeat {
            source: self.flow.target.clone(),
            target: self.flow.source.clone(),
            timestamp_ms: now,
        };
        for (producer, heartbeat) in [(target, forward), (source, reverse)] {
            let (key, value) = (heartbeat.key(), heartbeat.value());
            let record = FutureRecord::to(HEARTBEATS_TOPIC)
                .partition(0)
                .key(&key)
                .payload(&value);
            if let Err((error, _)) = producer.send(record, Duration::from_secs(5)).await {
                tracing::debug!(flow = %self.flow.name(), %error, "heartbeat not written");
            }
        }
    }

    /// Translated positions of every selected group: group → (source tp → (upstream, target)).
    /// A pass asks every group on the source, one OffsetFetch each (with a client per
    /// group: rust-rdkafka has no ListConsumerGroupOffsets), which takes a while on a
    /// cluster with hundreds of groups; `stop` ends it between groups so that shutdown
    /// does not wait for the pass.
    async fn translate_groups(
        &self,
        stop: &Shutdown,
    ) -> Result<BTreeMap<String, BTreeMap<(String, i32), (i64, i64)>>, MirrorError> {
        let plan = self.plan.borrow().clone();
        let stop = stop.clone();
        let flow = Arc::clone(&self.flow);
        let source = self.source.clone();
        let target = self.target.clone();
        broker_core::task::spawn_blocking("mirror-checkpoint-translate", move || {
            let timeout = flow.admin_timeout.min(Duration::from_secs(30));
            let partitions: Vec<(String, i32)> = plan
                .iter()
                .flat_map(|(topic, m)| (0..m.partitions).map(move |p| (topic.clone(), p)))
                .collect();
            let map = load_offset_map(
                &target,
                &flow.policy.offset_map_topic(&flow.source),
                timeout,
            )?;
            let own = flow.replication_group();
            let mut out = BTreeMap::new();
            for group in list_groups(&source, timeout)?.into_keys() {
                if stop.is_triggered() {
                    break;
                }
                if group == own || !flow.groups.matches(&group) {
                    continue;
                }
                let mut translated = BTreeMap::new();
                for ((topic, partition), offset) in
                    committed_offsets(&source, &group, &partitions, timeout)?
                {
                    // Only exact translations are checkpointed: never a position past the
                    // group's.
                    if let Translated::Exact(target_offset) =
                        map.translate(&topic, partition, offset)
                    {
                        translated.insert((topic, partition), (offset, target_offset));
                    }
                }
                if !translated.is_empty() {
                    out.insert(group, translated);
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| MirrorError::Task {
            task: "checkpoints".to_owned(),
            reason: e.to_string(),
        })?
    }

    async fn checkpoint(
        &self,
        producer: &FutureProducer,
        emitted: &mut Emitted,
        stop: &Shutdown,
    ) -> Result<(), MirrorError> {
        let topic = self.flow.policy.checkpoints_topic(&self.flow.source);
        for (group, positions) in self.translate_groups(stop).await? {
            for ((source_topic, partition), (upstream, downstream)) in positions {
                let remote = self
                    .flow
                    .policy
                    .remote_topic(&self.flow.source, &source_topic);
                let key = (group.clone(), remote.clone(), partition);
                if emitted.get(&key) == Some(&(upstream, downstream)) {
                    continue;
                }
                let checkpoint = Checkpoint {
                    group: group.clone(),
                    topic: remote,
                    partition,
                    upstream,
                    downstream,
                    metadata: String::new(),
                };
                let (k, v) = (checkpoint.key(), checkpoint.value());
                producer
                    .send(
                        FutureRecord::to(&topic).partition(0).key(&k).payload(&v),
                        Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(e, _)| {
                        MirrorError::kafka(&self.flow.name(), "write checkpoint", e)
                    })?;
                emitted.insert(key, (upstream, downstream));
                self.metrics
                    .checkpoints
                    .get_or_create(&vec![("flow", self.flow.name())])
                    .inc();
            }
        }
        Ok(())
    }

    async fn sync_groups(&self, stop: &Shutdown) -> Result<(), MirrorError> {
        let translated = self.translate_groups(stop).await?;
        if stop.is_triggered() {
            return Ok(());
        }
        let flow = Arc::clone(&self.flow);
        let target = self.target.clone();
        broker_core::task::spawn_blocking("mirror-group-offset-sync", move || {
            let timeout = flow.admin_timeout.min(Duration::from_secs(30));
            let states = list_groups(&target, timeout)?;
            for (group, positions) in translated {
                if !writable_on_target(states.get(&group)) {
                    tracing::debug!(flow = %flow.name(), %group, "group is active on the target, not syncing");
                    continue;
                }
                let remote: BTreeMap<(String, i32), i64> = positions
                    .iter()
                    .map(|((topic, partition), (_, target_offset))| {
                        ((flow.policy.remote_topic(&flow.source, topic), *partition), *target_offset)
                    })
                    .collect();
                let keys: Vec<(String, i32)> = remote.keys().cloned().collect();
                let current = committed_offsets(&target, &group, &keys, timeout)?;
                let forward: BTreeMap<(String, i32), i64> = remote
                    .into_iter()
                    .filter(|(tp, offset)| current.get(tp).is_none_or(|c| offset > c))
                    .collect();
                if let Err(error) = commit_offsets(&target, &group, &forward) {
                    tracing::warn!(flow = %flow.name(), %group, %error, "translated offsets not committed");
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| MirrorError::Task {
            task: "group offset sync".to_owned(),
            reason: e.to_string(),
        })?
    }
}
