//! Topic and partition metadata (v2 shapes, shared by both flavors).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use broker_core::BrokerError;
use broker_core::metadata::{PartitionInfo, TopicInfo};
use edge::TopicOperation;
use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use serde::Serialize;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::media::KafkaJson;
use crate::state::BridgeState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Replica {
    pub broker: i32,
    pub leader: bool,
    pub in_sync: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Partition {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<Replica>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Topic {
    pub name: String,
    pub configs: BTreeMap<String, String>,
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PartitionOffsets {
    pub beginning_offset: i64,
    pub end_offset: i64,
}

fn partition_view(info: &PartitionInfo) -> Partition {
    Partition {
        partition: info.id,
        leader: info.leader,
        replicas: info
            .replicas
            .iter()
            .map(|&broker| Replica {
                broker,
                leader: broker == info.leader,
                in_sync: info.in_sync_replicas.contains(&broker),
            })
            .collect(),
    }
}

fn find_partition(topic: &TopicInfo, partition: i32) -> Result<&PartitionInfo, ApiError> {
    topic
        .partitions
        .iter()
        .find(|p| p.id == partition)
        .ok_or_else(|| ApiError::partition_not_found(&topic.name, partition))
}

/// The topic's non-default configs, as Kafka describes them.
pub(crate) async fn topic_configs(
    state: &BridgeState,
    topic: &str,
) -> Result<BTreeMap<String, String>, ApiError> {
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let results = state
        .admin()
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &options)
        .await
        .map_err(|e| BrokerError::kafka("describe configs", e))?;
    let mut configs = BTreeMap::new();
    for result in results {
        match result {
            Ok(resource) => {
                for entry in resource.entries {
                    if let Some(value) = entry.value {
                        configs.insert(entry.name, value);
                    }
                }
            }
            Err(code) => {
                return Err(BrokerError::Resource {
                    operation: "describe configs",
                    resource: topic.to_owned(),
                    code,
                }
                .into());
            }
        }
    }
    Ok(configs)
}

/// List topic names (internal topics excluded).
#[utoipa::path(get, path = "/topics", tag = "v2 topics",
    responses((status = 200, description = "Topic names", body = Vec<String>)))]
pub(crate) async fn list_topics(
    State(state): State<BridgeState>,
    caller: Caller,
) -> Result<KafkaJson<Vec<String>>, ApiError> {
    let metadata = state.inspector().metadata(None).await?;
    let mut names: Vec<String> = metadata
        .topics
        .into_iter()
        .filter(|t| !t.is_internal())
        .filter(|t| caller.may_topic(TopicOperation::Describe, &t.name))
        .map(|t| t.name)
        .collect();
    names.sort();
    Ok(KafkaJson::v2(names))
}

/// Describe one topic: configs and partitions.
#[utoipa::path(get, path = "/topics/{topic}", tag = "v2 topics",
    params(("topic" = String, Path, description = "Topic name")),
    responses(
        (status = 200, body = Topic),
        (status = 404, description = "40401 unknown topic", body = crate::ErrorBody)))]
pub(crate) async fn get_topic(
    State(state): State<BridgeState>,
    ApiPath(topic): ApiPath<String>,
) -> Result<KafkaJson<Topic>, ApiError> {
    let info = state.topic(&topic).await?;
    let configs = topic_configs(&state, &topic).await?;
    Ok(KafkaJson::v2(Topic {
        name: info.name.clone(),
        configs,
        partitions: info.partitions.iter().map(partition_view).collect(),
    }))
}

/// List the partitions of a topic.
#[utoipa::path(get, path = "/topics/{topic}/partitions", tag = "v2 topics",
    params(("topic" = String, Path, description = "Topic name")),
    responses(
        (status = 200, body = Vec<Partition>),
        (status = 404, description = "40401 unknown topic", body = crate::ErrorBody)))]
pub(crate) async fn list_partitions(
    State(state): State<BridgeState>,
    ApiPath(topic): ApiPath<String>,
) -> Result<KafkaJson<Vec<Partition>>, ApiError> {
    let info = state.topic(&topic).await?;
    Ok(KafkaJson::v2(
        info.partitions.iter().map(partition_view).collect(),
    ))
}

/// Describe one partition.
#[utoipa::path(get, path = "/topics/{topic}/partitions/{partition}", tag = "v2 topics",
    params(("topic" = String, Path), ("partition" = i32, Path)),
    responses(
        (status = 200, body = Partition),
        (status = 404, description = "40401 unknown topic, 40402 unknown partition", body = crate::ErrorBody)))]
pub(crate) async fn get_partition(
    State(state): State<BridgeState>,
    ApiPath((topic, partition)): ApiPath<(String, i32)>,
) -> Result<KafkaJson<Partition>, ApiError> {
    let info = state.topic(&topic).await?;
    Ok(KafkaJson::v2(partition_view(find_partition(
        &info, partition,
    )?)))
}

/// First and next offset of one partition.
#[utoipa::path(get, path = "/topics/{topic}/partitions/{partition}/offsets", tag = "v2 topics",
    params(("topic" = String, Path), ("partition" = i32, Path)),
    responses(
        (status = 200, body = PartitionOffsets),
        (status = 404, description = "40401 unknown topic, 40402 unknown partition", body = crate::ErrorBody)))]
pub(crate) async fn get_partition_offsets(
    State(state): State<BridgeState>,
    ApiPath((topic, partition)): ApiPath<(String, i32)>,
) -> Result<KafkaJson<PartitionOffsets>, ApiError> {
    let info = state.topic(&topic).await?;
    find_partition(&info, partition)?;
    let watermarks = state.inspector().watermarks(&topic, partition).await?;
    Ok(KafkaJson::v2(PartitionOffsets {
        beginning_offset: watermarks.low,
        end_offset: watermarks.high,
    }))
}

/// Strimzi's `POST /admin/topics` body.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct NewTopicRequest {
    /// Kafka's legal topic names: 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`.
    #[schema(pattern = "^(?!\\.\\.?$)[a-zA-Z0-9._-]{1,249}$")]
    pub topic_name: String,
    /// The broker's `num.partitions` when absent.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub partitions_count: Option<i32>,
    /// The broker's `default.replication.factor` when absent.
    #[serde(default)]
    pub replication_factor: Option<i32>,
}

/// Create a topic (the Strimzi bridge's admin endpoint, since 0.31).
#[utoipa::path(post, path = "/admin/topics", tag = "v2 topics",
    request_body(content = NewTopicRequest, content_type = "application/json"),
    responses((status = 201, description = "Created, no body"),
        (status = 400, body = crate::ErrorBody), (status = 409, body = crate::ErrorBody),
        (status = 415, body = crate::ErrorBody)))]
pub(crate) async fn create_topic(
    State(state): State<BridgeState>,
    caller: Caller,
    crate::extract::ControlJson(body): crate::extract::ControlJson<NewTopicRequest>,
) -> Result<axum::http::StatusCode, ApiError> {
    let request =
        body.ok_or_else(|| ApiError::bad_request("A body with topic_name is required."))?;
    let name = request.topic_name.as_str();
    caller.require_topic(TopicOperation::Manage, name)?;
    if request.partitions_count.is_some_and(|p| p < 1) {
        return Err(ApiError::bad_request(
            "partitions_count must be at least 1.",
        ));
    }
    if let Some(partitions) = request.partitions_count {
        crate::v3::topics::check_partition_limit(&state, partitions)?;
    }
    let topic = rdkafka::admin::NewTopic::new(
        name,
        request.partitions_count.unwrap_or(-1),
        rdkafka::admin::TopicReplication::Fixed(request.replication_factor.unwrap_or(-1)),
    );
    let results = state
        .admin()
        .create_topics(&[topic], &crate::v3::topics::admin_options())
        .await
        .map_err(|e| BrokerError::kafka("create topic", e))?;
    for result in results {
        if let Err((topic, code)) = result {
            return Err(crate::v3::topics::admin_error(&topic, code));
        }
    }
    Ok(axum::http::StatusCode::CREATED)
}
