//! CDC source restarts against the real MariaDB and Kafka: the worker stops mid-snapshot
//! and a new one resumes the snapshot; then, mid-stream with a writer running, the
//! connector and its task are restarted through the REST API. Every row of the table must
//! come out at least once and the last event per primary key must equal the row.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tests::{Services, unique_name};

use crate::connect_support::{ClusterNames, call, wait_for_state};
use crate::mysql_common::{
    Writer, assert_events_match, cdc_config, exec, items_table, read_topic, shared, start_worker,
    table_rows,
};

const ROWS: i64 = 6000;

#[tokio::test]
async fn restart_mid_snapshot_and_mid_stream_loses_nothing() {
    let url = Services::from_env().mysql_url;
    let mut conn = shared().await;
    let database = items_table(&mut conn, "cdc_restart", ROWS).await;
    let names = ClusterNames::unique();
    let prefix = unique_name("cdc_restart");
    let topic = format!("{prefix}.{database}.items");
    let mut config = cdc_config(&url, &prefix, &database);
    // Small chunks make the snapshot long enough to interrupt.
    config["snapshot.fetch.size"] = json!("20");
    config["max.batch.size"] = json!("20");

    let first = start_worker(&names).await;
    let body = json!({"name": "cdc", "config": config});
    let (status, answer) = call(Method::POST, &first.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| seen.len() >= 200),
    )
    .await;
    first.stop().await;
    let before_restart = read_topic(
        &topic,
        Duration::from_secs(30),
        Duration::from_secs(3),
        None,
    )
    .await;
    println!(
        "worker stopped after {} of {ROWS} snapshot rows",
        before_restart.len()
    );
    assert!(
        before_restart.len() < usize::try_from(ROWS).unwrap(),
        "the worker stopped mid-snapshot"
    );

    // Rows written while no worker runs, and while the snapshot resumes.
    let writer = Writer::start(url.clone(), database.clone(), 100_001);
    let second = start_worker(&names).await;
    wait_for_state(&second, "cdc", "RUNNING", 1).await;
    read_topic(
        &topic,
        Duration::from_secs(120),
        Duration::ZERO,
        Some(&|seen| seen.iter().any(|(_, v)| v["op"] == "c")),
    )
    .await;

    // Mid-stream: restart the connector with its tasks, then the task alone.
    let (status, answer) = call(
        Method::POST,
        &second.url("/connectors/cdc/restart?includeTasks=true&onlyFailed=false"),
        None,
    )
    .await;
    assert!(matches!(status, 202 | 204), "{status} {answer}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    wait_for_state(&second, "cdc", "RUNNING", 1).await;
    let (status, answer) = call(
        Method::POST,
        &second.url("/connectors/cdc/tasks/0/restart"),
        None,
    )
    .await;
    assert!(matches!(status, 202 | 204), "{status} {answer}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    wait_for_state(&second, "cdc", "RUNNING", 1).await;

    let last = writer.stop().await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (999999, 'marker')"),
    )
    .await;
    let records = read_topic(
        &topic,
        Duration::from_secs(120),
        Duration::ZERO,
        Some(&|seen| seen.iter().any(|(_, v)| v["after"]["id"] == 999_999)),
    )
    .await;
    let expected = table_rows(&mut conn, &database).await;
    let duplicates = assert_events_match(&records, &expected);
    println!(
        "{} rows ({ROWS} snapshot, {} streamed), {} events, {duplicates} duplicate creations",
        expected.len(),
        last - 100_000,
        records.len()
    );
    second.stop().await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}
