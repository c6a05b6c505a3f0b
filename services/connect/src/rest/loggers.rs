//! `/admin/loggers` (KIP-495): read and change log levels of this worker at runtime.
//! Java logger names map to the gateway's own targets (see [`broker_core::log_levels`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{AppState, KafkaJson};
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
    /// TRACE, DEBUG, INFO, WARN, ERROR, FATAL or OFF, in any case.
    #[schema(
        required = true,
        nullable = false,
        pattern = r"^\s*([Tt][Rr][Aa][Cc][Ee]|[Dd][Ee][Bb][Uu][Gg]|[Ii][Nn][Ff][Oo]|[Ww][Aa][Rr][Nn]|[Ee][Rr][Rr][Oo][Rr]|[Ff][Aa][Tt][Aa][Ll]|[Oo][Ff][Ff])\s*$"
    )]
    pub level: Option<String>,
}

/// Sets `logger` on this worker at once; answers the loggers that changed.
fn set_worker_level(logger: &str, level: &str) -> Result<Response, RestError> {
    broker_core::log_levels::set(logger, level, now_ms()).map_err(RestError::bad_request)?;
    tracing::info!(logger, level, "log level changed");
    Ok(Json(vec![logger.to_owned()]).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ScopeQuery {
    /// `worker` (default): this worker only, at once. `cluster` (KIP-976): every worker of
    /// the group, through the config topic; answered 204. Any other value is taken as
    /// `worker` with a warning in the log, as Kafka Connect does.
    pub scope: Option<String>,
}

/// Levels Kafka's `/admin/loggers` accepts (log4j's).
const LEVELS: [&str; 7] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"];

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
    params(("logger" = String, Path, pattern = r"^[A-Za-z0-9_$-]+((\.|::)[A-Za-z0-9_$-]+)*$",
        description = "A Java logger or Rust target name"), ScopeQuery),
    request_body(content = LevelRequest, content_type = "application/json"),
    responses((status = 200, description = "Worker scope: the loggers whose level changed", body = Vec<String>),
        (status = 204, description = "Cluster scope: written to the config topic for every worker"),
        (status = 400, description = "No or an unknown level or scope, or a body that is not JSON", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = crate::error::ErrorBody)))]
pub async fn set_logger(
    State(runtime): State<AppState>,
    Path(logger): Path<String>,
    Query(query): Query<ScopeQuery>,
    KafkaJson(request): KafkaJson<LevelRequest>,
) -> Result<Response, RestError> {
    let level = request
        .level
        .ok_or_else(|| RestError::bad_request("The request body must contain a level"))?;
    match query
        .scope
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("worker") => set_worker_level(&logger, &level),
        Some("cluster") => {
            let upper = level.trim().to_ascii_uppercase();
            if !LEVELS.contains(&upper.as_str()) {
                return Err(RestError::bad_request(format!(
                    "Invalid log level '{level}'; use one of {}",
                    LEVELS.join(", ")
                )));
            }
            runtime
                .configs
                .put_logger_level(&logger, &upper)
                .await
                .map_err(RestError::from)?;
            tracing::info!(logger, level = upper, "cluster-wide log level written");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        // Kafka's LoggingResource falls through to the worker scope for any other value.
        Some(other) => {
            tracing::warn!(
                scope = other,
                "invalid scope in a request to adjust a logging level; using worker"
            );
            set_worker_level(&logger, &level)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_logger_pattern_is_the_one_enforced() {
        let document: serde_json::Value =
            serde_json::from_str(&crate::openapi::openapi_json()).unwrap();
        let parameters = &document["paths"]["/admin/loggers/{logger}"]["put"]["parameters"];
        let logger = parameters
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "logger")
            .unwrap();
        assert_eq!(
            logger["schema"]["pattern"],
            broker_core::log_levels::LOGGER_NAME_PATTERN
        );
    }
}
