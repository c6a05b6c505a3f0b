//! Cluster connection config: a serde DTO, a pure `validate()`, and the validated value the
//! client factories accept. Nothing here performs I/O.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// How to reach one Kafka cluster, as written in `gateway.toml`.
///
/// ```toml
/// [kafka]
/// bootstrap_servers = "127.0.0.1:9092"
/// client_id = "kafka-gateway"
/// [kafka.properties]          # any librdkafka property, passed through
/// "security.protocol" = "SASL_SSL"
/// "sasl.mechanism" = "SCRAM-SHA-512"
/// ```
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Comma-separated `host:port` list, as librdkafka's `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `client.id` sent to the brokers; appears in broker logs and quotas.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// Any further librdkafka property (`security.protocol`, `sasl.*`, `ssl.*`, ...).
    /// Numbers and booleans are taken as their text: an environment override such as
    /// `KAFKA_GATEWAY_KAFKA__PROPERTIES__MESSAGE_TIMEOUT_MS=4000` arrives as a number.
    #[serde(default, deserialize_with = "properties_as_text")]
    pub properties: BTreeMap<String, String>,
}

fn default_client_id() -> String {
    "kafka-gateway".to_owned()
}

impl ClusterConfig {
    /// A config for `bootstrap_servers` with defaults everywhere else.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            client_id: default_client_id(),
            properties: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("client_id", &self.client_id)
            .field("properties", &RedactedProperties(&self.properties))
            .finish()
    }
}

/// A configuration mistake, naming the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for `{key}`: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Properties the gateway sets itself from typed fields; setting them in `properties`
/// would silently fight the typed value, so validation refuses them.
const RESERVED_PROPERTIES: &[(&str, &str)] = &[
    ("bootstrap.servers", "bootstrap_servers"),
    ("metadata.broker.list", "bootstrap_servers"),
    ("client.id", "client_id"),
];

const SECURITY_PROTOCOLS: &[&str] = &["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"];
const SASL_MECHANISMS: &[&str] = &[
    "PLAIN",
    "SCRAM-SHA-256",
    "SCRAM-SHA-512",
    "GSSAPI",
    "OAUTHBEARER",
];

/// A cluster config that passed [`ClusterConfig::validate`].
#[derive(Clone, PartialEq, Eq)]
pub struct ValidatedCluster {
    bootstrap_servers: String,
    client_id: String,
    properties: BTreeMap<String, String>,
}

impl fmt::Debug for ValidatedCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatedCluster")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("client_id", &self.client_id)
            .field("properties", &RedactedProperties(&self.properties))
            .finish()
    }
}

impl ValidatedCluster {
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Pass-through librdkafka properties, secrets included: never log this map directly.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// The configured `security.protocol`, lower-cased, `plaintext` when unset.
    pub fn security_protocol(&self) -> String {
        self.properties
            .get("security.protocol")
            .map_or_else(|| "plaintext".to_owned(), |p| p.to_ascii_lowercase())
    }
}

impl ClusterConfig {
    /// Checks every rule without touching the network. `prefix` is the config path of this
    /// section (e.g. `kafka`) so that errors name the key as the user wrote it.
    pub fn validate(&self, prefix: &str) -> Result<ValidatedCluster, ConfigError> {
        let key = |name: &str| {
            if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            }
        };
        let servers: Vec<&str> = self
            .bootstrap_servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if servers.is_empty() {
            return Err(ConfigError::new(
                key("bootstrap_servers"),
                "must list at least one host:port",
            ));
        }
        for server in &servers {
            validate_host_port(server).map_err(|reason| {
                ConfigError::new(key("bootstrap_servers"), format!("`{server}` {reason}"))
            })?;
        }
        if self.client_id.trim().is_empty() {
            return Err(ConfigError::new(key("client_id"), "must not be empty"));
        }
        for (name, value) in &self.properties {
            let property_key = key(&format!("properties.\"{name}\""));
            if name.trim().is_empty() {
                return Err(ConfigError::new(property_key, "property name is empty"));
            }
            if let Some((_, typed)) = RESERVED_PROPERTIES.iter().find(|(p, _)| p == name) {
                return Err(ConfigError::new(
                    property_key,
                    format!("set `{}` instead", key(typed)),
                ));
            }
            match name.as_str() {
                "security.protocol"
                    if !SECURITY_PROTOCOLS.contains(&value.to_ascii_lowercase().as_str()) =>
                {
                    return Err(ConfigError::new(
                        property_key,
                        format!(
                            "`{value}` is not one of {}",
                            SECURITY_PROTOCOLS.join(", ").to_ascii_uppercase()
                        ),
                    ));
                }
                "sasl.mechanism" | "sasl.mechanisms"
                    if !SASL_MECHANISMS.contains(&value.to_ascii_uppercase().as_str()) =>
                {
                    return Err(ConfigError::new(
                        property_key,
                        format!("`{value}` is not one of {}", SASL_MECHANISMS.join(", ")),
                    ));
                }
                _ => {}
            }
        }
        // `${env:...}` / `${file:...}` references are resolved here, once, so that the
        // clients get the secret and every error names the key that holds the reference.
        let mut properties = BTreeMap::new();
        for (name, value) in &self.properties {
            if crate::secrets::is_provider_declaration(name) {
                continue;
            }
            let resolved = crate::secrets::resolve(&key(&format!("properties.\"{name}\"")), value)?;
            properties.insert(name.clone(), resolved);
        }
        Ok(ValidatedCluster {
            bootstrap_servers: servers.join(","),
            client_id: self.client_id.clone(),
            properties,
        })
    }
}

fn validate_host_port(server: &str) -> Result<(), &'static str> {
    // librdkafka accepts an optional `proto://` prefix per server.
    let address = server.rsplit_once("://").map_or(server, |(_, rest)| rest);
    let (host, port) = address.rsplit_once(':').ok_or("has no `:port`")?;
    if host.is_empty() {
        return Err("has an empty host");
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err("has a port that is not a number from 1 to 65535"),
        Ok(_) => Ok(()),
    }
}

/// Whether a librdkafka (or Kafka Connect) property carries a secret and must never be
/// printed.
pub fn is_sensitive_key(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password")
        || name.contains("secret")
        || name.contains("sasl.jaas.config")
        || name.contains("sasl.oauthbearer.config")
        || name.ends_with(".pem")
        || name.ends_with("key.pem")
        || name.contains("token")
        || name.contains("basic.auth.user.info")
}

struct RedactedProperties<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for RedactedProperties<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                let shown = if is_sensitive_key(k) {
                    crate::secrets::HIDDEN
                } else {
                    v.as_str()
                };
                (k, shown)
            }))
            .finish()
    }
}

/// librdkafka properties are text; TOML and environment providers may hand numbers and
/// booleans, which are kept as the text librdkafka expects.
fn properties_as_text<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Integer(i64),
        Unsigned(u64),
        Float(f64),
        Flag(bool),
    }
    let raw: BTreeMap<String, Scalar> = serde::Deserialize::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Scalar::Text(text) => text,
                Scalar::Integer(number) => number.to_string(),
                Scalar::Unsigned(number) => number.to_string(),
                Scalar::Float(number) => number.to_string(),
                Scalar::Flag(flag) => flag.to_string(),
            };
            (key, text)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(toml_text: &str) -> ClusterConfig {
        toml::from_str(toml_text).expect("parses")
    }

    #[test]
    fn validate_accepts_minimal_config() {
        let validated = cluster(r#"bootstrap_servers = "127.0.0.1:9092, 127.0.0.1:9093""#)
            .validate("kafka")
            .unwrap();
        assert_eq!(
            validated.bootstrap_servers(),
            "127.0.0.1:9092,127.0.0.1:9093"
        );
        assert_eq!(validated.client_id(), "kafka-gateway");
        assert_eq!(validated.security_protocol(), "plaintext");
    }

    #[test]
    fn validate_rejects_empty_bootstrap() {
        let err = cluster(r#"bootstrap_servers = " , ""#)
            .validate("kafka")
            .unwrap_err();
        assert_eq!(err.key, "kafka.bootstrap_servers");
    }

    #[test]
    fn validate_rejects_missing_port() {
        let err = cluster(r#"bootstrap_servers = "broker1""#)
            .validate("kafka")
            .unwrap_err();
        assert_eq!(err.key, "kafka.bootstrap_servers");
        assert!(err.reason.contains("broker1"), "{err}");
    }

    #[test]
    fn validate_rejects_bad_port() {
        let err = cluster(r#"bootstrap_servers = "broker1:99999""#)
            .validate("kafka")
            .unwrap_err();
        assert!(err.reason.contains("port"), "{err}");
    }

    #[test]
    fn validate_rejects_reserved_property() {
        let err = cluster(
            r#"bootstrap_servers = "b:9092"
            [properties]
            "bootstrap.servers" = "other:9092""#,
        )
        .validate("kafka")
        .unwrap_err();
        assert!(err.key.contains("bootstrap.servers"), "{err}");
        assert!(err.reason.contains("kafka.bootstrap_servers"), "{err}");
    }

    #[test]
    fn validate_rejects_unknown_security_protocol() {
        let err = cluster(
            r#"bootstrap_servers = "b:9092"
            [properties]
            "security.protocol" = "SASL_TLS""#,
        )
        .validate("kafka")
        .unwrap_err();
        assert!(err.reason.contains("SASL_TLS"), "{err}");
    }

    #[test]
    fn validate_rejects_unknown_sasl_mechanism() {
        let err = cluster(
            r#"bootstrap_servers = "b:9092"
            [properties]
            "sasl.mechanism" = "SCRAM-SHA-1""#,
        )
        .validate("")
        .unwrap_err();
        assert_eq!(err.key, "properties.\"sasl.mechanism\"");
    }

    #[test]
    fn validate_resolves_secret_references_and_names_the_key_when_missing() {
        let config = cluster(
            r#"bootstrap_servers = "b:9092"
            [properties]
            "config.providers" = "env"
            "sasl.username" = "${env:USER_FOR_CONFIG_TEST_THAT_IS_UNSET}""#,
        );
        let error = config.validate("kafka").unwrap_err();
        assert_eq!(error.key, "kafka.properties.\"sasl.username\"");
        assert!(error.reason.contains("is not set"), "{error}");

        let config = cluster(
            r#"bootstrap_servers = "b:9092"
            [properties]
            "config.providers" = "env"
            "sasl.username" = "${env:PATH}""#,
        );
        let validated = config.validate("kafka").unwrap();
        assert_eq!(
            validated
                .properties()
                .get("sasl.username")
                .map(String::as_str),
            std::env::var("PATH").ok().as_deref()
        );
        assert!(!validated.properties().contains_key("config.providers"));
    }

    #[test]
    fn unknown_field_names_the_key() {
        let err = toml::from_str::<ClusterConfig>(r#"bootstrap_server = "b:9092""#).unwrap_err();
        assert!(err.to_string().contains("bootstrap_server"), "{err}");
    }

    #[test]
    fn debug_hides_secrets() {
        let config = cluster(
            r#"bootstrap_servers = "b:9092"
            [properties]
            "sasl.password" = "canary-secret"
            "ssl.key.password" = "canary-secret""#,
        );
        let printed = format!("{config:?} {:?}", config.validate("kafka").unwrap());
        assert!(!printed.contains("canary-secret"), "{printed}");
        assert!(printed.contains(crate::secrets::HIDDEN));
    }
}
