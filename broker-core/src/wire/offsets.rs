//! Committed offsets of many consumer groups at once (what Java's
//! `Admin.listConsumerGroupOffsets` does with a map of groups).
//!
//! One round: FindCoordinator for every group (batched), then per coordinator **one**
//! OffsetFetch v8+ (Kafka 3.0+, KIP-709) carrying all of its groups, each with null topics
//! ("every partition with a commit"). Coordinators are asked concurrently, each on its own
//! connection. A broker older than v8 is asked group by group (v2+, where null topics
//! exist), still one connection per coordinator.
//!
//! A group whose coordinator is moving or loading (`NOT_COORDINATOR`,
//! `COORDINATOR_NOT_AVAILABLE`, `COORDINATOR_LOAD_IN_PROGRESS`) or whose coordinator
//! connection failed is looked up again and asked once more after a short pause, within
//! the caller's deadline; a second failure is that group's result. A group the coordinator
//! does not know has no commits: an empty list, not an error, as with Java's admin client
//! (a classic coordinator answers so by itself; KIP-848's answers `GROUP_ID_NOT_FOUND`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{GroupId, OffsetFetchRequest};
use kafka_protocol::protocol::StrBytes;

use super::client::WireClient;
use super::error::{KafkaCode, WireError};

/// The last committed position of a group on one partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: i32,
    /// The next offset the group will read.
    pub offset: i64,
    /// What the committer stored with the offset (`None`, or often empty).
    pub metadata: Option<String>,
}

/// Per group: its committed offsets (partitions without a commit left out), or the error
/// the coordinator answered for that group.
pub type GroupOffsets = BTreeMap<String, Result<Vec<CommittedOffset>, WireError>>;

/// Pause before the second try, so a loading coordinator has a moment.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

impl WireClient {
    /// The committed offsets of every partition of each of `groups`, by `deadline`.
    ///
    /// `Err` only when no broker could be asked at all (bootstrap unreachable, bad
    /// credentials); everything else is a per-group result. Groups that had no answer by
    /// the deadline get a timeout error, the others keep theirs.
    pub async fn committed_offsets(
        &self,
        groups: &[String],
        deadline: Instant,
    ) -> Result<GroupOffsets, WireError> {
        let started = Instant::now();
        let mut pending: Vec<String> = groups.to_vec();
        pending.sort();
        pending.dedup();
        let mut results = GroupOffsets::new();
        for attempt in 0..2 {
            if pending.is_empty() {
                break;
            }
            let round =
                tokio::time::timeout_at(deadline.into(), self.fetch_round(&pending, deadline))
                    .await;
            let answers = match round {
                Ok(Ok(answers)) => answers,
                Ok(Err(error)) if attempt == 0 => return Err(error),
                // The second try failed as a whole: the first answers stand.
                Ok(Err(error)) => {
                    tracing::debug!(%error, "retrying committed offsets failed");
                    break;
                }
                Err(_elapsed) => {
                    for group in pending {
                        results.entry(group).or_insert_with(|| {
                            Err(WireError::Timeout {
                                broker: self.settings().bootstrap.join(","),
                                operation: "OffsetFetch",
                                timeout: deadline.saturating_duration_since(started),
                            })
                        });
                    }
                    break;
                }
            };
            pending = Vec::new();
            for (group, answer) in answers {
                if attempt == 0 && answer.as_ref().is_err_and(worth_retrying) {
                    pending.push(group.clone());
                }
                results.insert(group, answer);
            }
            if !pending.is_empty() {
                tracing::debug!(
                    groups = pending.len(),
                    "coordinators moving or loading, asking again"
                );
                let pause = tokio::time::Instant::now() + RETRY_PAUSE;
                if pause >= deadline.into() {
                    break;
                }
                tokio::time::sleep_until(pause).await;
            }
        }
        Ok(results)
    }

    /// One FindCoordinator + OffsetFetch pass over `groups`. Each coordinator's request has
    /// the deadline on its own, so a slow coordinator times out its groups only and the
    /// answers of the others are kept.
    async fn fetch_round(
        &self,
        groups: &[String],
        deadline: Instant,
    ) -> Result<GroupOffsets, WireError> {
        let mut results = GroupOffsets::new();
        let mut by_node: BTreeMap<i32, Vec<String>> = BTreeMap::new();
        for (group, coordinator) in self.group_coordinators(groups).await? {
            match coordinator {
                Ok(node) => by_node.entry(node).or_default().push(group),
                Err(error) => {
                    results.insert(group, Err(error));
                }
            }
        }
        let fetches = by_node.into_iter().map(|(node, groups)| async move {
            let asked = Instant::now();
            let fetch = tokio::time::timeout_at(deadline.into(), self.fetch_from(node, &groups));
            let answer = fetch.await.unwrap_or_else(|_elapsed| {
                Err(WireError::Timeout {
                    broker: format!("node {node}"),
                    operation: "OffsetFetch",
                    timeout: deadline.saturating_duration_since(asked),
                })
            });
            match answer {
                Ok(answers) => answers,
                Err(error) => {
                    tracing::debug!(node, %error, "offset fetch from coordinator failed");
                    if error.breaks_connection() {
                        // A dead broker keeps its id; its groups move to another one.
                        self.nodes.forget(node);
                    }
                    groups
                        .into_iter()
                        .map(|group| (group, Err(error.duplicate())))
                        .collect()
                }
            }
        });
        for answers in join_all(fetches).await {
            results.extend(answers);
        }
        Ok(results)
    }

    /// The groups of one coordinator: one request from v8 on, else one per group.
    async fn fetch_from(&self, node: i32, groups: &[String]) -> Result<GroupOffsets, WireError> {
        let version = self.version_at::<OffsetFetchRequest>(node).await?;
        if version >= 8 {
            let request = OffsetFetchRequest::default().with_groups(
                groups
                    .iter()
                    .map(|group| {
                        OffsetFetchRequestGroup::default()
                            .with_group_id(group_id(group))
                            .with_topics(None)
                    })
                    .collect(),
            );
            let response = self.send_to(node, &request).await?;
            let mut answers: GroupOffsets = response
                .groups
                .into_iter()
                .map(|answer| {
                    let offsets = answer.topics.into_iter().flat_map(|topic| {
                        let name = topic.name.0.to_string();
                        topic.partitions.into_iter().map(move |p| {
                            (
                                name.clone(),
                                p.partition_index,
                                p.committed_offset,
                                p.metadata,
                                p.error_code,
                            )
                        })
                    });
                    (
                        answer.group_id.0.to_string(),
                        group_result(answer.error_code, offsets),
                    )
                })
                .collect();
            for group in groups {
                answers.entry(group.clone()).or_insert_with(|| {
                    Err(WireError::Protocol {
                        broker: format!("node {node}"),
                        reason: format!("OffsetFetch answered nothing for group `{group}`"),
                    })
                });
            }
            return Ok(answers);
        }
        if version < 2 {
            return Err(WireError::UnsupportedVersion {
                broker: format!("node {node}"),
                api: "OffsetFetch",
                ours: "2+ (all partitions of a group)".to_owned(),
            });
        }
        let mut answers = GroupOffsets::new();
        for group in groups {
            let request = OffsetFetchRequest::default()
                .with_group_id(group_id(group))
                .with_topics(None);
            let response = self.send_to(node, &request).await?;
            let offsets = response.topics.into_iter().flat_map(|topic| {
                let name = topic.name.0.to_string();
                topic.partitions.into_iter().map(move |p| {
                    (
                        name.clone(),
                        p.partition_index,
                        p.committed_offset,
                        p.metadata,
                        p.error_code,
                    )
                })
            });
            answers.insert(group.clone(), group_result(response.error_code, offsets));
        }
        Ok(answers)
    }
}

fn group_id(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_owned()))
}

/// A group's answer: its error, or the partitions that have a commit. A partition with its
/// own error (or offset -1, no commit) is left out, like librdkafka's `committed`.
fn group_result(
    error_code: i16,
    partitions: impl Iterator<Item = (String, i32, i64, Option<StrBytes>, i16)>,
) -> Result<Vec<CommittedOffset>, WireError> {
    if KafkaCode::from_code(error_code) == Some(KafkaCode::GROUP_ID_NOT_FOUND) {
        return Ok(Vec::new());
    }
    if let Some(error) = WireError::broker("offset fetch", error_code, None) {
        return Err(error);
    }
    let mut offsets: Vec<CommittedOffset> = partitions
        .filter(|(_, _, offset, _, code)| *code == 0 && *offset >= 0)
        .map(|(topic, partition, offset, metadata, _)| CommittedOffset {
            topic,
            partition,
            offset,
            metadata: metadata.map(|m| m.to_string()),
        })
        .collect();
    offsets.sort();
    Ok(offsets)
}

/// Errors after which the group's coordinator is looked up again and asked once more.
fn worth_retrying(error: &WireError) -> bool {
    match error.code() {
        Some(code) => [
            KafkaCode::COORDINATOR_LOAD_IN_PROGRESS,
            KafkaCode::COORDINATOR_NOT_AVAILABLE,
            KafkaCode::NOT_COORDINATOR,
        ]
        .contains(&code),
        None => matches!(error, WireError::Io { .. } | WireError::Timeout { .. }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(
        topic: &str,
        index: i32,
        offset: i64,
        code: i16,
    ) -> (String, i32, i64, Option<StrBytes>, i16) {
        (
            topic.to_owned(),
            index,
            offset,
            Some(StrBytes::from_static_str("m")),
            code,
        )
    }

    #[test]
    fn partitions_without_commit_or_with_errors_are_left_out() {
        let offsets = group_result(
            0,
            vec![
                partition("b", 0, 7, 0),
                partition("a", 1, -1, 0),
                partition("a", 0, 3, 0),
                partition("a", 2, 9, 88),
            ]
            .into_iter(),
        )
        .expect("no group error");
        let seen: Vec<_> = offsets
            .iter()
            .map(|c| (c.topic.as_str(), c.partition, c.offset))
            .collect();
        assert_eq!(seen, vec![("a", 0, 3), ("b", 0, 7)]);
        assert_eq!(offsets[0].metadata.as_deref(), Some("m"));
    }

    /// Each layout is built only for the versions that have it: v8+ many groups, v2-v7
    /// one group with null topics; the encoder refuses fields a version lacks.
    #[test]
    fn batched_and_per_group_requests_encode_for_their_versions() {
        use super::super::connection::encode_frame;
        let batched = OffsetFetchRequest::default().with_groups(vec![
            OffsetFetchRequestGroup::default()
                .with_group_id(group_id("a"))
                .with_topics(None),
        ]);
        for version in 8..=9 {
            assert!(
                encode_frame(&batched, version, 1, "t").is_ok(),
                "v{version}"
            );
        }
        assert!(encode_frame(&batched, 7, 1, "t").is_err());
        let single = OffsetFetchRequest::default()
            .with_group_id(group_id("a"))
            .with_topics(None);
        for version in 2..=7 {
            assert!(encode_frame(&single, version, 1, "t").is_ok(), "v{version}");
        }
    }

    #[test]
    fn group_errors_are_typed_and_unknown_groups_are_empty() {
        let error = group_result(16, std::iter::empty()).expect_err("not coordinator");
        assert_eq!(error.code(), Some(KafkaCode::NOT_COORDINATOR));
        assert!(worth_retrying(&error));
        let denied = group_result(30, std::iter::empty()).expect_err("denied");
        assert!(!worth_retrying(&denied));
        assert_eq!(group_result(69, std::iter::empty()).ok(), Some(Vec::new()));
    }
}
