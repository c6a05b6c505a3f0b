//! `GET|PATCH|DELETE /connectors/{name}/offsets` (KIP-875).

use axum::Json;
use axum::extract::{Path, State};

use super::entities::{AlterOffsetsRequest, ConnectorOffsets, Message};
use super::{AppState, KafkaJson};
use crate::error::{ErrorBody, RestError};
use crate::herder;

#[utoipa::path(get, path = "/connectors/{name}/offsets", tag = "offsets", params(("name" = String, Path)),
    responses((status = 200, body = ConnectorOffsets), (status = 404, body = ErrorBody)))]
pub async fn get_offsets(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorOffsets>, RestError> {
    Ok(Json(ConnectorOffsets {
        offsets: herder::offsets(&runtime, &name).await?,
    }))
}

#[utoipa::path(patch, path = "/connectors/{name}/offsets", tag = "offsets", params(("name" = String, Path)),
    request_body = AlterOffsetsRequest,
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The connector is not STOPPED", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody)))]
pub async fn alter_offsets(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
    KafkaJson(body): KafkaJson<AlterOffsetsRequest>,
) -> Result<Json<Message>, RestError> {
    let message = herder::alter_offsets(&runtime, &name, body.offsets).await?;
    Ok(Json(Message { message }))
}

#[utoipa::path(delete, path = "/connectors/{name}/offsets", tag = "offsets", params(("name" = String, Path)),
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reset_offsets(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Message>, RestError> {
    let message = herder::reset_offsets(&runtime, &name).await?;
    Ok(Json(Message { message }))
}
