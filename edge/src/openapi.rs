//! The checked-in OpenAPI documents (`openapi/<service>.json`) that every HTTP service
//! generates from its handlers' `#[utoipa::path]` attributes: one rendering and one drift
//! check, so that each service's test is a line and the files stay byte-for-byte what the
//! handlers generate.

use std::path::Path;

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};

/// What the edge and the extractors answer on any operation of a service, whatever its
/// handler documents: the handlers name their own statuses and bodies; these are the ones
/// every route shares because the same layer produces them. [`document_shared_answers`]
/// adds them to the document.
#[derive(Debug, Clone, Copy)]
pub struct SharedAnswers {
    /// Component name of the service's error body (`ErrorBody`).
    pub error_schema: &'static str,
    /// Media type of the error body.
    pub error_media_type: &'static str,
    /// Statuses of an operation with a request body (malformed JSON, wrong shape, too
    /// large, unsupported `Content-Type`...), with their description.
    pub with_body: &'static [(u16, &'static str)],
    /// Statuses of an operation with query parameters (a value of the wrong type).
    pub with_query: &'static [(u16, &'static str)],
    /// Statuses of every operation (the edge's load shedding and timeout).
    pub everywhere: &'static [(u16, &'static str)],
}

/// Adds `shared` to every operation that does not document the status itself, gives every
/// error response without a body the error body, and names the media type of the JSON
/// success bodies: `success_media_type(path)` replaces `application/json` and `text/plain`
/// (utoipa's defaults) when the service answers another type on that path.
pub fn document_shared_answers(
    document: &mut OpenApi,
    shared: &SharedAnswers,
    success_media_type: impl Fn(&str) -> Option<&'static str>,
) {
    for (path, item) in &mut document.paths.paths {
        let success_type = success_media_type(path);
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            document_operation(operation, shared, success_type);
        }
    }
}

fn document_operation(
    operation: &mut Operation,
    shared: &SharedAnswers,
    success_type: Option<&str>,
) {
    let has_query = operation.parameters.iter().flatten().any(|parameter| {
        matches!(parameter, RefOr::T(parameter) if parameter.parameter_in == ParameterIn::Query)
    });
    let mut added: Vec<(u16, &str)> = shared.everywhere.to_vec();
    if operation.request_body.is_some() {
        added.extend_from_slice(shared.with_body);
    }
    if has_query {
        added.extend_from_slice(shared.with_query);
    }
    let responses = &mut operation.responses.responses;
    for (status, description) in added {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(Response::new(description)));
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if status.starts_with('2') {
            // utoipa's defaults: `application/json`, `text/plain` for a bare number.
            for default in ["application/json", "text/plain"] {
                if let Some(media_type) = success_type
                    && let Some(content) = response.content.shift_remove(default)
                {
                    response.content.insert(media_type.to_owned(), content);
                }
            }
        } else if response.content.is_empty() {
            let schema = Ref::from_schema_name(shared.error_schema);
            response.content.insert(
                shared.error_media_type.to_owned(),
                RefOr::T(Content::new(Some(schema))),
            );
        }
    }
}

/// `document` pretty-printed with a final newline, as the files are committed.
pub fn pretty_json(document: &utoipa::openapi::OpenApi) -> String {
    let mut text = document
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}

/// Compares `generated` with the committed `file`; with `UPDATE_OPENAPI` set in the
/// environment, writes it instead. The error says how to regenerate it for `package`.
pub fn check_committed(file: &Path, generated: &str, package: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        return std::fs::write(file, generated)
            .map_err(|error| format!("cannot write {}: {error}", file.display()));
    }
    let committed = std::fs::read_to_string(file).unwrap_or_default();
    if committed == generated {
        Ok(())
    } else {
        Err(format!(
            "{} is out of date with the handlers; regenerate it with \
             `UPDATE_OPENAPI=1 cargo test -p {package} openapi` and commit the result",
            file.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drifted_file_is_reported_with_the_command_that_regenerates_it() {
        let file = std::env::temp_dir().join(format!("openapi-{}.json", std::process::id()));
        std::fs::write(&file, "{}\n").unwrap();
        let error = check_committed(&file, "{\"openapi\":\"3.1.0\"}\n", "bridge").unwrap_err();
        assert!(
            error.contains("UPDATE_OPENAPI=1 cargo test -p bridge openapi"),
            "{error}"
        );
        assert!(check_committed(&file, "{}\n", "bridge").is_ok());
        let _ = std::fs::remove_file(file);
    }
}
