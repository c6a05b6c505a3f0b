//! Config providers: `${env:NAME}`, `${file:/path/to/file.properties:key}` and
//! `${directory:/path/to/dir:file}` are replaced when a connector or task is started, never
//! in what is stored or returned, so secrets stay out of the config topic and the REST API
//! (generated task configs are written back with the references, see the supervisor).
//!
//! The built-in providers need no `config.providers` declaration in the worker config;
//! `config.providers*` keys are accepted for compatibility. Unlike Kafka's
//! `ConfigTransformer`, which leaves an unresolvable reference in place (and hands the
//! connector a literal `${env:...}` as its password), a reference that cannot be resolved
//! fails the connector or task with a config error naming the key.

use connect_api::ConfigMap;

/// A copy of `config` with every reference replaced, or the first key whose reference
/// cannot be resolved.
///
/// Reading a properties file is blocking I/O on a small local file, done when a connector
/// or task starts (not per record).
pub fn resolve(config: &ConfigMap) -> Result<ConfigMap, connect_api::ConnectError> {
    config
        .iter()
        .map(|(key, value)| {
            broker_core::secrets::resolve(key, value)
                .map(|resolved| (key.clone(), resolved))
                .map_err(|error| connect_api::ConnectError::config(error.key, error.reason))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_and_file_references_resolve() {
        let path =
            std::env::temp_dir().join(format!("providers-{}.properties", std::process::id()));
        std::fs::write(&path, "# secrets\ndb.password=s3cr3t\nother: x\n").unwrap();
        let home = std::env::var("PATH").unwrap();
        let config: ConfigMap = [
            ("a".to_owned(), "${env:PATH}".to_owned()),
            (
                "b".to_owned(),
                format!("pw=${{file:{}:db.password}}", path.display()),
            ),
        ]
        .into();
        let resolved = resolve(&config).unwrap();
        assert_eq!(resolved["a"], home);
        assert_eq!(resolved["b"], "pw=s3cr3t");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn unresolvable_reference_is_an_error_naming_the_key() {
        let config: ConfigMap = [(
            "database.password".to_owned(),
            "${env:NO_SUCH_VARIABLE_FOR_SURE}".to_owned(),
        )]
        .into();
        let error = resolve(&config).unwrap_err().to_string();
        assert!(error.contains("database.password"), "{error}");
        assert!(error.contains("NO_SUCH_VARIABLE_FOR_SURE"), "{error}");
    }
}
