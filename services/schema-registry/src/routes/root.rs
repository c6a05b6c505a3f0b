//! `GET /`, `/v1/metadata/id`, `/v1/metadata/version`, `/contexts`, `/schemas/types`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use crate::registry::Registry;
use crate::routes::body::ok;

/// Confluent answers an empty object.
#[utoipa::path(get, path = "/", tag = "metadata", responses((status = 200, description = "`{}`")))]
pub(crate) async fn root() -> Response {
    ok(&json!({}))
}

/// The cluster ids: the Kafka cluster and the registry's group.
#[utoipa::path(get, path = "/v1/metadata/id", tag = "metadata", responses((status = 200, description = "Scope of this registry")))]
pub(crate) async fn metadata_id(State(registry): State<Arc<Registry>>) -> Response {
    ok(&json!({
        "scope": {
            "path": [],
            "clusters": {
                "kafka-cluster": registry.cluster_id(),
                "schema-registry-cluster": registry.config().group_id,
            }
        }
    }))
}

#[utoipa::path(get, path = "/v1/metadata/version", tag = "metadata", responses((status = 200, description = "Version of this registry")))]
pub(crate) async fn metadata_version() -> Response {
    ok(&json!({"version": env!("CARGO_PKG_VERSION"), "commitId": ""}))
}

/// Only the default context exists.
#[utoipa::path(get, path = "/contexts", tag = "metadata", responses((status = 200, description = "`[\".\"]`")))]
pub(crate) async fn contexts() -> Response {
    ok(&json!(["."]))
}

#[utoipa::path(get, path = "/schemas/types", tag = "schemas", responses((status = 200, description = "Supported schema types")))]
pub(crate) async fn schema_types() -> Response {
    ok(&json!(["JSON", "PROTOBUF", "AVRO"]))
}
