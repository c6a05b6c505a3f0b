use std::net::SocketAddr;

use broker_core::ConfigError;
use gateway_edge::{ListenerConfig, ValidatedListener};
use serde::Deserialize;

use crate::DEFAULT_PORT;

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
    /// `[connect.http]`: listen address and edge limits.
    #[serde(default)]
    pub http: ListenerConfig,
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

impl Default for ConnectConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            group_id: default_group_id(),
            config_storage_topic: default_config_topic(),
            offset_storage_topic: default_offset_topic(),
            status_storage_topic: default_status_topic(),
            replication_factor: default_replication_factor(),
            http: ListenerConfig::default(),
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
    pub listener: ValidatedListener,
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
            listener: self.http.validate(
                &format!("{prefix}.http"),
                SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_kafka_connect() {
        let validated = ConnectConfig::default().validate("connect").unwrap();
        assert_eq!(validated.group_id, "connect-cluster");
        assert_eq!(validated.config_storage_topic, "connect-configs");
        assert_eq!(validated.listener.listen.port(), 8083);
    }

    #[test]
    fn validate_rejects_shared_internal_topics() {
        let config: ConnectConfig =
            toml::from_str(r#"offset_storage_topic = "connect-configs""#).unwrap();
        let err = config.validate("connect").unwrap_err();
        assert_eq!(err.key, "connect.config_storage_topic");
    }

    #[test]
    fn validate_rejects_zero_replication() {
        let config: ConnectConfig = toml::from_str("replication_factor = 0").unwrap();
        let err = config.validate("connect").unwrap_err();
        assert_eq!(err.key, "connect.replication_factor");
    }
}
