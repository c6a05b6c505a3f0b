//! Authentication of each request: HTTP Basic against the users file, bearer tokens (static
//! or JWT), or the subject CN of a verified client certificate when the request carries no
//! other credentials. The result is a [`Principal`] in the request's extensions, which the
//! services read to authorize; a failure is answered with 401, `WWW-Authenticate` and the
//! service's own error body.
//!
//! Password hashes are deliberately slow, so a successful Basic check is cached for
//! `cache_ttl_secs`, keyed by the SHA-256 of the credentials (never the password itself),
//! with a bounded number of entries. Failures are not cached. The hash runs on the blocking
//! pool, inside the listener's concurrency limit, so guessing cannot starve the runtime.
//!
//! The users, tokens and JWT key files are reloaded when they change (see `security::reload`):
//! at most once per `reload_interval_ms` a request stats them. A reloaded users file starts
//! a new cache generation, so a removed user or a changed password stops working at once
//! rather than when its cached check expires.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use broker_core::ConfigError;
use serde::Deserialize;

use super::acl::{Acl, AclRuleConfig, Grants};
use super::credential_cache::CredentialCache;
use super::jwt::{JwtConfig, JwtVerifier};
use super::reload::{Loader, WatchName, Watched};
use super::reload_metrics::ReloadMetrics;
use super::tokens::StaticTokens;
use super::users::Users;
use crate::EdgeRejection;

/// `[<service>.http.auth]` as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `name:hash` lines (argon2 PHC or bcrypt) for HTTP Basic.
    #[serde(default)]
    pub users_file: Option<PathBuf>,
    /// `principal:sha256:<hex>` lines for static bearer tokens.
    #[serde(default)]
    pub tokens_file: Option<PathBuf>,
    /// `[<service>.http.auth.jwt]`: bearer JWTs.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
    /// With mTLS, a request without credentials is the principal named by its client
    /// certificate's subject CN.
    #[serde(default = "default_true")]
    pub client_certificate_principal: bool,
    /// Exact paths served without credentials (and without authorization), e.g. `/health`.
    #[serde(default)]
    pub anonymous_paths: Vec<String>,
    #[serde(default = "default_realm")]
    pub realm: String,
    /// How long a successful Basic check is remembered; 0 disables the cache.
    #[serde(default = "default_cache_ttl_secs")]
    pub cache_ttl_secs: u64,
    #[serde(default = "default_cache_max_entries")]
    pub cache_max_entries: usize,
    /// How often a request may look for changed users, tokens and JWT key files; 0: on
    /// every request.
    #[serde(default = "default_reload_interval_ms")]
    pub reload_interval_ms: u64,
    /// `[[<service>.http.auth.acl]]`: what each principal may do; none: everything.
    #[serde(default)]
    pub acl: Vec<AclRuleConfig>,
}

fn default_true() -> bool {
    true
}
fn default_realm() -> String {
    "kafka-gateway".to_owned()
}
fn default_cache_ttl_secs() -> u64 {
    60
}
fn default_cache_max_entries() -> usize {
    10_000
}
fn default_reload_interval_ms() -> u64 {
    5_000
}

/// Who made a request, and what they may do.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub grants: Arc<Grants>,
}

/// The verified client certificate of a TLS connection, put in every request's extensions
/// by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub common_name: Option<String>,
}

/// A loaded `[auth]` section.
#[derive(Debug)]
pub struct Authenticator {
    users: Option<Watched<Users>>,
    tokens: Option<Watched<StaticTokens>>,
    jwt: Option<Watched<JwtVerifier>>,
    client_certificate_principal: bool,
    anonymous_paths: Vec<String>,
    challenges: Vec<HeaderValue>,
    acl: Acl,
    cache: CredentialCache,
}

impl AuthConfig {
    /// Reads every file now; `client_certificates` tells whether the listener's TLS checks
    /// client certificates, which then count as a way to authenticate. `metrics` counts the
    /// reloads afterwards.
    pub fn load(
        &self,
        prefix: &str,
        client_certificates: bool,
        metrics: &ReloadMetrics,
    ) -> Result<Authenticator, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        let interval = Duration::from_millis(self.reload_interval_ms);
        let watch = |label: &'static str, key: String| WatchName { label, key };
        let users = self
            .users_file
            .clone()
            .map(|path| {
                let file_key = key("users_file");
                let load: Loader<Users> = {
                    let (path, file_key) = (path.clone(), file_key.clone());
                    Arc::new(move || Users::load(&path, &file_key))
                };
                Watched::load(
                    vec![path],
                    watch("users_file", file_key),
                    interval,
                    metrics.clone(),
                    load,
                )
            })
            .transpose()?;
        let tokens = self
            .tokens_file
            .clone()
            .map(|path| {
                let file_key = key("tokens_file");
                let load: Loader<StaticTokens> = {
                    let (path, file_key) = (path.clone(), file_key.clone());
                    Arc::new(move || StaticTokens::load(&path, &file_key))
                };
                Watched::load(
                    vec![path],
                    watch("tokens_file", file_key),
                    interval,
                    metrics.clone(),
                    load,
                )
            })
            .transpose()?;
        let jwt = self
            .jwt
            .clone()
            .map(|jwt| {
                let jwt_key = key("jwt");
                let (label, files) = match jwt.key_file() {
                    Some((label, path)) => (label, vec![path.to_path_buf()]),
                    None => ("jwt", Vec::new()),
                };
                let file_key = format!("{jwt_key}.{label}");
                let load: Loader<JwtVerifier> = Arc::new(move || jwt.load(&jwt_key));
                Watched::load(
                    files,
                    watch(label, file_key),
                    interval,
                    metrics.clone(),
                    load,
                )
            })
            .transpose()?;
        let certificates = client_certificates && self.client_certificate_principal;
        if users.is_none() && tokens.is_none() && jwt.is_none() && !certificates {
            return Err(ConfigError::new(
                prefix,
                "set `users_file`, `tokens_file`, `jwt`, or a `tls.client_ca_file`: otherwise nobody can authenticate",
            ));
        }
        for path in &self.anonymous_paths {
            if !path.starts_with('/') {
                return Err(ConfigError::new(
                    key("anonymous_paths"),
                    format!("`{path}` is not a path like /health"),
                ));
            }
        }
        if self.realm.contains('"') || self.realm.is_empty() {
            return Err(ConfigError::new(
                key("realm"),
                "must be non-empty and without `\"`",
            ));
        }
        let mut challenges = Vec::new();
        if users.is_some() {
            challenges.push(format!("Basic realm=\"{}\"", self.realm));
        }
        if tokens.is_some() || jwt.is_some() {
            challenges.push(format!("Bearer realm=\"{}\"", self.realm));
        }
        let challenges = challenges
            .into_iter()
            .map(|text| {
                HeaderValue::from_str(&text)
                    .map_err(|_| ConfigError::new(key("realm"), "is not usable in a header"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Authenticator {
            users,
            tokens,
            jwt,
            client_certificate_principal: certificates,
            anonymous_paths: self.anonymous_paths.clone(),
            challenges,
            acl: Acl::validate(&self.acl, &key("acl"))?,
            cache: CredentialCache::new(
                Duration::from_secs(self.cache_ttl_secs),
                self.cache_max_entries,
            ),
        })
    }
}

/// Why a request was not authenticated; logged at debug level, never sent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    NoCredentials,
    Malformed,
    UnsupportedScheme,
    BadPassword,
    BadToken(String),
}

impl Authenticator {
    fn is_anonymous(&self, path: &str) -> bool {
        self.anonymous_paths
            .iter()
            .any(|anonymous| anonymous == path)
    }

    async fn authenticate(
        &self,
        headers: &HeaderMap,
        certificate: Option<&ClientCertificate>,
    ) -> Result<String, Failure> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return match certificate.and_then(|c| c.common_name.clone()) {
                Some(name) if self.client_certificate_principal => Ok(name),
                _ => Err(Failure::NoCredentials),
            };
        };
        let value = value.to_str().map_err(|_| Failure::Malformed)?;
        let (scheme, credentials) = value.trim().split_once(' ').ok_or(Failure::Malformed)?;
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let users = self.users.as_ref().ok_or(Failure::UnsupportedScheme)?;
            self.basic(users, credentials).await
        } else if scheme.eq_ignore_ascii_case("bearer") {
            self.bearer(credentials).await
        } else {
            Err(Failure::UnsupportedScheme)
        }
    }

    async fn basic(&self, users: &Watched<Users>, credentials: &str) -> Result<String, Failure> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .map_err(|_| Failure::Malformed)?;
        let text = String::from_utf8(decoded).map_err(|_| Failure::Malformed)?;
        let (user, password) = text.split_once(':').ok_or(Failure::Malformed)?;
        let current = users.current().await;
        let cache_key = CredentialCache::key(&text);
        if let Some(name) = self.cache.get(&cache_key, current.generation) {
            return Ok(name);
        }
        let (users, user_owned, password) =
            (current.value, user.to_owned(), password.as_bytes().to_vec());
        let verified = broker_core::task::spawn_blocking("http-password-check", move || {
            users.verify(&user_owned, &password)
        })
        .await
        .unwrap_or(false);
        if !verified {
            return Err(Failure::BadPassword);
        }
        self.cache
            .insert(cache_key, user.to_owned(), current.generation);
        Ok(user.to_owned())
    }

    async fn bearer(&self, token: &str) -> Result<String, Failure> {
        // A JWT has three dot-separated parts; static tokens are checked otherwise.
        if let Some(jwt) = &self.jwt
            && token.split('.').count() == 3
        {
            return jwt
                .current()
                .await
                .value
                .verify(token)
                .map_err(|error| Failure::BadToken(error.to_string()));
        }
        let unknown = || Failure::BadToken("unknown token".to_owned());
        let tokens = self.tokens.as_ref().ok_or_else(unknown)?.current().await;
        tokens
            .value
            .principal_of(token)
            .map(str::to_owned)
            .ok_or_else(unknown)
    }

    pub fn principal(&self, name: String) -> Principal {
        Principal {
            grants: Arc::new(self.acl.grants_for(&name)),
            name,
        }
    }
}

/// State of the authentication middleware: the authenticator and the service's renderer.
#[derive(Clone)]
pub(crate) struct AuthState<R> {
    pub(crate) authenticator: Arc<Authenticator>,
    pub(crate) reject: R,
}

/// Authenticates, puts the [`Principal`] in the request, or answers 401.
pub(crate) async fn authenticate<R>(
    State(state): State<AuthState<R>>,
    mut request: Request,
    next: Next,
) -> Response
where
    R: Fn(EdgeRejection) -> Response + Clone + Send + Sync + 'static,
{
    let authenticator = &state.authenticator;
    if authenticator.is_anonymous(request.uri().path()) {
        return next.run(request).await;
    }
    let outcome = authenticator
        .authenticate(
            request.headers(),
            request.extensions().get::<ClientCertificate>(),
        )
        .await;
    match outcome {
        Ok(name) => {
            let principal = authenticator.principal(name);
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(failure) => {
            tracing::debug!(
                ?failure,
                path = request.uri().path(),
                "request not authenticated"
            );
            let mut response = (state.reject)(EdgeRejection::Unauthenticated);
            for challenge in &authenticator.challenges {
                response
                    .headers_mut()
                    .append(header::WWW_AUTHENTICATE, challenge.clone());
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::tempdir;
    use crate::security::tokens::token_digest;
    use crate::security::users::hash_password;

    fn authenticator(dir: &tempdir::Dir, extra: &str) -> Authenticator {
        let users = dir.path().join("users");
        std::fs::write(
            &users,
            format!("alice:{}\n", hash_password(b"wonderland").unwrap()),
        )
        .unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::write(&tokens, format!("ci:sha256:{}\n", token_digest("ci-token"))).unwrap();
        let text = format!(
            "users_file = {:?}\ntokens_file = {:?}\n{extra}",
            users.display().to_string(),
            tokens.display().to_string()
        );
        toml::from_str::<AuthConfig>(&text)
            .unwrap()
            .load("bridge.http.auth", false, &ReloadMetrics::default())
            .unwrap()
    }

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        headers
    }

    fn basic(user: &str, password: &str) -> HeaderMap {
        headers(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        ))
    }

    #[tokio::test]
    async fn basic_and_static_bearer_authenticate() {
        let dir = tempdir::Dir::new();
        let auth = authenticator(&dir, "");
        assert_eq!(
            auth.authenticate(&basic("alice", "wonderland"), None)
                .await
                .unwrap(),
            "alice"
        );
        // Second time from the cache.
        assert_eq!(
            auth.authenticate(&basic("alice", "wonderland"), None)
                .await
                .unwrap(),
            "alice"
        );
        assert_eq!(
            auth.authenticate(&basic("alice", "wrong"), None).await,
            Err(Failure::BadPassword)
        );
        assert_eq!(
            auth.authenticate(&basic("mallory", "wonderland"), None)
                .await,
            Err(Failure::BadPassword)
        );
        assert_eq!(
            auth.authenticate(&headers("Bearer ci-token"), None)
                .await
                .unwrap(),
            "ci"
        );
        assert!(
            auth.authenticate(&headers("Bearer other"), None)
                .await
                .is_err()
        );
        assert_eq!(
            auth.authenticate(&HeaderMap::new(), None).await,
            Err(Failure::NoCredentials)
        );
        assert_eq!(
            auth.authenticate(&headers("Digest abc"), None).await,
            Err(Failure::UnsupportedScheme)
        );
        assert_eq!(auth.challenges.len(), 2);
    }

    #[tokio::test]
    async fn client_certificate_names_the_principal_only_with_mtls() {
        let dir = tempdir::Dir::new();
        let certificate = ClientCertificate {
            common_name: Some("svc-a".to_owned()),
        };
        let without_mtls = authenticator(&dir, "");
        assert!(
            without_mtls
                .authenticate(&HeaderMap::new(), Some(&certificate))
                .await
                .is_err()
        );
        let users = dir.path().join("users");
        let with_mtls = toml::from_str::<AuthConfig>(&format!(
            "users_file = {:?}",
            users.display().to_string()
        ))
        .unwrap()
        .load("k", true, &ReloadMetrics::default())
        .unwrap();
        assert_eq!(
            with_mtls
                .authenticate(&HeaderMap::new(), Some(&certificate))
                .await
                .unwrap(),
            "svc-a"
        );
        // Explicit credentials win over the certificate.
        assert_eq!(
            with_mtls
                .authenticate(&basic("alice", "wonderland"), Some(&certificate))
                .await
                .unwrap(),
            "alice"
        );
    }

    /// Replaces `name` in `dir` by renaming a new file over it.
    fn replace(dir: &tempdir::Dir, name: &str, contents: &str) {
        let partial = dir.path().join(format!("{name}.partial"));
        std::fs::write(&partial, contents).unwrap();
        std::fs::rename(&partial, dir.path().join(name)).unwrap();
    }

    #[tokio::test]
    async fn reloaded_users_take_effect_at_once_and_a_broken_file_keeps_the_previous_users() {
        let dir = tempdir::Dir::new();
        let auth = authenticator(&dir, "reload_interval_ms = 0");
        let alice = || basic("alice", "wonderland");
        assert_eq!(auth.authenticate(&alice(), None).await.unwrap(), "alice");
        let bob_line = format!("bob:{}\n", bcrypt::hash("builder", 4).unwrap());
        replace(&dir, "users", &bob_line);
        // alice's successful check is cached, but not past the reload.
        assert_eq!(
            auth.authenticate(&alice(), None).await,
            Err(Failure::BadPassword)
        );
        assert_eq!(
            auth.authenticate(&basic("bob", "builder"), None)
                .await
                .unwrap(),
            "bob"
        );
        for broken in [
            format!("{bob_line}carol:plain-text\n"),
            "garbage".to_owned(),
        ] {
            replace(&dir, "users", &broken);
            assert_eq!(
                auth.authenticate(&basic("bob", "builder"), None)
                    .await
                    .unwrap(),
                "bob"
            );
        }
        std::fs::remove_file(dir.path().join("users")).unwrap();
        assert_eq!(
            auth.authenticate(&basic("bob", "builder"), None)
                .await
                .unwrap(),
            "bob"
        );
    }

    #[tokio::test]
    async fn a_revoked_token_stops_working_and_a_broken_tokens_file_is_ignored() {
        let dir = tempdir::Dir::new();
        let auth = authenticator(&dir, "reload_interval_ms = 0");
        let bearer = |token: &str| headers(&format!("Bearer {token}"));
        assert_eq!(
            auth.authenticate(&bearer("ci-token"), None).await.unwrap(),
            "ci"
        );
        replace(
            &dir,
            "tokens",
            &format!("bot:sha256:{}\n", token_digest("bot-token")),
        );
        assert!(auth.authenticate(&bearer("ci-token"), None).await.is_err());
        replace(&dir, "tokens", "bot:plain-token\n");
        assert_eq!(
            auth.authenticate(&bearer("bot-token"), None).await.unwrap(),
            "bot"
        );
    }

    #[tokio::test]
    async fn a_rotated_jwt_public_key_replaces_the_old_one() {
        let dir = tempdir::Dir::new();
        let (old, new) = (
            rcgen::KeyPair::generate().unwrap(),
            rcgen::KeyPair::generate().unwrap(),
        );
        replace(&dir, "idp.pem", &old.public_key_pem());
        let path = dir.path().join("idp.pem").display().to_string();
        let extra = format!(
            "reload_interval_ms = 0\n[jwt]\npublic_key_file = {path:?}\nalgorithm = \"ES256\""
        );
        let auth = authenticator(&dir, &extra);
        let bearer = |key: &rcgen::KeyPair| {
            let claims = serde_json::json!({
                "sub": "svc",
                "exp": jsonwebtoken::get_current_timestamp() + 60,
            });
            let signing =
                jsonwebtoken::EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).unwrap();
            let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            headers(&format!(
                "Bearer {}",
                jsonwebtoken::encode(&header, &claims, &signing).unwrap()
            ))
        };
        assert_eq!(auth.authenticate(&bearer(&old), None).await.unwrap(), "svc");
        replace(&dir, "idp.pem", &new.public_key_pem());
        assert_eq!(auth.authenticate(&bearer(&new), None).await.unwrap(), "svc");
        assert!(auth.authenticate(&bearer(&old), None).await.is_err());
        replace(&dir, "idp.pem", "-----BEGIN PUBLIC KEY-----\n");
        assert_eq!(auth.authenticate(&bearer(&new), None).await.unwrap(), "svc");
    }

    #[tokio::test]
    async fn files_are_looked_at_once_per_interval() {
        let dir = tempdir::Dir::new();
        let auth = authenticator(&dir, "reload_interval_ms = 3600000");
        replace(
            &dir,
            "tokens",
            &format!("bot:sha256:{}\n", token_digest("bot-token")),
        );
        assert_eq!(
            auth.authenticate(&headers("Bearer ci-token"), None)
                .await
                .unwrap(),
            "ci"
        );
    }

    #[test]
    fn validate_rejects_auth_without_any_method() {
        let err = toml::from_str::<AuthConfig>("")
            .unwrap()
            .load("connect.http.auth", false, &ReloadMetrics::default())
            .unwrap_err();
        assert_eq!(err.key, "connect.http.auth");
    }

    #[test]
    fn validate_rejects_bad_anonymous_path_and_unknown_keys() {
        let dir = tempdir::Dir::new();
        let users = dir.path().join("users");
        std::fs::write(&users, format!("a:{}\n", bcrypt::hash("x", 4).unwrap())).unwrap();
        let text = format!(
            "users_file = {:?}\nanonymous_paths = [\"health\"]",
            users.display().to_string()
        );
        let err = toml::from_str::<AuthConfig>(&text)
            .unwrap()
            .load("k", false, &ReloadMetrics::default())
            .unwrap_err();
        assert_eq!(err.key, "k.anonymous_paths");
        let err = toml::from_str::<AuthConfig>("user_file = \"x\"").unwrap_err();
        assert!(err.to_string().contains("user_file"), "{err}");
    }
}
