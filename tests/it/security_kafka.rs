//! Every service over cluster A's SASL_SSL listener (TLS with the local CA, SASL PLAIN,
//! SCRAM-SHA-256 and SCRAM-SHA-512 users created by `scripts/services`): records written
//! through the authenticated listener are read back on the plain listener, so they really
//! landed; a wrong password is a definite authentication error, never a hang.

use std::time::Duration;

use axum::http::StatusCode;
use bridge::{BridgeConfig, Flavor};
use broker_core::login::{LoginCheck, verify_login};
use broker_core::{ClusterConfig, KafkaClients};
use serde_json::{Value, json};
use tests::process::{GatewayProcess, free_port};
use tests::{SaslSslListener, Services, create_topic, kafka_clients, unique_name};

use crate::bridge_common::{Bridge, JSON, V2};
use crate::mirror_common::read_all;

fn clients(config: &ClusterConfig) -> KafkaClients {
    KafkaClients::new(
        config
            .validate("test")
            .expect("valid SASL_SSL cluster config"),
    )
}

fn bridge(config: &ClusterConfig) -> Bridge {
    Bridge::with_clients(
        &BridgeConfig {
            flavor: Flavor::Confluent,
            ..BridgeConfig::default()
        },
        clients(config),
    )
}

/// Produces `count` JSON records through the bridge, then reads them back with a client on
/// the PLAINTEXT listener.
async fn produce_and_verify(bridge: &Bridge, plain: &KafkaClients, topic: &str, count: usize) {
    let records: Vec<Value> = (0..count)
        .map(|i| json!({"key": format!("k{i}"), "value": {"n": i}}))
        .collect();
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            JSON,
            &json!({ "records": records }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let offsets = reply.body["offsets"].as_array().expect("offsets");
    assert_eq!(offsets.len(), count, "{reply:?}");
    assert!(
        offsets.iter().all(|o| o["error_code"].is_null()),
        "{reply:?}"
    );

    let reader = plain.clone();
    let name = topic.to_owned();
    let mut seen = tokio::task::spawn_blocking(move || {
        read_all(&reader, &name, count, Duration::from_secs(30), false)
    })
    .await
    .expect("reader");
    seen.sort_by(|a, b| a.key.cmp(&b.key));
    let keys: Vec<String> = seen.iter().map(|s| s.key.clone()).collect();
    // JSON-format keys are stored as their JSON text.
    let mut expected: Vec<String> = (0..count).map(|i| format!("\"k{i}\"")).collect();
    expected.sort();
    assert_eq!(keys, expected, "records landed on the broker");
}

/// A consumer instance of the bridge reads `count` records of `topic` from the start.
async fn consume_through_bridge(bridge: &Bridge, topic: &str, count: usize) -> Vec<Value> {
    let group = unique_name("sasl_group");
    let reply = bridge
        .post(
            &format!("/consumers/{group}"),
            V2,
            &json!({"name": "c1", "format": "json", "auto.offset.reset": "earliest"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let base = format!("/consumers/{group}/instances/c1");
    let reply = bridge
        .post(
            &format!("{base}/subscription"),
            V2,
            &json!({ "topics": [topic] }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    let records = bridge
        .records_until(&base, "application/vnd.kafka.json.v2+json", count)
        .await;
    let reply = bridge
        .call(axum::http::Method::DELETE, &base, Some(V2), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    records
}

async fn plain_clients() -> KafkaClients {
    kafka_clients(&Services::from_env().kafka_bootstrap).await
}

#[tokio::test]
async fn bridge_over_sasl_ssl_scram_sha_512_produces_and_consumes() {
    let listener = Services::sasl_ssl();
    let plain = plain_clients().await;
    let topic = unique_name("sasl_scram512");
    create_topic(&plain, &topic, 2).await;
    let bridge = bridge(&listener.scram("SCRAM-SHA-512"));

    produce_and_verify(&bridge, &plain, &topic, 5).await;
    let records = consume_through_bridge(&bridge, &topic, 5).await;
    let mut values: Vec<i64> = records
        .iter()
        .map(|r| r["value"]["n"].as_i64().expect("json value"))
        .collect();
    values.sort_unstable();
    assert_eq!(values, vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn bridge_over_sasl_ssl_plain_and_scram_sha_256_produces() {
    let listener = Services::sasl_ssl();
    let plain = plain_clients().await;
    for (label, config) in [
        ("plain", listener.plain()),
        ("scram256", listener.scram("SCRAM-SHA-256")),
    ] {
        let topic = unique_name(&format!("sasl_{label}"));
        create_topic(&plain, &topic, 1).await;
        let bridge = bridge(&config);
        produce_and_verify(&bridge, &plain, &topic, 3).await;
    }
}

fn wrong_password(listener: &SaslSslListener) -> ClusterConfig {
    listener.cluster("SCRAM-SHA-512", &listener.scram_user, "not-the-password")
}

#[tokio::test]
async fn bridge_with_a_wrong_password_answers_a_definite_authentication_error() {
    let listener = Services::sasl_ssl();
    let plain = plain_clients().await;
    let topic = unique_name("sasl_wrong");
    create_topic(&plain, &topic, 1).await;
    let bridge = bridge(&wrong_password(&listener));
    for reply in [
        bridge
            .post(
                &format!("/topics/{topic}"),
                JSON,
                &json!({"records": [{"value": 1}]}),
            )
            .await,
        bridge.get("/topics").await,
    ] {
        // 500, not 401: the HTTP caller did nothing wrong, the gateway's own Kafka login is
        // misconfigured.
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{reply:?}");
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("authentication to the brokers failed")
                && message.contains("SCRAM-SHA-512"),
            "{reply:?}"
        );
        assert!(!reply.body.to_string().contains("not-the-password"));
    }
}

#[tokio::test]
async fn login_check_names_a_rejected_password_and_accepts_the_right_ones() {
    let listener = Services::sasl_ssl();
    let error = verify_login(
        &clients(&wrong_password(&listener)),
        Duration::from_secs(30),
    )
    .await
    .expect_err("a wrong password is a definite error");
    let message = error.to_string();
    assert!(
        message.contains("authentication to the brokers failed")
            && message.contains("SCRAM-SHA-512")
            && message.contains(&listener.scram_user),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");
    assert!(!error.is_retriable());

    for config in [
        listener.plain(),
        listener.scram("SCRAM-SHA-256"),
        listener.scram("SCRAM-SHA-512"),
    ] {
        let check = verify_login(&clients(&config), Duration::from_secs(30))
            .await
            .expect("the test users log in");
        assert!(matches!(check, LoginCheck::Accepted), "{check:?}");
    }
}

#[tokio::test]
async fn gateway_with_a_wrong_password_exits_at_start_naming_the_login_failure() {
    let listener = Services::sasl_ssl();
    let dir = std::env::temp_dir().join(unique_name("sasl_wrong_gateway"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            r#"[kafka]
bootstrap_servers = "{bootstrap}"
[kafka.properties]
"security.protocol" = "SASL_SSL"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "{user}"
"sasl.password" = "not-the-password"
"ssl.ca.location" = "{ca}"
[bridge]
enabled = true
[bridge.http]
listen = "127.0.0.1:{port}"
[metrics]
enabled = false
"#,
            bootstrap = listener.bootstrap,
            user = listener.scram_user,
            ca = listener.ca_file,
            port = free_port(),
        ),
    )
    .unwrap();
    let mut gateway = GatewayProcess::spawn(
        &["run", "--config", config.to_str().unwrap()],
        &[("RUST_LOG", "debug")],
        dir.join("gateway.log"),
    );
    let status = gateway.wait_exit(Duration::from_secs(60)).await;
    let log = gateway.log();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("cannot log in to kafka") && log.contains("authentication"),
        "{log}"
    );
    assert!(!log.contains("not-the-password"), "{log}");
}

#[tokio::test]
async fn connect_worker_over_sasl_ssl_runs_a_file_source_and_sink() {
    use crate::connect_support::{
        ClusterNames, TestWorker, call, temp_file, wait_for_lines, wait_for_state,
    };
    let listener = Services::sasl_ssl();
    let plain = plain_clients().await;
    let sasl = clients(&listener.scram("SCRAM-SHA-512"));
    let names = ClusterNames::unique();
    let topic = unique_name("sasl_connect");
    create_topic(&plain, &topic, 1).await;
    let input = temp_file("sasl_connect_in");
    let output = temp_file("sasl_connect_out");
    let lines: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
    tokio::fs::write(&input, lines.join("\n") + "\n")
        .await
        .unwrap();

    // The worker's internal topics, its group membership, the source's producer and the
    // sink's consumer all go through the SASL_SSL listener.
    let worker = TestWorker::start(&sasl, &names).await;
    let source = json!({"name": "sasl-source", "config": {"connector.class": "FileStreamSource",
        "file": input.to_string_lossy(), "topic": topic}});
    let sink = json!({"name": "sasl-sink", "config": {"connector.class": "FileStreamSink",
        "file": output.to_string_lossy(), "topics": topic, "tasks.max": "1"}});
    for body in [source, sink] {
        let (status, reply) = call(
            reqwest::Method::POST,
            &worker.url("/connectors"),
            Some(body),
        )
        .await;
        assert_eq!(status, 201, "{reply}");
    }
    wait_for_state(&worker, "sasl-source", "RUNNING", 1).await;
    wait_for_state(&worker, "sasl-sink", "RUNNING", 1).await;
    wait_for_lines(&output, &lines, Duration::from_secs(60)).await;
    worker.stop().await;

    // Read back on the PLAINTEXT listener: the records and the worker's config topic are on
    // the broker.
    let reader = plain.clone();
    let name = topic.clone();
    let seen = tokio::task::spawn_blocking(move || {
        read_all(&reader, &name, 20, Duration::from_secs(30), false)
    })
    .await
    .unwrap();
    assert_eq!(seen.len(), 20, "records landed on the broker");
    let reader = plain.clone();
    let configs = names.configs.clone();
    let stored = tokio::task::spawn_blocking(move || {
        read_all(&reader, &configs, 1, Duration::from_secs(30), false)
    })
    .await
    .unwrap();
    assert!(
        stored
            .iter()
            .any(|record| record.value.contains("sasl-source")),
        "the config topic holds the connector config"
    );
    let _ = tokio::fs::remove_file(&input).await;
    let _ = tokio::fs::remove_file(&output).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mirror_reads_cluster_a_over_sasl_ssl_from_mm2_properties() {
    use crate::mirror_common::{RunningMirror, produce_numbered, wait_for_topic};
    let listener = Services::sasl_ssl();
    let services = Services::from_env();
    let plain = plain_clients().await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("sasl_mirror");
    create_topic(&plain, &topic, 2).await;
    produce_numbered(&plain.producer().unwrap(), &topic, 0..30, 2).await;

    // Java-style client settings, as a MirrorMaker 2 file carries them.
    let text = format!(
        "clusters = A, B\nA.bootstrap.servers = {sasl}\nB.bootstrap.servers = {b}\n\
         A.security.protocol = SASL_SSL\nA.sasl.mechanism = SCRAM-SHA-512\n\
         A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \
         username=\"{user}\" password=\"{password}\";\n\
         A.ssl.truststore.type = PEM\nA.ssl.truststore.location = {ca}\n\
         A->B.enabled = true\nA->B.topics = {topic}\nreplication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\nrefresh.topics.interval.seconds = 1\n\
         offset.flush.interval.ms = 200\nemit.checkpoints.interval.seconds = 1\n",
        sasl = listener.bootstrap,
        b = services.kafka_b_bootstrap,
        user = listener.scram_user,
        password = listener.scram_password,
        ca = listener.ca_file,
    );
    let config = mirror::parse_properties(&text).expect("mm2.properties is valid");
    // ssl.truststore.type is consumed by the truststore translation; nothing else may be
    // dropped.
    assert!(
        config
            .warnings
            .iter()
            .all(|warning| warning.key == "A.ssl.truststore.type"),
        "{:?}",
        config.warnings
    );
    let mirror = RunningMirror::start(config);
    let remote = format!("A.{topic}");
    wait_for_topic(&b, &remote, Duration::from_secs(60)).await;
    let reader = b.clone();
    let seen = tokio::task::spawn_blocking(move || {
        read_all(&reader, &remote, 30, Duration::from_secs(60), false)
    })
    .await
    .unwrap();
    mirror.stop().await;
    assert_eq!(
        seen.len(),
        30,
        "every record copied once from A (SASL_SSL) to B"
    );
}

/// The other direction: cluster A over SASL_SSL is the **target** (B → A), with
/// exactly-once, so topic creation, transactional produce, offset syncs, checkpoints and
/// heartbeats all go through the SASL_SSL listener.
#[tokio::test]
async fn mirror_writes_to_cluster_a_over_sasl_ssl_exactly_once() {
    use crate::mirror_common::{RunningMirror, produce_numbered, wait_for_topic};
    let listener = Services::sasl_ssl();
    let services = Services::from_env();
    let plain = plain_clients().await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("sasl_mirror_target");
    create_topic(&b, &topic, 2).await;
    produce_numbered(&b.producer().unwrap(), &topic, 0..40, 2).await;
    let text = format!(
        "clusters = A, B\nA.bootstrap.servers = {sasl}\nB.bootstrap.servers = {b}\n\
         A.security.protocol = SASL_SSL\nA.sasl.mechanism = SCRAM-SHA-256\n\
         A.sasl.username = {user}\nA.sasl.password = {password}\nA.ssl.ca.location = {ca}\n\
         B->A.enabled = true\nB->A.topics = {topic}\nreplication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\nrefresh.topics.interval.seconds = 1\n\
         offset.flush.interval.ms = 200\nemit.checkpoints.interval.seconds = 1\n\
         exactly.once.support = enabled\nreplication.group.id = __mirror_test.{topic}\n",
        sasl = listener.bootstrap,
        b = services.kafka_b_bootstrap,
        user = listener.scram_user,
        password = listener.scram_password,
        ca = listener.ca_file,
    );
    let config = mirror::parse_properties(&text).expect("mm2.properties is valid");
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let mirror = RunningMirror::start(config);
    let remote = format!("B.{topic}");
    wait_for_topic(&plain, &remote, Duration::from_secs(60)).await;
    let reader = plain.clone();
    // read_committed: only what the mirror's transactions committed.
    let seen = tokio::task::spawn_blocking(move || {
        read_all(&reader, &remote, 40, Duration::from_secs(60), true)
    })
    .await
    .unwrap();
    mirror.stop().await;
    let keys: std::collections::BTreeSet<&str> = seen.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        (seen.len(), keys.len()),
        (40, 40),
        "every record copied once from B to A (SASL_SSL, transactional)"
    );
}

#[tokio::test]
async fn mirror_with_a_wrong_password_stops_naming_the_login_failure() {
    let listener = Services::sasl_ssl();
    let services = Services::from_env();
    let text = format!(
        "clusters = A, B\nA.bootstrap.servers = {sasl}\nB.bootstrap.servers = {b}\n\
         A.security.protocol = SASL_SSL\nA.sasl.mechanism = SCRAM-SHA-512\n\
         A.sasl.username = {user}\nA.sasl.password = not-the-password\n\
         A.ssl.ca.location = {ca}\nA->B.enabled = true\nA->B.topics = {topic}\n\
         replication.factor = 1\ncheckpoints.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\noffset-syncs.topic.replication.factor = 1\n",
        sasl = listener.bootstrap,
        b = services.kafka_b_bootstrap,
        user = listener.scram_user,
        ca = listener.ca_file,
        topic = unique_name("sasl_mirror_wrong"),
    );
    let config = mirror::parse_properties(&text).expect("mm2.properties is valid");
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        mirror::run(
            config,
            broker_core::telemetry::MetricsRegistry::new(),
            broker_core::Shutdown::new(),
        ),
    )
    .await
    .expect("the mirror stops instead of retrying the login forever");
    let message = result
        .expect_err("a rejected login is an error")
        .to_string();
    assert!(
        message.contains("authentication to the brokers failed")
            && message.contains("SCRAM-SHA-512"),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");
}
