//! Creating and checking the internal topics as Kafka Connect's `TopicAdmin` does:
//! `cleanup.policy=compact`, the config topic with exactly one partition.

use std::time::Duration;

use broker_core::KafkaClients;
use broker_core::metadata::ClusterInspector;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use crate::config::ValidatedConnect;
use crate::error::WorkerError;

/// Creates the three topics when missing and refuses a config topic with more than one
/// partition (Kafka's worker refuses to start then, too).
pub async fn ensure_internal_topics(
    config: &ValidatedConnect,
    clients: &KafkaClients,
) -> Result<(), WorkerError> {
    let admin = clients.admin()?;
    let replication = || TopicReplication::Fixed(i32::from(config.replication_factor));
    let topics = [
        NewTopic::new(&config.config_storage_topic, 1, replication())
            .set("cleanup.policy", "compact"),
        NewTopic::new(
            &config.offset_storage_topic,
            config.offset_storage_partitions,
            replication(),
        )
        .set("cleanup.policy", "compact"),
        NewTopic::new(
            &config.status_storage_topic,
            config.status_storage_partitions,
            replication(),
        )
        .set("cleanup.policy", "compact"),
    ];
    let results = admin
        .create_topics(
            &topics,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|source| broker_core::BrokerError::kafka("internal topic creation", source))?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, "created internal topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(WorkerError::InternalTopic {
                    topic,
                    reason: format!("creation failed: {code}"),
                });
            }
        }
    }
    let inspector = ClusterInspector::new(clients, Duration::from_secs(10))?;
    let names = [
        &config.config_storage_topic,
        &config.offset_storage_topic,
        &config.status_storage_topic,
    ];
    for name in names {
        wait_for_leaders(&inspector, name).await?;
    }
    let config_topic = inspector.topic(&config.config_storage_topic).await?;
    if config_topic.partitions.len() > 1 {
        return Err(WorkerError::InternalTopic {
            topic: config.config_storage_topic.clone(),
            reason: format!(
                "it has {} partitions; the config topic must have exactly one",
                config_topic.partitions.len()
            ),
        });
    }
    check_compaction(&admin, &names).await?;
    Ok(())
}

/// A connector's own offsets topic (`offsets.storage.topic`): created when missing with the
/// worker's offsets topic layout, and refused unless compacted, as Kafka's worker does.
pub async fn ensure_connector_offsets_topic(
    clients: &KafkaClients,
    topic: &str,
    layout: OffsetsTopicLayout,
) -> Result<(), WorkerError> {
    let admin = clients.admin()?;
    let new_topic = NewTopic::new(
        topic,
        layout.partitions,
        TopicReplication::Fixed(i32::from(layout.replication_factor)),
    )
    .set("cleanup.policy", "compact");
    let results = admin
        .create_topics(
            [&new_topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|source| broker_core::BrokerError::kafka("offsets topic creation", source))?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, "created connector offsets topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(WorkerError::InternalTopic {
                    topic,
                    reason: format!("creation failed: {code}"),
                });
            }
        }
    }
    let inspector = ClusterInspector::new(clients, Duration::from_secs(10))?;
    wait_for_leaders(&inspector, topic).await?;
    check_compaction(&admin, &[&topic.to_owned()]).await
}

/// How the worker's offsets topic is laid out; connector offsets topics copy it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetsTopicLayout {
    pub partitions: i32,
    pub replication_factor: i16,
}

/// Waits until every partition of `topic` has a leader (fresh topics need a moment).
async fn wait_for_leaders(inspector: &ClusterInspector, topic: &str) -> Result<(), WorkerError> {
    for _ in 0..300 {
        if let Ok(info) = inspector.topic(topic).await
            && !info.partitions.is_empty()
            && info
                .partitions
                .iter()
                .all(|p| p.leader >= 0 && p.error.is_none())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(WorkerError::InternalTopic {
        topic: topic.to_owned(),
        reason: "not every partition has a leader after 30 s".to_owned(),
    })
}

/// Kafka's worker refuses internal topics that are not compacted: a deleted (not compacted)
/// config or offsets topic loses connectors and offsets after the retention time.
async fn check_compaction(
    admin: &AdminClient<DefaultClientContext>,
    names: &[&String],
) -> Result<(), WorkerError> {
    let resources: Vec<ResourceSpecifier<'_>> = names
        .iter()
        .map(|n| ResourceSpecifier::Topic(n.as_str()))
        .collect();
    let described = admin
        .describe_configs(
            &resources,
            &AdminOptions::new().request_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|source| broker_core::BrokerError::kafka("internal topic config check", source))?;
    for (name, result) in names.iter().zip(described) {
        let Ok(resource) = result else { continue };
        let policy = resource
            .get("cleanup.policy")
            .and_then(|entry| entry.value.clone())
            .unwrap_or_default();
        if !policy.split(',').any(|p| p.trim() == "compact") {
            return Err(WorkerError::InternalTopic {
                topic: (*name).clone(),
                reason: format!("its cleanup.policy is `{policy}`; it must be compact"),
            });
        }
    }
    Ok(())
}
