//! v3 partitions and their replicas, and the brokers they live on.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use broker_core::metadata::{BrokerInfo, PartitionInfo};
use serde_json::{Value, json};

use super::{cluster_base, metadata, related};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::BridgeState;

fn partition_data(base: &str, cluster_id: &str, topic: &str, partition: &PartitionInfo) -> Value {
    let url = format!("{base}/topics/{topic}/partitions/{}", partition.id);
    json!({
        "kind": "KafkaPartition",
        "metadata": metadata(url.clone(), format!("crn:///kafka={cluster_id}/topic={topic}/partition={}", partition.id)),
        "cluster_id": cluster_id,
        "topic_name": topic,
        "partition_id": partition.id,
        "leader": related(format!("{url}/replicas/{}", partition.leader)),
        "replicas": related(format!("{url}/replicas")),
        "reassignment": related(format!("{url}/reassignment")),
    })
}

fn replica_data(
    base: &str,
    cluster_id: &str,
    topic: &str,
    partition: &PartitionInfo,
    broker: i32,
) -> Value {
    let id = partition.id;
    json!({
        "kind": "KafkaReplica",
        "metadata": metadata(
            format!("{base}/topics/{topic}/partitions/{id}/replicas/{broker}"),
            format!("crn:///kafka={cluster_id}/topic={topic}/partition={id}/replica={broker}")),
        "cluster_id": cluster_id,
        "topic_name": topic,
        "partition_id": id,
        "broker_id": broker,
        "is_leader": partition.leader == broker,
        "is_in_sync": partition.in_sync_replicas.contains(&broker),
        "broker": related(format!("{base}/brokers/{broker}")),
    })
}

fn broker_data(base: &str, cluster_id: &str, broker: &BrokerInfo) -> Value {
    let url = format!("{base}/brokers/{}", broker.id);
    json!({
        "kind": "KafkaBroker",
        "metadata": metadata(url.clone(), format!("crn:///kafka={cluster_id}/broker={}", broker.id)),
        "cluster_id": cluster_id,
        "broker_id": broker.id,
        "host": broker.host,
        "port": broker.port,
        // Metadata v1+ carries the rack, but librdkafka's metadata API does not expose it.
        "rack": null,
        "configs": related(format!("{url}/configs")),
        "partition_replicas": related(format!("{url}/partition-replicas")),
    })
}

async fn partition_of(
    state: &BridgeState,
    topic: &str,
    partition: i32,
) -> Result<PartitionInfo, ApiError> {
    let info = state
        .topic(topic)
        .await
        .map_err(|e| ApiError::plain(e.status, e.message))?;
    info.partitions
        .into_iter()
        .find(|p| p.id == partition)
        .ok_or_else(|| {
            ApiError::plain(
                StatusCode::NOT_FOUND,
                format!("This server does not host this topic-partition: {topic}-{partition}."),
            )
        })
}

/// List the partitions of a topic.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/topics/{topic}/partitions", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path)),
    responses((status = 200, description = "KafkaPartitionList", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn list_partitions(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    let mut info = state
        .topic(&topic)
        .await
        .map_err(|e| ApiError::plain(e.status, e.message))?;
    info.partitions.sort_by_key(|p| p.id);
    let data: Vec<Value> = info
        .partitions
        .iter()
        .map(|p| partition_data(&base, &cluster_id, &topic, p))
        .collect();
    Ok(axum::Json(super::list(
        "KafkaPartitionList",
        format!("{base}/topics/{topic}/partitions"),
        data,
    )))
}

/// Describe one partition.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/topics/{topic}/partitions/{partition}", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path), ("partition" = i32, Path)),
    responses((status = 200, description = "KafkaPartition", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn get_partition(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic, partition)): ApiPath<(String, String, i32)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    let info = partition_of(&state, &topic, partition).await?;
    Ok(axum::Json(partition_data(
        &base,
        &cluster_id,
        &topic,
        &info,
    )))
}

/// List the replicas of one partition.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/topics/{topic}/partitions/{partition}/replicas", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path), ("partition" = i32, Path)),
    responses((status = 200, description = "KafkaReplicaList", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn list_replicas(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic, partition)): ApiPath<(String, String, i32)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    let info = partition_of(&state, &topic, partition).await?;
    let data: Vec<Value> = info
        .replicas
        .iter()
        .map(|broker| replica_data(&base, &cluster_id, &topic, &info, *broker))
        .collect();
    Ok(axum::Json(super::list(
        "KafkaReplicaList",
        format!("{base}/topics/{topic}/partitions/{partition}/replicas"),
        data,
    )))
}

/// Describe one replica of a partition.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/topics/{topic}/partitions/{partition}/replicas/{broker_id}", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path), ("partition" = i32, Path),
        ("broker_id" = i32, Path)),
    responses((status = 200, description = "KafkaReplica", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn get_replica(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic, partition, broker)): ApiPath<(String, String, i32, i32)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    let info = partition_of(&state, &topic, partition).await?;
    if !info.replicas.contains(&broker) {
        return Err(ApiError::plain(
            StatusCode::NOT_FOUND,
            format!("Broker {broker} holds no replica of {topic}-{partition}."),
        ));
    }
    Ok(axum::Json(replica_data(
        &base,
        &cluster_id,
        &topic,
        &info,
        broker,
    )))
}

/// List the brokers of the cluster.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/brokers", tag = "v3",
    params(("cluster_id" = String, Path)),
    responses((status = 200, description = "KafkaBrokerList", body = Value)))]
pub(crate) async fn list_brokers(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    let mut brokers = state.inspector().metadata(None).await?.brokers;
    brokers.sort_by_key(|b| b.id);
    let data: Vec<Value> = brokers
        .iter()
        .map(|b| broker_data(&base, &cluster_id, b))
        .collect();
    Ok(axum::Json(super::list(
        "KafkaBrokerList",
        format!("{base}/brokers"),
        data,
    )))
}

/// Describe one broker.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}/brokers/{broker_id}", tag = "v3",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path)),
    responses((status = 200, description = "KafkaBroker", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn get_broker(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, broker)): ApiPath<(String, i32)>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let (cluster_id, base) = cluster_base(&state, &cluster_id, &headers).await?;
    let brokers = state.inspector().metadata(None).await?.brokers;
    let found = brokers.iter().find(|b| b.id == broker).ok_or_else(|| {
        ApiError::plain(
            StatusCode::NOT_FOUND,
            format!("Broker {broker} cannot be found."),
        )
    })?;
    Ok(axum::Json(broker_data(&base, &cluster_id, found)))
}
