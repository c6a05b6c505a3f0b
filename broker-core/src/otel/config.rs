//! `[telemetry.otlp]`: a serde DTO, a pure `validate()` and the validated value.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::ConfigError;

/// How spans are sent to the receiver.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/HTTP with protobuf bodies (`POST {endpoint}/v1/traces`, port 4318 by convention).
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    /// OTLP/gRPC (port 4317). Named so that a config written for other exporters gets a
    /// clear refusal: this build carries no gRPC stack.
    #[serde(rename = "grpc")]
    Grpc,
}

/// `[telemetry.otlp]` in `gateway.toml`; absent or `enabled = false`: no export, and no
/// span is created on the hot paths.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Base URL of the receiver (`OTEL_EXPORTER_OTLP_ENDPOINT`'s meaning): traces go to
    /// `{endpoint}/v1/traces`.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    #[serde(default)]
    pub protocol: OtlpProtocol,
    /// `service.name` of the resource.
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Share of new traces recorded (0.0 to 1.0); a request that arrives with a sampled
    /// `traceparent` is recorded whatever the ratio (parent-based sampling).
    #[serde(default = "default_sampling_ratio")]
    pub sampling_ratio: f64,
    /// Extra HTTP headers on every export (e.g. an API key of a hosted receiver).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Longest time one export request may take.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_true() -> bool {
    true
}
fn default_endpoint() -> String {
    "http://127.0.0.1:4318".to_owned()
}
fn default_service_name() -> String {
    "kafka-gateway".to_owned()
}
fn default_sampling_ratio() -> f64 {
    1.0
}
fn default_timeout_ms() -> u64 {
    10_000
}

/// The validated export settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedOtlp {
    /// `{endpoint}/v1/traces`.
    pub traces_url: String,
    pub service_name: String,
    pub sampling_ratio: f64,
    pub headers: BTreeMap<String, String>,
    pub timeout: Duration,
}

impl OtlpConfig {
    /// `None` when disabled.
    pub fn validate(&self, prefix: &str) -> Result<Option<ValidatedOtlp>, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        if !self.enabled {
            return Ok(None);
        }
        if self.protocol == OtlpProtocol::Grpc {
            return Err(ConfigError::new(
                key("protocol"),
                "grpc export is not built into this gateway; use \"http/protobuf\" (the \
                 receiver's port 4318)",
            ));
        }
        let endpoint = self.endpoint.trim_end_matches('/');
        let scheme_ok = endpoint.starts_with("http://") || endpoint.starts_with("https://");
        if !scheme_ok || endpoint.len() <= "https://".len() {
            return Err(ConfigError::new(
                key("endpoint"),
                format!("`{}` is not an http:// or https:// URL", self.endpoint),
            ));
        }
        if self.service_name.trim().is_empty() {
            return Err(ConfigError::new(key("service_name"), "may not be empty"));
        }
        if !(0.0..=1.0).contains(&self.sampling_ratio) {
            return Err(ConfigError::new(
                key("sampling_ratio"),
                "must be between 0.0 and 1.0",
            ));
        }
        for (name, value) in &self.headers {
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b));
            if !valid_name || value.bytes().any(|b| b == b'\r' || b == b'\n') {
                return Err(ConfigError::new(
                    key(&format!("headers.{name}")),
                    "is not a valid HTTP header name and value",
                ));
            }
        }
        if self.timeout_ms == 0 {
            return Err(ConfigError::new(
                key("timeout_ms"),
                "must be greater than 0",
            ));
        }
        Ok(Some(ValidatedOtlp {
            traces_url: format!("{endpoint}/v1/traces"),
            service_name: self.service_name.clone(),
            sampling_ratio: self.sampling_ratio,
            headers: self.headers.clone(),
            timeout: Duration::from_millis(self.timeout_ms),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> OtlpConfig {
        toml::from_str(text).expect("parses")
    }

    fn rejected_key(text: &str) -> String {
        parse(text).validate("telemetry.otlp").unwrap_err().key
    }

    #[test]
    fn defaults_export_every_trace_over_http_protobuf_to_the_local_receiver() {
        let validated = parse("").validate("telemetry.otlp").unwrap().unwrap();
        assert_eq!(validated.traces_url, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(validated.service_name, "kafka-gateway");
        assert_eq!(validated.sampling_ratio, 1.0);
        assert_eq!(validated.timeout, Duration::from_secs(10));
    }

    #[test]
    fn disabled_validates_to_nothing() {
        assert_eq!(
            parse("enabled = false").validate("telemetry.otlp").unwrap(),
            None
        );
    }

    #[test]
    fn a_typo_names_the_key() {
        let error = toml::from_str::<OtlpConfig>("sampling = 0.5").unwrap_err();
        assert!(error.to_string().contains("sampling"), "{error}");
    }

    #[test]
    fn validate_rejects_grpc() {
        assert_eq!(
            rejected_key("protocol = \"grpc\""),
            "telemetry.otlp.protocol"
        );
    }

    #[test]
    fn validate_rejects_endpoint_without_http_scheme() {
        assert_eq!(
            rejected_key("endpoint = \"collector:4318\""),
            "telemetry.otlp.endpoint"
        );
    }

    #[test]
    fn validate_rejects_empty_service_name() {
        assert_eq!(
            rejected_key("service_name = \" \""),
            "telemetry.otlp.service_name"
        );
    }

    #[test]
    fn validate_rejects_sampling_ratio_out_of_range() {
        assert_eq!(
            rejected_key("sampling_ratio = 1.5"),
            "telemetry.otlp.sampling_ratio"
        );
    }

    #[test]
    fn validate_rejects_bad_header() {
        assert_eq!(
            rejected_key("[headers]\n\"bad header\" = \"x\""),
            "telemetry.otlp.headers.bad header"
        );
    }

    #[test]
    fn validate_rejects_zero_timeout() {
        assert_eq!(rejected_key("timeout_ms = 0"), "telemetry.otlp.timeout_ms");
    }
}
