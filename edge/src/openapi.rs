//! The checked-in OpenAPI documents (`openapi/<service>.json`) that every HTTP service
//! generates from its handlers' `#[utoipa::path]` attributes: one rendering and one drift
//! check, so that each service's test is a line and the files stay byte-for-byte what the
//! handlers generate.

use std::path::Path;

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
