//! v3 consumer groups: list, and lag (per partition and summary).
//!
//! Lag is `log end offset - committed offset` for every partition the group has a
//! committed offset on. The group's offsets are read with a consumer that carries the
//! group id but never joins it, on the blocking pool (librdkafka's calls block).

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use broker_core::BrokerError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};

use super::{check_cluster, cluster_url, metadata};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::BridgeState;

pub(crate) const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Lag {
    topic: String,
    partition: i32,
    current: i64,
    end: i64,
    /// The member the partition is assigned to: (consumer id, client id).
    owner: Option<(String, String)>,
}

pub(crate) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, BrokerError> + Send + 'static,
) -> Result<T, ApiError> {
    broker_core::task::spawn_blocking("bridge-group-admin", call)
        .await
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                50002,
                format!("group task failed: {e}"),
            )
        })?
        .map_err(ApiError::from)
}

async fn group_lags(state: &BridgeState, group: &str) -> Result<Vec<Lag>, ApiError> {
    let mut config = state.clients().consumer_config(group);
    config.set("enable.auto.commit", "false");
    let mut lags = blocking(move || {
        let consumer: BaseConsumer = broker_core::clients::create(&config, "lag consumer")?;
        let metadata = consumer
            .fetch_metadata(None, KAFKA_TIMEOUT)
            .map_err(|e| BrokerError::kafka("metadata request", e))?;
        let mut list = TopicPartitionList::new();
        for topic in metadata
            .topics()
            .iter()
            .filter(|t| !t.name().starts_with("__"))
        {
            for partition in topic.partitions() {
                list.add_partition(topic.name(), partition.id());
            }
        }
        let committed = consumer
            .committed_offsets(list, KAFKA_TIMEOUT)
            .map_err(|e| BrokerError::kafka("committed offsets", e))?;
        let mut lags = Vec::new();
        for element in committed.elements() {
            if let Offset::Offset(current) = element.offset() {
                let (_, end) = consumer
                    .fetch_watermarks(element.topic(), element.partition(), KAFKA_TIMEOUT)
                    .map_err(|e| BrokerError::kafka("watermark request", e))?;
                lags.push(Lag {
                    topic: element.topic().to_owned(),
                    partition: element.partition(),
                    current,
                    end,
                    owner: None,
                });
            }
        }
        Ok(lags)
    })
    .await?;
    // Which member reads each partition; a group without members has lag but no owners.
    if let Ok(description) = super::members::describe_group(state, group).await {
        for lag in &mut lags {
            lag.owner = description
                .members
                .iter()
                .find(|m| {
                    m.assignment
                        .iter()
                        .any(|(t, p)| *t == lag.topic && *p == lag.partition)
                })
                .map(|m| (m.id.clone(), m.client_id.clone()));
        }
    }
    Ok(lags)
}

fn lag_data(base: &str, cluster_id: &str, group: &str, lag: &Lag) -> Value {
    json!({
        "kind": "KafkaConsumerLag",
        "metadata": metadata(
            format!("{base}/lags/{}/partitions/{}", lag.topic, lag.partition),
            format!("crn:///kafka={cluster_id}/consumer-group={group}/lag={}/partition={}", lag.topic, lag.partition)),
        "cluster_id": cluster_id,
        "consumer_group_id": group,
        "topic_name": lag.topic,
        "partition_id": lag.partition,
        "current_offset": lag.current,
        "log_end_offset": lag.end,
        "lag": (lag.end - lag.current).max(0),
        "consumer_id": lag.owner.as_ref().map_or("", |o| o.0.as_str()),
        "instance_id": null,
        "client_id": lag.owner.as_ref().map_or("", |o| o.1.as_str()),
    })
}

/// List consumer groups.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/consumer-groups", tag = "v3",
    params(("cluster_id" = String, Path)),
    responses((status = 200, description = "ConsumerGroupList", body = Value)))]
pub(crate) async fn list_groups(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let config = state.clients().base_config();
    let mut groups = blocking(move || {
        let consumer: BaseConsumer = broker_core::clients::create(&config, "group list client")?;
        let list = consumer
            .fetch_group_list(None, KAFKA_TIMEOUT)
            .map_err(|e| BrokerError::kafka("group list", e))?;
        Ok(list
            .groups()
            .iter()
            .map(|g| {
                (
                    g.name().to_owned(),
                    g.state().to_owned(),
                    g.protocol_type().to_owned(),
                )
            })
            .collect::<Vec<_>>())
    })
    .await?;
    groups.retain(|(name, _, _)| caller.may_group(name));
    let base = cluster_url(&headers, &cluster_id);
    let mut data: Vec<Value> = groups
        .into_iter()
        .map(|(name, group_state, protocol_type)| {
            json!({
                "kind": "KafkaConsumerGroup",
                "metadata": metadata(format!("{base}/consumer-groups/{name}"), format!("crn:///kafka={cluster_id}/consumer-group={name}")),
                "cluster_id": cluster_id,
                "consumer_group_id": name,
                "is_simple": protocol_type.is_empty(),
                "state": group_state.to_ascii_uppercase(),
                "lag_summary": { "related": format!("{base}/consumer-groups/{name}/lag-summary") },
            })
        })
        .collect();
    data.sort_by(|a, b| {
        a["consumer_group_id"]
            .as_str()
            .cmp(&b["consumer_group_id"].as_str())
    });
    Ok(axum::Json(super::list(
        "KafkaConsumerGroupList",
        format!("{base}/consumer-groups"),
        data,
    )))
}

/// Lag of every partition the group committed on.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/consumer-groups/{group}/lags", tag = "v3",
    params(("cluster_id" = String, Path), ("group" = String, Path)),
    responses((status = 200, description = "ConsumerLagList", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn group_lag_list(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, group)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let lags = group_lags(&state, &group).await?;
    let base = format!(
        "{}/consumer-groups/{group}",
        cluster_url(&headers, &cluster_id)
    );
    let data: Vec<Value> = lags
        .iter()
        .map(|lag| lag_data(&base, &cluster_id, &group, lag))
        .collect();
    Ok(axum::Json(super::list(
        "KafkaConsumerLagList",
        format!("{base}/lags"),
        data,
    )))
}

/// Lag of the group on one partition.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/consumer-groups/{group}/lags/{topic}/partitions/{partition}", tag = "v3",
    params(("cluster_id" = String, Path), ("group" = String, Path), ("topic" = String, Path),
        ("partition" = i32, Path)),
    responses((status = 200, description = "KafkaConsumerLag", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn group_partition_lag(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, group, topic, partition)): ApiPath<(String, String, String, i32)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let lags = group_lags(&state, &group).await?;
    let lag = lags
        .iter()
        .find(|l| l.topic == topic && l.partition == partition)
        .ok_or_else(|| {
            ApiError::plain(
                axum::http::StatusCode::NOT_FOUND,
                format!("Consumer group {group} has no committed offset on {topic}-{partition}."),
            )
        })?;
    let base = format!(
        "{}/consumer-groups/{group}",
        cluster_url(&headers, &cluster_id)
    );
    Ok(axum::Json(lag_data(&base, &cluster_id, &group, lag)))
}

/// Maximum and total lag of the group.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/consumer-groups/{group}/lag-summary", tag = "v3",
    params(("cluster_id" = String, Path), ("group" = String, Path)),
    responses((status = 200, description = "ConsumerGroupLagSummary", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn group_lag_summary(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, group)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let lags = group_lags(&state, &group).await?;
    if lags.is_empty() {
        return Err(ApiError::plain(
            axum::http::StatusCode::NOT_FOUND,
            format!("Consumer group {group} has no committed offsets."),
        ));
    }
    let lag_of = |l: &Lag| (l.end - l.current).max(0);
    let total: i64 = lags.iter().map(lag_of).sum();
    let max = lags.iter().max_by_key(|l| lag_of(l)).cloned();
    let base = format!(
        "{}/consumer-groups/{group}",
        cluster_url(&headers, &cluster_id)
    );
    Ok(axum::Json(json!({
        "kind": "KafkaConsumerGroupLagSummary",
        "metadata": metadata(format!("{base}/lag-summary"), format!("crn:///kafka={cluster_id}/consumer-group={group}/lag-summary")),
        "cluster_id": cluster_id,
        "consumer_group_id": group,
        "max_lag_consumer_id": max.as_ref().and_then(|l| l.owner.as_ref()).map_or("", |o| o.0.as_str()),
        "max_lag_instance_id": null,
        "max_lag_client_id": max.as_ref().and_then(|l| l.owner.as_ref()).map_or("", |o| o.1.as_str()),
        "max_lag_topic_name": max.as_ref().map(|l| l.topic.clone()),
        "max_lag_partition_id": max.as_ref().map(|l| l.partition),
        "max_lag": max.as_ref().map_or(0, lag_of),
        "total_lag": total,
    })))
}
