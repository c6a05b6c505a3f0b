//! A resume position whose binlog was purged is a definite FAILED task whose trace says
//! what happened and how to recover, never a silent skip. Runs on a throwaway MariaDB of
//! its own: the shared server's binlogs are never purged.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use sqlx::MySqlConnection;
use tests::throwaway_mariadb::ThrowawayMariaDb;
use tests::unique_name;

use crate::connect_support::{ClusterNames, call, wait_for, wait_for_state};
use crate::mysql_common::{cdc_config, connect, exec, items_table, read_topic, start_worker};

async fn current_binlog(conn: &mut MySqlConnection) -> String {
    let row: (String, u64, String, String) = sqlx::query_as("SHOW MASTER STATUS")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    row.0
}

#[tokio::test]
async fn purged_resume_point_fails_the_task_with_a_clear_trace() {
    let server = ThrowawayMariaDb::start().await;
    let mut conn = connect(&server.url()).await;
    let database = items_table(&mut conn, "cdc_purged", 10).await;
    let names = ClusterNames::unique();
    let prefix = unique_name("cdc_purged");
    let topic = format!("{prefix}.{database}.items");
    let config = cdc_config(&server.url(), &prefix, &database);

    let first = start_worker(&names).await;
    let body = json!({"name": "cdc", "config": config});
    let (status, answer) = call(Method::POST, &first.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&first, "cdc", "RUNNING", 1).await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (11, 'streamed')"),
    )
    .await;
    read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| seen.iter().any(|(_, v)| v["after"]["id"] == 11)),
    )
    .await;
    // A graceful stop commits the streaming offset (GTID of row 11).
    first.stop().await;

    // Changes the connector has not read, then their binlog files purged.
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (12, 'lost')"),
    )
    .await;
    exec(&mut conn, "FLUSH BINARY LOGS").await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (13, 'lost')"),
    )
    .await;
    exec(&mut conn, "FLUSH BINARY LOGS").await;
    let current = current_binlog(&mut conn).await;
    exec(&mut conn, &format!("PURGE BINARY LOGS TO '{current}'")).await;

    let second = start_worker(&names).await;
    let status = wait_for(
        &second.url("/connectors/cdc/status"),
        Duration::from_secs(60),
        // The first worker's task may have left a FAILED status of its own while stopping;
        // wait for the second worker's verdict on the purged position.
        |code, body| {
            code == 200
                && body["tasks"][0]["state"] == "FAILED"
                && body["tasks"][0]["trace"]
                    .as_str()
                    .is_some_and(|trace| trace.contains("no longer on the server"))
        },
    )
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    println!("FAILED trace: {trace}");
    for needle in [
        "no longer on the server",
        "purged",
        "snapshot.mode=when_needed",
        "offsets",
    ] {
        assert!(trace.contains(needle), "trace names {needle:?}: {trace}");
    }
    // Stays FAILED: no silent skip to the current position.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, again) = call(Method::GET, &second.url("/connectors/cdc/status"), None).await;
    assert_eq!(again["tasks"][0]["state"], "FAILED", "{again}");
    let records = read_topic(
        &topic,
        Duration::from_secs(20),
        Duration::from_secs(2),
        None,
    )
    .await;
    assert!(
        !records.iter().any(|(_, v)| v["after"]["id"] == 13),
        "no event after the purged gap: {records:?}"
    );
    second.stop().await;
    drop(server);
}
