//! Route table of the bridge. Handlers live in one module per resource.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::BridgeState;

pub fn router(state: BridgeState) -> Router {
    let listener = state.config().listener;
    let routes = Router::new()
        .route("/", get(root))
        .route("/healthy", get(healthy))
        .route("/ready", get(ready))
        .route("/topics", get(list_topics))
        .route("/brokers", get(list_brokers))
        .with_state(state);
    gateway_edge::apply_limits(routes, &listener, ApiError::from_edge)
}

/// Confluent answers `{}`: a liveness no-op that clients use as a ping.
async fn root() -> Json<Value> {
    Json(json!({}))
}

async fn healthy() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

/// Ready once the cluster answers a metadata request.
async fn ready(State(state): State<BridgeState>) -> Result<axum::http::StatusCode, ApiError> {
    state.inspector().metadata(None).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

async fn list_topics(State(state): State<BridgeState>) -> Result<Json<Vec<String>>, ApiError> {
    let metadata = state.inspector().metadata(None).await?;
    let mut names: Vec<String> = metadata
        .topics
        .into_iter()
        .filter(|t| !t.is_internal())
        .map(|t| t.name)
        .collect();
    names.sort();
    Ok(Json(names))
}

async fn list_brokers(State(state): State<BridgeState>) -> Result<Json<Value>, ApiError> {
    let metadata = state.inspector().metadata(None).await?;
    let mut ids: Vec<i32> = metadata.brokers.iter().map(|b| b.id).collect();
    ids.sort_unstable();
    Ok(Json(json!({ "brokers": ids })))
}
