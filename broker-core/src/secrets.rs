//! Config values that point at a secret instead of holding it, with Kafka's
//! `ConfigProvider` syntax:
//!
//! - `${env:NAME}`: the environment variable `NAME` (Kafka's `EnvVarConfigProvider`);
//! - `${file:/path/to/file.properties:key}`: `key` of a Java properties file (Kafka's
//!   `FileConfigProvider`);
//! - `${directory:/path/to/dir:file}`: the whole content of `dir/file`, e.g. a Kubernetes
//!   secret volume (Kafka's `DirectoryConfigProvider`).
//!
//! Like Kafka, the reference may be a part of the value (`user:${env:PASS}`). A reference that
//! cannot be resolved is a config error naming the key, never an empty string. Where values
//! are stored (the connect config topic), the reference is stored, not the secret: callers
//! resolve a copy right before use. Anything else that looks like `${...}` (an unknown
//! provider, a literal `$` in a password) is left alone, as Kafka does.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::ConfigError;

/// The placeholder shown instead of a secret (defined in `common`, shared with plugins).
pub use common::HIDDEN;

/// The providers this gateway knows; they need no `config.providers` declaration.
pub const PROVIDERS: &[&str] = &["env", "file", "directory"];

/// Keys that only declare providers (`config.providers`, `config.providers.file.class`,
/// ...): accepted for compatibility with Kafka configs, with nothing more to do.
pub fn is_provider_declaration(key: &str) -> bool {
    key == "config.providers" || key.starts_with("config.providers.")
}

/// Whether `value` holds a reference to one of [`PROVIDERS`].
pub fn has_reference(value: &str) -> bool {
    references(value).next().is_some()
}

/// `value` with every `${provider:...}` reference replaced. `key` names the setting in
/// errors; the error never contains the resolved secret.
pub fn resolve(key: &str, value: &str) -> Result<String, ConfigError> {
    resolve_with(key, value, &|name| std::env::var(name).ok())
}

/// [`resolve`] for each value of a map, keeping the keys. Errors name `prefix` + the key.
pub fn resolve_map(
    prefix: &str,
    map: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    map.iter()
        .map(|(key, value)| Ok((key.clone(), resolve(&format!("{prefix}{key}"), value)?)))
        .collect()
}

fn resolve_with(
    key: &str,
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = 0;
    for reference in references(value) {
        out.push_str(&value[rest..reference.start]);
        out.push_str(&lookup(key, &reference, env)?);
        rest = reference.end;
    }
    out.push_str(&value[rest..]);
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
struct Reference<'a> {
    start: usize,
    end: usize,
    provider: &'a str,
    /// Empty for `${env:NAME}`.
    path: &'a str,
    name: &'a str,
}

/// Kafka's pattern `${provider:[path:]key}`: the provider runs to the first `:`, the path
/// to the next one (so it cannot contain `:`), the key to the `}`.
fn references(value: &str) -> impl Iterator<Item = Reference<'_>> {
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = value[from..].find("${") {
            let start = from + offset;
            let Some(length) = value[start..].find('}') else {
                from = value.len();
                return None;
            };
            let end = start + length + 1;
            let inner = &value[start + 2..end - 1];
            from = start + 2;
            let Some((provider, rest)) = inner.split_once(':') else {
                continue;
            };
            if !PROVIDERS.contains(&provider) {
                continue;
            }
            let (path, name) = rest.split_once(':').unwrap_or(("", rest));
            from = end;
            return Some(Reference {
                start,
                end,
                provider,
                path,
                name,
            });
        }
        None
    })
}

fn lookup(
    key: &str,
    reference: &Reference<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let shown = format!(
        "${{{}:{}{}}}",
        reference.provider,
        if reference.path.is_empty() {
            String::new()
        } else {
            format!("{}:", reference.path)
        },
        reference.name
    );
    let fail =
        |reason: String| ConfigError::new(key, format!("cannot resolve `{shown}`: {reason}"));
    match reference.provider {
        "env" => {
            // `${env:NAME}` and Kafka's `${env::NAME}` (empty path) mean the same.
            if !reference.path.is_empty() {
                return Err(fail("write it as ${env:NAME}".to_owned()));
            }
            env(reference.name).ok_or_else(|| {
                fail(format!(
                    "environment variable {} is not set",
                    reference.name
                ))
            })
        }
        "file" => {
            if reference.path.is_empty() {
                return Err(fail("write it as ${file:/path/to/file:key}".to_owned()));
            }
            let text = std::fs::read_to_string(reference.path)
                .map_err(|error| fail(format!("cannot read {}: {error}", reference.path)))?;
            properties_value(&text, reference.name).ok_or_else(|| {
                fail(format!(
                    "{} has no key `{}`",
                    reference.path, reference.name
                ))
            })
        }
        "directory" => {
            if reference.path.is_empty() {
                return Err(fail(
                    "write it as ${directory:/path/to/dir:file}".to_owned(),
                ));
            }
            if reference.name.contains('/') || reference.name == ".." {
                return Err(fail("the file name must not contain a path".to_owned()));
            }
            let file = Path::new(reference.path).join(reference.name);
            std::fs::read_to_string(&file)
                .map_err(|error| fail(format!("cannot read {}: {error}", file.display())))
        }
        other => Err(fail(format!("unknown config provider `{other}`"))),
    }
}

/// The value of `wanted` in a Java properties file: `key=value`, `key: value` or
/// `key value`, `#`/`!` comments. Escapes and continuation lines are not interpreted.
fn properties_value(text: &str, wanted: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            return None;
        }
        let split = line.find(['=', ':', ' ', '\t']).unwrap_or(line.len());
        let (name, rest) = line.split_at(split);
        let rest = rest.trim_start();
        let rest = rest
            .strip_prefix('=')
            .or_else(|| rest.strip_prefix(':'))
            .unwrap_or(rest);
        (name == wanted).then(|| rest.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "PASS").then(|| "s3cr3t".to_owned())
    }

    fn resolved(value: &str) -> Result<String, ConfigError> {
        resolve_with("sasl.password", value, &env)
    }

    #[test]
    fn env_reference_is_replaced_in_place() {
        assert_eq!(resolved("${env:PASS}").unwrap(), "s3cr3t");
        assert_eq!(resolved("user:${env:PASS}!").unwrap(), "user:s3cr3t!");
        assert_eq!(resolved("plain").unwrap(), "plain");
    }

    #[test]
    fn unknown_providers_and_plain_dollars_are_left_alone() {
        assert_eq!(resolved("pa$${x}").unwrap(), "pa$${x}");
        assert_eq!(resolved("${vault:a:b}").unwrap(), "${vault:a:b}");
        assert_eq!(resolved("${unterminated").unwrap(), "${unterminated");
        assert!(!has_reference("${vault:a:b}"));
        assert!(has_reference("x${env:A}"));
    }

    #[test]
    fn missing_variable_names_the_key_not_a_value() {
        let error = resolved("${env:NOPE}").unwrap_err();
        assert_eq!(error.key, "sasl.password");
        assert!(error.reason.contains("NOPE"), "{error}");
    }

    #[test]
    fn file_and_directory_references_read_the_files() {
        let dir = std::env::temp_dir().join(format!("secrets-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("creds.properties");
        std::fs::write(
            &file,
            "# comment\nuser = alice\npassword=p4ss word\nother: x\n",
        )
        .unwrap();
        std::fs::write(dir.join("token"), "t0ken").unwrap();
        let path = file.display();
        assert_eq!(
            resolved(&format!("${{file:{path}:password}}")).unwrap(),
            "p4ss word"
        );
        assert_eq!(resolved(&format!("${{file:{path}:other}}")).unwrap(), "x");
        let error = resolved(&format!("${{file:{path}:missing}}")).unwrap_err();
        assert!(error.reason.contains("no key `missing`"), "{error}");
        let error = resolved("${file:/no/such/file:key}").unwrap_err();
        assert!(error.reason.contains("cannot read"), "{error}");
        assert_eq!(
            resolved(&format!("${{directory:{}:token}}", dir.display())).unwrap(),
            "t0ken"
        );
        assert!(resolved(&format!("${{directory:{}:../x}}", dir.display())).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn provider_declarations_are_recognised() {
        assert!(is_provider_declaration("config.providers"));
        assert!(is_provider_declaration("config.providers.file.class"));
        assert!(!is_provider_declaration("config.storage.topic"));
    }
}
