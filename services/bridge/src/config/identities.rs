//! `[bridge.kafka_identities]`: principal propagation. Requests of an authenticated HTTP
//! principal reach Kafka with that principal's own Kafka credentials, so that Kafka's ACLs
//! and quotas apply to each caller rather than to the gateway.
//!
//! ```toml
//! [bridge.kafka_identities]
//! unmapped = "gateway"          # or "refuse": a principal without an entry gets 403
//! idle_timeout_ms = 600000      # a principal's producer is closed after this long unused
//! [bridge.kafka_identities.principals.alice]
//! "sasl.username" = "alice"
//! "sasl.password" = "${file:/etc/kafka-gateway/kafka.properties:alice}"
//! ```
//!
//! Only connection and identity properties may differ per principal (`bootstrap.servers`,
//! `security.protocol`, `sasl.*`, `ssl.*`): how records are produced (acks, idempotence,
//! partitioner) stays the bridge's, so the bridge's promises hold for every principal.

use std::collections::BTreeMap;
use std::time::Duration;

use broker_core::ConfigError;
use serde::Deserialize;

/// What a request of a principal without an entry runs as.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Unmapped {
    /// The gateway's own Kafka identity (the `[kafka]` section).
    #[default]
    Gateway,
    /// Refused with 403: every caller must have a Kafka identity.
    Refuse,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KafkaIdentitiesConfig {
    #[serde(default)]
    pub unmapped: Unmapped,
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// Principal name → librdkafka properties layered over `[kafka]` for its clients.
    #[serde(default)]
    pub principals: BTreeMap<String, BTreeMap<String, String>>,
}

fn default_idle_timeout_ms() -> u64 {
    600_000
}

impl Default for KafkaIdentitiesConfig {
    fn default() -> Self {
        Self {
            unmapped: Unmapped::default(),
            idle_timeout_ms: default_idle_timeout_ms(),
            principals: BTreeMap::new(),
        }
    }
}

/// Principal propagation after validation; secrets resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidatedIdentities {
    pub unmapped: Unmapped,
    pub idle_timeout: Duration,
    pub principals: BTreeMap<String, BTreeMap<String, String>>,
}

impl std::fmt::Debug for ValidatedIdentities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Property values hold passwords.
        f.debug_struct("ValidatedIdentities")
            .field("unmapped", &self.unmapped)
            .field("idle_timeout", &self.idle_timeout)
            .field("principals", &self.principals.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ValidatedIdentities {
    /// Whether requests may run with another identity than the gateway's.
    pub fn enabled(&self) -> bool {
        !self.principals.is_empty() || self.unmapped == Unmapped::Refuse
    }
}

fn identity_property(name: &str) -> bool {
    matches!(name, "bootstrap.servers" | "security.protocol")
        || name.starts_with("sasl.")
        || name.starts_with("ssl.")
}

impl KafkaIdentitiesConfig {
    pub fn validate(&self, prefix: &str) -> Result<ValidatedIdentities, ConfigError> {
        if self.idle_timeout_ms < 1000 {
            return Err(ConfigError::new(
                format!("{prefix}.idle_timeout_ms"),
                "must be at least 1000",
            ));
        }
        let mut principals = BTreeMap::new();
        for (principal, properties) in &self.principals {
            let key = format!("{prefix}.principals.{principal}");
            if principal.trim().is_empty() {
                return Err(ConfigError::new(key, "a principal name cannot be empty"));
            }
            if properties.is_empty() {
                return Err(ConfigError::new(
                    key,
                    "give the principal's Kafka credentials (sasl.username/sasl.password, or \
                     ssl.certificate.location/ssl.key.location)",
                ));
            }
            for name in properties.keys() {
                if !identity_property(name) {
                    return Err(ConfigError::new(
                        format!("{key}.\"{name}\""),
                        "only bootstrap.servers, security.protocol, sasl.* and ssl.* may differ \
                         per principal; how records are produced stays the bridge's",
                    ));
                }
            }
            let resolved = broker_core::secrets::resolve_map(&format!("{key}."), properties)?;
            principals.insert(principal.clone(), resolved);
        }
        Ok(ValidatedIdentities {
            unmapped: self.unmapped,
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            principals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str) -> Result<ValidatedIdentities, ConfigError> {
        toml::from_str::<KafkaIdentitiesConfig>(text)
            .unwrap()
            .validate("bridge.kafka_identities")
    }

    #[test]
    fn principals_get_identity_properties_only() {
        let valid = validate(
            r#"
            unmapped = "refuse"
            [principals.alice]
            "sasl.username" = "alice"
            "sasl.password" = "secret"
            "security.protocol" = "SASL_SSL"
            "#,
        )
        .unwrap();
        assert!(valid.enabled());
        assert_eq!(valid.principals["alice"]["sasl.username"], "alice");
        assert!(!format!("{valid:?}").contains("secret"));

        let error = validate(
            r#"
            [principals.alice]
            "acks" = "1"
            "#,
        )
        .unwrap_err();
        assert!(error.to_string().contains("acks"), "{error}");
        let error = validate("[principals.alice]\n").unwrap_err();
        assert!(error.to_string().contains("alice"), "{error}");
        assert!(!validate("").unwrap().enabled());
    }
}
