//! Kafka Connect's task metrics and the plugins' own metrics, scraped from the metrics
//! service over HTTP while real connectors move real records: exact counts, DLQ counts,
//! a restart that starts the counters from zero, and no stale series after a delete.

use std::time::Duration;

use rdkafka::producer::FutureRecord;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::connect_support::{
    ClusterNames, TestWorker, call, clients, metric_value, temp_file, wait_for_lines,
    wait_for_state,
};
use crate::es_sink_support::{
    create_connector, delete_index, keyed, plugins, produce, search_url, sink_config,
    wait_for_count,
};

const TIMEOUT: Duration = Duration::from_secs(60);

fn task(connector: &str) -> [(&str, &str); 2] {
    [("connector", connector), ("task", "0")]
}

/// Waits until every `(series, connector, value)` has exactly that value.
async fn wait_for_values(worker: &TestWorker, expected: &[(&str, &str, f64)]) -> String {
    worker
        .wait_for_metrics(TIMEOUT, |text| {
            expected.iter().all(|(name, connector, value)| {
                metric_value(text, name, &task(connector)) == Some(*value)
            })
        })
        .await
}

async fn post(worker: &TestWorker, body: Value) {
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
}

async fn delete(worker: &TestWorker, name: &str) {
    let (status, body) = call(
        Method::DELETE,
        &worker.url(&format!("/connectors/{name}")),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
}

fn fast_flush(names: &ClusterNames) -> connect::ValidatedConnect {
    let mut config = names.config();
    config.offset_flush_interval = Duration::from_millis(500);
    config
}

#[tokio::test]
async fn file_pipeline_counts_exactly_the_records_moved() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let topic = unique_name("task_metrics");
    create_topic(&clients, &topic, 1).await;
    let input = temp_file("task_metrics_in");
    let output = temp_file("task_metrics_out");
    let lines: Vec<String> = (0..50).map(|i| format!("line {i}")).collect();
    tokio::fs::write(&input, lines.join("\n") + "\n")
        .await
        .unwrap();
    let worker = TestWorker::start_with(&clients, fast_flush(&names)).await;
    let source = unique_name("src");
    let sink = unique_name("sink");
    post(
        &worker,
        json!({"name": source, "config": {"connector.class": "FileStreamSource",
        "file": input.to_string_lossy(), "topic": topic, "batch.size": "20"}}),
    )
    .await;
    post(
        &worker,
        json!({"name": sink, "config": {"connector.class": "FileStreamSink",
        "file": output.to_string_lossy(), "topics": topic}}),
    )
    .await;
    wait_for_state(&worker, &source, "RUNNING", 1).await;
    wait_for_state(&worker, &sink, "RUNNING", 1).await;
    wait_for_lines(&output, &lines, TIMEOUT).await;

    let text = wait_for_values(
        &worker,
        &[
            (
                "kafka_connect_source_task_source_record_poll_total",
                &source,
                50.0,
            ),
            (
                "kafka_connect_source_task_source_record_write_total",
                &source,
                50.0,
            ),
            (
                "kafka_connect_source_task_source_record_active_count",
                &source,
                0.0,
            ),
            (
                "kafka_connect_sink_task_sink_record_read_total",
                &sink,
                50.0,
            ),
            (
                "kafka_connect_sink_task_sink_record_send_total",
                &sink,
                50.0,
            ),
            (
                "kafka_connect_sink_task_sink_record_active_count",
                &sink,
                0.0,
            ),
            ("kafka_connect_sink_task_partition_count", &sink, 1.0),
            (
                "kafka_connect_connector_task_offset_commit_success_percentage",
                &sink,
                1.0,
            ),
            ("kafka_connect_task_error_total_record_failures", &sink, 0.0),
            (
                "kafka_connect_task_error_total_record_failures",
                &source,
                0.0,
            ),
            (
                "kafka_connect_task_error_deadletterqueue_produce_requests",
                &sink,
                0.0,
            ),
        ],
    )
    .await;
    for (name, connector) in [
        (
            "kafka_connect_sink_task_offset_commit_completion_total",
            &sink,
        ),
        ("kafka_connect_sink_task_put_batch_max_time_ms", &sink),
        ("kafka_connect_source_task_poll_batch_avg_time_ms", &source),
        ("kafka_connect_connector_task_batch_size_max", &source),
    ] {
        let value = metric_value(&text, name, &task(connector));
        assert!(
            value.is_some_and(|v| v >= 0.0 && v.is_finite()),
            "{name}: {value:?}\n{text}"
        );
    }
    assert!(
        metric_value(
            &text,
            "kafka_connect_connector_task_batch_size_max",
            &task(&source)
        )
        .is_some_and(|max| max <= 20.0),
        "batch.size=20 caps the polled batches:\n{text}"
    );
    assert!(
        !text.contains(&format!(
            "kafka_connect_sink_task_sink_record_read_total{{connector=\"{source}\""
        )),
        "a source task has no sink-task-metrics"
    );

    // A restarted task starts from zero; the file source resumes after the stored offset.
    let (status, body) = call(
        Method::POST,
        &worker.url(&format!("/connectors/{source}/tasks/0/restart")),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    wait_for_values(
        &worker,
        &[(
            "kafka_connect_source_task_source_record_poll_total",
            &source,
            0.0,
        )],
    )
    .await;
    let more: Vec<String> = (50..55).map(|i| format!("line {i}")).collect();
    let all: Vec<String> = lines.iter().chain(&more).cloned().collect();
    tokio::fs::write(&input, all.join("\n") + "\n")
        .await
        .unwrap();
    wait_for_lines(&output, &all, TIMEOUT).await;
    wait_for_values(
        &worker,
        &[
            (
                "kafka_connect_source_task_source_record_poll_total",
                &source,
                5.0,
            ),
            (
                "kafka_connect_source_task_source_record_write_total",
                &source,
                5.0,
            ),
            (
                "kafka_connect_sink_task_sink_record_send_total",
                &sink,
                55.0,
            ),
        ],
    )
    .await;

    delete(&worker, &source).await;
    delete(&worker, &sink).await;
    let text = worker
        .wait_for_metrics(TIMEOUT, |text| {
            !text.contains(&format!("connector=\"{source}\""))
                && !text.contains(&format!("connector=\"{sink}\""))
        })
        .await;
    assert!(
        !text.contains("kafka_connect_source_task_"),
        "no stale series:\n{text}"
    );
    worker.stop().await;
    let _ = tokio::fs::remove_file(&input).await;
    let _ = tokio::fs::remove_file(&output).await;
}

#[tokio::test]
async fn tolerated_bad_records_are_counted_in_the_task_error_metrics() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let topic = unique_name("task_metrics_dlq_in");
    let dlq = unique_name("task_metrics_dlq");
    create_topic(&clients, &topic, 1).await;
    let producer = clients.producer().unwrap();
    for payload in ["{\"a\":1}", "not json", "{\"a\":2}", "{broken", "{\"a\":3}"] {
        producer
            .send(
                FutureRecord::<(), str>::to(&topic).payload(payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    let output = temp_file("task_metrics_dlq_out");
    let worker = TestWorker::start_with(&clients, fast_flush(&names)).await;
    let sink = unique_name("dlq_sink");
    post(
        &worker,
        json!({"name": sink, "config": {"connector.class": "FileStreamSink",
        "file": output.to_string_lossy(), "topics": topic,
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "errors.tolerance": "all", "errors.log.enable": "true",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1"}}),
    )
    .await;
    let before = integration_tests_now_ms();
    let text = wait_for_values(
        &worker,
        &[
            ("kafka_connect_sink_task_sink_record_read_total", &sink, 5.0),
            ("kafka_connect_sink_task_sink_record_send_total", &sink, 3.0),
            ("kafka_connect_task_error_total_record_failures", &sink, 2.0),
            ("kafka_connect_task_error_total_record_errors", &sink, 2.0),
            ("kafka_connect_task_error_total_records_skipped", &sink, 2.0),
            ("kafka_connect_task_error_total_errors_logged", &sink, 2.0),
            (
                "kafka_connect_task_error_deadletterqueue_produce_requests",
                &sink,
                2.0,
            ),
            (
                "kafka_connect_task_error_deadletterqueue_produce_failures",
                &sink,
                0.0,
            ),
            ("kafka_connect_task_error_total_retries", &sink, 0.0),
        ],
    )
    .await;
    let last_error = metric_value(
        &text,
        "kafka_connect_task_error_last_error_timestamp",
        &task(&sink),
    )
    .expect("last error timestamp");
    assert!(
        last_error >= before as f64 - 120_000.0 && last_error <= integration_tests_now_ms() as f64,
        "epoch ms of the last error: {last_error}"
    );
    delete(&worker, &sink).await;
    worker
        .wait_for_metrics(TIMEOUT, |text| {
            !text.contains(&format!("connector=\"{sink}\""))
        })
        .await;
    worker.stop().await;
    let _ = tokio::fs::remove_file(&output).await;
}

fn integration_tests_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[tokio::test]
async fn elasticsearch_sink_counters_are_exported_per_task() {
    let clients = clients().await;
    let search = search_url().await;
    let names = ClusterNames::unique();
    let topic = unique_name("es_task_metrics");
    create_topic(&clients, &topic, 1).await;
    let mut records: Vec<(&str, Value)> = Vec::new();
    let ids: Vec<String> = (0..20).map(|i| format!("doc-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        records.push((id.as_str(), json!({"i": i})));
    }
    records.push(("doc-0", Value::Null));
    produce(&clients, &topic, &keyed(&records)).await;
    let worker = TestWorker::start_with_plugins(&clients, fast_flush(&names), plugins()).await;
    let name = unique_name("es_metrics");
    create_connector(
        &worker,
        &name,
        sink_config(
            &search,
            &topic,
            &json!({"key.ignore": "false",
            "behavior.on.null.values": "delete"}),
        ),
    )
    .await;
    wait_for_count(&search, &topic, 19, TIMEOUT).await;
    let text = wait_for_values(
        &worker,
        &[
            ("elasticsearch_sink_documents_indexed_total", &name, 20.0),
            ("elasticsearch_sink_documents_deleted_total", &name, 1.0),
            ("elasticsearch_sink_documents_malformed_total", &name, 0.0),
            ("elasticsearch_sink_version_conflicts_total", &name, 0.0),
            (
                "kafka_connect_sink_task_sink_record_send_total",
                &name,
                21.0,
            ),
            (
                "kafka_connect_sink_task_sink_record_active_count",
                &name,
                0.0,
            ),
        ],
    )
    .await;
    let bulk = metric_value(
        &text,
        "elasticsearch_sink_bulk_requests_total",
        &task(&name),
    );
    assert!(
        bulk.is_some_and(|b| b >= 1.0),
        "bulk requests: {bulk:?}\n{text}"
    );
    assert!(
        text.contains("# TYPE elasticsearch_sink_documents_indexed_total counter"),
        "plugin counters are counters:\n{text}"
    );
    delete(&worker, &name).await;
    worker
        .wait_for_metrics(TIMEOUT, |text| {
            !text.contains("elasticsearch_sink_documents_indexed_total{")
        })
        .await;
    worker.stop().await;
    delete_index(&search, &topic).await;
}
