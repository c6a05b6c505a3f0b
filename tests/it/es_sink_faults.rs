//! Faults the real OpenSearch produces itself, on the fault-test node (`opensearch-faults`:
//! one write thread with a queue of one, `http.max_content_length=1mb`):
//! - concurrent bulk load from one task gets real `es_rejected_execution_exception` items
//!   (429); the sink retries them until every record is indexed exactly once;
//! - a record bigger than `http.max_content_length` gets the real 413; the task fails with a
//!   trace that names the record and the limit, and commits no offset past it.
//!
//! Mapping conflicts under each `behavior.on.malformed.documents` and the DLQ are in
//! `es_sink_options`; external-version conflicts in `es_sink_compat`.

use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use tests::{create_topic, http_client, unique_name};

use crate::connect_support::{ClusterNames, clients};
use crate::es_sink_support::{
    FAULTS_NODE, committed_offset, create_connector, delete_index, documents, faults_url, payload,
    produce, sink_config, start_worker, wait_for_count, wait_for_es_counter, wait_for_task,
    write_rejections,
};

const RECORDS: u64 = 10_000;

/// Creates `index` with one shard, so every bulk request queues on the same write thread.
async fn create_index(search: &str, index: &str, mappings: &Value) {
    let created = http_client()
        .put(format!("{search}/{index}"))
        .json(&json!({"settings": {"number_of_shards": 1}, "mappings": mappings}))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn write_queue_rejections_are_retried_until_every_record_is_indexed_once() {
    let _node = FAULTS_NODE.lock().await;
    let clients = clients().await;
    let search = faults_url().await;
    let topic = unique_name("es_sink_rejections");
    create_topic(&clients, &topic, 1).await;
    create_index(&search, &topic, &json!({})).await;
    let records: Vec<_> = (0..RECORDS)
        .map(|i| (Some(format!("doc-{i}")), Some(payload(i, 256))))
        .collect();
    produce(&clients, &topic, &records).await;
    let rejected_before = write_rejections(&search).await;

    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let name = unique_name("es-rejections");
    let started = Instant::now();
    // Five lanes of 100-action requests against one write thread with a queue of one.
    create_connector(
        &worker,
        &name,
        sink_config(
            &search,
            &topic,
            &json!({"batch.size": "100", "max.in.flight.requests": "5",
                "bulk.size.bytes": "262144", "retry.backoff.ms": "50", "linger.ms": "1"}),
        ),
    )
    .await;
    wait_for_count(&search, &topic, RECORDS, Duration::from_secs(240)).await;
    let elapsed = started.elapsed();

    let rejected = write_rejections(&search).await - rejected_before;
    assert!(
        rejected > 0,
        "the node rejected no write: the load did not saturate its write queue"
    );
    let items_retried = wait_for_es_counter(&worker, &name, "items_retried", |_| true).await;
    let requests_retried = wait_for_es_counter(&worker, &name, "requests_retried", |_| true).await;
    assert!(
        items_retried > 0.0,
        "the node rejected {rejected} writes, the sink retried no item (requests retried: {requests_retried})"
    );
    let indexed =
        wait_for_es_counter(&worker, &name, "documents_indexed", |v| v >= RECORDS as f64).await;
    let docs = documents(&search, &topic).await;
    assert_eq!(docs.len() as u64, RECORDS, "every record once, by id");
    for i in 0..RECORDS {
        assert_eq!(docs[&format!("doc-{i}")]["i"], i, "doc-{i}");
    }
    assert_eq!(
        wait_for_task(&worker, &name, "RUNNING").await["tasks"][0]["state"],
        "RUNNING"
    );
    println!(
        "write rejections: node rejected {rejected} shard writes; sink retried {items_retried} items \
         and {requests_retried} requests; {indexed} documents indexed for {RECORDS} records \
         ({} re-indexed); all {RECORDS} in the index once, in {elapsed:?}",
        indexed - RECORDS as f64
    );
    worker.stop().await;
    delete_index(&search, &topic).await;
}

#[tokio::test]
async fn a_record_over_the_http_content_limit_fails_the_task_with_a_clear_trace() {
    let _node = FAULTS_NODE.lock().await;
    let clients = clients().await;
    let search = faults_url().await;
    let topic = unique_name("es_sink_too_large");
    create_topic(&clients, &topic, 1).await;
    produce(
        &clients,
        &topic,
        &[(Some("small-0".to_owned()), Some(payload(0, 200)))],
    )
    .await;
    // 1.5 MB of JSON: over the node's 1 MB http.max_content_length. Kafka takes it gzipped.
    let producer: FutureProducer = clients
        .producer_config()
        .set("compression.type", "gzip")
        .set("message.max.bytes", "4000000")
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to(&topic)
                .partition(0)
                .key("big-1")
                .payload(&payload(1, 1_500_000)),
            Duration::from_secs(30),
        )
        .await
        .map_err(|(error, _)| error)
        .unwrap();
    produce(
        &clients,
        &topic,
        &[(Some("small-2".to_owned()), Some(payload(2, 200)))],
    )
    .await;

    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    // The whole request is refused, not an item: as in Confluent's connector, the task fails
    // even with errors.tolerance=all and a dead letter queue.
    let plain = unique_name("es-too-large");
    let with_dlq = unique_name("es-too-large-dlq");
    for (name, extra) in [
        (&plain, json!({})),
        (
            &with_dlq,
            json!({"errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": unique_name("es_sink_too_large_dlq"),
                "behavior.on.malformed.documents": "warn"}),
        ),
    ] {
        let mut config = sink_config(
            &search,
            &topic,
            &json!({"bulk.size.bytes": "65536", "max.in.flight.requests": "1"}),
        );
        if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
            config.extend(extra.clone());
        }
        create_connector(&worker, name, config).await;
    }
    for name in [&plain, &with_dlq] {
        let status = wait_for_task(&worker, name, "FAILED").await;
        let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
        println!("413 trace ({name}): {trace}");
        assert!(trace.contains("413"), "{trace}");
        assert!(trace.contains("http.max_content_length"), "{trace}");
        assert!(
            trace.contains(&format!("{topic}-0@1")),
            "names the record: {trace}"
        );
        let group = connect::worker::sink::group_of(name);
        let committed = committed_offset(&clients, &group, &topic, 0).await;
        assert!(
            committed.is_none_or(|offset| offset <= 1),
            "offset {committed:?} committed past the refused record"
        );
    }
    let docs = documents(&search, &topic).await;
    assert!(!docs.contains_key("big-1"), "{:?}", docs.keys());
    worker.stop().await;
    delete_index(&search, &topic).await;
}
