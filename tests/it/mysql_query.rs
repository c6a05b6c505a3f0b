//! Query modes (Confluent JDBC source compatible) against the real MariaDB and Kafka.
//!
//! What polling cannot see, and these tests pin down:
//! - deletes: a deleted row simply stops matching the query; no event, no tombstone;
//! - `incrementing` sees only new ids: an UPDATE of an existing row is invisible;
//! - out-of-order commits: a transaction that took a lower id (or an earlier timestamp)
//!   but commits after a poll already read a higher one is skipped for good;
//! - `timestamp` modes see the last state of a row per poll, not every intermediate update.
//!
//! CDC mode (`io.debezium.connector.mariadb.MariaDbConnector`) sees all of these.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tests::{Services, create_topic, unique_name};

use crate::connect_support::{ClusterNames, call, clients, wait_for_state};
use crate::mysql_common::{exec, read_topic, shared, start_worker};

fn query_config(database: &str, prefix: &str, mode: &str) -> Value {
    let url = Services::from_env().mysql_url;
    let address = url.trim_start_matches("mysql://");
    let address = address.rsplit_once('@').map_or(address, |(_, a)| a);
    let mut config = json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": format!("jdbc:mariadb://{address}/{database}"),
        "connection.user": "root",
        "mode": mode,
        "table.whitelist": "items",
        "incrementing.column.name": "id",
        "poll.interval.ms": "200",
        "batch.max.rows": "50",
        "topic.prefix": prefix,
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    });
    if mode.starts_with("timestamp") {
        config["timestamp.column.name"] = json!("updated");
    }
    config
}

/// Values of `name` in the order they appeared, for the given id.
fn names_of(records: &[(Value, Value)], id: i64) -> Vec<String> {
    records
        .iter()
        .filter(|(_, v)| v["id"] == id)
        .map(|(_, v)| v["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn run_mode(mode: &str) {
    let mut conn = shared().await;
    let database = unique_name("jdbc");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut conn,
        &format!(
            "CREATE TABLE `{database}`.items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32), \
             updated TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3))"
        ),
    )
    .await;
    let values: Vec<String> = (1..=120).map(|i| format!("('row {i}')")).collect();
    exec(
        &mut conn,
        &format!(
            "INSERT INTO `{database}`.items (name) VALUES {}",
            values.join(",")
        ),
    )
    .await;

    let names = ClusterNames::unique();
    let worker = start_worker(&names).await;
    let prefix = unique_name("jdbc");
    let topic = format!("{prefix}items");
    // The shared broker does not auto-create topics, and query mode does not create them.
    create_topic(&clients().await, &topic, 1).await;
    let body = json!({"name": "jdbc", "config": query_config(&database, &prefix, mode)});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&worker, "jdbc", "RUNNING", 1).await;
    // The existing rows, in batches of batch.max.rows.
    read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| seen.iter().any(|(_, v)| v["id"] == 120)),
    )
    .await;

    // New rows appear; an update and a delete happen before the marker row.
    exec(
        &mut conn,
        &format!(
            "INSERT INTO `{database}`.items (id, name) VALUES (121, 'new 121'), (122, 'new 122')"
        ),
    )
    .await;
    // A later timestamp than the rows' own, at millisecond precision.
    tokio::time::sleep(Duration::from_millis(20)).await;
    exec(
        &mut conn,
        &format!("UPDATE `{database}`.items SET name = 'renamed' WHERE id = 5"),
    )
    .await;
    exec(
        &mut conn,
        &format!("DELETE FROM `{database}`.items WHERE id = 6"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items (id, name) VALUES (200, 'marker')"),
    )
    .await;
    read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| seen.iter().any(|(_, v)| v["id"] == 200)),
    )
    .await;
    // Everything, after a quiet spell in which a late event would show itself.
    let records = read_topic(
        &topic,
        Duration::from_secs(30),
        Duration::from_secs(3),
        None,
    )
    .await;

    for id in 1..=122 {
        assert!(
            !names_of(&records, id).is_empty(),
            "{mode}: row {id} appears"
        );
    }
    assert_eq!(names_of(&records, 121), vec!["new 121"]);
    // Deletes are invisible to every query mode: row 6 appeared once, no tombstone.
    assert_eq!(
        names_of(&records, 6),
        vec!["row 6"],
        "{mode}: delete unseen"
    );
    assert!(records.iter().all(|(_, v)| !v.is_null()), "no tombstones");
    match mode {
        // Updates are invisible to incrementing: id 5 is not new.
        "incrementing" => assert_eq!(names_of(&records, 5), vec!["row 5"]),
        // The timestamp moved, so the row is read again with its new content.
        _ => assert_eq!(names_of(&records, 5), vec!["row 5", "renamed"]),
    }
    worker.stop().await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}

#[tokio::test]
async fn incrementing_mode_sees_new_rows_only() {
    run_mode("incrementing").await;
}

#[tokio::test]
async fn timestamp_incrementing_mode_sees_new_and_updated_rows() {
    run_mode("timestamp+incrementing").await;
}

/// No table listed: every table of the URL's database is copied, minus the excluded ones,
/// and a table created later is found within `table.poll.interval.ms`.
#[tokio::test]
async fn tables_are_discovered_excluded_and_found_later() {
    let mut conn = shared().await;
    let database = unique_name("jdbc_discover");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    for table in ["alpha", "beta", "secret"] {
        exec(
            &mut conn,
            &format!(
                "CREATE TABLE `{database}`.{table} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32), \
                 price DECIMAL(10,2))"
            ),
        )
        .await;
        exec(
            &mut conn,
            &format!("INSERT INTO `{database}`.{table} (name, price) VALUES ('{table} 1', 12.34)"),
        )
        .await;
    }
    let prefix = unique_name("jdbc_discover");
    let kafka = clients().await;
    for table in ["alpha", "beta", "secret", "gamma"] {
        create_topic(&kafka, &format!("{prefix}{table}"), 1).await;
    }
    let mut config = query_config(&database, &prefix, "incrementing");
    let object = config.as_object_mut().unwrap();
    object.remove("table.whitelist");
    object.insert("table.blacklist".into(), json!("secret"));
    object.insert("table.poll.interval.ms".into(), json!("1000"));
    let names = ClusterNames::unique();
    let worker = start_worker(&names).await;
    let body = json!({"name": "jdbc", "config": config});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&worker, "jdbc", "RUNNING", 1).await;
    for table in ["alpha", "beta"] {
        let records = read_topic(
            &format!("{prefix}{table}"),
            Duration::from_secs(60),
            Duration::ZERO,
            Some(&|seen| !seen.is_empty()),
        )
        .await;
        assert_eq!(records[0].1["name"], json!(format!("{table} 1")));
        // A Connect Decimal (scale 2) as JsonConverter writes it: base64 of the unscaled
        // big-endian value 1234.
        assert_eq!(records[0].1["price"], json!("BNI="), "{records:?}");
    }
    // Created while the task runs.
    exec(
        &mut conn,
        &format!(
            "CREATE TABLE `{database}`.gamma (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32))"
        ),
    )
    .await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.gamma (name) VALUES ('gamma 1')"),
    )
    .await;
    let gamma = read_topic(
        &format!("{prefix}gamma"),
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|seen| !seen.is_empty()),
    )
    .await;
    assert_eq!(gamma[0].1["name"], json!("gamma 1"));
    let secret = read_topic(
        &format!("{prefix}secret"),
        Duration::from_secs(5),
        Duration::from_secs(2),
        None,
    )
    .await;
    assert!(secret.is_empty(), "excluded table copied: {secret:?}");
    worker.stop().await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}

/// `timestamp.initial=-1` starts at the current time: rows already there are not copied.
/// `validate.non.null`: a nullable incrementing column fails the task at start.
#[tokio::test]
async fn timestamp_initial_and_non_null_validation() {
    let mut conn = shared().await;
    let database = unique_name("jdbc_initial");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut conn,
        &format!(
            "CREATE TABLE `{database}`.items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32), \
             updated TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3))"
        ),
    )
    .await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items (name) VALUES ('old')"),
    )
    .await;
    exec(
        &mut conn,
        &format!("CREATE TABLE `{database}`.loose (id INT NULL, name VARCHAR(32))"),
    )
    .await;
    let prefix = unique_name("jdbc_initial");
    let topic = format!("{prefix}items");
    create_topic(&clients().await, &topic, 1).await;
    // Rows committed before the connector starts are older than "now".
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut config = query_config(&database, &prefix, "timestamp");
    config["timestamp.initial"] = json!("-1");
    let names = ClusterNames::unique();
    let worker = start_worker(&names).await;
    let body = json!({"name": "jdbc", "config": config});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&worker, "jdbc", "RUNNING", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items (name) VALUES ('new')"),
    )
    .await;
    let records = read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::from_secs(2),
        Some(&|seen| seen.iter().any(|(_, v)| v["name"] == "new")),
    )
    .await;
    let seen: Vec<&Value> = records.iter().map(|(_, v)| &v["name"]).collect();
    assert_eq!(
        seen,
        [&json!("new")],
        "only the row written after the start"
    );

    let mut loose = query_config(&database, &prefix, "incrementing");
    loose["table.whitelist"] = json!("loose");
    let body = json!({"name": "loose", "config": loose});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    let status = crate::connect_support::wait_for(
        &worker.url("/connectors/loose/status"),
        Duration::from_secs(45),
        |code, body| code == 200 && body["tasks"][0]["state"] == "FAILED",
    )
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("nullable") && trace.contains("validate.non.null"),
        "{trace}"
    );
    worker.stop().await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}
