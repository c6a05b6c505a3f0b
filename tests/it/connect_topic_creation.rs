//! Source topic creation (KIP-158) and `producer.override.*` against the real Kafka (whose
//! automatic topic creation is off): missing topics are created with their group's
//! partitions and configs, invalid values are per-key validation errors, overrides reach
//! the task's producer.

use std::time::Duration;

use futures::StreamExt;
use rdkafka::Message;
use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use rdkafka::consumer::{Consumer, StreamConsumer};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::connect_support::{
    ClusterNames, TestWorker, call, clients, temp_file, wait_for, wait_for_state,
};

const SOURCE: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";

async fn write_lines(path: &std::path::Path, prefix: &str, count: usize) -> Vec<String> {
    let lines: Vec<String> = (0..count).map(|i| format!("{prefix} {i}")).collect();
    tokio::fs::write(path, lines.join("\n") + "\n")
        .await
        .unwrap();
    lines
}

/// Waits until the worker created `topic` (auto-creation is off on the test cluster).
async fn wait_for_topic(clients: &broker_core::KafkaClients, topic: &str) {
    let inspector =
        broker_core::metadata::ClusterInspector::new(clients, Duration::from_secs(10)).unwrap();
    for _ in 0..300 {
        if inspector.topic(topic).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the worker did not create {topic} within 30 s");
}

/// Reads `count` records from the beginning of `topic` (all partitions).
async fn read_records(
    clients: &broker_core::KafkaClients,
    topic: &str,
    count: usize,
) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    wait_for_topic(clients, topic).await;
    let mut config = clients.consumer_config(&unique_name("creation_reader"));
    config.set("auto.offset.reset", "earliest");
    let consumer: StreamConsumer = broker_core::clients::create(&config, "reader").unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut stream = consumer.stream();
    let mut records = Vec::new();
    while records.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .unwrap_or_else(|_| panic!("{topic}: only {} records after 30 s", records.len()))
            .unwrap()
            .unwrap();
        records.push((
            message.key().map(<[u8]>::to_vec),
            message.payload().unwrap_or_default().to_vec(),
        ));
    }
    records
}

async fn partition_count(clients: &broker_core::KafkaClients, topic: &str) -> usize {
    let inspector =
        broker_core::metadata::ClusterInspector::new(clients, Duration::from_secs(10)).unwrap();
    inspector
        .topic(topic)
        .await
        .unwrap_or_else(|e| panic!("{topic} was not created: {e}"))
        .partitions
        .len()
}

async fn topic_config(clients: &broker_core::KafkaClients, topic: &str, name: &str) -> String {
    let admin = clients.admin().unwrap();
    let described = admin
        .describe_configs(
            &[ResourceSpecifier::Topic(topic)],
            &AdminOptions::new().request_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    let resource = described.into_iter().next().unwrap().unwrap();
    resource
        .get(name)
        .and_then(|entry| entry.value.clone())
        .unwrap_or_default()
}

fn errors_of(infos: &Value, key: &str) -> Vec<String> {
    infos["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == key)
        .map(|c| {
            c["value"]["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn missing_source_topics_are_created_with_their_group_settings() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let worker = TestWorker::start(&clients, &names).await;
    let compacted_topic = unique_name("connect_created_compacted");
    let default_topic = unique_name("connect_created_default");
    let compacted_input = temp_file("creation_compacted");
    let default_input = temp_file("creation_default");
    let compacted_lines = write_lines(&compacted_input, "keyed", 20).await;
    let default_lines = write_lines(&default_input, "plain", 15).await;
    let shared = json!({
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "3",
        "topic.creation.default.compression.type": "gzip",
        "topic.creation.groups": "compacted",
        "topic.creation.compacted.include": "connect_created_compacted_.*",
        "topic.creation.compacted.partitions": "2",
        "topic.creation.compacted.cleanup.policy": "compact",
    });
    // A compacted topic refuses records without a key: the SMTs give every line one.
    let mut compacted = json!({"connector.class": SOURCE, "file": compacted_input.to_string_lossy(), "topic": compacted_topic,
        "transforms": "hoist,key",
        "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value", "transforms.hoist.field": "line",
        "transforms.key.type": "org.apache.kafka.connect.transforms.ValueToKey", "transforms.key.fields": "line",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter", "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false"});
    let mut plain = json!({"connector.class": SOURCE, "file": default_input.to_string_lossy(), "topic": default_topic,
        "value.converter": "org.apache.kafka.connect.storage.StringConverter"});
    for config in [&mut compacted, &mut plain] {
        for (key, value) in shared.as_object().unwrap() {
            config[key] = value.clone();
        }
    }
    for (name, config) in [("compacted-source", compacted), ("default-source", plain)] {
        let body = json!({"name": name, "config": config});
        let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
        assert_eq!(status, 201, "{body}");
    }

    let records = read_records(&clients, &compacted_topic, compacted_lines.len()).await;
    let mut values: Vec<String> = records
        .iter()
        .map(|(key, value)| {
            let key: Value = serde_json::from_slice(key.as_deref().expect("keyed")).unwrap();
            let value: Value = serde_json::from_slice(value).unwrap();
            assert_eq!(key, value);
            value["line"].as_str().unwrap().to_owned()
        })
        .collect();
    values.sort();
    let mut expected = compacted_lines.clone();
    expected.sort();
    assert_eq!(values, expected);
    assert_eq!(partition_count(&clients, &compacted_topic).await, 2);
    assert_eq!(
        topic_config(&clients, &compacted_topic, "cleanup.policy").await,
        "compact"
    );

    let records = read_records(&clients, &default_topic, default_lines.len()).await;
    let mut values: Vec<String> = records
        .into_iter()
        .map(|(_, value)| String::from_utf8(value).unwrap())
        .collect();
    values.sort();
    let mut expected = default_lines.clone();
    expected.sort();
    assert_eq!(values, expected);
    assert_eq!(partition_count(&clients, &default_topic).await, 3);
    assert_eq!(
        topic_config(&clients, &default_topic, "compression.type").await,
        "gzip"
    );
    assert_eq!(
        topic_config(&clients, &default_topic, "cleanup.policy").await,
        "delete"
    );
    let (status, body) = call(
        Method::GET,
        &worker.url("/connectors/compacted-source/topics"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["compacted-source"]["topics"], json!([compacted_topic]));
    worker.stop().await;
    let _ = tokio::fs::remove_file(&compacted_input).await;
    let _ = tokio::fs::remove_file(&default_input).await;
}

#[tokio::test]
async fn invalid_topic_creation_and_override_values_are_per_key_errors() {
    let clients = clients().await;
    let worker = TestWorker::start(&clients, &ClusterNames::unique()).await;
    let url = worker.url("/connector-plugins/FileStreamSourceConnector/config/validate");
    let invalid = json!({"name": "bad-creation", "connector.class": SOURCE, "file": "/tmp/x", "topic": "t",
        "topic.creation.default.replication.factor": "0",
        "topic.creation.default.partitions": "many",
        "topic.creation.groups": "g",
        "topic.creation.g.include": "(unclosed",
        "topic.creation.g.partitions": "-5",
        "producer.override.compression.type": "brotli",
        "producer.override.linger.ms": "5"});
    let (status, infos) = call(Method::PUT, &url, Some(invalid.clone())).await;
    assert_eq!(status, 200, "{infos}");
    assert_eq!(infos["error_count"], 5, "{infos}");
    assert_eq!(
        errors_of(&infos, "topic.creation.default.replication.factor"),
        [
            "Invalid value 0 for configuration topic.creation.default.replication.factor: Replication factor must be positive and not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default"
        ]
    );
    assert_eq!(
        errors_of(&infos, "topic.creation.default.partitions"),
        [
            "Invalid value many for configuration topic.creation.default.partitions: Not a number of type INT"
        ]
    );
    assert_eq!(errors_of(&infos, "topic.creation.g.include").len(), 1);
    assert!(
        errors_of(&infos, "topic.creation.g.partitions")[0]
            .ends_with("Number of partitions must be positive, or -1 to use the broker's default")
    );
    let compression = errors_of(&infos, "producer.override.compression.type");
    assert!(
        compression[0].starts_with("Invalid value brotli for configuration compression.type"),
        "{compression:?}"
    );
    assert!(errors_of(&infos, "producer.override.linger.ms").is_empty());

    // Any topic.creation key makes the default group's two settings required.
    let (status, infos) = call(
        Method::PUT,
        &url,
        Some(json!({"name": "x", "connector.class": SOURCE, "file": "/tmp/x", "topic": "t", "topic.creation.groups": "g"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        errors_of(&infos, "topic.creation.default.partitions"),
        [
            "Missing required configuration \"topic.creation.default.partitions\" which has no default value."
        ]
    );
    assert_eq!(
        errors_of(&infos, "topic.creation.default.replication.factor").len(),
        1
    );

    // Creating, updating: 400 with Kafka's message, never a 500.
    let (status, body) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": "bad-creation", "config": invalid})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("contains the following 5 error(s)"),
        "{body}"
    );
    worker.stop().await;

    // Policy None refuses every override; topic.creation.enable=false ignores the keys.
    let mut config = ClusterNames::unique().config();
    config.override_policy = connect::OverridePolicy::None;
    config.topic_creation_enable = false;
    let worker = TestWorker::start_with(&clients, config).await;
    let (status, infos) = call(
        Method::PUT,
        &worker.url("/connector-plugins/FileStreamSourceConnector/config/validate"),
        Some(
            json!({"name": "x", "connector.class": SOURCE, "file": "/tmp/x", "topic": "t",
            "topic.creation.default.partitions": "0",
            "producer.override.acks": "1"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{infos}");
    assert_eq!(infos["error_count"], 1, "{infos}");
    assert_eq!(
        errors_of(&infos, "producer.override.acks"),
        ["The 'None' policy does not allow 'acks' to be overridden"]
    );
    worker.stop().await;
}

#[tokio::test]
async fn producer_overrides_reach_the_source_producer() {
    let clients = clients().await;
    let worker = TestWorker::start(&clients, &ClusterNames::unique()).await;
    let topic = unique_name("connect_override");
    create_topic(&clients, &topic, 1).await;
    let input = temp_file("override_in");
    let long_line = "x".repeat(5_000);
    tokio::fs::write(&input, format!("{long_line}\n"))
        .await
        .unwrap();
    let config = |overrides: Value| {
        let mut config = json!({"connector.class": SOURCE, "file": input.to_string_lossy(), "topic": topic,
            "value.converter": "org.apache.kafka.connect.storage.StringConverter"});
        for (key, value) in overrides.as_object().unwrap() {
            config[key] = value.clone();
        }
        config
    };
    // librdkafka's message.max.bytes (Java: max.request.size) of 1000 makes the task's
    // producer refuse the 5000-byte line; the worker's shared producer would take it.
    let limited = json!({"name": "limited-source", "config": config(json!({"producer.override.message.max.bytes": "1000",
        "producer.override.compression.type": "none"}))});
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(limited)).await;
    assert_eq!(status, 201, "{body}");
    let status = wait_for(
        &worker.url("/connectors/limited-source/status"),
        Duration::from_secs(45),
        |status, body| status == 200 && body["tasks"][0]["state"] == "FAILED",
    )
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert!(trace.to_lowercase().contains("too large"), "{trace}");

    let unlimited = json!({"name": "unlimited-source", "config": config(json!({"producer.override.linger.ms": "1"}))});
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(unlimited)).await;
    assert_eq!(status, 201, "{body}");
    wait_for_state(&worker, "unlimited-source", "RUNNING", 1).await;
    let records = read_records(&clients, &topic, 1).await;
    assert_eq!(records[0].1, long_line.as_bytes());
    worker.stop().await;
    let _ = tokio::fs::remove_file(&input).await;
}
