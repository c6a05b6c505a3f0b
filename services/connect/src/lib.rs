//! The connector runtime: Kafka Connect's REST API (port 8083), connector configs, task
//! configs, offsets and statuses in compacted Kafka topics keyed as Kafka Connect keys them,
//! workers sharing tasks through Kafka's group coordinator.
//!
//! Roles: [`config`] (worker config), [`plugin`] (registry), [`connector_config`] (the
//! settings every connector has), [`topic_creation`] (KIP-158), [`exactly_once`] (KIP-618's
//! per-connector keys), [`client_overrides`], [`converters`], [`transforms`], [`error_handling`]
//! (tolerance, retries, DLQ), [`storage`] (the three topics), [`worker`] (membership,
//! assignment, task loops), [`herder`] (what the REST API asks of the cluster), [`rest`]
//! (handlers), [`openapi`], [`auto_restart`] (self-healing policy) and [`dry_run`] (a config
//! applied to sample input, nothing written).

pub mod auto_restart;
pub mod client_overrides;
mod config;
pub mod config_providers;
pub mod connector_config;
pub mod converters;
pub mod dry_run;
pub mod error;
pub mod error_handling;
pub mod exactly_once;
pub mod herder;
pub mod openapi;
pub mod plugin;
pub mod rest;
pub mod runtime;
mod sampled_stat;
mod service;
mod status_metrics;
pub mod storage;
mod task_metrics_collector;
pub mod topic_creation;
pub mod transforms;
pub mod worker;

pub use config::{ConnectConfig, ExactlyOnceSourceSupport, OverridePolicy, ValidatedConnect};
pub use error::WorkerError;
pub use plugin::{PluginRegistry, builtin_plugins};
pub use service::Worker;

use broker_core::telemetry::MetricsRegistry;
use broker_core::{KafkaClients, Shutdown};

/// Runs a worker with the built-in plugins (file stream source and sink) until `shutdown`.
pub async fn run(
    config: ValidatedConnect,
    clients: KafkaClients,
    registry: MetricsRegistry,
    shutdown: Shutdown,
) -> Result<(), WorkerError> {
    run_with_plugins(config, clients, builtin_plugins(), registry, shutdown).await
}

/// Runs a worker with `plugins` (e.g. `builtin_plugins()` plus the MySQL source and the
/// Elasticsearch sink) until `shutdown`.
pub async fn run_with_plugins(
    config: ValidatedConnect,
    clients: KafkaClients,
    plugins: PluginRegistry,
    registry: MetricsRegistry,
    shutdown: Shutdown,
) -> Result<(), WorkerError> {
    Worker::start(config, clients, plugins, &registry, shutdown)
        .await?
        .serve()
        .await
}

/// Default port of Kafka Connect's REST API.
pub const DEFAULT_PORT: u16 = 8083;
