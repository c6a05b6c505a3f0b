//! CORS for browser clients, with tower-http's `CorsLayer`. Preflight requests are answered
//! by the layer before authentication runs, as browsers send them without credentials.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use broker_core::ConfigError;
use serde::Deserialize;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// `[<service>.http.cors]` as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins like `https://app.example`, or `["*"]` for any.
    pub allowed_origins: Vec<String>,
    #[serde(default = "default_methods")]
    pub allowed_methods: Vec<String>,
    #[serde(default = "default_headers")]
    pub allowed_headers: Vec<String>,
    /// How long browsers may cache a preflight answer.
    #[serde(default = "default_max_age_secs")]
    pub max_age_secs: u64,
}

fn default_methods() -> Vec<String> {
    ["GET", "POST", "PUT", "DELETE"].map(str::to_owned).to_vec()
}
fn default_headers() -> Vec<String> {
    ["authorization", "content-type", "accept"]
        .map(str::to_owned)
        .to_vec()
}
fn default_max_age_secs() -> u64 {
    600
}

impl CorsConfig {
    pub fn validate(&self, prefix: &str) -> Result<CorsLayer, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        if self.allowed_origins.is_empty() {
            return Err(ConfigError::new(
                key("allowed_origins"),
                "name at least one origin, or \"*\"",
            ));
        }
        let origin = if self.allowed_origins.iter().any(|origin| origin == "*") {
            AllowOrigin::any()
        } else {
            let origins = self
                .allowed_origins
                .iter()
                .map(|origin| {
                    let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                        && !origin.ends_with('/');
                    HeaderValue::from_str(origin)
                        .ok()
                        .filter(|_| valid)
                        .ok_or_else(|| {
                            ConfigError::new(
                                key("allowed_origins"),
                                format!("`{origin}` is not an origin like https://app.example"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            AllowOrigin::list(origins)
        };
        let methods = self
            .allowed_methods
            .iter()
            .map(|method| {
                Method::from_bytes(method.trim().to_ascii_uppercase().as_bytes()).map_err(|_| {
                    ConfigError::new(
                        key("allowed_methods"),
                        format!("`{method}` is not an HTTP method"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let headers = self
            .allowed_headers
            .iter()
            .map(|header| {
                HeaderName::from_bytes(header.trim().as_bytes()).map_err(|_| {
                    ConfigError::new(
                        key("allowed_headers"),
                        format!("`{header}` is not a header name"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CorsLayer::new()
            .allow_origin(origin)
            .allow_methods(methods)
            .allow_headers(headers)
            .max_age(Duration::from_secs(self.max_age_secs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str) -> Result<CorsLayer, ConfigError> {
        toml::from_str::<CorsConfig>(text)
            .unwrap()
            .validate("bridge.http.cors")
    }

    #[test]
    fn validate_accepts_origins_and_defaults() {
        assert!(
            validate(r#"allowed_origins = ["https://app.example", "http://localhost:3000"]"#)
                .is_ok()
        );
        assert!(validate(r#"allowed_origins = ["*"]"#).is_ok());
    }

    #[test]
    fn validate_rejects_bad_entries() {
        for (text, key) in [
            ("allowed_origins = []", "bridge.http.cors.allowed_origins"),
            (
                r#"allowed_origins = ["app.example"]"#,
                "bridge.http.cors.allowed_origins",
            ),
            (
                "allowed_origins = [\"*\"]\nallowed_methods = [\"GE T\"]",
                "bridge.http.cors.allowed_methods",
            ),
            (
                "allowed_origins = [\"*\"]\nallowed_headers = [\"bad header\"]",
                "bridge.http.cors.allowed_headers",
            ),
        ] {
            assert_eq!(validate(text).unwrap_err().key, key, "{text}");
        }
    }
}
