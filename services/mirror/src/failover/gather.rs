//! What the clusters hold, read once per failover. Runs on the blocking pool: the offset
//! map, checkpoints and watermarks are read through librdkafka; committed offsets through
//! broker-core's native client, one OffsetFetch per group coordinator for all selected
//! groups (a librdkafka consumer per group cost ~30 ms each: 3 s for 100 groups).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use broker_core::KafkaClients;
use broker_core::wire::{GroupOffsets, WireClient};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::FailoverOptions;
use crate::config::{Flow, ValidatedMirror};
use crate::error::MirrorError;
use crate::groups::list_groups;
use crate::offsets::format::Checkpoint;
use crate::offsets::load_offset_map;
use crate::offsets::map::OffsetMap;

/// A group's last checkpoint of one remote partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CheckpointSeen {
    pub(super) upstream: i64,
    pub(super) downstream: i64,
    pub(super) time_ms: Option<i64>,
}

/// (topic, partition) → value.
pub(crate) type PerPartition<T> = BTreeMap<(String, i32), T>;

#[derive(Debug)]
pub(super) struct Facts {
    pub(super) map: OffsetMap,
    /// group → (remote topic, partition) → its latest checkpoint on the target.
    pub(super) checkpoints: BTreeMap<String, PerPartition<CheckpointSeen>>,
    /// What A answered, or why it did not.
    pub(super) source: Result<SourceFacts, String>,
    /// Groups on the target: state and member count.
    pub(super) target_groups: BTreeMap<String, (String, usize)>,
    /// group → (remote topic, partition) → committed offset on the target.
    pub(super) target_committed: BTreeMap<String, PerPartition<i64>>,
    /// (remote topic, partition) → log start offset on the target.
    pub(super) target_log_start: PerPartition<i64>,
    /// (source topic, partition) → (A's log end, when the running mirror saw it).
    pub(super) last_seen_ends: PerPartition<(i64, i64)>,
}

#[derive(Debug, Default)]
pub(super) struct SourceFacts {
    /// Groups on A: state and member count.
    pub(super) groups: BTreeMap<String, (String, usize)>,
    /// group → (source topic, partition) → committed offset on A.
    pub(super) committed: BTreeMap<String, PerPartition<i64>>,
    /// (source topic, partition) → log end on A.
    pub(super) ends: PerPartition<i64>,
    /// (source topic, partition) → timestamp of the first record B lacks.
    pub(super) oldest_missing: PerPartition<i64>,
}

impl Default for Facts {
    fn default() -> Self {
        Self {
            map: OffsetMap::default(),
            checkpoints: BTreeMap::new(),
            source: Err(String::new()),
            target_groups: BTreeMap::new(),
            target_committed: BTreeMap::new(),
            target_log_start: BTreeMap::new(),
            last_seen_ends: BTreeMap::new(),
        }
    }
}

pub(super) fn gather(
    config: &ValidatedMirror,
    flow: &Flow,
    options: &FailoverOptions,
) -> Result<Facts, MirrorError> {
    let source = KafkaClients::new(config.cluster(&flow.source).cluster.clone());
    let target = KafkaClients::new(config.cluster(&flow.target).cluster.clone());
    let timeout = flow.admin_timeout.min(Duration::from_secs(30));
    let map = load_offset_map(
        &target,
        &flow.policy.offset_map_topic(&flow.source),
        timeout,
    )?;
    let checkpoints = read_checkpoints(&target, flow, timeout)?;
    let mut last_seen_ends = BTreeMap::new();
    crate::offsets::read_to_end(
        &target,
        &flow.policy.source_ends_topic(&flow.source),
        timeout,
        |key, value| {
            if let Some(end) = crate::offsets::format::SourceEnd::decode(key, value) {
                last_seen_ends.insert((end.topic, end.partition), (end.end, end.seen_ms));
            }
        },
    )?;
    let source_facts = read_source(config, &source, flow, options, &map, &checkpoints)
        .map_err(|error| error.to_string());
    let selected = selected_groups(flow, options, &checkpoints, source_facts.as_ref().ok());
    let remote_partitions: BTreeSet<(String, i32)> = map
        .partitions()
        .into_iter()
        .map(|(topic, partition)| (flow.policy.remote_topic(&flow.source, &topic), partition))
        .chain(checkpoints.values().flat_map(|c| c.keys().cloned()))
        .collect();
    let target_wire = wire_client(config, &flow.target, timeout)?;
    let selected: Vec<String> = selected.into_iter().collect();
    let answers = fetch_committed(&target_wire, &selected, timeout)?;
    let target_committed = committed_on(&flow.target, answers, &remote_partitions)?;
    let remote: Vec<(String, i32)> = remote_partitions.into_iter().collect();
    Ok(Facts {
        target_groups: list_groups(&target, timeout)?,
        target_log_start: log_starts(&target, &remote, timeout)?,
        map,
        checkpoints,
        source: source_facts,
        target_committed,
        last_seen_ends,
    })
}

/// Whether `--group` (if given) selects `group`.
fn wanted(options: &FailoverOptions, group: &str) -> bool {
    options.groups.as_ref().is_none_or(|re| re.is_match(group))
}

/// A group worth a look on A: it has checkpoints, or `--group` names it explicitly.
fn candidate_on_source(
    options: &FailoverOptions,
    checkpoints: &BTreeMap<String, PerPartition<CheckpointSeen>>,
    group: &str,
) -> bool {
    wanted(options, group) && (checkpoints.contains_key(group) || options.groups.is_some())
}

/// Groups to consider: those with checkpoints on the target (the default), plus with
/// `--group` those A holds offsets for (they are refused when the target has no
/// checkpoints for them), all narrowed by `--group` and the flow's group filter.
pub(super) fn selected_groups(
    flow: &Flow,
    options: &FailoverOptions,
    checkpoints: &BTreeMap<String, PerPartition<CheckpointSeen>>,
    source: Option<&SourceFacts>,
) -> BTreeSet<String> {
    checkpoints
        .keys()
        .chain(source.into_iter().flat_map(|s| s.committed.keys()))
        .filter(|g| {
            candidate_on_source(options, checkpoints, g)
                && flow.groups.matches(g)
                && **g != flow.replication_group()
        })
        .cloned()
        .collect()
}

/// The latest checkpoint of each (group, remote partition), with its record time.
fn read_checkpoints(
    target: &KafkaClients,
    flow: &Flow,
    timeout: Duration,
) -> Result<BTreeMap<String, PerPartition<CheckpointSeen>>, MirrorError> {
    let mut checkpoints: BTreeMap<String, PerPartition<CheckpointSeen>> = BTreeMap::new();
    crate::offsets::read_to_end_timed(
        target,
        &flow.policy.checkpoints_topic(&flow.source),
        timeout,
        |key, value, time_ms| {
            if let Some(checkpoint) = Checkpoint::decode(key, value) {
                checkpoints.entry(checkpoint.group).or_default().insert(
                    (checkpoint.topic, checkpoint.partition),
                    CheckpointSeen {
                        upstream: checkpoint.upstream,
                        downstream: checkpoint.downstream,
                        time_ms,
                    },
                );
            }
        },
    )?;
    Ok(checkpoints)
}

/// A's groups, their committed offsets on the mirrored partitions, the log ends and the
/// time of the first record B lacks. Any failure means "A unreachable".
fn read_source(
    config: &ValidatedMirror,
    source: &KafkaClients,
    flow: &Flow,
    options: &FailoverOptions,
    map: &OffsetMap,
    checkpoints: &BTreeMap<String, PerPartition<CheckpointSeen>>,
) -> Result<SourceFacts, MirrorError> {
    let timeout = options.source_timeout;
    let groups = list_groups(source, timeout)?;
    let consumer: BaseConsumer = broker_core::clients::create(
        &source.consumer_config("kafka-gateway-failover"),
        "failover reader",
    )?;
    let metadata = consumer
        .fetch_metadata(None, timeout)
        .map_err(|e| MirrorError::kafka(&flow.source, "metadata", e))?;
    let partitions: Vec<(String, i32)> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none() && flow.replicates_topic(t.name()))
        .flat_map(|t| t.partitions().iter().map(|p| (t.name().to_owned(), p.id())))
        .collect();
    let mut ends = BTreeMap::new();
    for (topic, partition) in &partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, *partition, timeout)
            .map_err(|e| MirrorError::kafka(topic, "watermarks", e))?;
        ends.insert((topic.clone(), *partition), high);
    }
    let candidates: Vec<String> = groups
        .keys()
        .filter(|g| candidate_on_source(options, checkpoints, g))
        .cloned()
        .collect();
    let wire = wire_client(config, &flow.source, timeout)?;
    let answers = fetch_committed(&wire, &candidates, timeout)?;
    let mirrored: BTreeSet<(String, i32)> = partitions.iter().cloned().collect();
    let committed = committed_on(&flow.source, answers, &mirrored)?;
    let missing: Vec<((String, i32), i64)> = ends
        .iter()
        .filter_map(|(key, &end)| {
            let from = map.replicated_end(&key.0, key.1).unwrap_or(0);
            (end > from).then(|| (key.clone(), from))
        })
        .collect();
    let oldest_missing = first_timestamps(&consumer, &missing, timeout);
    Ok(SourceFacts {
        groups,
        committed,
        ends,
        oldest_missing,
    })
}

pub(crate) fn wire_client(
    config: &ValidatedMirror,
    alias: &str,
    timeout: Duration,
) -> Result<WireClient, MirrorError> {
    WireClient::new(&config.cluster(alias).cluster, timeout)
        .map_err(|error| MirrorError::Broker(error.into()))
}

/// Committed offsets of `groups`, one OffsetFetch per coordinator, each coordinator with
/// `timeout` on its own. Called on the blocking pool, which keeps the runtime's handle.
pub(crate) fn fetch_committed(
    wire: &WireClient,
    groups: &[String],
    timeout: Duration,
) -> Result<GroupOffsets, MirrorError> {
    if groups.is_empty() {
        return Ok(GroupOffsets::new());
    }
    let deadline = Instant::now() + timeout;
    tokio::runtime::Handle::current()
        .block_on(wire.committed_offsets(groups, deadline))
        .map_err(|error| MirrorError::Broker(error.into()))
}

/// Per group, its commits on `partitions`; groups without any are left out. A group whose
/// coordinator did not answer fails the whole read: a failover never plans from a partial
/// view of a cluster's groups.
pub(crate) fn committed_on(
    cluster: &str,
    answers: GroupOffsets,
    partitions: &BTreeSet<(String, i32)>,
) -> Result<BTreeMap<String, PerPartition<i64>>, MirrorError> {
    let mut committed = BTreeMap::new();
    for (group, answer) in answers {
        let offsets = answer.map_err(|source| MirrorError::GroupOffsets {
            cluster: cluster.to_owned(),
            group: group.clone(),
            source,
        })?;
        let offsets: PerPartition<i64> = offsets
            .into_iter()
            .map(|c| ((c.topic, c.partition), c.offset))
            .filter(|(key, _)| partitions.contains(key))
            .collect();
        if !offsets.is_empty() {
            committed.insert(group, offsets);
        }
    }
    Ok(committed)
}

/// The timestamp of the record at each given offset (best effort within `timeout`; a
/// partition whose record was deleted or does not answer is left out).
pub(crate) fn first_timestamps(
    consumer: &BaseConsumer,
    at: &[((String, i32), i64)],
    timeout: Duration,
) -> PerPartition<i64> {
    let mut found = BTreeMap::new();
    if at.is_empty() {
        return found;
    }
    let mut assignment = TopicPartitionList::new();
    for ((topic, partition), offset) in at {
        if assignment
            .add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .is_err()
        {
            return found;
        }
    }
    if consumer.assign(&assignment).is_err() {
        return found;
    }
    let deadline = Instant::now() + timeout;
    while found.len() < at.len() && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            let key = (message.topic().to_owned(), message.partition());
            if let Some(timestamp) = message.timestamp().to_millis() {
                found.entry(key).or_insert(timestamp);
            }
        }
    }
    found
}

/// Log start offsets of the remote partitions that exist on the target.
fn log_starts(
    target: &KafkaClients,
    remote: &[(String, i32)],
    timeout: Duration,
) -> Result<PerPartition<i64>, MirrorError> {
    let consumer: BaseConsumer =
        broker_core::clients::create(&target.base_config(), "failover target reader")?;
    let mut starts = BTreeMap::new();
    for (topic, partition) in remote {
        match consumer.fetch_watermarks(topic, *partition, timeout) {
            Ok((low, _)) => {
                starts.insert((topic.clone(), *partition), low);
            }
            Err(error)
                if error.rdkafka_error_code()
                    == Some(rdkafka::error::RDKafkaErrorCode::UnknownTopicOrPartition) => {}
            Err(error) => return Err(MirrorError::kafka(topic, "watermarks", error)),
        }
    }
    Ok(starts)
}
