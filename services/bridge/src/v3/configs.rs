//! v3 topic configs: list (one topic or all), get, set, reset, and batch alter.
//!
//! Changes go out as IncrementalAlterConfigs (SET / DELETE of the named keys only) through
//! broker-core's native client, as Confluent's proxy does: two admins changing different
//! keys of one topic at the same instant both win.
//!
//! rust-rdkafka offers only the legacy AlterConfigs, which replaces a topic's whole set of
//! dynamic configs; it remains the path when the native client cannot use the cluster's
//! settings or the broker predates IncrementalAlterConfigs (Kafka < 2.3). There a change is
//! a read-modify-write (describe, keep every `DYNAMIC_TOPIC_CONFIG` entry, apply the
//! change, write the full set back), and a concurrent change to another key can be lost.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use broker_core::BrokerError;
use broker_core::wire::{ConfigChanges, ConfigOperation, ConfigResource, KafkaCode, WireError};
use rdkafka::admin::{AlterConfig, ConfigEntry, ConfigSource, ResourceSpecifier};
use serde::Deserialize;
use serde_json::{Value, json};

use super::topics::{admin_error, admin_options};
use super::{check_cluster, cluster_base, metadata};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, V3Json};
use crate::state::BridgeState;
use edge::TopicOperation;

/// How long a change may take to show in DescribeConfigs before the handler answers anyway.
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Body of `PUT .../configs/{name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateConfigRequest {
    pub value: String,
}

/// What `configs:alter` does with one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum AlterOperation {
    #[default]
    Set,
    Delete,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlterEntry {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub operation: AlterOperation,
}

/// Body of `POST .../configs:alter`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlterConfigsRequest {
    pub data: Vec<AlterEntry>,
    #[serde(default)]
    pub validate_only: bool,
}

fn source_name(source: &ConfigSource) -> &'static str {
    match source {
        ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
        ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
        ConfigSource::Default => "DEFAULT_CONFIG",
        ConfigSource::Unknown => "UNKNOWN",
    }
}

/// The topic's config entries as Kafka describes them; 404 for a missing topic.
async fn describe(state: &BridgeState, topic: &str) -> Result<Vec<ConfigEntry>, ApiError> {
    let results = state
        .admin()
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &admin_options())
        .await
        .map_err(|e| BrokerError::kafka("describe configs", e))?;
    let mut entries = Vec::new();
    for result in results {
        match result {
            Ok(resource) => entries.extend(resource.entries),
            Err(code) => return Err(admin_error(topic, code)),
        }
    }
    // Kafka describes a missing topic as one without configs.
    if entries.is_empty() {
        return Err(admin_error(
            topic,
            rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition,
        ));
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn config_data(base: &str, cluster_id: &str, topic: &str, entry: &ConfigEntry) -> Value {
    let source = source_name(&entry.source);
    // Kafka masks sensitive values itself (null); never echo one that slipped through.
    let value = if entry.is_sensitive {
        None
    } else {
        entry.value.clone()
    };
    json!({
        "kind": "KafkaTopicConfig",
        "metadata": metadata(
            format!("{base}/topics/{topic}/configs/{}", entry.name),
            format!("crn:///kafka={cluster_id}/topic={topic}/config={}", entry.name)),
        "cluster_id": cluster_id,
        "topic_name": topic,
        "name": entry.name,
        "value": value,
        "is_default": entry.is_default,
        "is_read_only": entry.is_read_only,
        "is_sensitive": entry.is_sensitive,
        "source": source,
        // librdkafka does not return synonyms; the entry's own source is the first one.
        "synonyms": [{ "name": entry.name, "value": value, "source": source }],
    })
}

/// Writes `change` on top of the topic's current dynamic configs.
async fn alter(
    state: &BridgeState,
    topic: &str,
    change: &[(String, Option<String>)],
    validate_only: bool,
) -> Result<(), ApiError> {
    let entries = describe(state, topic).await?;
    let known: BTreeMap<&str, &ConfigEntry> =
        entries.iter().map(|e| (e.name.as_str(), e)).collect();
    for (name, _) in change {
        match known.get(name.as_str()) {
            None => {
                return Err(ApiError::plain(
                    StatusCode::NOT_FOUND,
                    format!("Config {name} cannot be found for topic {topic}."),
                ));
            }
            Some(entry) if entry.is_read_only => {
                return Err(ApiError::bad_request(format!(
                    "Config {name} of topic {topic} is read-only."
                )));
            }
            Some(_) => {}
        }
    }
    for (name, value) in change {
        if let Some(value) = value {
            broker_core::topic_configs::check_topic_config(name, value)
                .map_err(ApiError::bad_request)?;
        }
    }
    let incremental = match state.wire() {
        Some(wire) => alter_incrementally(wire, topic, change, validate_only).await,
        None => Err(Fallback),
    };
    match incremental {
        Ok(result) => result?,
        Err(Fallback) => alter_whole_set(state, topic, &entries, change, validate_only).await?,
    }
    if !validate_only {
        settle(state, topic, change).await?;
    }
    Ok(())
}

/// The incremental path is not available; use the legacy one.
struct Fallback;

async fn alter_incrementally(
    wire: &broker_core::wire::WireClient,
    topic: &str,
    change: &[(String, Option<String>)],
    validate_only: bool,
) -> Result<Result<(), ApiError>, Fallback> {
    let request = ConfigChanges {
        resource: ConfigResource::Topic(topic.to_owned()),
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
    let results = match wire
        .incremental_alter_configs(&[request], validate_only)
        .await
    {
        Ok(results) => results,
        Err(error @ WireError::UnsupportedVersion { .. }) => {
            tracing::debug!(%error, "falling back to the legacy AlterConfigs");
            return Err(Fallback);
        }
        Err(other) => return Ok(Err(BrokerError::from(other).into())),
    };
    for result in results {
        if let Err(error) = result {
            return Ok(Err(wire_alter_error(topic, error)));
        }
    }
    Ok(Ok(()))
}

/// Writes `change` on top of the topic's current dynamic configs `entries`.
async fn alter_whole_set(
    state: &BridgeState,
    topic: &str,
    entries: &[ConfigEntry],
    change: &[(String, Option<String>)],
    validate_only: bool,
) -> Result<(), ApiError> {
    let mut wanted: BTreeMap<String, String> = entries
        .iter()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect();
    for (name, value) in change {
        match value {
            Some(value) => wanted.insert(name.clone(), value.clone()),
            None => wanted.remove(name),
        };
    }
    let mut request = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (name, value) in &wanted {
        request = request.set(name, value);
    }
    let results = state
        .admin()
        .alter_configs(&[request], &admin_options().validate_only(validate_only))
        .await
        .map_err(|e| BrokerError::kafka("alter configs", e))?;
    for result in results {
        if let Err((_, code)) = result {
            return Err(alter_error(topic, code));
        }
    }
    Ok(())
}

/// Waits until DescribeConfigs shows the changed keys as written (a `None` key no longer
/// dynamic). A broker applies a config change when it reads the record from the metadata
/// log, a moment after the alter is answered; without the wait a client's next read could
/// see the old values. Only the changed keys are compared: others may change concurrently.
async fn settle(
    state: &BridgeState,
    topic: &str,
    change: &[(String, Option<String>)],
) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    loop {
        let entries = describe(state, topic).await?;
        let dynamic: BTreeMap<&str, &str> = entries
            .iter()
            .filter(|e| e.source == ConfigSource::DynamicTopic)
            .filter_map(|e| Some((e.name.as_str(), e.value.as_deref()?)))
            .collect();
        let applied = change
            .iter()
            .all(|(name, value)| dynamic.get(name.as_str()).copied() == value.as_deref());
        if applied {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(topic, "config change acknowledged but not yet visible");
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn wire_alter_error(topic: &str, error: WireError) -> ApiError {
    match error.code() {
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION) => admin_error(
            topic,
            rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition,
        ),
        Some(
            KafkaCode::INVALID_CONFIG | KafkaCode::INVALID_REQUEST | KafkaCode::POLICY_VIOLATION,
        ) => ApiError::bad_request(format!(
            "Kafka refused the config change of topic {topic}: {error}."
        )),
        _ => BrokerError::from(error).into(),
    }
}

fn alter_error(topic: &str, code: rdkafka::types::RDKafkaErrorCode) -> ApiError {
    use rdkafka::types::RDKafkaErrorCode as C;
    match code {
        C::InvalidConfig | C::InvalidRequest | C::PolicyViolation => ApiError::bad_request(
            format!("Kafka refused the config change of topic {topic}: {code}."),
        ),
        other => admin_error(topic, other),
    }
}

/// List the configs of a topic.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/topics/{topic}/configs", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path)),
    responses((status = 200, description = "KafkaTopicConfigList", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn list_topic_configs(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    let data: Vec<Value> = describe(&state, &topic)
        .await?
        .iter()
        .map(|entry| config_data(&base, &cluster_id, &topic, entry))
        .collect();
    Ok(axum::Json(super::list(
        "KafkaTopicConfigList",
        format!("{base}/topics/{topic}/configs"),
        data,
    )))
}

/// List the configs of every topic the caller may describe.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/topics/-/configs", tag = "v3",
    params(("cluster_id" = String, Path)),
    responses((status = 200, description = "KafkaTopicConfigList", body = Value)))]
pub(crate) async fn list_all_topic_configs(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    let mut topics: Vec<String> = state
        .inspector()
        .metadata(None)
        .await?
        .topics
        .into_iter()
        .map(|t| t.name)
        .filter(|name| caller.may_topic(TopicOperation::Describe, name))
        .collect();
    topics.sort();
    let specifiers: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let mut data = Vec::new();
    // One DescribeConfigs per chunk keeps a cluster with thousands of topics from sending
    // one enormous request.
    for chunk in specifiers.chunks(200) {
        let results = state
            .admin()
            .describe_configs(chunk, &admin_options())
            .await
            .map_err(|e| BrokerError::kafka("describe configs", e))?;
        for resource in results.into_iter().flatten() {
            let rdkafka::admin::OwnedResourceSpecifier::Topic(topic) = &resource.specifier else {
                continue;
            };
            let mut entries = resource.entries.iter().collect::<Vec<_>>();
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            data.extend(
                entries
                    .into_iter()
                    .map(|entry| config_data(&base, &cluster_id, topic, entry)),
            );
        }
    }
    Ok(axum::Json(super::list(
        "KafkaTopicConfigList",
        format!("{base}/topics/-/configs"),
        data,
    )))
}

/// Get one config of a topic.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/topics/{topic}/configs/{name}", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "KafkaTopicConfig", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn get_topic_config(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic, name)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    let entries = describe(&state, &topic).await?;
    let entry = entries.iter().find(|e| e.name == name).ok_or_else(|| {
        ApiError::plain(
            StatusCode::NOT_FOUND,
            format!("Config {name} cannot be found for topic {topic}."),
        )
    })?;
    Ok(axum::Json(config_data(&base, &cluster_id, &topic, entry)))
}

/// Set one config of a topic.
#[utoipa::path(put, path = "/v3/clusters/{cluster_id}/topics/{topic}/configs/{name}", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path), ("name" = String, Path)),
    request_body(content = UpdateConfigRequest, content_type = "application/json"),
    responses((status = 204), (status = 400, body = crate::ErrorBody),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn update_topic_config(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic, name)): ApiPath<(String, String, String)>,
    V3Json(request): V3Json<UpdateConfigRequest>,
) -> Result<StatusCode, ApiError> {
    check_cluster(&state, &cluster_id).await?;
    alter(&state, &topic, &[(name, Some(request.value))], false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reset one config of a topic to its default.
#[utoipa::path(delete, path = "/v3/clusters/{cluster_id}/topics/{topic}/configs/{name}", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn reset_topic_config(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic, name)): ApiPath<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    check_cluster(&state, &cluster_id).await?;
    alter(&state, &topic, &[(name, None)], false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set and reset several configs of a topic at once.
#[utoipa::path(post, path = "/v3/clusters/{cluster_id}/topics/{topic}/configs:alter", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path)),
    request_body(content = AlterConfigsRequest, content_type = "application/json"),
    responses((status = 204), (status = 400, body = crate::ErrorBody),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn alter_topic_configs(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic)): ApiPath<(String, String)>,
    V3Json(request): V3Json<AlterConfigsRequest>,
) -> Result<StatusCode, ApiError> {
    check_cluster(&state, &cluster_id).await?;
    let change = requested_changes(request.data)?;
    alter(&state, &topic, &change, request.validate_only).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The `configs:alter` entries as (name, new value); `None` resets the key.
pub(crate) fn requested_changes(
    entries: Vec<AlterEntry>,
) -> Result<Vec<(String, Option<String>)>, ApiError> {
    entries
        .into_iter()
        .map(|entry| match (entry.operation, entry.value) {
            (AlterOperation::Set, Some(value)) => Ok((entry.name, Some(value))),
            (AlterOperation::Set, None) => Err(ApiError::bad_request(format!(
                "Config {} needs a value to be SET.",
                entry.name
            ))),
            (AlterOperation::Delete, _) => Ok((entry.name, None)),
        })
        .collect()
}
