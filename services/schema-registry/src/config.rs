//! `[schema_registry]` config: a serde DTO, a pure `validate()` naming the key at fault, and
//! the validated value the registry runs with.

use std::net::SocketAddr;
use std::time::Duration;

use broker_core::ConfigError;
use edge::{ListenerConfig, ValidatedListener};
use serde::Deserialize;

use crate::DEFAULT_PORT;
use crate::model::CompatibilityLevel;

/// `[schema_registry]` in `gateway.toml`.
///
/// ```toml
/// [schema_registry]
/// enabled = true
/// kafkastore_topic = "_schemas"          # Confluent's kafkastore.topic
/// group_id = "schema-registry"           # Confluent's schema.registry.group.id
/// compatibility = "BACKWARD"             # Confluent's schema.compatibility.level
/// advertised_url = "http://sr-1.example:8081"
/// leader_eligibility = true
/// [schema_registry.http]
/// listen = "127.0.0.1:8081"
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SchemaRegistryConfig {
    #[serde(default)]
    pub enabled: bool,
    /// `[schema_registry.http]`: listen address, edge limits, auth, TLS.
    #[serde(default)]
    pub http: ListenerConfig,
    /// The compacted one-partition topic holding every schema, config and mode.
    #[serde(default = "default_topic")]
    pub kafkastore_topic: String,
    /// The consumer group the instances of one registry elect their primary in.
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// Global compatibility level when no `PUT /config` set one.
    #[serde(default = "default_compatibility")]
    pub compatibility: String,
    /// URL the other instances forward writes to; unset: `http(s)://<listen address>`
    /// (with `127.0.0.1` for an unspecified address, which only suits one host).
    #[serde(default)]
    pub advertised_url: Option<String>,
    /// Whether this instance may become the primary (Confluent's `leader.eligibility`).
    #[serde(default = "default_true")]
    pub leader_eligibility: bool,
    /// Replication factor of the topic when created; unset: min(brokers, 3).
    #[serde(default)]
    pub kafkastore_replication_factor: Option<i16>,
    /// Longest wait for a write to be read back (Confluent's `kafkastore.timeout.ms`).
    #[serde(default = "default_store_timeout_ms")]
    pub kafkastore_timeout_ms: u64,
    /// Kafka session timeout of the election group: how long a crashed primary keeps the
    /// role before another instance takes it.
    #[serde(default = "default_session_timeout_ms")]
    pub election_session_timeout_ms: u64,
}

fn default_topic() -> String {
    "_schemas".to_owned()
}
fn default_group_id() -> String {
    "schema-registry".to_owned()
}
fn default_compatibility() -> String {
    "BACKWARD".to_owned()
}
fn default_true() -> bool {
    true
}
fn default_store_timeout_ms() -> u64 {
    30_000
}
fn default_session_timeout_ms() -> u64 {
    10_000
}

impl Default for SchemaRegistryConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            http: ListenerConfig::default(),
            kafkastore_topic: default_topic(),
            group_id: default_group_id(),
            compatibility: default_compatibility(),
            advertised_url: None,
            leader_eligibility: true,
            kafkastore_replication_factor: None,
            kafkastore_timeout_ms: default_store_timeout_ms(),
            election_session_timeout_ms: default_session_timeout_ms(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedSchemaRegistry {
    pub listener: ValidatedListener,
    pub topic: String,
    pub group_id: String,
    pub compatibility: CompatibilityLevel,
    /// Without a trailing slash.
    pub advertised_url: String,
    pub leader_eligibility: bool,
    pub replication_factor: Option<i16>,
    pub store_timeout: Duration,
    pub session_timeout: Duration,
}

fn legal_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl SchemaRegistryConfig {
    pub fn validate(&self, prefix: &str) -> Result<ValidatedSchemaRegistry, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        let default_listen = SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT));
        let listener = self.http.validate(&key("http"), default_listen)?;
        if !legal_topic_name(&self.kafkastore_topic) {
            return Err(ConfigError::new(
                key("kafkastore_topic"),
                format!("`{}` is not a legal topic name", self.kafkastore_topic),
            ));
        }
        if self.group_id.trim().is_empty() {
            return Err(ConfigError::new(key("group_id"), "must not be empty"));
        }
        let compatibility = CompatibilityLevel::parse(&self.compatibility).ok_or_else(|| {
            ConfigError::new(
                key("compatibility"),
                format!(
                    "`{}` is not one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, \
                     FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE",
                    self.compatibility
                ),
            )
        })?;
        let advertised_url = match &self.advertised_url {
            Some(url) => {
                let trimmed = url.trim().trim_end_matches('/');
                if !(trimmed.starts_with("http://") || trimmed.starts_with("https://"))
                    || trimmed.len() <= "https://".len()
                {
                    return Err(ConfigError::new(
                        key("advertised_url"),
                        format!("`{url}` is not a URL like http://host:8081"),
                    ));
                }
                trimmed.to_owned()
            }
            None => {
                let scheme = if listener.security.tls.is_some() {
                    "https"
                } else {
                    "http"
                };
                let mut address = listener.listen;
                if address.ip().is_unspecified() {
                    address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("{scheme}://{address}")
            }
        };
        if let Some(factor) = self.kafkastore_replication_factor
            && factor < 1
        {
            return Err(ConfigError::new(
                key("kafkastore_replication_factor"),
                "must be at least 1",
            ));
        }
        if self.kafkastore_timeout_ms < 100 {
            return Err(ConfigError::new(
                key("kafkastore_timeout_ms"),
                "must be at least 100",
            ));
        }
        if !(6_000..=300_000).contains(&self.election_session_timeout_ms) {
            return Err(ConfigError::new(
                key("election_session_timeout_ms"),
                "must be between 6000 and 300000 (the brokers' default group session bounds)",
            ));
        }
        Ok(ValidatedSchemaRegistry {
            listener,
            topic: self.kafkastore_topic.clone(),
            group_id: self.group_id.clone(),
            compatibility,
            advertised_url,
            leader_eligibility: self.leader_eligibility,
            replication_factor: self.kafkastore_replication_factor,
            store_timeout: Duration::from_millis(self.kafkastore_timeout_ms),
            session_timeout: Duration::from_millis(self.election_session_timeout_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str) -> Result<ValidatedSchemaRegistry, ConfigError> {
        toml::from_str::<SchemaRegistryConfig>(text)
            .unwrap()
            .validate("schema_registry")
    }

    #[test]
    fn defaults_match_confluent() {
        let validated = validate("enabled = true").unwrap();
        assert_eq!(validated.listener.listen.port(), 8081);
        assert_eq!(validated.topic, "_schemas");
        assert_eq!(validated.group_id, "schema-registry");
        assert_eq!(validated.compatibility, CompatibilityLevel::Backward);
        assert_eq!(validated.advertised_url, "http://127.0.0.1:8081");
    }

    #[test]
    fn validate_rejects_unknown_key() {
        let error = toml::from_str::<SchemaRegistryConfig>("kafkastore.topic = \"x\"").unwrap_err();
        assert!(error.to_string().contains("kafkastore"), "{error}");
    }

    #[test]
    fn validate_rejects_bad_topic() {
        let error = validate("kafkastore_topic = \"a b\"").unwrap_err();
        assert_eq!(error.key, "schema_registry.kafkastore_topic");
    }

    #[test]
    fn validate_rejects_empty_group() {
        let error = validate("group_id = \" \"").unwrap_err();
        assert_eq!(error.key, "schema_registry.group_id");
    }

    #[test]
    fn validate_rejects_unknown_compatibility() {
        let error = validate("compatibility = \"SIDEWAYS\"").unwrap_err();
        assert_eq!(error.key, "schema_registry.compatibility");
        assert!(validate("compatibility = \"full_transitive\"").is_ok());
    }

    #[test]
    fn validate_rejects_bad_advertised_url() {
        let error = validate("advertised_url = \"sr:8081\"").unwrap_err();
        assert_eq!(error.key, "schema_registry.advertised_url");
        let ok = validate("advertised_url = \"http://sr:8081/\"").unwrap();
        assert_eq!(ok.advertised_url, "http://sr:8081");
    }

    #[test]
    fn validate_rejects_zero_replication_factor() {
        let error = validate("kafkastore_replication_factor = 0").unwrap_err();
        assert_eq!(error.key, "schema_registry.kafkastore_replication_factor");
    }

    #[test]
    fn validate_rejects_short_store_timeout() {
        let error = validate("kafkastore_timeout_ms = 1").unwrap_err();
        assert_eq!(error.key, "schema_registry.kafkastore_timeout_ms");
    }

    #[test]
    fn validate_rejects_session_timeout_out_of_bounds() {
        let error = validate("election_session_timeout_ms = 1000").unwrap_err();
        assert_eq!(error.key, "schema_registry.election_session_timeout_ms");
    }
}
