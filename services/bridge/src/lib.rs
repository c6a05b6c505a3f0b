//! The HTTP bridge: Kafka produce and consume over REST, wire-compatible with Confluent REST
//! Proxy (v2, v3) and, per listener, with the Strimzi Kafka Bridge.
//!
//! - [`config`]: `[bridge]` settings and their validation.
//! - [`routes`]: the route table; [`openapi`]: the document generated from it.
//! - `produce`, `topics`, `consumers`, `v3`: one module per resource.
//! - `cluster`: consumer instances any node of a group of bridges serves, through an
//!   instance directory in a compacted Kafka topic (`[bridge.cluster]`).
//! - `schema`: keys and values in the schema-registry formats (Avro, JSON Schema,
//!   Protobuf) through the configured registry.
//! - [`error`]: the one error type, rendered in the listener flavor's body.
//! - `caller`, `identity`, `authz`: who calls ([`Principal`](edge::Principal) in the request),
//!   which Kafka identity the caller runs with, and the route layer that checks its grants;
//!   dependencies run one way, `authz` → `state` → `identity` → `caller`.

mod authz;
mod caller;
mod cluster;
pub mod config;
mod consumers;
pub mod error;
mod extract;
mod identity;
mod json_text;
pub mod media;
mod metrics;
pub mod openapi;
mod produce;
mod produce_schema;
mod record_trace;
pub mod routes;
mod schema;
mod state;
mod status;
mod time;
mod topics;
mod v3;

use broker_core::telemetry::MetricsRegistry;
use broker_core::{KafkaClients, Shutdown};
pub use config::{BridgeConfig, DEFAULT_LINGER_MS, Flavor, ProducerConfig, ValidatedBridge};
use edge::http_metrics::HttpMetricsLayer;
pub use error::{ApiError, ErrorBody};
pub use openapi::openapi_json;
pub use routes::router;
pub use schema::SchemaFormat;
pub use state::BridgeState;

/// Default port of Confluent REST Proxy, which clients already point at.
pub const DEFAULT_PORT: u16 = 8082;

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Broker(#[from] broker_core::BrokerError),
    #[error(transparent)]
    Serve(#[from] edge::ServeError),
}

/// Runs the bridge until `shutdown` fires: stops accepting, lets in-flight requests finish,
/// then flushes the producer and closes every consumer instance, all within the listener's
/// `shutdown_deadline` counted from the shutdown signal.
///
/// Requests are counted in `registry` by route and status, with latency histograms.
pub async fn run(
    config: ValidatedBridge,
    clients: KafkaClients,
    registry: MetricsRegistry,
    shutdown: Shutdown,
) -> Result<(), BridgeError> {
    let tcp = edge::bind("bridge", &config.listener).await?;
    serve(config, clients, registry, tcp, shutdown).await
}

/// [`run`] on a listener the caller bound (tests bind port 0 and learn the address first).
pub async fn serve(
    config: ValidatedBridge,
    clients: KafkaClients,
    registry: MetricsRegistry,
    tcp: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<(), BridgeError> {
    let state = BridgeState::with_metrics(config.clone(), clients, Some(&registry))?;
    cluster::start_if_enabled(&state, shutdown.clone()).await?;
    state.register_metrics(&registry);
    config
        .listener
        .security
        .register_metrics(&registry, "bridge");
    let app = router(state.clone()).layer(HttpMetricsLayer::new(&registry, "bridge"));
    let signal = shutdown.clone();
    let streaming = state.clone();
    let mut signalled = broker_core::task::spawn("bridge-shutdown-watch", async move {
        signal.wait().await;
        // Streams would otherwise hold their connections until the drain deadline.
        streaming.consumers().end_streams();
        std::time::Instant::now()
    });
    let served = edge::serve("bridge", tcp, app, &config.listener, shutdown).await;
    let signalled_at = futures::FutureExt::now_or_never(&mut signalled)
        .and_then(Result::ok)
        .unwrap_or_else(std::time::Instant::now);
    signalled.abort();
    // What is left of the deadline, with a floor so that the flush is at least attempted.
    let remaining = config
        .listener
        .shutdown_deadline
        .saturating_sub(signalled_at.elapsed())
        .max(MIN_DRAIN);
    state.drain(remaining).await;
    if let Some(cluster) = state.cluster() {
        cluster.stop().await;
    }
    served?;
    Ok(())
}

/// Least time the producer flush gets even when the in-flight requests used the deadline.
const MIN_DRAIN: std::time::Duration = std::time::Duration::from_millis(500);
