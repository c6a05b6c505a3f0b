//! JWT bearer tokens verified with a configured key: an HS256 secret file, an RS256/ES256
//! PEM public key, or a JWKS file (keys chosen by the token's `kid`). `exp` is required and
//! checked, `nbf` checked when present, `iss` and `aud` when configured. The principal is
//! the string value of a configurable claim (`sub` by default).

use std::path::{Path, PathBuf};

use broker_core::ConfigError;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `[<service>.http.auth.jwt]` as written. Exactly one of `secret_file`,
/// `public_key_file` and `jwks_file`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// `HS256` with `secret_file`, `RS256` or `ES256` with `public_key_file`; with
    /// `jwks_file` each key's own `alg` (or its type) decides.
    #[serde(default)]
    pub algorithm: Option<JwtAlgorithm>,
    /// File holding the HS256 shared secret (its bytes, trailing newline removed).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// PEM public key (RSA or EC P-256).
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// A JSON Web Key Set file.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// Accepted `iss` values; unset: not checked.
    #[serde(default)]
    pub issuers: Vec<String>,
    /// Accepted `aud` values; unset: not checked.
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default = "default_principal_claim")]
    pub principal_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
}

fn default_principal_claim() -> String {
    "sub".to_owned()
}
fn default_leeway_secs() -> u64 {
    30
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum JwtAlgorithm {
    HS256,
    RS256,
    ES256,
}

impl From<JwtAlgorithm> for Algorithm {
    fn from(algorithm: JwtAlgorithm) -> Self {
        match algorithm {
            JwtAlgorithm::HS256 => Self::HS256,
            JwtAlgorithm::RS256 => Self::RS256,
            JwtAlgorithm::ES256 => Self::ES256,
        }
    }
}

/// Where verification keys come from, after validation.
enum Keys {
    Single(Algorithm, DecodingKey),
    /// `(kid, algorithm, key)`.
    Set(Vec<(Option<String>, Algorithm, DecodingKey)>),
}

/// A loaded verifier.
pub struct JwtVerifier {
    keys: Keys,
    issuers: Vec<String>,
    audiences: Vec<String>,
    principal_claim: String,
    leeway: u64,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("principal_claim", &self.principal_claim)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path, key: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|error| {
        ConfigError::new(key, format!("cannot read `{}`: {error}", path.display()))
    })
}

impl JwtConfig {
    /// The key file as configured, with its key name; `None` when none or several are set
    /// (which [`Self::load`] refuses).
    pub(crate) fn key_file(&self) -> Option<(&'static str, &Path)> {
        match (&self.secret_file, &self.public_key_file, &self.jwks_file) {
            (Some(path), None, None) => Some(("secret_file", path)),
            (None, Some(path), None) => Some(("public_key_file", path)),
            (None, None, Some(path)) => Some(("jwks_file", path)),
            _ => None,
        }
    }

    pub fn load(&self, prefix: &str) -> Result<JwtVerifier, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        let sources = [
            self.secret_file.is_some(),
            self.public_key_file.is_some(),
            self.jwks_file.is_some(),
        ];
        if sources.iter().filter(|set| **set).count() != 1 {
            return Err(ConfigError::new(
                prefix,
                "set exactly one of `secret_file`, `public_key_file` and `jwks_file`",
            ));
        }
        if self.principal_claim.trim().is_empty() {
            return Err(ConfigError::new(key("principal_claim"), "cannot be empty"));
        }
        let keys = if let Some(path) = &self.secret_file {
            if !matches!(self.algorithm, None | Some(JwtAlgorithm::HS256)) {
                return Err(ConfigError::new(
                    key("algorithm"),
                    "`secret_file` is for HS256",
                ));
            }
            let mut secret = read(path, &key("secret_file"))?;
            while secret
                .last()
                .is_some_and(|byte| matches!(byte, b'\n' | b'\r'))
            {
                secret.pop();
            }
            if secret.len() < 32 {
                return Err(ConfigError::new(
                    key("secret_file"),
                    "an HS256 secret must be at least 32 bytes long",
                ));
            }
            Keys::Single(Algorithm::HS256, DecodingKey::from_secret(&secret))
        } else if let Some(path) = &self.public_key_file {
            let pem = read(path, &key("public_key_file"))?;
            let decoded = match self.algorithm {
                Some(JwtAlgorithm::RS256) => DecodingKey::from_rsa_pem(&pem),
                Some(JwtAlgorithm::ES256) => DecodingKey::from_ec_pem(&pem),
                _ => {
                    return Err(ConfigError::new(
                        key("algorithm"),
                        "`public_key_file` needs `algorithm = \"RS256\"` or `\"ES256\"`",
                    ));
                }
            }
            .map_err(|error| {
                ConfigError::new(
                    key("public_key_file"),
                    format!("not a usable PEM public key: {error}"),
                )
            })?;
            let algorithm = self.algorithm.map_or(Algorithm::RS256, Algorithm::from);
            Keys::Single(algorithm, decoded)
        } else {
            let path = self.jwks_file.as_deref().unwrap_or(Path::new(""));
            let bytes = read(path, &key("jwks_file"))?;
            Keys::Set(parse_jwks(&bytes, self.algorithm).map_err(|message| {
                ConfigError::new(key("jwks_file"), format!("`{}`: {message}", path.display()))
            })?)
        };
        Ok(JwtVerifier {
            keys,
            issuers: self.issuers.clone(),
            audiences: self.audiences.clone(),
            principal_claim: self.principal_claim.trim().to_owned(),
            leeway: self.leeway_secs,
        })
    }
}

fn parse_jwks(
    bytes: &[u8],
    forced: Option<JwtAlgorithm>,
) -> Result<Vec<(Option<String>, Algorithm, DecodingKey)>, String> {
    let set: JwkSet =
        serde_json::from_slice(bytes).map_err(|error| format!("not a JWKS: {error}"))?;
    let mut keys = Vec::new();
    for (index, jwk) in set.keys.iter().enumerate() {
        let algorithm = match (forced, jwk.common.key_algorithm, &jwk.algorithm) {
            (Some(forced), _, _) => Algorithm::from(forced),
            (None, Some(declared), _) => Algorithm::try_from(declared)
                .map_err(|_| format!("key {index}: algorithm {declared:?} is not supported"))?,
            (None, None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
            (None, None, AlgorithmParameters::EllipticCurve(_)) => Algorithm::ES256,
            (None, None, _) => return Err(format!("key {index}: say its `alg`")),
        };
        if !matches!(
            algorithm,
            Algorithm::HS256 | Algorithm::RS256 | Algorithm::ES256
        ) {
            return Err(format!(
                "key {index}: only HS256, RS256 and ES256 are accepted"
            ));
        }
        let decoded =
            DecodingKey::from_jwk(jwk).map_err(|error| format!("key {index}: {error}"))?;
        keys.push((jwk.common.key_id.clone(), algorithm, decoded));
    }
    if keys.is_empty() {
        return Err("has no key".to_owned());
    }
    Ok(keys)
}

/// Why a token was refused; logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum JwtRejection {
    #[error("token is malformed or has a bad signature: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("no configured key has id {0:?}")]
    UnknownKey(Option<String>),
    #[error("claim `{0}` is missing or not a string")]
    NoPrincipal(String),
}

impl JwtVerifier {
    /// The principal of a valid token.
    pub fn verify(&self, token: &str) -> Result<String, JwtRejection> {
        let header = jsonwebtoken::decode_header(token)?;
        let (algorithm, key) = match &self.keys {
            Keys::Single(algorithm, key) => (*algorithm, key),
            Keys::Set(keys) => keys
                .iter()
                .find(|(kid, algorithm, _)| {
                    *algorithm == header.alg
                        && (header.kid.is_none() && keys.len() == 1 || *kid == header.kid)
                })
                .map(|(_, algorithm, key)| (*algorithm, key))
                .ok_or_else(|| JwtRejection::UnknownKey(header.kid.clone()))?,
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if self.issuers.is_empty() {
            validation.iss = None;
        } else {
            validation.set_issuer(&self.issuers);
        }
        if self.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audiences);
        }
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)?;
        match data.claims.get(&self.principal_claim) {
            Some(Value::String(name)) if !name.is_empty() => Ok(name.clone()),
            _ => Err(JwtRejection::NoPrincipal(self.principal_claim.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::security::tempdir;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn secret_file() -> (tempdir::Dir, PathBuf) {
        let dir = tempdir::Dir::new();
        let path = dir.path().join("secret");
        std::fs::write(&path, [SECRET, b"\n"].concat()).unwrap();
        (dir, path)
    }

    fn sign(claims: &Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    fn config(path: &Path) -> JwtConfig {
        toml::from_str::<JwtConfig>(&format!("secret_file = {:?}", path.display().to_string()))
            .unwrap()
    }

    #[test]
    fn hs256_token_gives_its_subject() {
        let (_dir, path) = secret_file();
        let verifier = config(&path).load("bridge.http.auth.jwt").unwrap();
        let token = sign(&json!({"sub": "alice", "exp": now() + 600}));
        assert_eq!(verifier.verify(&token).unwrap(), "alice");
    }

    #[test]
    fn expired_and_not_yet_valid_tokens_are_refused() {
        let (_dir, path) = secret_file();
        let verifier = config(&path).load("k").unwrap();
        let expired = sign(&json!({"sub": "alice", "exp": now() - 600}));
        assert!(verifier.verify(&expired).is_err());
        let early = sign(&json!({"sub": "alice", "exp": now() + 600, "nbf": now() + 300}));
        assert!(verifier.verify(&early).is_err());
        let no_exp = sign(&json!({"sub": "alice"}));
        assert!(verifier.verify(&no_exp).is_err());
    }

    #[test]
    fn wrong_key_issuer_and_audience_are_refused() {
        let (_dir, path) = secret_file();
        let mut config = config(&path);
        config.issuers = vec!["https://idp".to_owned()];
        config.audiences = vec!["gateway".to_owned()];
        config.principal_claim = "preferred_username".to_owned();
        let verifier = config.load("k").unwrap();
        let good = json!({"preferred_username": "bob", "exp": now() + 600, "iss": "https://idp", "aud": "gateway"});
        assert_eq!(verifier.verify(&sign(&good)).unwrap(), "bob");
        let mut other_issuer = good.clone();
        other_issuer["iss"] = json!("https://evil");
        assert!(verifier.verify(&sign(&other_issuer)).is_err());
        let mut other_audience = good.clone();
        other_audience["aud"] = json!("other");
        assert!(verifier.verify(&sign(&other_audience)).is_err());
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &good,
            &EncodingKey::from_secret(b"another secret of at least 32 bytes!"),
        )
        .unwrap();
        assert!(verifier.verify(&forged).is_err());
        let no_principal =
            json!({"sub": "bob", "exp": now() + 600, "iss": "https://idp", "aud": "gateway"});
        assert!(matches!(
            verifier.verify(&sign(&no_principal)),
            Err(JwtRejection::NoPrincipal(_))
        ));
    }

    #[test]
    fn es256_public_key_verifies_and_other_algorithms_are_refused() {
        let dir = tempdir::Dir::new();
        let key = rcgen::KeyPair::generate().unwrap();
        let path = dir.path().join("public.pem");
        std::fs::write(&path, key.public_key_pem()).unwrap();
        let text = format!(
            "public_key_file = {:?}\nalgorithm = \"ES256\"",
            path.display().to_string()
        );
        let verifier = toml::from_str::<JwtConfig>(&text)
            .unwrap()
            .load("k")
            .unwrap();
        let claims = json!({"sub": "dave", "exp": now() + 60});
        let signing = EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).unwrap();
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &signing).unwrap();
        assert_eq!(verifier.verify(&token).unwrap(), "dave");
        // An HS256 token signed with the public key as secret (the classic confusion attack).
        let confused = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(key.public_key_pem().as_bytes()),
        )
        .unwrap();
        assert!(verifier.verify(&confused).is_err());
    }

    #[test]
    fn jwks_selects_the_key_by_kid() {
        let dir = tempdir::Dir::new();
        let path = dir.path().join("jwks.json");
        // base64url of SECRET.
        let k = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
        std::fs::write(
            &path,
            json!({"keys": [{"kty": "oct", "kid": "one", "alg": "HS256", "k": k}]}).to_string(),
        )
        .unwrap();
        let config: JwtConfig =
            toml::from_str(&format!("jwks_file = {:?}", path.display().to_string())).unwrap();
        let verifier = config.load("k").unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("one".to_owned());
        let claims = json!({"sub": "carol", "exp": now() + 60});
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(verifier.verify(&token).unwrap(), "carol");
        header.kid = Some("two".to_owned());
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap();
        assert!(matches!(
            verifier.verify(&token),
            Err(JwtRejection::UnknownKey(_))
        ));
    }

    #[test]
    fn validate_rejects_ambiguous_or_weak_keys() {
        let (_dir, path) = secret_file();
        let mut both = config(&path);
        both.jwks_file = Some(path.clone());
        assert_eq!(
            both.load("bridge.http.auth.jwt").unwrap_err().key,
            "bridge.http.auth.jwt"
        );
        let none: JwtConfig = toml::from_str("").unwrap();
        assert!(none.load("k").is_err());
        let short = path.with_file_name("short");
        std::fs::write(&short, "tiny").unwrap();
        assert_eq!(config(&short).load("k").unwrap_err().key, "k.secret_file");
        let mut rsa_without_alg = config(&path);
        rsa_without_alg.secret_file = None;
        rsa_without_alg.public_key_file = Some(path);
        assert_eq!(rsa_without_alg.load("k").unwrap_err().key, "k.algorithm");
    }
}
