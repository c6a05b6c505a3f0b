//! `[console]` in `gateway.toml`: a serde DTO, a pure `validate()` and the validated value.
//!
//! Who may do what is the listener's own `[console.http.auth]` with the roles every other
//! listener uses (`[[console.http.auth.acl]] role = "read_only" | "admin"`): a read-only
//! principal sees every page, only an admin produces or changes connectors.

use std::net::SocketAddr;
use std::time::Duration;

use broker_core::ConfigError;
use edge::{ListenerConfig, ValidatedListener};
use serde::Deserialize;

/// Default listen address of the console.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 8080);

/// `[console]` as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    #[serde(default)]
    pub enabled: bool,
    /// `[console.http]`: listen address, limits, authentication and roles.
    #[serde(default)]
    pub http: ListenerConfig,
    /// How often lag and throughput are sampled for the charts.
    #[serde(default = "default_sample_interval_ms")]
    pub sample_interval_ms: u64,
    /// How many samples each chart keeps (360 × 10 s: the last hour).
    #[serde(default = "default_samples_kept")]
    pub samples_kept: usize,
    /// Most records one browse request returns.
    #[serde(default = "default_max_browse_records")]
    pub max_browse_records: usize,
    /// Longest time one Kafka read of the console may take.
    #[serde(default = "default_kafka_timeout_ms")]
    pub kafka_timeout_ms: u64,
}

fn default_sample_interval_ms() -> u64 {
    10_000
}
fn default_samples_kept() -> usize {
    360
}
fn default_max_browse_records() -> usize {
    500
}
fn default_kafka_timeout_ms() -> u64 {
    10_000
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            http: ListenerConfig::default(),
            sample_interval_ms: default_sample_interval_ms(),
            samples_kept: default_samples_kept(),
            max_browse_records: default_max_browse_records(),
            kafka_timeout_ms: default_kafka_timeout_ms(),
        }
    }
}

/// Base URLs of this gateway's own services the console forwards to; `None` when the
/// service is disabled in this process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upstreams {
    pub connect: Option<String>,
    pub schema_registry: Option<String>,
    /// The metrics listener, set only when this process also runs the mirror, whose
    /// series the console reads there.
    pub metrics: Option<String>,
}

/// A `[console]` that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedConsole {
    pub listener: ValidatedListener,
    pub sample_interval: Duration,
    pub samples_kept: usize,
    pub max_browse_records: usize,
    pub kafka_timeout: Duration,
    /// Filled by the gateway from the other sections (not written under `[console]`).
    pub upstreams: Upstreams,
}

impl ConsoleConfig {
    /// `prefix` is the section name (`console`), so errors name the key as written.
    pub fn validate(&self, prefix: &str) -> Result<ValidatedConsole, ConfigError> {
        let listener = self
            .http
            .validate(&format!("{prefix}.http"), DEFAULT_LISTEN)?;
        if self.sample_interval_ms < 100 {
            return Err(ConfigError::new(
                format!("{prefix}.sample_interval_ms"),
                "must be at least 100",
            ));
        }
        if self.samples_kept == 0 {
            return Err(ConfigError::new(
                format!("{prefix}.samples_kept"),
                "must be greater than 0",
            ));
        }
        if self.max_browse_records == 0 {
            return Err(ConfigError::new(
                format!("{prefix}.max_browse_records"),
                "must be greater than 0",
            ));
        }
        if self.kafka_timeout_ms == 0 {
            return Err(ConfigError::new(
                format!("{prefix}.kafka_timeout_ms"),
                "must be greater than 0",
            ));
        }
        Ok(ValidatedConsole {
            listener,
            sample_interval: Duration::from_millis(self.sample_interval_ms),
            samples_kept: self.samples_kept,
            max_browse_records: self.max_browse_records,
            kafka_timeout: Duration::from_millis(self.kafka_timeout_ms),
            upstreams: Upstreams::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(text: &str) -> ConsoleConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_listen_on_8080() {
        let validated = ConsoleConfig::default().validate("console").unwrap();
        assert_eq!(validated.listener.listen, DEFAULT_LISTEN);
        assert_eq!(validated.sample_interval, Duration::from_secs(10));
    }

    #[test]
    fn unknown_key_is_named() {
        let error = toml::from_str::<ConsoleConfig>("sample_interval = 5").unwrap_err();
        assert!(error.to_string().contains("sample_interval"), "{error}");
    }

    #[test]
    fn validate_rejects_a_tiny_sample_interval() {
        let error = parse("sample_interval_ms = 10")
            .validate("console")
            .unwrap_err();
        assert_eq!(error.key, "console.sample_interval_ms");
    }

    #[test]
    fn validate_rejects_zero_samples_kept() {
        let error = parse("samples_kept = 0").validate("console").unwrap_err();
        assert_eq!(error.key, "console.samples_kept");
    }

    #[test]
    fn validate_rejects_zero_browse_records() {
        let error = parse("max_browse_records = 0")
            .validate("console")
            .unwrap_err();
        assert_eq!(error.key, "console.max_browse_records");
    }

    #[test]
    fn validate_rejects_zero_kafka_timeout() {
        let error = parse("kafka_timeout_ms = 0")
            .validate("console")
            .unwrap_err();
        assert_eq!(error.key, "console.kafka_timeout_ms");
    }

    #[test]
    fn validate_rejects_a_bad_listen_address() {
        let error = parse("[http]\nlisten = \"localhost\"")
            .validate("console")
            .unwrap_err();
        assert_eq!(error.key, "console.http.listen");
    }
}
