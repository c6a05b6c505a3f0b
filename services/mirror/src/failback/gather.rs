//! What both clusters hold, read once per failback. Runs on the blocking pool (librdkafka
//! for maps, watermarks and record times; the native client for committed offsets). A
//! failback needs both clusters: any error is the command's error.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use broker_core::KafkaClients;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::FailbackOptions;
use crate::config::{Flow, ValidatedMirror};
use crate::error::MirrorError;
use crate::failover::gather::{
    PerPartition, committed_on, fetch_committed, first_timestamps, wire_client,
};
use crate::groups::list_groups;
use crate::offsets::format::Run;
use crate::offsets::load_offset_map;
use crate::offsets::map::OffsetMap;
use crate::policy::ReplicationPolicy;

/// The groups' states on one cluster: name → (state, members).
pub(super) type GroupStates = BTreeMap<String, (String, usize)>;

#[derive(Debug, Default)]
pub(super) struct Facts {
    /// A → B's dense map (on B), keyed by A's topics.
    pub(super) out_map: OffsetMap,
    /// B → A's dense map (on A), keyed by B's topics.
    pub(super) back_map: OffsetMap,
    /// A's topic → its remote name on B, for A → B's topics.
    pub(super) out_remote: BTreeMap<String, String>,
    /// B's topics that B → A copies, with their partitions' log ends on B.
    pub(super) back_ends: PerPartition<i64>,
    /// A's log start and end of A → B's topics and B → A's remote topics.
    pub(super) a_starts: PerPartition<i64>,
    pub(super) a_ends: PerPartition<i64>,
    /// Offsets of the records on each remote partition of A -> B (keyed by A's topic) past
    /// the last copy its map describes, as a consumer reading committed data sees them.
    pub(super) unmapped: PerPartition<Vec<i64>>,
    /// First and last record time of each RPO window on A.
    pub(super) window_first: PerPartition<i64>,
    pub(super) window_last: PerPartition<i64>,
    /// A's log end as the A → B mirror last recorded it on B: (end, when).
    pub(super) seen_ends: PerPartition<(i64, i64)>,
    pub(super) b_groups: GroupStates,
    pub(super) a_groups: GroupStates,
    /// group → (topic on B, partition) → committed offset on B.
    pub(super) b_committed: BTreeMap<String, PerPartition<i64>>,
    /// group → (topic on A, partition) → committed offset on A.
    pub(super) a_committed: BTreeMap<String, PerPartition<i64>>,
}

/// The A → B side: the enabled flow if the config has one, else B → A's policy and every
/// topic A → B's map names (the flow may be disabled while B → A runs).
fn out_policy<'a>(
    config: &'a ValidatedMirror,
    back: &'a Flow,
) -> (&'a ReplicationPolicy, Option<&'a Flow>) {
    let out = config
        .flows
        .iter()
        .find(|f| f.source == back.target && f.target == back.source);
    (out.map_or(&back.policy, |f| &f.policy), out)
}

pub(super) fn gather(
    config: &ValidatedMirror,
    back: &Flow,
    options: &FailbackOptions,
) -> Result<Facts, MirrorError> {
    let a_alias = &back.target;
    let b_alias = &back.source;
    let a = KafkaClients::new(config.cluster(a_alias).cluster.clone());
    let b = KafkaClients::new(config.cluster(b_alias).cluster.clone());
    let timeout = back.admin_timeout.min(Duration::from_secs(30));
    let (policy, out) = out_policy(config, back);

    let out_map = load_offset_map(&b, &policy.offset_map_topic(a_alias), timeout)?;
    let back_map = load_offset_map(&a, &back.policy.offset_map_topic(b_alias), timeout)?;
    let mut seen_ends = BTreeMap::new();
    crate::offsets::read_to_end(
        &b,
        &policy.source_ends_topic(a_alias),
        timeout,
        |key, value| {
            if let Some(end) = crate::offsets::format::SourceEnd::decode(key, value) {
                seen_ends.insert((end.topic, end.partition), (end.end, end.seen_ms));
            }
        },
    )?;
    // The map topic is per source alias: other deployments' topics are in it too; only the
    // partitions that exist on A are this deployment's.
    let a_reader = reader(&a, "failback reader on the target")?;
    let on_a_now: BTreeSet<(String, i32)> = partitions_of(&a_reader, a_alias, timeout, |_| true)?
        .into_iter()
        .collect();
    let out_partitions: BTreeSet<(String, i32)> = out_map
        .partitions()
        .into_iter()
        .filter(|key| out.is_none_or(|f| f.replicates_topic(&key.0)) && on_a_now.contains(key))
        .collect();
    let out_remote: BTreeMap<String, String> = out_partitions
        .iter()
        .map(|(topic, _)| (topic.clone(), policy.remote_topic(a_alias, topic)))
        .collect();

    let b_reader = reader(&b, "failback reader on the source")?;
    let back_partitions = partitions_of(&b_reader, b_alias, timeout, |t| back.replicates_topic(t))?;
    let mut back_ends = BTreeMap::new();
    for (topic, partition) in &back_partitions {
        let (_, high) = b_reader
            .fetch_watermarks(topic, *partition, timeout)
            .map_err(|e| MirrorError::kafka(topic, "watermarks", e))?;
        back_ends.insert((topic.clone(), *partition), high);
    }

    let mut past_map = Vec::new();
    for (topic, partition) in &out_partitions {
        let remote = &out_remote[topic];
        let mapped_end = out_map
            .runs_of(topic, *partition)
            .iter()
            .map(Run::target_end)
            .max();
        match b_reader.fetch_watermarks(remote, *partition, timeout) {
            Ok((_, high)) => {
                if let Some(mapped_end) = mapped_end.filter(|end| *end < high) {
                    past_map.push(((topic.clone(), *partition), mapped_end, high));
                }
            }
            Err(error) if unknown(&error) => {}
            Err(error) => return Err(MirrorError::kafka(remote, "watermarks", error)),
        }
    }
    let unmapped = records_past_map(&b, &out_remote, &past_map, timeout)?;

    let back_remote: BTreeSet<(String, i32)> = back_partitions
        .iter()
        .map(|(topic, p)| (back.policy.remote_topic(b_alias, topic), *p))
        .collect();
    let mut a_starts = BTreeMap::new();
    let mut a_ends = BTreeMap::new();
    for (topic, partition) in out_partitions.iter().chain(&back_remote) {
        match a_reader.fetch_watermarks(topic, *partition, timeout) {
            Ok((low, high)) => {
                a_starts.insert((topic.clone(), *partition), low);
                a_ends.insert((topic.clone(), *partition), high);
            }
            // B → A has not created the remote topic yet.
            Err(error) if unknown(&error) => {}
            Err(error) => return Err(MirrorError::kafka(topic, "watermarks", error)),
        }
    }
    let (window_first, window_last) =
        window_times(&a, &out_map, &out_partitions, &a_ends, timeout)?;

    let b_groups = list_groups(&b, timeout)?;
    let a_groups = list_groups(&a, timeout)?;
    let own: BTreeSet<String> = config.flows.iter().map(Flow::replication_group).collect();
    let candidates: Vec<String> = b_groups
        .keys()
        .filter(|g| {
            options.groups.as_ref().is_none_or(|re| re.is_match(g))
                && out.map_or(&back.groups, |f| &f.groups).matches(g)
                && !own.contains(*g)
        })
        .cloned()
        .collect();
    let on_b: BTreeSet<(String, i32)> = out_partitions
        .iter()
        .map(|(topic, p)| (out_remote[topic].clone(), *p))
        .chain(back_partitions.iter().cloned())
        .collect();
    let b_wire = wire_client(config, b_alias, timeout)?;
    let b_committed = committed_on(
        b_alias,
        fetch_committed(&b_wire, &candidates, timeout)?,
        &on_b,
    )?;
    let moved: Vec<String> = b_committed.keys().cloned().collect();
    let on_a: BTreeSet<(String, i32)> = out_partitions.iter().cloned().chain(back_remote).collect();
    let a_wire = wire_client(config, a_alias, timeout)?;
    let a_committed = committed_on(a_alias, fetch_committed(&a_wire, &moved, timeout)?, &on_a)?;
    Ok(Facts {
        out_map,
        back_map,
        out_remote,
        back_ends,
        a_starts,
        a_ends,
        unmapped,
        window_first,
        window_last,
        seen_ends,
        b_groups,
        a_groups,
        b_committed,
        a_committed,
    })
}

/// The broker's or librdkafka's "no such topic or partition".
fn unknown(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::error::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(Code::UnknownTopicOrPartition | Code::UnknownPartition | Code::UnknownTopic)
    )
}

fn reader(clients: &KafkaClients, role: &'static str) -> Result<BaseConsumer, MirrorError> {
    Ok(broker_core::clients::create(&clients.base_config(), role)?)
}

/// The partitions of the topics `wanted` selects on a cluster.
fn partitions_of(
    consumer: &BaseConsumer,
    alias: &str,
    timeout: Duration,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<(String, i32)>, MirrorError> {
    let metadata = consumer
        .fetch_metadata(None, timeout)
        .map_err(|e| MirrorError::kafka(alias, "metadata", e))?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none() && wanted(t.name()))
        .flat_map(|t| t.partitions().iter().map(|p| (t.name().to_owned(), p.id())))
        .collect())
}

/// The time of the first and the last record of each RPO window (best effort: a window
/// whose last offset is a transaction marker has no last time).
fn window_times(
    a: &KafkaClients,
    out_map: &OffsetMap,
    partitions: &BTreeSet<(String, i32)>,
    a_ends: &PerPartition<i64>,
    timeout: Duration,
) -> Result<(PerPartition<i64>, PerPartition<i64>), MirrorError> {
    let windows: Vec<((String, i32), i64, i64)> = partitions
        .iter()
        .filter_map(|key| {
            let from = out_map.replicated_end(&key.0, key.1)?;
            let to = *a_ends.get(key)?;
            (to > from).then(|| (key.clone(), from, to))
        })
        .collect();
    if windows.is_empty() {
        return Ok((BTreeMap::new(), BTreeMap::new()));
    }
    let budget = timeout.min(Duration::from_secs(5));
    let firsts: Vec<((String, i32), i64)> = windows
        .iter()
        .map(|(k, from, _)| (k.clone(), *from))
        .collect();
    let lasts: Vec<((String, i32), i64)> = windows
        .iter()
        .map(|(k, _, to)| (k.clone(), to - 1))
        .collect();
    let first = first_timestamps(&reader_for_records(a)?, &firsts, budget);
    let last = first_timestamps(&reader_for_records(a)?, &lasts, budget);
    Ok((first, last))
}

fn reader_for_records(a: &KafkaClients) -> Result<BaseConsumer, MirrorError> {
    Ok(broker_core::clients::create(
        &a.consumer_config("kafka-gateway-failback"),
        "failback window reader",
    )?)
}

/// The offsets of the records between each remote partition's map end and its log end, as
/// a group reading committed data sees them. With exactly-once the offsets there are
/// transaction markers and aborted copies, which no group reads; with at-least-once they
/// are copies whose run the mirror had not written when it stopped, which a group did
/// read. One topic at a time, because librdkafka's end-of-partition event names only the
/// partition. A partition not read to its end within the time budget counts every offset
/// left as a record: more re-read, never a skip.
fn records_past_map(
    b: &KafkaClients,
    out_remote: &BTreeMap<String, String>,
    past_map: &[((String, i32), i64, i64)],
    timeout: Duration,
) -> Result<PerPartition<Vec<i64>>, MirrorError> {
    let mut found: PerPartition<Vec<i64>> = BTreeMap::new();
    if past_map.is_empty() {
        return Ok(found);
    }
    let mut config = b.consumer_config("kafka-gateway-failback");
    config.set("isolation.level", "read_committed");
    config.set("enable.partition.eof", "true");
    let consumer: BaseConsumer = broker_core::clients::create(&config, "failback remote reader")?;
    let deadline = std::time::Instant::now() + timeout.min(Duration::from_secs(10));
    let topics: BTreeSet<&String> = past_map.iter().map(|((topic, _), _, _)| topic).collect();
    for topic in topics {
        let remote = &out_remote[topic];
        let ranges: BTreeMap<i32, (i64, i64)> = past_map
            .iter()
            .filter(|((t, _), _, _)| t == topic)
            .map(|((_, partition), from, high)| (*partition, (*from, *high)))
            .collect();
        let mut assignment = rdkafka::TopicPartitionList::new();
        for (partition, (from, _)) in &ranges {
            assignment
                .add_partition_offset(remote, *partition, rdkafka::Offset::Offset(*from))
                .map_err(|e| MirrorError::kafka(remote, "assign", e))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| MirrorError::kafka(remote, "assign", e))?;
        let mut seen: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        let mut at_end = BTreeSet::new();
        while at_end.len() < ranges.len() && std::time::Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                    at_end.insert(partition);
                }
                Some(Err(error)) => return Err(MirrorError::kafka(remote, "fetch", error)),
                Some(Ok(message)) => {
                    let (_, high) = ranges[&message.partition()];
                    if message.offset() < high {
                        seen.entry(message.partition())
                            .or_default()
                            .push(message.offset());
                    }
                }
            }
        }
        for (partition, (from, high)) in ranges {
            let mut offsets = seen.remove(&partition).unwrap_or_default();
            if !at_end.contains(&partition) {
                let next = offsets.last().map_or(from, |last| last + 1);
                offsets.extend(next..high);
            }
            found.insert((topic.clone(), partition), offsets);
        }
    }
    Ok(found)
}
