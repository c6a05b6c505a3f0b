//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! committed as `openapi/bridge.json`; a test fails when the two differ.

use utoipa::OpenApi;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "kafka-gateway HTTP bridge",
        description = "Kafka over HTTP, compatible with Confluent REST Proxy v2/v3 and the Strimzi Kafka Bridge (per-listener flavor).",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "status", description = "Liveness and readiness"),
        (name = "v2 topics", description = "Topic and partition metadata"),
        (name = "v2 produce", description = "Produce with embedded formats binary, json and text"),
        (name = "v2 consumers", description = "Stateful consumer instances"),
        (name = "v3", description = "Confluent REST v3: clusters, topics, records, consumer-group lag")
    )
)]
pub struct ApiDoc;

/// The document the bridge serves at `/openapi.json`, pretty-printed with a final newline.
pub fn openapi_json() -> String {
    edge::openapi::pretty_json(&crate::routes::api_router().into_openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/bridge.json");

    #[test]
    fn committed_openapi_matches_the_handlers() {
        let checked = edge::openapi::check_committed(COMMITTED.as_ref(), &openapi_json(), "bridge");
        assert!(checked.is_ok(), "{}", checked.unwrap_err());
    }

    #[test]
    fn document_is_openapi_3_1_with_every_v2_path() {
        let document: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/topics/{topic}",
            "/topics/{topic}/partitions/{partition}/offsets",
            "/consumers/{group}/instances/{instance}/records",
            "/v3/clusters/{cluster_id}/topics/{topic}/records",
        ] {
            assert!(document["paths"].get(path).is_some(), "{path} missing");
        }
    }
}
