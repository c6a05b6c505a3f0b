//! v3 ACLs: `GET`/`POST`/`DELETE /v3/clusters/{c}/acls` and `POST …/acls:batch`, as
//! Confluent's REST Proxy serves them, over broker-core's native DescribeAcls /
//! CreateAcls / DeleteAcls (rust-rdkafka has no ACL calls).
//!
//! Who may: listing needs `describe` on every topic, changes need `manage` on every topic
//! (the bridge's own ACLs have no cluster resource; a principal that may manage every topic
//! is its cluster administrator).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use broker_core::BrokerError;
use broker_core::wire::{
    AclBinding, AclBindingFilter, AclOperation, AclPermission, KafkaCode, PatternType,
    ResourceType, WireClient, WireError,
};
use edge::TopicOperation;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{cluster_base, list};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, V3Json};
use crate::state::BridgeState;

/// Body of `POST …/acls`: one binding, every field required.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAclRequest {
    /// Read in any case.
    #[schema(value_type = AclResourceType)]
    pub resource_type: String,
    /// Not empty (Kafka refuses an empty name).
    #[schema(min_length = 1)]
    pub resource_name: String,
    /// Read in any case.
    #[schema(value_type = AclPatternType)]
    pub pattern_type: String,
    /// `User:alice`: a type, `:`, a name.
    #[schema(pattern = "^[^:]+:.+$")]
    pub principal: String,
    /// `*` or an address.
    pub host: String,
    /// Read in any case.
    #[schema(value_type = AclOperationName)]
    pub operation: String,
    /// Read in any case.
    #[schema(value_type = AclPermissionName)]
    pub permission: String,
}

// The values of the ACL fields, as Kafka names them (documentation only: the handlers
// read strings and parse them with `parse_code`). A filter also takes ANY (and MATCH for
// the pattern type).

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
pub(crate) enum AclResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
    DelegationToken,
    User,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
pub(crate) enum AclPatternType {
    Literal,
    Prefixed,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
pub(crate) enum AclOperationName {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    CreateTokens,
    DescribeTokens,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
pub(crate) enum AclPermissionName {
    Allow,
    Deny,
}

/// A filter value: one of the binding values, or ANY.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
pub(crate) enum AclAny {
    Any,
}

/// MATCH: literal, wildcard and prefixed bindings that match the name.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
pub(crate) enum AclMatch {
    Match,
}

#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum AclFilterResourceType {
    Any(AclAny),
    Value(AclResourceType),
}

/// The resource type of a delete: required, so that a query cannot delete every ACL.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum AclDeleteResourceType {
    Any(AclAny),
    Value(AclResourceType),
}

#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum AclFilterPatternType {
    Any(AclAny),
    Match(AclMatch),
    Value(AclPatternType),
}

#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum AclFilterOperation {
    Any(AclAny),
    Value(AclOperationName),
}

#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum AclFilterPermission {
    Any(AclAny),
    Value(AclPermissionName),
}

/// Body of `POST …/acls:batch`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAclBatchRequest {
    pub data: Vec<CreateAclRequest>,
}

/// The filter query of `GET` and `DELETE …/acls`; unset enums mean ANY.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AclFilterQuery {
    /// ANY (default), TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, DELEGATION_TOKEN, USER;
    /// required to delete (and not ANY), so a query cannot delete every ACL.
    #[param(value_type = Option<AclFilterResourceType>)]
    pub resource_type: Option<String>,
    pub resource_name: Option<String>,
    /// ANY (default), MATCH, LITERAL, PREFIXED.
    #[param(value_type = Option<AclFilterPatternType>)]
    pub pattern_type: Option<String>,
    pub principal: Option<String>,
    pub host: Option<String>,
    /// ANY (default) or an operation.
    #[param(value_type = Option<AclFilterOperation>)]
    pub operation: Option<String>,
    /// ANY (default), ALLOW, DENY.
    #[param(value_type = Option<AclFilterPermission>)]
    pub permission: Option<String>,
}

impl AclFilterQuery {
    /// The query's pairs, set ones only, in a stable order (for `metadata.self`).
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("resource_type", &self.resource_type),
            ("resource_name", &self.resource_name),
            ("pattern_type", &self.pattern_type),
            ("principal", &self.principal),
            ("host", &self.host),
            ("operation", &self.operation),
            ("permission", &self.permission),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| (name, v.clone()))
        })
        .collect()
    }
}

/// A protocol enum from its name, the way Java's `valueOf` reads it (case-insensitive
/// here, as Confluent's query parameters are).
fn parse_code<T: std::fmt::Display>(
    field: &str,
    text: &str,
    from_code: fn(i8) -> T,
) -> Result<T, ApiError> {
    (1..=20)
        .map(from_code)
        .find(|candidate| candidate.to_string().eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| ApiError::bad_request(format!("Invalid value '{text}' for {field}.")))
}

fn binding(request: &CreateAclRequest) -> Result<AclBinding, ApiError> {
    let binding = AclBinding {
        resource_type: parse_code(
            "resource_type",
            &request.resource_type,
            ResourceType::from_code,
        )?,
        resource_name: request.resource_name.clone(),
        pattern_type: parse_code(
            "pattern_type",
            &request.pattern_type,
            PatternType::from_code,
        )?,
        principal: request.principal.clone(),
        host: request.host.clone(),
        operation: parse_code("operation", &request.operation, AclOperation::from_code)?,
        permission: parse_code("permission", &request.permission, AclPermission::from_code)?,
    };
    // A binding names one thing: the filter-only values are not bindings.
    if binding.resource_type == ResourceType::Any
        || matches!(binding.pattern_type, PatternType::Any | PatternType::Match)
        || binding.operation == AclOperation::Any
        || binding.permission == AclPermission::Any
    {
        return Err(ApiError::bad_request(
            "ANY and MATCH are filters, not values of an ACL: name the resource type, pattern type, operation and permission.",
        ));
    }
    Ok(binding)
}

/// The filter a query describes; unset enums mean ANY.
fn filter(query: &AclFilterQuery) -> Result<AclBindingFilter, ApiError> {
    fn set(value: &Option<String>) -> Option<&str> {
        value.as_deref().filter(|v| !v.is_empty())
    }
    fn code<T>(
        field: &str,
        value: &Option<String>,
        from_code: fn(i8) -> T,
        any: T,
    ) -> Result<T, ApiError>
    where
        T: std::fmt::Display,
    {
        // An empty value is not ANY: it is refused as Confluent refuses it.
        value
            .as_deref()
            .map_or(Ok(any), |v| parse_code(field, v, from_code))
    }
    Ok(AclBindingFilter {
        resource_type: code(
            "resource_type",
            &query.resource_type,
            ResourceType::from_code,
            ResourceType::Any,
        )?,
        resource_name: set(&query.resource_name).map(str::to_owned),
        pattern_type: code(
            "pattern_type",
            &query.pattern_type,
            PatternType::from_code,
            PatternType::Any,
        )?,
        principal: set(&query.principal).map(str::to_owned),
        host: set(&query.host).map(str::to_owned),
        operation: code(
            "operation",
            &query.operation,
            AclOperation::from_code,
            AclOperation::Any,
        )?,
        permission: code(
            "permission",
            &query.permission,
            AclPermission::from_code,
            AclPermission::Any,
        )?,
    })
}

fn acl_data(base: &str, cluster_id: &str, acl: &AclBinding) -> Value {
    let query = url_query(&[
        ("resource_type", acl.resource_type.to_string()),
        ("resource_name", acl.resource_name.clone()),
        ("pattern_type", acl.pattern_type.to_string()),
        ("principal", acl.principal.clone()),
        ("host", acl.host.clone()),
        ("operation", acl.operation.to_string()),
        ("permission", acl.permission.to_string()),
    ]);
    json!({
        "kind": "KafkaAcl",
        "metadata": { "self": format!("{base}/acls?{query}") },
        "cluster_id": cluster_id,
        "resource_type": acl.resource_type.to_string(),
        "resource_name": acl.resource_name,
        "pattern_type": acl.pattern_type.to_string(),
        "principal": acl.principal,
        "host": acl.host,
        "operation": acl.operation.to_string(),
        "permission": acl.permission.to_string(),
    })
}

fn url_query(pairs: &[(&str, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

fn wire(state: &BridgeState) -> Result<&WireClient, ApiError> {
    state.wire().ok_or_else(|| {
        ApiError::plain(
            StatusCode::NOT_IMPLEMENTED,
            "ACLs need the native Kafka client, which cannot use this cluster's security settings.",
        )
    })
}

fn acl_error(error: WireError) -> ApiError {
    match error.code() {
        Some(KafkaCode::SECURITY_DISABLED) => ApiError::bad_request(
            "No authorizer is configured on the Kafka cluster (Security features are disabled).",
        ),
        Some(KafkaCode::INVALID_REQUEST) => {
            ApiError::bad_request(format!("Kafka refused the ACL request: {error}."))
        }
        Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED) => {
            ApiError::forbidden(format!("Kafka refused the ACL request: {error}."))
        }
        _ => BrokerError::from(error).into(),
    }
}

/// List the ACLs matching the query.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/acls", tag = "v3",
    params(("cluster_id" = String, Path), AclFilterQuery),
    responses((status = 200, description = "KafkaAclList", body = Value),
        (status = 400, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn list_acls(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AclFilterQuery>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require_every_topic(TopicOperation::Describe)?;
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    let filter = filter(&query)?;
    let mut acls = wire(&state)?
        .describe_acls(&filter)
        .await
        .map_err(acl_error)?;
    acls.sort();
    let data = acls
        .iter()
        .map(|acl| acl_data(&base, &cluster_id, acl))
        .collect();
    let pairs = query.pairs();
    let self_url = if pairs.is_empty() {
        format!("{base}/acls")
    } else {
        format!("{base}/acls?{}", url_query(&pairs))
    };
    Ok(axum::Json(list("KafkaAclList", self_url, data)))
}

async fn create(
    state: &BridgeState,
    cluster_id: &str,
    headers: &HeaderMap,
    caller: &Caller,
    requests: &[CreateAclRequest],
) -> Result<(), ApiError> {
    caller.require_every_topic(TopicOperation::Manage)?;
    cluster_base(state, cluster_id, headers).await?;
    let bindings = requests
        .iter()
        .map(binding)
        .collect::<Result<Vec<_>, _>>()?;
    let results = wire(state)?
        .create_acls(&bindings)
        .await
        .map_err(acl_error)?;
    results
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), |error| Err(acl_error(error)))
}

/// Create one ACL.
#[utoipa::path(post, path = "/v3/clusters/{cluster_id}/acls", tag = "v3",
    params(("cluster_id" = String, Path)), request_body = CreateAclRequest,
    responses((status = 201, description = "Created"),
        (status = 400, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn create_acl(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    headers: HeaderMap,
    caller: Caller,
    V3Json(request): V3Json<CreateAclRequest>,
) -> Result<StatusCode, ApiError> {
    create(&state, &cluster_id, &headers, &caller, &[request]).await?;
    Ok(StatusCode::CREATED)
}

/// Create several ACLs in one request.
#[utoipa::path(post, path = "/v3/clusters/{cluster_id}/acls:batch", tag = "v3",
    params(("cluster_id" = String, Path)), request_body = CreateAclBatchRequest,
    responses((status = 201, description = "Created"),
        (status = 400, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn create_acls(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    headers: HeaderMap,
    caller: Caller,
    V3Json(request): V3Json<CreateAclBatchRequest>,
) -> Result<StatusCode, ApiError> {
    create(&state, &cluster_id, &headers, &caller, &request.data).await?;
    Ok(StatusCode::CREATED)
}

/// Delete the ACLs matching the query; answers the deleted ones. `resource_type` is
/// required, so an empty query cannot delete every ACL of the cluster.
#[utoipa::path(delete, path = "/v3/clusters/{cluster_id}/acls", tag = "v3",
    params(("cluster_id" = String, Path),
        ("resource_type" = AclDeleteResourceType, Query, description = "Required: ANY or a resource type"),
        ("resource_name" = Option<String>, Query),
        ("pattern_type" = Option<AclFilterPatternType>, Query, description = "ANY (default), MATCH, LITERAL, PREFIXED"),
        ("principal" = Option<String>, Query),
        ("host" = Option<String>, Query),
        ("operation" = Option<AclFilterOperation>, Query, description = "ANY (default) or an operation"),
        ("permission" = Option<AclFilterPermission>, Query, description = "ANY (default), ALLOW, DENY")),
    responses((status = 200, description = "`{\"data\": [KafkaAcl]}`: the deleted ACLs", body = Value),
        (status = 400, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn delete_acls(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AclFilterQuery>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require_every_topic(TopicOperation::Manage)?;
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    if query.resource_type.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request("resource_type is required."));
    }
    let filter = filter(&query)?;
    let results = wire(&state)?
        .delete_acls(std::slice::from_ref(&filter))
        .await
        .map_err(acl_error)?;
    let mut deleted = Vec::new();
    for result in results {
        deleted.extend(result.map_err(acl_error)?);
    }
    deleted.sort();
    let data: Vec<Value> = deleted
        .iter()
        .map(|acl| acl_data(&base, &cluster_id, acl))
        .collect();
    Ok(axum::Json(json!({ "data": data })))
}
