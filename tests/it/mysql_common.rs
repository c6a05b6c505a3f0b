//! Shared pieces of the `mysql_*` tests: connections, a worker with the MySQL plugins, the
//! CDC config, reading a topic, and the check that the change events describe exactly the
//! rows the table holds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use connect::builtin_plugins;
use connect_api::ConnectorPlugin;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, MySqlConnection};
use tests::{START_HINT, Services, unique_name};

use crate::connect_support::{ClusterNames, TestWorker, clients};

pub(crate) async fn connect(url: &str) -> MySqlConnection {
    MySqlConnection::connect(url)
        .await
        .unwrap_or_else(|error| panic!("MariaDB at {url} is unreachable ({error}); {START_HINT}"))
}

pub(crate) async fn shared() -> MySqlConnection {
    connect(&Services::from_env().mysql_url).await
}

pub(crate) async fn exec(conn: &mut MySqlConnection, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The plugins a worker needs for these tests.
pub(crate) fn plugins() -> connect::PluginRegistry {
    builtin_plugins()
        .with(ConnectorPlugin::source(mysql_source::MySqlCdcSource))
        .with(ConnectorPlugin::source(mysql_source::JdbcQuerySource))
}

/// A worker in this process whose registry includes the MySQL plugins.
pub(crate) async fn start_worker(names: &ClusterNames) -> TestWorker {
    TestWorker::start_with_plugins(&clients().await, names.config(), plugins()).await
}

/// Debezium config for the server at `url` (`mysql://user[:password]@host:port`).
pub(crate) fn cdc_config(url: &str, prefix: &str, database: &str) -> Value {
    let rest = url.trim_start_matches("mysql://");
    let (credentials, address) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
    let address = address.split('/').next().unwrap_or(address);
    let (host, port) = address.split_once(':').unwrap_or((address, "3306"));
    json!({
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": host, "database.port": port,
        "database.user": user, "database.password": password,
        "database.server.id": format!("{}", 10_000 + u32::from(rand::random::<u16>())),
        "topic.prefix": prefix, "database.include.list": database,
        "schema.history.internal.kafka.bootstrap.servers": Services::from_env().kafka_bootstrap,
        "schema.history.internal.kafka.topic": format!("{prefix}.history"),
        // Record topics are created by the runtime (KIP-158), as in Kafka Connect.
        "topic.creation.default.replication.factor": "-1",
        "topic.creation.default.partitions": "1",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    })
}

/// The (key, value) pairs of a topic, read so far.
pub(crate) type Records = [(Value, Value)];

/// Reads `topic` from the start until `done` holds for the (key, value) pairs read so far,
/// or until nothing arrived for `idle` when `done` is `None`.
pub(crate) async fn read_topic(
    topic: &str,
    timeout: Duration,
    idle: Duration,
    done: Option<&dyn Fn(&Records) -> bool>,
) -> Vec<(Value, Value)> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", Services::from_env().kafka_bootstrap)
        .set("group.id", unique_name("mysql_test"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "500")
        // librdkafka's default, written out: aborted transactions are never read.
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_arrival = tokio::time::Instant::now();
    let mut seen = Vec::new();
    loop {
        match done {
            Some(done) if done(&seen) => return seen,
            None if !seen.is_empty() && last_arrival.elapsed() >= idle => return seen,
            _ => {}
        }
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            assert!(
                done.is_none(),
                "topic {topic}: condition not met after {timeout:?}; read {} records, last {:?}",
                seen.len(),
                seen.last()
            );
            return seen;
        }
        if let Ok(Ok(message)) =
            tokio::time::timeout(remaining.min(Duration::from_millis(500)), consumer.recv()).await
        {
            let parse = |b: Option<&[u8]>| {
                b.map_or(Value::Null, |b| {
                    serde_json::from_slice(b).unwrap_or(Value::Null)
                })
            };
            seen.push((parse(message.key()), parse(message.payload())));
            last_arrival = tokio::time::Instant::now();
        }
    }
}

/// `items (id INT PRIMARY KEY, name VARCHAR(64))` with `rows` rows, in a new database.
pub(crate) async fn items_table(conn: &mut MySqlConnection, prefix: &str, rows: i64) -> String {
    let database = unique_name(prefix);
    exec(conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        conn,
        &format!("CREATE TABLE `{database}`.items (id INT PRIMARY KEY, name VARCHAR(64))"),
    )
    .await;
    let mut start = 1;
    while start <= rows {
        let end = (start + 999).min(rows);
        let values: Vec<String> = (start..=end).map(|i| format!("({i}, 'row {i}')")).collect();
        exec(
            conn,
            &format!("INSERT INTO `{database}`.items VALUES {}", values.join(",")),
        )
        .await;
        start = end + 1;
    }
    database
}

/// Inserts a row every few milliseconds and renames every tenth one, until stopped.
pub(crate) struct Writer {
    stop: Arc<AtomicBool>,
    next: Arc<AtomicI64>,
    handle: tokio::task::JoinHandle<()>,
}

impl Writer {
    pub(crate) fn start(url: String, database: String, first_id: i64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicI64::new(first_id));
        let handle = tokio::spawn({
            let (stop, next) = (Arc::clone(&stop), Arc::clone(&next));
            async move {
                let mut conn = connect(&url).await;
                while !stop.load(Ordering::Relaxed) {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    exec(
                        &mut conn,
                        &format!("INSERT INTO `{database}`.items VALUES ({id}, 'row {id}')"),
                    )
                    .await;
                    if id % 10 == 0 {
                        exec(
                            &mut conn,
                            &format!(
                                "UPDATE `{database}`.items SET name = 'renamed {id}' WHERE id = {}",
                                id / 10
                            ),
                        )
                        .await;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        Self { stop, next, handle }
    }

    /// Stops and returns the last id inserted.
    pub(crate) async fn stop(self) -> i64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap();
        self.next.load(Ordering::Relaxed) - 1
    }
}

/// The table's rows by primary key.
pub(crate) async fn table_rows(
    conn: &mut MySqlConnection,
    database: &str,
) -> BTreeMap<i64, String> {
    let rows: Vec<(i32, String)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, name FROM `{database}`.items"
    )))
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, name)| (i64::from(id), name))
        .collect()
}

/// Replays the change events by primary key. Every row of the table must have been
/// created (`r`/`c`) at least once and the last event per key must match the row: no loss,
/// duplicates allowed (at-least-once). Returns how many events were duplicates of an
/// already created key.
pub(crate) fn assert_events_match(
    records: &[(Value, Value)],
    expected: &BTreeMap<i64, String>,
) -> usize {
    let mut state: BTreeMap<i64, String> = BTreeMap::new();
    let mut created: BTreeMap<i64, usize> = BTreeMap::new();
    for (key, value) in records {
        let id = key["id"].as_i64().unwrap_or_else(|| panic!("key {key}"));
        match value["op"].as_str() {
            Some("r" | "c") => {
                *created.entry(id).or_default() += 1;
                state.insert(id, value["after"]["name"].as_str().unwrap().to_owned());
            }
            Some("u") => {
                state.insert(id, value["after"]["name"].as_str().unwrap().to_owned());
            }
            Some("d") => {
                state.remove(&id);
            }
            _ => {}
        }
    }
    let lost: Vec<&i64> = expected
        .keys()
        .filter(|id| !created.contains_key(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} rows never appeared, first {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    let wrong: Vec<(&i64, &String, Option<&String>)> = expected
        .iter()
        .filter(|(id, name)| state.get(id) != Some(name))
        .map(|(id, name)| (id, name, state.get(id)))
        .take(10)
        .collect();
    assert!(wrong.is_empty(), "rows whose last event differs: {wrong:?}");
    assert_eq!(state.len(), expected.len(), "no extra rows");
    created.values().map(|n| n - 1).sum()
}
