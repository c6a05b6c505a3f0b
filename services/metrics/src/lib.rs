//! The Prometheus endpoint (`/metrics`, port 9308 like kafka_exporter): renders the
//! process-wide registry every service registers its metrics in.

mod config;
mod routes;

pub use config::{MetricsConfig, ValidatedMetrics};
pub use routes::router;

use broker_core::Shutdown;
use broker_core::telemetry::MetricsRegistry;

/// Default port of kafka_exporter, which Prometheus scrape configs already point at.
pub const DEFAULT_PORT: u16 = 9308;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Serve(#[from] gateway_edge::ServeError),
}

/// Serves `/metrics` until `shutdown` fires.
pub async fn run(
    config: ValidatedMetrics,
    registry: MetricsRegistry,
    shutdown: Shutdown,
) -> Result<(), MetricsError> {
    let tcp = gateway_edge::bind("metrics", &config.listener).await?;
    gateway_edge::serve(
        "metrics",
        tcp,
        router(registry, &config),
        &config.listener,
        shutdown,
    )
    .await?;
    Ok(())
}
