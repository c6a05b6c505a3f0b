//! `heartbeat.interval.ms`: while the stream is idle the CDC source writes Debezium's
//! heartbeat records (`__debezium-heartbeat.<prefix>`, key `{serverName}`, value `{ts_ms}`).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tests::{Services, unique_name};

use crate::connect_support::{ClusterNames, call, wait_for_state};
use crate::mysql_common::{cdc_config, exec, items_table, read_topic, shared, start_worker};

#[tokio::test]
async fn idle_stream_writes_heartbeats() {
    let url = Services::from_env().mysql_url;
    let mut conn = shared().await;
    let database = items_table(&mut conn, "cdc_heartbeat", 3).await;
    let prefix = unique_name("cdc_heartbeat");
    let mut config = cdc_config(&url, &prefix, &database);
    config["heartbeat.interval.ms"] = json!("300");
    let worker = start_worker(&ClusterNames::unique()).await;
    let body = json!({"name": "cdc", "config": config});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&worker, "cdc", "RUNNING", 1).await;
    // Heartbeats need a streaming offset: one streamed row gives it.
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (4, 'streamed')"),
    )
    .await;
    let beats = read_topic(
        &format!("__debezium-heartbeat.{prefix}"),
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| seen.len() >= 3),
    )
    .await;
    for (key, value) in &beats {
        assert_eq!(key, &json!({"serverName": prefix}));
        assert!(value["ts_ms"].as_i64().is_some_and(|t| t > 0), "{value}");
    }
    worker.stop().await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}
