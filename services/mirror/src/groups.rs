//! Consumer-group offsets on either cluster, and `sync.group.offsets.*`: translated
//! positions are committed on the target for groups that have no active members there
//! (MM2 writes only to EMPTY or unknown groups, and only forward).
//!
//! Every call here blocks on librdkafka; callers run them on the blocking pool.

use std::collections::BTreeMap;
use std::time::Duration;

use broker_core::KafkaClients;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::error::MirrorError;

/// Group names and states (`Empty`, `Stable`, `Dead`, ...) on a cluster.
pub(crate) fn list_groups(
    clients: &KafkaClients,
    timeout: Duration,
) -> Result<BTreeMap<String, (String, usize)>, MirrorError> {
    let consumer: BaseConsumer =
        broker_core::clients::create(&clients.base_config(), "group lister")?;
    let groups = consumer
        .fetch_group_list(None, timeout)
        .map_err(|e| MirrorError::kafka("groups", "list groups", e))?;
    Ok(groups
        .groups()
        .iter()
        .map(|g| {
            (
                g.name().to_owned(),
                (g.state().to_owned(), g.members().len()),
            )
        })
        .collect())
}

fn group_client(clients: &KafkaClients, group: &str) -> Result<BaseConsumer, MirrorError> {
    let mut config = clients.consumer_config(group);
    config.set("enable.auto.commit", "false");
    Ok(broker_core::clients::create(
        &config,
        "group offsets client",
    )?)
}

/// Committed offsets of `group` for `partitions`; partitions without a commit are left out.
pub(crate) fn committed_offsets(
    clients: &KafkaClients,
    group: &str,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Result<BTreeMap<(String, i32), i64>, MirrorError> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let consumer = group_client(clients, group)?;
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    let committed = consumer
        .committed_offsets(list, timeout)
        .map_err(|e| MirrorError::kafka(group, "fetch committed offsets", e))?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) => Some(((e.topic().to_owned(), e.partition()), offset)),
            _ => None,
        })
        .collect())
}

/// Whether MM2 would write offsets for a group in this state on the target.
pub(crate) fn writable_on_target(state: Option<&(String, usize)>) -> bool {
    match state {
        None => true,
        Some((state, members)) => *members == 0 && matches!(state.as_str(), "Empty" | "Dead" | ""),
    }
}
