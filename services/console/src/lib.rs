//! The operator web console: pages embedded in the binary and a small same-origin `/api`.
//!
//! - [`config`]: `[console]` keys and validation;
//! - `routes`: the router, the role check (read-only may not change anything);
//! - `cluster`: overview, topics and partitions (metadata, watermarks) through broker-core;
//! - `records`: browse a topic from an offset or a time, produce a record;
//! - `groups` + `lag_seconds`: members and lag per partition, in records and seconds;
//! - `mirror`: the mirror's lag and checkpoint ages from this gateway's metrics listener;
//! - `samples`: the bounded rings behind the charts and the sampler task;
//! - `upstream`: forwarding to this gateway's Connect and Schema Registry listeners;
//! - `assets`: the embedded pages and the vendored charting library.
//!
//! It depends on broker-core and edge only, like every service: what only another service
//! knows is asked over that service's HTTP API.

mod assets;
mod cluster;
pub mod config;
mod decode;
mod error;
mod groups;
mod lag_seconds;
mod mirror;
mod records;
mod routes;
mod samples;
mod state;
mod upstream;

pub use config::{ConsoleConfig, Upstreams, ValidatedConsole};

use broker_core::telemetry::MetricsRegistry;
use broker_core::{BrokerError, KafkaClients, Shutdown, task};
use edge::Health;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Serve(#[from] edge::ServeError),
    #[error("cannot set up the console's kafka clients: {0}")]
    Kafka(#[from] BrokerError),
}

/// Serves the console until `shutdown` fires; `health` is the process's readiness, shown
/// on the overview page.
pub async fn run(
    config: ValidatedConsole,
    clients: KafkaClients,
    registry: MetricsRegistry,
    health: Health,
    shutdown: Shutdown,
) -> Result<(), ConsoleError> {
    let state = state::ConsoleState::new(config.clone(), clients, health)?;
    config
        .listener
        .security
        .register_metrics(&registry, "console");
    let sampler = task::spawn(
        "console-sampler",
        samples::run_sampler(state.clone(), shutdown.child()),
    );
    let http_metrics = edge::http_metrics::HttpMetricsLayer::new(&registry, "console");
    let tcp = edge::bind("console", &config.listener).await?;
    let served = edge::serve(
        "console",
        tcp,
        routes::router(state).layer(http_metrics),
        &config.listener,
        shutdown,
    )
    .await;
    sampler.abort();
    served?;
    Ok(())
}
