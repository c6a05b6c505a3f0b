//! The HTTP bridge: Kafka produce and consume over REST, wire-compatible with Confluent REST
//! Proxy (v2, v3) and, per listener, with the Strimzi Kafka Bridge.
//!
//! - [`config`]: `[bridge]` settings and their validation.
//! - [`routes`]: the route table; [`openapi`]: the document generated from it.
//! - `produce`, `topics`, `consumers`, `v3`: one module per resource.
//! - [`error`]: the one error type, rendered in the listener flavor's body.

pub mod config;
mod consumers;
pub mod error;
mod extract;
pub mod media;
pub mod openapi;
mod produce;
pub mod routes;
mod state;
mod status;
mod time;
mod topics;
mod v3;

use broker_core::{KafkaClients, Shutdown};
pub use config::{BridgeConfig, Flavor, ValidatedBridge};
pub use error::{ApiError, ErrorBody};
pub use openapi::openapi_json;
pub use routes::router;
pub use state::BridgeState;

/// Default port of Confluent REST Proxy, which clients already point at.
pub const DEFAULT_PORT: u16 = 8082;

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Broker(#[from] broker_core::BrokerError),
    #[error(transparent)]
    Serve(#[from] gateway_edge::ServeError),
}

/// Runs the bridge until `shutdown` fires: stops accepting, lets in-flight requests finish
/// within the listener's deadline, then flushes the producer and closes every consumer
/// instance.
pub async fn run(
    config: ValidatedBridge,
    clients: KafkaClients,
    shutdown: Shutdown,
) -> Result<(), BridgeError> {
    let tcp = gateway_edge::bind("bridge", &config.listener).await?;
    let state = BridgeState::new(config.clone(), clients)?;
    let app = router(state.clone());
    let served = gateway_edge::serve("bridge", tcp, app, &config.listener, shutdown).await;
    state.drain(config.listener.shutdown_deadline).await;
    served?;
    Ok(())
}
