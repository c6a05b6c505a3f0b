use std::net::SocketAddr;

use broker_core::ConfigError;
use gateway_edge::{ListenerConfig, ValidatedListener};
use serde::Deserialize;

use crate::DEFAULT_PORT;

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
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub flavor: Flavor,
    /// `[bridge.http]`: listen address and edge limits.
    #[serde(default)]
    pub http: ListenerConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedBridge {
    pub flavor: Flavor,
    pub listener: ValidatedListener,
}

impl BridgeConfig {
    pub fn validate(&self, prefix: &str) -> Result<ValidatedBridge, ConfigError> {
        let default_listen = SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT));
        Ok(ValidatedBridge {
            flavor: self.flavor,
            listener: self
                .http
                .validate(&format!("{prefix}.http"), default_listen)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_confluent_on_8082() {
        let config: BridgeConfig = toml::from_str("enabled = true").unwrap();
        let validated = config.validate("bridge").unwrap();
        assert_eq!(validated.flavor, Flavor::Confluent);
        assert_eq!(validated.listener.listen.port(), 8082);
    }

    #[test]
    fn validate_rejects_unknown_flavor() {
        let err = toml::from_str::<BridgeConfig>(r#"flavor = "redpanda""#).unwrap_err();
        assert!(err.to_string().contains("redpanda"), "{err}");
    }
}
