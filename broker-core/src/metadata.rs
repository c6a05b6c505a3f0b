//! Owned snapshots of cluster metadata and partition watermarks.
//!
//! librdkafka's metadata and watermark calls block the calling thread until the broker
//! answers, so [`ClusterInspector`] runs each on tokio's blocking pool and returns plain
//! structs that async code can keep and serialize.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;

use crate::clients::{KafkaClients, create};
use crate::error::{BrokerError, ErrorKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    /// The host this broker advertises: what clients connect to after bootstrap.
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub id: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub in_sync_replicas: Vec<i32>,
    pub error: Option<RDKafkaErrorCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
    pub error: Option<RDKafkaErrorCode>,
}

impl TopicInfo {
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("__")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// The broker that answered the metadata request.
    pub answered_by: i32,
    pub brokers: Vec<BrokerInfo>,
    pub topics: Vec<TopicInfo>,
}

/// Low and high watermark of one partition: the first offset still stored and the offset
/// the next record will get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarks {
    pub low: i64,
    pub high: i64,
}

/// How long a failed request may wait for the login check that explains it.
const LOGIN_EXPLAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads metadata, cluster id and watermarks of one cluster without blocking async code.
#[derive(Clone)]
pub struct ClusterInspector {
    client: Arc<BaseConsumer>,
    /// Kept to tell a rejected login from a slow cluster when a request fails.
    clients: KafkaClients,
    timeout: Duration,
}

impl std::fmt::Debug for ClusterInspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterInspector")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClusterInspector {
    pub fn new(clients: &KafkaClients, timeout: Duration) -> Result<Self, BrokerError> {
        let client: BaseConsumer = create(&clients.base_config(), "metadata client creation")?;
        Ok(Self {
            clients: clients.clone(),
            client: Arc::new(client),
            timeout,
        })
    }

    /// Metadata for one topic, or for every topic when `topic` is `None`. A topic that does
    /// not exist comes back with `error = Some(UnknownTopicOrPartition)` (auto-creation is
    /// never requested).
    pub async fn metadata(&self, topic: Option<&str>) -> Result<ClusterMetadata, BrokerError> {
        let topic = topic.map(str::to_owned);
        self.blocking("metadata request", move |client, timeout| {
            let metadata = client
                .fetch_metadata(topic.as_deref(), timeout)
                .map_err(|e| BrokerError::kafka("metadata request", e))?;
            Ok(ClusterMetadata {
                answered_by: metadata.orig_broker_id(),
                brokers: metadata
                    .brokers()
                    .iter()
                    .map(|b| BrokerInfo {
                        id: b.id(),
                        host: b.host().to_owned(),
                        port: u16::try_from(b.port()).unwrap_or_default(),
                    })
                    .collect(),
                topics: metadata
                    .topics()
                    .iter()
                    .map(|t| TopicInfo {
                        name: t.name().to_owned(),
                        error: t.error().map(RDKafkaErrorCode::from),
                        partitions: t
                            .partitions()
                            .iter()
                            .map(|p| PartitionInfo {
                                id: p.id(),
                                leader: p.leader(),
                                replicas: p.replicas().to_vec(),
                                in_sync_replicas: p.isr().to_vec(),
                                error: p.error().map(RDKafkaErrorCode::from),
                            })
                            .collect(),
                    })
                    .collect(),
            })
        })
        .await
    }

    /// Metadata of one topic that must exist.
    pub async fn topic(&self, name: &str) -> Result<TopicInfo, BrokerError> {
        let metadata = self.metadata(Some(name)).await?;
        let topic = metadata
            .topics
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| BrokerError::Resource {
                operation: "metadata request",
                resource: name.to_owned(),
                code: RDKafkaErrorCode::UnknownTopicOrPartition,
            })?;
        match topic.error {
            Some(code) => Err(BrokerError::Resource {
                operation: "metadata request",
                resource: name.to_owned(),
                code,
            }),
            None => Ok(topic),
        }
    }

    pub async fn cluster_id(&self) -> Result<String, BrokerError> {
        self.blocking("cluster id request", |client, timeout| {
            client
                .client()
                .fetch_cluster_id(timeout)
                .ok_or(BrokerError::Timeout {
                    operation: "cluster id request",
                    timeout,
                })
        })
        .await
    }

    pub async fn watermarks(&self, topic: &str, partition: i32) -> Result<Watermarks, BrokerError> {
        let topic = topic.to_owned();
        self.blocking("watermark request", move |client, timeout| {
            let fetch = || {
                client
                    .fetch_watermarks(&topic, partition, timeout)
                    .map(|(low, high)| Watermarks { low, high })
                    .map_err(|e| BrokerError::kafka("watermark request", e))
            };
            match fetch() {
                // librdkafka answers "unknown partition" at once for a topic missing from
                // its metadata cache (e.g. created by another client since the last
                // refresh); a metadata request for the topic fills the cache.
                Err(error) if error.kind() == ErrorKind::NotFound => {
                    client
                        .fetch_metadata(Some(&topic), timeout)
                        .map_err(|e| BrokerError::kafka("metadata request", e))?;
                    fetch()
                }
                other => other,
            }
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        operation: &'static str,
        call: impl FnOnce(&BaseConsumer, Duration) -> Result<T, BrokerError> + Send + 'static,
    ) -> Result<T, BrokerError> {
        let client = Arc::clone(&self.client);
        let timeout = self.timeout;
        let result = crate::task::spawn_blocking(operation, move || call(&client, timeout))
            .await
            .map_err(|join_error| BrokerError::Other {
                kind: ErrorKind::Internal,
                message: format!("{operation} task failed: {join_error}"),
            })?;
        match result {
            Err(error) if error.is_retriable() => Err(self.explain_failure(error).await),
            other => other,
        }
    }

    /// librdkafka reports a rejected login only to the error callback (which this
    /// unassigned consumer never serves) and then fails requests as "broker transport
    /// failure" or a timeout. On a SASL/TLS cluster, a short login check after such a failure
    /// turns it into the definite authentication error it may be; this costs one extra
    /// connection, on failures only.
    async fn explain_failure(&self, error: BrokerError) -> BrokerError {
        if self.clients.cluster().security_protocol() == "plaintext" {
            return error;
        }
        match crate::login::verify_login(&self.clients, LOGIN_EXPLAIN_TIMEOUT).await {
            Err(login @ BrokerError::Authentication { .. }) => login,
            _ => error,
        }
    }
}
