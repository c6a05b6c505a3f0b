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
    )
)]
pub struct ApiDoc;

/// The document the registry serves at `/openapi.json`, pretty-printed with a final newline.
pub fn openapi_json() -> String {
    edge::openapi::pretty_json(&crate::routes::api_router().into_openapi())
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
