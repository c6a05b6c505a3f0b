//! `/schemas/ids/{id}` and its sub-resources: schemas by global id. Soft-deleted versions
//! still resolve their id.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;

use crate::error::ApiError;
use crate::model::SchemaType;
use crate::registry::{Registry, read};
use crate::routes::Visibility;
use crate::routes::body::{Params, QueryParams, flag, ok};
use crate::store::records::SchemaReference;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SchemaById {
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_type: Option<SchemaType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<SchemaReference>,
    schema: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SubjectVersion {
    subject: String,
    version: i32,
}

fn parse_id(text: &str) -> Result<i32, ApiError> {
    text.parse::<i32>()
        .map_err(|_| ApiError::new(axum::http::StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found"))
}

/// An id the caller may not read is not found, as if it did not exist.
fn stored(
    registry: &Registry,
    id: i32,
    visibility: &Visibility,
    format: Option<&str>,
) -> Result<SchemaById, ApiError> {
    let state = registry.state();
    let stored = state
        .schema(id)
        .ok_or_else(|| ApiError::schema_id_not_found(id))?;
    if !state
        .usages(id, true)
        .iter()
        .any(|(subject, _)| visibility.sees(subject))
    {
        return Err(ApiError::schema_id_not_found(id));
    }
    Ok(SchemaById {
        schema_type: (stored.schema_type != SchemaType::Avro).then_some(stored.schema_type),
        references: stored.references.clone(),
        schema: read::formatted(&state, id, format)?,
    })
}

#[utoipa::path(get, path = "/schemas/ids/{id}", tag = "schemas",
    params(("id" = i32, Path, description = "Global schema id"),
           ("subject" = Option<String>, Query, description = "Accepted, not needed: ids are global"),
           ("format" = Option<String>, Query, description = "`serialized`: a Protobuf schema as its base64 FileDescriptorProto; other values: the stored text"),
           ("fetchMaxId" = Option<bool>, Query, description = "Ignored")),
    responses((status = 200, body = SchemaById), (status = 404, description = "40403 schema not found")))]
pub(crate) async fn get_schema(
    State(registry): State<Arc<Registry>>,
    visibility: Visibility,
    Path(id): Path<String>,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    let format = params.get("format").map(String::as_str);
    Ok(ok(&stored(&registry, parse_id(&id)?, &visibility, format)?))
}

/// The schema text alone.
#[utoipa::path(get, path = "/schemas/ids/{id}/schema", tag = "schemas",
    params(("id" = i32, Path, description = "Global schema id")),
    responses((status = 200, description = "The raw schema"), (status = 404, description = "40403 schema not found")))]
pub(crate) async fn get_schema_text(
    State(registry): State<Arc<Registry>>,
    visibility: Visibility,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let schema = stored(&registry, parse_id(&id)?, &visibility, None)?.schema;
    let mut response = axum::response::IntoResponse::into_response(schema);
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(crate::error::CONTENT_TYPE),
    );
    Ok(response)
}

fn usages(
    registry: &Registry,
    id: &str,
    params: &Params,
    visibility: &Visibility,
) -> Result<Vec<(String, i32)>, ApiError> {
    let id = parse_id(id)?;
    stored(registry, id, visibility, None)?;
    let state = registry.state();
    Ok(state
        .usages(id, flag(params, "deleted"))
        .into_iter()
        .filter(|(subject, _)| visibility.sees(subject))
        .collect())
}

#[utoipa::path(get, path = "/schemas/ids/{id}/subjects", tag = "schemas",
    params(("id" = i32, Path, description = "Global schema id"),
           ("deleted" = Option<bool>, Query, description = "Include soft-deleted versions")),
    responses((status = 200, body = Vec<String>), (status = 404, description = "40403 schema not found")))]
pub(crate) async fn get_schema_subjects(
    State(registry): State<Arc<Registry>>,
    visibility: Visibility,
    Path(id): Path<String>,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    let mut subjects: Vec<String> = usages(&registry, &id, &params, &visibility)?
        .into_iter()
        .map(|(subject, _)| subject)
        .collect();
    subjects.dedup();
    Ok(ok(&subjects))
}

#[utoipa::path(get, path = "/schemas/ids/{id}/versions", tag = "schemas",
    params(("id" = i32, Path, description = "Global schema id"),
           ("deleted" = Option<bool>, Query, description = "Include soft-deleted versions")),
    responses((status = 200, body = Vec<SubjectVersion>), (status = 404, description = "40403 schema not found")))]
pub(crate) async fn get_schema_versions(
    State(registry): State<Arc<Registry>>,
    visibility: Visibility,
    Path(id): Path<String>,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    let versions: Vec<SubjectVersion> = usages(&registry, &id, &params, &visibility)?
        .into_iter()
        .map(|(subject, version)| SubjectVersion { subject, version })
        .collect();
    Ok(ok(&versions))
}
