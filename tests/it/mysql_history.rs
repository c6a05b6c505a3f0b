//! Rows written before a DDL, read after it: a worker stopped while a column is dropped
//! resumes behind the DROP and must decode the old row images with the columns they were
//! written with (binlog_row_metadata=FULL), not with today's.

use std::time::Duration;

use integration_tests::{Services, unique_name};
use reqwest::Method;
use serde_json::json;

use crate::connect_support::{ClusterNames, call, wait_for_state};
use crate::mysql_common::{cdc_config, exec, read_topic, shared, start_worker};

#[tokio::test]
async fn rows_from_before_a_dropped_column_keep_their_columns() {
    let url = Services::from_env().mysql_url;
    let mut conn = shared().await;
    let database = unique_name("cdc_history");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut conn,
        &format!(
            "CREATE TABLE `{database}`.items (id INT PRIMARY KEY, note VARCHAR(32), name VARCHAR(32))"
        ),
    )
    .await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (1, 'n1', 'first')"),
    )
    .await;
    let names = ClusterNames::unique();
    let prefix = unique_name("cdc_history");
    let topic = format!("{prefix}.{database}.items");
    let worker = start_worker(&names).await;
    let body = json!({"name": "cdc", "config": cdc_config(&url, &prefix, &database)});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&worker, "cdc", "RUNNING", 1).await;
    read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| seen.iter().any(|(_, v)| v["after"]["id"] == 1)),
    )
    .await;
    worker.stop().await;

    // While no worker runs: a row with three columns, then the middle column goes.
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (2, 'n2', 'second')"),
    )
    .await;
    exec(
        &mut conn,
        &format!("ALTER TABLE `{database}`.items DROP COLUMN note"),
    )
    .await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (3, 'third')"),
    )
    .await;

    let worker = start_worker(&names).await;
    wait_for_state(&worker, "cdc", "RUNNING", 1).await;
    let records = read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| seen.iter().any(|(_, v)| v["after"]["id"] == 3)),
    )
    .await;
    worker.stop().await;
    let after = |id: i64| {
        records
            .iter()
            .rev()
            .find(|(_, v)| v["after"]["id"] == id)
            .map(|(_, v)| v["after"].clone())
            .unwrap_or_else(|| panic!("no event for id {id}: {records:?}"))
    };
    assert_eq!(
        after(2),
        json!({"id": 2, "note": "n2", "name": "second"}),
        "the row written before the DROP keeps its columns"
    );
    assert_eq!(after(3), json!({"id": 3, "name": "third"}));
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}
