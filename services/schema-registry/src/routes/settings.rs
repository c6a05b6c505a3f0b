//! `/config[/{subject}]` (compatibility level) and `/mode[/{subject}]`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::model::{CompatibilityLevel, Mode};
use crate::registry::Registry;
use crate::registry::read::{effective_level, effective_mode};
use crate::routes::body::{JsonBody, QueryParams, flag, ok};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ConfigUpdate {
    /// NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE
    /// (read in any case, as Confluent reads it).
    #[schema(value_type = CompatibilityLevel)]
    compatibility: String,
    #[serde(default)]
    normalize: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ConfigUpdated {
    compatibility: CompatibilityLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    normalize: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigView {
    compatibility_level: CompatibilityLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    normalize: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct ModeBody {
    /// READWRITE, READONLY, READONLY_OVERRIDE or IMPORT (read in any case).
    #[schema(value_type = Mode)]
    mode: String,
}

#[utoipa::path(get, path = "/config", tag = "config",
    responses((status = 200, body = ConfigView)))]
pub(crate) async fn get_global_config(State(registry): State<Arc<Registry>>) -> Response {
    let state = registry.state();
    ok(&ConfigView {
        compatibility_level: effective_level(&state, None, registry.default_level()),
        normalize: state.config(None).and_then(|c| c.normalize),
    })
}

fn parse_level(update: &ConfigUpdate) -> Result<CompatibilityLevel, ApiError> {
    CompatibilityLevel::parse(&update.compatibility)
        .ok_or_else(|| ApiError::invalid_compatibility_level(&update.compatibility))
}

#[utoipa::path(put, path = "/config", tag = "config", request_body = ConfigUpdate,
    responses((status = 200, body = ConfigUpdated), (status = 422, description = "42203 invalid level")))]
pub(crate) async fn put_global_config(
    State(registry): State<Arc<Registry>>,
    JsonBody(update): JsonBody<ConfigUpdate>,
) -> Result<Response, ApiError> {
    let level = parse_level(&update)?;
    registry.set_config(None, level, update.normalize).await?;
    Ok(ok(&ConfigUpdated {
        compatibility: level,
        normalize: update.normalize,
    }))
}

/// Removes the global level and answers the one it had.
#[utoipa::path(delete, path = "/config", tag = "config",
    responses((status = 200, body = ConfigView)))]
pub(crate) async fn delete_global_config(
    State(registry): State<Arc<Registry>>,
) -> Result<Response, ApiError> {
    let level = registry.delete_config(None).await?;
    Ok(ok(&ConfigView {
        compatibility_level: level,
        normalize: None,
    }))
}

#[utoipa::path(get, path = "/config/{subject}", tag = "config",
    params(("subject" = String, Path), ("defaultToGlobal" = Option<bool>, Query, description = "Answer the global level when the subject has none")),
    responses((status = 200, body = ConfigView), (status = 404, description = "40408 no subject-level config")))]
pub(crate) async fn get_subject_config(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    let state = registry.state();
    let own = state.config(Some(&subject));
    if flag(&params, "defaultToGlobal") {
        return Ok(ok(&ConfigView {
            compatibility_level: effective_level(&state, Some(&subject), registry.default_level()),
            normalize: own
                .and_then(|c| c.normalize)
                .or_else(|| state.config(None).and_then(|c| c.normalize)),
        }));
    }
    let own = own.ok_or_else(|| ApiError::subject_config_not_found(&subject))?;
    let level = own
        .level
        .ok_or_else(|| ApiError::subject_config_not_found(&subject))?;
    Ok(ok(&ConfigView {
        compatibility_level: level,
        normalize: own.normalize,
    }))
}

#[utoipa::path(put, path = "/config/{subject}", tag = "config", request_body = ConfigUpdate,
    params(("subject" = String, Path)),
    responses((status = 200, body = ConfigUpdated), (status = 422, description = "42203 invalid level")))]
pub(crate) async fn put_subject_config(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
    JsonBody(update): JsonBody<ConfigUpdate>,
) -> Result<Response, ApiError> {
    let level = parse_level(&update)?;
    registry
        .set_config(Some(&subject), level, update.normalize)
        .await?;
    Ok(ok(&ConfigUpdated {
        compatibility: level,
        normalize: update.normalize,
    }))
}

#[utoipa::path(delete, path = "/config/{subject}", tag = "config",
    params(("subject" = String, Path)),
    responses((status = 200, body = ConfigView), (status = 404, description = "40408 no subject-level config")))]
pub(crate) async fn delete_subject_config(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
) -> Result<Response, ApiError> {
    let level = registry.delete_config(Some(&subject)).await?;
    Ok(ok(&ConfigView {
        compatibility_level: level,
        normalize: None,
    }))
}

fn mode_body(mode: Mode) -> ModeBody {
    ModeBody {
        mode: mode.as_str().to_owned(),
    }
}

#[utoipa::path(get, path = "/mode", tag = "mode", responses((status = 200, body = ModeBody)))]
pub(crate) async fn get_global_mode(State(registry): State<Arc<Registry>>) -> Response {
    ok(&mode_body(effective_mode(&registry.state(), None)))
}

fn parse_mode(body: &ModeBody) -> Result<Mode, ApiError> {
    Mode::parse(&body.mode).ok_or_else(|| ApiError::invalid_mode(&body.mode))
}

#[utoipa::path(put, path = "/mode", tag = "mode", request_body = ModeBody,
    params(("force" = Option<bool>, Query, description = "Enter IMPORT even with live subjects")),
    responses((status = 200, body = ModeBody), (status = 422, description = "42204 invalid mode, 42205 not permitted")))]
pub(crate) async fn put_global_mode(
    State(registry): State<Arc<Registry>>,
    QueryParams(params): QueryParams,
    JsonBody(body): JsonBody<ModeBody>,
) -> Result<Response, ApiError> {
    let mode = parse_mode(&body)?;
    registry
        .set_mode(None, mode, flag(&params, "force"))
        .await?;
    Ok(ok(&mode_body(mode)))
}

#[utoipa::path(delete, path = "/mode", tag = "mode", responses((status = 200, body = ModeBody)))]
pub(crate) async fn delete_global_mode(
    State(registry): State<Arc<Registry>>,
) -> Result<Response, ApiError> {
    Ok(ok(&mode_body(registry.delete_mode(None).await?)))
}

#[utoipa::path(get, path = "/mode/{subject}", tag = "mode",
    params(("subject" = String, Path), ("defaultToGlobal" = Option<bool>, Query, description = "Answer the global mode when the subject has none")),
    responses((status = 200, body = ModeBody), (status = 404, description = "40409 no subject-level mode")))]
pub(crate) async fn get_subject_mode(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    let state = registry.state();
    if flag(&params, "defaultToGlobal") {
        return Ok(ok(&mode_body(effective_mode(&state, Some(&subject)))));
    }
    let mode = state
        .mode(Some(&subject))
        .ok_or_else(|| ApiError::subject_mode_not_found(&subject))?;
    Ok(ok(&mode_body(mode)))
}

#[utoipa::path(put, path = "/mode/{subject}", tag = "mode", request_body = ModeBody,
    params(("subject" = String, Path), ("force" = Option<bool>, Query, description = "Enter IMPORT even with live versions")),
    responses((status = 200, body = ModeBody), (status = 422, description = "42204 invalid mode, 42205 not permitted")))]
pub(crate) async fn put_subject_mode(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
    QueryParams(params): QueryParams,
    JsonBody(body): JsonBody<ModeBody>,
) -> Result<Response, ApiError> {
    let mode = parse_mode(&body)?;
    registry
        .set_mode(Some(&subject), mode, flag(&params, "force"))
        .await?;
    Ok(ok(&mode_body(mode)))
}

#[utoipa::path(delete, path = "/mode/{subject}", tag = "mode",
    params(("subject" = String, Path)),
    responses((status = 200, body = ModeBody), (status = 404, description = "40409 no subject-level mode")))]
pub(crate) async fn delete_subject_mode(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&mode_body(registry.delete_mode(Some(&subject)).await?)))
}
