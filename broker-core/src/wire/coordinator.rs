//! FindCoordinator for consumer groups: which broker holds each group's offsets.
//!
//! Brokers with FindCoordinator v4+ (Kafka 3.0+, KIP-699) answer for many groups in one
//! request; older ones are asked group by group on the same connection. The coordinator's
//! address comes with the answer and is remembered for [`super::nodes`], so the OffsetFetch
//! that follows needs no Metadata request.

use std::collections::BTreeMap;

use kafka_protocol::messages::FindCoordinatorRequest;
use kafka_protocol::protocol::StrBytes;

use super::client::WireClient;
use super::error::WireError;
use super::nodes::address;

/// `key_type` of a consumer group (1 is a transactional id).
const GROUP_KEY_TYPE: i8 = 0;

/// Group → the node id of its coordinator, or why it has none right now.
pub(crate) type Coordinators = BTreeMap<String, Result<i32, WireError>>;

impl WireClient {
    /// The coordinators of `groups`. `Err` only when no broker answered at all; a group
    /// whose coordinator is not available (its `__consumer_offsets` partition has no leader
    /// yet) gets its own error.
    pub(crate) async fn group_coordinators(
        &self,
        groups: &[String],
    ) -> Result<Coordinators, WireError> {
        if groups.is_empty() {
            return Ok(Coordinators::new());
        }
        let version = self.version::<FindCoordinatorRequest>().await?;
        if version >= 4 {
            self.find_batched(groups).await
        } else {
            let mut found = Coordinators::new();
            for group in groups {
                found.insert(group.clone(), self.find_one(group).await?);
            }
            Ok(found)
        }
    }

    async fn find_batched(&self, groups: &[String]) -> Result<Coordinators, WireError> {
        let request = FindCoordinatorRequest::default()
            .with_key_type(GROUP_KEY_TYPE)
            .with_coordinator_keys(
                groups
                    .iter()
                    .map(|group| StrBytes::from_string(group.clone()))
                    .collect(),
            );
        let response = self.send(&request).await?;
        let mut found = Coordinators::new();
        for coordinator in response.coordinators {
            let group = coordinator.key.to_string();
            let result = match WireError::broker(
                "find coordinator",
                coordinator.error_code,
                coordinator.error_message.map(|m| m.to_string()),
            ) {
                Some(error) => Err(error),
                None => {
                    let node = coordinator.node_id.0;
                    self.nodes
                        .remember(node, address(&coordinator.host, coordinator.port));
                    Ok(node)
                }
            };
            found.insert(group, result);
        }
        for group in groups {
            found.entry(group.clone()).or_insert_with(|| {
                Err(WireError::Protocol {
                    broker: self.settings().bootstrap.join(","),
                    reason: format!("FindCoordinator answered nothing for group `{group}`"),
                })
            });
        }
        Ok(found)
    }

    /// One group with FindCoordinator v0-v3; a broker error is the group's, anything else
    /// (the connection failed) everyone's.
    async fn find_one(&self, group: &str) -> Result<Result<i32, WireError>, WireError> {
        let request = FindCoordinatorRequest::default()
            .with_key_type(GROUP_KEY_TYPE)
            .with_key(StrBytes::from_string(group.to_owned()));
        let response = self.send(&request).await?;
        if let Some(error) = WireError::broker(
            "find coordinator",
            response.error_code,
            response.error_message.map(|m| m.to_string()),
        ) {
            return Ok(Err(error));
        }
        let node = response.node_id.0;
        self.nodes
            .remember(node, address(&response.host, response.port));
        Ok(Ok(node))
    }
}
