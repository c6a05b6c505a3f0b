//! Liveness, readiness and broker listing.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::config::Flavor;
use crate::error::ApiError;
use crate::media::KafkaJson;
use crate::state::BridgeState;

/// Confluent answers `{}` (a ping); Strimzi its version.
#[utoipa::path(get, path = "/", tag = "status",
    responses((status = 200, description = "`{}` (Confluent) or `{\"bridge_version\"}` (Strimzi)", body = Value)))]
pub(crate) async fn root(State(state): State<BridgeState>) -> KafkaJson<Value> {
    KafkaJson::v2(match state.config().flavor {
        Flavor::Confluent => json!({}),
        Flavor::Strimzi => json!({ "bridge_version": env!("CARGO_PKG_VERSION") }),
    })
}

/// The process is up.
#[utoipa::path(get, path = "/healthy", tag = "status", responses((status = 204)))]
pub(crate) async fn healthy() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Ready once the cluster answers a metadata request.
#[utoipa::path(get, path = "/ready", tag = "status",
    responses((status = 204), (status = 500, description = "Kafka unreachable (50003)", body = crate::ErrorBody)))]
pub(crate) async fn ready(State(state): State<BridgeState>) -> Result<StatusCode, ApiError> {
    state.inspector().metadata(None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Broker ids.
#[utoipa::path(get, path = "/brokers", tag = "v2 topics",
    responses((status = 200, description = "`{\"brokers\":[1,2,3]}`", body = Value)))]
pub(crate) async fn list_brokers(
    State(state): State<BridgeState>,
) -> Result<KafkaJson<Value>, ApiError> {
    let metadata = state.inspector().metadata(None).await?;
    let mut ids: Vec<i32> = metadata.brokers.iter().map(|b| b.id).collect();
    ids.sort_unstable();
    Ok(KafkaJson::v2(json!({ "brokers": ids })))
}
