//! The periodic offset tasks of a flow:
//! - checkpoints: every `emit.checkpoints.interval.seconds`, each selected source group's
//!   committed offsets are translated through the dense map and written to
//!   `<source>.checkpoints.internal` on the target in MM2's layout (only when changed);
//! - `sync.group.offsets`: the same translations committed on the target for groups with
//!   no active members there, only forward;
//! - both passes read committed offsets in batches per group coordinator
//!   ([`super::group_pass`]), so their cost follows the selected groups, not all groups;
//! - heartbeats: every `emit.heartbeats.interval.seconds`, `(source, target, now)` into the
//!   target's `heartbeats` and, as MM2's reverse herder does, `(target, source, now)` into
//!   the source's `heartbeats`, which the flow then copies as `<source>.heartbeats`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::wire::WireClient;
use broker_core::wire::offset_commit::GroupCommits;
use broker_core::{KafkaClients, Shutdown, ValidatedCluster};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use tokio::sync::watch;

use super::format::{Checkpoint, Heartbeat};
use super::group_pass::{self, CommittedGroups, GroupDirectory, TranslatedGroups};
use super::load_offset_map;
use crate::config::{Flow, ValidatedMirror};
use crate::error::MirrorError;
use crate::groups::{list_groups, writable_on_target};
use crate::metrics::MirrorMetrics;
use crate::policy::HEARTBEATS_TOPIC;
use crate::topics::TopicPlan;

pub(crate) struct OffsetTasks {
    pub(crate) flow: Arc<Flow>,
    pub(crate) source: KafkaClients,
    pub(crate) target: KafkaClients,
    pub(crate) plan: watch::Receiver<TopicPlan>,
    pub(crate) metrics: MirrorMetrics,
    /// Both clusters' settings, for the native clients built when the tasks start.
    pub(crate) wire_clusters: [ValidatedCluster; 2],
}

type Emitted = BTreeMap<(String, String, i32), (i64, i64)>;

/// A checkpoint enqueued and not yet acknowledged: its `Emitted` key and value.
type PendingCheckpoint = ((String, String, i32), (i64, i64), DeliveryFuture);

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
            wire_clusters: [
                config.cluster(&flow.source).cluster.clone(),
                config.cluster(&flow.target).cluster.clone(),
            ],
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
        let wire = |cluster: &ValidatedCluster| {
            WireClient::new(
                cluster,
                self.flow.admin_timeout.min(Duration::from_secs(30)),
            )
            .map_err(|error| MirrorError::Broker(error.into()))
        };
        let [source_cluster, target_cluster] = &self.wire_clusters;
        let mut checkpoints = PassState::new("checkpoint", &self.flow, wire(source_cluster)?);
        let mut sync = PassState::new("sync", &self.flow, wire(source_cluster)?);
        let target_wire = wire(target_cluster)?;
        loop {
            tokio::select! {
                () = shutdown.wait() => return Ok(()),
                _ = heartbeat_tick.tick(), if self.flow.heartbeats.is_some() => {
                    self.heartbeat(&producer, &source_producer).await;
                }
                _ = checkpoint_tick.tick(), if self.flow.checkpoints.is_some() => {
                    if let Err(error) = self.checkpoint(&producer, &mut checkpoints, &shutdown).await {
                        tracing::warn!(flow = %self.flow.name(), %error, "checkpoint pass failed, retrying at the next interval");
                    }
                }
                _ = sync_tick.tick(), if self.flow.sync_group_offsets.is_some() => {
                    if let Err(error) = self.sync_groups(&mut sync, &target_wire, &shutdown).await {
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

    /// Translated positions of the selected groups, read in batches (see [`group_pass`]).
    /// `stop` ends the pass between its steps so that shutdown does not wait for it.
    async fn translate_groups(
        &self,
        pass: &mut PassState,
        interval: Option<Duration>,
        stop: &Shutdown,
    ) -> Result<(TranslatedGroups, CommittedGroups), MirrorError> {
        let plan = self.plan.borrow().clone();
        let flow = Arc::clone(&self.flow);
        let source = self.source.clone();
        let target = self.target.clone();
        let started = Instant::now();
        let (listed, map) =
            broker_core::task::spawn_blocking("mirror-checkpoint-list", move || {
                let timeout = flow.admin_timeout.min(Duration::from_secs(30));
                let listed: BTreeSet<String> = list_groups(&source, timeout)?.into_keys().collect();
                let map = load_offset_map(
                    &target,
                    &flow.policy.offset_map_topic(&flow.source),
                    timeout,
                )?;
                Ok::<_, MirrorError>((listed, map))
            })
            .await
            .map_err(|e| MirrorError::Task {
                task: "checkpoints".to_owned(),
                reason: e.to_string(),
            })??;
        let listed_in = started.elapsed();
        let listed_groups = listed.len();
        for group in pass.directory.update(listed, Instant::now()) {
            pass.forget(&self.flow, &group, &self.metrics);
        }
        let selected = pass.directory.selected(&self.flow);
        self.metrics
            .offset_pass_groups
            .get_or_create(&pass_labels(&self.flow, pass.kind))
            .set(i64::try_from(selected.len()).unwrap_or(i64::MAX));
        if stop.is_triggered() || selected.is_empty() {
            return Ok((TranslatedGroups::new(), CommittedGroups::new()));
        }
        let deadline = group_pass::pass_deadline(&self.flow, interval);
        let answers = pass
            .source
            .committed_offsets(&selected, deadline)
            .await
            .map_err(|e| MirrorError::Broker(e.into()))?;
        let mirrored: BTreeSet<String> = plan.keys().cloned().collect();
        let (translated, committed, failed) = group_pass::translate(answers, &mirrored, &map);
        tracing::debug!(
            flow = %self.flow.name(),
            pass = pass.kind,
            listed = listed_groups,
            selected = selected.len(),
            translated = translated.len(),
            list_and_map_ms = listed_in.as_millis(),
            fetch_ms = (started.elapsed() - listed_in).as_millis(),
            "group offsets read"
        );
        for (group, error) in &failed {
            tracing::warn!(flow = %self.flow.name(), %group, %error, "committed offsets not read, the group is asked again next pass");
        }
        Ok((translated, committed))
    }

    /// A checkpoint pass, timed; then every known group's checkpoint age and the answered
    /// groups' translation lag are reported.
    async fn checkpoint(
        &self,
        producer: &FutureProducer,
        pass: &mut PassState,
        stop: &Shutdown,
    ) -> Result<(), MirrorError> {
        let started = Instant::now();
        let result = self.emit_checkpoints(producer, pass, started, stop).await;
        self.metrics
            .offset_pass_seconds
            .get_or_create(&pass_labels(&self.flow, pass.kind))
            .observe(started.elapsed().as_secs_f64());
        pass.report_ages(&self.flow, &self.metrics);
        let committed = result?;
        pass.report_translation_lag(&self.flow, &self.metrics, &committed);
        Ok(())
    }

    /// Writes the checkpoints that changed, all enqueued before any acknowledgement is
    /// awaited: a pass with a thousand moved groups costs about one produce round trip,
    /// not a thousand.
    async fn emit_checkpoints(
        &self,
        producer: &FutureProducer,
        pass: &mut PassState,
        started: Instant,
        stop: &Shutdown,
    ) -> Result<CommittedGroups, MirrorError> {
        let topic = self.flow.policy.checkpoints_topic(&self.flow.source);
        let (translated, committed) = self
            .translate_groups(pass, self.flow.checkpoints, stop)
            .await?;
        let mut pending = Vec::new();
        let mut groups = Vec::new();
        for (group, positions) in translated {
            for ((source_topic, partition), (upstream, downstream)) in positions {
                let remote = self
                    .flow
                    .policy
                    .remote_topic(&self.flow.source, &source_topic);
                let key = (group.clone(), remote.clone(), partition);
                if pass.emitted.get(&key) == Some(&(upstream, downstream)) {
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
                let delivery = loop {
                    let record = FutureRecord::to(&topic).partition(0).key(&k).payload(&v);
                    match producer.send_result(record) {
                        Ok(delivery) => break delivery,
                        Err((e, _)) if pending.is_empty() => {
                            return Err(MirrorError::kafka(
                                &self.flow.name(),
                                "write checkpoint",
                                e,
                            ));
                        }
                        // A full producer queue: what was enqueued is acknowledged first.
                        Err(_) => self.acknowledge(pass, &mut pending).await?,
                    }
                };
                pending.push((key, (upstream, downstream), delivery));
            }
            groups.push(group);
        }
        self.acknowledge(pass, &mut pending).await?;
        // Every position of these groups read at `started` is on the target now.
        for group in groups {
            pass.confirmed.insert(group, started);
        }
        Ok(committed)
    }

    async fn acknowledge(
        &self,
        pass: &mut PassState,
        pending: &mut Vec<PendingCheckpoint>,
    ) -> Result<(), MirrorError> {
        let mut failure = None;
        for (key, positions, delivery) in pending.drain(..) {
            match delivery.await {
                Ok(Ok(_)) => {
                    pass.emitted.insert(key, positions);
                    self.metrics
                        .checkpoints
                        .get_or_create(&vec![("flow", self.flow.name())])
                        .inc();
                }
                Ok(Err((error, _))) => failure = Some(error),
                Err(_canceled) => {
                    failure = Some(rdkafka::error::KafkaError::Canceled);
                }
            }
        }
        match failure {
            Some(error) => Err(MirrorError::kafka(
                &self.flow.name(),
                "write checkpoint",
                error,
            )),
            None => Ok(()),
        }
    }

    /// A group-sync pass, timed.
    async fn sync_groups(
        &self,
        pass: &mut PassState,
        target_wire: &WireClient,
        stop: &Shutdown,
    ) -> Result<(), MirrorError> {
        let started = Instant::now();
        let result = self.commit_on_target(pass, target_wire, stop).await;
        self.metrics
            .offset_pass_seconds
            .get_or_create(&pass_labels(&self.flow, pass.kind))
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// Translated positions committed on the target for the groups that have no active
    /// members there, only forward: the target's states from one listing, its commits in
    /// the same batches as the source's, and one native OffsetCommit per group that moved.
    async fn commit_on_target(
        &self,
        pass: &mut PassState,
        target_wire: &WireClient,
        stop: &Shutdown,
    ) -> Result<(), MirrorError> {
        let (translated, _) = self
            .translate_groups(pass, self.flow.sync_group_offsets, stop)
            .await?;
        if stop.is_triggered() || translated.is_empty() {
            return Ok(());
        }
        let flow = Arc::clone(&self.flow);
        let target = self.target.clone();
        let states = broker_core::task::spawn_blocking("mirror-group-states", move || {
            list_groups(&target, flow.admin_timeout.min(Duration::from_secs(30)))
        })
        .await
        .map_err(|e| MirrorError::Task {
            task: "group offset sync".to_owned(),
            reason: e.to_string(),
        })??;
        let mut writable = Vec::new();
        for group in translated.keys() {
            if writable_on_target(states.get(group)) {
                writable.push(group.clone());
            } else {
                tracing::debug!(flow = %self.flow.name(), %group, "group is active on the target, not syncing");
            }
        }
        let deadline = group_pass::pass_deadline(&self.flow, self.flow.sync_group_offsets);
        let mut current = target_wire
            .committed_offsets(&writable, deadline)
            .await
            .map_err(|e| MirrorError::Broker(e.into()))?;
        let mut commits = GroupCommits::new();
        for (group, positions) in translated {
            let Some(answer) = current.remove(&group) else {
                continue;
            };
            let current = match answer {
                Ok(current) => current,
                Err(error) => {
                    tracing::warn!(flow = %self.flow.name(), %group, %error, "target commits not read, the group is synced next pass");
                    continue;
                }
            };
            let wanted = positions
                .iter()
                .map(|((topic, partition), (_, target_offset))| {
                    (
                        (
                            self.flow.policy.remote_topic(&self.flow.source, topic),
                            *partition,
                        ),
                        *target_offset,
                    )
                })
                .collect();
            let forward = group_pass::forward_of(wanted, &current);
            if !forward.is_empty() {
                commits.insert(group, forward);
            }
        }
        if commits.is_empty() {
            return Ok(());
        }
        let deadline = group_pass::pass_deadline(&self.flow, self.flow.sync_group_offsets);
        let results = target_wire
            .commit_group_offsets(&commits, deadline)
            .await
            .map_err(|e| MirrorError::Broker(e.into()))?;
        for (group, result) in results {
            if let Err(error) = result {
                tracing::warn!(flow = %self.flow.name(), %group, %error, "translated offsets not committed");
            }
        }
        Ok(())
    }
}

/// One pass's state (checkpoints or group sync): its group directory, its native client to
/// the source, what it wrote, and when each group was last brought up to date.
struct PassState {
    kind: &'static str,
    directory: GroupDirectory,
    source: WireClient,
    emitted: Emitted,
    confirmed: BTreeMap<String, Instant>,
    /// Groups with a translation lag series.
    lagging_reported: BTreeSet<String>,
}

impl PassState {
    fn new(kind: &'static str, flow: &Flow, source: WireClient) -> Self {
        Self {
            kind,
            directory: GroupDirectory::new(flow.refresh_groups),
            source,
            emitted: Emitted::new(),
            confirmed: BTreeMap::new(),
            lagging_reported: BTreeSet::new(),
        }
    }

    /// A group the refresh found deleted: its cache and its age series go.
    fn forget(&mut self, flow: &Flow, group: &str, metrics: &MirrorMetrics) {
        self.emitted.retain(|(g, _, _), _| g != group);
        if self.confirmed.remove(group).is_some() {
            metrics
                .checkpoint_age_seconds
                .remove(&group_labels(flow, group));
        }
        if self.lagging_reported.remove(group) {
            metrics
                .group_translation_lag
                .remove(&group_labels(flow, group));
        }
    }

    /// Per answered group: the records its source commits are ahead of the positions its
    /// acknowledged checkpoints stand for, summed over its mirrored partitions. A partition
    /// without a checkpoint counts from the first source offset the target holds (a
    /// failover has no position for it); one the mirror never copied counts nothing (its
    /// records show in `record_lag`). Summed per group, not per partition: groups ×
    /// partitions series would grow with every consumer of every mirrored topic, while
    /// alerts and the failover question ("would this group re-read records?") are per group.
    fn report_translation_lag(
        &mut self,
        flow: &Flow,
        metrics: &MirrorMetrics,
        committed: &CommittedGroups,
    ) {
        for (group, commits) in committed {
            let lag: i64 = commits
                .iter()
                .map(|((topic, partition), (offset, start))| {
                    let remote = flow.policy.remote_topic(&flow.source, topic);
                    let checkpointed = self
                        .emitted
                        .get(&(group.clone(), remote, *partition))
                        .map(|(upstream, _)| *upstream)
                        .or(*start);
                    checkpointed.map_or(0, |from| (offset - from).max(0))
                })
                .sum();
            metrics
                .group_translation_lag
                .get_or_create(&group_labels(flow, group))
                .set(lag);
            self.lagging_reported.insert(group.clone());
        }
    }

    fn report_ages(&self, flow: &Flow, metrics: &MirrorMetrics) {
        let now = Instant::now();
        for (group, at) in &self.confirmed {
            metrics
                .checkpoint_age_seconds
                .get_or_create(&group_labels(flow, group))
                .set(now.saturating_duration_since(*at).as_secs_f64());
        }
    }
}

fn pass_labels(flow: &Flow, kind: &'static str) -> Vec<(&'static str, String)> {
    vec![("flow", flow.name()), ("pass", kind.to_owned())]
}

fn group_labels(flow: &Flow, group: &str) -> Vec<(&'static str, String)> {
    vec![("flow", flow.name()), ("group", group.to_owned())]
}
