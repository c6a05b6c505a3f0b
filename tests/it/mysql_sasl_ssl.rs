//! The MySQL CDC source on a worker whose Kafka clients use cluster A's SASL_SSL listener
//! (SCRAM-SHA-512 over TLS with the local CA): the change events, the topics the runtime
//! creates for them (KIP-158) and the schema history the task writes through the runtime's
//! side-topic clients all go through the authenticated listener. Everything is read back
//! on the PLAINTEXT listener of the same broker, so it really landed. A history bootstrap
//! list naming another cluster is refused at validation with an error naming the key.

use std::time::Duration;

use broker_core::KafkaClients;
use broker_core::metadata::ClusterInspector;
use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use reqwest::Method;
use serde_json::json;
use tests::{Services, kafka_clients, unique_name};

use crate::connect_support::{ClusterNames, TestWorker, call, wait_for_state};
use crate::mysql_common::{cdc_config, exec, items_table, plugins, read_topic, shared};

const HISTORY_BOOTSTRAP: &str = "schema.history.internal.kafka.bootstrap.servers";

fn sasl_clients() -> (String, KafkaClients) {
    let listener = Services::sasl_ssl();
    let config = listener
        .scram("SCRAM-SHA-512")
        .validate("test")
        .expect("valid SASL_SSL cluster config");
    (listener.bootstrap, KafkaClients::new(config))
}

/// The topic configs the broker reports for `topic`.
async fn topic_configs(clients: &KafkaClients, topic: &str) -> Vec<(String, Option<String>)> {
    let admin = clients.admin().expect("admin client");
    let results = admin
        .describe_configs(
            [&ResourceSpecifier::Topic(topic)],
            &AdminOptions::new().request_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("describe configs");
    let resource = results
        .into_iter()
        .next()
        .expect("one resource")
        .expect("the topic's configs");
    resource
        .entries
        .into_iter()
        .map(|entry| (entry.name, entry.value))
        .collect()
}

#[tokio::test]
async fn cdc_over_sasl_ssl_writes_change_events_and_schema_history() {
    let (sasl_bootstrap, sasl) = sasl_clients();
    let plain = kafka_clients(&Services::from_env().kafka_bootstrap).await;
    let url = Services::from_env().mysql_url;
    let mut conn = shared().await;
    let database = items_table(&mut conn, "sasl_cdc", 3).await;
    let prefix = unique_name("sasl_cdc");
    let history = format!("{prefix}.history");
    let topic = format!("{prefix}.{database}.items");

    // The worker's internal topics, the record producer, the KIP-158 admin client and the
    // schema history producer all authenticate on the SASL_SSL listener.
    let names = ClusterNames::unique();
    let worker = TestWorker::start_with_plugins(&sasl, names.config(), plugins()).await;
    let mut config = cdc_config(&url, &prefix, &database);
    config[HISTORY_BOOTSTRAP] = json!(sasl_bootstrap);
    let body = json!({"name": "sasl-cdc", "config": config});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&worker, "sasl-cdc", "RUNNING", 1).await;
    read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| seen.iter().filter(|(_, v)| v["op"] == "r").count() == 3),
    )
    .await;
    exec(
        &mut conn,
        &format!("ALTER TABLE `{database}`.items ADD COLUMN note VARCHAR(16)"),
    )
    .await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (4, 'row 4', 'after ddl')"),
    )
    .await;

    // Change events, read on the PLAINTEXT listener.
    let events = read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| seen.iter().any(|(_, v)| v["after"]["id"] == 4)),
    )
    .await;
    let mut snapshot: Vec<i64> = events
        .iter()
        .filter(|(_, v)| v["op"] == "r")
        .filter_map(|(k, _)| k["id"].as_i64())
        .collect();
    snapshot.dedup();
    assert_eq!(snapshot, [1, 2, 3], "{events:?}");
    let inserted = events
        .iter()
        .find(|(_, v)| v["after"]["id"] == 4)
        .map(|(_, v)| v)
        .expect("the insert after the DDL");
    assert_eq!(inserted["op"], "c");
    assert_eq!(inserted["after"]["note"], "after ddl");

    // The schema history: the ALTER with its binlog position, in Debezium's layout.
    let records = read_topic(
        &history,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| {
            seen.iter().any(|(_, v)| {
                v["ddl"]
                    .as_str()
                    .is_some_and(|ddl| ddl.contains("ADD COLUMN note"))
            })
        }),
    )
    .await;
    let alter = records
        .iter()
        .map(|(_, v)| v)
        .find(|v| {
            v["ddl"]
                .as_str()
                .is_some_and(|d| d.contains("ADD COLUMN note"))
        })
        .expect("the ALTER in the history");
    assert_eq!(alter["source"]["server"], prefix.as_str());
    assert!(
        alter["ddl"].as_str().is_some_and(|d| d.contains(&database)),
        "{alter}"
    );
    assert!(alter["position"].is_object(), "{alter}");

    // The history topic as Debezium creates it: one partition, kept forever, not compacted.
    let inspector = ClusterInspector::new(&plain, Duration::from_secs(10)).unwrap();
    let info = inspector
        .topic(&history)
        .await
        .expect("history topic exists");
    assert_eq!(info.partitions.len(), 1);
    let configs = topic_configs(&plain, &history).await;
    let value = |name: &str| {
        configs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(value("cleanup.policy"), "delete");
    assert_eq!(value("retention.ms"), i64::MAX.to_string());
    assert_eq!(value("retention.bytes"), "-1");

    // A history bootstrap list of another cluster is refused at validation, naming the key.
    let other_prefix = unique_name("sasl_cdc_other");
    let mut other = cdc_config(&url, &other_prefix, &database);
    other[HISTORY_BOOTSTRAP] = json!("127.0.0.1:1");
    let body = json!({"name": "sasl-cdc-other", "config": other});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    let message = answer.to_string();
    assert!(message.contains(HISTORY_BOOTSTRAP), "{message}");
    assert!(message.contains("worker's bootstrap.servers"), "{message}");

    worker.stop().await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}
