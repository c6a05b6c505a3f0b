//! `/subjects` and `/subjects/{subject}/…`: listing, registering, lookup, versions and
//! deletes, with Confluent's soft-delete rules (see `registry::plan`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::model::SchemaType;
use crate::registry::Registry;
use crate::registry::plan::{self, RegisterRequest};
use crate::registry::read::{self, SchemaEntity, VersionSelector, config_normalize};
use crate::routes::Visibility;
use crate::routes::body::{JsonBody, Params, QueryParams, flag, ok};
use crate::store::records::SchemaReference;

/// Body of register, lookup and compatibility checks. Unknown fields (`metadata`,
/// `ruleSet`) are accepted and ignored.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SchemaRequest {
    pub(crate) schema: String,
    /// AVRO (default), JSON or PROTOBUF.
    #[serde(default)]
    #[schema(value_type = Option<SchemaType>)]
    pub(crate) schema_type: Option<String>,
    #[serde(default)]
    pub(crate) references: Vec<SchemaReference>,
    /// IMPORT mode only: the id to register under.
    #[serde(default)]
    pub(crate) id: Option<i32>,
    /// IMPORT mode: the version; otherwise it must be the next one.
    #[serde(default)]
    pub(crate) version: Option<i32>,
}

impl SchemaRequest {
    pub(crate) fn schema_type(&self) -> Result<SchemaType, ApiError> {
        match &self.schema_type {
            None => Ok(SchemaType::Avro),
            Some(text) => SchemaType::parse(text)
                .ok_or_else(|| ApiError::invalid_schema(format!("Invalid schema type {text}"))),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RegisteredId {
    id: i32,
}

#[utoipa::path(get, path = "/subjects", tag = "subjects",
    params(("subjectPrefix" = Option<String>, Query, description = "Only subjects starting with it"),
           ("deleted" = Option<bool>, Query, description = "Include soft-deleted subjects"),
           ("deletedOnly" = Option<bool>, Query, description = "Only soft-deleted subjects")),
    responses((status = 200, body = Vec<String>)))]
pub(crate) async fn list_subjects(
    State(registry): State<Arc<Registry>>,
    visibility: Visibility,
    QueryParams(params): QueryParams,
) -> Response {
    let prefix = params.get("subjectPrefix").map_or("", String::as_str);
    let deleted_only = flag(&params, "deletedOnly");
    let state = registry.state();
    let live = state.subjects(false);
    let subjects: Vec<&str> = state
        .subjects(deleted_only || flag(&params, "deleted"))
        .into_iter()
        .filter(|subject| subject.starts_with(prefix) && visibility.sees(subject))
        .filter(|subject| !deleted_only || !live.contains(subject))
        .collect();
    ok(&subjects)
}

#[utoipa::path(get, path = "/subjects/{subject}/versions", tag = "subjects",
    params(("subject" = String, Path), ("deleted" = Option<bool>, Query, description = "Include soft-deleted versions"),
           ("deletedOnly" = Option<bool>, Query, description = "Only soft-deleted versions")),
    responses((status = 200, body = Vec<i32>), (status = 404, description = "40401 subject not found")))]
pub(crate) async fn list_versions(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    let deleted_only = flag(&params, "deletedOnly");
    let include_deleted = deleted_only || flag(&params, "deleted");
    let state = registry.state();
    let versions: Vec<i32> = state
        .versions(&subject)
        .into_iter()
        .filter(|(_, entry)| {
            if deleted_only {
                entry.deleted
            } else {
                include_deleted || !entry.deleted
            }
        })
        .map(|(version, _)| version)
        .collect();
    if versions.is_empty() && !deleted_only {
        return Err(ApiError::subject_not_found(&subject));
    }
    Ok(ok(&versions))
}

#[utoipa::path(post, path = "/subjects/{subject}/versions", tag = "subjects",
    params(("subject" = String, Path), ("normalize" = Option<bool>, Query, description = "Register the normalized form")),
    request_body = SchemaRequest,
    responses((status = 200, body = RegisteredId),
              (status = 409, description = "Incompatible with an earlier schema"),
              (status = 422, description = "42201 invalid schema, 42205 not permitted in this mode"),
              (status = 500, description = "50001-50004 store, timeout, forwarding, unknown primary")))]
pub(crate) async fn register(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
    QueryParams(params): QueryParams,
    JsonBody(body): JsonBody<SchemaRequest>,
) -> Result<Response, ApiError> {
    let normalize = flag(&params, "normalize") || config_normalize(&registry.state(), &subject);
    let request = RegisterRequest {
        schema_type: body.schema_type()?,
        schema: body.schema,
        references: body.references,
        id: body.id,
        version: body.version,
        normalize,
    };
    let (id, _version) = registry.register(&subject, &request).await?;
    Ok(ok(&RegisteredId { id }))
}

/// Whether `schema` is registered under `subject`, and as which version.
#[utoipa::path(post, path = "/subjects/{subject}", tag = "subjects",
    params(("subject" = String, Path), ("normalize" = Option<bool>, Query, description = "Look the normalized form up"),
           ("deleted" = Option<bool>, Query, description = "Also find soft-deleted versions")),
    request_body = SchemaRequest,
    responses((status = 200, body = SchemaEntity),
              (status = 404, description = "40401 subject not found, 40403 schema not found")))]
pub(crate) async fn lookup(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
    QueryParams(params): QueryParams,
    JsonBody(body): JsonBody<SchemaRequest>,
) -> Result<Response, ApiError> {
    let schema_type = body.schema_type()?;
    let state = registry.state();
    let include_deleted = flag(&params, "deleted");
    let versions = state.versions(&subject);
    if !versions.iter().any(|(_, e)| include_deleted || !e.deleted) {
        return Err(ApiError::subject_not_found(&subject));
    }
    let normalize = flag(&params, "normalize") || read::config_normalize(&state, &subject);
    let parsed = registry.parse_submitted(
        &state,
        schema_type,
        &body.schema,
        &body.references,
        normalize,
    )?;
    let mut references = body.references;
    if normalize {
        references.sort();
        references.dedup();
    }
    let (version, entry) =
        plan::find_in_subject(&state, &subject, &parsed, &references, include_deleted)
            .ok_or_else(ApiError::schema_not_found)?;
    Ok(ok(&read::entity(&state, &subject, version, entry)?))
}

#[utoipa::path(get, path = "/subjects/{subject}/versions/{version}", tag = "subjects",
    params(("subject" = String, Path), ("version" = String, Path, description = "1..2^31-1 or `latest`"),
           ("deleted" = Option<bool>, Query, description = "Also return a soft-deleted version"),
           ("format" = Option<String>, Query, description = "`serialized`: a Protobuf schema as its base64 FileDescriptorProto; other values: the stored text")),
    responses((status = 200, body = SchemaEntity),
              (status = 404, description = "40401 subject not found, 40402 version not found"),
              (status = 422, description = "42202 invalid version")))]
pub(crate) async fn get_version(
    State(registry): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    Ok(ok(&version_entity(&registry, &subject, &version, &params)?))
}

fn version_entity(
    registry: &Registry,
    subject: &str,
    version: &str,
    params: &Params,
) -> Result<SchemaEntity, ApiError> {
    let selector = VersionSelector::parse(version)?;
    let state = registry.state();
    let (version, entry) =
        read::select_version(&state, subject, selector, flag(params, "deleted"))?;
    let mut entity = read::entity(&state, subject, version, entry)?;
    if let Some(format) = params.get("format") {
        entity.schema = read::formatted(&state, entity.id, Some(format))?;
    }
    Ok(entity)
}

#[utoipa::path(get, path = "/subjects/{subject}/versions/{version}/schema", tag = "subjects",
    params(("subject" = String, Path), ("version" = String, Path, description = "1..2^31-1 or `latest`")),
    responses((status = 200, description = "The raw schema"),
              (status = 404, description = "40401 subject not found, 40402 version not found")))]
pub(crate) async fn get_version_schema(
    State(registry): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    let entity = version_entity(&registry, &subject, &version, &params)?;
    let mut response = axum::response::IntoResponse::into_response(entity.schema);
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(crate::error::CONTENT_TYPE),
    );
    Ok(response)
}

/// Ids of the live schemas whose references name this version.
#[utoipa::path(get, path = "/subjects/{subject}/versions/{version}/referencedby", tag = "subjects",
    params(("subject" = String, Path), ("version" = String, Path, description = "1..2^31-1 or `latest`")),
    responses((status = 200, body = Vec<i32>),
              (status = 404, description = "40401 subject not found, 40402 version not found")))]
pub(crate) async fn referenced_by(
    State(registry): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let selector = VersionSelector::parse(&version)?;
    let state = registry.state();
    let (version, _) = read::select_version(&state, &subject, selector, false)?;
    Ok(ok(&state.referenced_by(&subject, version)))
}

#[utoipa::path(delete, path = "/subjects/{subject}/versions/{version}", tag = "subjects",
    params(("subject" = String, Path), ("version" = String, Path, description = "1..2^31-1 or `latest`"),
           ("permanent" = Option<bool>, Query, description = "Hard delete (after a soft delete)")),
    responses((status = 200, body = i32),
              (status = 404, description = "40401, 40402, 40406 soft-deleted already, 40407 not soft-deleted first"),
              (status = 422, description = "42202 invalid version, 42205 read-only, 42206 still referenced")))]
pub(crate) async fn delete_version(
    State(registry): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    let selector = VersionSelector::parse(&version)?;
    let version = registry
        .delete_version(&subject, selector, flag(&params, "permanent"))
        .await?;
    Ok(ok(&version))
}

#[utoipa::path(delete, path = "/subjects/{subject}", tag = "subjects",
    params(("subject" = String, Path), ("permanent" = Option<bool>, Query, description = "Hard delete (after a soft delete)")),
    responses((status = 200, body = Vec<i32>),
              (status = 404, description = "40401, 40404 soft-deleted already, 40405 not soft-deleted first"),
              (status = 422, description = "42205 read-only, 42206 still referenced")))]
pub(crate) async fn delete_subject(
    State(registry): State<Arc<Registry>>,
    Path(subject): Path<String>,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    let versions = registry
        .delete_subject(&subject, flag(&params, "permanent"))
        .await?;
    Ok(ok(&versions))
}
