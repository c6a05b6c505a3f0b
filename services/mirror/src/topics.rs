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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use broker_core::KafkaClients;
use broker_core::metadata::ClusterInspector;
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
        Ok((
            Self {
                source: ClusterInspector::new(source, timeout)?,
                target: ClusterInspector::new(target, timeout)?,
                source_admin: source.admin()?,
                target_admin: target.admin()?,
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
                    && !self.flow.config_properties_exclude.matches(&entry.name);
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
            let mut alter = AlterConfig::new(ResourceSpecifier::Topic(&mirrored.target));
            for (name, value) in &configs {
                alter = alter.set(name, value);
            }
            self.target_admin
                .alter_configs(&[alter], &self.options())
                .await
                .map_err(|e| MirrorError::kafka(&self.flow.name(), "alter configs", e))?;
        }
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
