//! Rows written before a DDL, read after it: a worker stopped while a column is dropped
//! resumes behind the DROP and must decode the old row images with the columns they were
//! written with (binlog_row_metadata=FULL), not with today's. Without the column names
//! (MINIMAL) the task must fail and say why, never put values into the wrong fields.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tests::throwaway_mariadb::ThrowawayMariaDb;
use tests::{Services, unique_name};

use crate::connect_support::{ClusterNames, call, wait_for, wait_for_state};
use crate::mysql_common::{cdc_config, connect, exec, read_topic, shared, start_worker};

/// A table, its row 1, the row written while no worker runs, and the DDL after it.
struct DropCase {
    columns: &'static str,
    first: &'static str,
    second: &'static str,
    drop: &'static str,
}

/// Three columns, the middle one dropped.
const NOTE_DROPPED: DropCase = DropCase {
    columns: "id INT PRIMARY KEY, note VARCHAR(32), name VARCHAR(32)",
    first: "(1, 'n1', 'first')",
    second: "(2, 'n2', 'second')",
    drop: "DROP COLUMN note",
};

/// The table of `case` with row 1 streamed by a connector that is then stopped, plus the
/// row written while no worker runs and the DROP: the next worker resumes behind the DROP.
/// Returns the topic.
async fn row_then_drop_while_stopped(
    conn: &mut sqlx::MySqlConnection,
    url: &str,
    database: &str,
    names: &ClusterNames,
    case: &DropCase,
) -> String {
    exec(conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        conn,
        &format!("CREATE TABLE `{database}`.items ({})", case.columns),
    )
    .await;
    exec(
        conn,
        &format!("INSERT INTO `{database}`.items VALUES {}", case.first),
    )
    .await;
    let prefix = unique_name("cdc_history");
    let topic = format!("{prefix}.{database}.items");
    let worker = start_worker(names).await;
    let body = json!({"name": "cdc", "config": cdc_config(url, &prefix, database)});
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
    exec(
        conn,
        &format!("INSERT INTO `{database}`.items VALUES {}", case.second),
    )
    .await;
    exec(
        conn,
        &format!("ALTER TABLE `{database}`.items {}", case.drop),
    )
    .await;
    topic
}

/// Starts a worker on the stopped connector, reads its topic until the event of row `id`
/// arrived (60 s at most), stops the worker.
async fn resume_and_read_until_id(
    names: &ClusterNames,
    topic: &str,
    id: i64,
) -> Vec<(serde_json::Value, serde_json::Value)> {
    let worker = start_worker(names).await;
    wait_for_state(&worker, "cdc", "RUNNING", 1).await;
    let records = read_topic(
        topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| seen.iter().any(|(_, v)| v["after"]["id"] == id)),
    )
    .await;
    worker.stop().await;
    records
}

#[tokio::test]
async fn rows_from_before_a_dropped_column_keep_their_columns() {
    let url = Services::from_env().mysql_url;
    let mut conn = shared().await;
    let database = unique_name("cdc_history");
    let names = ClusterNames::unique();
    let topic =
        row_then_drop_while_stopped(&mut conn, &url, &database, &names, &NOTE_DROPPED).await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (3, 'third')"),
    )
    .await;

    let records = resume_and_read_until_id(&names, &topic, 3).await;
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

/// Spatial columns known only from the event (dropped since): POINT is told from GEOMETRY by
/// the event's geometry types, as Debezium's schemas tell them apart.
#[tokio::test]
async fn dropped_spatial_columns_keep_their_debezium_types() {
    let url = Services::from_env().mysql_url;
    let mut conn = shared().await;
    let database = unique_name("cdc_history");
    let names = ClusterNames::unique();
    let case = DropCase {
        columns: "id INT PRIMARY KEY, g GEOMETRY, pt POINT, name VARCHAR(32)",
        first: "(1, NULL, NULL, 'first')",
        second: "(2, ST_GeomFromText('LINESTRING(0 0, 1 1)', 4326), POINT(1.5, -2), 'second')",
        drop: "DROP COLUMN g, DROP COLUMN pt",
    };
    let topic = row_then_drop_while_stopped(&mut conn, &url, &database, &names, &case).await;
    let records = resume_and_read_until_id(&names, &topic, 2).await;
    let after = records
        .iter()
        .find(|(_, v)| v["after"]["id"] == 2)
        .map(|(_, v)| v["after"].clone())
        .unwrap_or_default();
    assert_eq!(after["g"]["srid"], 4326, "{after}");
    assert!(
        after["g"].get("x").is_none(),
        "GEOMETRY has no coordinates: {after}"
    );
    assert_eq!(
        (&after["pt"]["x"], &after["pt"]["y"], &after["pt"]["srid"]),
        (&json!(1.5), &json!(-2.0), &json!(null)),
        "POINT keeps its coordinates: {after}"
    );
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}

#[tokio::test]
async fn unnamed_columns_behind_a_drop_fail_the_task_instead_of_shifting_values() {
    // A server of its own: binlog_row_metadata is global.
    let server = ThrowawayMariaDb::start().await;
    let mut conn = connect(&server.url()).await;
    exec(&mut conn, "SET GLOBAL binlog_row_metadata = 'MINIMAL'").await;
    let database = unique_name("cdc_minimal");
    let names = ClusterNames::unique();
    let topic =
        row_then_drop_while_stopped(&mut conn, &server.url(), &database, &names, &NOTE_DROPPED)
            .await;

    let worker = start_worker(&names).await;
    let status = wait_for(
        &worker.url("/connectors/cdc/status"),
        Duration::from_secs(60),
        |code, body| {
            code == 200
                && body["tasks"][0]["state"] == "FAILED"
                && body["tasks"][0]["trace"]
                    .as_str()
                    .is_some_and(|trace| trace.contains("binlog_row_metadata=FULL"))
        },
    )
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("carry 3 columns"), "{trace}");
    assert!(trace.contains("has 2 now"), "{trace}");
    let records = read_topic(
        &topic,
        Duration::from_secs(10),
        Duration::from_secs(2),
        None,
    )
    .await;
    assert!(
        !records.iter().any(|(_, v)| v["after"]["id"] == 2),
        "no event with shifted values for row 2: {records:?}"
    );
    worker.stop().await;
}
