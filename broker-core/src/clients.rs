//! Client factories with the gateway's defaults.
//!
//! Defaults that differ from librdkafka's and why:
//! - producers: `acks=all` and `enable.idempotence=true` so that an acknowledged record
//!   survives a leader change without duplicates; `partitioner=murmur2_random` so that a
//!   keyed record lands on the partition the Java client would choose (librdkafka's default
//!   `consistent_random` uses CRC32 and would split a key's history across partitions).
//!   `queue.buffering.max.kbytes=32768`: librdkafka queues up to 1 GiB of records per
//!   producer by default; Kafka's Java producer bounds its queue at 32 MiB (`buffer.memory`).
//!   With 1 GiB, whatever produces faster than the brokers acknowledge (a CDC snapshot, a
//!   burst of HTTP produce) grows the process instead of waiting; a full queue makes the
//!   caller wait (broker-core's enqueue), which is the backpressure we want.
//! - consumers: `enable.auto.offset.store=false`, so an offset is stored only once the
//!   service has handed the record on (at-least-once by construction).
//!
//! Every default can still be overridden by the cluster's `properties`, and per call.

use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::FromClientConfig;
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::FutureProducer;

use crate::config::ValidatedCluster;
use crate::error::BrokerError;

/// Producer properties the gateway sets unless the user overrides them.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("partitioner", "murmur2_random"),
    ("compression.type", "lz4"),
    ("linger.ms", "5"),
    ("queue.buffering.max.kbytes", "32768"),
];

/// Consumer properties the gateway sets unless the user overrides them.
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.offset.store", "false"),
    ("auto.offset.reset", "earliest"),
    ("enable.partition.eof", "false"),
];

/// Builds librdkafka clients for one cluster.
#[derive(Debug, Clone)]
pub struct KafkaClients {
    cluster: ValidatedCluster,
}

impl KafkaClients {
    pub fn new(cluster: ValidatedCluster) -> Self {
        Self { cluster }
    }

    pub fn cluster(&self) -> &ValidatedCluster {
        &self.cluster
    }

    /// The properties shared by every client: bootstrap, client id, then the user's
    /// pass-through properties.
    pub fn base_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.cluster.bootstrap_servers())
            .set("client.id", self.cluster.client_id());
        for (key, value) in self.cluster.properties() {
            config.set(key, value);
        }
        config
    }

    /// Producer properties: the gateway's defaults under the user's properties.
    pub fn producer_config(&self) -> ClientConfig {
        self.with_defaults(PRODUCER_DEFAULTS)
    }

    /// Consumer properties for `group_id`: the gateway's defaults under the user's
    /// properties.
    pub fn consumer_config(&self, group_id: &str) -> ClientConfig {
        let mut config = self.with_defaults(CONSUMER_DEFAULTS);
        config.set("group.id", group_id);
        config
    }

    pub fn producer(&self) -> Result<FutureProducer, BrokerError> {
        create(&self.producer_config(), "producer creation")
    }

    pub fn consumer(&self, group_id: &str) -> Result<StreamConsumer, BrokerError> {
        create(&self.consumer_config(group_id), "consumer creation")
    }

    pub fn admin(&self) -> Result<AdminClient<DefaultClientContext>, BrokerError> {
        create(&self.base_config(), "admin client creation")
    }

    fn with_defaults(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        // Built from the cluster config, not copied out of `base_config()`:
        // `ClientConfig::config_map()` returns `[sanitized for safety]` in place of
        // `sasl.password` and other secrets, which would log in with a wrong password.
        config
            .set("bootstrap.servers", self.cluster.bootstrap_servers())
            .set("client.id", self.cluster.client_id());
        for (key, value) in self.cluster.properties() {
            config.set(key, value);
        }
        config
    }
}

/// Creates any rdkafka client, keeping librdkafka's reason when the config is refused.
pub fn create<T: FromClientConfig>(
    config: &ClientConfig,
    operation: &'static str,
) -> Result<T, BrokerError> {
    config
        .create()
        .map_err(|source| BrokerError::kafka(operation, source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClusterConfig;

    fn clients(properties: &[(&str, &str)]) -> KafkaClients {
        let mut config = ClusterConfig::new("127.0.0.1:9092");
        for (k, v) in properties {
            config.properties.insert((*k).to_owned(), (*v).to_owned());
        }
        KafkaClients::new(config.validate("kafka").unwrap())
    }

    #[test]
    fn producer_defaults_are_java_compatible_and_durable() {
        let config = clients(&[]).producer_config();
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert_eq!(config.get("partitioner"), Some("murmur2_random"));
        assert_eq!(config.get("bootstrap.servers"), Some("127.0.0.1:9092"));
    }

    #[test]
    fn user_properties_override_defaults() {
        let config = clients(&[("linger.ms", "50"), ("acks", "1")]).producer_config();
        assert_eq!(config.get("linger.ms"), Some("50"));
        assert_eq!(config.get("acks"), Some("1"));
    }

    #[test]
    fn secrets_reach_producers_and_consumers_unchanged() {
        let clients = clients(&[("sasl.password", "p@ss"), ("ssl.key.password", "k3y")]);
        for config in [clients.producer_config(), clients.consumer_config("g1")] {
            assert_eq!(config.get("sasl.password"), Some("p@ss"));
            assert_eq!(config.get("ssl.key.password"), Some("k3y"));
        }
    }

    #[test]
    fn consumers_store_offsets_manually() {
        let config = clients(&[]).consumer_config("g1");
        assert_eq!(config.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(config.get("group.id"), Some("g1"));
    }

    #[test]
    fn refused_config_keeps_librdkafka_reason() {
        let Err(error) = clients(&[("no.such.property", "1")]).producer() else {
            panic!("an unknown property must be refused");
        };
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("no.such.property"), "{error}");
    }
}
