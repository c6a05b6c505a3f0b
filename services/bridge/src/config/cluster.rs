//! `[bridge.cluster]`: consumer instances that any node of a group of bridges can serve,
//! through an instance directory kept in a compacted Kafka topic (`crate::cluster`).
//!
//! Off by default: a single bridge keeps its instances in its own memory, as before.

use std::time::Duration;

use broker_core::ConfigError;
use serde::Deserialize;

/// The directory topic's default name.
pub const DEFAULT_DIRECTORY_TOPIC: &str = "_kafka_gateway_bridge_instances";

/// `[bridge.cluster]` in `gateway.toml`.
///
/// ```toml
/// [bridge]
/// advertised_url = "http://bridge-lb.example:8082"   # the load balancer, for base_uri
/// [bridge.cluster]
/// enabled = true
/// node_url = "http://10.0.0.5:8082"   # where the other nodes reach this one
/// directory_topic = "_kafka_gateway_bridge_instances"
/// directory_replication_factor = 3    # unset: the broker's default.replication.factor
/// lease_ms = 10000
/// ```
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    #[serde(default)]
    pub enabled: bool,
    /// This node's own bridge URL as the other nodes reach it (not the load balancer's):
    /// requests for an instance this node owns are forwarded there.
    #[serde(default)]
    pub node_url: Option<String>,
    /// The compacted topic holding the instance directory; created when missing.
    #[serde(default)]
    pub directory_topic: Option<String>,
    /// Replication factor the directory topic is created with; unset: the broker's default.
    #[serde(default)]
    pub directory_replication_factor: Option<i16>,
    /// A node whose heartbeat is older than this is dead and its instances are taken over
    /// by the next node that receives a request for one of them. Heartbeats are written
    /// every third of it.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
}

fn default_lease_ms() -> u64 {
    10_000
}

/// `[bridge.cluster]` after validation, present only when enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedClusterMode {
    /// Without a trailing slash.
    pub node_url: String,
    pub directory_topic: String,
    /// -1: the broker's default.
    pub directory_replication_factor: i32,
    pub lease: Duration,
}

impl ClusterConfig {
    pub fn validate(&self, prefix: &str) -> Result<Option<ValidatedClusterMode>, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        if !self.enabled {
            return Ok(None);
        }
        let Some(url) = &self.node_url else {
            return Err(ConfigError::new(
                key("node_url"),
                "is required with `enabled = true`: the URL the other nodes reach this one at",
            ));
        };
        let node_url = url.trim().trim_end_matches('/');
        if !(node_url.starts_with("http://") || node_url.starts_with("https://"))
            || node_url.len() <= "https://".len()
        {
            return Err(ConfigError::new(
                key("node_url"),
                format!("`{url}` is not a URL like http://host:8082"),
            ));
        }
        let directory_topic = self
            .directory_topic
            .clone()
            .unwrap_or_else(|| DEFAULT_DIRECTORY_TOPIC.to_owned());
        let legal = (1..=249).contains(&directory_topic.len())
            && directory_topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !legal {
            return Err(ConfigError::new(
                key("directory_topic"),
                format!("`{directory_topic}` is not a legal Kafka topic name"),
            ));
        }
        let directory_replication_factor = match self.directory_replication_factor {
            None => -1,
            Some(factor) if factor >= 1 => i32::from(factor),
            Some(_) => {
                return Err(ConfigError::new(
                    key("directory_replication_factor"),
                    "must be at least 1 (leave it unset for the broker's default)",
                ));
            }
        };
        if self.lease_ms < 1000 {
            return Err(ConfigError::new(key("lease_ms"), "must be at least 1000"));
        }
        Ok(Some(ValidatedClusterMode {
            node_url: node_url.to_owned(),
            directory_topic,
            directory_replication_factor,
            lease: Duration::from_millis(self.lease_ms),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str) -> Result<Option<ValidatedClusterMode>, ConfigError> {
        toml::from_str::<ClusterConfig>(text)
            .unwrap()
            .validate("bridge.cluster")
    }

    #[test]
    fn off_by_default() {
        assert_eq!(validate("").unwrap(), None);
        assert_eq!(validate(r#"node_url = "http://a:1""#).unwrap(), None);
    }

    #[test]
    fn enabled_with_defaults() {
        let mode = validate("enabled = true\nnode_url = \"http://node-1:8082/\"")
            .unwrap()
            .unwrap();
        assert_eq!(mode.node_url, "http://node-1:8082");
        assert_eq!(mode.directory_topic, DEFAULT_DIRECTORY_TOPIC);
        assert_eq!(mode.directory_replication_factor, -1);
        assert_eq!(mode.lease, Duration::from_secs(10));
    }

    #[test]
    fn validate_rejects_missing_node_url() {
        let err = validate("enabled = true").unwrap_err();
        assert_eq!(err.key, "bridge.cluster.node_url");
    }

    #[test]
    fn validate_rejects_bad_node_url() {
        let err = validate("enabled = true\nnode_url = \"node-1:8082\"").unwrap_err();
        assert_eq!(err.key, "bridge.cluster.node_url");
    }

    #[test]
    fn validate_rejects_illegal_directory_topic() {
        let err = validate("enabled = true\nnode_url = \"http://a:1\"\ndirectory_topic = \"a b\"")
            .unwrap_err();
        assert_eq!(err.key, "bridge.cluster.directory_topic");
    }

    #[test]
    fn validate_rejects_zero_replication_factor() {
        let err =
            validate("enabled = true\nnode_url = \"http://a:1\"\ndirectory_replication_factor = 0")
                .unwrap_err();
        assert_eq!(err.key, "bridge.cluster.directory_replication_factor");
    }

    #[test]
    fn validate_rejects_short_lease() {
        let err = validate("enabled = true\nnode_url = \"http://a:1\"\nlease_ms = 10").unwrap_err();
        assert_eq!(err.key, "bridge.cluster.lease_ms");
    }

    #[test]
    fn validate_rejects_unknown_key() {
        let err = toml::from_str::<ClusterConfig>("lease = 1").unwrap_err();
        assert!(err.to_string().contains("lease"), "{err}");
    }
}
