//! The topics a source task writes to: each new one is recorded in the status topic (for
//! `GET /connectors/{c}/topics`) and, when the connector uses `topic.creation.*` (KIP-158)
//! on a worker with `topic_creation_enable`, created before the first record is produced
//! to it. Both happen once per topic per task; the sets are the cache.
//!
//! Creation follows Kafka's `WorkerSourceTask`: look the topic up first (no CREATE
//! permission needed for topics that exist), create it with the matching group's
//! settings otherwise, treat "already exists" (another task won the race) as success.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use broker_core::metadata::ClusterInspector;
use connect_api::{ConfigMap, ConnectError};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use crate::client_overrides::{self, ADMIN_PREFIX};
use crate::runtime::Runtime;
use crate::topic_creation::TopicCreation;
use crate::worker::now_ms;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Creates missing topics for one source task.
struct TopicCreator {
    rules: TopicCreation,
    admin: AdminClient<DefaultClientContext>,
    inspector: ClusterInspector,
    /// Topics known to exist (found or created).
    ready: HashSet<String>,
}

impl std::fmt::Debug for TopicCreator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicCreator")
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

fn definite(operation: &str, error: impl std::fmt::Display) -> ConnectError {
    ConnectError::definite(format!("{operation}: {error}"))
}

impl TopicCreator {
    fn new(
        runtime: &Runtime,
        rules: TopicCreation,
        connector_config: &ConfigMap,
    ) -> Result<Self, ConnectError> {
        let mut config = runtime.clients.base_config();
        client_overrides::apply(&mut config, connector_config, ADMIN_PREFIX);
        let admin = broker_core::clients::create(&config, "topic creation admin client")
            .map_err(|e| definite("cannot create the topic creation admin client", e))?;
        let inspector = ClusterInspector::new(&runtime.clients, Duration::from_secs(10))
            .map_err(|e| definite("cannot create a metadata client", e))?;
        Ok(Self {
            rules,
            admin,
            inspector,
            ready: HashSet::new(),
        })
    }

    async fn ensure(&mut self, topic: &str) -> Result<(), ConnectError> {
        if self.ready.contains(topic) {
            return Ok(());
        }
        let group = self.rules.group_for(topic);
        let layout = TopicLayout {
            partitions: group.partitions,
            replication_factor: group.replication_factor,
            configs: &group.topic_configs,
        };
        match create_if_missing(&self.admin, &self.inspector, topic, &layout).await {
            Ok(Created::Now) => tracing::info!(
                topic,
                group = group.name,
                partitions = group.partitions,
                replication_factor = group.replication_factor,
                "created source topic"
            ),
            Ok(Created::Before) => {}
            Err(Refused::Admin(error)) => {
                return Err(definite(&format!("cannot create topic {topic}"), error));
            }
            Err(Refused::Broker(code)) => {
                return Err(ConnectError::definite(format!(
                    "Unable to create topic '{topic}' using the settings of topic creation group '{}': {code}",
                    group.name
                )));
            }
        }
        self.ready.insert(topic.to_owned());
        Ok(())
    }
}

/// Partitions, replication factor and topic configs of a topic to create.
#[derive(Debug)]
pub(crate) struct TopicLayout<'a> {
    pub(crate) partitions: i32,
    /// `-1`: the broker's default.
    pub(crate) replication_factor: i32,
    pub(crate) configs: &'a BTreeMap<String, String>,
}

/// Whether [`create_if_missing`] created the topic or found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Created {
    Now,
    /// It existed already, or another client created it first.
    Before,
}

/// Why [`create_if_missing`] could not create a topic.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The request itself failed (unreachable cluster, timeout).
    Admin(rdkafka::error::KafkaError),
    /// The broker answered with an error for the topic (no permission, bad config).
    Broker(RDKafkaErrorCode),
}

/// The runtime's one admin path for creating a topic, as Kafka's `WorkerSourceTask` does:
/// look it up first (no CREATE permission needed for a topic that exists), create it
/// otherwise, treat "already exists" (another task won the race) as success, then wait
/// for its partitions' leaders.
pub(crate) async fn create_if_missing(
    admin: &AdminClient<DefaultClientContext>,
    inspector: &ClusterInspector,
    topic: &str,
    layout: &TopicLayout<'_>,
) -> Result<Created, Refused> {
    if inspector.topic(topic).await.is_ok() {
        return Ok(Created::Before);
    }
    let mut new_topic = NewTopic::new(
        topic,
        layout.partitions,
        TopicReplication::Fixed(layout.replication_factor),
    );
    for (name, value) in layout.configs {
        new_topic = new_topic.set(name, value);
    }
    let results = admin
        .create_topics(
            [&new_topic],
            &AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT)),
        )
        .await
        .map_err(Refused::Admin)?;
    let mut created = Created::Before;
    for result in results {
        match result {
            Ok(_) => created = Created::Now,
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(Refused::Broker(code)),
        }
    }
    wait_for_leaders(inspector, topic).await;
    Ok(created)
}

/// A fresh topic needs a moment before every partition has a leader; librdkafka would
/// wait too, this only keeps the first record from sitting in its queue.
async fn wait_for_leaders(inspector: &ClusterInspector, topic: &str) {
    for _ in 0..100 {
        if let Ok(info) = inspector.topic(topic).await
            && !info.partitions.is_empty()
            && info.partitions.iter().all(|p| p.leader >= 0)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a source task knows about the topics it writes to.
#[derive(Debug)]
pub struct TaskTopics {
    recorded: BTreeSet<String>,
    creator: Option<TopicCreator>,
}

impl TaskTopics {
    pub fn new(
        runtime: &Runtime,
        connector: &str,
        rules: Option<TopicCreation>,
        connector_config: &ConfigMap,
    ) -> Result<Self, ConnectError> {
        Ok(Self {
            recorded: runtime.statuses.topics(connector),
            creator: rules
                .map(|rules| TopicCreator::new(runtime, rules, connector_config))
                .transpose()?,
        })
    }

    /// Called before a record goes to `topic`: creates it when needed, records its use.
    pub async fn before_send(
        &mut self,
        runtime: &Runtime,
        connector: &str,
        task: u32,
        topic: &str,
    ) -> Result<(), ConnectError> {
        if let Some(creator) = &mut self.creator {
            creator.ensure(topic).await?;
        }
        if self.recorded.insert(topic.to_owned())
            && let Err(error) = runtime
                .statuses
                .put_topic(connector, task, topic, now_ms())
                .await
        {
            tracing::warn!(%error, "cannot record topic usage");
        }
        Ok(())
    }
}
