//! Committed offsets of every group in one go, through the native client: FindCoordinator
//! for all groups, then one OffsetFetch per coordinator carrying all of its groups with
//! null topics (every partition the group committed on). No per-group state, no threads:
//! a scrape costs one request per coordinator whatever the number of groups.
//!
//! The answer covers topics the scrape does not report (filtered out, or deleted with
//! commits left behind); those are dropped here so a group's series cover exactly the
//! reported partitions, as when librdkafka was asked for exactly those.

use std::collections::HashSet;
use std::time::Instant;

use broker_core::wire::WireClient;

use super::{CommittedOffset, GroupRead, TopicRead};

pub(super) async fn read_groups(
    client: &WireClient,
    topics: &[TopicRead],
    groups: Vec<(String, usize)>,
    deadline: Instant,
) -> Vec<GroupRead> {
    let reported: HashSet<(&str, i32)> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.as_str(), p.id)))
        .collect();
    let names: Vec<String> = groups.iter().map(|(name, _)| name.clone()).collect();
    let mut answers = match client.committed_offsets(&names, deadline).await {
        Ok(answers) => answers,
        Err(error) => {
            tracing::warn!(groups = groups.len(), %error, "reading committed offsets failed");
            let reason = error.to_string();
            return groups
                .into_iter()
                .map(|(name, members)| GroupRead {
                    name,
                    members,
                    committed: Err(reason.clone()),
                })
                .collect();
        }
    };
    groups
        .into_iter()
        .map(|(name, members)| {
            let committed = match answers.remove(&name) {
                Some(Ok(offsets)) => Ok(offsets
                    .into_iter()
                    .filter(|c| reported.contains(&(c.topic.as_str(), c.partition)))
                    .map(|c| CommittedOffset {
                        topic: c.topic,
                        partition: c.partition,
                        offset: c.offset,
                    })
                    .collect()),
                Some(Err(error)) => {
                    tracing::warn!(group = %name, %error, "reading committed offsets failed");
                    Err(error.to_string())
                }
                None => Err("the coordinator did not answer for the group".to_owned()),
            };
            GroupRead {
                name,
                members,
                committed,
            }
        })
        .collect()
}
