//! What every handler shares: one producer for all produce requests (as Confluent does
//! since 2021), the consumer-instance registry, an admin client and a short-lived cache of
//! partition counts so that a produce request does not cost a metadata round trip.
//! The native protocol client serves the admin APIs rust-rdkafka lacks
//! (IncrementalAlterConfigs); it is `None` when the cluster's settings are beyond it (GSSAPI,
//! OAUTHBEARER, JKS stores), and those handlers then use the legacy librdkafka path.
//!
//! `state` uses `identity` (per-principal clients) and `caller`, and is used by `authz`;
//! it imports neither `authz` nor anything that imports `state` back among the three.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use broker_core::metadata::ClusterInspector;
use broker_core::produce::Enqueuer;
use broker_core::wire::{WireClient, WireError};
use broker_core::{BrokerError, ErrorKind, KafkaClients};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::FutureProducer;

use crate::config::ValidatedBridge;
use crate::consumers::registry::ConsumerRegistry;
use crate::error::ApiError;
use crate::metrics::BridgeMetrics;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct BridgeState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BridgeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: ValidatedBridge,
    clients: KafkaClients,
    inspector: ClusterInspector,
    producer: Arc<FutureProducer>,
    principal_producers: crate::identity::PrincipalProducers,
    admin: AdminClient<DefaultClientContext>,
    wire: Option<WireClient>,
    consumers: ConsumerRegistry,
    partition_counts: Mutex<HashMap<String, (i32, Instant)>>,
    metrics: BridgeMetrics,
    enqueuer: Enqueuer,
    schemas: Option<crate::schema::SchemaCodecs>,
    /// `[bridge.cluster]`: set once its directory was read, before the router serves.
    cluster: std::sync::OnceLock<Arc<crate::cluster::ClusterNode>>,
}

/// How long a metadata request may take before the handler answers with a retriable error.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a topic's partition count is trusted before it is fetched again.
const PARTITION_COUNT_TTL: Duration = Duration::from_secs(10);

impl BridgeState {
    /// Creates the shared producer, admin client and consumer registry; must run inside a
    /// tokio runtime (the registry spawns its expiry task).
    pub fn new(config: ValidatedBridge, clients: KafkaClients) -> Result<Self, BrokerError> {
        Self::with_metrics(config, clients, None)
    }

    /// [`Self::new`], with the schema registry client counted in `metrics`.
    pub fn with_metrics(
        config: ValidatedBridge,
        clients: KafkaClients,
        metrics: Option<&broker_core::telemetry::MetricsRegistry>,
    ) -> Result<Self, BrokerError> {
        let schemas = config.schema_registry.as_ref().map(|settings| {
            crate::schema::SchemaCodecs::new(schemas::RegistryClient::new(
                settings.client_config(),
                metrics,
            ))
        });
        let inspector = ClusterInspector::new(&clients, METADATA_TIMEOUT)?;
        let producer = broker_core::clients::create(
            &config.producer.client_config(&clients),
            "bridge producer creation",
        )?;
        let admin = clients.admin()?;
        let wire = match WireClient::new(clients.cluster(), METADATA_TIMEOUT) {
            Ok(wire) => Some(wire),
            Err(error @ WireError::Unsupported { .. }) => {
                tracing::warn!(%error, "the native kafka client cannot use this cluster's settings; topic config changes use the legacy whole-set AlterConfigs");
                None
            }
            Err(other) => return Err(other.into()),
        };
        let consumers = ConsumerRegistry::new(config.consumers.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                clients,
                inspector,
                producer: Arc::new(producer),
                principal_producers: crate::identity::PrincipalProducers::default(),
                admin,
                wire,
                consumers,
                partition_counts: Mutex::new(HashMap::new()),
                metrics: BridgeMetrics::default(),
                enqueuer: Enqueuer::new("bridge").with_bound(crate::produce::QUEUE_FULL_WAIT),
                schemas,
                cluster: std::sync::OnceLock::new(),
            }),
        })
    }

    pub fn config(&self) -> &ValidatedBridge {
        &self.inner.config
    }

    pub fn clients(&self) -> &KafkaClients {
        &self.inner.clients
    }

    pub fn inspector(&self) -> &ClusterInspector {
        &self.inner.inspector
    }

    pub fn producer(&self) -> &FutureProducer {
        &self.inner.producer
    }

    /// The producer a request of `caller` uses: its own with principal propagation, else
    /// the shared one; 40301 for an unmapped principal when those are refused.
    pub(crate) fn producer_for(
        &self,
        caller: &crate::caller::Caller,
    ) -> Result<Arc<FutureProducer>, ApiError> {
        let config = self.config();
        let Some((principal, properties)) = crate::identity::properties_of(config, caller)? else {
            return Ok(Arc::clone(&self.inner.producer));
        };
        self.inner
            .principal_producers
            .get_or_create(config, principal, || {
                let mut client = config.producer.client_config(&self.inner.clients);
                crate::identity::apply(&mut client, principal, properties);
                broker_core::clients::create(&client, "principal producer creation")
                    .map_err(ApiError::from)
            })
    }

    /// The consumer config of an instance `caller` creates in `group`, with the caller's
    /// own identity under principal propagation.
    pub(crate) fn consumer_config_for(
        &self,
        caller: &crate::caller::Caller,
        group: &str,
    ) -> Result<rdkafka::config::ClientConfig, ApiError> {
        let mut config = self.inner.clients.consumer_config(group);
        if let Some((principal, properties)) =
            crate::identity::properties_of(self.config(), caller)?
        {
            crate::identity::apply(&mut config, principal, properties);
        }
        Ok(config)
    }

    pub fn admin(&self) -> &AdminClient<DefaultClientContext> {
        &self.inner.admin
    }

    /// The native protocol client, unless the cluster's settings are beyond it.
    pub(crate) fn wire(&self) -> Option<&WireClient> {
        self.inner.wire.as_ref()
    }

    /// Adds the bridge's record counters to `registry` (once per registry).
    pub fn register_metrics(&self, registry: &broker_core::telemetry::MetricsRegistry) {
        self.inner.metrics.register(registry);
        broker_core::produce::register_metrics(registry);
    }

    /// The produce path every produce request goes through (its `QueueFull` policy).
    pub(crate) fn enqueuer(&self) -> &Enqueuer {
        &self.inner.enqueuer
    }

    pub(crate) fn metrics(&self) -> &BridgeMetrics {
        &self.inner.metrics
    }

    /// The schema codecs, when a registry is configured.
    pub(crate) fn schemas(&self) -> Option<&crate::schema::SchemaCodecs> {
        self.inner.schemas.as_ref()
    }

    /// This node's part in a group of bridges, when `[bridge.cluster]` is enabled.
    pub(crate) fn cluster(&self) -> Option<&Arc<crate::cluster::ClusterNode>> {
        self.inner.cluster.get()
    }

    pub(crate) fn set_cluster(&self, node: Arc<crate::cluster::ClusterNode>) {
        if self.inner.cluster.set(node).is_err() {
            tracing::warn!("bridge cluster node started twice; the first one stays");
        }
    }

    pub(crate) fn consumers(&self) -> &ConsumerRegistry {
        &self.inner.consumers
    }

    /// The partition count of `topic`, from a cache refreshed every 10 s; 40401 when the
    /// topic does not exist (auto-creation is never triggered by the bridge).
    pub async fn partition_count(&self, topic: &str) -> Result<i32, ApiError> {
        let cached = self
            .inner
            .partition_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .copied();
        if let Some((count, fetched)) = cached
            && fetched.elapsed() < PARTITION_COUNT_TTL
        {
            return Ok(count);
        }
        let info = self.topic(topic).await?;
        let count = i32::try_from(info.partitions.len()).unwrap_or(i32::MAX);
        self.inner
            .partition_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned(), (count, Instant::now()));
        Ok(count)
    }

    pub fn forget_topic(&self, topic: &str) {
        self.inner
            .partition_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(topic);
    }

    /// Metadata of a topic that must exist: 40401 otherwise.
    pub async fn topic(&self, topic: &str) -> Result<broker_core::metadata::TopicInfo, ApiError> {
        match self.inspector().topic(topic).await {
            Ok(info) => Ok(info),
            Err(error) if error.kind() == ErrorKind::NotFound => {
                Err(ApiError::topic_not_found(topic))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Waits up to `deadline` for in-flight records to be acknowledged, then closes every
    /// consumer instance (auto-commit instances commit what was handed out).
    pub async fn drain(&self, deadline: Duration) {
        let state = self.clone();
        let flushed = broker_core::task::spawn_blocking("bridge-drain-flush", move || {
            for producer in state.inner.principal_producers.all() {
                if let Err(error) = rdkafka::producer::Producer::flush(producer.as_ref(), deadline)
                {
                    tracing::warn!(%error, "a principal's producer flush incomplete");
                }
            }
            rdkafka::producer::Producer::flush(state.producer(), deadline)
        })
        .await;
        match flushed {
            Ok(Ok(())) => tracing::info!("bridge producer flushed"),
            Ok(Err(error)) => tracing::warn!(%error, "bridge producer flush incomplete"),
            Err(error) => tracing::warn!(%error, "bridge producer flush task failed"),
        }
        self.consumers().close_all().await;
    }
}
