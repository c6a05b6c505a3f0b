//! An OpenSearch outage of 30 s in the middle of a run: a TCP proxy between the sink and the
//! shared OpenSearch refuses and cuts connections (the shared node keeps running for the other
//! tests). Afterwards every record is in the index exactly once, by id, and the task runs.

use std::time::Duration;

use serde_json::json;
use tests::{create_topic, unique_name};

use crate::connect_support::{ClusterNames, clients};
use crate::es_sink_support::{
    Proxy, count, create_connector, delete_index, documents, payload, produce, search_url,
    sink_config, start_worker, wait_for_count, wait_for_es_counter, wait_for_task,
};

const FIRST: u64 = 3000;
const DURING: u64 = 3000;

#[tokio::test]
async fn a_thirty_second_outage_loses_nothing_and_duplicates_nothing() {
    let clients = clients().await;
    let search = search_url().await;
    let proxy = Proxy::start(&search).await;
    let topic = unique_name("es_sink_outage");
    create_topic(&clients, &topic, 1).await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let name = unique_name("es-outage");
    create_connector(
        &worker,
        &name,
        sink_config(
            &proxy.url,
            &topic,
            &json!({
        "batch.size": "200", "max.retries": "3", "retry.backoff.ms": "50",
        "flush.timeout.ms": "5000", "read.timeout.ms": "5000"}),
        ),
    )
    .await;
    let first: Vec<_> = (0..FIRST)
        .map(|i| (Some(format!("doc-{i}")), Some(payload(i, 512))))
        .collect();
    produce(&clients, &topic, &first).await;
    wait_for_count(&search, &topic, FIRST, Duration::from_secs(90)).await;

    proxy.block(true);
    let during: Vec<_> = (FIRST..FIRST + DURING)
        .map(|i| (Some(format!("doc-{i}")), Some(payload(i, 512))))
        .collect();
    produce(&clients, &topic, &during).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        count(&search, &topic).await,
        FIRST,
        "nothing reaches OpenSearch while the proxy is down"
    );
    // Retriable failures keep the task running (the runtime retries flush within its budget).
    assert_eq!(
        wait_for_task(&worker, &name, "RUNNING").await["tasks"][0]["state"],
        "RUNNING"
    );
    wait_for_es_counter(&worker, &name, "requests_retried", |v| v > 0.0).await;
    proxy.block(false);

    wait_for_count(&search, &topic, FIRST + DURING, Duration::from_secs(120)).await;
    let docs = documents(&search, &topic).await;
    assert_eq!(docs.len() as u64, FIRST + DURING);
    for i in 0..FIRST + DURING {
        assert_eq!(docs[&format!("doc-{i}")]["i"], i, "doc-{i}");
    }
    assert_eq!(
        wait_for_task(&worker, &name, "RUNNING").await["tasks"][0]["state"],
        "RUNNING"
    );
    worker.stop().await;
    delete_index(&search, &topic).await;
}
