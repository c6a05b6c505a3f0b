//! Confluent REST v3 (`/v3/...`): clusters, topics, record produce (single and streaming)
//! and consumer-group lag. Bodies are plain `application/json`; errors use the same
//! `{"error_code","message"}` body with 3-digit codes.

pub(crate) mod acls;
pub(crate) mod broker_configs;
pub(crate) mod clusters;
pub(crate) mod configs;
pub(crate) mod groups;
pub(crate) mod members;
pub(crate) mod partitions;
pub(crate) mod records;
pub(crate) mod schema_data;
pub(crate) mod topics;

use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::HOST;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::BridgeState;

/// `http://host:port/v3/clusters/{id}` for the `self` links.
pub(crate) fn cluster_url(headers: &HeaderMap, cluster_id: &str) -> String {
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}/v3/clusters/{cluster_id}")
}

/// The cluster's id; 404 when the path names another cluster.
pub(crate) async fn check_cluster(
    state: &BridgeState,
    cluster_id: &str,
) -> Result<String, ApiError> {
    let actual = state.inspector().cluster_id().await?;
    if actual != cluster_id {
        return Err(ApiError::plain(
            StatusCode::NOT_FOUND,
            format!("Cluster {cluster_id} cannot be found."),
        ));
    }
    Ok(actual)
}

/// The cluster's id (404 for another cluster) and the base URL of its resources.
pub(crate) async fn cluster_base(
    state: &BridgeState,
    cluster_id: &str,
    headers: &HeaderMap,
) -> Result<(String, String), ApiError> {
    let cluster_id = check_cluster(state, cluster_id).await?;
    let base = cluster_url(headers, &cluster_id);
    Ok((cluster_id, base))
}

pub(crate) fn metadata(self_url: String, resource_name: String) -> Value {
    json!({ "self": Value::String(self_url), "resource_name": Value::String(resource_name) })
}

/// A v3 list resource: `{kind, metadata: {self, next: null}, data}` (never paginated).
pub(crate) fn list(kind: &str, self_url: String, data: Vec<Value>) -> Value {
    let mut list = serde_json::Map::new();
    list.insert("kind".to_owned(), Value::from(kind));
    list.insert(
        "metadata".to_owned(),
        json!({ "self": Value::String(self_url), "next": null }),
    );
    list.insert("data".to_owned(), Value::Array(data));
    Value::Object(list)
}

pub(crate) fn related(url: String) -> Value {
    json!({ "related": Value::String(url) })
}
