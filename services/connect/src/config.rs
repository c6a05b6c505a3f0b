use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use broker_core::ConfigError;
use connect_api::ConfigMap;
use edge::{ListenerConfig, ValidatedListener};
use serde::Deserialize;

use crate::DEFAULT_PORT;
use crate::auto_restart::{AutoRestartConfig, AutoRestartPolicy};
pub use crate::client_overrides::OverridePolicy;
use crate::converters::Converter;

/// `[connect]` in `gateway.toml`. Names and defaults follow Kafka Connect's distributed
/// worker (`group.id`, `config.storage.topic`, ...), spelled with underscores.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConnectConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_group_id")]
    pub group_id: String,
    #[serde(default = "default_config_topic")]
    pub config_storage_topic: String,
    #[serde(default = "default_offset_topic")]
    pub offset_storage_topic: String,
    #[serde(default = "default_status_topic")]
    pub status_storage_topic: String,
    /// Replication factor of the three internal topics when the worker creates them.
    #[serde(default = "default_replication_factor")]
    pub replication_factor: i16,
    /// Partitions of the offsets topic when the worker creates it (Kafka: 25).
    #[serde(default = "default_offset_partitions")]
    pub offset_storage_partitions: i32,
    /// Partitions of the status topic when the worker creates it (Kafka: 5).
    #[serde(default = "default_status_partitions")]
    pub status_storage_partitions: i32,
    /// `host:port` other workers and clients reach this worker's REST API at; it is also the
    /// `worker_id` shown in statuses. Default: `<hostname>:<bound port>`.
    #[serde(default)]
    pub advertised_address: Option<String>,
    /// How long the group coordinator waits for a silent worker before moving its
    /// connectors and tasks to the others (Kafka's `session.timeout.ms`, 10 s).
    #[serde(default = "default_session_timeout_ms")]
    pub session_timeout_ms: u64,
    /// Kafka's `offset.flush.interval.ms`: how often sink tasks are flushed and their
    /// consumer offsets committed (and so how much a crash replays). Kafka: 60 s; 5 s here.
    #[serde(default = "default_offset_flush_interval_ms")]
    pub offset_flush_interval_ms: u64,
    /// Kafka's `exactly.once.source.support`: `enabled` makes every source task write its
    /// records and offsets in one Kafka transaction.
    #[serde(default)]
    pub exactly_once_source_support: ExactlyOnceSourceSupport,
    /// Kafka's `topic.creation.enable`: source connectors with `topic.creation.*` settings
    /// create the topics they write to (KIP-158). `false` ignores those settings.
    #[serde(default = "default_true")]
    pub topic_creation_enable: bool,
    /// Kafka's `connector.client.config.override.policy`: which `producer.override.*` /
    /// `consumer.override.*` keys a connector may set (`All`, `Principal`, `None`).
    #[serde(default)]
    pub connector_client_config_override_policy: OverridePolicy,
    /// `[connect.converters]`: the worker's `key.converter` / `value.converter` and their
    /// settings (`key.converter.schema.registry.url`, …), under Kafka Connect's own names,
    /// used by every connector whose config names no converter of its own (as a Kafka
    /// Connect worker's properties are). Unset: JsonConverter with schemas.
    #[serde(default)]
    pub converters: BTreeMap<String, String>,
    /// `[connect.http]`: listen address and edge limits.
    #[serde(default)]
    pub http: ListenerConfig,
    /// `[connect.auto_restart]`: the default auto-restart of FAILED connectors and tasks
    /// (each connector may set its own `auto.restart.*` keys).
    #[serde(default)]
    pub auto_restart: AutoRestartConfig,
}

/// `exactly_once_source_support`; Kafka's `preparing` step is not needed because no
/// pre-existing non-transactional writer shares the task ids.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExactlyOnceSourceSupport {
    #[default]
    Disabled,
    Enabled,
}

fn default_true() -> bool {
    true
}
fn default_group_id() -> String {
    "connect-cluster".to_owned()
}
fn default_config_topic() -> String {
    "connect-configs".to_owned()
}
fn default_offset_topic() -> String {
    "connect-offsets".to_owned()
}
fn default_status_topic() -> String {
    "connect-status".to_owned()
}
fn default_replication_factor() -> i16 {
    1
}
fn default_offset_partitions() -> i32 {
    25
}
fn default_status_partitions() -> i32 {
    5
}
fn default_offset_flush_interval_ms() -> u64 {
    5_000
}

fn default_session_timeout_ms() -> u64 {
    10_000
}

impl Default for ConnectConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            group_id: default_group_id(),
            config_storage_topic: default_config_topic(),
            offset_storage_topic: default_offset_topic(),
            status_storage_topic: default_status_topic(),
            replication_factor: default_replication_factor(),
            offset_storage_partitions: default_offset_partitions(),
            status_storage_partitions: default_status_partitions(),
            advertised_address: None,
            session_timeout_ms: default_session_timeout_ms(),
            offset_flush_interval_ms: default_offset_flush_interval_ms(),
            exactly_once_source_support: ExactlyOnceSourceSupport::Disabled,
            topic_creation_enable: true,
            connector_client_config_override_policy: OverridePolicy::All,
            converters: BTreeMap::new(),
            http: ListenerConfig::default(),
            auto_restart: AutoRestartConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedConnect {
    pub group_id: String,
    pub config_storage_topic: String,
    pub offset_storage_topic: String,
    pub status_storage_topic: String,
    pub replication_factor: i16,
    pub offset_storage_partitions: i32,
    pub status_storage_partitions: i32,
    pub advertised_address: Option<String>,
    pub session_timeout: Duration,
    pub offset_flush_interval: Duration,
    pub exactly_once_source: bool,
    pub topic_creation_enable: bool,
    pub override_policy: OverridePolicy,
    /// `[connect.converters]`, each converter checked.
    pub converter_defaults: ConfigMap,
    pub listener: ValidatedListener,
    pub auto_restart: AutoRestartPolicy,
}

impl ConnectConfig {
    pub fn validate(&self, prefix: &str) -> Result<ValidatedConnect, ConfigError> {
        let non_empty = |key: &str, value: &str| {
            if value.trim().is_empty() {
                Err(ConfigError::new(
                    format!("{prefix}.{key}"),
                    "must not be empty",
                ))
            } else {
                Ok(value.to_owned())
            }
        };
        let topics = [
            non_empty("config_storage_topic", &self.config_storage_topic)?,
            non_empty("offset_storage_topic", &self.offset_storage_topic)?,
            non_empty("status_storage_topic", &self.status_storage_topic)?,
        ];
        if topics[0] == topics[1] || topics[0] == topics[2] || topics[1] == topics[2] {
            return Err(ConfigError::new(
                format!("{prefix}.config_storage_topic"),
                "the config, offset and status topics must be three different topics",
            ));
        }
        if self.replication_factor < 1 {
            return Err(ConfigError::new(
                format!("{prefix}.replication_factor"),
                "must be at least 1",
            ));
        }
        for (key, value) in [
            ("offset_storage_partitions", self.offset_storage_partitions),
            ("status_storage_partitions", self.status_storage_partitions),
        ] {
            if value < 1 {
                return Err(ConfigError::new(
                    format!("{prefix}.{key}"),
                    "must be at least 1",
                ));
            }
        }
        // librdkafka refuses session timeouts outside the broker's 6 s–30 s default range
        // only at join time; reject what can never work here.
        if !(1_000..=300_000).contains(&self.session_timeout_ms) {
            return Err(ConfigError::new(
                format!("{prefix}.session_timeout_ms"),
                "must be between 1000 and 300000",
            ));
        }
        if !(100..=600_000).contains(&self.offset_flush_interval_ms) {
            return Err(ConfigError::new(
                format!("{prefix}.offset_flush_interval_ms"),
                "must be between 100 and 600000",
            ));
        }
        let advertised_address = match &self.advertised_address {
            None => None,
            Some(text)
                if text.trim().rsplit_once(':').is_some_and(|(host, port)| {
                    !host.is_empty() && port.parse::<u16>().is_ok()
                }) =>
            {
                Some(text.trim().to_owned())
            }
            Some(text) => {
                return Err(ConfigError::new(
                    format!("{prefix}.advertised_address"),
                    format!("`{text}` is not a host:port"),
                ));
            }
        };
        let converter_defaults = self.validate_converters(prefix)?;
        let auto_restart = self
            .auto_restart
            .validate(&format!("{prefix}.auto_restart"))?;
        let [
            config_storage_topic,
            offset_storage_topic,
            status_storage_topic,
        ] = topics;
        Ok(ValidatedConnect {
            group_id: non_empty("group_id", &self.group_id)?,
            config_storage_topic,
            offset_storage_topic,
            status_storage_topic,
            replication_factor: self.replication_factor,
            offset_storage_partitions: self.offset_storage_partitions,
            status_storage_partitions: self.status_storage_partitions,
            advertised_address,
            session_timeout: Duration::from_millis(self.session_timeout_ms),
            offset_flush_interval: Duration::from_millis(self.offset_flush_interval_ms),
            exactly_once_source: self.exactly_once_source_support
                == ExactlyOnceSourceSupport::Enabled,
            topic_creation_enable: self.topic_creation_enable,
            override_policy: self.connector_client_config_override_policy,
            converter_defaults,
            listener: self.http.validate(
                &format!("{prefix}.http"),
                SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            )?,
            auto_restart,
        })
    }
}

/// The prefixes `[connect.converters]` may hold, as a Kafka Connect worker's properties.
const CONVERTER_PREFIXES: [&str; 2] = ["key.converter", "value.converter"];

impl ConnectConfig {
    /// `[connect.converters]`: only converter keys, and each converter as its connector
    /// config would be checked (class, settings under its prefix).
    fn validate_converters(&self, prefix: &str) -> Result<ConfigMap, ConfigError> {
        let defaults: ConfigMap = self.converters.clone().into_iter().collect();
        for key in defaults.keys() {
            let known = CONVERTER_PREFIXES.iter().any(|converter| {
                key == converter
                    || key
                        .strip_prefix(converter)
                        .is_some_and(|rest| rest.starts_with('.'))
            });
            if !known {
                return Err(ConfigError::new(
                    format!("{prefix}.converters.\"{key}\""),
                    "unknown key: [connect.converters] holds key.converter, value.converter and \
                     their settings (key.converter.<name>, value.converter.<name>)",
                ));
            }
        }
        for converter in CONVERTER_PREFIXES {
            if defaults.contains_key(converter) {
                Converter::from_config(&defaults, converter, Converter::String).map_err(
                    |issue| {
                        ConfigError::new(
                            format!("{prefix}.converters.\"{}\"", issue.key),
                            issue.message,
                        )
                    },
                )?;
            }
        }
        Ok(defaults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_converters_are_checked_by_name() {
        let config = |pairs: &[(&str, &str)]| ConnectConfig {
            converters: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..ConnectConfig::default()
        };
        let avro = config(&[
            ("value.converter", "io.confluent.connect.avro.AvroConverter"),
            (
                "value.converter.schema.registry.url",
                "http://registry:8081",
            ),
        ]);
        assert_eq!(
            avro.validate("connect").unwrap().converter_defaults.len(),
            2
        );
        let typo = config(&[("value.convertor", "JsonConverter")]);
        let error = typo.validate("connect").unwrap_err().to_string();
        assert!(
            error.contains("connect.converters.\"value.convertor\""),
            "{error}"
        );
        let unknown_class = config(&[("key.converter", "com.example.Nope")]);
        let error = unknown_class.validate("connect").unwrap_err().to_string();
        assert!(
            error.contains("connect.converters.\"key.converter\""),
            "{error}"
        );
        let bad_setting = config(&[
            ("value.converter", "io.confluent.connect.avro.AvroConverter"),
            (
                "value.converter.schema.registry.url",
                "http://registry:8081",
            ),
            ("value.converter.auto.register.schemaz", "true"),
        ]);
        let error = bad_setting.validate("connect").unwrap_err().to_string();
        assert!(error.contains("auto.register.schemaz"), "{error}");
    }

    #[test]
    fn defaults_match_kafka_connect() {
        let validated = ConnectConfig::default().validate("connect").unwrap();
        assert_eq!(validated.group_id, "connect-cluster");
        assert_eq!(validated.config_storage_topic, "connect-configs");
        assert_eq!(validated.listener.listen.port(), 8083);
        assert_eq!(validated.offset_storage_partitions, 25);
        assert_eq!(validated.status_storage_partitions, 5);
        assert_eq!(validated.session_timeout, Duration::from_secs(10));
    }

    #[test]
    fn validate_rejects_shared_internal_topics() {
        let config: ConnectConfig =
            toml::from_str(r#"offset_storage_topic = "connect-configs""#).unwrap();
        let err = config.validate("connect").unwrap_err();
        assert_eq!(err.key, "connect.config_storage_topic");
    }

    #[test]
    fn exactly_once_is_an_enum() {
        let config: ConnectConfig =
            toml::from_str(r#"exactly_once_source_support = "enabled""#).unwrap();
        assert!(config.validate("connect").unwrap().exactly_once_source);
        assert!(
            toml::from_str::<ConnectConfig>(r#"exactly_once_source_support = "maybe""#).is_err()
        );
    }

    #[test]
    fn validate_rejects_zero_partitions() {
        let config: ConnectConfig = toml::from_str("status_storage_partitions = 0").unwrap();
        let err = config.validate("connect").unwrap_err();
        assert_eq!(err.key, "connect.status_storage_partitions");
    }

    #[test]
    fn validate_rejects_bad_advertised_address() {
        let config: ConnectConfig = toml::from_str(r#"advertised_address = "nohost""#).unwrap();
        let err = config.validate("connect").unwrap_err();
        assert_eq!(err.key, "connect.advertised_address");
    }

    #[test]
    fn validate_rejects_out_of_range_flush_interval() {
        let config: ConnectConfig = toml::from_str("offset_flush_interval_ms = 0").unwrap();
        assert_eq!(
            config.validate("connect").unwrap_err().key,
            "connect.offset_flush_interval_ms"
        );
    }

    #[test]
    fn validate_rejects_tiny_session_timeout() {
        let config: ConnectConfig = toml::from_str("session_timeout_ms = 10").unwrap();
        let err = config.validate("connect").unwrap_err();
        assert_eq!(err.key, "connect.session_timeout_ms");
    }

    #[test]
    fn topic_creation_is_enabled_by_default() {
        let validated = ConnectConfig::default().validate("connect").unwrap();
        assert!(validated.topic_creation_enable);
        assert_eq!(validated.override_policy, OverridePolicy::All);
        let config: ConnectConfig = toml::from_str("topic_creation_enable = false").unwrap();
        assert!(!config.validate("connect").unwrap().topic_creation_enable);
    }

    #[test]
    fn validate_rejects_misspelled_topic_creation_key() {
        assert!(toml::from_str::<ConnectConfig>("topic_creation_enabled = true").is_err());
        assert!(toml::from_str::<ConnectConfig>(r#"topic_creation_enable = "yes""#).is_err());
    }

    #[test]
    fn override_policy_names_are_kafkas() {
        let config: ConnectConfig =
            toml::from_str(r#"connector_client_config_override_policy = "None""#).unwrap();
        assert_eq!(
            config.validate("connect").unwrap().override_policy,
            OverridePolicy::None
        );
        assert!(
            toml::from_str::<ConnectConfig>(r#"connector_client_config_override_policy = "Some""#)
                .is_err()
        );
    }

    #[test]
    fn validate_rejects_zero_replication() {
        let config: ConnectConfig = toml::from_str("replication_factor = 0").unwrap();
        let err = config.validate("connect").unwrap_err();
        assert_eq!(err.key, "connect.replication_factor");
    }
}
