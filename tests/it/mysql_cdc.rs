//! MySQL/MariaDB CDC source against the real MariaDB and Kafka: snapshot, streaming
//! inserts/updates/deletes with tombstones, a mid-stream ALTER TABLE, and exact JSON for
//! the type mapping.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, MySqlConnection};
use tests::{START_HINT, Services, unique_name};

use crate::connect_support::{ClusterNames, call, wait_for_state};
use crate::mysql_common::start_worker;

async fn mysql() -> MySqlConnection {
    let url = Services::from_env().mysql_url;
    MySqlConnection::connect(&url)
        .await
        .unwrap_or_else(|error| panic!("MariaDB at {url} is unreachable ({error}); {START_HINT}"))
}

async fn exec(conn: &mut MySqlConnection, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn cdc_config(prefix: &str, database: &str) -> Value {
    let services = Services::from_env();
    let url = services.mysql_url.trim_start_matches("mysql://").to_owned();
    let (user, host) = url.split_once('@').unwrap_or(("root", &url));
    let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
    let port = port.split('/').next().unwrap_or("3306");
    json!({
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": host, "database.port": port, "database.user": user,
        "database.server.id": format!("{}", 10_000 + u32::from(rand::random::<u16>())),
        "topic.prefix": prefix, "database.include.list": database,
        "schema.history.internal.kafka.bootstrap.servers": services.kafka_bootstrap,
        "schema.history.internal.kafka.topic": format!("{prefix}.history"),
        // Record topics are created by the runtime (KIP-158), as in Kafka Connect.
        "topic.creation.default.replication.factor": "-1",
        "topic.creation.default.partitions": "1",
        "snapshot.fetch.size": "50",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    })
}

/// Reads `topic` until `done` holds for the (key, value) pairs read so far.
async fn consume(
    topic: &str,
    timeout: Duration,
    done: impl Fn(&[(Value, Value)]) -> bool,
) -> Vec<(Value, Value)> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", Services::from_env().kafka_bootstrap)
        .set("group.id", unique_name("mysql_test"))
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut seen = Vec::new();
    while !done(&seen) {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(
            !remaining.is_zero(),
            "topic {topic}: condition not met after {timeout:?}; read {} records: {:?}",
            seen.len(),
            seen.last()
        );
        if let Ok(Ok(message)) =
            tokio::time::timeout(remaining.min(Duration::from_secs(1)), consumer.recv()).await
        {
            let parse = |b: Option<&[u8]>| {
                b.map_or(Value::Null, |b| {
                    serde_json::from_slice(b).unwrap_or(Value::Null)
                })
            };
            seen.push((parse(message.key()), parse(message.payload())));
        }
    }
    seen
}

#[tokio::test]
async fn snapshot_then_stream_with_updates_deletes_and_alter() {
    let mut conn = mysql().await;
    let database = unique_name("cdc");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut conn,
        &format!("CREATE TABLE `{database}`.items (id INT PRIMARY KEY, name VARCHAR(32))"),
    )
    .await;
    let values: Vec<String> = (1..=300).map(|i| format!("({i}, 'item {i}')")).collect();
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES {}", values.join(",")),
    )
    .await;

    let names = ClusterNames::unique();
    let worker = start_worker(&names).await;
    let prefix = unique_name("cdc");
    let body = json!({"name": "cdc", "config": cdc_config(&prefix, &database)});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    // Concurrent writes while the snapshot runs.
    for i in 301..=400 {
        exec(
            &mut conn,
            &format!("INSERT INTO `{database}`.items VALUES ({i}, 'item {i}')"),
        )
        .await;
    }
    wait_for_state(&worker, "cdc", "RUNNING", 1).await;
    exec(
        &mut conn,
        &format!("UPDATE `{database}`.items SET name = 'renamed' WHERE id = 7"),
    )
    .await;
    exec(
        &mut conn,
        &format!("DELETE FROM `{database}`.items WHERE id = 8"),
    )
    .await;
    exec(
        &mut conn,
        &format!("ALTER TABLE `{database}`.items ADD COLUMN price DECIMAL(8,2) NULL"),
    )
    .await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (401, 'new', 12.50)"),
    )
    .await;

    let topic = format!("{prefix}.{database}.items");
    let records = consume(&topic, Duration::from_secs(90), |seen| {
        seen.iter().any(|(_, v)| v["after"]["id"] == 401)
    })
    .await;
    // Once streaming, the task's status says so (our `progress` extension).
    let status = crate::connect_support::wait_for(
        &worker.url("/connectors/cdc/status"),
        Duration::from_secs(30),
        |status, body| status == 200 && body["tasks"][0]["progress"]["phase"] == "streaming",
    )
    .await;
    assert!(
        status["tasks"][0]["progress"]["started_from"].is_object(),
        "{status}"
    );
    // Every row 1..=400 exactly once as r or c before the streamed changes.
    let mut first_seen: BTreeMap<i64, usize> = BTreeMap::new();
    for (_, value) in &records {
        if matches!(value["op"].as_str(), Some("r" | "c")) {
            *first_seen
                .entry(value["after"]["id"].as_i64().unwrap())
                .or_default() += 1;
        }
    }
    assert_eq!(first_seen.len(), 401, "every row appears");
    assert!(
        first_seen.values().all(|n| *n == 1),
        "no row twice: {first_seen:?}"
    );
    let update = records
        .iter()
        .find(|(_, v)| v["op"] == "u")
        .expect("update event");
    assert_eq!(update.1["before"], json!({"id": 7, "name": "item 7"}));
    assert_eq!(update.1["after"], json!({"id": 7, "name": "renamed"}));
    assert_eq!(update.1["source"]["connector"], "mariadb");
    assert_eq!(update.1["source"]["db"], Value::from(database.clone()));
    assert!(
        update.1["source"]["gtid"]
            .as_str()
            .is_some_and(|g| g.split('-').count() == 3)
    );
    let delete_index = records
        .iter()
        .position(|(_, v)| v["op"] == "d")
        .expect("delete event");
    assert_eq!(records[delete_index].0, json!({"id": 8}));
    assert_eq!(
        records[delete_index].1["before"],
        json!({"id": 8, "name": "item 8"})
    );
    assert_eq!(
        records[delete_index + 1],
        (json!({"id": 8}), Value::Null),
        "tombstone follows the delete"
    );
    let added = records
        .iter()
        .find(|(_, v)| v["after"]["id"] == 401)
        .unwrap();
    // DECIMAL(8,2) 12.50 → unscaled 1250 = 0x04e2.
    assert_eq!(
        added.1["after"],
        json!({"id": 401, "name": "new", "price": "BOI="})
    );

    // Debezium's metrics count exactly the events in the topic.
    let ops = |wanted: &[&str]| {
        records
            .iter()
            .filter(|(_, v)| v["op"].as_str().is_some_and(|op| wanted.contains(&op)))
            .count() as f64
    };
    let plugin = update.1["source"]["connector"].as_str().unwrap().to_owned();
    let labels = |context: &'static str| {
        vec![
            ("connector", "cdc"),
            ("task", "0"),
            ("plugin", plugin.as_str()),
            ("name", prefix.as_str()),
            ("context", context),
        ]
    };
    let table = format!("{database}.items");
    let mut scanned = labels("snapshot");
    scanned.push(("table", table.as_str()));
    let expected = [
        (
            "debezium_metrics_TotalNumberOfEventsSeen",
            labels("snapshot"),
            ops(&["r"]),
        ),
        ("debezium_metrics_RowsScanned", scanned, ops(&["r"])),
        (
            "debezium_metrics_SnapshotCompleted",
            labels("snapshot"),
            1.0,
        ),
        ("debezium_metrics_SnapshotRunning", labels("snapshot"), 0.0),
        (
            "debezium_metrics_TotalNumberOfEventsSeen",
            labels("streaming"),
            ops(&["c", "u", "d"]),
        ),
        (
            "debezium_metrics_TotalNumberOfUpdateEventsSeen",
            labels("streaming"),
            1.0,
        ),
        (
            "debezium_metrics_TotalNumberOfDeleteEventsSeen",
            labels("streaming"),
            1.0,
        ),
        ("debezium_metrics_Connected", labels("streaming"), 1.0),
    ];
    let text = worker
        .wait_for_metrics(Duration::from_secs(30), |text| {
            expected.iter().all(|(name, labels, value)| {
                crate::connect_support::metric_value(text, name, labels) == Some(*value)
            })
        })
        .await;
    let transactions = crate::connect_support::metric_value(
        &text,
        "debezium_metrics_NumberOfCommittedTransactions",
        &labels("streaming"),
    );
    assert!(
        transactions.is_some_and(|t| t >= 3.0),
        "the update, the delete and the insert are transactions: {transactions:?}"
    );

    worker.stop().await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}

#[tokio::test]
async fn every_type_round_trips_with_exact_json() {
    let mut conn = mysql().await;
    let database = unique_name("cdc_types");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(&mut conn, &format!(
        "CREATE TABLE `{database}`.t (id BIGINT UNSIGNED PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mu MEDIUMINT UNSIGNED, \
         iu INT UNSIGNED, bi BIGINT, de DECIMAL(10,3), fl FLOAT, db DOUBLE, d DATE, t TIME(3), dt DATETIME(6), dt0 DATETIME, ts TIMESTAMP(3) NULL, y YEAR, \
         c CHAR(3), vc VARCHAR(20), tx TEXT, l1 VARCHAR(10) CHARACTER SET latin1, bin BINARY(4), vb VARBINARY(8), bl BLOB, js JSON, e ENUM('a','b'), s SET('x','y','z'), \
         b1 BIT(1), b12 BIT(12), g GEOMETRY, p POINT, pg POLYGON, n INT NULL)"
    )).await;
    let row = "(18446744073709551615, -128, 255, -32768, 16777215, 4294967295, -9223372036854775808, -12.345, 1.5, 2.25, '2024-02-29', '-838:59:59.500', \
               '2024-01-02 03:04:05.123456', '1999-12-31 23:59:59', '2024-01-02 03:04:05.120', 2024, 'ab', 'héllo', 'text', 'é€', X'01', X'cafe', X'00ff', '{\"a\": [1, 2]}', 'b', 'x,z', b'1', b'101010111100', \
               ST_GeomFromText('LINESTRING(0 0, 1 2)', 4326), ST_PointFromText('POINT(1.5 -2)', 3857), NULL, NULL)";
    exec(
        &mut conn,
        &format!(
            "INSERT INTO `{database}`.t VALUES {}",
            row.replace("18446744073709551615", "1")
        ),
    )
    .await;

    let names = ClusterNames::unique();
    let worker = start_worker(&names).await;
    let prefix = unique_name("cdc_types");
    let mut config = cdc_config(&prefix, &database);
    // Debezium's default (long) cannot hold 2^64-1: this test checks the precise mapping.
    config["bigint.unsigned.handling.mode"] = json!("precise");
    let body = json!({"name": "types", "config": config});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&worker, "types", "RUNNING", 1).await;
    exec(&mut conn, "SET time_zone = '+00:00'").await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.t VALUES {row}"),
    )
    .await;
    let topic = format!("{prefix}.{database}.t");
    let records = consume(&topic, Duration::from_secs(90), |seen| seen.len() >= 2).await;
    let expected_rest = json!({
        "ti": -128, "tu": 255, "si": -32768, "mu": 16_777_215, "iu": 4_294_967_295_u64, "bi": i64::MIN,
        "de": "z8c=", "fl": 1.5, "db": 2.25, "d": 19782, "t": -3_020_399_500_000_i64, "dt": 1_704_164_645_123_456_i64,
        "dt0": 946_684_799_000_i64, "ts": "2024-01-02T03:04:05.120Z", "y": 2024, "c": "ab", "vc": "héllo", "tx": "text",
        "l1": "é€", "bin": "AQAAAA==", "vb": "yv4=", "bl": "AP8=", "js": "{\"a\": [1, 2]}", "e": "b", "s": "x,z",
        "b1": true, "b12": "vAo=",
        // SRID + WKB split: LINESTRING(0 0, 1 2) and POINT(1.5 -2), little-endian WKB.
        "g": {"wkb": "AQIAAAACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAPA/AAAAAAAAAEA=", "srid": 4326},
        "p": {"x": 1.5, "y": -2.0, "wkb": "AQEAAAAAAAAAAAD4PwAAAAAAAADA", "srid": 3857},
        "pg": null, "n": null,
    });
    let snapshot = &records[0].1;
    let streamed = &records[1].1;
    assert_eq!(snapshot["op"], "r");
    assert_eq!(streamed["op"], "c");
    let strip_id = |v: &Value| {
        let mut v = v["after"].clone();
        v.as_object_mut().unwrap().remove("id");
        v
    };
    // Debezium prints a snapshot's TIMESTAMP without trailing zeros, a binlog one with the
    // column's digits.
    let mut expected_snapshot = expected_rest.clone();
    expected_snapshot["ts"] = json!("2024-01-02T03:04:05.12Z");
    assert_eq!(strip_id(snapshot), expected_snapshot, "snapshot row");
    assert_eq!(strip_id(streamed), expected_rest, "binlog row");
    assert_eq!(snapshot["after"]["id"], "AQ==");
    // 2^64-1 as Decimal(20,0), never negative.
    assert_eq!(streamed["after"]["id"], "AP//////////");
    worker.stop().await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}
