//! TLS termination with rustls: certificate and key from PEM files, reloaded when the files
//! change, and optional client certificates (mTLS) checked against a CA file.
//!
//! Reload happens at handshake time: at most once per `reload_interval` a handshake looks at
//! the files' modification times and sizes (two `stat` calls, microseconds) and, if either
//! changed, loads the pair again. A pair that fails to load (e.g. caught half-written) is
//! logged and the previous certificate keeps serving until the next check. No task to spawn
//! or stop, and connections already open keep the certificate they shook hands with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use broker_core::ConfigError;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use serde::Deserialize;

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
    /// How often a handshake may look for changed certificate files.
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

impl TlsConfig {
    /// Loads the files now, so a wrong path or a key that does not match the certificate
    /// stops startup with the key named.
    pub fn load(&self, prefix: &str) -> Result<Arc<ServerConfig>, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        let provider = provider();
        let files = CertificateFiles {
            cert: self.cert_file.clone(),
            key: self.key_file.clone(),
        };
        let certified = files
            .load(&provider)
            .map_err(|(field, message)| ConfigError::new(key(field), message))?;
        let resolver = Arc::new(ReloadingResolver {
            files,
            provider: Arc::clone(&provider),
            interval: Duration::from_millis(self.reload_interval_ms),
            state: Mutex::new(ResolverState {
                certified: Arc::new(certified.0),
                stamp: certified.1,
                checked_at: Instant::now(),
            }),
        });
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| ConfigError::new(prefix, error.to_string()))?;
        let builder = match (&self.client_ca_file, self.client_auth) {
            (None, None) => builder.with_no_client_auth(),
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    key("client_auth"),
                    "needs `client_ca_file` to check client certificates against",
                ));
            }
            (Some(path), mode) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certificates(path)
                    .map_err(|m| ConfigError::new(key("client_ca_file"), m))?
                {
                    roots.add(cert).map_err(|error| {
                        ConfigError::new(
                            key("client_ca_file"),
                            format!("unusable CA certificate: {error}"),
                        )
                    })?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                );
                let verifier = match mode {
                    Some(ClientAuth::Optional) => verifier.allow_unauthenticated(),
                    Some(ClientAuth::Required) | None => verifier,
                };
                let verifier = verifier
                    .build()
                    .map_err(|error| ConfigError::new(key("client_ca_file"), error.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_cert_resolver(resolver);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
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

/// What the files looked like when last loaded.
type Stamp = [(Option<SystemTime>, u64); 2];

#[derive(Debug, Clone)]
struct CertificateFiles {
    cert: PathBuf,
    key: PathBuf,
}

impl CertificateFiles {
    fn stamp(&self) -> Stamp {
        [&self.cert, &self.key].map(|path| match std::fs::metadata(path) {
            Ok(metadata) => (metadata.modified().ok(), metadata.len()),
            Err(_) => (None, 0),
        })
    }

    /// The pair and its stamp, or the field at fault and why.
    fn load(
        &self,
        provider: &CryptoProvider,
    ) -> Result<(CertifiedKey, Stamp), (&'static str, String)> {
        let stamp = self.stamp();
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
        let certified = CertifiedKey::from_der(chain, key, provider).map_err(|error| {
            (
                "key_file",
                format!(
                    "`{}` does not fit the certificate: {error}",
                    self.key.display()
                ),
            )
        })?;
        Ok((certified, stamp))
    }
}

#[derive(Debug)]
struct ResolverState {
    certified: Arc<CertifiedKey>,
    stamp: Stamp,
    checked_at: Instant,
}

/// Serves the current certificate, reloading it when its files changed.
#[derive(Debug)]
struct ReloadingResolver {
    files: CertificateFiles,
    provider: Arc<CryptoProvider>,
    interval: Duration,
    state: Mutex<ResolverState>,
}

impl ResolvesServerCert for ReloadingResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.refresh())
    }
}

impl ReloadingResolver {
    /// The current pair, reloaded first if the interval passed and the files changed.
    fn refresh(&self) -> Arc<CertifiedKey> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.checked_at.elapsed() >= self.interval {
            state.checked_at = Instant::now();
            if self.files.stamp() != state.stamp {
                match self.files.load(&self.provider) {
                    Ok((certified, stamp)) => {
                        tracing::info!(cert_file = %self.files.cert.display(), "tls certificate reloaded");
                        state.certified = Arc::new(certified);
                        state.stamp = stamp;
                    }
                    Err((field, message)) => {
                        tracing::warn!(field, %message, "tls certificate not reloaded, keeping the previous one");
                    }
                }
            }
        }
        Arc::clone(&state.certified)
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

    fn resolver_of(dir: &tempdir::Dir) -> ReloadingResolver {
        let files = CertificateFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        let provider = provider();
        let (certified, stamp) = files.load(&provider).unwrap();
        ReloadingResolver {
            files,
            provider,
            interval: Duration::ZERO,
            state: Mutex::new(ResolverState {
                certified: Arc::new(certified),
                stamp,
                checked_at: Instant::now(),
            }),
        }
    }

    /// The leaf a handshake would get now.
    fn served_leaf(resolver: &ReloadingResolver) -> Vec<u8> {
        resolver.refresh().cert[0].to_vec()
    }

    #[test]
    fn loads_a_pair_and_reloads_it_when_the_files_change() {
        let dir = tempdir::Dir::new();
        let (cert, key, first_der) = self_signed("first");
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        assert!(config(&dir, "").load("bridge.http.tls").is_ok());
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

    #[test]
    fn validate_rejects_a_key_that_does_not_fit() {
        let dir = tempdir::Dir::new();
        let (cert, _, _) = self_signed("a");
        let (_, other_key, _) = self_signed("b");
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), other_key).unwrap();
        let err = config(&dir, "").load("bridge.http.tls").unwrap_err();
        assert_eq!(err.key, "bridge.http.tls.key_file");
    }

    #[test]
    fn validate_rejects_client_auth_without_ca_and_bad_ca_file() {
        let dir = tempdir::Dir::new();
        let (cert, key, _) = self_signed("a");
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let err = config(&dir, "client_auth = \"optional\"")
            .load("k")
            .unwrap_err();
        assert_eq!(err.key, "k.client_auth");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a pem").unwrap();
        let extra = format!("client_ca_file = {:?}", ca.display().to_string());
        assert_eq!(
            config(&dir, &extra).load("k").unwrap_err().key,
            "k.client_ca_file"
        );
        std::fs::write(&ca, &cert).unwrap();
        assert!(config(&dir, &extra).load("k").is_ok());
    }

    #[test]
    fn validate_rejects_missing_files_naming_the_key() {
        let config: TlsConfig =
            toml::from_str("cert_file = \"/nonexistent/c.pem\"\nkey_file = \"/nonexistent/k.pem\"")
                .unwrap();
        let err = config.load("bridge.http.tls").unwrap_err();
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
