//! What every handler shares: the Kafka clients of the console, the process's health, the
//! forwarding client and the sample rings.

use std::sync::Arc;

use broker_core::clients::create;
use broker_core::metadata::ClusterInspector;
use broker_core::produce::Enqueuer;
use broker_core::wire::WireClient;
use broker_core::{BrokerError, KafkaClients};
use edge::Health;
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::FutureProducer;

use crate::config::ValidatedConsole;
use crate::lag_seconds::LagSecondsCache;
use crate::samples::Samples;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub(crate) struct ConsoleState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: ValidatedConsole,
    pub(crate) clients: KafkaClients,
    pub(crate) inspector: ClusterInspector,
    /// Group listings (ListGroups + DescribeGroups) go through librdkafka.
    pub(crate) groups_client: Arc<BaseConsumer>,
    /// Committed offsets of many groups in one round; `None` on clusters whose settings
    /// the native client cannot speak, where group lag is then not shown.
    pub(crate) wire: Option<WireClient>,
    pub(crate) producer: FutureProducer,
    pub(crate) enqueuer: Enqueuer,
    pub(crate) health: Health,
    pub(crate) http: reqwest::Client,
    pub(crate) samples: Samples,
    pub(crate) lag_seconds: LagSecondsCache,
}

impl std::fmt::Debug for ConsoleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleState").finish_non_exhaustive()
    }
}

impl ConsoleState {
    pub(crate) fn new(
        config: ValidatedConsole,
        clients: KafkaClients,
        health: Health,
    ) -> Result<Self, BrokerError> {
        let inspector = ClusterInspector::new(&clients, config.kafka_timeout)?;
        let groups_client: BaseConsumer =
            create(&clients.base_config(), "console group client creation")?;
        let wire = match WireClient::new(clients.cluster(), config.kafka_timeout) {
            Ok(wire) => Some(wire),
            Err(error) => {
                tracing::warn!(%error, "the console shows no group lag on this cluster");
                None
            }
        };
        let producer = clients.producer()?;
        let http = reqwest::Client::builder()
            .timeout(config.listener.request_timeout)
            .build()
            .map_err(|error| BrokerError::Other {
                kind: broker_core::ErrorKind::Internal,
                message: format!("cannot build the console's http client: {error}"),
            })?;
        let samples = Samples::new(config.samples_kept, config.sample_interval);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                clients,
                inspector,
                groups_client: Arc::new(groups_client),
                wire,
                producer,
                enqueuer: Enqueuer::new("console"),
                health,
                http,
                samples,
                lag_seconds: LagSecondsCache::default(),
            }),
        })
    }
}
