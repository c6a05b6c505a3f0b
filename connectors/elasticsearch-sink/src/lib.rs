//! Elasticsearch / OpenSearch sink connector with Confluent-compatible configuration
//! (`io.confluent.connect.elasticsearch.ElasticsearchSinkConnector` resolves to it).
//!
//! One file per role, as in Vector's Elasticsearch sink:
//! - [`config`]: the string map → a validated, typed config (Confluent's keys and defaults);
//! - [`encoder`]: a Connect record → one bulk action (index, id, body) or a skip;
//! - [`document`]: schemaful values → Confluent's JSON (map entries per `compact.map.entries`);
//! - [`mapping`]: a Connect schema → an index mapping (`schema.ignore=false`);
//! - [`request_builder`]: actions → NDJSON `_bulk` bodies bounded by count and bytes;
//! - [`service`]: the HTTP client over several hosts (failover, auth, TLS, version check);
//! - [`retry`]: per-item classification of bulk answers, the jittered backoff, and the
//!   retry policy that turns an answer into per-action decisions (pure, no I/O);
//! - [`settle`]: carries those decisions out: counters, logs, DLQ reports;
//! - [`sink`]: the task (bounded buffer, lanes in flight, exact flush) and each lane's
//!   pipeline: batch → request → send → decide → settle → back off;
//! - [`connector`]: the plugin the registry holds;
//! - [`preview`]: the dry run (records → the actions they would become, nothing sent);
//! - [`metrics`]: per-task counters.
//!
//! Where Confluent's connector loses data silently we don't: it indexes with
//! `version_type=external` and the Kafka offset as version, and ignores version conflicts
//! (so a recreated topic's records are dropped). This sink keeps per-id order inside the task
//! instead (see [`sink`]), so no external version is needed, replays overwrite the same ids,
//! and a version conflict is retried, counted and, if it persists, fails the task.
//! Only when the user names an `external.version.header` are versions external: then a
//! conflict means an equal or newer version is indexed, and it is counted and skipped.

pub mod config;
pub mod connector;
pub mod document;
pub mod encoder;
pub mod mapping;
pub mod metrics;
pub mod preview;
pub mod request_builder;
pub mod retry;
pub mod service;
pub mod settle;
pub mod sink;

pub use connector::ElasticsearchSink;
pub use sink::ElasticsearchSinkTask;

/// The version `GET /connector-plugins` reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
