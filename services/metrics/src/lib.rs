//! The Prometheus endpoint (`/metrics`, port 9308 like kafka_exporter).
//!
//! It renders the process-wide registry every service registers its metrics in, plus, when
//! `cluster_metrics` is on, kafka_exporter's `kafka_*` series read from the cluster on each
//! scrape:
//!
//! - [`config`]: `[metrics]` keys (kafka_exporter's flags under our names) and validation;
//! - `cluster`: the batched cluster read (metadata, groups, committed offsets, watermarks);
//! - `lag`: lag arithmetic, never negative;
//! - `burrow`: the Burrow-style group status kept across scrapes;
//! - [`collector`]: scrape coordination and rendering with kafka_exporter's names.
//!
//! The HTTP request metrics of every service are a layer of the `edge` crate, and the
//! `doctor` command is a crate of its own: neither is part of this service.

mod burrow;
mod cluster;
pub mod collector;
pub mod config;
mod lag;
mod lag_seconds;
mod routes;

pub use burrow::GroupStatus;
pub use collector::ClusterExporter;
pub use config::{MetricsConfig, ValidatedClusterMetrics, ValidatedMetrics};
pub use routes::router;

use std::sync::Arc;

use broker_core::telemetry::MetricsRegistry;
use broker_core::{BrokerError, KafkaClients, Shutdown};
use edge::Health;

/// Default port of kafka_exporter, which Prometheus scrape configs already point at.
pub const DEFAULT_PORT: u16 = 9308;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Serve(#[from] edge::ServeError),
    #[error("cannot set up the cluster metrics: {0}")]
    Kafka(#[from] BrokerError),
}

/// Serves `/metrics`, and the process's `/healthz` and `/readyz` from `health`, until
/// `shutdown` fires. With `cluster_metrics` on, each scrape reads the cluster `clients`
/// points at.
pub async fn run(
    config: ValidatedMetrics,
    clients: KafkaClients,
    registry: MetricsRegistry,
    health: Health,
    shutdown: Shutdown,
) -> Result<(), MetricsError> {
    let exporter = match &config.cluster {
        Some(cluster) => Some(Arc::new(ClusterExporter::register(
            clients,
            cluster.clone(),
            &registry,
        )?)),
        None => None,
    };
    config
        .listener
        .security
        .register_metrics(&registry, "metrics");
    let tcp = edge::bind("metrics", &config.listener).await?;
    edge::serve(
        "metrics",
        tcp,
        router(registry, exporter, &config).merge(health.router()),
        &config.listener,
        shutdown,
    )
    .await?;
    Ok(())
}
