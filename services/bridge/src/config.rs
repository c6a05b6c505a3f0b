//! `[bridge]` config: a serde DTO, a pure `validate()` naming the key at fault, and the
//! validated value the bridge runs with.

use std::net::SocketAddr;
use std::time::Duration;

use broker_core::ConfigError;
use edge::{ListenerConfig, ValidatedListener};
use serde::Deserialize;

use crate::DEFAULT_PORT;

pub mod cluster;
pub mod consumer;
pub mod identities;
pub mod producer;

pub use cluster::{ClusterConfig, ValidatedClusterMode};
pub use consumer::{ConsumerConfig, ValidatedConsumer};
pub use identities::{KafkaIdentitiesConfig, Unmapped, ValidatedIdentities};
pub use producer::{DEFAULT_LINGER_MS, ProducerConfig, ValidatedProducer};

/// Which product's API details (error codes, commit semantics, field names) a listener
/// follows where Confluent REST Proxy and the Strimzi bridge differ.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    #[default]
    Confluent,
    Strimzi,
}

/// `[bridge]` in `gateway.toml`.
///
/// ```toml
/// [bridge]
/// enabled = true
/// flavor = "confluent"                 # or "strimzi"
/// consumer_instance_timeout_ms = 300000
/// max_consumer_instances = 1000
/// consumer_request_timeout_ms = 1000
/// consumer_request_max_bytes = 8388608
/// advertised_url = "http://bridge.example:8082"
/// max_partitions_per_topic = 1000      # unset: no limit (as REST Proxy)
/// [bridge.http]
/// listen = "0.0.0.0:8082"
/// [bridge.producer]
/// linger_ms = 1
/// [bridge.consumer]
/// queued_max_messages_kbytes = 2048
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub flavor: Flavor,
    /// `[bridge.http]`: listen address and edge limits.
    #[serde(default)]
    pub http: ListenerConfig,
    /// `[bridge.producer]`: the bridge's own producer settings over the cluster's.
    #[serde(default)]
    pub producer: ProducerConfig,
    /// `[bridge.consumer]`: how much each consumer instance may fetch ahead.
    #[serde(default)]
    pub consumer: ConsumerConfig,
    /// Confluent's `consumer.instance.timeout.ms`: an instance idle this long is closed
    /// and later calls get 404/40403.
    #[serde(default = "default_consumer_instance_timeout_ms")]
    pub consumer_instance_timeout_ms: u64,
    /// Most consumer instances alive at once; creating one more is refused with 429.
    #[serde(default = "default_max_consumer_instances")]
    pub max_consumer_instances: usize,
    /// Confluent's `consumer.request.timeout.ms`: the longest a `GET records` waits for
    /// data (Confluent caps the `timeout` query at this value; Strimzi uses it as the
    /// default when the query has none).
    #[serde(default = "default_consumer_request_timeout_ms")]
    pub consumer_request_timeout_ms: u64,
    /// Confluent's `consumer.request.max.bytes`: upper bound of `max_bytes`, the most
    /// bytes of keys and values in one records response. 8 MiB by default, not Confluent's
    /// 64 MiB: a response is rendered in memory, and each concurrent one costs about 4/3 of
    /// this (base64) at most.
    #[serde(default = "default_consumer_request_max_bytes")]
    pub consumer_request_max_bytes: usize,
    /// Base of the `base_uri` returned when a consumer is created, e.g.
    /// `http://bridge.example:8082`. Unset: taken from the request's `Host` header.
    #[serde(default)]
    pub advertised_url: Option<String>,
    /// `[bridge.kafka_identities]`: each HTTP principal's own Kafka credentials.
    #[serde(default)]
    pub kafka_identities: KafkaIdentitiesConfig,
    /// Confluent's `schema.registry.url` for the avro, jsonschema and protobuf formats:
    /// one or more comma-separated base URLs of a Confluent-compatible registry. Unset: the
    /// built-in registry when `[schema_registry]` runs in the same process, else none (the
    /// three formats are then refused).
    #[serde(default)]
    pub schema_registry_url: Option<String>,
    /// Confluent's `basic.auth.user.info` (`user:password`) for that registry; `${env:…}`
    /// and `${file:…}` references are resolved.
    #[serde(default)]
    pub schema_registry_basic_auth_user_info: Option<String>,
    /// Most partitions a topic may be created with or grown to over HTTP; more is refused
    /// with 400 before Kafka is asked. Kafka itself has no such limit, and one request for
    /// a topic of thousands of partitions can exhaust a broker's file descriptors (our own
    /// API fuzzing took a broker down that way). Unset: no limit, as REST Proxy.
    #[serde(default)]
    pub max_partitions_per_topic: Option<u32>,
    /// `[bridge.cluster]`: instances any node serves (off by default).
    #[serde(default)]
    pub cluster: ClusterConfig,
}

fn default_consumer_instance_timeout_ms() -> u64 {
    300_000
}
fn default_max_consumer_instances() -> usize {
    1000
}
fn default_consumer_request_timeout_ms() -> u64 {
    1000
}
fn default_consumer_request_max_bytes() -> usize {
    8 * 1024 * 1024
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            flavor: Flavor::default(),
            http: ListenerConfig::default(),
            producer: ProducerConfig::default(),
            consumer: ConsumerConfig::default(),
            consumer_instance_timeout_ms: default_consumer_instance_timeout_ms(),
            max_consumer_instances: default_max_consumer_instances(),
            consumer_request_timeout_ms: default_consumer_request_timeout_ms(),
            consumer_request_max_bytes: default_consumer_request_max_bytes(),
            advertised_url: None,
            kafka_identities: KafkaIdentitiesConfig::default(),
            schema_registry_url: None,
            schema_registry_basic_auth_user_info: None,
            max_partitions_per_topic: None,
            cluster: ClusterConfig::default(),
        }
    }
}

/// Consumer-instance limits after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerLimits {
    pub instance_timeout: Duration,
    pub max_instances: usize,
    pub request_timeout: Duration,
    pub request_max_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedBridge {
    pub flavor: Flavor,
    pub listener: ValidatedListener,
    pub consumers: ConsumerLimits,
    pub producer: ValidatedProducer,
    /// The bounds of every instance's consumer.
    pub consumer: ValidatedConsumer,
    /// Without a trailing slash.
    pub advertised_url: Option<String>,
    pub identities: ValidatedIdentities,
    /// The registry of the schema formats; `None` refuses them.
    pub schema_registry: Option<SchemaRegistryClientSettings>,
    /// `max_partitions_per_topic`; `None`: no limit.
    pub max_partitions_per_topic: Option<u32>,
    /// `[bridge.cluster]` when enabled.
    pub cluster: Option<ValidatedClusterMode>,
}

/// Where the bridge's schema registry is, validated.
#[derive(Clone, PartialEq, Eq)]
pub struct SchemaRegistryClientSettings {
    /// The comma-separated base URLs, each checked to be http(s).
    pub urls: String,
    /// `(user, password)`, resolved from its references.
    pub basic_auth: Option<(String, String)>,
}

impl std::fmt::Debug for SchemaRegistryClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistryClientSettings")
            .field("urls", &self.urls)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|(user, _)| user),
            )
            .finish()
    }
}

impl SchemaRegistryClientSettings {
    /// The client config of these settings (the URLs were checked by `validate`).
    pub fn client_config(&self) -> schemas::RegistryClientConfig {
        let mut config = schemas::RegistryClientConfig::from_urls(&self.urls, "bridge")
            .unwrap_or_else(|_| schemas::RegistryClientConfig {
                urls: Vec::new(),
                basic_auth: None,
                cache_capacity: schemas::client::DEFAULT_CACHE_CAPACITY,
                timeout: schemas::client::DEFAULT_TIMEOUT,
                metrics_label: "bridge".to_owned(),
            });
        config.basic_auth.clone_from(&self.basic_auth);
        config
    }
}

impl BridgeConfig {
    pub fn validate(&self, prefix: &str) -> Result<ValidatedBridge, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        let default_listen = SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT));
        let listener = self.http.validate(&key("http"), default_listen)?;
        let producer = self.producer.validate(&key("producer"))?;
        let consumer = self.consumer.validate(&key("consumer"))?;
        if self.consumer_instance_timeout_ms < 1000 {
            return Err(ConfigError::new(
                key("consumer_instance_timeout_ms"),
                "must be at least 1000",
            ));
        }
        if self.max_consumer_instances == 0 {
            return Err(ConfigError::new(
                key("max_consumer_instances"),
                "must be greater than 0",
            ));
        }
        let request_timeout = Duration::from_millis(self.consumer_request_timeout_ms);
        if request_timeout.is_zero() || request_timeout >= listener.request_timeout {
            return Err(ConfigError::new(
                key("consumer_request_timeout_ms"),
                format!(
                    "must be greater than 0 and less than `{}` ({} ms)",
                    key("http.request_timeout_ms"),
                    listener.request_timeout.as_millis()
                ),
            ));
        }
        if self.consumer_request_max_bytes == 0 {
            return Err(ConfigError::new(
                key("consumer_request_max_bytes"),
                "must be greater than 0",
            ));
        }
        let advertised_url = match &self.advertised_url {
            None => None,
            Some(url) => {
                let trimmed = url.trim().trim_end_matches('/');
                if !(trimmed.starts_with("http://") || trimmed.starts_with("https://"))
                    || trimmed.len() <= "https://".len()
                {
                    return Err(ConfigError::new(
                        key("advertised_url"),
                        format!("`{url}` is not a URL like http://host:8082"),
                    ));
                }
                Some(trimmed.to_owned())
            }
        };
        let identities = self.kafka_identities.validate(&key("kafka_identities"))?;
        if identities.enabled() && listener.security.auth.is_none() {
            return Err(ConfigError::new(
                key("kafka_identities"),
                format!(
                    "principal propagation needs authenticated principals: configure `{}`",
                    key("http.auth")
                ),
            ));
        }
        let schema_registry = self.validate_schema_registry(&key)?;
        if self.max_partitions_per_topic == Some(0) {
            return Err(ConfigError::new(
                key("max_partitions_per_topic"),
                "must be at least 1 (leave it unset for no limit)",
            ));
        }
        let cluster = self.cluster.validate(&key("cluster"))?;
        Ok(ValidatedBridge {
            flavor: self.flavor,
            listener,
            consumers: ConsumerLimits {
                instance_timeout: Duration::from_millis(self.consumer_instance_timeout_ms),
                max_instances: self.max_consumer_instances,
                request_timeout,
                request_max_bytes: self.consumer_request_max_bytes,
            },
            producer,
            consumer,
            advertised_url,
            identities,
            schema_registry,
            max_partitions_per_topic: self.max_partitions_per_topic,
            cluster,
        })
    }

    fn validate_schema_registry(
        &self,
        key: &dyn Fn(&str) -> String,
    ) -> Result<Option<SchemaRegistryClientSettings>, ConfigError> {
        let Some(urls) = &self.schema_registry_url else {
            if self.schema_registry_basic_auth_user_info.is_some() {
                return Err(ConfigError::new(
                    key("schema_registry_basic_auth_user_info"),
                    format!("needs `{}`", key("schema_registry_url")),
                ));
            }
            return Ok(None);
        };
        schemas::RegistryClientConfig::from_urls(urls, "bridge")
            .map_err(|reason| ConfigError::new(key("schema_registry_url"), reason))?;
        let basic_auth = match &self.schema_registry_basic_auth_user_info {
            None => None,
            Some(text) => {
                let name = key("schema_registry_basic_auth_user_info");
                let resolved = broker_core::secrets::resolve(&name, text)?;
                let (user, password) = resolved
                    .split_once(':')
                    .ok_or_else(|| ConfigError::new(name, "must be user:password"))?;
                Some((user.to_owned(), password.to_owned()))
            }
        };
        Ok(Some(SchemaRegistryClientSettings {
            urls: urls.clone(),
            basic_auth,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str) -> Result<ValidatedBridge, ConfigError> {
        toml::from_str::<BridgeConfig>(text)
            .unwrap()
            .validate("bridge")
    }

    #[test]
    fn defaults_to_confluent_on_8082() {
        let validated = validate("enabled = true").unwrap();
        assert_eq!(validated.flavor, Flavor::Confluent);
        assert_eq!(validated.listener.listen.port(), 8082);
        assert_eq!(
            validated.consumers.instance_timeout,
            Duration::from_secs(300)
        );
        assert_eq!(validated.consumers.request_timeout, Duration::from_secs(1));
        assert_eq!(validated.consumers.request_max_bytes, 8 * 1024 * 1024);
    }

    #[test]
    fn validate_rejects_bad_producer_table() {
        let err = toml::from_str::<BridgeConfig>("[producer]\nlinger = 0").unwrap_err();
        assert!(err.to_string().contains("linger"), "{err}");
        let err = validate("[producer]\nlinger_ms = 1000000").unwrap_err();
        assert_eq!(err.key, "bridge.producer.linger_ms");
    }

    #[test]
    fn validate_rejects_unknown_flavor() {
        let err = toml::from_str::<BridgeConfig>(r#"flavor = "redpanda""#).unwrap_err();
        assert!(err.to_string().contains("redpanda"), "{err}");
    }

    #[test]
    fn validate_rejects_unknown_key() {
        let err = toml::from_str::<BridgeConfig>("consumer_instance_timeout = 1").unwrap_err();
        assert!(
            err.to_string().contains("consumer_instance_timeout"),
            "{err}"
        );
    }

    #[test]
    fn validate_rejects_short_instance_timeout() {
        let err = validate("consumer_instance_timeout_ms = 10").unwrap_err();
        assert_eq!(err.key, "bridge.consumer_instance_timeout_ms");
    }

    #[test]
    fn validate_rejects_a_zero_partition_limit() {
        let err = validate("max_partitions_per_topic = 0").unwrap_err();
        assert!(
            err.to_string().contains("bridge.max_partitions_per_topic"),
            "{err}"
        );
        assert_eq!(
            validate("max_partitions_per_topic = 64")
                .unwrap()
                .max_partitions_per_topic,
            Some(64)
        );
    }

    #[test]
    fn validate_rejects_zero_max_consumer_instances() {
        let err = validate("max_consumer_instances = 0").unwrap_err();
        assert_eq!(err.key, "bridge.max_consumer_instances");
    }

    #[test]
    fn validate_rejects_request_timeout_past_http_timeout() {
        let err = validate("consumer_request_timeout_ms = 90000").unwrap_err();
        assert_eq!(err.key, "bridge.consumer_request_timeout_ms");
        let err = validate("consumer_request_timeout_ms = 0").unwrap_err();
        assert_eq!(err.key, "bridge.consumer_request_timeout_ms");
    }

    #[test]
    fn validate_rejects_zero_request_max_bytes() {
        let err = validate("consumer_request_max_bytes = 0").unwrap_err();
        assert_eq!(err.key, "bridge.consumer_request_max_bytes");
    }

    #[test]
    fn validate_rejects_bad_schema_registry_url() {
        let err = validate(r#"schema_registry_url = "ftp://registry:8081""#).unwrap_err();
        assert_eq!(err.key, "bridge.schema_registry_url");
        let err = validate(r#"schema_registry_basic_auth_user_info = "u:p""#).unwrap_err();
        assert_eq!(err.key, "bridge.schema_registry_basic_auth_user_info");
        let err = validate(
            "schema_registry_url = \"http://r:8081\"\nschema_registry_basic_auth_user_info = \"nocolon\"",
        )
        .unwrap_err();
        assert_eq!(err.key, "bridge.schema_registry_basic_auth_user_info");
        let ok = validate(
            "schema_registry_url = \"http://r:8081\"\nschema_registry_basic_auth_user_info = \"u:p:q\"",
        )
        .unwrap();
        let registry = ok.schema_registry.unwrap();
        assert_eq!(
            registry.basic_auth,
            Some(("u".to_owned(), "p:q".to_owned()))
        );
        assert_eq!(registry.client_config().urls[0].as_str(), "http://r:8081/");
    }

    #[test]
    fn validate_rejects_bad_advertised_url() {
        let err = validate(r#"advertised_url = "bridge:8082""#).unwrap_err();
        assert_eq!(err.key, "bridge.advertised_url");
        let ok = validate(r#"advertised_url = "http://bridge:8082/""#).unwrap();
        assert_eq!(ok.advertised_url.as_deref(), Some("http://bridge:8082"));
    }
}
