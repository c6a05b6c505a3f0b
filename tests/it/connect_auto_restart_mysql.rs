//! Auto-restart of a MySQL CDC task against real failures (issue #16, part 2):
//! - a throwaway MariaDB stopped while the task is restarted (as after a worker restart):
//!   the task goes FAILED, auto-restart retries it on Strimzi's schedule (unit 1 s here),
//!   the status and the metrics show the count and the next attempt; once the server is
//!   back the task is RUNNING by itself and every row arrives;
//! - refused credentials (the user's password changed on the shared MariaDB): a definite
//!   error, not retried; the status says why and the count stays 0.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tests::throwaway_mariadb::ThrowawayMariaDb;
use tests::{Services, unique_name};

use crate::connect_support::{ClusterNames, call, get, metric_value, wait_for, wait_for_state};
use crate::mysql_common::{cdc_config, connect, exec, read_topic, shared, start_worker};

const ROWS: i64 = 50;

fn with_auto_restart(mut config: Value) -> Value {
    config["auto.restart.enabled"] = json!("true");
    config["auto.restart.backoff.unit.ms"] = json!("1000");
    config
}

fn ids_of(records: &[(Value, Value)]) -> BTreeSet<i64> {
    records
        .iter()
        .filter_map(|(_, value)| value["after"]["id"].as_i64())
        .collect()
}

#[tokio::test]
async fn a_cdc_task_failed_while_mariadb_is_down_restarts_by_itself_and_loses_no_row() {
    let mut server = ThrowawayMariaDb::start().await;
    let url = server.url();
    let mut conn = connect(&url).await;
    let database = unique_name("auto_restart");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut conn,
        &format!("CREATE TABLE `{database}`.items (id INT PRIMARY KEY, name VARCHAR(64))"),
    )
    .await;
    let rows: Vec<String> = (1..=ROWS).map(|id| format!("({id}, 'row-{id}')")).collect();
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES {}", rows.join(",")),
    )
    .await;
    drop(conn);

    let worker = start_worker(&ClusterNames::unique()).await;
    let prefix = unique_name("auto_restart");
    let topic = format!("{prefix}.{database}.items");
    let body =
        json!({"name": "cdc", "config": with_auto_restart(cdc_config(&url, &prefix, &database))});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&worker, "cdc", "RUNNING", 1).await;
    read_topic(
        &topic,
        Duration::from_secs(120),
        Duration::ZERO,
        Some(&|seen| ids_of(seen).len() as i64 >= ROWS),
    )
    .await;

    // The server goes away and the task is started again meanwhile: its start fails.
    server.stop().await;
    let (status, answer) = call(
        Method::POST,
        &worker.url("/connectors/cdc/tasks/0/restart"),
        None,
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    let failed = wait_for(
        &worker.url("/connectors/cdc/status"),
        Duration::from_secs(90),
        |_, body| {
            let task = &body["tasks"][0];
            task["state"] == "FAILED"
                && task["auto_restart"]["count"]
                    .as_u64()
                    .is_some_and(|c| c >= 1)
                && task["auto_restart"]["next_attempt"].is_string()
        },
    )
    .await;
    let shown = failed["tasks"][0]["auto_restart"].clone();
    assert!(
        shown["last_failure"]
            .as_str()
            .is_some_and(|f| !f.is_empty()),
        "{shown}"
    );
    assert!(shown["gave_up"].is_null(), "an outage is retried: {shown}");
    let labels = [("connector", "cdc"), ("task", "0")];
    let scrape = worker.scrape().await;
    let restarts = metric_value(
        &scrape,
        "kafka_gateway_connect_auto_restarts_total",
        &labels,
    )
    .unwrap_or_default();
    assert!(restarts >= 1.0, "restarts counted: {restarts}");
    let next = metric_value(
        &scrape,
        "kafka_gateway_connect_auto_restart_next_attempt_timestamp_seconds",
        &labels,
    );
    println!("while down: {shown}; {restarts} restarts counted, next attempt gauge {next:?}");

    server.start_again().await;
    let mut conn = connect(&url).await;
    let more: Vec<String> = (ROWS + 1..=2 * ROWS)
        .map(|id| format!("({id}, 'row-{id}')"))
        .collect();
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES {}", more.join(",")),
    )
    .await;
    // RUNNING again with nothing here restarting it: the auto-restart's next attempt did.
    let running = wait_for(
        &worker.url("/connectors/cdc/status"),
        Duration::from_secs(120),
        |_, body| body["tasks"][0]["state"] == "RUNNING",
    )
    .await;
    let count = running["tasks"][0]["auto_restart"]["count"]
        .as_u64()
        .unwrap_or_default();
    assert!(
        count >= 1,
        "the count stays visible while healthy: {running}"
    );
    let records = read_topic(
        &topic,
        Duration::from_secs(120),
        Duration::ZERO,
        Some(&|seen| ids_of(seen).len() as i64 >= 2 * ROWS),
    )
    .await;
    assert_eq!(
        ids_of(&records),
        (1..=2 * ROWS).collect::<BTreeSet<_>>(),
        "every row, none lost"
    );
    println!(
        "recovered after {count} auto-restarts; {} records read",
        records.len()
    );
    worker.stop().await;
}

#[tokio::test]
async fn refused_credentials_are_not_retried_and_the_status_says_why() {
    let mut admin = shared().await;
    let user = unique_name("cdc_user");
    let database = unique_name("auto_restart_auth");
    for host in ["%", "localhost"] {
        exec(
            &mut admin,
            &format!("CREATE USER '{user}'@'{host}' IDENTIFIED BY 'first-pass'"),
        )
        .await;
        exec(
            &mut admin,
            &format!("GRANT ALL PRIVILEGES ON *.* TO '{user}'@'{host}'"),
        )
        .await;
    }
    exec(&mut admin, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut admin,
        &format!("CREATE TABLE `{database}`.items (id INT PRIMARY KEY)"),
    )
    .await;
    let shared_url = Services::from_env().mysql_url;
    let address = shared_url
        .trim_start_matches("mysql://")
        .rsplit_once('@')
        .map_or(shared_url.as_str(), |(_, address)| address)
        .to_owned();
    let url = format!("mysql://{user}:first-pass@{address}");

    let worker = start_worker(&ClusterNames::unique()).await;
    let prefix = unique_name("auto_restart_auth");
    let body =
        json!({"name": "cdc", "config": with_auto_restart(cdc_config(&url, &prefix, &database))});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&worker, "cdc", "RUNNING", 1).await;

    for host in ["%", "localhost"] {
        exec(
            &mut admin,
            &format!("ALTER USER '{user}'@'{host}' IDENTIFIED BY 'second-pass'"),
        )
        .await;
    }
    let (status, answer) = call(
        Method::POST,
        &worker.url("/connectors/cdc/tasks/0/restart"),
        None,
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    let gave_up = wait_for(
        &worker.url("/connectors/cdc/status"),
        Duration::from_secs(90),
        |_, body| body["tasks"][0]["auto_restart"]["gave_up"].is_string(),
    )
    .await;
    let task = &gave_up["tasks"][0];
    assert_eq!(task["state"], "FAILED", "{gave_up}");
    assert!(
        task["trace"]
            .as_str()
            .is_some_and(|t| t.to_ascii_lowercase().contains("access denied")
                && t.contains("auto-restart not retried")),
        "{gave_up}"
    );
    // Several backoff units later: still no restart.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (_, later) = get(&worker.url("/connectors/cdc/status")).await;
    assert_eq!(later["tasks"][0]["state"], "FAILED", "{later}");
    assert_eq!(later["tasks"][0]["auto_restart"]["count"], 0, "{later}");
    let restarts = metric_value(
        &worker.scrape().await,
        "kafka_gateway_connect_auto_restarts_total",
        &[("connector", "cdc"), ("task", "0")],
    )
    .unwrap_or_default();
    assert_eq!(restarts, 0.0, "no auto-restart of a definite error");
    println!("gave up: {}", later["tasks"][0]["auto_restart"]);

    worker.stop().await;
    for host in ["%", "localhost"] {
        exec(&mut admin, &format!("DROP USER '{user}'@'{host}'")).await;
    }
    exec(&mut admin, &format!("DROP DATABASE `{database}`")).await;
}
