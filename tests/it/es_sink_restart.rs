//! The fault-test OpenSearch **process** stopped (`scripts/services down opensearch-faults`)
//! for a minute in the middle of a sink run, while records keep arriving, then started again.
//! While it is down, the connector's committed offset never passes the documents OpenSearch
//! acknowledged; afterwards every record is in the index exactly once by id, the task is
//! RUNNING without a restart, and the retries are in the metrics. The shared `opensearch` node
//! is never stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tests::{create_topic, http_client, unique_name};

use crate::connect_support::{ClusterNames, clients, metric_value};
use crate::es_sink_support::{
    FAULTS_NODE, committed_offset, create_connector, delete_index, documents, faults_url, payload,
    produce, run_services_script, services_script, sink_config, start_worker_with, wait_for_count,
    wait_for_es_counter, wait_for_task,
};

const BEFORE: u64 = 2000;
/// Records produced each tick while the node is stopped and restarting.
const PER_TICK: u64 = 50;
const OUTAGE: Duration = Duration::from_secs(60);

/// Starts the node again if the test fails while it is stopped, so later tests find it.
struct StartAgainOnDrop {
    armed: bool,
}

impl Drop for StartAgainOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let _ = services_script().args(["up", "opensearch-faults"]).status();
        }
    }
}

#[tokio::test]
async fn the_search_process_stopped_for_a_minute_loses_nothing_and_commits_only_acknowledged_records()
 {
    let _node = FAULTS_NODE.lock().await;
    let clients = clients().await;
    let search = faults_url().await;
    let topic = unique_name("es_sink_restart");
    create_topic(&clients, &topic, 1).await;
    let created = http_client()
        .put(format!("{search}/{topic}"))
        .json(&json!({"settings": {"number_of_shards": 1}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    // Commits every second, so a commit of unacknowledged records would show during the outage.
    let mut config = ClusterNames::unique().config();
    config.offset_flush_interval = Duration::from_secs(1);
    let worker = start_worker_with(&clients, config).await;
    let name = unique_name("es-restart");
    create_connector(
        &worker,
        &name,
        sink_config(
            &search,
            &topic,
            &json!({"batch.size": "200", "bulk.size.bytes": "262144", "max.retries": "3",
                "retry.backoff.ms": "100", "flush.timeout.ms": "5000", "read.timeout.ms": "5000"}),
        ),
    )
    .await;
    let first: Vec<_> = (0..BEFORE)
        .map(|i| (Some(format!("doc-{i}")), Some(payload(i, 512))))
        .collect();
    produce(&clients, &topic, &first).await;
    wait_for_count(&search, &topic, BEFORE, Duration::from_secs(120)).await;

    // Records keep arriving through the outage and the restart (offset = i: one partition).
    let produced = Arc::new(AtomicU64::new(BEFORE));
    let producing = Arc::new(AtomicBool::new(true));
    let producer = tokio::spawn({
        let (clients, topic) = (clients.clone(), topic.clone());
        let (produced, producing) = (Arc::clone(&produced), Arc::clone(&producing));
        async move {
            while producing.load(Ordering::Acquire) {
                let from = produced.load(Ordering::Acquire);
                let tick: Vec<_> = (from..from + PER_TICK)
                    .map(|i| (Some(format!("doc-{i}")), Some(payload(i, 512))))
                    .collect();
                produce(&clients, &topic, &tick).await;
                produced.store(from + PER_TICK, Ordering::Release);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut restart_guard = StartAgainOnDrop { armed: true };
    run_services_script(&["down", "opensearch-faults"]).await;
    let stopped = Instant::now();
    assert!(
        http_client().get(&search).send().await.is_err(),
        "the fault-test node still answers after `scripts/services down opensearch-faults`"
    );
    let group = connect::worker::sink::group_of(&name);
    let labels = [("connector", name.as_str()), ("task", "0")];
    let mut samples = Vec::new();
    while stopped.elapsed() < OUTAGE {
        // The offset first, then the acknowledged documents: both only grow, so a committed
        // offset above the acknowledged count means a commit ran ahead of OpenSearch.
        let committed = committed_offset(&clients, &group, &topic, 0)
            .await
            .unwrap_or(0);
        let metrics = worker.scrape().await;
        let acknowledged = metric_value(
            &metrics,
            "elasticsearch_sink_documents_indexed_total",
            &labels,
        )
        .unwrap_or_default();
        assert!(
            committed as f64 <= acknowledged,
            "{:?} into the outage, offset {committed} is committed but OpenSearch acknowledged only {acknowledged} documents",
            stopped.elapsed()
        );
        samples.push((committed, acknowledged));
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let (first_sample, last_sample) = (samples[0], samples[samples.len() - 1]);
    let task_state = wait_for_task(&worker, &name, "RUNNING").await["tasks"][0]["state"].clone();
    assert_eq!(
        task_state, "RUNNING",
        "retriable failures keep the task running"
    );
    let requests_retried =
        wait_for_es_counter(&worker, &name, "requests_retried", |v| v > 0.0).await;

    run_services_script(&["up", "opensearch-faults"]).await;
    restart_guard.armed = false;
    let restarted = Instant::now();
    let down_for = stopped.elapsed() - restarted.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    producing.store(false, Ordering::Release);
    producer.await.unwrap();
    let total = produced.load(Ordering::Acquire);

    wait_for_count(&search, &topic, total, Duration::from_secs(180)).await;
    let recovery = restarted.elapsed();
    let docs = documents(&search, &topic).await;
    assert_eq!(docs.len() as u64, total, "every record once, by id");
    for i in 0..total {
        assert_eq!(docs[&format!("doc-{i}")]["i"], i, "doc-{i}");
    }
    assert_eq!(
        wait_for_task(&worker, &name, "RUNNING").await["tasks"][0]["state"],
        "RUNNING",
        "the task runs again without a restart"
    );
    // Everything is acknowledged now, so the committed offset reaches the end.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let committed = committed_offset(&clients, &group, &topic, 0).await;
        if committed == Some(i64::try_from(total).unwrap()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "committed {committed:?}, expected {total}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let indexed =
        wait_for_es_counter(&worker, &name, "documents_indexed", |v| v >= total as f64).await;
    println!(
        "process outage: node down {down_for:?}; {total} records, {} in the index once each, 0 lost; \
         {indexed} documents indexed ({} written twice after a cut request); committed/acknowledged \
         during the outage {first_sample:?} .. {last_sample:?} over {} samples; \
         {requests_retried} requests retried; all indexed {recovery:?} after the node was ready again",
        docs.len(),
        indexed - total as f64,
        samples.len()
    );
    worker.stop().await;
    delete_index(&search, &topic).await;
}
