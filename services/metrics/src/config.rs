use std::net::SocketAddr;

use broker_core::ConfigError;
use gateway_edge::{ListenerConfig, ValidatedListener};
use serde::Deserialize;

use crate::DEFAULT_PORT;

/// `[metrics]` in `gateway.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    #[serde(default)]
    pub enabled: bool,
    /// `[metrics.http]`: listen address and edge limits.
    #[serde(default)]
    pub http: ListenerConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedMetrics {
    pub listener: ValidatedListener,
}

impl MetricsConfig {
    pub fn validate(&self, prefix: &str) -> Result<ValidatedMetrics, ConfigError> {
        let default_listen = SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT));
        Ok(ValidatedMetrics {
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
    fn defaults_to_kafka_exporter_port() {
        let validated = MetricsConfig::default().validate("metrics").unwrap();
        assert_eq!(validated.listener.listen.port(), 9308);
    }

    #[test]
    fn validate_rejects_bad_listen() {
        let config: MetricsConfig = toml::from_str("[http]\nlisten = \"nope\"").unwrap();
        assert_eq!(
            config.validate("metrics").unwrap_err().key,
            "metrics.http.listen"
        );
    }
}
