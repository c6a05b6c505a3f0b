//! File source → Kafka → file sink, end to end, across a worker restart; and the DLQ.

use std::time::Duration;

use futures::StreamExt;
use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::message::Headers;
use rdkafka::producer::FutureRecord;
use reqwest::Method;
use serde_json::json;
use tests::{create_topic, unique_name};

use crate::connect_support::{
    ClusterNames, TestWorker, call, clients, temp_file, wait_for_lines, wait_for_state,
};

#[tokio::test]
async fn file_source_to_file_sink_survives_a_worker_restart() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let topic = unique_name("connect_pipeline");
    create_topic(&clients, &topic, 3).await;
    let input = temp_file("connect_in");
    let output = temp_file("connect_out");
    let first: Vec<String> = (0..200).map(|i| format!("line {i} ünïcode")).collect();
    tokio::fs::write(&input, first.join("\n") + "\n")
        .await
        .unwrap();

    let worker = TestWorker::start(&clients, &names).await;
    let source = json!({"name": "file-source", "config": {"connector.class": "FileStreamSource", "file": input.to_string_lossy(),
        "topic": topic, "batch.size": "50"}});
    // One partition keeps the order the file sink writes in equal to the file's.
    let sink = json!({"name": "file-sink", "config": {"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "file": output.to_string_lossy(), "topics": topic, "tasks.max": "1",
        "transforms": "route", "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "(.*)", "transforms.route.replacement": "renamed-$1"}});
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(source)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(sink)).await;
    assert_eq!(status, 201, "{body}");
    wait_for_state(&worker, "file-source", "RUNNING", 1).await;
    wait_for_state(&worker, "file-sink", "RUNNING", 1).await;
    let mut expected = first.clone();
    expected.sort();
    wait_for_sorted_lines(&output, &expected).await;
    worker.stop().await;

    // Lines appended while no worker runs are picked up by a new worker from the stored
    // source offsets and committed sink offsets: nothing lost, nothing twice.
    let more: Vec<String> = (200..260).map(|i| format!("line {i}")).collect();
    let mut all = first.clone();
    all.extend(more.iter().cloned());
    tokio::fs::write(&input, all.join("\n") + "\n")
        .await
        .unwrap();
    let worker = TestWorker::start(&clients, &names).await;
    wait_for_state(&worker, "file-sink", "RUNNING", 1).await;
    let mut expected = all.clone();
    expected.sort();
    wait_for_sorted_lines(&output, &expected).await;
    worker.stop().await;
    let _ = tokio::fs::remove_file(&input).await;
    let _ = tokio::fs::remove_file(&output).await;
}

/// The topic has three partitions, so lines arrive in per-partition order; compare sorted.
async fn wait_for_sorted_lines(path: &std::path::Path, expected: &[String]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let text = tokio::fs::read_to_string(path).await.unwrap_or_default();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= expected.len() {
            lines.sort();
            assert_eq!(lines, expected, "sink file holds every line exactly once");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sink file has {} of {} lines",
            lines.len(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn bad_records_go_to_the_dead_letter_queue_with_context_headers() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let topic = unique_name("connect_dlq_in");
    let dlq = unique_name("connect_dlq");
    create_topic(&clients, &topic, 1).await;
    create_topic(&clients, &dlq, 1).await;
    let producer = clients.producer().unwrap();
    for payload in [
        r#"{"schema":{"type":"string","optional":false},"payload":"good 1"}"#,
        "not json",
        r#"{"schema":{"type":"string","optional":false},"payload":"good 2"}"#,
    ] {
        producer
            .send(
                FutureRecord::<str, str>::to(&topic).payload(payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let output = temp_file("connect_dlq_out");
    let worker = TestWorker::start(&clients, &names).await;
    let sink = json!({"name": "dlq-sink", "config": {"connector.class": "FileStreamSink", "file": output.to_string_lossy(), "topics": topic,
        "value.converter": "org.apache.kafka.connect.json.JsonConverter", "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq, "errors.deadletterqueue.context.headers.enable": "true", "errors.log.enable": "true"}});
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(sink)).await;
    assert_eq!(status, 201, "{body}");
    wait_for_lines(
        &output,
        &["good 1".to_owned(), "good 2".to_owned()],
        Duration::from_secs(60),
    )
    .await;

    let consumer = clients.consumer(&unique_name("dlq_reader")).unwrap();
    consumer.subscribe(&[&dlq]).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.stream().next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(message.payload(), Some(&b"not json"[..]));
    let headers = message.headers().unwrap();
    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(
        header("__connect.errors.topic").as_deref(),
        Some(topic.as_str())
    );
    assert_eq!(header("__connect.errors.offset").as_deref(), Some("1"));
    assert_eq!(
        header("__connect.errors.stage").as_deref(),
        Some("VALUE_CONVERTER")
    );
    assert_eq!(
        header("__connect.errors.connector.name").as_deref(),
        Some("dlq-sink")
    );
    assert!(header("__connect.errors.exception.message").is_some());
    worker.stop().await;
    let _ = tokio::fs::remove_file(&output).await;
}

#[tokio::test]
async fn exactly_once_source_writes_records_and_offsets_in_transactions() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let mut config = names.config();
    config.exactly_once_source = true;
    let worker = TestWorker::start_with(&clients, config).await;
    let topic = unique_name("connect_eos");
    create_topic(&clients, &topic, 1).await;
    let input = temp_file("connect_eos");
    let lines: Vec<String> = (0..50).map(|i| format!("eos {i}")).collect();
    tokio::fs::write(&input, lines.join("\n") + "\n")
        .await
        .unwrap();
    let source = json!({"name": "eos-source", "config": {"connector.class": "FileStreamSource", "file": input.to_string_lossy(),
        "topic": topic, "batch.size": "7", "value.converter": "org.apache.kafka.connect.storage.StringConverter"}});
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(source)).await;
    assert_eq!(status, 201, "{body}");

    let mut consumer_config = clients.consumer_config(&unique_name("eos_reader"));
    consumer_config.set("isolation.level", "read_committed");
    let consumer: rdkafka::consumer::StreamConsumer =
        broker_core::clients::create(&consumer_config, "reader").unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let mut stream = consumer.stream();
    let mut received = Vec::new();
    while received.len() < lines.len() {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .unwrap_or_else(|_| panic!("only {} committed records after 30 s", received.len()))
            .unwrap()
            .unwrap();
        received.push(String::from_utf8(message.payload().unwrap().to_vec()).unwrap());
    }
    assert_eq!(received, lines);
    let expected_position = lines.iter().map(|l| l.len() + 1).sum::<usize>();
    crate::connect_support::wait_for(
        &worker.url("/connectors/eos-source/offsets"),
        Duration::from_secs(30),
        |s, b| s == 200 && b["offsets"][0]["offset"]["position"] == expected_position,
    )
    .await;
    worker.stop().await;
    let _ = tokio::fs::remove_file(&input).await;
}

/// A source writing to a topic that does not exist (auto-creation is off on the test
/// cluster, and no `topic.creation.*` is set) fails its task with a trace naming the
/// topic, instead of staying RUNNING while nothing is delivered.
#[tokio::test]
async fn source_to_a_missing_topic_fails_with_a_trace_naming_it() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let topic = unique_name("connect_missing");
    let input = temp_file("connect_missing_in");
    tokio::fs::write(&input, "one\ntwo\n").await.unwrap();
    let worker = TestWorker::start(&clients, &names).await;
    let source = json!({"name": "lost", "config": {"connector.class": "FileStreamSource",
        "file": input.to_string_lossy(), "topic": topic}});
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(source)).await;
    assert_eq!(status, 201, "{body}");
    let status = crate::connect_support::wait_for(
        &worker.url("/connectors/lost/status"),
        Duration::from_secs(90),
        |code, body| code == 200 && body["tasks"][0]["state"] == "FAILED",
    )
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains(&topic), "{trace}");
    worker.stop().await;
}
