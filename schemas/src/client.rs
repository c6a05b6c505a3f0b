//! A client of a Confluent-compatible Schema Registry: ours (the built-in service, over
//! HTTP like any other) or an external one. It keeps the caches Confluent's serializers
//! keep, so a serializer never asks the registry twice for the same id, subject/schema
//! pair or exact version:
//!
//! - id → schema (`GET /schemas/ids/{id}`, references resolved through their subjects),
//! - (subject, schema) → id for registration (`POST /subjects/{s}/versions`) and lookup
//!   (`POST /subjects/{s}`),
//! - (subject, version) → schema for exact versions; `latest` is asked every time, as
//!   Confluent does without `latest.cache.ttl.sec`.
//!
//! Every request and cache hit is counted in `kafka_gateway_schema_registry_client_*`.
//! Errors are sorted by what the caller must do ([`ClientError::is_retriable`]): a registry
//! that is down or answers 5xx is retried by the caller (a Connect task backs off; the
//! bridge answers 5xx); a 4xx is the caller's input.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use broker_core::telemetry::MetricsRegistry;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::format::{ResolvedReference, SchemaType};

/// Confluent's `schemas.cache.config` default.
pub const DEFAULT_CACHE_CAPACITY: usize = 1000;
/// Longest wait for one answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// References deeper than this are a cycle or an abuse, not a schema.
const MAX_REFERENCE_DEPTH: usize = 32;

/// Where the registry is and how to reach it, in Confluent's terms.
#[derive(Debug, Clone)]
pub struct RegistryClientConfig {
    /// `schema.registry.url`: one or more base URLs, tried in order on connection errors.
    pub urls: Vec<Url>,
    /// `basic.auth.user.info` (`user:password`), already resolved from its source.
    pub basic_auth: Option<(String, String)>,
    /// `schemas.cache.config`: entries kept per cache.
    pub cache_capacity: usize,
    pub timeout: Duration,
    /// The `client` label of the metrics (`bridge`, `connect/<connector>` …).
    pub metrics_label: String,
}

impl RegistryClientConfig {
    /// Parses a comma-separated `schema.registry.url`; the error names the bad URL.
    pub fn from_urls(urls: &str, metrics_label: impl Into<String>) -> Result<Self, String> {
        let urls = urls
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| {
                let mut parsed =
                    Url::parse(url).map_err(|error| format!("invalid URL '{url}': {error}"))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(format!(
                        "invalid URL '{url}': only http and https are supported"
                    ));
                }
                // Paths are appended to the base: make it a directory.
                if !parsed.path().ends_with('/') {
                    let path = format!("{}/", parsed.path());
                    parsed.set_path(&path);
                }
                Ok(parsed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if urls.is_empty() {
            return Err("no URL given".to_owned());
        }
        Ok(Self {
            urls,
            basic_auth: None,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            timeout: DEFAULT_TIMEOUT,
            metrics_label: metrics_label.into(),
        })
    }
}

/// A reference of a schema to another, as the registry answers it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SchemaReference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A schema as the registry stores it, with its references resolved to their texts
/// (transitively, dependencies first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredSchema {
    pub id: i32,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<SchemaReference>,
    pub resolved_references: Vec<ResolvedReference>,
    /// Set when the schema was read by subject and version.
    pub subject: Option<String>,
    pub version: Option<i32>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The registry could not be reached, timed out or answered 5xx: try again later.
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
    /// The registry answered 4xx in its own error shape.
    #[error("schema registry answered {status} ({error_code}): {message}")]
    Rejected {
        status: u16,
        error_code: u32,
        message: String,
    },
    /// An answer that is not what the API specifies.
    #[error("schema registry answer not understood: {0}")]
    Protocol(String),
}

impl ClientError {
    /// Whether the same request may succeed later.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// The registry's error code for a 4xx (40401, 40403, 42201, 409 …).
    pub fn error_code(&self) -> Option<u32> {
        match self {
            Self::Rejected { error_code, .. } => Some(*error_code),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct SchemaRequest<'a> {
    schema: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_type: Option<&'static str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    references: &'a [SchemaReference],
}

impl<'a> SchemaRequest<'a> {
    fn new(schema_type: SchemaType, schema: &'a str, references: &'a [SchemaReference]) -> Self {
        Self {
            schema,
            schema_type: schema_type.stored_str(),
            references,
        }
    }
}

fn normalize_query(normalize: bool) -> &'static [(&'static str, &'static str)] {
    if normalize {
        &[("normalize", "true")]
    } else {
        &[]
    }
}

fn submission_key(
    subject: &str,
    schema_type: SchemaType,
    schema: &str,
    references: &[SchemaReference],
    normalize: bool,
) -> RegisterKey {
    (
        subject.to_owned(),
        schema_type,
        schema.to_owned(),
        references.to_vec(),
        normalize,
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaAnswer {
    schema: String,
    #[serde(default)]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<SchemaReference>,
    #[serde(default)]
    id: Option<i32>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    version: Option<i32>,
}

#[derive(Debug, Deserialize)]
struct IdAnswer {
    id: i32,
}

#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    error_code: u32,
    message: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabels {
    client: String,
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Default)]
struct ClientFamilies {
    requests: Family<ClientLabels, Counter>,
    cache_hits: Family<ClientLabels, Counter>,
}

impl ClientFamilies {
    fn of(registry: &MetricsRegistry) -> Self {
        registry.register_once("kafka_gateway_schema_registry_client", |r| {
            let families = Self::default();
            r.register(
                "kafka_gateway_schema_registry_client_requests",
                "Requests a schema registry client sent, by client, operation and outcome",
                families.requests.clone(),
            );
            r.register(
                "kafka_gateway_schema_registry_client_cache_hits",
                "Answers a schema registry client took from its cache instead of asking",
                families.cache_hits.clone(),
            );
            families
        })
    }
}

type RegisterKey = (String, SchemaType, String, Vec<SchemaReference>, bool);

#[derive(Debug, Default)]
struct Caches {
    by_id: HashMap<i32, Arc<RegisteredSchema>>,
    registered: HashMap<RegisterKey, i32>,
    looked_up: HashMap<RegisterKey, Arc<RegisteredSchema>>,
    versions: HashMap<(String, i32), Arc<RegisteredSchema>>,
}

/// Inserts into a bounded cache: when full, an arbitrary entry makes room (the caches
/// hold far fewer live schemas than their bound in practice; this only caps memory).
fn bounded_insert<K: std::hash::Hash + Eq + Clone, V>(
    map: &mut HashMap<K, V>,
    capacity: usize,
    key: K,
    value: V,
) {
    if map.len() >= capacity.max(1)
        && !map.contains_key(&key)
        && let Some(evicted) = map.keys().next().cloned()
    {
        map.remove(&evicted);
    }
    map.insert(key, value);
}

/// A registry client; cheap to clone (the caches are shared).
#[derive(Debug, Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: RegistryClientConfig,
    http: reqwest::Client,
    caches: Mutex<Caches>,
    families: Option<ClientFamilies>,
}

impl RegistryClient {
    pub fn new(config: RegistryClientConfig, metrics: Option<&MetricsRegistry>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                config,
                http,
                caches: Mutex::default(),
                families: metrics.map(ClientFamilies::of),
            }),
        }
    }

    pub fn config(&self) -> &RegistryClientConfig {
        &self.inner.config
    }

    /// The schema with `id` (`GET /schemas/ids/{id}`), references resolved.
    pub async fn schema_by_id(&self, id: i32) -> Result<Arc<RegisteredSchema>, ClientError> {
        if let Some(hit) = self.caches().by_id.get(&id).cloned() {
            self.count_hit("schema_by_id");
            return Ok(hit);
        }
        let answer: SchemaAnswer = self
            .call(
                Method::GET,
                "schema_by_id",
                &["schemas", "ids", &id.to_string()],
                &[],
                None::<&()>,
            )
            .await?;
        let schema = Arc::new(self.resolve(answer, Some(id), 0).await?);
        Ok(self.remember(|caches| &mut caches.by_id, id, schema))
    }

    /// Registers `schema` under `subject` (or finds it registered) and answers its id.
    pub async fn register(
        &self,
        subject: &str,
        schema_type: SchemaType,
        schema: &str,
        references: &[SchemaReference],
        normalize: bool,
    ) -> Result<i32, ClientError> {
        let key = submission_key(subject, schema_type, schema, references, normalize);
        if let Some(id) = self.caches().registered.get(&key).copied() {
            self.count_hit("register");
            return Ok(id);
        }
        let body = SchemaRequest::new(schema_type, schema, references);
        let query = normalize_query(normalize);
        let answer: IdAnswer = self
            .call(
                Method::POST,
                "register",
                &["subjects", subject, "versions"],
                query,
                Some(&body),
            )
            .await?;
        Ok(self.remember(|caches| &mut caches.registered, key, answer.id))
    }

    /// Finds `schema` among `subject`'s versions (`POST /subjects/{s}`) without registering.
    pub async fn lookup(
        &self,
        subject: &str,
        schema_type: SchemaType,
        schema: &str,
        references: &[SchemaReference],
        normalize: bool,
    ) -> Result<Arc<RegisteredSchema>, ClientError> {
        let key = submission_key(subject, schema_type, schema, references, normalize);
        if let Some(hit) = self.caches().looked_up.get(&key).cloned() {
            self.count_hit("lookup");
            return Ok(hit);
        }
        let body = SchemaRequest::new(schema_type, schema, references);
        let query = normalize_query(normalize);
        let mut answer: SchemaAnswer = self
            .call(
                Method::POST,
                "lookup",
                &["subjects", subject],
                query,
                Some(&body),
            )
            .await?;
        // The lookup answer omits the type for AVRO like every other answer.
        answer
            .schema_type
            .get_or_insert_with(|| schema_type.as_str().to_owned());
        let id = answer.id;
        let found = Arc::new(self.resolve(answer, id, 0).await?);
        Ok(self.remember(|caches| &mut caches.looked_up, key, found))
    }

    /// `subject`'s `version` (a number), cached; see [`Self::latest`] for the newest.
    pub async fn version(
        &self,
        subject: &str,
        version: i32,
    ) -> Result<Arc<RegisteredSchema>, ClientError> {
        let key = (subject.to_owned(), version);
        if let Some(hit) = self.caches().versions.get(&key).cloned() {
            self.count_hit("version");
            return Ok(hit);
        }
        let found = Arc::new(self.fetch_version(subject, &version.to_string(), 0).await?);
        Ok(self.remember(|caches| &mut caches.versions, key, found))
    }

    /// `subject`'s newest version, asked every time.
    pub async fn latest(&self, subject: &str) -> Result<Arc<RegisteredSchema>, ClientError> {
        Ok(Arc::new(self.fetch_version(subject, "latest", 0).await?))
    }

    async fn fetch_version(
        &self,
        subject: &str,
        version: &str,
        depth: usize,
    ) -> Result<RegisteredSchema, ClientError> {
        let answer: SchemaAnswer = self
            .call(
                Method::GET,
                "version",
                &["subjects", subject, "versions", version],
                &[],
                None::<&()>,
            )
            .await?;
        let id = answer.id;
        self.resolve(answer, id, depth).await
    }

    /// Turns an answer into a schema, fetching what it references (dependencies first).
    async fn resolve(
        &self,
        answer: SchemaAnswer,
        id: Option<i32>,
        depth: usize,
    ) -> Result<RegisteredSchema, ClientError> {
        let schema_type = match answer.schema_type.as_deref() {
            None => SchemaType::Avro,
            Some(text) => SchemaType::parse(text)
                .ok_or_else(|| ClientError::Protocol(format!("unknown schemaType '{text}'")))?,
        };
        let mut resolved_references = Vec::new();
        for reference in &answer.references {
            if depth >= MAX_REFERENCE_DEPTH {
                return Err(ClientError::Protocol(format!(
                    "references nested deeper than {MAX_REFERENCE_DEPTH}"
                )));
            }
            let referenced = Box::pin(self.fetch_version(
                &reference.subject,
                &reference.version.to_string(),
                depth + 1,
            ))
            .await?;
            for transitive in referenced.resolved_references {
                if !resolved_references.contains(&transitive) {
                    resolved_references.push(transitive);
                }
            }
            let direct = ResolvedReference {
                name: reference.name.clone(),
                schema: referenced.schema,
            };
            if !resolved_references.contains(&direct) {
                resolved_references.push(direct);
            }
        }
        Ok(RegisteredSchema {
            id: id.unwrap_or(-1),
            schema_type,
            schema: answer.schema,
            references: answer.references,
            resolved_references,
            subject: answer.subject,
            version: answer.version,
        })
    }

    /// One request, tried against each URL in turn while the failure is a connection one.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        operation: &'static str,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let mut last_error = ClientError::Unavailable("no registry URL".to_owned());
        for base in &self.inner.config.urls {
            let url = endpoint(base, segments, query);
            let mut request = self.inner.http.request(method.clone(), url).header(
                reqwest::header::ACCEPT,
                "application/vnd.schemaregistry.v1+json",
            );
            if let Some((user, password)) = &self.inner.config.basic_auth {
                request = request.basic_auth(user, Some(password));
            }
            if let Some(body) = body {
                request = request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/vnd.schemaregistry.v1+json",
                    )
                    .json(body);
            }
            match request.send().await {
                Err(error) => {
                    self.count(operation, "unavailable");
                    last_error = ClientError::Unavailable(error.to_string());
                }
                Ok(response) => {
                    let result = answer(response).await;
                    self.count(operation, outcome(&result));
                    // A 5xx from one instance may be a moving election: try the next URL.
                    match result {
                        Err(error @ ClientError::Unavailable(_)) => last_error = error,
                        other => return other,
                    }
                }
            }
        }
        Err(last_error)
    }

    /// Keeps `value` in the cache `pick` chooses, and answers it.
    fn remember<K: std::hash::Hash + Eq + Clone, V: Clone>(
        &self,
        pick: impl FnOnce(&mut Caches) -> &mut HashMap<K, V>,
        key: K,
        value: V,
    ) -> V {
        let capacity = self.inner.config.cache_capacity;
        bounded_insert(pick(&mut self.caches()), capacity, key, value.clone());
        value
    }

    fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.inner
            .caches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, operation: &'static str, outcome: &'static str) {
        if let Some(families) = &self.inner.families {
            families
                .requests
                .get_or_create(&self.labels(operation, outcome))
                .inc();
        }
    }

    fn count_hit(&self, operation: &'static str) {
        if let Some(families) = &self.inner.families {
            families
                .cache_hits
                .get_or_create(&self.labels(operation, "hit"))
                .inc();
        }
    }

    fn labels(&self, operation: &'static str, outcome: &'static str) -> ClientLabels {
        ClientLabels {
            client: self.inner.config.metrics_label.clone(),
            operation,
            outcome,
        }
    }
}

fn outcome<T>(result: &Result<T, ClientError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(ClientError::Unavailable(_)) => "unavailable",
        Err(ClientError::Rejected { .. }) => "rejected",
        Err(ClientError::Protocol(_)) => "protocol",
    }
}

fn endpoint(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url
}

async fn answer<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, ClientError> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| ClientError::Unavailable(error.to_string()))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|error| {
            ClientError::Protocol(format!("{error} in {}", String::from_utf8_lossy(&bytes)))
        });
    }
    let error = serde_json::from_slice::<ErrorAnswer>(&bytes).unwrap_or_else(|_| ErrorAnswer {
        error_code: u32::from(status.as_u16()),
        message: String::from_utf8_lossy(&bytes).into_owned(),
    });
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        Err(ClientError::Unavailable(format!(
            "{status} ({}): {}",
            error.error_code, error.message
        )))
    } else {
        Err(ClientError::Rejected {
            status: status.as_u16(),
            error_code: error.error_code,
            message: error.message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_a_comma_separated_list_of_bases() {
        let config =
            RegistryClientConfig::from_urls("http://a:8081, https://b/registry", "t").unwrap();
        assert_eq!(config.urls[0].as_str(), "http://a:8081/");
        assert_eq!(config.urls[1].as_str(), "https://b/registry/");
        let url = endpoint(
            &config.urls[1],
            &["subjects", "a/b", "versions"],
            &[("normalize", "true")],
        );
        assert_eq!(
            url.as_str(),
            "https://b/registry/subjects/a%2Fb/versions?normalize=true"
        );
        assert!(
            RegistryClientConfig::from_urls("ftp://x", "t")
                .unwrap_err()
                .contains("ftp://x")
        );
        assert!(RegistryClientConfig::from_urls(" , ", "t").is_err());
    }

    #[test]
    fn the_cache_is_bounded() {
        let mut map = HashMap::new();
        for key in 0..10 {
            bounded_insert(&mut map, 3, key, key);
        }
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&9), Some(&9));
    }
}
