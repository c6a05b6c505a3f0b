//! OffsetCommit for groups without members (what Java's `Admin.alterConsumerGroupOffsets`
//! does), many groups at once: one batched FindCoordinator, then each coordinator's groups
//! on its own connection, coordinators concurrently. librdkafka can only commit through a
//! consumer of that group, which costs a client (threads, connections, FindCoordinator)
//! per group.
//!
//! The commit carries generation -1 and no member id, so the broker refuses it
//! (`UNKNOWN_MEMBER_ID`, or `ILLEGAL_GENERATION` for a consumer-protocol group) while the
//! group has active members: such a group keeps its own positions.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::future::join_all;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::client::WireClient;
use super::error::WireError;

/// Per group: `(topic, partition) → offset` to commit.
pub type GroupCommits = BTreeMap<String, BTreeMap<(String, i32), i64>>;

impl WireClient {
    /// Commits each group's offsets by `deadline`; per group, `Ok` or the broker's (or the
    /// connection's) error. `Err` only when no coordinator could be looked up at all.
    pub async fn commit_group_offsets(
        &self,
        commits: &GroupCommits,
        deadline: Instant,
    ) -> Result<BTreeMap<String, Result<(), WireError>>, WireError> {
        let mut results = BTreeMap::new();
        if commits.is_empty() {
            return Ok(results);
        }
        let asked = Instant::now();
        let groups: Vec<String> = commits.keys().cloned().collect();
        let mut by_node: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
        let coordinators =
            tokio::time::timeout_at(deadline.into(), self.group_coordinators(&groups))
                .await
                .map_err(|_elapsed| WireError::Timeout {
                    broker: self.settings().bootstrap.join(","),
                    operation: "FindCoordinator",
                    timeout: deadline.saturating_duration_since(asked),
                })??;
        for (group, coordinator) in coordinators {
            match coordinator {
                Ok(node) => {
                    if let Some((name, _)) = commits.get_key_value(&group) {
                        by_node.entry(node).or_default().push(name);
                    }
                }
                Err(error) => {
                    results.insert(group, Err(error));
                }
            }
        }
        let per_node = by_node.into_iter().map(|(node, groups)| async move {
            let mut answers = Vec::with_capacity(groups.len());
            for group in groups {
                let offsets = &commits[group];
                let commit =
                    tokio::time::timeout_at(deadline.into(), self.commit_one(node, group, offsets));
                let answer = commit.await.unwrap_or_else(|_elapsed| {
                    Err(WireError::Timeout {
                        broker: format!("node {node}"),
                        operation: "OffsetCommit",
                        timeout: deadline.saturating_duration_since(asked),
                    })
                });
                if answer.as_ref().is_err_and(WireError::breaks_connection) {
                    self.nodes.forget(node);
                }
                answers.push((group.to_owned(), answer));
            }
            answers
        });
        for answers in join_all(per_node).await {
            results.extend(answers);
        }
        Ok(results)
    }

    async fn commit_one(
        &self,
        node: i32,
        group: &str,
        offsets: &BTreeMap<(String, i32), i64>,
    ) -> Result<(), WireError> {
        let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for ((topic, partition), offset) in offsets {
            by_topic.entry(topic).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(*partition)
                    .with_committed_offset(*offset)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(Some(StrBytes::from_static_str(""))),
            );
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
            .with_generation_id_or_member_epoch(-1)
            .with_member_id(StrBytes::from_static_str(""))
            .with_retention_time_ms(-1)
            .with_topics(
                by_topic
                    .into_iter()
                    .map(|(topic, partitions)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let response = self.send_to(node, &request).await?;
        let refused = response
            .topics
            .iter()
            .flat_map(|topic| topic.partitions.iter())
            .find_map(|p| WireError::broker("offset commit", p.error_code, None));
        refused.map_or(Ok(()), Err)
    }
}
