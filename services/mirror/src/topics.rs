//! Topic discovery and target topic management.
//!
//! Every `refresh.topics.interval.seconds` (default 30 s, MM2 waits 600 s), or at once when
//! the replicator meets a partition the target does not have yet, the source's topics are
//! listed and filtered with the flow's rules (filter, heartbeats, never internal, never a
//! cycle). Missing remote topics are created with the source partition count and the
//! source's topic-level configs minus `config.properties.exclude`; remote topics with fewer
//! partitions are grown (never shrunk). Only then is the topic published in the
//! [`TopicPlan`] the replicators subscribe to, so a record is never produced to a
//! partition that does not exist.
//!
//! With `sync.topic.configs.enabled`, the copyable configs are also kept in step
//! periodically (MM2's config sync) with IncrementalAlterConfigs through broker-core's
//! native client, as MM2 does since KIP-894: only keys that differ are SET, keys the source
//! no longer has are DELETEd, and keys matching `config.properties.exclude` are never
//! touched, so a target-local override survives. When the native client cannot use the
//! target's settings, or the target predates the API (Kafka < 2.3), the legacy
//! AlterConfigs writes the source's whole set instead (target-local keys are then lost).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use broker_core::KafkaClients;
use broker_core::metadata::ClusterInspector;
use broker_core::wire::{ConfigChanges, ConfigOperation, ConfigResource, WireClient, WireError};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use tokio::sync::{Notify, watch};

use crate::config::Flow;
use crate::error::MirrorError;

/// A source topic the flow copies, and where to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredTopic {
    pub target: String,
    pub partitions: i32,
}

/// Source topic → its mirror; only topics that exist on the target with enough partitions.
pub type TopicPlan = Arc<BTreeMap<String, MirroredTopic>>;

pub(crate) struct TopicSync {
    flow: Arc<Flow>,
    source: ClusterInspector,
    target: ClusterInspector,
    source_admin: AdminClient<DefaultClientContext>,
    target_admin: AdminClient<DefaultClientContext>,
    /// `None` when the native client cannot use the target's settings.
    target_wire: Option<WireClient>,
    plan: watch::Sender<TopicPlan>,
    /// Woken by a replicator that met an unknown partition.
    pub(crate) wake: Arc<Notify>,
}

impl TopicSync {
    pub(crate) fn new(
        flow: Arc<Flow>,
        source: &KafkaClients,
        target: &KafkaClients,
    ) -> Result<(Self, watch::Receiver<TopicPlan>), MirrorError> {
        let (plan, receiver) = watch::channel(TopicPlan::default());
        let timeout = flow.admin_timeout.min(Duration::from_secs(30));
        let target_wire = match WireClient::new(target.cluster(), timeout) {
            Ok(wire) => Some(wire),
            Err(error @ WireError::Unsupported { .. }) => {
                tracing::warn!(flow = %flow.name(), %error, "the native kafka client cannot use the target's settings; topic config sync uses the legacy whole-set AlterConfigs");
                None
            }
            Err(other) => return Err(MirrorError::Broker(other.into())),
        };
        Ok((
            Self {
                source: ClusterInspector::new(source, timeout)?,
                target: ClusterInspector::new(target, timeout)?,
                source_admin: source.admin()?,
                target_admin: target.admin()?,
                target_wire,
                flow,
                plan,
                wake: Arc::new(Notify::new()),
            },
            receiver,
        ))
    }

    fn options(&self) -> AdminOptions {
        AdminOptions::new().operation_timeout(Some(self.flow.admin_timeout))
    }

    /// One discovery pass; publishes the new plan when it changed.
    pub(crate) async fn refresh(&self) -> Result<(), MirrorError> {
        let source = self.source.metadata(None).await?;
        let target = self.target.metadata(None).await?;
        let existing: BTreeMap<&str, i32> = target
            .topics
            .iter()
            .filter(|t| t.error.is_none())
            .map(|t| {
                (
                    t.name.as_str(),
                    i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
                )
            })
            .collect();
        let mut plan = BTreeMap::new();
        for topic in &source.topics {
            if topic.error.is_some() || !self.flow.replicates_topic(&topic.name) {
                continue;
            }
            let partitions = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
            if partitions == 0 {
                continue;
            }
            let remote = self
                .flow
                .policy
                .remote_topic(&self.flow.source, &topic.name);
            match existing.get(remote.as_str()) {
                None => self.create(&topic.name, &remote, partitions).await?,
                Some(&count) if count < partitions => {
                    self.grow(&remote, partitions).await?;
                }
                Some(_) => {}
            }
            plan.insert(
                topic.name.clone(),
                MirroredTopic {
                    target: remote,
                    partitions,
                },
            );
        }
        self.plan.send_if_modified(|current| {
            if **current == plan {
                false
            } else {
                tracing::info!(flow = %self.flow.name(), topics = plan.len(), "mirrored topics changed");
                *current = Arc::new(plan);
                true
            }
        });
        Ok(())
    }

    /// The source's topic-level configs, minus excluded and non-copyable ones.
    async fn source_configs(&self, topic: &str) -> Result<Vec<(String, String)>, MirrorError> {
        if self.flow.sync_topic_configs.is_none() {
            return Ok(Vec::new());
        }
        let results = self
            .source_admin
            .describe_configs(&[ResourceSpecifier::Topic(topic)], &self.options())
            .await
            .map_err(|e| MirrorError::kafka(&self.flow.name(), "describe configs", e))?;
        let mut configs = Vec::new();
        for resource in results.into_iter().flatten() {
            for entry in resource.entries {
                let copyable = entry.source == ConfigSource::DynamicTopic
                    && !entry.is_read_only
                    && !entry.is_sensitive
                    // The filter passes every name but the excluded ones.
                    && self.flow.config_properties_exclude.matches(&entry.name);
                if let (true, Some(value)) = (copyable, entry.value) {
                    configs.push((entry.name, value));
                }
            }
        }
        Ok(configs)
    }

    async fn create(&self, source: &str, remote: &str, partitions: i32) -> Result<(), MirrorError> {
        let configs = self.source_configs(source).await?;
        let mut new_topic = NewTopic::new(
            remote,
            partitions,
            TopicReplication::Fixed(self.flow.replication_factor),
        );
        for (name, value) in &configs {
            new_topic = new_topic.set(name, value);
        }
        let results = self
            .target_admin
            .create_topics(&[new_topic], &self.options())
            .await
            .map_err(|e| MirrorError::kafka(&self.flow.name(), "create topic", e))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(broker_core::BrokerError::Resource {
                        operation: "create topic",
                        resource: topic,
                        code,
                    }
                    .into());
                }
            }
        }
        tracing::info!(flow = %self.flow.name(), source, remote, partitions, configs = configs.len(), "created remote topic");
        Ok(())
    }

    async fn grow(&self, remote: &str, partitions: i32) -> Result<(), MirrorError> {
        let count = usize::try_from(partitions).unwrap_or_default();
        let results = self
            .target_admin
            .create_partitions(&[NewPartitions::new(remote, count)], &self.options())
            .await
            .map_err(|e| MirrorError::kafka(&self.flow.name(), "create partitions", e))?;
        for result in results {
            if let Err((topic, code)) = result
                && code != RDKafkaErrorCode::InvalidPartitions
            {
                return Err(broker_core::BrokerError::Resource {
                    operation: "create partitions",
                    resource: topic,
                    code,
                }
                .into());
            }
        }
        tracing::info!(flow = %self.flow.name(), remote, partitions, "grew remote topic");
        Ok(())
    }

    /// Copies topic-level configs of every mirrored topic (MM2's periodic config sync).
    pub(crate) async fn sync_configs(&self) -> Result<(), MirrorError> {
        let plan = self.plan.borrow().clone();
        for (source, mirrored) in plan.iter() {
            let configs = self.source_configs(source).await?;
            let incremental = match &self.target_wire {
                Some(wire) => {
                    self.sync_incrementally(wire, &mirrored.target, &configs)
                        .await
                }
                None => Err(Fallback),
            };
            match incremental {
                Ok(result) => result?,
                Err(Fallback) => self.sync_whole_set(&mirrored.target, &configs).await?,
            }
        }
        Ok(())
    }

    /// SETs what differs and DELETEs what the source dropped; `Err` when the target does not
    /// speak IncrementalAlterConfigs.
    async fn sync_incrementally(
        &self,
        wire: &WireClient,
        remote: &str,
        configs: &[(String, String)],
    ) -> Result<Result<(), MirrorError>, Fallback> {
        let current = match self.target_configs(remote).await {
            Ok(current) => current,
            Err(error) => return Ok(Err(error)),
        };
        let operations = config_operations(configs, &current, |name| {
            !self.flow.config_properties_exclude.matches(name)
        });
        if operations.is_empty() {
            return Ok(Ok(()));
        }
        let change = ConfigChanges {
            resource: ConfigResource::Topic(remote.to_owned()),
            operations,
        };
        let results = match wire.incremental_alter_configs(&[change], false).await {
            Ok(results) => results,
            Err(error @ WireError::UnsupportedVersion { .. }) => {
                tracing::debug!(flow = %self.flow.name(), %error, "falling back to the legacy AlterConfigs");
                return Err(Fallback);
            }
            Err(other) => return Ok(Err(MirrorError::Broker(other.into()))),
        };
        for result in results {
            if let Err(error) = result {
                return Ok(Err(MirrorError::Broker(error.into())));
            }
        }
        tracing::debug!(flow = %self.flow.name(), remote, "synced topic configs");
        Ok(Ok(()))
    }

    /// The target topic's dynamic, writable configs.
    async fn target_configs(&self, remote: &str) -> Result<BTreeMap<String, String>, MirrorError> {
        let results = self
            .target_admin
            .describe_configs(&[ResourceSpecifier::Topic(remote)], &self.options())
            .await
            .map_err(|e| MirrorError::kafka(&self.flow.name(), "describe configs", e))?;
        Ok(results
            .into_iter()
            .flatten()
            .flat_map(|resource| resource.entries)
            .filter(|entry| {
                entry.source == ConfigSource::DynamicTopic
                    && !entry.is_read_only
                    && !entry.is_sensitive
            })
            .filter_map(|entry| Some((entry.name, entry.value?)))
            .collect())
    }

    /// The legacy AlterConfigs: the target's dynamic configs become exactly `configs`.
    async fn sync_whole_set(
        &self,
        remote: &str,
        configs: &[(String, String)],
    ) -> Result<(), MirrorError> {
        let mut alter = AlterConfig::new(ResourceSpecifier::Topic(remote));
        for (name, value) in configs {
            alter = alter.set(name, value);
        }
        self.target_admin
            .alter_configs(&[alter], &self.options())
            .await
            .map_err(|e| MirrorError::kafka(&self.flow.name(), "alter configs", e))?;
        Ok(())
    }

    /// Discovery loop until `shutdown`; errors are retried at the next interval.
    pub(crate) async fn run(self, shutdown: broker_core::Shutdown) {
        let refresh = self
            .flow
            .refresh_topics
            .unwrap_or(Duration::from_secs(3600));
        let mut refresh_tick = tokio::time::interval(refresh);
        let configs = self
            .flow
            .sync_topic_configs
            .unwrap_or(Duration::from_secs(3600));
        let mut config_tick = tokio::time::interval(configs);
        config_tick.tick().await;
        loop {
            tokio::select! {
                () = shutdown.wait() => return,
                _ = refresh_tick.tick() => {}
                () = self.wake.notified() => {}
                _ = config_tick.tick(), if self.flow.sync_topic_configs.is_some() => {
                    if let Err(error) = self.sync_configs().await {
                        tracing::warn!(flow = %self.flow.name(), %error, "topic config sync failed, retrying at the next interval");
                    }
                    continue;
                }
            }
            if let Err(error) = self.refresh().await {
                tracing::warn!(flow = %self.flow.name(), %error, "topic discovery failed, retrying at the next interval");
            }
        }
    }
}

/// The incremental path is not available; use the legacy one.
struct Fallback;

/// What turns the target's `current` dynamic configs into the source's `wanted` ones,
/// leaving keys that `excluded` matches alone.
fn config_operations(
    wanted: &[(String, String)],
    current: &BTreeMap<String, String>,
    excluded: impl Fn(&str) -> bool,
) -> Vec<(String, ConfigOperation)> {
    let mut operations: Vec<(String, ConfigOperation)> = wanted
        .iter()
        .filter(|(name, value)| current.get(name) != Some(value))
        .map(|(name, value)| (name.clone(), ConfigOperation::Set(value.clone())))
        .collect();
    operations.extend(
        current
            .keys()
            .filter(|name| !excluded(name) && !wanted.iter().any(|(kept, _)| kept == *name))
            .map(|name| (name.clone(), ConfigOperation::Delete)),
    );
    operations
}

/// Creates a single-partition compacted topic (MM2's internal-topic layout) unless it
/// exists.
pub(crate) async fn ensure_compacted_topic(
    clients: &KafkaClients,
    name: &str,
    replication_factor: i32,
    timeout: Duration,
) -> Result<(), MirrorError> {
    let admin = clients.admin()?;
    let topic = NewTopic::new(name, 1, TopicReplication::Fixed(replication_factor))
        .set("cleanup.policy", "compact");
    let results = admin
        .create_topics(
            &[topic],
            &AdminOptions::new().operation_timeout(Some(timeout)),
        )
        .await
        .map_err(|e| MirrorError::kafka(name, "create internal topic", e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(broker_core::BrokerError::Resource {
                    operation: "create internal topic",
                    resource: topic,
                    code,
                }
                .into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_differences_are_written_and_excluded_keys_are_kept() {
        let wanted = vec![
            ("retention.ms".to_owned(), "1000".to_owned()),
            ("cleanup.policy".to_owned(), "compact".to_owned()),
        ];
        let current = BTreeMap::from([
            ("retention.ms".to_owned(), "1000".to_owned()),
            ("max.message.bytes".to_owned(), "5".to_owned()),
            ("min.insync.replicas".to_owned(), "2".to_owned()),
        ]);
        let operations = config_operations(&wanted, &current, |name| name == "min.insync.replicas");
        assert_eq!(
            operations,
            vec![
                (
                    "cleanup.policy".to_owned(),
                    ConfigOperation::Set("compact".to_owned())
                ),
                ("max.message.bytes".to_owned(), ConfigOperation::Delete),
            ]
        );
        assert!(config_operations(&wanted[..1], &current, |_| true).is_empty());
    }
}
