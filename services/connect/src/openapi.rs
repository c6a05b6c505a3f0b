//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` attributes and
//! committed as `openapi/connect.json` (a test fails when they drift; regenerate with
//! `UPDATE_OPENAPI=1 cargo test -p connect openapi`).

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "kafka-gateway connect", description = "Kafka Connect compatible REST API of the kafka-gateway connector runtime"),
    tags(
        (name = "root", description = "Worker information and health"),
        (name = "connectors", description = "Connectors, their configs, statuses, tasks and topics"),
        (name = "lifecycle", description = "Restart, pause, resume, stop"),
        (name = "offsets", description = "Connector offsets (KIP-875)"),
        (name = "plugins", description = "Connector plugins and config validation"),
    )
)]
struct ApiDoc;

/// The document as JSON text, pretty-printed.
pub fn openapi_json() -> String {
    let (_, api) = crate::rest::api_router().split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(api);
    doc.to_pretty_json().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_file_matches_the_handlers() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/connect.json");
        let checked =
            edge::openapi::check_committed(path.as_ref(), &(openapi_json() + "\n"), "connect");
        assert!(checked.is_ok(), "{}", checked.unwrap_err());
    }
}
