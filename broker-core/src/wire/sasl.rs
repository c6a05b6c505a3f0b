//! SASL login after ApiVersions: SaslHandshake v1 names the mechanism, then SaslAuthenticate
//! carries the mechanism's messages (KIP-152), so a rejected password comes back as an
//! error code with the broker's reason instead of a closed socket.
//!
//! SCRAM-SHA-256/512 follows RFC 5802 without channel binding (`n,,`), as Kafka does; the
//! server's final signature is verified, so a broker that does not know the password cannot
//! pass itself off as one that does.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use rand::Rng;
use sha2::{Digest, Sha256, Sha512};

use super::connection::Connection;
use super::error::WireError;
use super::settings::{SaslLogin, ScramHash};

/// Kafka's `ScramMechanism` minimum; fewer iterations mean a downgraded or fake server.
const MIN_SCRAM_ITERATIONS: u32 = 4096;
/// Bounds the work a hostile server can make us do (Kafka itself caps at 16384).
const MAX_SCRAM_ITERATIONS: u32 = 1_000_000;

/// Logs `connection` in with `login`.
pub(crate) async fn authenticate(
    connection: &mut Connection,
    login: &SaslLogin,
) -> Result<(), WireError> {
    let mechanism = login.mechanism();
    let failed = |connection: &Connection, reason: String| WireError::Authentication {
        broker: connection.broker().to_owned(),
        mechanism,
        reason,
    };
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    // v0 handshakes are followed by raw, unframed tokens; only v1 is spoken here.
    let handshake_version = connection.version::<SaslHandshakeRequest>()?;
    if handshake_version < 1 {
        return Err(failed(
            connection,
            "the broker does not support SaslHandshake v1 (Kafka 1.0+)".to_owned(),
        ));
    }
    let response = connection.send_version(&handshake, 1).await?;
    if response.error_code != 0 {
        let enabled: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(failed(
            connection,
            format!(
                "the listener does not enable {mechanism} (it enables {})",
                enabled.join(", ")
            ),
        ));
    }
    match login {
        SaslLogin::Plain { username, password } => {
            let message = format!("\0{username}\0{password}");
            exchange(connection, mechanism, message.into_bytes()).await?;
            Ok(())
        }
        SaslLogin::Scram {
            hash,
            username,
            password,
        } => {
            let scram = ScramClient::new(*hash, username, password, &client_nonce());
            let server_first =
                exchange(connection, mechanism, scram.client_first().into_bytes()).await?;
            let server_first = String::from_utf8(server_first.to_vec())
                .map_err(|_| failed(connection, "server-first-message is not UTF-8".to_owned()))?;
            // PBKDF2 is deliberately slow (milliseconds): keep it off the runtime threads.
            let (client_final, server_signature) =
                crate::task::spawn_blocking("scram-client-final", move || {
                    scram.client_final(&server_first)
                })
                .await
                .map_err(|e| failed(connection, format!("scram computation stopped: {e}")))?
                .map_err(|reason| failed(connection, reason))?;
            let server_final = exchange(connection, mechanism, client_final.into_bytes()).await?;
            let server_final = String::from_utf8(server_final.to_vec())
                .map_err(|_| failed(connection, "server-final-message is not UTF-8".to_owned()))?;
            verify_server_final(&server_final, &server_signature)
                .map_err(|reason| failed(connection, reason))
        }
    }
}

async fn exchange(
    connection: &mut Connection,
    mechanism: &'static str,
    message: Vec<u8>,
) -> Result<Bytes, WireError> {
    let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message));
    let response = connection.send(&request).await?;
    if response.error_code != 0 {
        let code = super::error::KafkaCode(response.error_code);
        let reason = response
            .error_message
            .map(|m| m.to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| code.name());
        return Err(WireError::Authentication {
            broker: connection.broker().to_owned(),
            mechanism,
            reason: format!("{reason} ({})", code.name()),
        });
    }
    Ok(response.auth_bytes)
}

fn client_nonce() -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// `=` and `,` are the only characters a SCRAM `saslname` escapes.
fn sasl_name(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

/// The client side of one SCRAM exchange.
#[derive(Clone)]
pub(crate) struct ScramClient {
    hash: ScramHash,
    password: String,
    nonce: String,
    client_first_bare: String,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    pub(crate) fn new(hash: ScramHash, username: &str, password: &str, nonce: &str) -> Self {
        Self {
            hash,
            password: password.to_owned(),
            nonce: nonce.to_owned(),
            client_first_bare: format!("n={},r={nonce}", sasl_name(username)),
        }
    }

    pub(crate) fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// The client-final-message for `server_first`, and the server signature the
    /// server-final-message must carry.
    pub(crate) fn client_final(&self, server_first: &str) -> Result<(String, Vec<u8>), String> {
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attribute in server_first.split(',') {
            match attribute.split_once('=') {
                Some(("r", value)) => nonce = Some(value),
                Some(("s", value)) => salt = Some(value),
                Some(("i", value)) => iterations = Some(value),
                Some(("m", _)) => {
                    return Err("the server requires a SCRAM extension we do not know".to_owned());
                }
                _ => {}
            }
        }
        let nonce = nonce.ok_or("server-first-message has no nonce")?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err("the server nonce does not extend the client nonce".to_owned());
        }
        let salt = BASE64
            .decode(salt.ok_or("server-first-message has no salt")?)
            .map_err(|_| "the server salt is not base64".to_owned())?;
        let iterations: u32 = iterations
            .ok_or("server-first-message has no iteration count")?
            .parse()
            .map_err(|_| "the server iteration count is not a number".to_owned())?;
        if !(MIN_SCRAM_ITERATIONS..=MAX_SCRAM_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "the server asks for {iterations} iterations (accepted: {MIN_SCRAM_ITERATIONS} to {MAX_SCRAM_ITERATIONS})"
            ));
        }
        let salted_password = self.salted_password(&salt, iterations)?;
        let client_key = self.hmac(&salted_password, b"Client Key")?;
        let stored_key = self.digest(&client_key);
        let client_final_bare = format!("c=biws,r={nonce}");
        let auth_message = format!(
            "{},{server_first},{client_final_bare}",
            self.client_first_bare
        );
        let client_signature = self.hmac(&stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = self.hmac(&salted_password, b"Server Key")?;
        let server_signature = self.hmac(&server_key, auth_message.as_bytes())?;
        Ok((
            format!("{client_final_bare},p={}", BASE64.encode(proof)),
            server_signature,
        ))
    }

    fn salted_password(&self, salt: &[u8], iterations: u32) -> Result<Vec<u8>, String> {
        let password = self.password.as_bytes();
        let mut out = vec![0; self.output_len()];
        match self.hash {
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2::<Hmac<Sha256>>(password, salt, iterations, &mut out)
            }
            ScramHash::Sha512 => {
                pbkdf2::pbkdf2::<Hmac<Sha512>>(password, salt, iterations, &mut out)
            }
        }
        .map_err(|e| format!("pbkdf2: {e}"))?;
        Ok(out)
    }

    fn output_len(&self) -> usize {
        match self.hash {
            ScramHash::Sha256 => 32,
            ScramHash::Sha512 => 64,
        }
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
        fn run<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
            let mut mac =
                <M as KeyInit>::new_from_slice(key).map_err(|e| format!("hmac key: {e}"))?;
            mac.update(data);
            Ok(mac.finalize().into_bytes().to_vec())
        }
        match self.hash {
            ScramHash::Sha256 => run::<Hmac<Sha256>>(key, data),
            ScramHash::Sha512 => run::<Hmac<Sha512>>(key, data),
        }
    }

    fn digest(&self, data: &[u8]) -> Vec<u8> {
        match self.hash {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// Checks `v=<signature>` (or reports the server's `e=<error>`).
pub(crate) fn verify_server_final(server_final: &str, expected: &[u8]) -> Result<(), String> {
    for attribute in server_final.split(',') {
        match attribute.split_once('=') {
            Some(("e", error)) => return Err(format!("the server refused the proof: {error}")),
            Some(("v", signature)) => {
                let signature = BASE64
                    .decode(signature)
                    .map_err(|_| "the server signature is not base64".to_owned())?;
                return if signature == expected {
                    Ok(())
                } else {
                    Err("the server signature does not match: the broker does not know this password".to_owned())
                };
            }
            _ => {}
        }
    }
    Err("server-final-message has no signature".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3.
    #[test]
    fn scram_sha_256_matches_rfc_7677() {
        let client = ScramClient::new(ScramHash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(client.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (client_final, server_signature) = client.client_final(server_first).expect("final");
        assert_eq!(
            client_final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        verify_server_final(
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
            &server_signature,
        )
        .expect("server signature verifies");
        let error = verify_server_final("v=AAAA", &server_signature).expect_err("forged");
        assert!(error.contains("does not match"), "{error}");
        let error = verify_server_final("e=invalid-proof", &server_signature).expect_err("refused");
        assert!(error.contains("invalid-proof"), "{error}");
    }

    #[test]
    fn scram_rejects_bad_server_first_messages() {
        let client = ScramClient::new(ScramHash::Sha512, "u", "p", "abc");
        for (server_first, expected) in [
            ("r=xyz123,s=c2FsdA==,i=4096", "does not extend"),
            ("r=abc,s=c2FsdA==,i=4096", "does not extend"),
            ("r=abcdef,s=!!,i=4096", "base64"),
            ("r=abcdef,s=c2FsdA==,i=1", "iterations"),
            ("r=abcdef,s=c2FsdA==,i=99999999999", "not a number"),
            ("r=abcdef,s=c2FsdA==", "iteration count"),
            ("garbage", "no nonce"),
        ] {
            let error = client.client_final(server_first).expect_err(server_first);
            assert!(error.contains(expected), "{server_first}: {error}");
        }
        let (client_final, _) = client
            .client_final("r=abcdef,s=c2FsdA==,i=4096")
            .expect("sha-512 works");
        // A SHA-512 proof is 64 bytes: 88 base64 characters.
        assert_eq!(
            client_final.rsplit_once("p=").map(|(_, p)| p.len()),
            Some(88)
        );
    }

    #[test]
    fn usernames_are_escaped() {
        let client = ScramClient::new(ScramHash::Sha256, "a=b,c", "p", "n");
        assert_eq!(client.client_first(), "n,,n=a=3Db=2Cc,r=n");
    }
}
