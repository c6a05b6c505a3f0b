//! HTTP security of the bridge and the connect API on real sockets against the real Kafka A:
//! Basic and bearer (static, JWT) authentication with each API's 401 body, per-principal ACLs
//! with 403 and nothing written, filtered listings, connect roles, TLS, mTLS and certificate
//! reload. Certificates are made at test time by rcgen; no private key is checked in.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bridge::{BridgeConfig, Flavor};
use broker_core::telemetry::MetricsRegistry;
use broker_core::{KafkaClients, Shutdown};
use edge::ListenerConfig;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{high_watermarks, read_all};

pub(crate) const V2: &str = "application/vnd.kafka.v2+json";
pub(crate) const JSON: &str = "application/vnd.kafka.json.v2+json";
const JWT_SECRET: &str = "a-test-secret-of-at-least-32-bytes!";

/// A directory of key, user and certificate files, removed at the end of the test.
pub(crate) struct Files(PathBuf);

impl Files {
    pub(crate) fn new() -> Self {
        let path = std::env::temp_dir().join(unique_name("security_http"));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        // Write then rename, as a certificate manager would, so a reload never sees half a file.
        let partial = self.0.join(format!("{name}.partial"));
        std::fs::write(&partial, contents).unwrap();
        std::fs::rename(&partial, &path).unwrap();
        path
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test certificate authority.
pub(crate) struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Authority {
    pub(crate) fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Self {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    pub(crate) fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// `(certificate PEM, key PEM)` of a leaf for 127.0.0.1 / localhost.
    pub(crate) fn leaf(
        &self,
        common_name: &str,
        purpose: ExtendedKeyUsagePurpose,
    ) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![purpose];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A bridge served on 127.0.0.1:0 until dropped.
pub(crate) struct RunningBridge {
    pub(crate) address: SocketAddr,
    shutdown: Shutdown,
    pub(crate) clients: KafkaClients,
    /// The registry the bridge counts in, to read its metrics.
    pub(crate) registry: MetricsRegistry,
}

impl Drop for RunningBridge {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub(crate) async fn start_bridge(mut config: BridgeConfig) -> RunningBridge {
    config.http.listen = Some("127.0.0.1:0".to_owned());
    let validated = config.validate("bridge").expect("valid bridge config");
    let clients = kafka_clients(&Services::from_env().kafka_bootstrap).await;
    let tcp = edge::bind("bridge", &validated.listener).await.unwrap();
    let address = tcp.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let registry = MetricsRegistry::new();
    tokio::spawn(bridge::serve(
        validated,
        clients.clone(),
        registry.clone(),
        tcp,
        shutdown.clone(),
    ));
    RunningBridge {
        address,
        shutdown,
        clients,
        registry,
    }
}

/// Users file with alice, bob and carol (argon2id, as `kafka-gateway hash-password` makes).
fn users_file(files: &Files) -> PathBuf {
    let line = |name: &str| {
        let hash = edge::security::users::hash_password(format!("{name}-pw").as_bytes()).unwrap();
        format!("{name}:{hash}\n")
    };
    files.write(
        "users",
        &format!(
            "# test users\n{}{}{}",
            line("alice"),
            line("bob"),
            line("carol")
        ),
    )
}

fn jwt(subject: &str, expires_in: i64) -> String {
    let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": subject, "exp": now + expires_in, "iss": "test-idp"}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

/// `[bridge.http.auth]` with Basic, static tokens and JWT, and ACLs on `allowed` / `other`.
fn bridge_auth(files: &Files, allowed: &str, other: &str, group: &str) -> String {
    let users = users_file(files);
    let secret = files.write("jwt-secret", &format!("{JWT_SECRET}\n"));
    let tokens = files.write(
        "tokens",
        &format!(
            "ci:sha256:{}\n",
            edge::security::tokens::token_digest("ci-static-token")
        ),
    );
    format!(
        r#"
        users_file = {users:?}
        tokens_file = {tokens:?}
        anonymous_paths = ["/healthy"]
        [jwt]
        secret_file = {secret:?}
        issuers = ["test-idp"]
        [[acl]]
        principal = "alice"
        topics = ["{allowed}"]
        operations = ["produce", "consume", "describe"]
        groups = ["{group}"]
        [[acl]]
        principal = "bob"
        topics = ["{other}"]
        operations = ["describe"]
        groups = ["{group}"]
        [[acl]]
        principal = "ci"
        topics = ["{allowed}"]
        operations = ["produce"]
        "#
    )
}

pub(crate) fn listener(
    auth: Option<&str>,
    tls: Option<&str>,
    cors: Option<&str>,
) -> ListenerConfig {
    let mut text = String::new();
    for (name, section) in [("auth", auth), ("tls", tls), ("cors", cors)] {
        if let Some(section) = section {
            // Sub-tables of the section (`[jwt]`, `[[acl]]`) nest under it.
            let nested = section
                .replace("[jwt]", &format!("[{name}.jwt]"))
                .replace("[[acl]]", &format!("[[{name}.acl]]"));
            text.push_str(&format!("[{name}]\n{nested}\n"));
        }
    }
    toml::from_str(&text).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

fn produce_body(value: &str) -> Value {
    json!({"records": [{"value": {"v": value}}]})
}

#[tokio::test]
async fn security_bridge_authenticates_and_authorizes() {
    let files = Files::new();
    let allowed = unique_name("sec_allowed");
    let other = unique_name("sec_other");
    let group = unique_name("sec_group");
    let config = BridgeConfig {
        http: listener(
            Some(&bridge_auth(&files, &allowed, &other, &group)),
            None,
            Some(r#"allowed_origins = ["https://app.example"]"#),
        ),
        ..BridgeConfig::default()
    };
    let bridge = start_bridge(config).await;
    create_topic(&bridge.clients, &allowed, 1).await;
    create_topic(&bridge.clients, &other, 1).await;
    let base = format!("http://{}", bridge.address);
    let http = tests::http_client();
    let produce = |url: String| {
        http.post(url)
            .header("content-type", JSON)
            .header("accept", V2)
    };

    // No credentials: 401, the challenges, Confluent's 40101.
    let response = http.get(format!("{base}/topics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<_> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        challenges.contains(&r#"Basic realm="kafka-gateway""#.to_owned()),
        "{challenges:?}"
    );
    assert!(
        challenges.contains(&r#"Bearer realm="kafka-gateway""#.to_owned()),
        "{challenges:?}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], 40101, "{body}");

    // Anonymous path stays reachable.
    let response = http.get(format!("{base}/healthy")).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    // Wrong password and unknown user: 401 the same way.
    for (user, password) in [("alice", "wrong"), ("mallory", "alice-pw")] {
        let response = produce(format!("{base}/topics/{allowed}"))
            .basic_auth(user, Some(password))
            .body(produce_body("nope").to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{user}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error_code"], 40101);
    }
    assert!(
        high_watermarks(&bridge.clients, &allowed)
            .await
            .values()
            .all(|m| *m == 0)
    );

    // alice may produce: 200, and the record is in Kafka.
    let response = produce(format!("{base}/topics/{allowed}"))
        .basic_auth("alice", Some("alice-pw"))
        .body(produce_body("from-alice").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );

    // A JWT for alice works; an expired one or one from another issuer does not.
    let response = produce(format!("{base}/topics/{allowed}"))
        .bearer_auth(jwt("alice", 300))
        .body(produce_body("from-jwt").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
    let response = produce(format!("{base}/topics/{allowed}"))
        .bearer_auth(jwt("alice", -600))
        .body(produce_body("expired").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The static token of `ci` may produce too.
    let response = produce(format!("{base}/topics/{allowed}"))
        .bearer_auth("ci-static-token")
        .body(produce_body("from-ci").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );

    let clients = bridge.clients.clone();
    let topic = allowed.clone();
    let seen = tokio::task::spawn_blocking(move || {
        read_all(&clients, &topic, 3, Duration::from_secs(30), false)
    })
    .await
    .unwrap();
    let values: Vec<&str> = seen.iter().map(|r| r.value.as_str()).collect();
    assert_eq!(
        values,
        [
            r#"{"v":"from-alice"}"#,
            r#"{"v":"from-jwt"}"#,
            r#"{"v":"from-ci"}"#
        ]
    );

    // bob may only describe `other`: producing is 403 40301 and writes nothing.
    for topic in [&allowed, &other] {
        let response = produce(format!("{base}/topics/{topic}"))
            .basic_auth("bob", Some("bob-pw"))
            .body(produce_body("from-bob").to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error_code"], 40301, "{body}");
    }
    assert_eq!(
        high_watermarks(&bridge.clients, &allowed)
            .await
            .values()
            .sum::<i64>(),
        3
    );
    assert!(
        high_watermarks(&bridge.clients, &other)
            .await
            .values()
            .all(|m| *m == 0)
    );

    // Listings show only what each principal may describe.
    for (user, expected) in [("bob", &other), ("alice", &allowed)] {
        let topics: Vec<String> = http
            .get(format!("{base}/topics"))
            .basic_auth(user, Some(format!("{user}-pw")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(topics, vec![expected.clone()], "{user}");
    }
    let topics: Vec<String> = http
        .get(format!("{base}/topics"))
        .basic_auth("carol", Some("carol-pw"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(topics.is_empty(), "carol has no rule: {topics:?}");

    // Consumer groups: alice's group is allowed, another one is not; subscribing to a topic
    // she may not consume is refused.
    let create = |group: &str, user: &str| {
        http.post(format!("{base}/consumers/{group}"))
            .header("content-type", V2)
            .basic_auth(user, Some(format!("{user}-pw")))
            .body(json!({"name": "c1", "format": "json"}).to_string())
            .send()
    };
    let response = create(&unique_name("sec_denied_group"), "alice")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = create(&group, "alice").await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
    let subscribe = |topic: &str| {
        http.post(format!(
            "{base}/consumers/{group}/instances/c1/subscription"
        ))
        .header("content-type", V2)
        .basic_auth("alice", Some("alice-pw"))
        .body(json!({"topics": [topic]}).to_string())
        .send()
    };
    let response = subscribe(&other).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = subscribe(&allowed).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // Bob may use the group, but not the instance alice created: neither read from it nor
    // delete it.
    let response = http
        .get(format!("{base}/consumers/{group}/instances/c1/records"))
        .header("accept", JSON)
        .basic_auth("bob", Some("bob-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], json!(40301), "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("another principal"),
        "{body}"
    );
    let response = http
        .delete(format!("{base}/consumers/{group}/instances/c1"))
        .header("content-type", V2)
        .basic_auth("bob", Some("bob-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = http
        .delete(format!("{base}/consumers/{group}/instances/c1"))
        .header("content-type", V2)
        .basic_auth("alice", Some("alice-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // CORS preflight is answered without credentials.
    let response = http
        .request(reqwest::Method::OPTIONS, format!("{base}/topics/{allowed}"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
}

#[tokio::test]
async fn security_bridge_strimzi_flavor_uses_its_error_shape() {
    let files = Files::new();
    let allowed = unique_name("sec_strimzi");
    let config = BridgeConfig {
        flavor: Flavor::Strimzi,
        http: listener(
            Some(&bridge_auth(&files, &allowed, "none", "none")),
            None,
            None,
        ),
        ..BridgeConfig::default()
    };
    let bridge = start_bridge(config).await;
    create_topic(&bridge.clients, &allowed, 1).await;
    let base = format!("http://{}", bridge.address);
    let http = tests::http_client();
    let response = http.get(format!("{base}/topics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], 401, "{body}");
    let response = http
        .post(format!("{base}/topics/{allowed}"))
        .header("content-type", JSON)
        .basic_auth("bob", Some("bob-pw"))
        .body(produce_body("x").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], 403, "{body}");
}

#[tokio::test]
async fn security_connect_roles() {
    let files = Files::new();
    let users = users_file(&files);
    let names = crate::connect_support::ClusterNames::unique();
    let mut config = names.config();
    let auth = format!(
        r#"
        users_file = {users:?}
        anonymous_paths = ["/health"]
        [[acl]]
        principal = "alice"
        role = "admin"
        [[acl]]
        principal = "bob"
        role = "read_only"
        "#
    );
    let mut http_config = listener(Some(&auth), None, None);
    http_config.listen = Some("127.0.0.1:0".to_owned());
    config.listener = http_config
        .validate("connect.http", config.listener.listen)
        .unwrap();
    let clients = kafka_clients(&Services::from_env().kafka_bootstrap).await;
    let worker = crate::connect_support::TestWorker::start_with(&clients, config).await;
    let base = worker.base.clone();
    let http = tests::http_client();

    let response = http.get(format!("{base}/connectors")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], 401, "{body}");
    let response = http.get(format!("{base}/health")).send().await.unwrap();
    assert_ne!(response.status(), StatusCode::UNAUTHORIZED);

    let connector = json!({
        "name": unique_name("sec_connector"),
        "config": {"connector.class": "NoSuchConnector"}
    });
    for (user, get_status, post_forbidden) in [
        ("bob", 200, true),
        ("alice", 200, false),
        ("carol", 403, true),
    ] {
        let response = http
            .get(format!("{base}/connectors"))
            .basic_auth(user, Some(format!("{user}-pw")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), get_status, "{user} GET");
        let response = http
            .post(format!("{base}/connectors"))
            .basic_auth(user, Some(format!("{user}-pw")))
            .json(&connector)
            .send()
            .await
            .unwrap();
        let status = response.status();
        if post_forbidden {
            assert_eq!(status, StatusCode::FORBIDDEN, "{user} POST");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error_code"], 403, "{body}");
        } else {
            // Past authorization: the connect API itself judges the (bad) connector.
            assert!(
                status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                "{user} POST: {status}"
            );
        }
    }
    worker.shutdown.trigger();
}

pub(crate) fn https_client(ca_pem: &str, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        // A fresh connection for every request, so a reloaded certificate is seen.
        .pool_max_idle_per_host(0)
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()]);
    if let Some((cert, key)) = identity {
        builder = builder
            .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

pub(crate) fn tls_section(cert: &Path, key: &Path, client_ca: Option<&Path>) -> String {
    let mut text = format!("cert_file = {cert:?}\nkey_file = {key:?}\nreload_interval_ms = 100\n");
    if let Some(ca) = client_ca {
        text.push_str(&format!(
            "client_ca_file = {ca:?}\nclient_auth = \"required\"\n"
        ));
    }
    text
}

#[tokio::test]
async fn security_tls_serves_https_and_reloads_certificates() {
    let files = Files::new();
    let first = Authority::new("first test CA");
    let (cert, key) = first.leaf("bridge-1", ExtendedKeyUsagePurpose::ServerAuth);
    let cert_path = files.write("cert.pem", &cert);
    let key_path = files.write("key.pem", &key);
    let config = BridgeConfig {
        http: listener(None, Some(&tls_section(&cert_path, &key_path, None)), None),
        ..BridgeConfig::default()
    };
    let bridge = start_bridge(config).await;
    let https = format!("https://127.0.0.1:{}", bridge.address.port());
    let trusts_first = https_client(&first.pem(), None);
    let response = trusts_first
        .get(format!("{https}/topics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = tests::http_client()
        .get(format!("http://127.0.0.1:{}/topics", bridge.address.port()))
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain http answered: {:?}",
        plain.map(|r| r.status())
    );

    // Replace the pair with one from another CA: new connections get it.
    let second = Authority::new("second test CA");
    let (cert, key) = second.leaf("bridge-2", ExtendedKeyUsagePurpose::ServerAuth);
    files.write("key.pem", &key);
    files.write("cert.pem", &cert);
    let trusts_second = https_client(&second.pem(), None);
    let started = Instant::now();
    loop {
        if let Ok(response) = trusts_second.get(format!("{https}/topics")).send().await {
            assert_eq!(response.status(), StatusCode::OK);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "certificate not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A new client (no TLS session to resume) that trusts only the first CA is refused.
    let fresh = https_client(&first.pem(), None);
    assert!(fresh.get(format!("{https}/topics")).send().await.is_err());
}

#[tokio::test]
async fn security_mtls_requires_a_client_certificate_and_names_the_principal() {
    let files = Files::new();
    let authority = Authority::new("mtls test CA");
    let (cert, key) = authority.leaf("bridge", ExtendedKeyUsagePurpose::ServerAuth);
    let cert_path = files.write("cert.pem", &cert);
    let key_path = files.write("key.pem", &key);
    let ca_path = files.write("ca.pem", &authority.pem());
    let allowed = unique_name("sec_mtls");
    let config = BridgeConfig {
        http: listener(
            Some(&bridge_auth(&files, &allowed, "none", "none")),
            Some(&tls_section(&cert_path, &key_path, Some(&ca_path))),
            None,
        ),
        ..BridgeConfig::default()
    };
    let bridge = start_bridge(config).await;
    create_topic(&bridge.clients, &allowed, 1).await;
    let https = format!("https://127.0.0.1:{}", bridge.address.port());

    let anonymous = https_client(&authority.pem(), None);
    assert!(
        anonymous
            .get(format!("{https}/topics"))
            .send()
            .await
            .is_err()
    );

    // The certificate of CN=alice is alice: she may produce and sees her topic only.
    let (alice_cert, alice_key) = authority.leaf("alice", ExtendedKeyUsagePurpose::ClientAuth);
    let alice = https_client(&authority.pem(), Some((&alice_cert, &alice_key)));
    let topics: Vec<String> = alice
        .get(format!("{https}/topics"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(topics, vec![allowed.clone()]);
    let response = alice
        .post(format!("{https}/topics/{allowed}"))
        .header("content-type", JSON)
        .body(produce_body("over-mtls").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );

    // A certificate for someone without rules is authenticated but refused.
    let (eve_cert, eve_key) = authority.leaf("eve", ExtendedKeyUsagePurpose::ClientAuth);
    let eve = https_client(&authority.pem(), Some((&eve_cert, &eve_key)));
    let response = eve
        .post(format!("{https}/topics/{allowed}"))
        .header("content-type", JSON)
        .body(produce_body("from-eve").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        high_watermarks(&bridge.clients, &allowed)
            .await
            .values()
            .sum::<i64>(),
        1
    );
}
