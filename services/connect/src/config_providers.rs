//! Config providers: `${env:NAME}` and `${file:/path/to/file.properties:key}` are replaced
//! when a connector or task is started, never in what is stored or returned, so secrets
//! stay out of the config topic and the REST API. An unresolvable reference is left as
//! written, as Kafka's `ConfigTransformer` does.

use std::collections::HashMap;

use connect_api::ConfigMap;
use regex::Regex;

fn reference_pattern() -> Option<Regex> {
    Regex::new(r"\$\{(env|file):([^}]*)\}").ok()
}

/// Reads a Java `.properties` file (`key=value` or `key: value`, `#`/`!` comments).
fn read_properties(path: &str) -> Option<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
            .filter_map(|l| {
                let split = l.find(['=', ':'])?;
                Some((
                    l[..split].trim().to_owned(),
                    l[split + 1..].trim().to_owned(),
                ))
            })
            .collect(),
    )
}

fn resolve_one(provider: &str, reference: &str) -> Option<String> {
    match provider {
        "env" => std::env::var(reference).ok(),
        "file" => {
            let (path, key) = reference.rsplit_once(':')?;
            read_properties(path)?.remove(key)
        }
        _ => None,
    }
}

/// A copy of `config` with every resolvable reference replaced.
///
/// Reading a properties file is blocking I/O on a small local file, done when a task
/// starts (not per record).
pub fn resolve(config: &ConfigMap) -> ConfigMap {
    let Some(pattern) = reference_pattern() else {
        return config.clone();
    };
    config
        .iter()
        .map(|(key, value)| {
            let resolved = pattern.replace_all(value, |captures: &regex::Captures<'_>| {
                resolve_one(&captures[1], &captures[2]).unwrap_or_else(|| captures[0].to_owned())
            });
            (key.clone(), resolved.into_owned())
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
            (
                "c".to_owned(),
                "${env:NO_SUCH_VARIABLE_FOR_SURE}".to_owned(),
            ),
        ]
        .into();
        let resolved = resolve(&config);
        assert_eq!(resolved["a"], home);
        assert_eq!(resolved["b"], "pw=s3cr3t");
        assert_eq!(resolved["c"], "${env:NO_SUCH_VARIABLE_FOR_SURE}");
        let _ = std::fs::remove_file(path);
    }
}
