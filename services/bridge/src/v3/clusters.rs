//! `GET /v3/clusters` and `GET /v3/clusters/{cluster_id}`.

use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{check_cluster, cluster_url, metadata, related};
use broker_core::BrokerError;

use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::BridgeState;

async fn cluster_data(
    state: &BridgeState,
    headers: &HeaderMap,
    cluster_id: &str,
) -> Result<Value, ApiError> {
    let url = cluster_url(headers, cluster_id);
    let controller = controller(state).await?;
    Ok(json!({
        "kind": "KafkaCluster",
        "metadata": metadata(url.clone(), format!("crn:///kafka={cluster_id}")),
        "cluster_id": cluster_id,
        "controller": controller.map(|id| related(format!("{url}/brokers/{id}"))),
        "acls": related(format!("{url}/acls")),
        "brokers": related(format!("{url}/brokers")),
        "broker_configs": related(format!("{url}/broker-configs")),
        "consumer_groups": related(format!("{url}/consumer-groups")),
        "topics": related(format!("{url}/topics")),
    }))
}

/// The controller as Confluent's proxy reports it (`Admin.describeCluster().controller()`,
/// DescribeCluster); `None` (`null`) when the cluster names none or the native client
/// cannot use the cluster's settings (librdkafka does not expose the controller).
async fn controller(state: &BridgeState) -> Result<Option<i32>, ApiError> {
    let Some(wire) = state.wire() else {
        return Ok(None);
    };
    wire.describe_cluster_controller()
        .await
        .map_err(|error| BrokerError::from(error).into())
}

/// List clusters (exactly one: the cluster this gateway serves).
#[utoipa::path(get, path = "/v3/clusters", tag = "v3",
    responses((status = 200, description = "KafkaClusterList", body = Value)))]
pub(crate) async fn list_clusters(
    State(state): State<BridgeState>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = state.inspector().cluster_id().await?;
    let data = cluster_data(&state, &headers, &cluster_id).await?;
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    Ok(axum::Json(json!({
        "kind": "KafkaClusterList",
        "metadata": { "self": format!("http://{host}/v3/clusters"), "next": null },
        "data": [data],
    })))
}

/// Describe the cluster.
#[utoipa::path(get, path = "/v3/clusters/{cluster_id}", tag = "v3",
    params(("cluster_id" = String, Path)),
    responses((status = 200, description = "KafkaCluster", body = Value),
        (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn get_cluster(
    State(state): State<BridgeState>,
    ApiPath(cluster_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    Ok(axum::Json(
        cluster_data(&state, &headers, &cluster_id).await?,
    ))
}
