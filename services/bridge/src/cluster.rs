//! Consumer instances any node of a group of bridges can serve (`[bridge.cluster]`).
//!
//! An instance lives in one node's memory (a librdkafka consumer cannot move), and a
//! directory in a compacted Kafka topic says which node: instance → its create body,
//! principal, subscription or assignment, owner node and epoch, last use; node → its URL
//! and heartbeat. Every node reads the whole topic into memory and keeps it current
//! ([`broker_core::kafka_log`]). A request for an instance reaches any node (`route`):
//!
//! - the owner serves it, and records in the directory what changed (subscription,
//!   assignment, deletion);
//! - another node forwards it to the owner over HTTP, method, path, headers and body
//!   unchanged, with a hop count so that a request is never forwarded in a loop;
//! - when the owner is dead (its heartbeat older than the lease, a graceful stop recorded,
//!   or the forward finds nobody listening), the node takes the instance over (`takeover`):
//!   it claims the next epoch in the directory, reads the topic back to learn whether its
//!   claim came first (the topic's order is the arbiter, `record`), recreates the consumer
//!   in the same group with the same settings, subscription or assignment, and serves the
//!   request. Positions come from the group's last commit: what was handed out and not
//!   committed comes again (at-least-once), nothing is skipped.
//!
//! The owner writes its heartbeat every third of the lease, refreshes the last use of its
//! instances, writes a tombstone for an instance it expired or deleted, and closes an
//! instance the directory gives to another node (it was presumed dead: fenced).

mod forward;
mod heartbeat;
pub(crate) mod record;
pub(crate) mod route;
mod takeover;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use broker_core::kafka_log::KafkaLog;
use broker_core::{BrokerError, Shutdown};
use rand::Rng as _;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;

use self::record::{
    DirectoryState, InstanceKey, InstanceRecord, NodeRecord, instance_key, node_key,
};
use crate::config::ValidatedClusterMode;
use crate::error::ApiError;
use crate::state::BridgeState;

/// This node's part in a group of bridges.
pub(crate) struct ClusterNode {
    /// Random per process: a restarted node is a new node, and its predecessor's instances
    /// are taken over like those of any dead node.
    node_id: String,
    settings: ValidatedClusterMode,
    log: KafkaLog<DirectoryState>,
    http: reqwest::Client,
    /// Instances being created or taken over here: not in the registry yet, so neither
    /// tombstoned nor fenced by the heartbeat.
    in_flight: Mutex<HashSet<InstanceKey>>,
    /// Creations under way here: their names are known only once the handler answered,
    /// so while any is under way no instance is fenced for lacking a record.
    creations: std::sync::atomic::AtomicUsize,
    /// One takeover at a time on this node, so that two requests for the same dead
    /// instance recreate it once.
    takeover_lock: tokio::sync::Mutex<()>,
    /// Held by the owner around each read-modify-write of its instance records (mode
    /// changes, deletions, last-use refreshes), so that none overwrites another.
    write_lock: tokio::sync::Mutex<()>,
    /// Stops the directory reader, after the last directory write of a graceful stop.
    reader_shutdown: Shutdown,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode")
            .field("node_id", &self.node_id)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A directory write that failed: the request cannot be served consistently.
fn directory_unavailable(error: &BrokerError) -> ApiError {
    tracing::warn!(%error, "bridge instance directory write failed");
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        50003,
        format!("The consumer instance directory is unavailable: {error}"),
    )
}

impl ClusterNode {
    /// Creates the directory topic when missing, reads it to its end, writes this node's
    /// first heartbeat and starts the heartbeat task; stops with `shutdown`.
    pub(crate) async fn start(
        state: &BridgeState,
        settings: ValidatedClusterMode,
        shutdown: Shutdown,
    ) -> Result<Arc<Self>, BrokerError> {
        let clients = state.clients();
        ensure_directory_topic(state, &settings).await?;
        let reader_shutdown = Shutdown::new();
        let log = KafkaLog::start(
            clients,
            &settings.directory_topic,
            DirectoryState::default(),
            reader_shutdown.clone(),
        )
        .await?;
        log.read_to_end().await?;
        let suffix: u64 = rand::rng().random();
        let node_id = format!("bridge-{suffix:016x}");
        let http = reqwest::Client::builder()
            .timeout(state.config().listener.request_timeout)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|error| BrokerError::Other {
                kind: broker_core::ErrorKind::Internal,
                message: format!("http client for forwarding: {error}"),
            })?;
        let node = Arc::new(Self {
            node_id,
            settings,
            log,
            http,
            in_flight: Mutex::new(HashSet::new()),
            creations: std::sync::atomic::AtomicUsize::new(0),
            takeover_lock: tokio::sync::Mutex::new(()),
            write_lock: tokio::sync::Mutex::new(()),
            reader_shutdown,
        });
        node.write_heartbeat(false).await?;
        tracing::info!(node = %node.node_id, url = %node.settings.node_url, topic = %node.settings.directory_topic, "bridge cluster node started");
        heartbeat::spawn(Arc::clone(&node), state.clone(), shutdown);
        Ok(node)
    }

    pub(crate) fn node_id(&self) -> &str {
        &self.node_id
    }

    pub(crate) fn lookup(&self, key: &InstanceKey) -> Option<InstanceRecord> {
        self.log.read(|state| state.instances.get(key).cloned())
    }

    /// Reads the directory up to what it holds now: a record another node wrote just
    /// before the client's next request (a create, a subscription) is known afterwards.
    pub(crate) async fn catch_up(&self) -> Result<(), ApiError> {
        self.log.read_to_end().await.map_err(|error| {
            tracing::warn!(%error, "bridge instance directory read failed");
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                50003,
                format!("The consumer instance directory is unavailable: {error}"),
            )
        })
    }

    fn node(&self, node_id: &str) -> Option<NodeRecord> {
        self.log.read(|state| state.nodes.get(node_id).cloned())
    }

    /// Whether `owner` is presumed to serve its instances: its last heartbeat is within
    /// the lease and it did not record a stop. Clocks of the nodes are compared here: a
    /// skew eats into the lease (docs/bridge.md).
    fn is_alive(&self, owner: &str) -> bool {
        if owner == self.node_id {
            return true;
        }
        self.node(owner).is_some_and(|node| {
            !node.stopped
                && now_ms().saturating_sub(node.heartbeat_ms)
                    < i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX)
        })
    }

    /// Writes `record` and returns once this node read it back.
    async fn write_instance(&self, record: &InstanceRecord) -> Result<(), ApiError> {
        let value = serde_json::to_vec(record).unwrap_or_default();
        self.log
            .write(&instance_key(&record.group, &record.name), Some(&value))
            .await
            .map_err(|error| directory_unavailable(&error))
    }

    async fn write_tombstone(&self, group: &str, name: &str) -> Result<(), ApiError> {
        self.log
            .write(&instance_key(group, name), None)
            .await
            .map_err(|error| directory_unavailable(&error))
    }

    async fn write_heartbeat(&self, stopped: bool) -> Result<(), BrokerError> {
        let record = NodeRecord {
            url: self.settings.node_url.clone(),
            heartbeat_ms: now_ms(),
            stopped,
        };
        let value = serde_json::to_vec(&record).unwrap_or_default();
        self.log.write(&node_key(&self.node_id), Some(&value)).await
    }

    fn mark_in_flight(&self, key: &InstanceKey) {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone());
    }

    fn clear_in_flight(&self, key: &InstanceKey) {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    fn is_in_flight(&self, key: &InstanceKey) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(key)
    }

    /// After the instances were closed on a graceful stop: records the stop, so that the
    /// other nodes take this node's instances over at their next request instead of
    /// waiting for the lease, then stops the directory reader.
    pub(crate) async fn stop(&self) {
        match self.write_heartbeat(true).await {
            Ok(()) => tracing::info!(node = %self.node_id, "bridge cluster node stop recorded"),
            Err(error) => {
                tracing::warn!(%error, "recording the stop of this bridge node failed; its instances are taken over once its lease ends");
            }
        }
        self.reader_shutdown.trigger();
    }
}

/// Creates the directory topic (one partition, compacted) unless it exists. One partition
/// keeps every key in one order, which the ownership rule relies on.
async fn ensure_directory_topic(
    state: &BridgeState,
    settings: &ValidatedClusterMode,
) -> Result<(), BrokerError> {
    let topic = NewTopic::new(
        &settings.directory_topic,
        1,
        TopicReplication::Fixed(settings.directory_replication_factor),
    )
    .set("cleanup.policy", "compact");
    let results = state
        .admin()
        .create_topics(
            [&topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|source| BrokerError::kafka("instance directory topic creation", source))?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, "created the bridge instance directory topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(BrokerError::Other {
                    kind: broker_core::ErrorKind::Unavailable,
                    message: format!("creating the instance directory topic {topic}: {code}"),
                });
            }
        }
    }
    wait_for_leader(state, &settings.directory_topic).await
}

/// Nodes that start together race to create the topic: the losers (and the winner) see it
/// in metadata only once its leader is elected.
async fn wait_for_leader(state: &BridgeState, topic: &str) -> Result<(), BrokerError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let last_error = match state.inspector().topic(topic).await {
            Ok(info)
                if !info.partitions.is_empty() && info.partitions.iter().all(|p| p.leader >= 0) =>
            {
                return Ok(());
            }
            Ok(_) => format!("{topic} has no leader yet"),
            Err(error) => error.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(BrokerError::Other {
                kind: broker_core::ErrorKind::Unavailable,
                message: format!(
                    "the instance directory topic is not ready after 30 s: {last_error}"
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts the cluster node when `[bridge.cluster]` is enabled.
pub(crate) async fn start_if_enabled(
    state: &BridgeState,
    shutdown: Shutdown,
) -> Result<(), BrokerError> {
    let Some(settings) = state.config().cluster.clone() else {
        return Ok(());
    };
    let node = ClusterNode::start(state, settings, shutdown).await?;
    state.set_cluster(node);
    Ok(())
}
