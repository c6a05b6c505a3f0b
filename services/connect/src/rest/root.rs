//! `GET /` and `GET /health`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::AppState;
use super::entities::{HealthInfo, ServerInfo};

/// The Kafka Connect version this API follows (3.9: `/health`, PATCH config, offsets API).
pub const COMPATIBLE_VERSION: &str = "3.9.0";

#[utoipa::path(get, path = "/", tag = "root", responses((status = 200, body = ServerInfo)))]
pub async fn server_info(State(runtime): State<AppState>) -> Json<ServerInfo> {
    Json(ServerInfo {
        version: COMPATIBLE_VERSION.to_owned(),
        commit: format!("kafka-gateway-{}", env!("CARGO_PKG_VERSION")),
        kafka_cluster_id: runtime.cluster_id.clone(),
    })
}

#[utoipa::path(get, path = "/health", tag = "root", responses((status = 200, body = HealthInfo), (status = 503, body = HealthInfo)))]
pub async fn health(State(runtime): State<AppState>) -> impl IntoResponse {
    if runtime.is_started() {
        (
            StatusCode::OK,
            Json(HealthInfo {
                status: "healthy".to_owned(),
                message: "Worker has completed startup and is ready to handle requests.".to_owned(),
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthInfo {
                status: "starting".to_owned(),
                message: "Worker is still starting up.".to_owned(),
            }),
        )
    }
}
