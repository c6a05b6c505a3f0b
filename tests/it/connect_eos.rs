//! Per-connector exactly-once settings (KIP-618) against the real Kafka:
//! `exactly.once.support`, `transaction.boundary` and `offsets.storage.topic`.

use std::time::Duration;

use futures::StreamExt;
use rdkafka::Message;
use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::connect_support::{ClusterNames, TestWorker, call, clients, temp_file, wait_for_state};

const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";

fn read_committed(clients: &broker_core::KafkaClients, topic: &str) -> StreamConsumer {
    let mut config = clients.consumer_config(&unique_name("eos_reader"));
    config
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest");
    let consumer: StreamConsumer = broker_core::clients::create(&config, "reader").unwrap();
    consumer.subscribe(&[topic]).unwrap();
    consumer
}

/// Reads exactly `count` committed records (key, value), then checks that no further one
/// arrives for a while: a duplicate would.
async fn read_exactly(consumer: &StreamConsumer, count: usize) -> Vec<(Option<String>, String)> {
    let mut stream = consumer.stream();
    let mut received = Vec::new();
    while received.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(45), stream.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} committed records", received.len()))
            .unwrap()
            .unwrap();
        received.push((
            message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned()),
            String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned(),
        ));
    }
    if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_secs(3), stream.next()).await {
        let extra = extra.unwrap();
        panic!(
            "a record beyond the {count} expected: {:?}",
            extra.payload().map(String::from_utf8_lossy)
        );
    }
    received
}

async fn write_lines(path: &std::path::Path, lines: &[String]) {
    tokio::fs::write(path, lines.join("\n") + "\n")
        .await
        .unwrap();
}

fn file_source(name: &str, file: &std::path::Path, topic: &str, extra: Value) -> Value {
    let mut config = json!({"name": name, "connector.class": "FileStreamSource", "file": file.to_string_lossy(),
        "topic": topic, "value.converter": STRING_CONVERTER});
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    json!({"name": name, "config": config})
}

fn errors_of<'a>(infos: &'a Value, key: &str) -> Vec<&'a str> {
    infos["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == key)
        .unwrap_or_else(|| panic!("{key} is not in {infos}"))["value"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn required_on_an_at_least_once_worker_is_a_per_key_error() {
    let clients = clients().await;
    let worker = TestWorker::start(&clients, &ClusterNames::unique()).await;
    let topic = unique_name("connect_eos_alo");
    create_topic(&clients, &topic, 1).await;
    let input = temp_file("connect_eos_alo");
    write_lines(&input, &["one".to_owned(), "two".to_owned()]).await;
    let validate = worker.url("/connector-plugins/FileStreamSourceConnector/config/validate");
    let required = file_source(
        "required",
        &input,
        &topic,
        json!({"exactly.once.support": "required"}),
    );

    let (status, infos) = call(Method::PUT, &validate, Some(required["config"].clone())).await;
    assert_eq!(status, 200, "{infos}");
    assert_eq!(infos["error_count"], 1, "{infos}");
    assert_eq!(
        errors_of(&infos, "exactly.once.support"),
        ["This worker does not have exactly-once source support enabled."]
    );
    let definition = infos["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "exactly.once.support")
        .unwrap();
    assert_eq!(definition["definition"]["default_value"], "requested");
    assert_eq!(definition["definition"]["group"], "Exactly Once Support");

    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(required)).await;
    assert_eq!(status, 400, "{body}");
    // Kafka's message lists the errors (the keys are in the validate answer above).
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Connector configuration is invalid and contains the following 1 error(s):\nThis worker does not have exactly-once source support enabled."),
        "{message}"
    );
    let (status, _) = call(Method::GET, &worker.url("/connectors/required"), None).await;
    assert_eq!(status, 404, "a refused connector is not created");

    // `connector` boundaries: no plugin of ours defines them.
    let connector_boundary = file_source(
        "boundary",
        &input,
        &topic,
        json!({"transaction.boundary": "connector"}),
    );
    let (status, infos) = call(
        Method::PUT,
        &validate,
        Some(connector_boundary["config"].clone()),
    )
    .await;
    assert_eq!(status, 200, "{infos}");
    assert_eq!(
        errors_of(&infos, "transaction.boundary"),
        [
            "The connector does not support connector-defined transaction boundaries with the given configuration. Please reconfigure it to use a different transaction boundary definition."
        ]
    );
    let (status, body) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(connector_boundary),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // A value outside the enum is the ConfigDef's error, in Kafka's words.
    let typo = file_source(
        "typo",
        &input,
        &topic,
        json!({"transaction.boundary": "batch"}),
    );
    let (_, infos) = call(Method::PUT, &validate, Some(typo["config"].clone())).await;
    assert_eq!(
        errors_of(&infos, "transaction.boundary"),
        [
            "Invalid value batch for configuration transaction.boundary: String must be one of (case insensitive): INTERVAL, POLL, CONNECTOR"
        ]
    );

    // `requested` on this worker just runs at-least-once, its offsets in its own topic.
    let offsets_topic = unique_name("connect_eos_alo_offsets");
    let requested = file_source(
        "requested",
        &input,
        &topic,
        json!({"exactly.once.support": "requested", "offsets.storage.topic": offsets_topic}),
    );
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(requested)).await;
    assert_eq!(status, 201, "{body}");
    wait_for_state(&worker, "requested", "RUNNING", 1).await;
    let consumer = read_committed(&clients, &topic);
    let values: Vec<String> = read_exactly(&consumer, 2)
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values, ["one", "two"]);
    let offsets = read_committed(&clients, &offsets_topic);
    let (key, value) = read_exactly(&offsets, 1).await.remove(0);
    let expected_key = json!(["requested", {"filename": input.to_string_lossy()}]).to_string();
    assert_eq!(key.as_deref(), Some(expected_key.as_str()));
    assert_eq!(value, r#"{"position":8}"#);
    worker.stop().await;
    let _ = tokio::fs::remove_file(&input).await;
}

fn exactly_once_worker_config(names: &ClusterNames) -> connect::ValidatedConnect {
    let mut config = names.config();
    config.exactly_once_source = true;
    config
}

#[tokio::test]
async fn required_on_an_exactly_once_worker_delivers_every_line_once() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let worker = TestWorker::start_with(&clients, exactly_once_worker_config(&names)).await;
    let topic = unique_name("connect_eos_required");
    create_topic(&clients, &topic, 1).await;
    let input = temp_file("connect_eos_required");
    let lines: Vec<String> = (0..60).map(|i| format!("required {i}")).collect();
    write_lines(&input, &lines).await;
    let source = file_source(
        "required",
        &input,
        &topic,
        json!({"exactly.once.support": "required", "batch.size": "9"}),
    );
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(source)).await;
    assert_eq!(status, 201, "{body}");
    let consumer = read_committed(&clients, &topic);
    let values: Vec<String> = read_exactly(&consumer, lines.len())
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values, lines);
    worker.stop().await;
    let _ = tokio::fs::remove_file(&input).await;
}

/// Committed transactions leave one control record per partition in the log, so on a
/// one-partition topic `high watermark − records` counts the transactions.
async fn transactions_in(clients: &broker_core::KafkaClients, topic: &str, records: i64) -> i64 {
    let consumer: StreamConsumer = clients.consumer(&unique_name("eos_watermarks")).unwrap();
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .unwrap();
    high - records
}

#[tokio::test]
async fn interval_boundary_commits_several_polls_in_one_transaction() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let worker = TestWorker::start_with(&clients, exactly_once_worker_config(&names)).await;
    let lines: Vec<String> = (0..40).map(|i| format!("interval {i}")).collect();
    let lines_count = i64::try_from(lines.len()).unwrap();
    // `batch.size=1`: every poll returns one line, so `poll` makes one transaction per line.
    let mut transactions = Vec::new();
    for (name, boundary) in [
        ("per-poll", json!({"transaction.boundary": "poll"})),
        (
            "per-interval",
            json!({"transaction.boundary": "interval", "transaction.boundary.interval.ms": "3000"}),
        ),
    ] {
        let topic = unique_name("connect_eos_boundary");
        create_topic(&clients, &topic, 1).await;
        let input = temp_file("connect_eos_boundary");
        write_lines(&input, &lines).await;
        let mut extra = boundary;
        extra["batch.size"] = json!("1");
        let source = file_source(name, &input, &topic, extra);
        let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(source)).await;
        assert_eq!(status, 201, "{body}");
        let consumer = read_committed(&clients, &topic);
        let values: Vec<String> = read_exactly(&consumer, lines.len())
            .await
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(values, lines, "{name}");
        transactions.push(transactions_in(&clients, &topic, lines_count).await);
        let _ = tokio::fs::remove_file(&input).await;
    }
    assert_eq!(transactions[0], lines_count, "one transaction per poll");
    // All 40 polls take far less than 3 s, so one or two transactions hold them all.
    assert!(
        (1..=4).contains(&transactions[1]),
        "{} transactions for 40 polls with a 3 s interval",
        transactions[1]
    );
    worker.stop().await;
}

#[tokio::test]
async fn connector_offsets_topic_holds_the_offsets_and_wins_after_a_restart() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let topic = unique_name("connect_eos_own");
    create_topic(&clients, &topic, 1).await;
    let offsets_topic = unique_name("connect_eos_own_offsets");
    let input = temp_file("connect_eos_own");
    let first: Vec<String> = (0..30).map(|i| format!("own {i}")).collect();
    write_lines(&input, &first).await;
    let worker = TestWorker::start_with(&clients, exactly_once_worker_config(&names)).await;
    let source = file_source(
        "own-offsets",
        &input,
        &topic,
        json!({"exactly.once.support": "required", "batch.size": "7",
            "offsets.storage.topic": offsets_topic}),
    );
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(source)).await;
    assert_eq!(status, 201, "{body}");
    let consumer = read_committed(&clients, &topic);
    read_exactly(&consumer, first.len()).await;
    worker.stop().await;

    // The topic was created like the worker's offsets topic: 5 partitions, compacted.
    let metadata = clients
        .consumer(&unique_name("eos_meta"))
        .unwrap()
        .fetch_metadata(Some(&offsets_topic), Duration::from_secs(10))
        .unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 5);
    let described = clients
        .admin()
        .unwrap()
        .describe_configs(
            &[ResourceSpecifier::Topic(&offsets_topic)],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    let resource = described.into_iter().next().unwrap().unwrap();
    assert_eq!(
        resource
            .get("cleanup.policy")
            .and_then(|e| e.value.as_deref()),
        Some("compact")
    );

    // Kafka Connect's key format; the offset is the byte after the last line.
    let expected_key = json!(["own-offsets", {"filename": input.to_string_lossy()}]).to_string();
    let expected_position = first.iter().map(|l| l.len() + 1).sum::<usize>();
    let offsets_reader = read_committed(&clients, &offsets_topic);
    let mut stream = offsets_reader.stream();
    let mut last = None;
    while last != Some(expected_position) {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .unwrap_or_else(|_| panic!("no offset {expected_position} in {offsets_topic}"))
            .unwrap()
            .unwrap();
        assert_eq!(
            message.key().map(String::from_utf8_lossy).as_deref(),
            Some(expected_key.as_str())
        );
        let value: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        last = value["position"]
            .as_u64()
            .and_then(|p| usize::try_from(p).ok());
    }

    // An older offset in the worker's topic must not win over the connector topic's.
    let producer = clients.producer().unwrap();
    producer
        .send(
            FutureRecord::to(&names.offsets)
                .key(expected_key.as_str())
                .payload(r#"{"position":0}"#),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let more: Vec<String> = (30..45).map(|i| format!("own {i}")).collect();
    let mut all = first.clone();
    all.extend(more.iter().cloned());
    write_lines(&input, &all).await;
    let worker = TestWorker::start_with(&clients, exactly_once_worker_config(&names)).await;
    wait_for_state(&worker, "own-offsets", "RUNNING", 1).await;
    let from_start = read_committed(&clients, &topic);
    let values: Vec<String> = read_exactly(&from_start, all.len())
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        values, all,
        "resumed from the connector topic: no line twice"
    );
    worker.stop().await;
    let _ = tokio::fs::remove_file(&input).await;
}
