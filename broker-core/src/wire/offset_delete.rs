//! OffsetDelete (KIP-496): removing a consumer group's committed offsets on some
//! partitions, what Java's `Admin.deleteConsumerGroupOffsets` does and what Kafka Connect
//! uses to reset single sink partitions (KIP-875). librdkafka has the call but rust-rdkafka
//! does not expose it.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::{GroupId, OffsetDeleteRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::client::WireClient;
use super::error::{KafkaCode, WireError};

impl WireClient {
    /// Deletes `group`'s committed offsets on `partitions` (topic, partition). A group the
    /// coordinator does not know has nothing to delete: `Ok`. A group with active members
    /// subscribed to one of the topics is refused by the broker
    /// (`GROUP_SUBSCRIBED_TO_TOPIC`), as with Java's admin client.
    pub async fn delete_committed_offsets(
        &self,
        group: &str,
        partitions: &[(String, i32)],
    ) -> Result<(), WireError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let node = self
            .group_coordinators(&[group.to_owned()])
            .await?
            .remove(group)
            .unwrap_or_else(|| {
                Err(WireError::Protocol {
                    broker: self.settings().bootstrap.join(","),
                    reason: format!("FindCoordinator answered nothing for group `{group}`"),
                })
            })?;
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, partition) in partitions {
            by_topic.entry(topic).or_default().push(*partition);
        }
        let request = OffsetDeleteRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
            .with_topics(
                by_topic
                    .into_iter()
                    .map(|(topic, partitions)| {
                        OffsetDeleteRequestTopic::default()
                            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                            .with_partitions(
                                partitions
                                    .into_iter()
                                    .map(|p| {
                                        OffsetDeleteRequestPartition::default()
                                            .with_partition_index(p)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let response = self.send_to(node, &request).await?;
        if KafkaCode::from_code(response.error_code) == Some(KafkaCode::GROUP_ID_NOT_FOUND) {
            return Ok(());
        }
        if let Some(error) = WireError::broker("offset delete", response.error_code, None) {
            return Err(error);
        }
        let partition_error = response
            .topics
            .iter()
            .flat_map(|topic| topic.partitions.iter())
            .find_map(|p| WireError::broker("offset delete", p.error_code, None));
        partition_error.map_or(Ok(()), Err)
    }
}
