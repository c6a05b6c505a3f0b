//! v3 consumer-group description: the group, its consumers and their assignments.
//!
//! DescribeGroups returns each member's assignment as the opaque bytes the group's
//! protocol defines; for `consumer` groups that is Kafka's ConsumerProtocolAssignment,
//! decoded here. Members of other protocols (Connect workers, for example) are listed
//! with no assignments.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use broker_core::BrokerError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{Value, json};

use super::groups::{KAFKA_TIMEOUT, blocking};
use super::{check_cluster, cluster_url, metadata, related};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::BridgeState;

/// One member of a group as DescribeGroups reports it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub id: String,
    pub client_id: String,
    /// (topic, partition), empty when the assignment is not a consumer assignment.
    pub assignment: Vec<(String, i32)>,
}

#[derive(Debug, Clone)]
pub(crate) struct GroupDescription {
    pub state: String,
    pub protocol: String,
    pub protocol_type: String,
    pub members: Vec<Member>,
}

/// The group as DescribeGroups sees it; 404 when the coordinator does not know it.
pub(crate) async fn describe_group(
    state: &BridgeState,
    group: &str,
) -> Result<GroupDescription, ApiError> {
    let config = state.clients().base_config();
    let name = group.to_owned();
    let described = blocking(move || {
        let consumer: BaseConsumer = broker_core::clients::create(&config, "group describe")?;
        let list = consumer
            .fetch_group_list(Some(&name), KAFKA_TIMEOUT)
            .map_err(|e| BrokerError::kafka("describe group", e))?;
        Ok(list.groups().first().map(|g| GroupDescription {
            state: g.state().to_owned(),
            protocol: g.protocol().to_owned(),
            protocol_type: g.protocol_type().to_owned(),
            members: g
                .members()
                .iter()
                .map(|m| Member {
                    id: m.id().to_owned(),
                    client_id: m.client_id().to_owned(),
                    assignment: if g.protocol_type() == "consumer" {
                        m.assignment()
                            .and_then(broker_core::assignment::decode)
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
        }))
    })
    .await?;
    match described {
        Some(description) if !description.state.eq_ignore_ascii_case("dead") => Ok(description),
        _ => Err(group_not_found(group)),
    }
}

fn group_not_found(group: &str) -> ApiError {
    ApiError::plain(
        StatusCode::NOT_FOUND,
        format!("Consumer group {group} cannot be found."),
    )
}

fn consumer_data(base: &str, cluster_id: &str, group: &str, member: &Member) -> Value {
    let url = format!("{base}/consumer-groups/{group}/consumers/{}", member.id);
    json!({
        "kind": "KafkaConsumer",
        "metadata": metadata(url.clone(), format!("crn:///kafka={cluster_id}/consumer-group={group}/consumer={}", member.id)),
        "cluster_id": cluster_id,
        "consumer_group_id": group,
        "consumer_id": member.id,
        "instance_id": null,
        "client_id": member.client_id,
        "assignments": related(format!("{url}/assignments")),
    })
}

fn find_member<'a>(
    description: &'a GroupDescription,
    group: &str,
    consumer: &str,
) -> Result<&'a Member, ApiError> {
    description
        .members
        .iter()
        .find(|m| m.id == consumer)
        .ok_or_else(|| {
            ApiError::plain(
                StatusCode::NOT_FOUND,
                format!("Consumer {consumer} cannot be found in consumer group {group}."),
            )
        })
}

/// Describe a consumer group.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/consumer-groups/{group}", tag = "v3",
    params(("cluster_id" = String, Path), ("group" = String, Path)),
    responses((status = 200, description = "KafkaConsumerGroup", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn get_group(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, group)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let description = describe_group(&state, &group).await?;
    let base = cluster_url(&headers, &cluster_id);
    let url = format!("{base}/consumer-groups/{group}");
    Ok(axum::Json(json!({
        "kind": "KafkaConsumerGroup",
        "metadata": metadata(url.clone(), format!("crn:///kafka={cluster_id}/consumer-group={group}")),
        "cluster_id": cluster_id,
        "consumer_group_id": group,
        "is_simple": description.protocol_type.is_empty(),
        "partition_assignor": description.protocol,
        "state": description.state.to_ascii_uppercase(),
        // librdkafka's DescribeGroups does not say which broker coordinates the group.
        "coordinator": null,
        "consumers": related(format!("{url}/consumers")),
        "lag_summary": related(format!("{url}/lag-summary")),
    })))
}

/// List the consumers of a group.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/consumer-groups/{group}/consumers", tag = "v3",
    params(("cluster_id" = String, Path), ("group" = String, Path)),
    responses((status = 200, description = "KafkaConsumerList", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn list_consumers(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, group)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let mut description = describe_group(&state, &group).await?;
    description.members.sort_by(|a, b| a.id.cmp(&b.id));
    let base = cluster_url(&headers, &cluster_id);
    let data: Vec<Value> = description
        .members
        .iter()
        .map(|m| consumer_data(&base, &cluster_id, &group, m))
        .collect();
    Ok(axum::Json(super::list(
        "KafkaConsumerList",
        format!("{base}/consumer-groups/{group}/consumers"),
        data,
    )))
}

/// Describe one consumer of a group.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/consumer-groups/{group}/consumers/{consumer_id}", tag = "v3",
    params(("cluster_id" = String, Path), ("group" = String, Path), ("consumer_id" = String, Path)),
    responses((status = 200, description = "KafkaConsumer", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn get_consumer(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, group, consumer)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let description = describe_group(&state, &group).await?;
    let member = find_member(&description, &group, &consumer)?;
    let base = cluster_url(&headers, &cluster_id);
    Ok(axum::Json(consumer_data(
        &base,
        &cluster_id,
        &group,
        member,
    )))
}

/// List the partitions assigned to one consumer of a group.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/consumer-groups/{group}/consumers/{consumer_id}/assignments", tag = "v3",
    params(("cluster_id" = String, Path), ("group" = String, Path), ("consumer_id" = String, Path)),
    responses((status = 200, description = "KafkaConsumerAssignmentList", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn list_assignments(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, group, consumer)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let description = describe_group(&state, &group).await?;
    let member = find_member(&description, &group, &consumer)?;
    let base = cluster_url(&headers, &cluster_id);
    let url = format!("{base}/consumer-groups/{group}/consumers/{consumer}/assignments");
    let mut assignment = member.assignment.clone();
    assignment.sort();
    let data: Vec<Value> = assignment
        .iter()
        .map(|(topic, partition)| {
            json!({
                "kind": "KafkaConsumerAssignment",
                "metadata": metadata(
                    format!("{url}/{topic}/partitions/{partition}"),
                    format!("crn:///kafka={cluster_id}/consumer-group={group}/consumer={consumer}/assignment={topic}/partition={partition}")),
                "cluster_id": cluster_id,
                "consumer_group_id": group,
                "consumer_id": consumer,
                "topic_name": topic,
                "partition_id": partition,
                "partition": related(format!("{base}/topics/{topic}/partitions/{partition}")),
                "lag": related(format!("{base}/consumer-groups/{group}/lags/{topic}/partitions/{partition}")),
            })
        })
        .collect();
    Ok(axum::Json(super::list(
        "KafkaConsumerAssignmentList",
        url,
        data,
    )))
}
