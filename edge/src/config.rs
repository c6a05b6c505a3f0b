use std::net::SocketAddr;
use std::time::Duration;

use broker_core::ConfigError;
use serde::Deserialize;

use crate::security::ListenerSecurity;
use crate::security::auth::AuthConfig;
use crate::security::cors::CorsConfig;
use crate::security::reload_metrics::ReloadMetrics;
use crate::security::tls::TlsConfig;

/// One HTTP listener, as written in a service's section of `gateway.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Address to bind, e.g. `0.0.0.0:8082`.
    pub listen: Option<String>,
    /// Largest request body accepted; larger ones get 413 before they are read whole.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Requests served at once; further ones are refused at once with 503 rather than
    /// queued without bound.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// Longest time one request may take, long polls included.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// How long in-flight requests get to finish after shutdown was asked for.
    #[serde(default = "default_shutdown_deadline_ms")]
    pub shutdown_deadline_ms: u64,
    /// `[<service>.http.auth]`: authentication and ACLs; unset: every request is served.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// `[<service>.http.tls]`: serve HTTPS; unset: plain HTTP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// `[<service>.http.cors]`: cross-origin rules for browsers; unset: no CORS headers.
    #[serde(default)]
    pub cors: Option<CorsConfig>,
}

fn default_max_body_bytes() -> usize {
    16 * 1024 * 1024
}
fn default_max_concurrent_requests() -> usize {
    1024
}
fn default_request_timeout_ms() -> u64 {
    60_000
}
fn default_shutdown_deadline_ms() -> u64 {
    30_000
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            listen: None,
            max_body_bytes: default_max_body_bytes(),
            max_concurrent_requests: default_max_concurrent_requests(),
            request_timeout_ms: default_request_timeout_ms(),
            shutdown_deadline_ms: default_shutdown_deadline_ms(),
            auth: None,
            tls: None,
            cors: None,
        }
    }
}

/// A listener config that passed validation, with its key, certificate and user files
/// loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedListener {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub max_concurrent_requests: usize,
    pub request_timeout: Duration,
    pub shutdown_deadline: Duration,
    pub security: ListenerSecurity,
}

impl ListenerConfig {
    /// `prefix` names the config section (e.g. `bridge`) so errors name the key as
    /// written; `default_listen` is the port of the product this service replaces.
    ///
    /// Reads the files the `auth` and `tls` sections name, so that a missing or malformed
    /// file stops startup with its key named rather than failing the first request. Once
    /// serving, a file that changes is reloaded, and a broken new version is logged and
    /// ignored instead.
    pub fn validate(
        &self,
        prefix: &str,
        default_listen: SocketAddr,
    ) -> Result<ValidatedListener, ConfigError> {
        let listen = match &self.listen {
            None => default_listen,
            Some(text) => text.trim().parse().map_err(|_| {
                ConfigError::new(
                    format!("{prefix}.listen"),
                    format!("`{text}` is not an address like 0.0.0.0:8082"),
                )
            })?,
        };
        if self.max_body_bytes == 0 {
            return Err(ConfigError::new(
                format!("{prefix}.max_body_bytes"),
                "must be greater than 0",
            ));
        }
        if self.max_concurrent_requests == 0 {
            return Err(ConfigError::new(
                format!("{prefix}.max_concurrent_requests"),
                "must be greater than 0",
            ));
        }
        if self.request_timeout_ms == 0 {
            return Err(ConfigError::new(
                format!("{prefix}.request_timeout_ms"),
                "must be greater than 0",
            ));
        }
        let reloads = ReloadMetrics::default();
        let tls = self
            .tls
            .as_ref()
            .map(|tls| tls.load(&format!("{prefix}.tls"), &reloads))
            .transpose()?
            .map(std::sync::Arc::new);
        let client_certificates = self
            .tls
            .as_ref()
            .is_some_and(|tls| tls.client_ca_file.is_some());
        let auth = self
            .auth
            .as_ref()
            .map(|auth| auth.load(&format!("{prefix}.auth"), client_certificates, &reloads))
            .transpose()?
            .map(std::sync::Arc::new);
        let cors = self
            .cors
            .as_ref()
            .map(|cors| cors.validate(&format!("{prefix}.cors")))
            .transpose()?;
        Ok(ValidatedListener {
            listen,
            max_body_bytes: self.max_body_bytes,
            max_concurrent_requests: self.max_concurrent_requests,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            shutdown_deadline: Duration::from_millis(self.shutdown_deadline_ms),
            security: ListenerSecurity {
                auth,
                tls,
                cors,
                reloads,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_listen() -> SocketAddr {
        SocketAddr::from(([0, 0, 0, 0], 8082))
    }

    #[test]
    fn validate_uses_default_port() {
        let validated = ListenerConfig::default()
            .validate("bridge", default_listen())
            .unwrap();
        assert_eq!(validated.listen.port(), 8082);
        assert_eq!(validated.request_timeout, Duration::from_secs(60));
    }

    #[test]
    fn validate_rejects_bad_listen_address() {
        let config: ListenerConfig = toml::from_str(r#"listen = "localhost""#).unwrap();
        let err = config.validate("bridge", default_listen()).unwrap_err();
        assert_eq!(err.key, "bridge.listen");
    }

    #[test]
    fn validate_rejects_zero_limits() {
        for (field, text) in [
            ("bridge.max_body_bytes", "max_body_bytes = 0"),
            (
                "bridge.max_concurrent_requests",
                "max_concurrent_requests = 0",
            ),
            ("bridge.request_timeout_ms", "request_timeout_ms = 0"),
        ] {
            let config: ListenerConfig = toml::from_str(text).unwrap();
            let err = config.validate("bridge", default_listen()).unwrap_err();
            assert_eq!(err.key, field);
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let err = toml::from_str::<ListenerConfig>("max_body_byte = 1").unwrap_err();
        assert!(err.to_string().contains("max_body_byte"), "{err}");
    }
}
