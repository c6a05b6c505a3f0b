//! The broker core every gateway service is built on.
//!
//! - [`config`]: how to reach a Kafka cluster (`bootstrap.servers` plus any librdkafka
//!   property), parsed into a validated value before any client exists.
//! - [`clients`]: factories for producers, consumers and admin clients with the gateway's
//!   defaults (`acks=all`, idempotence, Java-compatible `murmur2_random` partitioning,
//!   manual offset storage).
//! - [`metadata`]: owned snapshots of cluster metadata and watermarks, fetched off the async
//!   runtime because librdkafka's calls block.
//! - [`error`]: one transport-neutral error sorted by what the caller must do.
//! - [`kafka_log`]: a compacted topic read into memory, written with read-your-writes
//!   (Connect's stores, the bridge's instance directory).
//! - [`otel`]: OTLP trace export and W3C trace context through HTTP and Kafka headers.
//! - [`produce`]: the one produce path (a record type, an async enqueue and a blocking
//!   twin) with the one policy for a full producer queue: short backoff, counted, bounded.
//! - [`record_peek`]: the timestamp of the record at an offset, for lag in seconds.
//! - [`shutdown`]: a cloneable shutdown signal wired to SIGINT/SIGTERM.
//! - [`task`]: the one way to spawn a task, a blocking call or a thread: named, with its
//!   start, exit and panics logged.
//! - [`telemetry`]: tracing setup and the shared Prometheus registry.
//! - [`wire`]: a native Kafka protocol client (built on the `kafka-protocol` crate) for the
//!   admin APIs librdkafka lacks, ACLs first; same `ClusterConfig`, same security settings.

pub mod assignment;
pub mod clients;
pub mod config;
pub mod error;
pub mod kafka_log;
pub mod log_levels;
pub mod login;
pub mod metadata;
pub mod otel;
pub mod produce;
pub mod record_peek;
pub mod secrets;
pub mod shutdown;
pub use common::task;
pub mod telemetry;
pub mod topic_configs;
pub mod wire;

pub use clients::KafkaClients;
pub use config::{ClusterConfig, ConfigError, ValidatedCluster};
pub use error::{BrokerError, ErrorKind};
pub use shutdown::Shutdown;
