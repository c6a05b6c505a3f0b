//! Schema Registry compatible with Confluent's REST API (v1) and its `_schemas` topic.
//!
//! - [`config`]: `[schema_registry]` settings and their validation.
//! - [`store`]: the `_schemas` records byte for byte as Confluent writes them, the pure
//!   state machine they replay into, and the Kafka reader and writer.
//! - Avro, JSON Schema and Protobuf parsing, canonical text and compatibility live in the
//!   shared `schemas` crate (`schemas::format`), which the bridge and Connect use too.
//! - [`registry`]: the operations, as pure plans over the state plus the writes.
//! - `election` and `forward`: one primary per group, elected through Kafka; the others
//!   forward writes to it over HTTP.
//! - [`routes`]: the route table; [`openapi`]: the document generated from it.
//! - [`error`]: the one error type, in Confluent's error body.

pub mod config;
pub mod election;
pub mod error;
pub mod forward;
pub mod model;
pub mod openapi;
pub mod registry;
pub mod routes;
pub mod store;

use std::sync::Arc;

use broker_core::telemetry::MetricsRegistry;
use broker_core::{KafkaClients, Shutdown};
pub use config::{SchemaRegistryConfig, ValidatedSchemaRegistry};
pub use openapi::openapi_json;
pub use registry::Registry;
pub use routes::router;

/// Default port of Confluent Schema Registry, which clients already point at.
pub const DEFAULT_PORT: u16 = 8081;

#[derive(Debug, thiserror::Error)]
pub enum SchemaRegistryError {
    #[error(transparent)]
    Store(#[from] store::kafka::StoreError),
    #[error(transparent)]
    Serve(#[from] edge::ServeError),
}

/// Runs the registry until `shutdown` fires.
pub async fn run(
    config: ValidatedSchemaRegistry,
    clients: KafkaClients,
    metrics: MetricsRegistry,
    shutdown: Shutdown,
) -> Result<(), SchemaRegistryError> {
    let tcp = edge::bind("schema-registry", &config.listener).await?;
    serve(config, clients, metrics, tcp, shutdown).await
}

/// [`run`] on a listener the caller bound (tests bind port 0 and learn the address first).
pub async fn serve(
    config: ValidatedSchemaRegistry,
    clients: KafkaClients,
    metrics: MetricsRegistry,
    tcp: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<(), SchemaRegistryError> {
    let listener = config.listener.clone();
    listener
        .security
        .register_metrics(&metrics, "schema-registry");
    let Some(registry) = start_with_retries(config, &clients, &shutdown).await? else {
        return Ok(());
    };
    // Outside the edge layers, so that refusals (401, 429, 503) are counted too.
    let app = router(Arc::new(registry)).layer(edge::http_metrics::HttpMetricsLayer::new(
        &metrics,
        "schema-registry",
    ));
    edge::serve("schema-registry", tcp, app, &listener, shutdown).await?;
    Ok(())
}

/// Starts the registry, retrying while Kafka is unreachable (as the other services keep
/// retrying) so that a gateway started before its brokers does not stop; a topic that is
/// not one compacted partition, or any other definite error, stops at once. `None` when
/// shutdown came first. Each attempt has its own child signal, so the reader a failed
/// attempt started stops with it.
async fn start_with_retries(
    config: ValidatedSchemaRegistry,
    clients: &KafkaClients,
    shutdown: &Shutdown,
) -> Result<Option<Registry>, SchemaRegistryError> {
    let mut backoff = std::time::Duration::from_millis(500);
    loop {
        let attempt = shutdown.child();
        match Registry::start(config.clone(), clients, attempt.clone()).await {
            Ok(registry) => return Ok(Some(registry)),
            Err(store::kafka::StoreError::Broker(error)) if error.is_retriable() => {
                attempt.trigger();
                tracing::warn!(%error, retry_in = ?backoff, "the schema registry cannot reach its topic yet, retrying");
            }
            Err(error) => {
                attempt.trigger();
                return Err(error.into());
            }
        }
        tokio::select! {
            () = shutdown.wait() => return Ok(None),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(std::time::Duration::from_secs(10));
    }
}
