//! `POST /compatibility/subjects/{subject}/versions[/{version}]`: would this schema be
//! accepted? Against one version (never a deleted one; `latest` on an empty subject is
//! compatible), or exactly the register-time check.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;

use crate::error::ApiError;
use crate::registry::Registry;
use crate::registry::plan;
use crate::registry::read::{self, VersionSelector, effective_level};
use crate::routes::body::{JsonBody, QueryParams, flag, ok};
use crate::routes::subjects::SchemaRequest;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CompatibilityAnswer {
    is_compatible: bool,
    /// With `verbose=true`: why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<String>>,
}

fn answer(messages: Vec<String>, verbose: bool) -> Response {
    ok(&CompatibilityAnswer {
        is_compatible: messages.is_empty(),
        messages: verbose.then_some(messages),
    })
}

#[utoipa::path(post, path = "/compatibility/subjects/{subject}/versions/{version}", tag = "compatibility",
    params(("subject" = String, Path), ("version" = String, Path, description = "1..2^31-1 or `latest`"),
           ("verbose" = Option<bool>, Query, description = "Give the reasons")),
    request_body = SchemaRequest,
    responses((status = 200, body = CompatibilityAnswer),
              (status = 404, description = "40401 subject not found, 40402 version not found"),
              (status = 422, description = "42201 invalid schema, 42202 invalid version")))]
pub(crate) async fn check_version(
    State(registry): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
    QueryParams(params): QueryParams,
    JsonBody(body): JsonBody<SchemaRequest>,
) -> Result<Response, ApiError> {
    let selector = VersionSelector::parse(&version)?;
    let verbose = flag(&params, "verbose");
    let schema_type = body.schema_type()?;
    let state = registry.state();
    let previous = match read::select_version(&state, &subject, selector, false) {
        Ok((_, entry)) => entry,
        Err(error) if error.error_code == 40401 && selector == VersionSelector::Latest => {
            return Ok(answer(Vec::new(), verbose));
        }
        Err(error) => return Err(error),
    };
    let parsed = match registry.parse_submitted(
        &state,
        schema_type,
        &body.schema,
        &body.references,
        flag(&params, "normalize"),
    ) {
        Ok(parsed) => parsed,
        Err(error) if verbose => return Ok(answer(vec![error.message], true)),
        Err(error) => return Err(error),
    };
    let previous = read::parse_stored(&state, previous.id)?;
    let level = effective_level(&state, Some(&subject), registry.default_level());
    let mut messages = plan::check_pair(&parsed, &previous, level);
    if !messages.is_empty() {
        messages.push(format!("{{compatibility: '{}'}}", level.as_str()));
    }
    Ok(answer(messages, verbose))
}

#[utoipa::path(post, path = "/compatibility/subjects/{subject}/versions", tag = "compatibility",
    params(("subject" = String, Path), ("verbose" = Option<bool>, Query, description = "Give the reasons")),
    request_body = SchemaRequest,
    responses((status = 200, body = CompatibilityAnswer), (status = 422, description = "42201 invalid schema")))]
pub(crate) async fn check_all(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
    QueryParams(params): QueryParams,
    JsonBody(body): JsonBody<SchemaRequest>,
) -> Result<Response, ApiError> {
    let verbose = flag(&params, "verbose");
    let schema_type = body.schema_type()?;
    let state = registry.state();
    let parsed = match registry.parse_submitted(
        &state,
        schema_type,
        &body.schema,
        &body.references,
        flag(&params, "normalize"),
    ) {
        Ok(parsed) => parsed,
        Err(error) if verbose => return Ok(answer(vec![error.message], true)),
        Err(error) => return Err(error),
    };
    let level = effective_level(&state, Some(&subject), registry.default_level());
    let messages = plan::check_compatibility(&state, &subject, &parsed, level)?;
    Ok(answer(messages, verbose))
}
