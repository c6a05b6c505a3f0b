//! TLS to a broker with rustls (the provider the edge listeners use), trusting the CAs of
//! `ssl.ca.location` / `ssl.ca.pem` and presenting `ssl.certificate.*` + `ssl.key.*` when
//! set. The PEM files are read at every connect, so a rotated CA is picked up without a
//! restart, and a missing file is an error naming the path.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::error::WireError;
use super::settings::{PemSource, TlsSettings};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certificates(
    source: &PemSource,
    broker: &str,
) -> Result<Vec<CertificateDer<'static>>, WireError> {
    let error = |reason: String| WireError::Tls {
        broker: broker.to_owned(),
        reason,
    };
    let parsed: Result<Vec<_>, _> = match source {
        PemSource::File(path) => CertificateDer::pem_file_iter(path)
            .map_err(|e| error(format!("cannot read {}: {e}", path.display())))?
            .collect(),
        PemSource::Inline(text) => CertificateDer::pem_slice_iter(text.as_bytes()).collect(),
    };
    let certificates = parsed.map_err(|e| error(format!("invalid PEM certificate: {e}")))?;
    if certificates.is_empty() {
        return Err(error(
            "no PEM certificate found in the configured CA/certificate".to_owned(),
        ));
    }
    Ok(certificates)
}

fn private_key(source: &PemSource, broker: &str) -> Result<PrivateKeyDer<'static>, WireError> {
    match source {
        PemSource::File(path) => PrivateKeyDer::from_pem_file(path)
            .map_err(|e| format!("cannot read a private key from {}: {e}", path.display())),
        PemSource::Inline(text) => PrivateKeyDer::from_pem_slice(text.as_bytes())
            .map_err(|e| format!("invalid PEM private key: {e}")),
    }
    .map_err(|reason| WireError::Tls {
        broker: broker.to_owned(),
        reason,
    })
}

/// The rustls client config for `settings`.
pub(crate) fn client_config(
    settings: &TlsSettings,
    broker: &str,
) -> Result<Arc<ClientConfig>, WireError> {
    let error = |reason: String| WireError::Tls {
        broker: broker.to_owned(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    if let Some(ca) = &settings.ca {
        for certificate in certificates(ca, broker)? {
            roots
                .add(certificate)
                .map_err(|e| error(format!("unusable CA certificate: {e}")))?;
        }
    }
    let provider = provider();
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| error(format!("cannot build the certificate verifier: {e}")))?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainVerifier {
            inner: verifier,
            verify_hostname: settings.verify_hostname,
        }));
    let config = match &settings.client_identity {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder
            .with_client_auth_cert(certificates(chain, broker)?, private_key(key, broker)?)
            .map_err(|e| error(format!("unusable client certificate or key: {e}")))?,
    };
    Ok(Arc::new(config))
}

/// Performs the TLS handshake on `tcp`; `host` is what the certificate must name.
pub(crate) async fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
    broker: &str,
) -> Result<TlsStream<TcpStream>, WireError> {
    let name = ServerName::try_from(host.to_owned()).map_err(|e| WireError::Tls {
        broker: broker.to_owned(),
        reason: format!("`{host}` is not a valid TLS server name: {e}"),
    })?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| WireError::Tls {
            broker: broker.to_owned(),
            reason: e.to_string(),
        })
}

/// WebPKI verification, with the name check optional: librdkafka's
/// `ssl.endpoint.identification.algorithm=none` still verifies the chain.
#[derive(Debug)]
struct ChainVerifier {
    inner: Arc<WebPkiServerVerifier>,
    verify_hostname: bool,
}

impl ServerCertVerifier for ChainVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.verify_hostname => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
