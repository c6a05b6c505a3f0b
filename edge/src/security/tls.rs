//! TLS termination with rustls: certificate and key from PEM files, reloaded when the files
//! change, and optional client certificates (mTLS) checked against a CA file, reloaded too.
//!
//! Both reload at handshake time with the discipline of `security::reload`: at most once per
//! `reload_interval` a handshake stats the files and, if they changed, loads them again; a
//! pair or CA that fails to load (e.g. caught half-written) is logged and the previous one
//! keeps serving. The pair is looked up by rustls during the handshake (a synchronous
//! callback, and PEM parsing is cheap, so it loads inline); the client verifier is part of
//! the server config, so a new CA means a new server config, picked per connection before
//! the handshake. No task to spawn or stop, and connections already open keep what they
//! shook hands with.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use broker_core::ConfigError;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use serde::Deserialize;

use super::reload::{Loader, WatchName, Watched};
use super::reload_metrics::ReloadMetrics;

/// `[<service>.http.tls]` as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// PEM CA certificates that client certificates must chain to; enables mTLS.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// `required` (the default with `client_ca_file`) or `optional`.
    #[serde(default)]
    pub client_auth: Option<ClientAuth>,
    /// How often a handshake may look for changed certificate and CA files.
    #[serde(default = "default_reload_interval_ms")]
    pub reload_interval_ms: u64,
}

fn default_reload_interval_ms() -> u64 {
    5_000
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    Required,
    Optional,
}

/// The rustls provider every listener uses (the one reqwest and rdkafka's peers use too).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The server side of a TLS listener.
#[derive(Debug)]
pub struct TlsServer {
    config: Watched<ServerConfig>,
}

impl TlsServer {
    /// The server config for a new connection, with the client CA as last (re)loaded.
    pub(crate) async fn config(&self) -> Arc<ServerConfig> {
        self.config.current().await.value
    }
}

impl TlsConfig {
    /// Loads the files now, so a wrong path or a key that does not match the certificate
    /// stops startup with the key named. `metrics` counts the reloads afterwards.
    pub fn load(&self, prefix: &str, metrics: &ReloadMetrics) -> Result<TlsServer, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        let provider = provider();
        let interval = Duration::from_millis(self.reload_interval_ms);
        let resolver = Arc::new(CertificateResolver {
            pair: certificate_pair(
                CertificateFiles {
                    cert: self.cert_file.clone(),
                    key: self.key_file.clone(),
                },
                Arc::clone(&provider),
                prefix,
                interval,
                metrics.clone(),
            )?,
        });
        let mode = match (&self.client_ca_file, self.client_auth) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    key("client_auth"),
                    "needs `client_ca_file` to check client certificates against",
                ));
            }
            (Some(path), mode) => Some((path.clone(), mode.unwrap_or(ClientAuth::Required))),
        };
        let files = mode.iter().map(|(path, _)| path.clone()).collect();
        let prefix = prefix.to_owned();
        let load: Loader<ServerConfig> = Arc::new(move || {
            server_config(
                &prefix,
                &provider,
                &resolver,
                mode.as_ref().map(|(p, m)| (p.as_path(), *m)),
            )
        });
        let name = WatchName {
            label: "client_ca_file",
            key: key("client_ca_file"),
        };
        Ok(TlsServer {
            config: Watched::load(files, name, interval, metrics.clone(), load)?,
        })
    }
}

/// A server config around the shared certificate resolver, checking client certificates
/// against the CA file when there is one.
fn server_config(
    prefix: &str,
    provider: &Arc<CryptoProvider>,
    resolver: &Arc<CertificateResolver>,
    client_ca: Option<(&Path, ClientAuth)>,
) -> Result<ServerConfig, ConfigError> {
    let ca_key = || format!("{prefix}.client_ca_file");
    let builder = ServerConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| ConfigError::new(prefix, error.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some((path, mode)) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certificates(path).map_err(|m| ConfigError::new(ca_key(), m))? {
                roots.add(cert).map_err(|error| {
                    ConfigError::new(
                        ca_key(),
                        format!("`{}`: unusable CA certificate: {error}", path.display()),
                    )
                })?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
            let verifier = match mode {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                ClientAuth::Required => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|error| ConfigError::new(ca_key(), error.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config =
        builder.with_cert_resolver(Arc::clone(resolver) as Arc<dyn ResolvesServerCert>);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| {
            format!(
                "cannot read PEM certificates from `{}`: {error}",
                path.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!("`{}` holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

#[derive(Debug, Clone)]
struct CertificateFiles {
    cert: PathBuf,
    key: PathBuf,
}

impl CertificateFiles {
    /// The pair, or the field at fault and why.
    fn load(&self, provider: &CryptoProvider) -> Result<CertifiedKey, (&'static str, String)> {
        let chain = read_certificates(&self.cert).map_err(|message| ("cert_file", message))?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|error| {
            (
                "key_file",
                format!(
                    "cannot read a PEM private key from `{}`: {error}",
                    self.key.display()
                ),
            )
        })?;
        CertifiedKey::from_der(chain, key, provider).map_err(|error| {
            (
                "key_file",
                format!(
                    "`{}` does not fit the certificate: {error}",
                    self.key.display()
                ),
            )
        })
    }
}

/// The certificate pair, watched as one value: both files are stamped together.
fn certificate_pair(
    files: CertificateFiles,
    provider: Arc<CryptoProvider>,
    prefix: &str,
    interval: Duration,
    metrics: ReloadMetrics,
) -> Result<Watched<CertifiedKey>, ConfigError> {
    let paths = vec![files.cert.clone(), files.key.clone()];
    let prefix_owned = prefix.to_owned();
    let load: Loader<CertifiedKey> = Arc::new(move || {
        files.load(&provider).map_err(|(field, message)| {
            ConfigError::new(format!("{prefix_owned}.{field}"), message)
        })
    });
    let name = WatchName {
        label: "cert_file",
        key: format!("{prefix}.cert_file"),
    };
    Watched::load(paths, name, interval, metrics, load)
}

/// Serves the current certificate, reloading it when its files changed.
#[derive(Debug)]
struct CertificateResolver {
    pair: Watched<CertifiedKey>,
}

impl ResolvesServerCert for CertificateResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pair.current_inline().value)
    }
}

/// The subject common name of a DER certificate, for the principal of an mTLS client.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    certificate
        .subject()
        .iter_common_name()
        .next()
        .and_then(|name| name.as_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, KeyPair};

    use super::*;
    use crate::security::tempdir;

    /// `(certificate PEM, key PEM, certificate DER)`, self-signed for `name`.
    fn self_signed(name: &str) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    fn config(dir: &tempdir::Dir, extra: &str) -> TlsConfig {
        let text = format!(
            "cert_file = {:?}\nkey_file = {:?}\nreload_interval_ms = 0\n{extra}",
            dir.path().join("cert.pem").display().to_string(),
            dir.path().join("key.pem").display().to_string()
        );
        toml::from_str(&text).unwrap()
    }

    fn resolver_of(dir: &tempdir::Dir) -> CertificateResolver {
        let files = CertificateFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        let pair = certificate_pair(
            files,
            provider(),
            "k",
            Duration::ZERO,
            ReloadMetrics::default(),
        )
        .unwrap();
        CertificateResolver { pair }
    }

    /// The leaf a handshake would get now.
    fn served_leaf(resolver: &CertificateResolver) -> Vec<u8> {
        resolver.pair.current_inline().value.cert[0].to_vec()
    }

    fn load(config: &TlsConfig, prefix: &str) -> Result<TlsServer, ConfigError> {
        config.load(prefix, &ReloadMetrics::default())
    }

    #[test]
    fn loads_a_pair_and_reloads_it_when_the_files_change() {
        let dir = tempdir::Dir::new();
        let (cert, key, first_der) = self_signed("first");
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        assert!(load(&config(&dir, ""), "bridge.http.tls").is_ok());
        let resolver = resolver_of(&dir);
        assert_eq!(served_leaf(&resolver), first_der);

        // Half-replaced (new key, old certificate): keep serving the old pair.
        let (cert, key, second_der) = self_signed("second");
        std::fs::write(dir.path().join("key.pem"), &key).unwrap();
        assert_eq!(served_leaf(&resolver), first_der);
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
        assert_eq!(served_leaf(&resolver), second_der);
        assert_eq!(common_name(&second_der).as_deref(), Some("second"));
    }

    #[tokio::test]
    async fn rebuilds_the_server_config_when_the_client_ca_changes_and_keeps_it_when_broken() {
        let dir = tempdir::Dir::new();
        let (cert, key, _) = self_signed("server");
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &cert).unwrap();
        let extra = format!("client_ca_file = {:?}", ca.display().to_string());
        let server = load(&config(&dir, &extra), "k").unwrap();
        let first = server.config().await;
        assert!(Arc::ptr_eq(&first, &server.config().await), "unchanged");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\ntruncated").unwrap();
        assert!(Arc::ptr_eq(&first, &server.config().await), "broken: kept");
        let (other_ca, _, _) = self_signed("another CA");
        std::fs::write(&ca, other_ca).unwrap();
        assert!(!Arc::ptr_eq(&first, &server.config().await), "rebuilt");
    }

    #[test]
    fn validate_rejects_a_key_that_does_not_fit() {
        let dir = tempdir::Dir::new();
        let (cert, _, _) = self_signed("a");
        let (_, other_key, _) = self_signed("b");
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), other_key).unwrap();
        let err = load(&config(&dir, ""), "bridge.http.tls").unwrap_err();
        assert_eq!(err.key, "bridge.http.tls.key_file");
    }

    #[test]
    fn validate_rejects_client_auth_without_ca_and_bad_ca_file() {
        let dir = tempdir::Dir::new();
        let (cert, key, _) = self_signed("a");
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let err = load(&config(&dir, "client_auth = \"optional\""), "k").unwrap_err();
        assert_eq!(err.key, "k.client_auth");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a pem").unwrap();
        let extra = format!("client_ca_file = {:?}", ca.display().to_string());
        assert_eq!(
            load(&config(&dir, &extra), "k").unwrap_err().key,
            "k.client_ca_file"
        );
        std::fs::write(&ca, &cert).unwrap();
        assert!(load(&config(&dir, &extra), "k").is_ok());
    }

    #[test]
    fn validate_rejects_missing_files_naming_the_key() {
        let config: TlsConfig =
            toml::from_str("cert_file = \"/nonexistent/c.pem\"\nkey_file = \"/nonexistent/k.pem\"")
                .unwrap();
        let err = load(&config, "bridge.http.tls").unwrap_err();
        assert_eq!(err.key, "bridge.http.tls.cert_file");
    }

    #[test]
    fn validate_rejects_unknown_client_auth_mode() {
        let err = toml::from_str::<TlsConfig>(
            "cert_file = \"c\"\nkey_file = \"k\"\nclient_auth = \"maybe\"",
        )
        .unwrap_err();
        assert!(err.to_string().contains("maybe"), "{err}");
    }
}
