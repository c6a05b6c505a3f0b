//! `/admin/loggers` (KIP-495): read and change log levels of this worker at runtime.
//! Java logger names map to the gateway's own targets (see [`broker_core::log_levels`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query};
use serde::{Deserialize, Serialize};

use super::KafkaJson;
use crate::error::RestError;
use crate::worker::now_ms;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoggerLevel {
    pub level: String,
    /// When the level was set on this worker (ms), `null` for the start-up level.
    pub last_modified: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LevelRequest {
    /// TRACE, DEBUG, INFO, WARN, ERROR, FATAL or OFF.
    pub level: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ScopeQuery {
    /// `worker` (default). `cluster` (KIP-976) is refused: levels are per worker here.
    pub scope: Option<String>,
}

fn entity(level: broker_core::log_levels::LoggerLevel) -> LoggerLevel {
    LoggerLevel {
        level: level.level,
        last_modified: level.last_modified,
    }
}

#[utoipa::path(get, path = "/admin/loggers", tag = "admin",
    responses((status = 200, description = "Loggers set on this worker, and root", body = BTreeMap<String, LoggerLevel>)))]
pub async fn list_loggers() -> Json<BTreeMap<String, LoggerLevel>> {
    Json(
        broker_core::log_levels::all()
            .into_iter()
            .map(|(name, level)| (name, entity(level)))
            .collect(),
    )
}

#[utoipa::path(get, path = "/admin/loggers/{logger}", tag = "admin",
    params(("logger" = String, Path)),
    responses((status = 200, body = LoggerLevel), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_logger(Path(logger): Path<String>) -> Result<Json<LoggerLevel>, RestError> {
    broker_core::log_levels::get(&logger)
        .map(|level| Json(entity(level)))
        .ok_or_else(|| RestError::not_found(format!("Logger {logger} not found.")))
}

#[utoipa::path(put, path = "/admin/loggers/{logger}", tag = "admin",
    params(("logger" = String, Path), ScopeQuery),
    request_body(content = LevelRequest, content_type = "application/json"),
    responses((status = 200, description = "The loggers whose level changed", body = Vec<String>),
        (status = 400, body = crate::error::ErrorBody)))]
pub async fn set_logger(
    Path(logger): Path<String>,
    Query(query): Query<ScopeQuery>,
    KafkaJson(request): KafkaJson<LevelRequest>,
) -> Result<Json<Vec<String>>, RestError> {
    match query
        .scope
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("worker") => {}
        Some("cluster") => {
            return Err(RestError::bad_request(
                "scope=cluster is not supported: log levels are set per worker; send the request to each worker",
            ));
        }
        Some(other) => {
            return Err(RestError::bad_request(format!(
                "Invalid scope '{other}': use worker"
            )));
        }
    }
    let level = request
        .level
        .ok_or_else(|| RestError::bad_request("The request body must contain a level"))?;
    broker_core::log_levels::set(&logger, &level, now_ms()).map_err(RestError::bad_request)?;
    tracing::info!(logger, level, "log level changed");
    Ok(Json(vec![logger]))
}
