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
use crate::error::ConfigIssue;
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
        let worker = self.clients.cluster().bootstrap_servers();
        if let Some(issue) = validate(request, worker, self.policy).into_iter().next() {
            return Err(ConnectError::config(issue.key, issue.message));
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

/// Every problem with what a task will ask of the side-topic clients on a worker whose
/// `bootstrap.servers` is `worker`: a bootstrap list that shares no address with the
/// worker's, and each override the policy forbids or librdkafka refuses. Run at config
/// validation (per-key errors) and again when a task opens the clients.
pub fn validate(
    request: &SideTopicClients,
    worker: &str,
    policy: OverridePolicy,
) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    if let Some((key, servers)) = &request.bootstrap_servers
        && addresses(servers).is_disjoint(&addresses(worker))
    {
        issues.push(ConfigIssue::new(
            key,
            format!(
                "{key}={servers} is not in the worker's bootstrap.servers ({worker}): \
                 this runtime writes the schema history to the worker's Kafka cluster with the \
                 worker's security settings, so set this key to the worker's bootstrap \
                 servers or leave it empty"
            ),
        ));
    }
    for item in &request.producer_overrides {
        if let Err(message) = client_overrides::check_override(&item.property, &item.value, policy)
        {
            issues.push(ConfigIssue::new(&item.key, message));
        }
    }
    issues
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

    const KEY: &str = "schema.history.internal.kafka.bootstrap.servers";

    fn request(servers: &str) -> SideTopicClients {
        SideTopicClients {
            bootstrap_servers: Some((KEY.to_owned(), servers.to_owned())),
            producer_overrides: Vec::new(),
        }
    }

    #[test]
    fn the_workers_own_list_in_any_order_is_the_same_cluster() {
        let worker = "kafka-a:9093,kafka-b:9093";
        for servers in ["KAFKA-B:9093, kafka-a:9093", "SASL_SSL://kafka-a:9093"] {
            assert!(
                validate(&request(servers), worker, OverridePolicy::All).is_empty(),
                "{servers}"
            );
        }
    }

    #[test]
    fn validate_rejects_a_bootstrap_list_of_another_cluster() {
        let issues = validate(&request("other:9092"), "kafka-a:9093", OverridePolicy::All);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, KEY);
        assert!(
            issues[0].message.contains("worker's bootstrap.servers"),
            "{}",
            issues[0].message
        );
    }

    #[test]
    fn validate_rejects_overrides_the_policy_or_librdkafka_refuse() {
        let override_of = |property: &str, value: &str| ClientOverride {
            key: format!("schema.history.internal.producer.{property}"),
            property: property.to_owned(),
            value: value.to_owned(),
        };
        let request = SideTopicClients {
            bootstrap_servers: None,
            producer_overrides: vec![
                override_of("sasl.username", "cdc"),
                override_of("compression.type", "brotli"),
            ],
        };
        let issues = validate(&request, "kafka-a:9093", OverridePolicy::All);
        assert_eq!(issues.len(), 1);
        assert_eq!(
            issues[0].key,
            "schema.history.internal.producer.compression.type"
        );
        let issues = validate(&request, "kafka-a:9093", OverridePolicy::Principal);
        assert_eq!(issues.len(), 1, "sasl.username is the principal: allowed");
        let issues = validate(&request, "kafka-a:9093", OverridePolicy::None);
        assert_eq!(issues.len(), 2);
    }
}
