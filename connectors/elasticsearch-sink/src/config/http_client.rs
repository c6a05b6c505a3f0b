//! Confluent's HTTP-client keys: compression, idle connections, the proxy, and the ways to
//! authenticate this gateway does not have (Kerberos, JKS/PKCS12 stores).
//!
//! Keys we cannot honour are refused with an issue on the key, never ignored: a user who set
//! `kerberos.user.principal` would otherwise send unauthenticated requests without a word.

use std::time::Duration;

use connect_api::{ConfigDef, ConfigKey, ConfigType, Width};

use super::{ConfigIssue, Credentials, Reader, one_of};

pub const CONNECTION_COMPRESSION: &str = "connection.compression";
pub const MAX_CONNECTION_IDLE_TIME_MS: &str = "max.connection.idle.time.ms";
pub const PROXY_HOST: &str = "proxy.host";
pub const PROXY_PORT: &str = "proxy.port";
pub const PROXY_USERNAME: &str = "proxy.username";
pub const PROXY_PASSWORD: &str = "proxy.password";
pub const KERBEROS_PRINCIPAL: &str = "kerberos.user.principal";
pub const KERBEROS_KEYTAB_PATH: &str = "kerberos.keytab.path";
pub const KEYSTORE_TYPE: &str = "elastic.https.ssl.keystore.type";
pub const TRUSTSTORE_TYPE: &str = "elastic.https.ssl.truststore.type";

const PROXY_GROUP: &str = "Proxy";
const KERBEROS_GROUP: &str = "Kerberos";
const SECURITY_GROUP: &str = "Security";
const CONNECTOR_GROUP: &str = "Connector";

/// The longest idle time Confluent accepts: one day.
const MAX_IDLE_MS: i64 = 86_400_000;

fn port_valid(value: &str) -> Result<(), String> {
    match value.trim().parse::<i64>() {
        Ok(port) if (1..=65_535).contains(&port) => Ok(()),
        _ => Err("Value must be between 1 and 65535".to_owned()),
    }
}

fn idle_valid(value: &str) -> Result<(), String> {
    match value.trim().parse::<i64>() {
        Ok(ms) if (-1..=MAX_IDLE_MS).contains(&ms) => Ok(()),
        _ => Err(format!("Value must be between -1 and {MAX_IDLE_MS}")),
    }
}

fn store_type_valid(value: &str) -> Result<(), String> {
    one_of(value, &["PEM", "JKS", "PKCS12"])
}

/// Adds the keys of this module to `def`, with Confluent's types and defaults (the store
/// types default to PEM, the only format read here, where Kafka defaults to JKS).
pub(super) fn define(def: ConfigDef) -> ConfigDef {
    let key = |name: &str, config_type: ConfigType, group: &str, order: i32| {
        ConfigKey::new(name, config_type)
            .group(group, order)
            .width(Width::Short)
    };
    def.define(key(CONNECTION_COMPRESSION, ConfigType::Boolean, CONNECTOR_GROUP, 14).default_value("false")
            .doc("Whether to gzip the bulk request bodies (Content-Encoding: gzip). The cluster must accept compressed requests (http.compression, on by default)."))
        .define(key(MAX_CONNECTION_IDLE_TIME_MS, ConfigType::Int, CONNECTOR_GROUP, 15).default_value("60000").validator(idle_valid)
            .doc("How long in milliseconds an idle connection is kept for reuse; 0 opens a new connection per request, -1 keeps idle connections without a limit."))
        .define(key(PROXY_HOST, ConfigType::String, PROXY_GROUP, 1).default_value("").width(Width::Long)
            .doc("The host of an HTTP proxy every request goes through (https:// URLs are tunnelled with CONNECT). Basic authentication only."))
        .define(key(PROXY_PORT, ConfigType::Int, PROXY_GROUP, 2).default_value("8080").validator(port_valid)
            .doc("The port of the proxy host."))
        .define(key(PROXY_USERNAME, ConfigType::String, PROXY_GROUP, 3).default_value("")
            .doc("The username for the proxy (basic authentication)."))
        .define(key(PROXY_PASSWORD, ConfigType::Password, PROXY_GROUP, 4).default_value("")
            .doc("The password for the proxy (basic authentication)."))
        .define(key(KERBEROS_PRINCIPAL, ConfigType::String, KERBEROS_GROUP, 1).default_value("")
            .doc("Not supported by this gateway: setting it is a validation error. Use connection.username/connection.password or a TLS client certificate."))
        .define(key(KERBEROS_KEYTAB_PATH, ConfigType::String, KERBEROS_GROUP, 2).default_value("")
            .doc("Not supported by this gateway: setting it is a validation error."))
        .define(key(KEYSTORE_TYPE, ConfigType::String, SECURITY_GROUP, 5).default_value("PEM").recommended(&["PEM"]).validator(store_type_valid)
            .doc("The format of elastic.https.ssl.keystore.location. Only PEM is read here; JKS and PKCS12 are refused (convert them with keytool/openssl)."))
        .define(key(TRUSTSTORE_TYPE, ConfigType::String, SECURITY_GROUP, 6).default_value("PEM").recommended(&["PEM"]).validator(store_type_valid)
            .doc("The format of elastic.https.ssl.truststore.location. Only PEM is read here; JKS and PKCS12 are refused."))
}

/// An HTTP proxy for every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// `http://host:port`.
    pub url: reqwest::Url,
    pub credentials: Option<Credentials>,
}

/// How long idle connections stay in the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleConnections {
    /// `-1`: no limit.
    KeptForever,
    /// `0`: no reuse.
    Closed,
    KeptFor(Duration),
}

/// The client options of this module, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientOptions {
    pub compression: bool,
    pub idle_connections: IdleConnections,
    pub proxy: Option<ProxyConfig>,
}

pub(super) fn read(reader: &mut Reader<'_>) -> HttpClientOptions {
    refuse_unsupported(reader);
    let idle_connections = match reader.raw(MAX_CONNECTION_IDLE_TIME_MS).parse::<i64>() {
        Ok(-1) => IdleConnections::KeptForever,
        Ok(0) => IdleConnections::Closed,
        Ok(ms) if (1..=MAX_IDLE_MS).contains(&ms) => {
            IdleConnections::KeptFor(Duration::from_millis(ms.unsigned_abs()))
        }
        _ => {
            reader.issues.push(ConfigIssue::new(
                MAX_CONNECTION_IDLE_TIME_MS,
                format!(
                    "Invalid value {} for configuration {MAX_CONNECTION_IDLE_TIME_MS}: Value must be between -1 and {MAX_IDLE_MS}",
                    reader.raw(MAX_CONNECTION_IDLE_TIME_MS)
                ),
            ));
            IdleConnections::KeptForever
        }
    };
    HttpClientOptions {
        compression: reader.boolean(CONNECTION_COMPRESSION),
        idle_connections,
        proxy: proxy(reader),
    }
}

fn refuse_unsupported(reader: &mut Reader<'_>) {
    for key in [KERBEROS_PRINCIPAL, KERBEROS_KEYTAB_PATH] {
        if !reader.raw(key).is_empty() {
            reader.issues.push(ConfigIssue::new(
                key,
                format!("not supported by this gateway: Kerberos (SPNEGO) authentication ({key}); use connection.username/connection.password or a TLS client certificate"),
            ));
        }
    }
    for (type_key, location_key) in [
        (KEYSTORE_TYPE, super::KEYSTORE_LOCATION),
        (TRUSTSTORE_TYPE, super::TRUSTSTORE_LOCATION),
    ] {
        let store_type = reader.raw(type_key);
        if let Err(message) = store_type_valid(&store_type) {
            reader.issues.push(ConfigIssue::new(
                type_key,
                format!("Invalid value {store_type} for configuration {type_key}: {message}"),
            ));
        } else if !store_type.eq_ignore_ascii_case("PEM") && !reader.raw(location_key).is_empty() {
            reader.issues.push(ConfigIssue::new(
                type_key,
                format!("not supported by this gateway: {} stores ({type_key}={store_type}); convert {location_key} to PEM and set {type_key}=PEM", store_type.to_ascii_uppercase()),
            ));
        }
    }
}

fn proxy(reader: &mut Reader<'_>) -> Option<ProxyConfig> {
    let host = reader.raw(PROXY_HOST);
    let username = reader.raw(PROXY_USERNAME);
    let password = reader
        .config
        .get(PROXY_PASSWORD)
        .cloned()
        .unwrap_or_default();
    let port_text = reader.raw(PROXY_PORT);
    let port = match port_text.parse::<u16>() {
        Ok(port) if port > 0 => Some(port),
        _ => {
            reader.issues.push(ConfigIssue::new(
                PROXY_PORT,
                format!(
                    "Invalid value {port_text} for configuration {PROXY_PORT}: Value must be between 1 and 65535"
                ),
            ));
            None
        }
    };
    if host.is_empty() {
        let orphans = [
            (PROXY_PORT, reader.config.contains_key(PROXY_PORT)),
            (PROXY_USERNAME, !username.is_empty()),
            (PROXY_PASSWORD, !password.is_empty()),
        ];
        for (key, set) in orphans {
            if set {
                reader.issues.push(ConfigIssue::new(
                    key,
                    format!("{key} is set but proxy.host is not; set proxy.host or remove {key}"),
                ));
            }
        }
        return None;
    }
    let credentials = match (username.is_empty(), password.is_empty()) {
        (true, true) => None,
        (false, false) => Some(Credentials { username, password }),
        (true, false) => {
            reader.issues.push(ConfigIssue::new(
                PROXY_USERNAME,
                "proxy.password is set but proxy.username is not; set both or neither",
            ));
            None
        }
        (false, true) => {
            reader.issues.push(ConfigIssue::new(
                PROXY_PASSWORD,
                "proxy.username is set but proxy.password is not; set both or neither",
            ));
            None
        }
    };
    // Confluent takes a bare host name; a scheme or a path would silently mean another proxy.
    let url = reqwest::Url::parse(&format!("http://{host}:{}", port.unwrap_or(8080)))
        .ok()
        .filter(|url| {
            url.host_str() == Some(host.trim_matches(['[', ']']))
                || url.host_str() == Some(host.as_str())
        });
    match url {
        Some(url) => Some(ProxyConfig { url, credentials }),
        None => {
            reader.issues.push(ConfigIssue::new(
                PROXY_HOST,
                format!("`{host}` is not a host name or IP address (give the host only, without scheme, port or path)"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{base, issue_keys};
    use super::super::{ElasticsearchSinkConfig, KEYSTORE_LOCATION, TRUSTSTORE_LOCATION};
    use super::*;

    #[test]
    fn defaults_are_confluents() {
        let config = ElasticsearchSinkConfig::validate(&base(&[])).unwrap();
        let options = &config.connection.client;
        assert!(!options.compression);
        assert_eq!(
            options.idle_connections,
            IdleConnections::KeptFor(Duration::from_secs(60))
        );
        assert!(options.proxy.is_none());
    }

    #[test]
    fn proxy_with_credentials() {
        let config = ElasticsearchSinkConfig::validate(&base(&[
            (PROXY_HOST, "proxy.local"),
            (PROXY_PORT, "3128"),
            (PROXY_USERNAME, "me"),
            (PROXY_PASSWORD, "pw"),
        ]))
        .unwrap();
        let proxy = config.connection.client.proxy.unwrap();
        assert_eq!(proxy.url.as_str(), "http://proxy.local:3128/");
        assert_eq!(proxy.credentials.unwrap().username, "me");
    }

    #[test]
    fn validate_rejects_proxy_port_without_host() {
        assert_eq!(issue_keys(&base(&[(PROXY_PORT, "3128")])), vec![PROXY_PORT]);
    }

    #[test]
    fn validate_rejects_proxy_credentials_without_host() {
        assert_eq!(
            issue_keys(&base(&[(PROXY_USERNAME, "me"), (PROXY_PASSWORD, "pw")])),
            vec![PROXY_USERNAME, PROXY_PASSWORD]
        );
    }

    #[test]
    fn validate_rejects_partial_proxy_credentials() {
        assert_eq!(
            issue_keys(&base(&[(PROXY_HOST, "p"), (PROXY_USERNAME, "me")])),
            vec![PROXY_PASSWORD]
        );
    }

    #[test]
    fn validate_rejects_bad_proxy_port() {
        assert_eq!(
            issue_keys(&base(&[(PROXY_HOST, "p"), (PROXY_PORT, "-666")])),
            vec![PROXY_PORT]
        );
    }

    #[test]
    fn validate_rejects_proxy_host_with_scheme() {
        assert_eq!(
            issue_keys(&base(&[(PROXY_HOST, "http://p:1/x")])),
            vec![PROXY_HOST]
        );
    }

    #[test]
    fn validate_rejects_kerberos() {
        assert_eq!(
            issue_keys(&base(&[
                (KERBEROS_PRINCIPAL, "me@EXAMPLE.COM"),
                (KERBEROS_KEYTAB_PATH, "/etc/me.keytab"),
            ])),
            vec![KERBEROS_PRINCIPAL, KERBEROS_KEYTAB_PATH]
        );
    }

    #[test]
    fn validate_rejects_jks_and_pkcs12_stores() {
        assert_eq!(
            issue_keys(&base(&[
                (KEYSTORE_TYPE, "PKCS12"),
                (KEYSTORE_LOCATION, "/k.p12"),
                (TRUSTSTORE_TYPE, "jks"),
                (TRUSTSTORE_LOCATION, "/t.jks"),
            ])),
            vec![KEYSTORE_TYPE, TRUSTSTORE_TYPE]
        );
        // A store type without a store configures nothing, as in Confluent.
        assert!(ElasticsearchSinkConfig::validate(&base(&[(TRUSTSTORE_TYPE, "JKS")])).is_ok());
    }

    #[test]
    fn validate_rejects_idle_time_out_of_range() {
        assert_eq!(
            issue_keys(&base(&[(MAX_CONNECTION_IDLE_TIME_MS, "-2")])),
            vec![MAX_CONNECTION_IDLE_TIME_MS]
        );
        let config =
            ElasticsearchSinkConfig::validate(&base(&[(MAX_CONNECTION_IDLE_TIME_MS, "-1")]))
                .unwrap();
        assert_eq!(
            config.connection.client.idle_connections,
            IdleConnections::KeptForever
        );
    }
}
