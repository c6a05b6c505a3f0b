//! Restart, pause, resume and stop.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::connectors::bool_param;
use super::entities::ConnectorStateInfo;
use crate::error::{ErrorBody, RestError};
use crate::herder;
use crate::storage::config_store::TargetState;

fn flag(query: Option<&str>, name: &str) -> Result<bool, RestError> {
    Ok(bool_param(query, name)?.unwrap_or(false))
}

#[utoipa::path(post, path = "/connectors/{name}/restart", tag = "lifecycle",
    params(("name" = String, Path), ("includeTasks" = Option<bool>, Query), ("onlyFailed" = Option<bool>, Query)),
    responses((status = 204, description = "Connector instance restarted"), (status = 202, body = ConnectorStateInfo),
        (status = 400, description = "A flag that is not true or false", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn restart_connector(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, RestError> {
    let include_tasks = flag(query.as_deref(), "includeTasks")?;
    let only_failed = flag(query.as_deref(), "onlyFailed")?;
    Ok(
        match herder::restart_connector(&runtime, &name, include_tasks, only_failed).await? {
            None => StatusCode::NO_CONTENT.into_response(),
            Some(status) => (StatusCode::ACCEPTED, Json(status)).into_response(),
        },
    )
}

#[utoipa::path(post, path = "/connectors/{name}/tasks/{task}/restart", tag = "lifecycle",
    params(("name" = String, Path), ("task" = u32, Path)),
    responses((status = 204, description = "Task restarted"), (status = 404, body = ErrorBody)))]
pub async fn restart_task(
    State(runtime): State<AppState>,
    Path((name, task)): Path<(String, u32)>,
) -> Result<StatusCode, RestError> {
    herder::restart_task(&runtime, &name, task).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/connectors/{name}/pause", tag = "lifecycle", params(("name" = String, Path)),
    responses((status = 202, description = "Target state PAUSED written"), (status = 404, body = ErrorBody)))]
pub async fn pause(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    herder::set_target_state(&runtime, &name, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(put, path = "/connectors/{name}/resume", tag = "lifecycle", params(("name" = String, Path)),
    responses((status = 202, description = "Target state STARTED written (from PAUSED or STOPPED)"), (status = 404, body = ErrorBody)))]
pub async fn resume(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    herder::set_target_state(&runtime, &name, TargetState::Started).await?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(put, path = "/connectors/{name}/stop", tag = "lifecycle", params(("name" = String, Path)),
    responses((status = 204, description = "Target state STOPPED written; tasks shut down"), (status = 404, body = ErrorBody)))]
pub async fn stop(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    herder::set_target_state(&runtime, &name, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}
