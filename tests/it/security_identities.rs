//! Principal propagation on the bridge against the real Kafka A: HTTP principals mapped to
//! their own Kafka identities on the SASL_SSL listener, so Kafka's ACLs (StandardAuthorizer,
//! see `scripts/services`) decide per caller. An ACL on a fresh topic lets only the SCRAM
//! user in; the PLAIN user is refused by Kafka itself, not by the gateway.

use std::net::SocketAddr;
use std::time::Duration;

use bridge::BridgeConfig;
use broker_core::Shutdown;
use broker_core::telemetry::MetricsRegistry;
use broker_core::wire::{
    AclBinding, AclBindingFilter, AclOperation, AclPermission, PatternType, ResourceType,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_acls::wire_client;

const V2: &str = "application/vnd.kafka.v2+json";
const JSON: &str = "application/vnd.kafka.json.v2+json";

fn topic_acl(topic: &str, principal: &str, operation: AclOperation) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: topic.to_owned(),
        pattern_type: PatternType::Literal,
        principal: format!("User:{principal}"),
        host: "*".to_owned(),
        operation,
        permission: AclPermission::Allow,
    }
}

fn toml_properties(properties: &[(String, String)]) -> String {
    properties
        .iter()
        .map(|(k, v)| format!("{k:?} = {v:?}\n"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn principals_reach_kafka_with_their_own_identity() {
    let services = Services::from_env();
    let sasl = Services::sasl_ssl();
    let clients = kafka_clients(&services.kafka_bootstrap).await;
    let topic = unique_name("identities");
    create_topic(&clients, &topic, 1).await;
    // Once a topic has an ACL, principals without one are refused on it.
    let admin = wire_client(&services.kafka_bootstrap);
    let acls: Vec<AclBinding> = [
        AclOperation::Write,
        AclOperation::Read,
        AclOperation::Describe,
    ]
    .into_iter()
    .map(|operation| topic_acl(&topic, &sasl.scram_user, operation))
    .collect();
    for result in admin.create_acls(&acls).await.expect("create acls") {
        result.expect("acl created (is the authorizer on? restart with scripts/services)");
    }

    let directory = std::env::temp_dir().join(unique_name("identities"));
    std::fs::create_dir_all(&directory).unwrap();
    let users: String = ["alice", "bob", "carol"]
        .iter()
        .map(|name| {
            let hash =
                edge::security::users::hash_password(format!("{name}-pw").as_bytes()).unwrap();
            format!("{name}:{hash}\n")
        })
        .collect();
    let users_file = directory.join("users");
    std::fs::write(&users_file, users).unwrap();
    let mut alice = sasl.properties("SCRAM-SHA-512", &sasl.scram_user, &sasl.scram_password);
    alice.push(("bootstrap.servers".to_owned(), sasl.bootstrap.clone()));
    let mut bob = sasl.properties("PLAIN", &sasl.plain_user, &sasl.plain_password);
    bob.push(("bootstrap.servers".to_owned(), sasl.bootstrap.clone()));
    let config_text = format!(
        r#"
        enabled = true
        [http]
        listen = "127.0.0.1:0"
        [http.auth]
        users_file = {users_file:?}
        [kafka_identities]
        unmapped = "refuse"
        [kafka_identities.principals.alice]
        {}
        [kafka_identities.principals.bob]
        {}
        "#,
        toml_properties(&alice),
        toml_properties(&bob),
    );
    let config: BridgeConfig = toml::from_str(&config_text).unwrap();
    let validated = config.validate("bridge").expect("valid bridge config");
    let tcp = edge::bind("bridge", &validated.listener).await.unwrap();
    let address: SocketAddr = tcp.local_addr().unwrap();
    let shutdown = Shutdown::new();
    tokio::spawn(bridge::serve(
        validated,
        clients.clone(),
        MetricsRegistry::new(),
        tcp,
        shutdown.clone(),
    ));
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let produce = |user: &'static str, value: &'static str| {
        http.post(format!("{base}/topics/{topic}"))
            .basic_auth(user, Some(format!("{user}-pw")))
            .header("content-type", JSON)
            .body(json!({"records": [{"value": value}]}).to_string())
            .send()
    };

    // alice (SCRAM user, allowed by the ACL): acknowledged.
    let response = produce("alice", "from alice").await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["offsets"][0]["offset"], json!(0), "{body}");
    assert!(body["offsets"][0]["error_code"].is_null(), "{body}");

    // bob (PLAIN user, no ACL): Kafka refuses the record; as Confluent, 403 with the
    // per-record error in offsets[].
    let response = produce("bob", "from bob").await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["offsets"][0]["error_code"], json!(40301), "{body}");

    // carol has no Kafka identity and unmapped principals are refused.
    let response = produce("carol", "from carol").await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], json!(40301), "{body}");

    // Consuming: alice reads her record; bob's instance is refused by Kafka with 403.
    let consume = |user: &'static str| {
        let http = http.clone();
        let base = base.clone();
        let topic = topic.clone();
        async move {
            let group = unique_name(&format!("identities_{user}"));
            let created = http
                .post(format!("{base}/consumers/{group}"))
                .basic_auth(user, Some(format!("{user}-pw")))
                .header("content-type", V2)
                .body(json!({"name": "c", "format": "json"}).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), StatusCode::OK, "{user}");
            let instance = format!("{base}/consumers/{group}/instances/c");
            let assigned = http
                .post(format!("{instance}/assignments"))
                .basic_auth(user, Some(format!("{user}-pw")))
                .header("content-type", V2)
                .body(json!({"partitions": [{"topic": topic, "partition": 0}]}).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(assigned.status(), StatusCode::NO_CONTENT, "{user}");
            let mut last = (StatusCode::OK, Value::Null);
            for _ in 0..20 {
                let response = http
                    .get(format!("{instance}/records?timeout=1000"))
                    .basic_auth(user, Some(format!("{user}-pw")))
                    .header("accept", JSON)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let body: Value = response.json().await.unwrap();
                let done = status != StatusCode::OK
                    || body.as_array().is_some_and(|records| !records.is_empty());
                last = (status, body);
                if done {
                    break;
                }
            }
            last
        }
    };
    let (status, records) = consume("alice").await;
    assert_eq!(status, StatusCode::OK, "{records}");
    assert_eq!(records[0]["value"], json!("from alice"), "{records}");
    let (status, body) = consume("bob").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error_code"], json!(40301), "{body}");

    shutdown.trigger();
    let filter = AclBindingFilter {
        resource_name: Some(topic.clone()),
        ..AclBindingFilter::resources(ResourceType::Topic, PatternType::Literal)
    };
    let _ = admin.delete_acls(&[filter]).await;
    let _ = std::fs::remove_dir_all(&directory);
    tokio::time::sleep(Duration::from_millis(100)).await;
}
