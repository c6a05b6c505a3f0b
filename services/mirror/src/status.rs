//! `kafka-gateway mirror status`: which process runs what of each flow, as the groups'
//! coordinators see it (DescribeGroups), so the answer is the same whichever process (or
//! none) is asked.
//!
//! - At-least-once: the flow's source group (`replication.group.id`); each member is one
//!   task thread of a process (client id `<instance id>.<source>-<target>.<task>`) and owns
//!   source partitions.
//! - Exactly-once: the flow's task group on the target (`replicate::leases`); each member
//!   is one process (client id `<instance id>.tasks`) and owns task numbers; a task no
//!   member owns is listed as unowned (no process runs it: start one).

use std::time::Duration;

use broker_core::KafkaClients;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;

use crate::config::{Delivery, ValidatedMirror};
use crate::error::MirrorError;
use crate::replicate::leases::task_group;

#[derive(Debug, Clone, Serialize)]
pub struct FlowStatus {
    pub flow: String,
    pub delivery: &'static str,
    /// The group that shares the flow's work, and the cluster alias it lives on.
    pub group: String,
    pub cluster: String,
    /// The coordinator's group state (`Stable`, `PreparingRebalance`, `Empty`, `Dead`…).
    pub state: String,
    pub members: Vec<MemberStatus>,
    /// Exactly-once: tasks of `0..tasks.max` no member owns.
    pub unowned_tasks: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberStatus {
    pub client_id: String,
    pub host: String,
    pub member_id: String,
    /// Exactly-once: the tasks this process runs.
    pub tasks: Vec<usize>,
    /// At-least-once: the source partitions this task copies.
    pub partitions: Vec<(String, i32)>,
}

/// The status of every enabled flow.
pub async fn status(
    config: &ValidatedMirror,
    timeout: Duration,
) -> Result<Vec<FlowStatus>, MirrorError> {
    let mut flows = Vec::new();
    for flow in &config.flows {
        let (group, alias, delivery) = match flow.delivery {
            Delivery::ExactlyOnce => (task_group(&flow.group_id), &flow.target, "exactly-once"),
            Delivery::AtLeastOnce => (flow.group_id.clone(), &flow.source, "at-least-once"),
        };
        let clients = KafkaClients::new(config.cluster(alias).cluster.clone());
        let eos = flow.delivery == Delivery::ExactlyOnce;
        let (state, members) = describe(&clients, &group, eos, timeout).await?;
        let unowned_tasks = if eos {
            (0..flow.tasks)
                .filter(|task| !members.iter().any(|m| m.tasks.contains(task)))
                .collect()
        } else {
            Vec::new()
        };
        flows.push(FlowStatus {
            flow: flow.name(),
            delivery,
            group,
            cluster: alias.clone(),
            state,
            members,
            unowned_tasks,
        });
    }
    Ok(flows)
}

async fn describe(
    clients: &KafkaClients,
    group: &str,
    owns_tasks: bool,
    timeout: Duration,
) -> Result<(String, Vec<MemberStatus>), MirrorError> {
    let consumer: BaseConsumer = clients
        .base_config()
        .create()
        .map_err(|e| MirrorError::kafka(group, "describe group", e))?;
    let name = group.to_owned();
    broker_core::task::spawn_blocking("mirror-status", move || {
        let list = consumer
            .fetch_group_list(Some(&name), timeout)
            .map_err(|e| MirrorError::kafka(&name, "describe group", e))?;
        let Some(info) = list.groups().first() else {
            return Ok(("Dead".to_owned(), Vec::new()));
        };
        let mut members: Vec<MemberStatus> = info
            .members()
            .iter()
            .map(|member| {
                let assigned = member
                    .assignment()
                    .and_then(broker_core::assignment::decode)
                    .unwrap_or_default();
                let mut tasks: Vec<usize> = if owns_tasks {
                    assigned
                        .iter()
                        .filter_map(|(_, p)| usize::try_from(*p).ok())
                        .collect()
                } else {
                    Vec::new()
                };
                tasks.sort_unstable();
                let mut partitions = if owns_tasks { Vec::new() } else { assigned };
                partitions.sort();
                MemberStatus {
                    client_id: member.client_id().to_owned(),
                    host: member.client_host().trim_start_matches('/').to_owned(),
                    member_id: member.id().to_owned(),
                    tasks,
                    partitions,
                }
            })
            .collect();
        members.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok((info.state().to_owned(), members))
    })
    .await
    .map_err(|e| MirrorError::Task {
        task: "mirror status".to_owned(),
        reason: e.to_string(),
    })?
}

/// A plain-text table per flow.
pub fn render_table(flows: &[FlowStatus]) -> String {
    let mut out = String::new();
    for flow in flows {
        out += &format!(
            "flow {} ({}): group {} on {}, {}, {} member(s)\n",
            flow.flow,
            flow.delivery,
            flow.group,
            flow.cluster,
            flow.state,
            flow.members.len()
        );
        for member in &flow.members {
            let owns = if flow.delivery == "exactly-once" {
                format!(
                    "tasks {}",
                    member
                        .tasks
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            } else {
                let mut by_topic: std::collections::BTreeMap<&str, Vec<String>> =
                    std::collections::BTreeMap::new();
                for (topic, partition) in &member.partitions {
                    by_topic
                        .entry(topic)
                        .or_default()
                        .push(partition.to_string());
                }
                by_topic
                    .iter()
                    .map(|(topic, partitions)| format!("{topic}[{}]", partitions.join(",")))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            out += &format!("  {}  {}  {owns}\n", member.client_id, member.host);
        }
        if !flow.unowned_tasks.is_empty() {
            out += &format!(
                "  unowned tasks (no process runs them): {:?}\n",
                flow.unowned_tasks
            );
        }
    }
    out
}
