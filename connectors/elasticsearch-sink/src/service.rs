//! The HTTP side: one reqwest client over every `connection.url`, round robin with failover
//! (a host that fails at the transport level is skipped for the rest of the call), basic
//! auth and TLS.
//!
//! Compatibility: no `_type` anywhere (Elasticsearch 7 and 8, OpenSearch 1–3); bodies are sent
//! as `application/json` / `application/x-ndjson`, which Elasticsearch 8 accepts without the
//! `compatible-with` media types; the `X-Elastic-Product` header is neither required nor
//! checked. The server flavour and version come from `GET /`; Elasticsearch 6 and older,
//! which need `_type`, are refused.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use connect_api::ConnectError;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::config::{ConnectionConfig, IdleConnections, PROXY_HOST};
use crate::request_builder::BulkBody;
use crate::retry::{BulkResponse, classify_status};

/// A request body with its media type.
#[derive(Debug, Clone)]
struct RequestBody {
    bytes: Bytes,
    content_type: &'static str,
    gzipped: bool,
}

/// A failed call, sorted by whether trying again can help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot reach {host}: {message}")]
    Transport { host: String, message: String },
    #[error("{host} answered {status}: {body}")]
    Status {
        host: String,
        status: u16,
        body: String,
    },
    #[error("{host} sent an unreadable answer: {message}")]
    Decode { host: String, message: String },
}

impl ServiceError {
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Decode { .. } => true,
            Self::Status { status, .. } => classify_status(*status),
        }
    }

    pub fn into_connect_error(self) -> ConnectError {
        if self.is_retriable() {
            ConnectError::retriable(self.to_string())
        } else {
            ConnectError::definite(self.to_string())
        }
    }
}

/// Which server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Elasticsearch,
    OpenSearch,
}

/// What `GET /` says about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub flavour: Flavour,
    pub version: String,
    pub major: u32,
}

impl ServerInfo {
    /// Reads `GET /`'s body; refuses servers that need mapping types.
    pub fn from_root(body: &Value) -> Result<Self, String> {
        let version = body["version"]["number"]
            .as_str()
            .ok_or_else(|| "GET / has no version.number; is this Elasticsearch?".to_owned())?
            .to_owned();
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| format!("cannot read the version `{version}`"))?;
        let flavour = if body["version"]["distribution"] == "opensearch" {
            Flavour::OpenSearch
        } else {
            Flavour::Elasticsearch
        };
        if flavour == Flavour::Elasticsearch && major < 7 {
            return Err(format!(
                "Elasticsearch {version} is not supported: it needs mapping types; use 7 or later, or OpenSearch"
            ));
        }
        Ok(Self {
            flavour,
            version,
            major,
        })
    }
}

/// The client every task of the connector uses.
#[derive(Debug)]
pub struct ElasticsearchService {
    http: reqwest::Client,
    hosts: Vec<Url>,
    next: AtomicUsize,
    credentials: Option<(String, String)>,
    /// `log.sensitive.data`: whether error bodies, which may quote documents, are kept.
    log_sensitive_data: bool,
}

impl ElasticsearchService {
    pub fn new(config: &ConnectionConfig, log_sensitive_data: bool) -> Result<Self, ConnectError> {
        let mut builder = reqwest::Client::builder().connect_timeout(config.connect_timeout);
        builder = match config.client.idle_connections {
            IdleConnections::KeptForever => builder.pool_idle_timeout(None),
            IdleConnections::Closed => builder.pool_max_idle_per_host(0),
            IdleConnections::KeptFor(idle) => builder.pool_idle_timeout(idle),
        };
        if let Some(timeout) = config.read_timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(proxy) = &config.client.proxy {
            let mut route = reqwest::Proxy::all(proxy.url.clone()).map_err(|error| {
                ConnectError::config(PROXY_HOST, format!("cannot use the proxy: {error}"))
            })?;
            if let Some(credentials) = &proxy.credentials {
                route = route.basic_auth(&credentials.username, &credentials.password);
            }
            builder = builder.proxy(route);
        }
        if let Some(path) = &config.tls.truststore_pem {
            let pem = std::fs::read(path).map_err(|error| {
                ConnectError::config(
                    crate::config::TRUSTSTORE_LOCATION,
                    format!("cannot read {path}: {error}"),
                )
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
                ConnectError::config(
                    crate::config::TRUSTSTORE_LOCATION,
                    format!("{path} is not a PEM certificate bundle: {error}"),
                )
            })?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some(path) = &config.tls.keystore_pem {
            let pem = std::fs::read(path).map_err(|error| {
                ConnectError::config(
                    crate::config::KEYSTORE_LOCATION,
                    format!("cannot read {path}: {error}"),
                )
            })?;
            let identity = reqwest::Identity::from_pem(&pem).map_err(|error| {
                ConnectError::config(
                    crate::config::KEYSTORE_LOCATION,
                    format!("{path} is not a PEM certificate chain with a private key: {error}"),
                )
            })?;
            builder = builder.identity(identity);
        }
        if !config.tls.verify_hostname {
            builder = builder.danger_accept_invalid_hostnames(true);
        }
        let http = builder.build().map_err(|error| {
            ConnectError::definite(format!("cannot build the HTTP client: {error}"))
        })?;
        Ok(Self {
            http,
            hosts: config.urls.clone(),
            next: AtomicUsize::new(0),
            credentials: config
                .credentials
                .as_ref()
                .map(|c| (c.username.clone(), c.password.clone())),
            log_sensitive_data,
        })
    }

    /// Sends one request, starting at the next host in turn and moving on to the following
    /// ones when a host cannot be reached. Returns the host, status and body of the first
    /// answer.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<RequestBody>,
    ) -> Result<(String, StatusCode, Bytes), ServiceError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last = None;
        for step in 0..self.hosts.len() {
            let host = &self.hosts[(start + step) % self.hosts.len()];
            let url = match host.join(path) {
                Ok(url) => url,
                Err(error) => {
                    return Err(ServiceError::Transport {
                        host: host.to_string(),
                        message: format!("bad path {path}: {error}"),
                    });
                }
            };
            let mut request = self.http.request(method.clone(), url);
            if let Some((username, password)) = &self.credentials {
                request = request.basic_auth(username, Some(password));
            }
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, HeaderValue::from_static(body.content_type))
                    .body(body.bytes.clone());
                if body.gzipped {
                    request = request.header(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                }
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    last = Some(ServiceError::Transport {
                        host: host_name(host),
                        message: error_chain(&error),
                    });
                    continue;
                }
            };
            let status = response.status();
            return match response.bytes().await {
                Ok(bytes) => Ok((host_name(host), status, bytes)),
                Err(error) => Err(ServiceError::Transport {
                    host: host_name(host),
                    message: error_chain(&error),
                }),
            };
        }
        Err(last.unwrap_or_else(|| ServiceError::Transport {
            host: String::new(),
            message: "no connection.url configured".to_owned(),
        }))
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), ServiceError> {
        let body = body.map(|b| RequestBody {
            bytes: Bytes::from(b.to_string()),
            content_type: "application/json",
            gzipped: false,
        });
        let (_, status, bytes) = self.call(method, path, body).await?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, value))
    }

    /// `GET /`.
    pub async fn server_info(&self) -> Result<Result<ServerInfo, String>, ServiceError> {
        let (status, body) = self.json(Method::GET, "/", None).await?;
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        Ok(ServerInfo::from_root(&body))
    }

    /// `POST /_bulk` with an NDJSON body, gzipped or not.
    pub async fn bulk(&self, body: &BulkBody) -> Result<BulkResponse, ServiceError> {
        let size = body.bytes.len();
        let body = RequestBody {
            bytes: body.bytes.clone(),
            content_type: "application/x-ndjson",
            gzipped: body.gzipped,
        };
        let (host, status, bytes) = self.call(Method::POST, "/_bulk", Some(body)).await?;
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The answer has no body; say which limit the request hit and what to change.
            return Err(ServiceError::Status {
                host,
                status: status.as_u16(),
                body: format!(
                    "the {size}-byte request is larger than the cluster's http.max_content_length; \
                     lower bulk.size.bytes below it, or raise it for records this large"
                ),
            });
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(ServiceError::Status {
                host,
                status: status.as_u16(),
                body: if self.log_sensitive_data {
                    truncate(&text)
                } else {
                    error_type_only(&text)
                },
            });
        }
        serde_json::from_slice(&bytes).map_err(|error| ServiceError::Decode {
            host,
            message: error.to_string(),
        })
    }

    /// Creates `index` (with `mappings` when given) unless it exists.
    pub async fn ensure_index(
        &self,
        index: &str,
        mappings: Option<Value>,
    ) -> Result<(), ServiceError> {
        let path = format!("/{}", encode_path(index));
        let (_, status, _) = self.call(Method::HEAD, &path, None).await?;
        if status.is_success() {
            return Ok(());
        }
        let body = match mappings {
            Some(mappings) => json!({"mappings": mappings}),
            None => json!({}),
        };
        let (status, answer) = self.json(Method::PUT, &path, Some(body)).await?;
        if status.is_success() || already_exists(&answer) {
            return Ok(());
        }
        Err(status_error(status, &answer))
    }

    /// Creates the data stream `name` unless it exists, with an index template of its own
    /// when no template matches it (OpenSearch has none for `logs-*-*`).
    pub async fn ensure_data_stream(&self, name: &str) -> Result<(), ServiceError> {
        let path = format!("/_data_stream/{}", encode_path(name));
        let (status, _) = self.json(Method::GET, &path, None).await?;
        if status.is_success() {
            return Ok(());
        }
        let (status, answer) = self.json(Method::PUT, &path, None).await?;
        if status.is_success() || already_exists(&answer) {
            return Ok(());
        }
        let template = json!({
            "index_patterns": [name],
            "data_stream": {},
            "priority": 200,
            "_meta": {"created_by": "kafka-gateway elasticsearch sink"}
        });
        let template_path = format!(
            "/_index_template/{}",
            encode_path(&format!("kafka-connect-{name}"))
        );
        let (status, answer) = self
            .json(Method::PUT, &template_path, Some(template))
            .await?;
        if !status.is_success() {
            return Err(status_error(status, &answer));
        }
        let (status, answer) = self.json(Method::PUT, &path, None).await?;
        if status.is_success() || already_exists(&answer) {
            return Ok(());
        }
        Err(status_error(status, &answer))
    }
}

fn already_exists(answer: &Value) -> bool {
    let kind = answer["error"]["type"].as_str().unwrap_or("");
    kind == "resource_already_exists_exception"
}

fn status_error(status: StatusCode, body: &Value) -> ServiceError {
    ServiceError::Status {
        host: String::new(),
        status: status.as_u16(),
        body: truncate(&body.to_string()),
    }
}

/// A refused bulk body's answer without its reason, which may quote the documents
/// (`log.sensitive.data=false`).
fn error_type_only(text: &str) -> String {
    let kind = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|body| body["error"]["type"].as_str().map(str::to_owned));
    match kind {
        Some(kind) => format!("{kind} (details hidden; set log.sensitive.data=true to see them)"),
        None => "details hidden; set log.sensitive.data=true to see them".to_owned(),
    }
}

fn truncate(text: &str) -> String {
    let mut cut = text.len().min(500);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

fn host_name(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Index names are lower-case and free of `/`, but may hold `+`, `#`, or non-ASCII letters.
fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_opensearch_and_elasticsearch_roots() {
        let opensearch = ServerInfo::from_root(
            &json!({"version": {"distribution": "opensearch", "number": "2.19.6"}}),
        )
        .unwrap();
        assert_eq!(
            (opensearch.flavour, opensearch.major),
            (Flavour::OpenSearch, 2)
        );
        let elastic = ServerInfo::from_root(&json!({"version": {"number": "8.15.0", "build_flavor": "default"}, "tagline": "You Know, for Search"})).unwrap();
        assert_eq!(
            (elastic.flavour, elastic.major),
            (Flavour::Elasticsearch, 8)
        );
    }

    #[test]
    fn refuses_elasticsearch_6() {
        assert!(ServerInfo::from_root(&json!({"version": {"number": "6.8.0"}})).is_err());
    }

    #[test]
    fn refused_bulk_answers_keep_only_the_error_type() {
        let answer = r#"{"error":{"type":"parse_exception","reason":"bad line {\"card\":\"4111\"}"},"status":400}"#;
        let hidden = error_type_only(answer);
        assert!(
            hidden.starts_with("parse_exception") && !hidden.contains("4111"),
            "{hidden}"
        );
        assert!(!error_type_only("not json 4111").contains("4111"));
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode_path("a.b-c_d"), "a.b-c_d");
        assert_eq!(encode_path("t+0+1"), "t%2B0%2B1");
    }
}
