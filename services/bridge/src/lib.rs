//! The HTTP bridge: Kafka produce and consume over REST, wire-compatible with Confluent REST
//! Proxy (v2, v3) and, per listener, with the Strimzi Kafka Bridge.

mod config;
mod error;
mod routes;
mod state;

use broker_core::{KafkaClients, Shutdown};
pub use config::{BridgeConfig, Flavor, ValidatedBridge};
pub use error::{ApiError, ErrorBody};
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

/// Runs the bridge until `shutdown` fires, then drains within the listener's deadline.
pub async fn run(
    config: ValidatedBridge,
    clients: KafkaClients,
    shutdown: Shutdown,
) -> Result<(), BridgeError> {
    let tcp = gateway_edge::bind("bridge", &config.listener).await?;
    let state = BridgeState::new(config.clone(), clients)?;
    let app = router(state);
    gateway_edge::serve("bridge", tcp, app, &config.listener, shutdown).await?;
    Ok(())
}
