//! v3 broker configs, as Confluent's REST Proxy serves them: the cluster-wide dynamic
//! defaults (`/broker-configs`, a BROKER resource with an empty name) and one broker's
//! configs (`/brokers/{id}/configs`): list, get, set, reset and batch alter.
//!
//! Reads use DescribeConfigs with synonyms and changes IncrementalAlterConfigs, both through
//! broker-core's native client (rust-rdkafka cannot name the cluster-wide resource, and has
//! only the legacy whole-set AlterConfigs). Reading needs `describe` on every topic, changing
//! needs `manage` on every topic (the bridge's cluster administrator).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use broker_core::BrokerError;
use broker_core::wire::{
    ConfigChanges, ConfigOperation, ConfigResource, DescribedConfig, KafkaCode, WireClient,
    WireError,
};
use edge::TopicOperation;
use serde_json::{Value, json};

use super::configs::{AlterConfigsRequest, UpdateConfigRequest, requested_changes};
use super::{cluster_base, list, metadata};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, V3Json};
use crate::state::BridgeState;

/// Which configs a request is about.
#[derive(Debug, Clone, Copy)]
enum Scope {
    Cluster,
    Broker(i32),
}

impl Scope {
    fn resource(self) -> ConfigResource {
        match self {
            Self::Cluster => ConfigResource::BrokerDefaults,
            Self::Broker(id) => ConfigResource::Broker(id),
        }
    }

    fn path(self, base: &str) -> String {
        match self {
            Self::Cluster => format!("{base}/broker-configs"),
            Self::Broker(id) => format!("{base}/brokers/{id}/configs"),
        }
    }

    fn not_found(self, cluster_id: &str, name: &str) -> ApiError {
        let owner = match self {
            Self::Cluster => format!("cluster {cluster_id}"),
            Self::Broker(id) => format!("broker {id}"),
        };
        ApiError::plain(
            StatusCode::NOT_FOUND,
            format!("Config {name} cannot be found for {owner}."),
        )
    }

    fn data(self, base: &str, cluster_id: &str, config: &DescribedConfig) -> Value {
        let synonyms: Vec<Value> = config
            .synonyms
            .iter()
            .map(|(name, value, source)| json!({"name": name, "value": value, "source": source}))
            .collect();
        let mut data = match self {
            Self::Cluster => json!({
                "kind": "KafkaClusterConfig",
                "metadata": metadata(
                    format!("{base}/broker-configs/{}", config.name),
                    format!("crn:///kafka={cluster_id}/broker-config={}", config.name)),
                "cluster_id": cluster_id,
                "config_type": "BROKER",
            }),
            Self::Broker(id) => json!({
                "kind": "KafkaBrokerConfig",
                "metadata": metadata(
                    format!("{base}/brokers/{id}/configs/{}", config.name),
                    format!("crn:///kafka={cluster_id}/broker={id}/config={}", config.name)),
                "cluster_id": cluster_id,
                "broker_id": id,
            }),
        };
        let fields = json!({
            "name": config.name,
            "value": config.value,
            "is_default": config.is_default(),
            "is_read_only": config.read_only,
            "is_sensitive": config.sensitive,
            "source": config.source,
            "synonyms": synonyms,
        });
        if let (Value::Object(data), Value::Object(fields)) = (&mut data, fields) {
            data.extend(fields);
        }
        data
    }
}

fn wire(state: &BridgeState) -> Result<&WireClient, ApiError> {
    state.wire().ok_or_else(|| {
        ApiError::plain(
            StatusCode::NOT_IMPLEMENTED,
            "Broker configs need the native Kafka client, which cannot use this cluster's security settings.",
        )
    })
}

/// 404 for a broker id the cluster does not have.
async fn check_broker(state: &BridgeState, scope: Scope) -> Result<(), ApiError> {
    let Scope::Broker(id) = scope else {
        return Ok(());
    };
    let brokers = state.inspector().metadata(None).await?.brokers;
    if brokers.iter().any(|broker| broker.id == id) {
        Ok(())
    } else {
        Err(ApiError::plain(
            StatusCode::NOT_FOUND,
            format!("Broker {id} cannot be found."),
        ))
    }
}

fn config_error(scope: Scope, error: WireError) -> ApiError {
    match error.code() {
        Some(
            KafkaCode::INVALID_CONFIG | KafkaCode::INVALID_REQUEST | KafkaCode::POLICY_VIOLATION,
        ) => {
            let owner = match scope {
                Scope::Cluster => "the cluster-wide broker configs".to_owned(),
                Scope::Broker(id) => format!("broker {id}"),
            };
            ApiError::bad_request(format!(
                "Kafka refused the config change of {owner}: {error}."
            ))
        }
        Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED) => {
            ApiError::forbidden(format!("Kafka refused the config request: {error}."))
        }
        _ => BrokerError::from(error).into(),
    }
}

async fn describe(state: &BridgeState, scope: Scope) -> Result<Vec<DescribedConfig>, ApiError> {
    check_broker(state, scope).await?;
    wire(state)?
        .describe_configs(&scope.resource())
        .await
        .map_err(|error| config_error(scope, error))
}

async fn list_configs(
    state: &BridgeState,
    cluster_id: &str,
    headers: &HeaderMap,
    caller: &Caller,
    scope: Scope,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require_every_topic(TopicOperation::Describe)?;
    let (cluster_id, base) = cluster_base(state, cluster_id, headers).await?;
    let data = describe(state, scope)
        .await?
        .iter()
        .map(|config| scope.data(&base, &cluster_id, config))
        .collect();
    let kind = match scope {
        Scope::Cluster => "KafkaClusterConfigList",
        Scope::Broker(_) => "KafkaBrokerConfigList",
    };
    Ok(axum::Json(list(kind, scope.path(&base), data)))
}

async fn get_config(
    state: &BridgeState,
    cluster_id: &str,
    headers: &HeaderMap,
    caller: &Caller,
    scope: Scope,
    name: &str,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require_every_topic(TopicOperation::Describe)?;
    let (cluster_id, base) = cluster_base(state, cluster_id, headers).await?;
    let configs = describe(state, scope).await?;
    let config = configs
        .iter()
        .find(|config| config.name == name)
        .ok_or_else(|| scope.not_found(&cluster_id, name))?;
    Ok(axum::Json(scope.data(&base, &cluster_id, config)))
}

async fn alter(
    state: &BridgeState,
    cluster_id: &str,
    headers: &HeaderMap,
    caller: &Caller,
    scope: Scope,
    change: Vec<(String, Option<String>)>,
    validate_only: bool,
) -> Result<StatusCode, ApiError> {
    caller.require_every_topic(TopicOperation::Manage)?;
    cluster_base(state, cluster_id, headers).await?;
    check_broker(state, scope).await?;
    let request = ConfigChanges {
        resource: scope.resource(),
        operations: change
            .iter()
            .map(|(name, value)| {
                let operation = value
                    .clone()
                    .map_or(ConfigOperation::Delete, ConfigOperation::Set);
                (name.clone(), operation)
            })
            .collect(),
    };
    let results = wire(state)?
        .incremental_alter_configs(&[request], validate_only)
        .await
        .map_err(|error| config_error(scope, error))?;
    for result in results {
        result.map_err(|error| config_error(scope, error))?;
    }
    if !validate_only {
        settle(state, scope, &change).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Waits (up to 5 s) until DescribeConfigs shows the changed keys as written, as the topic
/// configs do: a broker applies a config change when it reads it from the metadata log, a
/// moment after the alter is answered, and a client's next read must see its write.
async fn settle(
    state: &BridgeState,
    scope: Scope,
    change: &[(String, Option<String>)],
) -> Result<(), ApiError> {
    let dynamic_source = match scope {
        Scope::Cluster => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        Scope::Broker(_) => "DYNAMIC_BROKER_CONFIG",
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let configs = describe(state, scope).await?;
        let applied = change.iter().all(|(name, value)| {
            let written = configs
                .iter()
                .find(|c| c.name == *name && c.source == dynamic_source)
                .map(|c| c.value.as_deref());
            match value {
                // A sensitive value is described as null: its presence is what shows.
                Some(value) => written.is_some_and(|w| w.is_none_or(|w| w == value)),
                None => written.is_none(),
            }
        });
        if applied || tokio::time::Instant::now() >= deadline {
            if !applied {
                tracing::warn!(
                    ?scope,
                    "broker config change acknowledged but not yet visible"
                );
            }
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// List the cluster-wide dynamic broker configs.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/broker-configs", tag = "v3",
    params(("cluster_id" = String, Path)),
    responses((status = 200, description = "KafkaClusterConfigList", body = Value),
        (status = 403, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn list_cluster_configs(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    list_configs(&state, &cluster_id, &headers, &caller, Scope::Cluster).await
}

/// Get one cluster-wide dynamic broker config.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/broker-configs/{name}", tag = "v3",
    params(("cluster_id" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "KafkaClusterConfig", body = Value),
        (status = 403, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn get_cluster_config(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, name)): ApiPath<(String, String)>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    get_config(
        &state,
        &cluster_id,
        &headers,
        &caller,
        Scope::Cluster,
        &name,
    )
    .await
}

/// Set one cluster-wide broker config.
#[utoipa::path(put, path = "/v3/clusters/{cluster_id}/broker-configs/{name}", tag = "v3",
    params(("cluster_id" = String, Path), ("name" = String, Path)),
    request_body(content = UpdateConfigRequest, content_type = "application/json"),
    responses((status = 204), (status = 400, body = crate::ErrorBody),
        (status = 403, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn update_cluster_config(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, name)): ApiPath<(String, String)>,
    headers: HeaderMap,
    caller: Caller,
    V3Json(request): V3Json<UpdateConfigRequest>,
) -> Result<StatusCode, ApiError> {
    let change = vec![(name, Some(request.value))];
    alter(
        &state,
        &cluster_id,
        &headers,
        &caller,
        Scope::Cluster,
        change,
        false,
    )
    .await
}

/// Reset one cluster-wide broker config.
#[utoipa::path(delete, path = "/v3/clusters/{cluster_id}/broker-configs/{name}", tag = "v3",
    params(("cluster_id" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 403, body = crate::ErrorBody),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn reset_cluster_config(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, name)): ApiPath<(String, String)>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let change = vec![(name, None)];
    alter(
        &state,
        &cluster_id,
        &headers,
        &caller,
        Scope::Cluster,
        change,
        false,
    )
    .await
}

/// Set and reset several cluster-wide broker configs at once.
#[utoipa::path(post, path = "/v3/clusters/{cluster_id}/broker-configs:alter", tag = "v3",
    params(("cluster_id" = String, Path)),
    request_body(content = AlterConfigsRequest, content_type = "application/json"),
    responses((status = 204), (status = 400, body = crate::ErrorBody),
        (status = 403, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn alter_cluster_configs(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    headers: HeaderMap,
    caller: Caller,
    V3Json(request): V3Json<AlterConfigsRequest>,
) -> Result<StatusCode, ApiError> {
    let change = requested_changes(request.data)?;
    let validate_only = request.validate_only;
    alter(
        &state,
        &cluster_id,
        &headers,
        &caller,
        Scope::Cluster,
        change,
        validate_only,
    )
    .await
}

/// List one broker's configs.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/brokers/{broker_id}/configs", tag = "v3",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path)),
    responses((status = 200, description = "KafkaBrokerConfigList", body = Value),
        (status = 403, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn list_broker_configs(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, broker_id)): ApiPath<(String, i32)>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    list_configs(
        &state,
        &cluster_id,
        &headers,
        &caller,
        Scope::Broker(broker_id),
    )
    .await
}

/// Get one config of a broker.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/brokers/{broker_id}/configs/{name}", tag = "v3",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path), ("name" = String, Path)),
    responses((status = 200, description = "KafkaBrokerConfig", body = Value),
        (status = 403, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn get_broker_config(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, broker_id, name)): ApiPath<(String, i32, String)>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let scope = Scope::Broker(broker_id);
    get_config(&state, &cluster_id, &headers, &caller, scope, &name).await
}

/// Set one config of a broker.
#[utoipa::path(put, path = "/v3/clusters/{cluster_id}/brokers/{broker_id}/configs/{name}", tag = "v3",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path), ("name" = String, Path)),
    request_body(content = UpdateConfigRequest, content_type = "application/json"),
    responses((status = 204), (status = 400, body = crate::ErrorBody),
        (status = 403, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn update_broker_config(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, broker_id, name)): ApiPath<(String, i32, String)>,
    headers: HeaderMap,
    caller: Caller,
    V3Json(request): V3Json<UpdateConfigRequest>,
) -> Result<StatusCode, ApiError> {
    let change = vec![(name, Some(request.value))];
    let scope = Scope::Broker(broker_id);
    alter(&state, &cluster_id, &headers, &caller, scope, change, false).await
}

/// Reset one config of a broker.
#[utoipa::path(delete, path = "/v3/clusters/{cluster_id}/brokers/{broker_id}/configs/{name}", tag = "v3",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path), ("name" = String, Path)),
    responses((status = 204), (status = 403, body = crate::ErrorBody),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn reset_broker_config(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, broker_id, name)): ApiPath<(String, i32, String)>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let scope = Scope::Broker(broker_id);
    alter(
        &state,
        &cluster_id,
        &headers,
        &caller,
        scope,
        vec![(name, None)],
        false,
    )
    .await
}

/// Set and reset several configs of a broker at once.
#[utoipa::path(post, path = "/v3/clusters/{cluster_id}/brokers/{broker_id}/configs:alter", tag = "v3",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path)),
    request_body(content = AlterConfigsRequest, content_type = "application/json"),
    responses((status = 204), (status = 400, body = crate::ErrorBody),
        (status = 403, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn alter_broker_configs(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, broker_id)): ApiPath<(String, i32)>,
    headers: HeaderMap,
    caller: Caller,
    V3Json(request): V3Json<AlterConfigsRequest>,
) -> Result<StatusCode, ApiError> {
    let change = requested_changes(request.data)?;
    let scope = Scope::Broker(broker_id);
    alter(
        &state,
        &cluster_id,
        &headers,
        &caller,
        scope,
        change,
        request.validate_only,
    )
    .await
}
