//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! committed as `openapi/schema-registry.json`; a test fails when the two differ.

use utoipa::OpenApi;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "kafka-gateway Schema Registry",
        description = "Confluent Schema Registry compatible REST API (v1): subjects, schemas by id, compatibility, config and modes, stored in the `_schemas` topic.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "metadata", description = "Root, cluster ids, contexts"),
        (name = "schemas", description = "Schemas by global id"),
        (name = "subjects", description = "Subjects and their versions"),
        (name = "compatibility", description = "Compatibility checks"),
        (name = "config", description = "Compatibility levels"),
        (name = "mode", description = "READWRITE, READONLY, IMPORT")
    ),
    components(schemas(crate::error::ErrorBody))
)]
pub struct ApiDoc;

/// What every route may answer besides its handler's own statuses: the body extractor
/// (`routes/body.rs`: 400 malformed JSON, 422 well-formed JSON of the wrong shape; any
/// `Content-Type` is read), the query flags (400) and the edge (413, 503, 504).
const SHARED_ANSWERS: edge::openapi::SharedAnswers = edge::openapi::SharedAnswers {
    error_schema: "ErrorBody",
    error_media_type: crate::error::CONTENT_TYPE,
    with_body: &[
        (400, "Malformed JSON body"),
        (413, "Body larger than the listener's max_body_bytes"),
        (422, "Unrecognized request body"),
    ],
    with_query: &[(400, "A query flag that is neither true nor false")],
    everywhere: &[
        (503, "Too many concurrent requests"),
        (
            504,
            "The request did not finish within the listener's request_timeout_ms",
        ),
    ],
};

/// The handlers' document with the answers every route shares; every answer, errors
/// included, is `application/vnd.schemaregistry.v1+json` (`routes/body.rs::ok`,
/// `ApiError::into_response`).
pub fn complete(document: &mut utoipa::openapi::OpenApi) {
    edge::openapi::document_shared_answers(document, &SHARED_ANSWERS, |_| {
        Some(crate::error::CONTENT_TYPE)
    });
}

/// The document the registry serves at `/openapi.json`, pretty-printed with a final newline.
pub fn openapi_json() -> String {
    let mut document = crate::routes::api_router().into_openapi();
    complete(&mut document);
    edge::openapi::pretty_json(&document)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/schema-registry.json"
    );

    #[test]
    fn committed_openapi_matches_the_handlers() {
        let checked =
            edge::openapi::check_committed(COMMITTED.as_ref(), &openapi_json(), "schema-registry");
        assert!(checked.is_ok(), "{}", checked.unwrap_err());
    }

    #[test]
    fn document_has_every_confluent_path() {
        let document: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/subjects",
            "/subjects/{subject}",
            "/subjects/{subject}/versions",
            "/subjects/{subject}/versions/{version}",
            "/subjects/{subject}/versions/{version}/schema",
            "/subjects/{subject}/versions/{version}/referencedby",
            "/schemas/ids/{id}",
            "/schemas/ids/{id}/schema",
            "/schemas/ids/{id}/subjects",
            "/schemas/ids/{id}/versions",
            "/schemas/types",
            "/config",
            "/config/{subject}",
            "/mode",
            "/mode/{subject}",
            "/compatibility/subjects/{subject}/versions",
            "/compatibility/subjects/{subject}/versions/{version}",
            "/v1/metadata/id",
        ] {
            assert!(document["paths"].get(path).is_some(), "{path} missing");
        }
    }
}
