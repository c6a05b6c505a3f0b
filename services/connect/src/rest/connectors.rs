//! `/connectors` and `/connectors/{name}/{config,status,tasks,topics}`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::entities::{
    ActiveTopics, ConnectorInfo, ConnectorStateInfo, CreateConnectorRequest, TaskInfo, TaskState,
};
use super::{AppState, KafkaJson};
use crate::error::{ErrorBody, RestError};
use crate::herder;
use crate::storage::config_store::TargetState;

/// Every `name=value` of a raw query string (repeated keys kept).
/// A boolean query parameter: absent is `None`; `true`/`false` (any case, the last one when
/// repeated) its value; anything else a 400, so the documented `boolean` is what is served.
pub fn bool_param(query: Option<&str>, name: &str) -> Result<Option<bool>, RestError> {
    let mut value = None;
    for (key, text) in query_pairs(query) {
        if key != name {
            continue;
        }
        value = Some(match text.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(RestError::bad_request(format!(
                    "Invalid value {text} for query parameter {name}: expected true or false"
                )));
            }
        });
    }
    Ok(value)
}

pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// `GET /connectors`: the names, or with any `expand` parameter a map name →
/// `{status?, info?}` (an unknown or empty expansion gives `{}` per connector, as in Kafka).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ConnectorList {
    Names(Vec<String>),
    Expanded(BTreeMap<String, Map<String, Value>>),
}

#[utoipa::path(get, path = "/connectors", tag = "connectors",
    params(("expand" = Option<String>, Query, description = "status and/or info; may repeat")),
    responses((status = 200, description = "Names, or name → {status, info} with expand", body = ConnectorList)))]
pub async fn list_connectors(
    State(runtime): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let names = herder::connector_names(&runtime);
    let expand: Vec<String> = query_pairs(query.as_deref())
        .into_iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect();
    let (status, info) = (
        expand.iter().any(|e| e == "status"),
        expand.iter().any(|e| e == "info"),
    );
    // Kafka switches to the map form as soon as `expand` is present, whatever its value.
    if expand.is_empty() {
        return Json(names).into_response();
    }
    let mut out = Map::new();
    for name in names {
        let mut entry = Map::new();
        if status {
            // A connector without a status yet (or deleted meanwhile) is left out, as in Kafka.
            match herder::connector_status(&runtime, &name) {
                Ok(state) => {
                    entry.insert(
                        "status".to_owned(),
                        serde_json::to_value(state).unwrap_or(Value::Null),
                    );
                }
                Err(_) if !info => continue,
                Err(_) => {}
            }
        }
        if info {
            match herder::connector_info(&runtime, &name) {
                Ok(i) => {
                    entry.insert(
                        "info".to_owned(),
                        serde_json::to_value(i).unwrap_or(Value::Null),
                    );
                }
                Err(_) => continue,
            }
        }
        out.insert(name, Value::Object(entry));
    }
    Json(Value::Object(out)).into_response()
}

#[utoipa::path(post, path = "/connectors", tag = "connectors", request_body = CreateConnectorRequest,
    responses((status = 201, body = ConnectorInfo),
        (status = 400, description = "An invalid config (the plugin's validation), name or initial state", body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody)))]
pub async fn create_connector(
    State(runtime): State<AppState>,
    KafkaJson(request): KafkaJson<CreateConnectorRequest>,
) -> Result<Response, RestError> {
    let name = request
        .name
        .or_else(|| {
            request
                .config
                .as_ref()
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RestError::bad_request("Connector name must not be empty"))?;
    if name.contains('/') {
        return Err(RestError::bad_request(format!(
            "Connector name {name} must not contain '/'"
        )));
    }
    let config = herder::stringify(
        request
            .config
            .ok_or_else(|| RestError::bad_request("Connector config must not be null"))?,
    )?;
    if let Some(config_name) = config.get("name")
        && config_name.trim() != name
    {
        return Err(RestError::bad_request(format!(
            "Connector name configuration ({config_name}) doesn't match connector name in the URL ({name})"
        )));
    }
    let initial = match request.initial_state.as_deref() {
        None => None,
        Some(text) => Some(match text.trim().to_ascii_uppercase().as_str() {
            "RUNNING" => TargetState::Started,
            "PAUSED" => TargetState::Paused,
            "STOPPED" => TargetState::Stopped,
            _ => {
                return Err(RestError::bad_request(format!(
                    "Invalid initial state {text}; must be one of RUNNING, PAUSED, STOPPED"
                )));
            }
        }),
    };
    let info = herder::create_connector(&runtime, &name, config, initial).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/connectors/{name}"))],
        Json(info),
    )
        .into_response())
}

#[utoipa::path(get, path = "/connectors/{name}", tag = "connectors", params(("name" = String, Path)),
    responses((status = 200, body = ConnectorInfo), (status = 404, body = ErrorBody)))]
pub async fn get_connector(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorInfo>, RestError> {
    herder::connector_info(&runtime, &name).map(Json)
}

#[utoipa::path(delete, path = "/connectors/{name}", tag = "connectors", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted; source offsets are kept"), (status = 404, body = ErrorBody)))]
pub async fn delete_connector(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    herder::delete_connector(&runtime, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/connectors/{name}/config", tag = "connectors", params(("name" = String, Path)),
    responses((status = 200, body = BTreeMap<String, String>), (status = 404, body = ErrorBody)))]
pub async fn get_config(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, String>>, RestError> {
    let config = herder::stored_config(&runtime, &name)?;
    Ok(Json(herder::hide_secrets(&runtime, &config)))
}

#[utoipa::path(put, path = "/connectors/{name}/config", tag = "connectors", params(("name" = String, Path)),
    request_body = BTreeMap<String, String>,
    responses((status = 201, body = ConnectorInfo), (status = 200, body = ConnectorInfo),
        (status = 400, description = "An invalid config (the plugin's validation) or a body that is not JSON", body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody)))]
pub async fn put_config(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
    KafkaJson(config): KafkaJson<BTreeMap<String, Value>>,
) -> Result<Response, RestError> {
    let config = herder::stringify(config)?;
    let (created, info) = herder::put_config(&runtime, &name, config).await?;
    Ok(if created {
        (
            StatusCode::CREATED,
            [(header::LOCATION, format!("/connectors/{name}"))],
            Json(info),
        )
            .into_response()
    } else {
        Json(info).into_response()
    })
}

#[utoipa::path(patch, path = "/connectors/{name}/config", tag = "connectors", params(("name" = String, Path)),
    request_body(content = Object, description = "Keys to set; a null value removes the key"),
    responses((status = 200, body = ConnectorInfo),
        (status = 400, description = "The patched config is invalid, or the body is not a JSON object", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody)))]
pub async fn patch_config(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
    KafkaJson(patch): KafkaJson<BTreeMap<String, Value>>,
) -> Result<Json<ConnectorInfo>, RestError> {
    herder::patch_config(&runtime, &name, patch).await.map(Json)
}

#[utoipa::path(get, path = "/connectors/{name}/status", tag = "connectors", params(("name" = String, Path)),
    responses((status = 200, body = ConnectorStateInfo), (status = 404, body = ErrorBody)))]
pub async fn get_status(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorStateInfo>, RestError> {
    herder::connector_status(&runtime, &name).map(Json)
}

#[utoipa::path(get, path = "/connectors/{name}/tasks", tag = "connectors", params(("name" = String, Path)),
    responses((status = 200, body = Vec<TaskInfo>), (status = 404, body = ErrorBody)))]
pub async fn get_tasks(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<TaskInfo>>, RestError> {
    herder::task_infos(&runtime, &name).map(Json)
}

#[utoipa::path(get, path = "/connectors/{name}/tasks/{task}/status", tag = "connectors",
    params(("name" = String, Path), ("task" = u32, Path)),
    responses((status = 200, body = TaskState), (status = 404, body = ErrorBody)))]
pub async fn get_task_status(
    State(runtime): State<AppState>,
    Path((name, task)): Path<(String, u32)>,
) -> Result<Json<TaskState>, RestError> {
    herder::task_status(&runtime, &name, task).map(Json)
}

#[utoipa::path(get, path = "/connectors/{name}/topics", tag = "connectors", params(("name" = String, Path)),
    responses((status = 200, body = BTreeMap<String, ActiveTopics>), (status = 404, body = ErrorBody)))]
pub async fn get_topics(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, ActiveTopics>>, RestError> {
    herder::stored_config(&runtime, &name)?;
    let topics = runtime.statuses.topics(&name).into_iter().collect();
    Ok(Json([(name, ActiveTopics { topics })].into()))
}

#[utoipa::path(put, path = "/connectors/{name}/topics/reset", tag = "connectors", params(("name" = String, Path)),
    responses((status = 202, description = "Topic tracking reset"), (status = 404, body = ErrorBody)))]
pub async fn reset_topics(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    herder::stored_config(&runtime, &name)?;
    runtime.statuses.reset_topics(&name).await?;
    Ok(StatusCode::ACCEPTED)
}
