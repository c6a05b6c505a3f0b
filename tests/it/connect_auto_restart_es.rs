//! Auto-restart of an Elasticsearch sink task against a real outage (issue #16, part 2): the
//! fault-test OpenSearch **process** is stopped (`scripts/services down opensearch-faults`;
//! the shared node is never stopped) for longer than the runtime's retry budget (5 minutes),
//! so the task goes FAILED as it would without auto-restart; auto-restart (unit 1 s here)
//! starts it again, the status and the metrics count the restart, and once the node is back
//! every record is in the index once by id with the task RUNNING, nothing restarted by hand;
//! after the healthy period (10 units) the status forgets the count, the counter keeps it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::connect_support::{ClusterNames, clients, get, metric_value, wait_for};
use crate::es_sink_support::{
    FAULTS_NODE, create_connector, delete_index, documents, faults_url, payload, produce,
    run_services_script, services_script, sink_config, start_worker, wait_for_count,
};

const BEFORE: u64 = 500;
const DURING: u64 = 500;
/// The runtime retries a failing put/flush for 5 minutes before the task fails.
const FAILURE_LIMIT: Duration = Duration::from_secs(480);

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
async fn an_es_sink_task_failed_by_an_outage_restarts_by_itself_and_loses_no_record() {
    let _node = FAULTS_NODE.lock().await;
    let clients = clients().await;
    let search = faults_url().await;
    let topic = unique_name("auto_restart_es");
    create_topic(&clients, &topic, 1).await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let name = unique_name("es-auto-restart");
    create_connector(
        &worker,
        &name,
        sink_config(
            &search,
            &topic,
            &json!({"batch.size": "100", "max.retries": "1", "retry.backoff.ms": "100",
                "flush.timeout.ms": "3000", "read.timeout.ms": "3000",
                "auto.restart.enabled": "true", "auto.restart.backoff.unit.ms": "1000"}),
        ),
    )
    .await;
    let first: Vec<_> = (0..BEFORE)
        .map(|i| (Some(format!("doc-{i}")), Some(payload(i, 256))))
        .collect();
    produce(&clients, &topic, &first).await;
    wait_for_count(&search, &topic, BEFORE, Duration::from_secs(120)).await;

    let mut guard = StartAgainOnDrop { armed: true };
    run_services_script(&["down", "opensearch-faults"]).await;
    let stopped = Instant::now();
    let during: Vec<_> = (BEFORE..BEFORE + DURING)
        .map(|i| (Some(format!("doc-{i}")), Some(payload(i, 256))))
        .collect();
    produce(&clients, &topic, &during).await;

    // Polled closely: the first restart follows the failure at once (Strimzi's schedule).
    let status_url = worker.url(&format!("/connectors/{name}/status"));
    let labels = [("connector", name.as_str()), ("task", "0")];
    let mut failed_seen: Option<Value> = None;
    let restarts = loop {
        let (_, status) = get(&status_url).await;
        if status["tasks"][0]["state"] == "FAILED" && failed_seen.is_none() {
            failed_seen = Some(status["tasks"][0].clone());
        }
        let restarts = metric_value(
            &worker.scrape().await,
            "kafka_gateway_connect_auto_restarts_total",
            &labels,
        )
        .unwrap_or_default();
        if restarts >= 1.0 {
            break restarts;
        }
        assert!(
            stopped.elapsed() < FAILURE_LIMIT,
            "no auto-restart {FAILURE_LIMIT:?} into the outage; last status {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let failed_after = stopped.elapsed();
    let (_, status) = get(&status_url).await;
    let shown = status["tasks"][0]["auto_restart"].clone();
    assert!(
        shown["count"].as_u64().is_some_and(|c| c >= 1),
        "the count is in the status: {status}"
    );
    assert!(
        shown["last_failure"]
            .as_str()
            .is_some_and(|f| f.contains("RetriableException")),
        "{status}"
    );
    assert!(shown["gave_up"].is_null(), "an outage is retried: {status}");

    run_services_script(&["up", "opensearch-faults"]).await;
    guard.armed = false;
    let restarted = Instant::now();
    wait_for_count(&search, &topic, BEFORE + DURING, Duration::from_secs(300)).await;
    let recovery = restarted.elapsed();
    let docs = documents(&search, &topic).await;
    assert_eq!(
        docs.len() as u64,
        BEFORE + DURING,
        "every record once, by id"
    );
    for i in 0..BEFORE + DURING {
        assert_eq!(docs[&format!("doc-{i}")]["i"], i, "doc-{i}");
    }
    // RUNNING for the healthy period (10 units): the count is forgotten, the total stays.
    let healthy = wait_for(&status_url, Duration::from_secs(60), |_, body| {
        body["tasks"][0]["state"] == "RUNNING" && body["tasks"][0]["auto_restart"].is_null()
    })
    .await;
    let total = metric_value(
        &worker.scrape().await,
        "kafka_gateway_connect_auto_restarts_total",
        &labels,
    )
    .unwrap_or_default();
    assert!(total >= restarts, "the counter never goes back: {total}");
    println!(
        "task failed and was auto-restarted {failed_after:?} into the outage ({restarts} restarts); \
         FAILED status seen by polling: {failed_seen:?}; all {} records indexed {recovery:?} after \
         the node was back; status while down {shown}; healthy again {}",
        docs.len(),
        healthy["tasks"][0]
    );
    worker.stop().await;
    delete_index(&search, &topic).await;
}
