//! `[bridge.producer]`: the bridge's own producer settings, layered over the cluster's.
//!
//! The bridge's one shared producer serves single-record requests that wait for their
//! acknowledgement, so it trades broker-core's `linger.ms=5` (right for pipelines that
//! stream) for a short linger: with 1 ms the single-record p99 at 1 000 req/s falls under
//! 5 ms while 100-record requests from 64 connections still fill batches, because records
//! that arrive while a produce request is in flight are batched anyway. Other services keep
//! broker-core's defaults.
//!
//! Precedence, lowest first: broker-core's producer defaults, `[kafka.properties]`, the
//! bridge's `linger.ms` (`linger_ms`, or [`DEFAULT_LINGER_MS`] unless `[kafka.properties]`
//! sets `linger.ms`), then `[bridge.producer.properties]`.

use std::collections::BTreeMap;

use broker_core::{ConfigError, KafkaClients};
use rdkafka::ClientConfig;
use serde::Deserialize;

/// `linger.ms` of the bridge's producer unless configured; chosen by measurement
/// (docs/benchmarks.md, Bridge section).
pub const DEFAULT_LINGER_MS: u64 = 1;

/// librdkafka's upper bound of `linger.ms`.
const MAX_LINGER_MS: u64 = 900_000;

/// `[bridge.producer]` in `gateway.toml`.
///
/// ```toml
/// [bridge.producer]
/// linger_ms = 1
/// [bridge.producer.properties]
/// "batch.size" = "1000000"
/// ```
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProducerConfig {
    /// librdkafka `linger.ms` of the bridge's producer. Unset: `linger.ms` of
    /// `[kafka.properties]` when given there, otherwise [`DEFAULT_LINGER_MS`].
    #[serde(default)]
    pub linger_ms: Option<u64>,
    /// Any librdkafka producer property, over the cluster's `[kafka.properties]`.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// The bridge's producer settings after validation.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ValidatedProducer {
    linger_ms: Option<u64>,
    properties: BTreeMap<String, String>,
}

/// Secrets (resolved references included) are never printed.
impl std::fmt::Debug for ValidatedProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: BTreeMap<&str, &str> = self
            .properties
            .iter()
            .map(|(k, v)| {
                let value = if broker_core::config::is_sensitive_key(k) {
                    broker_core::secrets::HIDDEN
                } else {
                    v.as_str()
                };
                (k.as_str(), value)
            })
            .collect();
        f.debug_struct("ValidatedProducer")
            .field("linger_ms", &self.linger_ms)
            .field("properties", &shown)
            .finish()
    }
}

impl ProducerConfig {
    pub fn validate(&self, prefix: &str) -> Result<ValidatedProducer, ConfigError> {
        if let Some(linger) = self.linger_ms
            && linger > MAX_LINGER_MS
        {
            return Err(ConfigError::new(
                format!("{prefix}.linger_ms"),
                format!("must be at most {MAX_LINGER_MS}, not {linger}"),
            ));
        }
        for (name, value) in &self.properties {
            let key = format!("{prefix}.properties.{name}");
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
            if !valid_name {
                return Err(ConfigError::new(key, "is not a librdkafka property name"));
            }
            if value.trim().is_empty() {
                return Err(ConfigError::new(key, "must not be empty"));
            }
            let refusal = match name.as_str() {
                "linger.ms" | "queue.buffering.max.ms" => Some(format!(
                    "set `{prefix}.linger_ms` instead, so there is one place for it"
                )),
                "bootstrap.servers" | "metadata.broker.list" => {
                    Some("the cluster is set in `[kafka]`".to_owned())
                }
                "acks" | "request.required.acks" if !matches!(value.trim(), "all" | "-1") => {
                    Some(format!(
                        "must be `all`: a 200 from the bridge promises every record was \
                         acknowledged by all in-sync replicas, not `{value}`"
                    ))
                }
                "transactional.id" => Some(
                    "the bridge's producer is shared by every request and cannot be \
                     transactional"
                        .to_owned(),
                ),
                _ => None,
            };
            if let Some(reason) = refusal {
                return Err(ConfigError::new(key, reason));
            }
        }
        Ok(ValidatedProducer {
            linger_ms: self.linger_ms,
            // `${env:...}` / `${file:...}` references become the values the producer gets.
            properties: broker_core::secrets::resolve_map(
                &format!("{prefix}.properties."),
                &self.properties,
            )?,
        })
    }
}

impl ValidatedProducer {
    /// The librdkafka config of the bridge's producer (see the module header for the
    /// precedence).
    pub fn client_config(&self, clients: &KafkaClients) -> ClientConfig {
        let mut config = clients.producer_config();
        let cluster_sets_linger = clients.cluster().properties().contains_key("linger.ms");
        match self.linger_ms {
            Some(linger) => {
                config.set("linger.ms", linger.to_string());
            }
            None if !cluster_sets_linger => {
                config.set("linger.ms", DEFAULT_LINGER_MS.to_string());
            }
            None => {}
        }
        for (name, value) in &self.properties {
            config.set(name, value.trim());
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use broker_core::ClusterConfig;

    use super::*;

    fn validate(text: &str) -> Result<ValidatedProducer, ConfigError> {
        toml::from_str::<ProducerConfig>(text)
            .unwrap()
            .validate("bridge.producer")
    }

    fn clients(properties: &[(&str, &str)]) -> KafkaClients {
        let mut cluster = ClusterConfig::new("127.0.0.1:9092");
        for (name, value) in properties {
            cluster
                .properties
                .insert((*name).to_owned(), (*value).to_owned());
        }
        KafkaClients::new(cluster.validate("kafka").unwrap())
    }

    #[test]
    fn bridge_linger_defaults_over_broker_core_but_not_over_the_user() {
        let default = validate("").unwrap();
        let config = default.client_config(&clients(&[]));
        assert_eq!(config.get("linger.ms"), Some("1"));
        assert_eq!(config.get("acks"), Some("all"));
        let config = default.client_config(&clients(&[("linger.ms", "20")]));
        assert_eq!(config.get("linger.ms"), Some("20"));
        let explicit = validate("linger_ms = 0").unwrap();
        let config = explicit.client_config(&clients(&[("linger.ms", "20")]));
        assert_eq!(config.get("linger.ms"), Some("0"));
    }

    #[test]
    fn bridge_properties_override_the_cluster() {
        let validated = validate(
            r#"[properties]
            "batch.size" = "200000"
            "compression.type" = "zstd""#,
        )
        .unwrap();
        let config = validated.client_config(&clients(&[("compression.type", "gzip")]));
        assert_eq!(config.get("compression.type"), Some("zstd"));
        assert_eq!(config.get("batch.size"), Some("200000"));
    }

    #[test]
    fn validate_rejects_unknown_key() {
        let error = toml::from_str::<ProducerConfig>("linger = 1").unwrap_err();
        assert!(error.to_string().contains("linger"), "{error}");
    }

    #[test]
    fn validate_rejects_linger_past_librdkafka_maximum() {
        let error = validate("linger_ms = 900001").unwrap_err();
        assert_eq!(error.key, "bridge.producer.linger_ms");
    }

    #[test]
    fn validate_rejects_linger_in_properties() {
        let error = validate("properties = { \"linger.ms\" = \"0\" }").unwrap_err();
        assert_eq!(error.key, "bridge.producer.properties.linger.ms");
        assert!(error.to_string().contains("linger_ms"), "{error}");
    }

    #[test]
    fn validate_rejects_weaker_acks() {
        let error = validate("properties = { acks = \"1\" }").unwrap_err();
        assert_eq!(error.key, "bridge.producer.properties.acks");
        assert!(validate("properties = { acks = \"all\" }").is_ok());
    }

    #[test]
    fn validate_rejects_bootstrap_servers() {
        let error = validate("properties = { \"bootstrap.servers\" = \"x:9092\" }").unwrap_err();
        assert_eq!(error.key, "bridge.producer.properties.bootstrap.servers");
    }

    #[test]
    fn validate_rejects_transactional_id() {
        let error = validate("properties = { \"transactional.id\" = \"t\" }").unwrap_err();
        assert_eq!(error.key, "bridge.producer.properties.transactional.id");
    }

    #[test]
    fn validate_rejects_empty_value_and_bad_name() {
        let error = validate("properties = { \"batch.size\" = \" \" }").unwrap_err();
        assert_eq!(error.key, "bridge.producer.properties.batch.size");
        let error = validate("properties = { \"batch size\" = \"1\" }").unwrap_err();
        assert_eq!(error.key, "bridge.producer.properties.batch size");
    }
}
