//! Reloading a running bridge's security files on real sockets against the real Kafka A: users
//! added and removed, a static token revoked, the JWT secret and JWKS rotated, a broken users
//! file ignored, the mTLS client CA rotated. Files are replaced by rename, as operators are
//! told to; every test reads the reload counters from the bridge's own registry.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bridge::BridgeConfig;
use broker_core::telemetry::MetricsRegistry;
use rcgen::ExtendedKeyUsagePurpose;
use reqwest::StatusCode;
use serde_json::json;

use crate::security_http::{
    Authority, Files, RunningBridge, https_client, listener, start_bridge, tls_section,
};

/// Users files with any of these users, each with the password `<name>-pw`; hashed once,
/// because an argon2 hash is slow by design.
struct Passwords(HashMap<&'static str, String>);

impl Passwords {
    fn new(names: &[&'static str]) -> Self {
        Self(
            names
                .iter()
                .map(|name| {
                    let hash =
                        edge::security::users::hash_password(format!("{name}-pw").as_bytes())
                            .unwrap();
                    (*name, format!("{name}:{hash}\n"))
                })
                .collect(),
        )
    }

    fn file(&self, names: &[&str]) -> String {
        names.iter().map(|name| self.0[name].as_str()).collect()
    }
}

async fn bridge_with_auth(auth: &str) -> (RunningBridge, String) {
    let config = BridgeConfig {
        http: listener(Some(auth), None, None),
        ..BridgeConfig::default()
    };
    let bridge = start_bridge(config).await;
    let base = format!("http://{}", bridge.address);
    (bridge, base)
}

/// The status of `GET /` (authentication only) with `authorize` applied to the request.
async fn status(
    base: &str,
    authorize: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> StatusCode {
    let request = tests::http_client().get(format!("{base}/"));
    authorize(request).send().await.unwrap().status()
}

async fn basic_status(base: &str, user: &str) -> StatusCode {
    status(base, |r| r.basic_auth(user, Some(format!("{user}-pw")))).await
}

async fn bearer_status(base: &str, token: &str) -> StatusCode {
    status(base, |r| r.bearer_auth(token)).await
}

/// `kafka_gateway_security_reloads_total` of the bridge listener for `file` and `result`.
fn reloads(registry: &MetricsRegistry, file: &str, result: &str) -> u64 {
    let series = format!(
        "kafka_gateway_security_reloads_total{{listener=\"bridge\",file=\"{file}\",result=\"{result}\"}} "
    );
    let text = registry.render().unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn security_http_reload_users_file_adds_and_removes_users_and_survives_a_broken_file() {
    let files = Files::new();
    let passwords = Passwords::new(&["alice", "dave", "erin"]);
    let users = files.write("users", &passwords.file(&["alice"]));
    let (bridge, base) =
        bridge_with_auth(&format!("users_file = {users:?}\nreload_interval_ms = 0\n")).await;
    assert_eq!(basic_status(&base, "alice").await, StatusCode::OK);
    assert_eq!(basic_status(&base, "dave").await, StatusCode::UNAUTHORIZED);

    // A new user gets in without a restart.
    files.write("users", &passwords.file(&["alice", "dave"]));
    assert_eq!(basic_status(&base, "dave").await, StatusCode::OK);
    assert_eq!(basic_status(&base, "alice").await, StatusCode::OK);

    // A removed user is out at once, although her last check is cached for 60 s.
    files.write("users", &passwords.file(&["dave"]));
    assert_eq!(basic_status(&base, "alice").await, StatusCode::UNAUTHORIZED);
    assert_eq!(basic_status(&base, "dave").await, StatusCode::OK);
    assert_eq!(reloads(&bridge.registry, "users_file", "ok"), 2);

    // A garbage line, a plain-text password, a missing file: the previous users keep working
    // and each broken version is counted once.
    files.write(
        "users",
        &format!(
            "{}this line is garbage\n",
            passwords.file(&["dave", "erin"])
        ),
    );
    assert_eq!(basic_status(&base, "dave").await, StatusCode::OK);
    assert_eq!(basic_status(&base, "erin").await, StatusCode::UNAUTHORIZED);
    assert_eq!(reloads(&bridge.registry, "users_file", "error"), 1);
    files.write("users", "dave:dave-pw\n");
    assert_eq!(basic_status(&base, "dave").await, StatusCode::OK);
    std::fs::remove_file(&users).unwrap();
    assert_eq!(basic_status(&base, "dave").await, StatusCode::OK);
    assert_eq!(reloads(&bridge.registry, "users_file", "error"), 3);
    assert_eq!(reloads(&bridge.registry, "users_file", "ok"), 2);

    // Fixed: the new version applies.
    files.write("users", &passwords.file(&["erin"]));
    assert_eq!(basic_status(&base, "erin").await, StatusCode::OK);
    assert_eq!(basic_status(&base, "dave").await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn security_http_reload_revoked_static_token_is_refused() {
    let files = Files::new();
    let line = |principal: &str, token: &str| {
        format!(
            "{principal}:sha256:{}\n",
            edge::security::tokens::token_digest(token)
        )
    };
    let tokens = files.write(
        "tokens",
        &format!("{}{}", line("ci", "ci-token"), line("bot", "bot-token")),
    );
    let (bridge, base) = bridge_with_auth(&format!(
        "tokens_file = {tokens:?}\nreload_interval_ms = 0\n"
    ))
    .await;
    assert_eq!(bearer_status(&base, "ci-token").await, StatusCode::OK);
    files.write("tokens", &line("bot", "bot-token"));
    assert_eq!(
        bearer_status(&base, "ci-token").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(bearer_status(&base, "bot-token").await, StatusCode::OK);
    assert_eq!(reloads(&bridge.registry, "tokens_file", "ok"), 1);
}

fn hs256(secret: &[u8], kid: Option<&str>, subject: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    let now = jsonwebtoken::get_current_timestamp();
    jsonwebtoken::encode(
        &header,
        &json!({"sub": subject, "exp": now + 300}),
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test]
async fn security_http_reload_rotated_jwt_secret_replaces_the_old_one() {
    const OLD: &[u8] = b"the-old-secret-of-at-least-32-bytes!";
    const NEW: &[u8] = b"the-new-secret-of-at-least-32-bytes!";
    let files = Files::new();
    let secret = files.write("secret", "the-old-secret-of-at-least-32-bytes!\n");
    let (bridge, base) = bridge_with_auth(&format!(
        "reload_interval_ms = 0\n[jwt]\nsecret_file = {secret:?}\n"
    ))
    .await;
    assert_eq!(
        bearer_status(&base, &hs256(OLD, None, "svc")).await,
        StatusCode::OK
    );
    // Same length, so only the rename tells the files apart.
    files.write("secret", "the-new-secret-of-at-least-32-bytes!\n");
    assert_eq!(
        bearer_status(&base, &hs256(NEW, None, "svc")).await,
        StatusCode::OK
    );
    assert_eq!(
        bearer_status(&base, &hs256(OLD, None, "svc")).await,
        StatusCode::UNAUTHORIZED
    );
    // Too short a secret is refused as at startup: the current one stays.
    files.write("secret", "short\n");
    assert_eq!(
        bearer_status(&base, &hs256(NEW, None, "svc")).await,
        StatusCode::OK
    );
    assert_eq!(reloads(&bridge.registry, "secret_file", "ok"), 1);
    assert_eq!(reloads(&bridge.registry, "secret_file", "error"), 1);
}

#[tokio::test]
async fn security_http_reload_rotated_jwks_accepts_the_new_key_and_drops_the_old_one() {
    const FIRST: &[u8] = b"first-jwks-secret-of-at-least-32-bytes";
    const SECOND: &[u8] = b"second-jwks-secret-of-at-least-32-bytes";
    // base64url of FIRST and SECOND.
    let key = |kid: &str, k: &str| json!({"kty": "oct", "kid": kid, "alg": "HS256", "k": k});
    let first = key(
        "2026-1",
        "Zmlyc3Qtandrcy1zZWNyZXQtb2YtYXQtbGVhc3QtMzItYnl0ZXM",
    );
    let second = key(
        "2026-2",
        "c2Vjb25kLWp3a3Mtc2VjcmV0LW9mLWF0LWxlYXN0LTMyLWJ5dGVz",
    );
    let files = Files::new();
    let jwks = files.write("jwks.json", &json!({"keys": [first]}).to_string());
    let (bridge, base) = bridge_with_auth(&format!(
        "reload_interval_ms = 0\n[jwt]\njwks_file = {jwks:?}\n"
    ))
    .await;
    let old_token = hs256(FIRST, Some("2026-1"), "svc");
    let new_token = hs256(SECOND, Some("2026-2"), "svc");
    assert_eq!(bearer_status(&base, &old_token).await, StatusCode::OK);
    assert_eq!(
        bearer_status(&base, &new_token).await,
        StatusCode::UNAUTHORIZED
    );
    // The identity provider publishes the new key next to the old one, then drops the old.
    files.write("jwks.json", &json!({"keys": [first, second]}).to_string());
    assert_eq!(bearer_status(&base, &new_token).await, StatusCode::OK);
    assert_eq!(bearer_status(&base, &old_token).await, StatusCode::OK);
    files.write("jwks.json", &json!({"keys": [second]}).to_string());
    assert_eq!(bearer_status(&base, &new_token).await, StatusCode::OK);
    assert_eq!(
        bearer_status(&base, &old_token).await,
        StatusCode::UNAUTHORIZED
    );
    // Half a JSON document: the current set stays.
    files.write("jwks.json", r#"{"keys": [{"kty": "oct""#);
    assert_eq!(bearer_status(&base, &new_token).await, StatusCode::OK);
    assert_eq!(reloads(&bridge.registry, "jwks_file", "ok"), 2);
    assert_eq!(reloads(&bridge.registry, "jwks_file", "error"), 1);
}

#[tokio::test]
async fn security_http_reload_rotated_client_ca_accepts_its_clients_and_refuses_the_old_ones() {
    let files = Files::new();
    let server_ca = Authority::new("server test CA");
    let (cert, key) = server_ca.leaf("bridge", ExtendedKeyUsagePurpose::ServerAuth);
    let cert_path = files.write("cert.pem", &cert);
    let key_path = files.write("key.pem", &key);
    let old_ca = Authority::new("old client CA");
    let new_ca = Authority::new("new client CA");
    let ca_path = files.write("clients-ca.pem", &old_ca.pem());
    let config = BridgeConfig {
        http: listener(
            None,
            Some(&tls_section(&cert_path, &key_path, Some(&ca_path))),
            None,
        ),
        ..BridgeConfig::default()
    };
    let bridge = start_bridge(config).await;
    let https = format!("https://127.0.0.1:{}/", bridge.address.port());
    let client_of = |ca: &Authority, name: &str| {
        let (cert, key) = ca.leaf(name, ExtendedKeyUsagePurpose::ClientAuth);
        https_client(&server_ca.pem(), Some((&cert, &key)))
    };
    let old_client = client_of(&old_ca, "old-client");
    let new_client = client_of(&new_ca, "new-client");
    let accepted = |client: &reqwest::Client| {
        let request = client.get(&https).send();
        async move { request.await.is_ok_and(|r| r.status() == StatusCode::OK) }
    };
    assert!(accepted(&old_client).await);
    assert!(!accepted(&new_client).await);

    // A CA file caught half-written is ignored: the old clients keep getting in.
    files.write("clients-ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB");
    let started = Instant::now();
    while reloads(&bridge.registry, "client_ca_file", "error") == 0 {
        assert!(accepted(&old_client).await);
        assert!(started.elapsed() < Duration::from_secs(30), "never checked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(accepted(&old_client).await);

    // The new CA applies within the interval (100 ms here) to new connections.
    files.write("clients-ca.pem", &new_ca.pem());
    let started = Instant::now();
    while !accepted(&new_client).await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "client CA not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!accepted(&old_client).await);
    assert_eq!(reloads(&bridge.registry, "client_ca_file", "ok"), 1);
    assert_eq!(reloads(&bridge.registry, "client_ca_file", "error"), 1);
}
