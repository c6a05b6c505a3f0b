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
    ),
    // Schemas named by query parameters only (`#[param(value_type = …)]` does not register
    // them).
    components(schemas(
        crate::v3::acls::AclAny,
        crate::v3::acls::AclMatch,
        crate::v3::acls::AclFilterResourceType,
        crate::v3::acls::AclFilterPatternType,
        crate::v3::acls::AclFilterOperation,
        crate::v3::acls::AclFilterPermission,
        crate::v3::acls::AclDeleteResourceType
    ))
)]
pub struct ApiDoc;

/// What every route may answer besides its handler's own statuses: the body extractors
/// (`extract.rs`: 400 malformed JSON, 415 `Content-Type`, 422 well-formed JSON of the wrong
/// shape), the query extractor (400) and the edge (413, 503, 504).
const SHARED_ANSWERS: edge::openapi::SharedAnswers = edge::openapi::SharedAnswers {
    error_schema: "ErrorBody",
    error_media_type: "application/json",
    with_body: &[
        (400, "Malformed JSON body"),
        (413, "Body larger than the listener's max_body_bytes"),
        (415, "Unsupported Content-Type"),
        (422, "Well-formed JSON of the wrong shape"),
    ],
    with_query: &[(400, "A query parameter of the wrong type")],
    everywhere: &[
        (503, "Too many concurrent requests"),
        (
            504,
            "The request did not finish within the listener's request_timeout_ms",
        ),
    ],
};

/// The handlers' document with the answers every route shares; the JSON success bodies of
/// v2 are `application/vnd.kafka.v2+json` (`media::KafkaJson`), those of v3
/// `application/json`.
pub fn complete(document: &mut utoipa::openapi::OpenApi) {
    edge::openapi::document_shared_answers(document, &SHARED_ANSWERS, |path| {
        (!path.starts_with("/v3/")).then_some(crate::media::V2_JSON)
    });
}

/// The document the bridge serves at `/openapi.json`, pretty-printed with a final newline.
pub fn openapi_json() -> String {
    let mut document = crate::routes::api_router().into_openapi();
    complete(&mut document);
    edge::openapi::pretty_json(&document)
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
