//! Static bearer tokens: one `principal:sha256:<64 hex digits>` per line, the SHA-256 of the
//! token. Only digests are stored, so the file does not hold usable credentials; tokens are
//! long random strings, for which one unsalted fast hash is enough (unlike passwords).
//!
//! A presented token is hashed and compared with every digest in constant time.

use std::path::Path;

use broker_core::ConfigError;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone, PartialEq, Eq)]
pub struct StaticTokens {
    digests: Vec<([u8; 32], String)>,
}

/// Principals only: digests stay out of logs and debug output.
impl std::fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let principals: Vec<&str> = self.digests.iter().map(|(_, name)| name.as_str()).collect();
        f.debug_struct("StaticTokens")
            .field("principals", &principals)
            .finish_non_exhaustive()
    }
}

impl StaticTokens {
    pub fn load(path: &Path, key: &str) -> Result<Self, ConfigError> {
        super::load_file(path, key, Self::parse)
    }

    fn parse(text: &str) -> Result<Self, String> {
        let mut digests = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let number = index + 1;
            let mut parts = line.splitn(3, ':');
            let (Some(name), Some(scheme), Some(hex)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!(
                    "line {number} is not `principal:sha256:<hex digest>`; plain-text tokens are refused"
                ));
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("line {number} has an empty principal"));
            }
            if scheme.trim() != "sha256" {
                return Err(format!("line {number}: only `sha256` digests are accepted"));
            }
            let digest = decode_hex(hex.trim())
                .ok_or_else(|| format!("line {number}: `{}` is not 64 hex digits", hex.trim()))?;
            digests.push((digest, name.to_owned()));
        }
        if digests.is_empty() {
            return Err("has no token".to_owned());
        }
        Ok(Self { digests })
    }

    /// The principal whose token this is. Every digest is compared, in constant time.
    pub fn principal_of(&self, token: &str) -> Option<&str> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (digest, name) in &self.digests {
            if bool::from(digest.ct_eq(&presented)) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// The hex SHA-256 digest of `token`, as the tokens file stores it.
pub fn token_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * index..2 * index + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_maps_to_its_principal() {
        let text = format!(
            "# ci tokens\nci:sha256:{}\nbot:sha256:{}\n",
            token_digest("token-one"),
            token_digest("token-two").to_uppercase()
        );
        let tokens = StaticTokens::parse(&text).unwrap();
        assert_eq!(tokens.principal_of("token-one"), Some("ci"));
        assert_eq!(tokens.principal_of("token-two"), Some("bot"));
        assert_eq!(tokens.principal_of("token-three"), None);
    }

    #[test]
    fn load_rejects_plain_text_tokens() {
        let err = StaticTokens::parse("ci:my-token").unwrap_err();
        assert!(err.contains("plain-text tokens are refused"), "{err}");
        let err = StaticTokens::parse("ci:md5:abcd").unwrap_err();
        assert!(err.contains("sha256"), "{err}");
        let err = StaticTokens::parse("ci:sha256:abcd").unwrap_err();
        assert!(err.contains("64 hex digits"), "{err}");
        assert!(
            StaticTokens::parse("# nothing")
                .unwrap_err()
                .contains("no token")
        );
    }
}
