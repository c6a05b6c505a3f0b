//! The runtime's side-topic clients ([`connect_api::SideTopics`]): what a source task
//! writes beside its records (Debezium's schema history) goes through a producer built
//! from the worker's Kafka properties — SASL/TLS included — plus the task's overrides,
//! and its topic is created through the same admin path as KIP-158 record topics
//! ([`super::topics::create_if_missing`]).
//!
//! Side topics live on the worker's cluster. A connector that names bootstrap servers
//! for them (`schema.history.internal.kafka.bootstrap.servers`) must name at least one
//! address of the worker's `bootstrap.servers`; another list is refused with a config
//! error naming the key, because the worker's credentials are not meant for another
//! cluster and a half-configured client there would fail later, and less clearly.
//!
//! Overrides follow the worker's `connector.client.config.override.policy`, like
//! `producer.override.*`: a property the policy forbids or librdkafka refuses fails the
//! task at start with a config error naming the connector key.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use broker_core::KafkaClients;
use broker_core::metadata::ClusterInspector;
use connect_api::{
    ClientOverride, ConnectError, NewSideTopic, SideTopicClients, SideTopicWriter, SideTopics,
};
use futures::future::BoxFuture;
use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::client_overrides::{self, OverridePolicy};
use crate::worker::topics::{self, Created, Refused, TopicLayout};

/// How long one side-topic append may wait for Kafka's acknowledgement.
const APPEND_TIMEOUT: Duration = Duration::from_secs(30);

/// What the runtime hands a source task as [`connect_api::SourceTaskContext::side_topics`].
#[derive(Debug, Clone)]
pub struct RuntimeSideTopics {
    clients: KafkaClients,
    policy: OverridePolicy,
    connector: String,
    task: u32,
}

impl RuntimeSideTopics {
    pub fn new(clients: KafkaClients, policy: OverridePolicy, connector: &str, task: u32) -> Self {
        Self {
            clients,
            policy,
            connector: connector.to_owned(),
            task,
        }
    }

    fn build(&self, request: &SideTopicClients) -> Result<RuntimeSideTopicWriter, ConnectError> {
        if let Some((key, servers)) = &request.bootstrap_servers {
            check_same_cluster(key, servers, self.clients.cluster().bootstrap_servers())?;
        }
        for item in &request.producer_overrides {
            client_overrides::check_override(&item.property, &item.value, self.policy)
                .map_err(|message| ConnectError::config(&item.key, message))?;
        }
        let mut producer_config = self.clients.producer_config();
        producer_config
            .set(
                "client.id",
                format!("connector-side-producer-{}-{}", self.connector, self.task),
            )
            .set("acks", "all")
            .set("enable.idempotence", "true");
        apply(&mut producer_config, &request.producer_overrides);
        let producer: FutureProducer =
            broker_core::clients::create(&producer_config, "side topic producer")
                .map_err(|e| ConnectError::definite(e.to_string()))?;
        // Debezium creates the history topic with its producer's settings.
        let mut admin_config = self.clients.base_config();
        apply(&mut admin_config, &request.producer_overrides);
        let admin = broker_core::clients::create(&admin_config, "side topic admin client")
            .map_err(|e| ConnectError::definite(e.to_string()))?;
        let inspector = ClusterInspector::new(&self.clients, Duration::from_secs(10))
            .map_err(|e| ConnectError::definite(e.to_string()))?;
        Ok(RuntimeSideTopicWriter {
            producer,
            admin,
            inspector,
        })
    }
}

fn apply(config: &mut ClientConfig, overrides: &[ClientOverride]) {
    for item in overrides {
        config.set(&item.property, &item.value);
    }
}

/// `host:port` entries of a bootstrap list, lower-cased, scheme-free.
fn addresses(list: &str) -> BTreeSet<String> {
    list.split(',')
        .map(|entry| {
            let entry = entry.trim().to_ascii_lowercase();
            match entry.split_once("://") {
                Some((_, address)) => address.to_owned(),
                None => entry,
            }
        })
        .filter(|entry| !entry.is_empty())
        .collect()
}

/// Refuses a bootstrap list that shares no address with the worker's.
fn check_same_cluster(key: &str, servers: &str, worker: &str) -> Result<(), ConnectError> {
    if addresses(servers).is_disjoint(&addresses(worker)) {
        return Err(ConnectError::config(
            key,
            format!(
                "names {servers}, which is not in the worker's bootstrap.servers ({worker}): \
                 this runtime writes the schema history to the worker's Kafka cluster with the \
                 worker's security settings, so set this key to the worker's bootstrap \
                 servers or leave it empty"
            ),
        ));
    }
    Ok(())
}

impl SideTopics for RuntimeSideTopics {
    fn open<'a>(
        &'a self,
        clients: &'a SideTopicClients,
    ) -> BoxFuture<'a, Result<Arc<dyn SideTopicWriter>, ConnectError>> {
        Box::pin(async move {
            let writer = self.build(clients)?;
            Ok(Arc::new(writer) as Arc<dyn SideTopicWriter>)
        })
    }
}

/// The clients [`RuntimeSideTopics::open`] built for one task.
struct RuntimeSideTopicWriter {
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    inspector: ClusterInspector,
}

impl std::fmt::Debug for RuntimeSideTopicWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeSideTopicWriter")
            .finish_non_exhaustive()
    }
}

impl SideTopicWriter for RuntimeSideTopicWriter {
    fn create_if_missing<'a>(
        &'a self,
        topic: &'a NewSideTopic,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let layout = TopicLayout {
                partitions: topic.partitions,
                replication_factor: topic.replication_factor,
                configs: &topic.configs,
            };
            let name = topic.name.as_str();
            match topics::create_if_missing(&self.admin, &self.inspector, name, &layout).await {
                Ok(Created::Now) => {
                    tracing::info!(topic = name, configs = ?topic.configs, "created side topic");
                    Ok(())
                }
                Ok(Created::Before) => Ok(()),
                Err(Refused::Admin(error)) => Err(ConnectError::retriable(format!(
                    "cannot create topic {name}: {error}"
                ))),
                Err(Refused::Broker(code)) => Err(ConnectError::definite(format!(
                    "Unable to create topic '{name}': {code}"
                ))),
            }
        })
    }

    fn append<'a>(
        &'a self,
        topic: &'a str,
        key: Option<&'a [u8]>,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).payload(value);
            if let Some(key) = key {
                record = record.key(key);
            }
            self.producer
                .send(record, APPEND_TIMEOUT)
                .await
                .map(|_| ())
                .map_err(|(error, _)| {
                    ConnectError::retriable(format!("cannot write to {topic}: {error}"))
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workers_own_list_in_any_order_is_the_same_cluster() {
        let worker = "kafka-a:9093,kafka-b:9093";
        assert!(check_same_cluster("k", "KAFKA-B:9093, kafka-a:9093", worker).is_ok());
        assert!(check_same_cluster("k", "SASL_SSL://kafka-a:9093", worker).is_ok());
    }

    #[test]
    fn validate_rejects_a_bootstrap_list_of_another_cluster() {
        let error = check_same_cluster(
            "schema.history.internal.kafka.bootstrap.servers",
            "other:9092",
            "kafka-a:9093",
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("schema.history.internal.kafka.bootstrap.servers"),
            "{text}"
        );
        assert!(text.contains("worker's bootstrap.servers"), "{text}");
    }
}
