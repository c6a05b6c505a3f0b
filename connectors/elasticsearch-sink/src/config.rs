//! The connector's string map → [`ElasticsearchSinkConfig`], in three stages:
//!
//! 1. [`config_def`]: every key with its type, Confluent's default and a per-key validator,
//!    so `PUT /connector-plugins/{p}/config/validate` names the wrong key;
//! 2. [`ElasticsearchSinkConfig::validate`]: pure checks across keys (no I/O), returning
//!    every issue with the key it belongs to;
//! 3. the typed value, which `service.rs` (HTTP client) and `sink.rs` (the task) build on.
//!
//! Names and defaults follow Confluent's `ElasticsearchSinkConnectorConfig`; where Confluent
//! has a trap (silently ignored version conflicts, see the crate docs) we differ on purpose.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use connect_api::config::split_list;
use connect_api::{ConfigDef, ConfigKey, ConfigMap, ConfigType, ConnectError, Importance, Width};

pub const CONNECTION_URL: &str = "connection.url";
pub const CONNECTION_USERNAME: &str = "connection.username";
pub const CONNECTION_PASSWORD: &str = "connection.password";
pub const CONNECTION_TIMEOUT_MS: &str = "connection.timeout.ms";
pub const READ_TIMEOUT_MS: &str = "read.timeout.ms";
pub const SECURITY_PROTOCOL: &str = "elastic.security.protocol";
pub const TRUSTSTORE_LOCATION: &str = "elastic.https.ssl.truststore.location";
pub const KEYSTORE_LOCATION: &str = "elastic.https.ssl.keystore.location";
pub const ENDPOINT_IDENTIFICATION: &str = "elastic.https.ssl.endpoint.identification.algorithm";
pub const KEY_IGNORE: &str = "key.ignore";
pub const TOPIC_KEY_IGNORE: &str = "topic.key.ignore";
pub const SCHEMA_IGNORE: &str = "schema.ignore";
pub const TOPIC_SCHEMA_IGNORE: &str = "topic.schema.ignore";
pub const WRITE_METHOD: &str = "write.method";
pub const BEHAVIOR_ON_NULL_VALUES: &str = "behavior.on.null.values";
pub const BEHAVIOR_ON_MALFORMED_DOCS: &str = "behavior.on.malformed.documents";
pub const DROP_INVALID_MESSAGE: &str = "drop.invalid.message";
pub const BATCH_SIZE: &str = "batch.size";
pub const BULK_SIZE_BYTES: &str = "bulk.size.bytes";
pub const MAX_BUFFERED_RECORDS: &str = "max.buffered.records";
pub const LINGER_MS: &str = "linger.ms";
pub const FLUSH_TIMEOUT_MS: &str = "flush.timeout.ms";
pub const MAX_IN_FLIGHT_REQUESTS: &str = "max.in.flight.requests";
pub const MAX_RETRIES: &str = "max.retries";
pub const RETRY_BACKOFF_MS: &str = "retry.backoff.ms";
pub const DATA_STREAM_TYPE: &str = "data.stream.type";
pub const DATA_STREAM_DATASET: &str = "data.stream.dataset";
pub const DATA_STREAM_NAMESPACE: &str = "data.stream.namespace";
pub const EXTERNAL_RESOURCE_USAGE: &str = "external.resource.usage";
pub const EXTERNAL_RESOURCE_MAPPING: &str = "topic.to.external.resource.mapping";
pub const DATA_STREAM_TIMESTAMP_FIELD: &str = "data.stream.timestamp.field";
pub const COMPACT_MAP_ENTRIES: &str = "compact.map.entries";
pub const EXTERNAL_VERSION_HEADER: &str = "external.version.header";
pub const LOG_SENSITIVE_DATA: &str = "log.sensitive.data";
pub const FLUSH_SYNCHRONOUSLY: &str = "flush.synchronously";

mod http_client;

pub use http_client::{
    CONNECTION_COMPRESSION, HttpClientOptions, IdleConnections, KERBEROS_KEYTAB_PATH,
    KERBEROS_PRINCIPAL, KEYSTORE_TYPE, MAX_CONNECTION_IDLE_TIME_MS, PROXY_HOST, PROXY_PASSWORD,
    PROXY_PORT, PROXY_USERNAME, ProxyConfig, TRUSTSTORE_TYPE,
};

const CONNECTOR_GROUP: &str = "Connector";
const DATA_CONVERSION_GROUP: &str = "Data Conversion";
const SECURITY_GROUP: &str = "Security";
const DATA_STREAM_GROUP: &str = "Data Stream";

/// One problem with the map, with the key it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: &'static str,
    pub message: String,
}

impl ConfigIssue {
    fn new(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }
}

impl From<ConfigIssue> for ConnectError {
    fn from(issue: ConfigIssue) -> Self {
        ConnectError::config(issue.key, issue.message)
    }
}

fn one_of(value: &str, allowed: &[&str]) -> Result<(), String> {
    let lower = value.trim().to_ascii_lowercase();
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&lower)) {
        Ok(())
    } else {
        Err(format!("String must be one of: {}", allowed.join(", ")))
    }
}

fn at_least(value: &str, minimum: i64) -> Result<(), String> {
    match value.trim().parse::<i64>() {
        Ok(number) if number >= minimum => Ok(()),
        _ => Err(format!("Value must be at least {minimum}")),
    }
}

fn urls_valid(value: &str) -> Result<(), String> {
    let urls = split_list(value);
    if urls.is_empty() {
        return Err("at least one URL is required".to_owned());
    }
    for url in urls {
        parse_url(&url)?;
    }
    Ok(())
}

fn parse_url(text: &str) -> Result<reqwest::Url, String> {
    let url =
        reqwest::Url::parse(text).map_err(|error| format!("`{text}` is not a URL: {error}"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(format!("`{text}` must be an http:// or https:// URL")),
    }
}

/// The keys of this connector, with Confluent's names and defaults.
pub fn config_def() -> ConfigDef {
    let key = |name: &str, config_type: ConfigType, group: &str, order: i32| {
        ConfigKey::new(name, config_type)
            .group(group, order)
            .width(Width::Medium)
    };
    let def = ConfigDef::new()
        .define(key(CONNECTION_URL, ConfigType::List, CONNECTOR_GROUP, 1).importance(Importance::High).width(Width::Long).validator(urls_valid)
            .doc("The comma-separated list of one or more Elasticsearch or OpenSearch URLs, such as ``http://eshost1:9200,http://eshost2:9200``. Requests go round robin and fail over to the next URL."))
        .define(key(CONNECTION_USERNAME, ConfigType::String, CONNECTOR_GROUP, 2).default_value("").doc("The username used to authenticate with Elasticsearch (basic auth)."))
        .define(key(CONNECTION_PASSWORD, ConfigType::Password, CONNECTOR_GROUP, 3).default_value("").doc("The password used to authenticate with Elasticsearch (basic auth)."))
        .define(key(CONNECTION_TIMEOUT_MS, ConfigType::Int, CONNECTOR_GROUP, 4).default_value("1000").validator(|v| at_least(v, 0)).doc("How long to wait in milliseconds when establishing a connection."))
        .define(key(READ_TIMEOUT_MS, ConfigType::Int, CONNECTOR_GROUP, 5).default_value("3000").validator(|v| at_least(v, 0)).doc("How long to wait in milliseconds for a response; 0 = no timeout."))
        .define(key(BATCH_SIZE, ConfigType::Int, CONNECTOR_GROUP, 6).default_value("2000").validator(|v| at_least(v, 1)).doc("The number of records to process as a batch when writing to Elasticsearch."))
        .define(key(BULK_SIZE_BYTES, ConfigType::Long, CONNECTOR_GROUP, 7).default_value("5242880").validator(|v| if v.trim() == "-1" { Ok(()) } else { at_least(v, 1) }).doc("The maximum size (in bytes) of one bulk request; -1 disables the limit."))
        .define(key(MAX_IN_FLIGHT_REQUESTS, ConfigType::Int, CONNECTOR_GROUP, 8).default_value("5").validator(|v| at_least(v, 1)).doc("The maximum number of indexing requests in flight to Elasticsearch at once per task."))
        .define(key(MAX_BUFFERED_RECORDS, ConfigType::Int, CONNECTOR_GROUP, 9).default_value("20000").validator(|v| at_least(v, 1)).doc("The maximum number of records each task buffers before `put` blocks (backpressure)."))
        .define(key(LINGER_MS, ConfigType::Long, CONNECTOR_GROUP, 10).default_value("1").validator(|v| at_least(v, 0)).doc("How long in milliseconds a partial batch waits for more records before it is sent."))
        .define(key(FLUSH_TIMEOUT_MS, ConfigType::Long, CONNECTOR_GROUP, 11).default_value("180000").validator(|v| at_least(v, 1)).doc("How long in milliseconds a flush, or a `put` waiting for buffer space, waits before it reports a retriable timeout (the runtime then retries within errors.retry.timeout)."))
        .define(key(MAX_RETRIES, ConfigType::Int, CONNECTOR_GROUP, 12).default_value("5").validator(|v| at_least(v, 0)).doc("The number of times a failed bulk item or request is retried before a flush reports the failure."))
        .define(key(RETRY_BACKOFF_MS, ConfigType::Long, CONNECTOR_GROUP, 13).default_value("100").validator(|v| at_least(v, 0)).doc("The first wait in milliseconds before a retry; later waits grow exponentially with jitter."))
        .define(key(KEY_IGNORE, ConfigType::Boolean, DATA_CONVERSION_GROUP, 1).default_value("false").importance(Importance::High).doc("Whether to ignore the record key: true uses ``topic+partition+offset`` as the document id, false the key (string, number, or struct/map as compact JSON)."))
        .define(key(SCHEMA_IGNORE, ConfigType::Boolean, DATA_CONVERSION_GROUP, 2).default_value("false").doc("Whether to ignore the value schema: false creates a missing index with a mapping derived from the Connect schema, true leaves mapping to Elasticsearch."))
        .define(key(TOPIC_KEY_IGNORE, ConfigType::List, DATA_CONVERSION_GROUP, 3).default_value("").doc("Topics for which key.ignore is true."))
        .define(key(TOPIC_SCHEMA_IGNORE, ConfigType::List, DATA_CONVERSION_GROUP, 4).default_value("").doc("Topics for which schema.ignore is true."))
        .define(key(DROP_INVALID_MESSAGE, ConfigType::Boolean, DATA_CONVERSION_GROUP, 5).default_value("false").doc("Whether to drop a record that cannot be turned into a document (e.g. no usable key) instead of failing the task."))
        .define(key(BEHAVIOR_ON_NULL_VALUES, ConfigType::String, DATA_CONVERSION_GROUP, 6).default_value("fail").recommended(&["ignore", "delete", "fail"]).validator(|v| one_of(v, &["ignore", "delete", "fail"])).doc("What to do with a record whose value is null (a tombstone): ignore it, delete the document with the record's id, or fail the task."))
        .define(key(BEHAVIOR_ON_MALFORMED_DOCS, ConfigType::String, DATA_CONVERSION_GROUP, 7).default_value("fail").recommended(&["ignore", "warn", "fail"]).validator(|v| one_of(v, &["ignore", "warn", "fail"])).doc("What to do with a document Elasticsearch rejects as malformed (mapping conflicts, parse errors): ignore it, log a warning and skip it, or fail the task. Every one is counted."))
        .define(key(WRITE_METHOD, ConfigType::String, DATA_CONVERSION_GROUP, 8).default_value("insert").recommended(&["insert", "upsert"]).validator(|v| one_of(v, &["insert", "upsert"])).doc("insert replaces the whole document (index action); upsert merges the value into an existing document or creates it (update action with doc_as_upsert)."))
        .define(key(SECURITY_PROTOCOL, ConfigType::String, SECURITY_GROUP, 1).default_value("PLAINTEXT").recommended(&["PLAINTEXT", "SSL"]).validator(|v| one_of(v, &["PLAINTEXT", "SSL"])).doc("PLAINTEXT or SSL; https:// URLs use TLS in either case."))
        .define(key(TRUSTSTORE_LOCATION, ConfigType::String, SECURITY_GROUP, 2).default_value("").doc("A PEM file of CA certificates to trust in addition to the system roots (JKS/PKCS12 stores are not read)."))
        .define(key(KEYSTORE_LOCATION, ConfigType::String, SECURITY_GROUP, 3).default_value("").doc("A PEM file with the client certificate chain and private key for mutual TLS."))
        .define(key(ENDPOINT_IDENTIFICATION, ConfigType::String, SECURITY_GROUP, 4).default_value("https").doc("https verifies the server host name against its certificate; an empty value disables the check."))
        .define(key(DATA_STREAM_TYPE, ConfigType::String, DATA_STREAM_GROUP, 1).default_value("NONE").recommended(&["NONE", "LOGS", "METRICS"]).validator(|v| one_of(v, &["NONE", "LOGS", "METRICS"])).doc("NONE writes to indices; LOGS or METRICS writes to the data stream ``{type}-{dataset}-{topic}`` with op_type create."))
        .define(key(DATA_STREAM_DATASET, ConfigType::String, DATA_STREAM_GROUP, 2).default_value("").doc("The dataset part of the data stream name; required with data.stream.type."))
        .define(key(EXTERNAL_RESOURCE_USAGE, ConfigType::String, DATA_STREAM_GROUP, 4).default_value("DISABLED").recommended(&["DISABLED"]).doc("Confluent's writing to pre-existing indices, data streams or aliases. Only DISABLED is supported by this gateway; any other value is a validation error."))
        .define(key(EXTERNAL_RESOURCE_MAPPING, ConfigType::List, DATA_STREAM_GROUP, 5).default_value("").doc("topic:resource pairs for external.resource.usage; not supported by this gateway (a validation error when set)."))
        .define(key(DATA_STREAM_NAMESPACE, ConfigType::String, DATA_STREAM_GROUP, 3).default_value("${topic}").doc("The namespace part of the data stream name {type}-{dataset}-{namespace}; ${topic} is replaced by the record's topic. At most 100 lower-case characters without \\/*?\"<>| ,#:-."))
        .define(key(DATA_STREAM_TIMESTAMP_FIELD, ConfigType::String, DATA_STREAM_GROUP, 3).default_value("").doc("The value field copied into @timestamp; empty uses the Kafka record timestamp."))
        .define(key(COMPACT_MAP_ENTRIES, ConfigType::Boolean, DATA_CONVERSION_GROUP, 9).default_value("true").doc("How maps with string keys in a schemaful value are written: true as a JSON object ``{\"entryKey\": \"entryValue\"}``, false as an array of ``{\"key\": \"entryKey\", \"value\": \"entryValue\"}`` documents. Maps with other keys are always written as such arrays. No effect with schema.ignore=true."))
        .define(key(EXTERNAL_VERSION_HEADER, ConfigType::String, DATA_CONVERSION_GROUP, 10).default_value("").doc("The record header whose value (a long, as text) becomes the document version with version_type=external. A write whose version is not newer than the indexed one is counted as a version conflict and skipped. Only with write.method=insert and without data streams."))
        .define(key(LOG_SENSITIVE_DATA, ConfigType::Boolean, CONNECTOR_GROUP, 16).default_value("false").doc("Whether logs and task errors may contain document contents (the parts of Elasticsearch error messages that quote field values)."))
        .define(key(FLUSH_SYNCHRONOUSLY, ConfigType::Boolean, CONNECTOR_GROUP, 17).default_value("false").doc("Accepted for compatibility; no effect here: flushes always wait for every record handed to the task, so offsets are exact with routing SMTs too."));
    http_client::define(def)
}

/// `write.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    Insert,
    Upsert,
}

/// `behavior.on.null.values`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullValueBehavior {
    Ignore,
    Delete,
    Fail,
}

/// `behavior.on.malformed.documents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedDocumentBehavior {
    Ignore,
    Warn,
    Fail,
}

/// `data.stream.type`, when not NONE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataStreamType {
    Logs,
    Metrics,
}

impl DataStreamType {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Logs => "logs",
            Self::Metrics => "metrics",
        }
    }
}

/// Writing to data streams instead of indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataStreamConfig {
    pub stream_type: DataStreamType,
    pub dataset: String,
    /// `data.stream.namespace`, with `${topic}` standing for the record's topic.
    pub namespace: String,
    /// `None` = the Kafka record timestamp.
    pub timestamp_field: Option<String>,
}

/// Basic-auth credentials; `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &connect_api::HIDDEN)
            .finish()
    }
}

/// TLS settings for https:// URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    pub truststore_pem: Option<String>,
    pub keystore_pem: Option<String>,
    pub verify_hostname: bool,
}

/// How to reach the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    pub urls: Vec<reqwest::Url>,
    pub credentials: Option<Credentials>,
    pub tls: TlsConfig,
    pub connect_timeout: Duration,
    /// `None` = no timeout (`read.timeout.ms=0`).
    pub read_timeout: Option<Duration>,
    /// Compression, idle connections and the proxy.
    pub client: HttpClientOptions,
}

/// Batching, buffering and retry limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkConfig {
    pub batch_size: usize,
    /// `None` = no byte limit (`-1`).
    pub bulk_size_bytes: Option<usize>,
    pub max_buffered_records: usize,
    pub linger: Duration,
    pub flush_timeout: Duration,
    pub max_in_flight_requests: usize,
    pub max_retries: u32,
    pub retry_backoff: Duration,
}

/// The validated connector config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticsearchSinkConfig {
    pub connection: ConnectionConfig,
    pub key_ignore: bool,
    pub topic_key_ignore: BTreeSet<String>,
    pub schema_ignore: bool,
    pub topic_schema_ignore: BTreeSet<String>,
    pub write_method: WriteMethod,
    pub null_values: NullValueBehavior,
    pub malformed_documents: MalformedDocumentBehavior,
    pub drop_invalid_message: bool,
    pub bulk: BulkConfig,
    pub data_stream: Option<DataStreamConfig>,
    /// `compact.map.entries`.
    pub compact_map_entries: bool,
    /// `external.version.header`, when set.
    pub external_version_header: Option<String>,
    /// `log.sensitive.data`: whether logs may quote document contents.
    pub log_sensitive_data: bool,
    /// `flush.synchronously`: accepted, with no effect (flushes are always exact).
    pub flush_synchronously: bool,
}

/// Raw getters over the map that collect issues instead of failing on the first one.
struct Reader<'a> {
    config: &'a ConfigMap,
    def: ConfigDef,
    issues: Vec<ConfigIssue>,
}

impl Reader<'_> {
    fn raw(&self, key: &str) -> String {
        self.config
            .get(key)
            .cloned()
            .or_else(|| self.def.key(key).and_then(|k| k.default.clone()))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    fn number(&mut self, key: &'static str, minimum: i64) -> i64 {
        let text = self.raw(key);
        match text.parse::<i64>() {
            Ok(number) if number >= minimum => number,
            Ok(_) => {
                self.issues.push(ConfigIssue::new(
                    key,
                    format!("Invalid value {text} for configuration {key}: Value must be at least {minimum}"),
                ));
                minimum
            }
            Err(_) => {
                self.issues.push(ConfigIssue::new(
                    key,
                    format!("Invalid value {text} for configuration {key}: Not a number"),
                ));
                minimum
            }
        }
    }

    fn boolean(&mut self, key: &'static str) -> bool {
        let text = self.raw(key);
        if text.eq_ignore_ascii_case("true") {
            true
        } else if text.eq_ignore_ascii_case("false") {
            false
        } else {
            self.issues.push(ConfigIssue::new(
                key,
                format!("Invalid value {text} for configuration {key}: Expected value to be either true or false"),
            ));
            false
        }
    }

    fn choice<T: Copy>(&mut self, key: &'static str, choices: &[(&str, T)]) -> T {
        let text = self.raw(key);
        if let Some((_, value)) = choices
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&text))
        {
            return *value;
        }
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        self.issues.push(ConfigIssue::new(
            key,
            format!(
                "Invalid value {text} for configuration {key}: String must be one of: {}",
                names.join(", ")
            ),
        ));
        choices[0].1
    }

    fn duration(&mut self, key: &'static str) -> Duration {
        Duration::from_millis(self.number(key, 0).unsigned_abs())
    }

    fn size(&mut self, key: &'static str) -> usize {
        usize::try_from(self.number(key, 1)).unwrap_or(usize::MAX)
    }
}

impl ElasticsearchSinkConfig {
    /// Pure validation of the whole map; every issue names its key.
    pub fn validate(config: &ConfigMap) -> Result<Self, Vec<ConfigIssue>> {
        let mut reader = Reader {
            config,
            def: config_def(),
            issues: Vec::new(),
        };
        let connection = connection(&mut reader);
        let data_stream = data_stream(&mut reader);
        // Silently writing to topic-named indices instead of the mapped resources would put
        // the data somewhere the user did not ask for.
        let usage = reader.raw(EXTERNAL_RESOURCE_USAGE);
        if !usage.trim().is_empty() && !usage.trim().eq_ignore_ascii_case("DISABLED") {
            reader.issues.push(ConfigIssue::new(
                EXTERNAL_RESOURCE_USAGE,
                format!("not supported by this gateway: {usage}; write to topic-named indices or data streams, or route with RegexRouter"),
            ));
        }
        if !reader.raw(EXTERNAL_RESOURCE_MAPPING).trim().is_empty() {
            reader.issues.push(ConfigIssue::new(
                EXTERNAL_RESOURCE_MAPPING,
                "not supported by this gateway (external.resource.usage); route topics to indices with RegexRouter",
            ));
        }
        let write_method = reader.choice(
            WRITE_METHOD,
            &[
                ("insert", WriteMethod::Insert),
                ("upsert", WriteMethod::Upsert),
            ],
        );
        if data_stream.is_some() && write_method == WriteMethod::Upsert {
            reader.issues.push(ConfigIssue::new(
                WRITE_METHOD,
                "upsert cannot be used with data streams, which are append-only; use insert",
            ));
        }
        let null_values = reader.choice(
            BEHAVIOR_ON_NULL_VALUES,
            &[
                ("fail", NullValueBehavior::Fail),
                ("ignore", NullValueBehavior::Ignore),
                ("delete", NullValueBehavior::Delete),
            ],
        );
        if data_stream.is_some() && null_values == NullValueBehavior::Delete {
            reader.issues.push(ConfigIssue::new(
                BEHAVIOR_ON_NULL_VALUES,
                "delete cannot be used with data streams, which are append-only",
            ));
        }
        let malformed_documents = reader.choice(
            BEHAVIOR_ON_MALFORMED_DOCS,
            &[
                ("fail", MalformedDocumentBehavior::Fail),
                ("ignore", MalformedDocumentBehavior::Ignore),
                ("warn", MalformedDocumentBehavior::Warn),
            ],
        );
        let bulk_size_bytes = match reader.raw(BULK_SIZE_BYTES).as_str() {
            "-1" => None,
            _ => Some(reader.size(BULK_SIZE_BYTES)),
        };
        let bulk = BulkConfig {
            batch_size: reader.size(BATCH_SIZE),
            bulk_size_bytes,
            max_buffered_records: reader.size(MAX_BUFFERED_RECORDS),
            linger: reader.duration(LINGER_MS),
            flush_timeout: Duration::from_millis(reader.number(FLUSH_TIMEOUT_MS, 1).unsigned_abs()),
            max_in_flight_requests: reader.size(MAX_IN_FLIGHT_REQUESTS),
            max_retries: u32::try_from(reader.number(MAX_RETRIES, 0)).unwrap_or(u32::MAX),
            retry_backoff: reader.duration(RETRY_BACKOFF_MS),
        };
        let external_version_header =
            Some(reader.raw(EXTERNAL_VERSION_HEADER)).filter(|header| !header.is_empty());
        if external_version_header.is_some() {
            if write_method == WriteMethod::Upsert {
                reader.issues.push(ConfigIssue::new(
                    EXTERNAL_VERSION_HEADER,
                    "external.version.header needs write.method=insert: updates cannot carry an external version",
                ));
            }
            if data_stream.is_some() {
                reader.issues.push(ConfigIssue::new(
                    EXTERNAL_VERSION_HEADER,
                    "external.version.header cannot be used with data streams, which are append-only",
                ));
            }
        }
        let validated = Self {
            connection,
            key_ignore: reader.boolean(KEY_IGNORE),
            topic_key_ignore: split_list(&reader.raw(TOPIC_KEY_IGNORE))
                .into_iter()
                .collect(),
            schema_ignore: reader.boolean(SCHEMA_IGNORE),
            topic_schema_ignore: split_list(&reader.raw(TOPIC_SCHEMA_IGNORE))
                .into_iter()
                .collect(),
            write_method,
            null_values,
            malformed_documents,
            drop_invalid_message: reader.boolean(DROP_INVALID_MESSAGE),
            bulk,
            data_stream,
            compact_map_entries: reader.boolean(COMPACT_MAP_ENTRIES),
            external_version_header,
            log_sensitive_data: reader.boolean(LOG_SENSITIVE_DATA),
            flush_synchronously: reader.boolean(FLUSH_SYNCHRONOUSLY),
        };
        if reader.issues.is_empty() {
            Ok(validated)
        } else {
            Err(reader.issues)
        }
    }

    /// `key.ignore` for `topic`, with `topic.key.ignore`.
    pub fn ignores_key(&self, topic: &str) -> bool {
        self.key_ignore || self.topic_key_ignore.contains(topic)
    }

    /// `schema.ignore` for `topic`, with `topic.schema.ignore`.
    pub fn ignores_schema(&self, topic: &str) -> bool {
        self.schema_ignore || self.topic_schema_ignore.contains(topic)
    }
}

fn connection(reader: &mut Reader<'_>) -> ConnectionConfig {
    let mut urls = Vec::new();
    let listed = split_list(&reader.raw(CONNECTION_URL));
    if listed.is_empty() {
        reader.issues.push(ConfigIssue::new(
            CONNECTION_URL,
            "Missing required configuration \"connection.url\" which has no default value.",
        ));
    }
    for text in listed {
        match parse_url(&text) {
            Ok(url) => urls.push(url),
            Err(message) => reader
                .issues
                .push(ConfigIssue::new(CONNECTION_URL, message)),
        }
    }
    let ssl = reader.choice(SECURITY_PROTOCOL, &[("PLAINTEXT", false), ("SSL", true)]);
    if ssl && urls.iter().any(|u| u.scheme() == "http") {
        reader.issues.push(ConfigIssue::new(
            CONNECTION_URL,
            "elastic.security.protocol=SSL needs https:// URLs",
        ));
    }
    let username = reader.raw(CONNECTION_USERNAME);
    let password = reader
        .config
        .get(CONNECTION_PASSWORD)
        .cloned()
        .unwrap_or_default();
    let credentials = match (username.is_empty(), password.is_empty()) {
        (true, true) => None,
        (false, false) => Some(Credentials { username, password }),
        (true, false) => {
            reader.issues.push(ConfigIssue::new(
                CONNECTION_USERNAME,
                "connection.password is set but connection.username is not; set both or neither",
            ));
            None
        }
        (false, true) => {
            reader.issues.push(ConfigIssue::new(
                CONNECTION_PASSWORD,
                "connection.username is set but connection.password is not; set both or neither",
            ));
            None
        }
    };
    let optional = |text: String| Some(text).filter(|t| !t.is_empty());
    let tls = TlsConfig {
        truststore_pem: optional(reader.raw(TRUSTSTORE_LOCATION)),
        keystore_pem: optional(reader.raw(KEYSTORE_LOCATION)),
        verify_hostname: !reader.raw(ENDPOINT_IDENTIFICATION).is_empty(),
    };
    let read_timeout = reader.duration(READ_TIMEOUT_MS);
    let client = http_client::read(reader);
    ConnectionConfig {
        client,
        urls,
        credentials,
        tls,
        connect_timeout: reader.duration(CONNECTION_TIMEOUT_MS),
        read_timeout: Some(read_timeout).filter(|t| !t.is_zero()),
    }
}

fn data_stream(reader: &mut Reader<'_>) -> Option<DataStreamConfig> {
    let stream_type = reader.choice(
        DATA_STREAM_TYPE,
        &[
            ("NONE", None),
            ("LOGS", Some(DataStreamType::Logs)),
            ("METRICS", Some(DataStreamType::Metrics)),
        ],
    );
    let dataset = reader.raw(DATA_STREAM_DATASET);
    let Some(stream_type) = stream_type else {
        if !dataset.is_empty() {
            reader.issues.push(ConfigIssue::new(
                DATA_STREAM_DATASET,
                "data.stream.dataset needs data.stream.type LOGS or METRICS",
            ));
        }
        return None;
    };
    let valid = !dataset.is_empty()
        && dataset.len() <= 100
        && dataset
            .chars()
            .all(|c| !c.is_ascii_uppercase() && !"\\/*?\"<>| ,#:-".contains(c));
    if !valid {
        reader.issues.push(ConfigIssue::new(
            DATA_STREAM_DATASET,
            "data.stream.dataset must be 1 to 100 lower-case characters without \\/*?\"<>| ,#:-",
        ));
    }
    let namespace = reader.raw(DATA_STREAM_NAMESPACE);
    let namespace = if namespace.trim().is_empty() {
        "${topic}".to_owned()
    } else {
        namespace.trim().to_owned()
    };
    // The fixed parts must be valid on their own; the topic is lower-cased and cleaned
    // when the name is built.
    let fixed = namespace.replace("${topic}", "");
    if fixed.len() + usize::from(namespace.contains("${topic}")) > 100
        || fixed
            .chars()
            .any(|c| c.is_ascii_uppercase() || "\\/*?\"<>| ,#:-".contains(c))
    {
        reader.issues.push(ConfigIssue::new(
            DATA_STREAM_NAMESPACE,
            "data.stream.namespace must be at most 100 lower-case characters without \\/*?\"<>| ,#:- (${topic} stands for the topic)",
        ));
    }
    let field = reader.raw(DATA_STREAM_TIMESTAMP_FIELD);
    Some(DataStreamConfig {
        stream_type,
        dataset,
        namespace,
        timestamp_field: Some(field).filter(|f| !f.is_empty()),
    })
}

#[cfg(test)]
mod tests;
