//! v3 topics: list, create, describe, grow (partitions_count), delete.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use broker_core::BrokerError;
use edge::TopicOperation;
use rdkafka::admin::{AdminOptions, NewPartitions, NewTopic, TopicReplication};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{check_cluster, cluster_url, metadata, related};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, V3Json};
use crate::state::BridgeState;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct TopicConfig {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateTopicRequest {
    /// Kafka's legal topic names: 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`.
    #[schema(pattern = "^(?!\\.\\.?$)[a-zA-Z0-9._-]{1,249}$")]
    pub topic_name: String,
    #[serde(default)]
    pub partitions_count: Option<i32>,
    #[serde(default)]
    pub replication_factor: Option<i32>,
    #[serde(default)]
    pub configs: Vec<TopicConfig>,
    #[serde(default)]
    pub validate_only: bool,
}

/// Body of `PATCH .../topics/{topic}`: Kafka can only add partitions.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdatePartitionCountRequest {
    pub partitions_count: i32,
}

fn topic_data(
    headers: &HeaderMap,
    cluster_id: &str,
    info: &broker_core::metadata::TopicInfo,
) -> Value {
    let url = format!("{}/topics/{}", cluster_url(headers, cluster_id), info.name);
    json!({
        "kind": "KafkaTopic",
        "metadata": metadata(url.clone(), format!("crn:///kafka={cluster_id}/topic={}", info.name)),
        "cluster_id": cluster_id,
        "topic_name": info.name,
        "is_internal": info.is_internal(),
        "replication_factor": info.partitions.first().map_or(0, |p| p.replicas.len()),
        "partitions_count": info.partitions.len(),
        "partitions": related(format!("{url}/partitions")),
        "configs": related(format!("{url}/configs")),
        "partition_reassignments": related(format!("{url}/partitions/-/reassignment")),
    })
}

pub(crate) fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .operation_timeout(Some(ADMIN_TIMEOUT))
        .request_timeout(Some(ADMIN_TIMEOUT))
}

pub(crate) fn admin_error(topic: &str, code: rdkafka::types::RDKafkaErrorCode) -> ApiError {
    use rdkafka::types::RDKafkaErrorCode as C;
    match code {
        C::UnknownTopicOrPartition => ApiError::plain(
            StatusCode::NOT_FOUND,
            format!("This server does not host this topic-partition: {topic}."),
        ),
        C::TopicAlreadyExists => ApiError::plain(
            StatusCode::CONFLICT,
            format!("Topic '{topic}' already exists."),
        ),
        C::InvalidPartitions
        | C::InvalidReplicationFactor
        | C::InvalidReplicaAssignment
        | C::InvalidConfig
        | C::InvalidTopic
        | C::PolicyViolation => ApiError::bad_request(format!(
            "Kafka refused the request for topic {topic}: {code}."
        )),
        other => {
            let error = ApiError::from(BrokerError::Resource {
                operation: "topic administration",
                resource: topic.to_owned(),
                code: other,
            });
            ApiError::plain(error.status, error.message)
        }
    }
}

/// List topics.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/topics", tag = "v3",
    params(("cluster_id" = String, Path)),
    responses((status = 200, description = "KafkaTopicList", body = Value)))]
pub(crate) async fn list_topics(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let mut topics = state.inspector().metadata(None).await?.topics;
    topics.retain(|t| caller.may_topic(TopicOperation::Describe, &t.name));
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let data: Vec<Value> = topics
        .iter()
        .map(|t| topic_data(&headers, &cluster_id, t))
        .collect();
    Ok(axum::Json(super::list(
        "KafkaTopicList",
        format!("{}/topics", cluster_url(&headers, &cluster_id)),
        data,
    )))
}

/// Refuses a partition count above `[bridge] max_partitions_per_topic` (400).
pub(crate) fn check_partition_limit(state: &BridgeState, partitions: i32) -> Result<(), ApiError> {
    match state.config().max_partitions_per_topic {
        Some(limit) if i64::from(partitions) > i64::from(limit) => {
            Err(ApiError::bad_request(format!(
                "partitions_count {partitions} is more than this gateway allows per topic \
                 ({limit}, [bridge] max_partitions_per_topic)."
            )))
        }
        _ => Ok(()),
    }
}

/// Create a topic.
#[utoipa::path(post, path = "/v3/clusters/{cluster_id}/topics", tag = "v3",
    params(("cluster_id" = String, Path)),
    request_body(content = CreateTopicRequest, content_type = "application/json"),
    responses((status = 201, description = "KafkaTopic", body = Value),
        (status = 400, body = crate::ErrorBody), (status = 409, body = crate::ErrorBody)))]
pub(crate) async fn create_topic(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    headers: HeaderMap,
    caller: Caller,
    V3Json(request): V3Json<CreateTopicRequest>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let name = request.topic_name.as_str();
    caller.require_topic(TopicOperation::Manage, name)?;
    let partitions = request.partitions_count.unwrap_or(1);
    if partitions < 1 {
        return Err(ApiError::bad_request(
            "partitions_count must be at least 1.",
        ));
    }
    check_partition_limit(&state, partitions)?;
    let replication = request
        .replication_factor
        .map_or(TopicReplication::Fixed(-1), TopicReplication::Fixed);
    let mut topic = NewTopic::new(name, partitions, replication);
    for config in &request.configs {
        if let Some(value) = &config.value {
            broker_core::topic_configs::check_topic_config(&config.name, value)
                .map_err(ApiError::bad_request)?;
            topic = topic.set(&config.name, value);
        }
    }
    let options = admin_options().validate_only(request.validate_only);
    let results = state
        .admin()
        .create_topics(&[topic], &options)
        .await
        .map_err(|e| BrokerError::kafka("create topic", e))?;
    for result in results {
        if let Err((topic, code)) = result {
            return Err(admin_error(&topic, code));
        }
    }
    if !request.validate_only {
        await_metadata(&state, name, usize::try_from(partitions).unwrap_or(1)).await;
    }
    let url = format!("{}/topics/{name}", cluster_url(&headers, &cluster_id));
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "kind": "KafkaTopic",
            "metadata": metadata(url.clone(), format!("crn:///kafka={cluster_id}/topic={name}")),
            "cluster_id": cluster_id,
            "topic_name": name,
            "is_internal": false,
            "partitions_count": partitions,
            "replication_factor": request.replication_factor.unwrap_or(0),
            "partitions": related(format!("{url}/partitions")),
            "configs": related(format!("{url}/configs")),
        })),
    ))
}

/// Waits (at most 5 s) until metadata shows `topic` with `partitions` partitions: brokers
/// learn of a new topic or partition from the metadata log a moment after the admin
/// request answers, and a client's next request (describe, produce) must find it.
async fn await_metadata(state: &BridgeState, topic: &str, partitions: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        state.forget_topic(topic);
        let visible = state
            .topic(topic)
            .await
            .is_ok_and(|info| info.partitions.len() >= partitions);
        if visible || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Describe a topic.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/topics/{topic}", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path)),
    responses((status = 200, description = "KafkaTopic", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn get_topic(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let info = state
        .topic(&topic)
        .await
        .map_err(|e| ApiError::plain(e.status, e.message))?;
    Ok(axum::Json(topic_data(&headers, &cluster_id, &info)))
}

/// Raise the partition count of a topic.
#[utoipa::path(patch, path = "/v3/clusters/{cluster_id}/topics/{topic}", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path)),
    request_body(content = UpdatePartitionCountRequest, content_type = "application/json"),
    responses((status = 200, description = "KafkaTopic", body = Value),
        (status = 400, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn update_partition_count(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic)): ApiPath<(String, String)>,
    headers: HeaderMap,
    V3Json(request): V3Json<UpdatePartitionCountRequest>,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let current = state
        .topic(&topic)
        .await
        .map_err(|e| ApiError::plain(e.status, e.message))?;
    let have = current.partitions.len();
    let wanted = usize::try_from(request.partitions_count).unwrap_or(0);
    if wanted < have {
        return Err(ApiError::bad_request(format!(
            "Topic {topic} has {have} partitions; partitions_count {} would remove some, \
             and Kafka can only add partitions.",
            request.partitions_count
        )));
    }
    if wanted > have {
        check_partition_limit(&state, request.partitions_count)?;
        let results = state
            .admin()
            .create_partitions(&[NewPartitions::new(&topic, wanted)], &admin_options())
            .await
            .map_err(|e| BrokerError::kafka("create partitions", e))?;
        for result in results {
            if let Err((topic, code)) = result {
                return Err(admin_error(&topic, code));
            }
        }
        await_metadata(&state, &topic, wanted).await;
    }
    // Should metadata still lag after the wait, answer with the count that was asked for
    // and acknowledged rather than a stale one.
    let info = state
        .topic(&topic)
        .await
        .map_err(|e| ApiError::plain(e.status, e.message))?;
    let mut data = topic_data(&headers, &cluster_id, &info);
    if info.partitions.len() < wanted {
        data["partitions_count"] = json!(wanted);
    }
    Ok(axum::Json(data))
}

/// Delete a topic.
#[utoipa::path(delete, path = "/v3/clusters/{cluster_id}/topics/{topic}", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path)),
    responses((status = 204), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn delete_topic(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    check_cluster(&state, &cluster_id).await?;
    let results = state
        .admin()
        .delete_topics(&[topic.as_str()], &admin_options())
        .await
        .map_err(|e| BrokerError::kafka("delete topic", e))?;
    for result in results {
        if let Err((topic, code)) = result {
            return Err(admin_error(&topic, code));
        }
    }
    state.forget_topic(&topic);
    Ok(StatusCode::NO_CONTENT)
}
