//! The librdkafka-style properties of a [`ValidatedCluster`] read into what the native
//! client needs: the transport, the SASL login and the trust material. Pure: files are
//! named here and read when a connection is made, so that a rotated CA file is picked up.
//!
//! Anything this client cannot do (GSSAPI, OAUTHBEARER, encrypted private keys, JKS or
//! PKCS#12 stores, certificate verification turned off) is refused with
//! [`WireError::Unsupported`] naming the key, rather than silently connecting differently
//! from the rdkafka clients of the same cluster.

use std::path::PathBuf;
use std::time::Duration;

use super::error::WireError;
use crate::config::ValidatedCluster;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScramHash {
    Sha256,
    Sha512,
}

#[derive(Clone, PartialEq, Eq)]
pub enum SaslLogin {
    Plain {
        username: String,
        password: String,
    },
    Scram {
        hash: ScramHash,
        username: String,
        password: String,
    },
}

impl SaslLogin {
    /// The mechanism name as sent in SaslHandshake.
    pub fn mechanism(&self) -> &'static str {
        match self {
            Self::Plain { .. } => "PLAIN",
            Self::Scram {
                hash: ScramHash::Sha256,
                ..
            } => "SCRAM-SHA-256",
            Self::Scram {
                hash: ScramHash::Sha512,
                ..
            } => "SCRAM-SHA-512",
        }
    }
}

impl std::fmt::Debug for SaslLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (Self::Plain { username, .. } | Self::Scram { username, .. }) = self;
        f.debug_struct("SaslLogin")
            .field("mechanism", &self.mechanism())
            .field("username", username)
            .finish_non_exhaustive()
    }
}

/// PEM material: a file (`*.location`) or inline text (`*.pem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemSource {
    File(PathBuf),
    Inline(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `None`: the platform has no bundle we ship, so the CA must be configured.
    pub ca: Option<PemSource>,
    /// Client certificate chain and private key, for brokers with `ssl.client.auth`.
    pub client_identity: Option<(PemSource, PemSource)>,
    /// `ssl.endpoint.identification.algorithm=none`: the chain is verified, the name is not.
    pub verify_hostname: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireSettings {
    pub bootstrap: Vec<String>,
    pub client_id: String,
    pub tls: Option<TlsSettings>,
    pub sasl: Option<SaslLogin>,
    /// Connect, TLS and SASL together.
    pub connect_timeout: Duration,
    /// One request and its response.
    pub request_timeout: Duration,
}

fn unsupported(key: &str, reason: impl Into<String>) -> WireError {
    WireError::Unsupported {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

impl WireSettings {
    /// Reads the settings of `cluster`; `request_timeout` bounds each request.
    pub fn from_cluster(
        cluster: &ValidatedCluster,
        request_timeout: Duration,
    ) -> Result<Self, WireError> {
        let properties = cluster.properties();
        let get = |key: &str| {
            properties
                .get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let protocol = cluster.security_protocol();
        let (uses_tls, uses_sasl) = match protocol.as_str() {
            "plaintext" => (false, false),
            "ssl" => (true, false),
            "sasl_plaintext" => (false, true),
            "sasl_ssl" => (true, true),
            other => {
                return Err(unsupported(
                    "security.protocol",
                    format!("`{other}` is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
                ));
            }
        };
        let sasl = if uses_sasl {
            let (mechanism_key, mechanism) = get("sasl.mechanism")
                .map(|m| ("sasl.mechanism", m))
                .or_else(|| get("sasl.mechanisms").map(|m| ("sasl.mechanisms", m)))
                // librdkafka's default.
                .unwrap_or(("sasl.mechanisms", "GSSAPI"));
            let credentials = || -> Result<(String, String), WireError> {
                let username = get("sasl.username").ok_or_else(|| {
                    unsupported("sasl.username", format!("is required for {mechanism}"))
                })?;
                let password = properties.get("sasl.password").ok_or_else(|| {
                    unsupported("sasl.password", format!("is required for {mechanism}"))
                })?;
                Ok((username.to_owned(), password.clone()))
            };
            Some(match mechanism.to_ascii_uppercase().as_str() {
                "PLAIN" => {
                    let (username, password) = credentials()?;
                    SaslLogin::Plain { username, password }
                }
                name @ ("SCRAM-SHA-256" | "SCRAM-SHA-512") => {
                    let (username, password) = credentials()?;
                    let hash = if name == "SCRAM-SHA-256" {
                        ScramHash::Sha256
                    } else {
                        ScramHash::Sha512
                    };
                    SaslLogin::Scram {
                        hash,
                        username,
                        password,
                    }
                }
                other => {
                    return Err(unsupported(
                        mechanism_key,
                        format!(
                            "`{other}` is not supported by the native protocol client (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 are)"
                        ),
                    ));
                }
            })
        } else {
            None
        };
        let tls = if uses_tls {
            Some(tls_settings(&get)?)
        } else {
            None
        };
        Ok(Self {
            bootstrap: cluster
                .bootstrap_servers()
                .split(',')
                .map(|server| {
                    // librdkafka's optional `proto://` prefix carries no information here.
                    server
                        .rsplit_once("://")
                        .map_or(server, |(_, rest)| rest)
                        .to_owned()
                })
                .collect(),
            client_id: cluster.client_id().to_owned(),
            tls,
            sasl,
            connect_timeout: request_timeout.min(Duration::from_secs(30)),
            request_timeout,
        })
    }
}

fn tls_settings<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<TlsSettings, WireError> {
    for key in ["ssl.keystore.location", "ssl.truststore.location"] {
        if get(key).is_some() {
            return Err(unsupported(
                key,
                "JKS/PKCS#12 stores are not supported by the native protocol client; use PEM files (ssl.ca.location, ssl.certificate.location, ssl.key.location)",
            ));
        }
    }
    if get("ssl.key.password").is_some() {
        return Err(unsupported(
            "ssl.key.password",
            "encrypted private keys are not supported by the native protocol client; use an unencrypted PKCS#8 key file",
        ));
    }
    if get("enable.ssl.certificate.verification").is_some_and(|v| v.eq_ignore_ascii_case("false")) {
        return Err(unsupported(
            "enable.ssl.certificate.verification",
            "the native protocol client always verifies the broker certificate",
        ));
    }
    let pem = |file_key: &str, inline_key: &str| {
        get(inline_key)
            .map(|text| PemSource::Inline(text.to_owned()))
            .or_else(|| get(file_key).map(|path| PemSource::File(PathBuf::from(path))))
    };
    let ca = pem("ssl.ca.location", "ssl.ca.pem");
    if ca.is_none() {
        return Err(unsupported(
            "ssl.ca.location",
            "is required by the native protocol client (it does not read the system trust store)",
        ));
    }
    let certificate = pem("ssl.certificate.location", "ssl.certificate.pem");
    let key = pem("ssl.key.location", "ssl.key.pem");
    let client_identity = match (certificate, key) {
        (Some(certificate), Some(key)) => Some((certificate, key)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(unsupported(
                "ssl.key.location",
                "is required with ssl.certificate.location",
            ));
        }
        (None, Some(_)) => {
            return Err(unsupported(
                "ssl.certificate.location",
                "is required with ssl.key.location",
            ));
        }
    };
    let verify_hostname = match get("ssl.endpoint.identification.algorithm") {
        None => true,
        Some(value) if value.eq_ignore_ascii_case("https") => true,
        Some(value) if value.eq_ignore_ascii_case("none") => false,
        Some(other) => {
            return Err(unsupported(
                "ssl.endpoint.identification.algorithm",
                format!("`{other}` is not https or none"),
            ));
        }
    };
    Ok(TlsSettings {
        ca,
        client_identity,
        verify_hostname,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClusterConfig;

    fn settings(properties: &[(&str, &str)]) -> Result<WireSettings, WireError> {
        let mut config = ClusterConfig::new("SASL_SSL://b1:9094, b2:9094");
        for (key, value) in properties {
            config
                .properties
                .insert((*key).to_owned(), (*value).to_owned());
        }
        let cluster = config.validate("kafka").expect("valid cluster");
        WireSettings::from_cluster(&cluster, Duration::from_secs(5))
    }

    #[test]
    fn plaintext_needs_nothing() {
        let settings = settings(&[]).expect("settings");
        assert_eq!(settings.bootstrap, ["b1:9094", "b2:9094"]);
        assert!(settings.tls.is_none() && settings.sasl.is_none());
    }

    #[test]
    fn sasl_ssl_with_scram_reads_credentials_and_ca() {
        let settings = settings(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "secret"),
            ("ssl.ca.location", "/etc/ca.pem"),
        ])
        .expect("settings");
        assert_eq!(
            settings.sasl.as_ref().map(SaslLogin::mechanism),
            Some("SCRAM-SHA-512")
        );
        let tls = settings.tls.expect("tls");
        assert_eq!(tls.ca, Some(PemSource::File("/etc/ca.pem".into())));
        assert!(tls.verify_hostname);
        assert!(!format!("{:?}", settings.sasl).contains("secret"));
    }

    #[test]
    fn rejects_gssapi_and_oauthbearer_naming_the_key() {
        for mechanism in ["GSSAPI", "OAUTHBEARER"] {
            let error = settings(&[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanisms", mechanism),
            ])
            .expect_err("unsupported");
            assert!(
                matches!(&error, WireError::Unsupported { key, .. } if key == "sasl.mechanisms"),
                "{error}"
            );
            assert!(error.to_string().contains(mechanism), "{error}");
        }
        // librdkafka defaults to GSSAPI when no mechanism is set.
        let error = settings(&[("security.protocol", "SASL_PLAINTEXT")]).expect_err("gssapi");
        assert!(error.to_string().contains("GSSAPI"), "{error}");
    }

    #[test]
    fn rejects_missing_password_and_tls_without_ca() {
        let error = settings(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "alice"),
        ])
        .expect_err("no password");
        assert!(matches!(&error, WireError::Unsupported { key, .. } if key == "sasl.password"));
        let error = settings(&[("security.protocol", "SSL")]).expect_err("no ca");
        assert!(matches!(&error, WireError::Unsupported { key, .. } if key == "ssl.ca.location"));
        let error = settings(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "/ca.pem"),
            ("ssl.keystore.location", "/k.p12"),
        ])
        .expect_err("keystore");
        assert!(
            matches!(&error, WireError::Unsupported { key, .. } if key == "ssl.keystore.location")
        );
    }
}
