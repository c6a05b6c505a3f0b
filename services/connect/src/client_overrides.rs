//! `producer.override.*` (sources), `consumer.override.*` (sinks) and `admin.override.*`
//! (the admin client that creates source topics), gated by the worker's
//! `connector.client.config.override.policy` as in Kafka (KIP-458).
//!
//! The overridden properties are librdkafka properties: each one is checked at validation
//! time by setting it on an empty librdkafka config (no I/O), so an unknown property or an
//! invalid value is a per-key error on `/config/validate` and a 400 on create/update, never
//! a task that fails later.

use connect_api::ConfigMap;
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use serde::Deserialize;

use crate::error::ConfigIssue;

pub const PRODUCER_PREFIX: &str = "producer.override.";
pub const CONSUMER_PREFIX: &str = "consumer.override.";
pub const ADMIN_PREFIX: &str = "admin.override.";

/// Kafka's `connector.client.config.override.policy`. Kafka 3.x defaults to `All`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum OverridePolicy {
    /// Every client property may be overridden.
    #[default]
    All,
    /// Only the principal: `sasl.jaas.config`, `sasl.mechanism`, `security.protocol`
    /// (librdkafka spells the JAAS part `sasl.username`/`sasl.password`, allowed too).
    Principal,
    /// No override is allowed.
    None,
}

const PRINCIPAL_PROPERTIES: [&str; 5] = [
    "sasl.jaas.config",
    "sasl.mechanism",
    "security.protocol",
    "sasl.username",
    "sasl.password",
];

impl OverridePolicy {
    /// Kafka's policy name, as it appears in its error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::Principal => "Principal",
            Self::None => "None",
        }
    }

    fn allows(self, property: &str) -> bool {
        match self {
            Self::All => true,
            Self::Principal => PRINCIPAL_PROPERTIES.contains(&property),
            Self::None => false,
        }
    }
}

/// The `(property, value)` pairs under `prefix`, prefix stripped, in key order.
pub fn overrides<'a>(config: &'a ConfigMap, prefix: &str) -> Vec<(&'a str, &'a str)> {
    config
        .iter()
        .filter_map(|(key, value)| {
            key.strip_prefix(prefix)
                .filter(|property| !property.is_empty())
                .map(|property| (property, value.as_str()))
        })
        .collect()
}

/// One issue per override key the policy forbids or librdkafka refuses.
pub fn validate(config: &ConfigMap, prefix: &str, policy: OverridePolicy) -> Vec<ConfigIssue> {
    overrides(config, prefix)
        .into_iter()
        .filter_map(|(property, value)| {
            check_override(property, value, policy)
                .err()
                .map(|message| ConfigIssue::new(format!("{prefix}{property}"), message))
        })
        .collect()
}

/// Whether `policy` allows overriding `property` and librdkafka accepts `value`; the
/// error is Kafka's message for the key.
pub fn check_override(property: &str, value: &str, policy: OverridePolicy) -> Result<(), String> {
    if !policy.allows(property) {
        return Err(format!(
            "The '{}' policy does not allow '{property}' to be overridden",
            policy.name()
        ));
    }
    check_property(property, value)
        .map_err(|reason| format!("Invalid value {value} for configuration {property}: {reason}"))
}

/// Whether librdkafka accepts `property = value` (no client is created).
fn check_property(property: &str, value: &str) -> Result<(), String> {
    let mut config = ClientConfig::new();
    config.set(property, value);
    match config.create_native_config() {
        Ok(_) => Ok(()),
        Err(KafkaError::ClientConfig(_, description, _, _)) => Err(description),
        Err(error) => Err(error.to_string()),
    }
}

/// Sets the overrides under `prefix` on `client` (after the worker's own properties, so
/// they win).
pub fn apply(client: &mut ClientConfig, config: &ConfigMap, prefix: &str) {
    for (property, value) in overrides(config, prefix) {
        client.set(property, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn all_accepts_valid_librdkafka_properties() {
        let config = config(&[
            ("producer.override.compression.type", "lz4"),
            ("producer.override.linger.ms", "20"),
        ]);
        assert!(validate(&config, PRODUCER_PREFIX, OverridePolicy::All).is_empty());
        assert_eq!(overrides(&config, PRODUCER_PREFIX).len(), 2);
    }

    #[test]
    fn validate_rejects_invalid_override_value() {
        let config = config(&[("producer.override.compression.type", "brotli")]);
        let issues = validate(&config, PRODUCER_PREFIX, OverridePolicy::All);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "producer.override.compression.type");
        assert!(
            issues[0]
                .message
                .starts_with("Invalid value brotli for configuration compression.type"),
            "{}",
            issues[0].message
        );
    }

    #[test]
    fn validate_rejects_unknown_override_property() {
        let config = config(&[("producer.override.no.such.property", "1")]);
        let issues = validate(&config, PRODUCER_PREFIX, OverridePolicy::All);
        assert_eq!(issues[0].key, "producer.override.no.such.property");
    }

    #[test]
    fn validate_rejects_any_override_under_none() {
        let config = config(&[("consumer.override.max.poll.interval.ms", "600000")]);
        let issues = validate(&config, CONSUMER_PREFIX, OverridePolicy::None);
        assert_eq!(
            issues[0].message,
            "The 'None' policy does not allow 'max.poll.interval.ms' to be overridden"
        );
    }

    #[test]
    fn principal_allows_only_the_principal() {
        let config = config(&[
            ("producer.override.security.protocol", "plaintext"),
            ("producer.override.acks", "1"),
        ]);
        let issues = validate(&config, PRODUCER_PREFIX, OverridePolicy::Principal);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "producer.override.acks");
    }
}
