//! MariaDB restarted mid-stream under write load (issue #17, item 5), on a throwaway server of
//! the test's own (the shared one is never stopped): the process is stopped with SIGTERM (a
//! clean shutdown) or SIGKILL (a crash) for about 10 s and started again on the same data
//! directory and port while a writer keeps inserting rows and incrementing counters.
//!
//! The CDC task must come back by itself (retriable error, backoff, a new binlog stream from
//! the offset of the last record it handed out): RUNNING again without any restart through
//! the REST API. Checked record by record on the topic: every row of the table was created,
//! every counter value from 0 to the final one appears (0 lost), first occurrences per key
//! are in increasing order (0 out of order), and the last event per key is the row's value.
//! Duplicates (allowed by at-least-once) and the recovery time (MariaDB ready → the first
//! change committed after it is in Kafka) are printed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, MySqlConnection};
use tests::throwaway_mariadb::ThrowawayMariaDb;
use tests::{Services, unique_name};

use crate::connect_support::{ClusterNames, call, metric_value, wait_for_state};
use crate::mysql_common::{cdc_config, connect, exec, start_worker};

/// Counters updated over and over: their per-key sequences show loss and reordering.
const HOT_KEYS: i64 = 20;
/// How long the server stays down.
const OUTAGE: Duration = Duration::from_secs(10);
/// Id of the row inserted right after the server is ready again (recovery time).
const RECOVERY_MARKER: i64 = 900_000;
/// Id of the row inserted after the writer stopped (everything before it was read).
const END_MARKER: i64 = 999_999;

#[derive(Clone, Copy, Debug)]
enum Fault {
    Sigterm,
    Sigkill,
}

#[tokio::test]
async fn mariadb_stopped_with_sigterm_mid_stream_cdc_resumes_by_itself() {
    outage_mid_stream(Fault::Sigterm).await;
}

#[tokio::test]
async fn mariadb_killed_with_sigkill_mid_stream_cdc_resumes_by_itself() {
    outage_mid_stream(Fault::Sigkill).await;
}

async fn outage_mid_stream(fault: Fault) {
    let mut server = ThrowawayMariaDb::start().await;
    let url = server.url();
    let mut conn = connect(&url).await;
    let database = unique_name("cdc_outage");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut conn,
        &format!("CREATE TABLE `{database}`.counters (id INT PRIMARY KEY, v INT NOT NULL)"),
    )
    .await;
    let rows: Vec<String> = (1..=HOT_KEYS).map(|id| format!("({id}, 0)")).collect();
    exec(
        &mut conn,
        &format!(
            "INSERT INTO `{database}`.counters VALUES {}",
            rows.join(",")
        ),
    )
    .await;
    drop(conn);

    let names = ClusterNames::unique();
    let prefix = unique_name("cdc_outage");
    let topic = format!("{prefix}.{database}.counters");
    let worker = start_worker(&names).await;
    let body = json!({"name": "cdc", "config": cdc_config(&url, &prefix, &database)});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    wait_for_state(&worker, "cdc", "RUNNING", 1).await;

    let collector = Collector::start(topic.clone());
    let writer = OutageWriter::start(url.clone(), database.clone());
    collector
        .wait(Duration::from_secs(120), "200 streamed changes", |seen| {
            seen.iter().filter(|event| event.op != "r").count() >= 200
        })
        .await;

    let stopped = Instant::now();
    match fault {
        Fault::Sigterm => server.stop().await,
        Fault::Sigkill => server.kill().await,
    }
    let down_after = stopped.elapsed();
    let events_at_stop = collector.len();
    tokio::time::sleep(OUTAGE).await;
    let (_, during) = call(Method::GET, &worker.url("/connectors/cdc/status"), None).await;
    server.start_again().await;
    let ready = Instant::now();
    println!(
        "{fault:?}: process gone after {down_after:?}, down {:?}; task state while down: {}",
        ready.duration_since(stopped),
        during["tasks"][0]["state"]
    );

    // The first change committed after the server is back: its arrival is the recovery time.
    let mut conn = connect_with_retry(&url).await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.counters VALUES ({RECOVERY_MARKER}, 0)"),
    )
    .await;
    collector
        .wait(
            Duration::from_secs(180),
            "the first change after the restart",
            |seen| seen.iter().any(|event| event.id == RECOVERY_MARKER),
        )
        .await;
    let recovery = collector
        .arrival(RECOVERY_MARKER)
        .map(|arrived| arrived.saturating_duration_since(ready));
    // Back to RUNNING by itself: nothing here restarts the connector or the task.
    let status = wait_for_state(&worker, "cdc", "RUNNING", 1).await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    // It got there by retrying (retriable errors, backed off), as Kafka Connect counts them.
    let scrape = worker.scrape().await;
    let retries = metric_value(
        &scrape,
        "kafka_connect_task_error_total_retries",
        &[("connector", "cdc"), ("task", "0")],
    )
    .unwrap_or_default();
    assert!(retries >= 1.0, "retries counted: {retries}");

    // Keep writing a little after the recovery, then an end marker.
    let after_recovery = collector.len();
    collector
        .wait(
            Duration::from_secs(60),
            "changes after the recovery",
            |seen| seen.len() >= after_recovery + 100,
        )
        .await;
    let (writes, write_errors) = writer.stop().await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.counters VALUES ({END_MARKER}, 0)"),
    )
    .await;
    collector
        .wait(Duration::from_secs(120), "the end marker", |seen| {
            seen.iter().any(|event| event.id == END_MARKER)
        })
        .await;
    let table: Vec<(i32, i32)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, v FROM `{database}`.counters"
    )))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let table: BTreeMap<i64, i64> = table
        .into_iter()
        .map(|(id, v)| (i64::from(id), i64::from(v)))
        .collect();
    let events = collector.stop().await;
    let verdict = Verdict::of(&events, &table);
    println!(
        "{fault:?}: {} rows, {writes} writes, {retries} poll retries ({write_errors} statements failed), {} events \
         ({events_at_stop} before the stop); lost {}, out of order {}, duplicates {}, \
         recovery {recovery:?} (MariaDB ready → first new change in Kafka)",
        table.len(),
        events.len(),
        verdict.lost.len(),
        verdict.out_of_order.len(),
        verdict.duplicates
    );
    assert!(
        verdict.lost.is_empty(),
        "lost (key, value): {:?}",
        &verdict.lost[..verdict.lost.len().min(20)]
    );
    assert!(
        verdict.out_of_order.is_empty(),
        "out of order (key, value, after): {:?}",
        &verdict.out_of_order[..verdict.out_of_order.len().min(20)]
    );
    assert!(
        verdict.wrong_last.is_empty(),
        "last event differs from the row (key, row, last): {:?}",
        &verdict.wrong_last[..verdict.wrong_last.len().min(20)]
    );
    assert!(
        events.len() > events_at_stop,
        "events streamed after the restart"
    );
    worker.stop().await;
    drop(server);
}

/// What the topic says against the table.
struct Verdict {
    /// (key, value) committed in the table but never in an event.
    lost: Vec<(i64, i64)>,
    /// (key, value, previous value): a value seen for the first time after a higher one.
    out_of_order: Vec<(i64, i64, i64)>,
    /// (key, row value, last event value or None).
    wrong_last: Vec<(i64, i64, Option<i64>)>,
    /// Events repeating a (key, value) already seen.
    duplicates: usize,
}

impl Verdict {
    fn of(events: &[Event], table: &BTreeMap<i64, i64>) -> Self {
        let mut firsts: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        let mut seen: BTreeSet<(i64, i64)> = BTreeSet::new();
        let mut last: BTreeMap<i64, i64> = BTreeMap::new();
        let mut duplicates = 0;
        for event in events {
            let Some(value) = event.value else { continue };
            last.insert(event.id, value);
            if seen.insert((event.id, value)) {
                firsts.entry(event.id).or_default().push(value);
            } else {
                duplicates += 1;
            }
        }
        let mut verdict = Self {
            lost: Vec::new(),
            out_of_order: Vec::new(),
            wrong_last: Vec::new(),
            duplicates,
        };
        for (&id, &final_value) in table {
            // Every committed value from the insert (0) to the last increment.
            for value in 0..=final_value {
                if !seen.contains(&(id, value)) {
                    verdict.lost.push((id, value));
                }
            }
            if last.get(&id) != Some(&final_value) {
                verdict
                    .wrong_last
                    .push((id, final_value, last.get(&id).copied()));
            }
        }
        for (&id, values) in &firsts {
            for pair in values.windows(2) {
                if pair[1] < pair[0] {
                    verdict.out_of_order.push((id, pair[1], pair[0]));
                }
            }
        }
        verdict
    }
}

/// One change event of the counters table, as read from Kafka.
#[derive(Clone, Debug)]
struct Event {
    id: i64,
    op: String,
    /// `after.v`; `None` for a delete or a tombstone.
    value: Option<i64>,
    arrived: Instant,
}

/// Reads the topic from the start in the background, stamping each event with its arrival.
struct Collector {
    events: Arc<Mutex<Vec<Event>>>,
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<()>,
}

impl Collector {
    fn start(topic: String) -> Self {
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let consumer: StreamConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", Services::from_env().kafka_bootstrap)
            .set("group.id", unique_name("cdc_outage"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("topic.metadata.refresh.interval.ms", "500")
            .create()
            .unwrap();
        consumer.subscribe(&[topic.as_str()]).unwrap();
        let handle = tokio::spawn({
            let (events, stop) = (Arc::clone(&events), Arc::clone(&stop));
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(Ok(message)) =
                        tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await
                    else {
                        continue;
                    };
                    let parse = |bytes: Option<&[u8]>| {
                        bytes.map_or(Value::Null, |bytes| {
                            serde_json::from_slice(bytes).unwrap_or(Value::Null)
                        })
                    };
                    let (key, value) = (parse(message.key()), parse(message.payload()));
                    let Some(id) = key["id"].as_i64() else {
                        continue;
                    };
                    events.lock().unwrap().push(Event {
                        id,
                        op: value["op"].as_str().unwrap_or_default().to_owned(),
                        value: value["after"]["v"].as_i64(),
                        arrived: Instant::now(),
                    });
                }
            }
        });
        Self {
            events,
            stop,
            handle,
        }
    }

    fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// When the first event of row `id` arrived.
    fn arrival(&self, id: i64) -> Option<Instant> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .find(|event| event.id == id)
            .map(|event| event.arrived)
    }

    /// Waits until `done` holds for the events so far.
    async fn wait(&self, timeout: Duration, what: &str, done: impl Fn(&[Event]) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let events = self.events.lock().unwrap();
                if done(&events) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "{what}: not in Kafka after {timeout:?}; {} events, last {:?}",
                    events.len(),
                    events.last()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) -> Vec<Event> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap();
        Arc::try_unwrap(self.events)
            .map(|events| events.into_inner().unwrap())
            .unwrap_or_else(|events| events.lock().unwrap().clone())
    }
}

/// Inserts rows and increments the hot counters until stopped, reconnecting through the
/// outage. A statement that failed may or may not have committed: the table is the truth.
struct OutageWriter {
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicI64>,
    errors: Arc<AtomicU64>,
    handle: tokio::task::JoinHandle<()>,
}

impl OutageWriter {
    fn start(url: String, database: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(AtomicI64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let handle = tokio::spawn({
            let (stop, writes, errors) =
                (Arc::clone(&stop), Arc::clone(&writes), Arc::clone(&errors));
            async move {
                let mut conn: Option<MySqlConnection> = None;
                let mut step: i64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    let Some(current) = conn.as_mut() else {
                        match MySqlConnection::connect(&url).await {
                            Ok(fresh) => conn = Some(fresh),
                            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                        }
                        continue;
                    };
                    step += 1;
                    let sql = if step % 2 == 0 {
                        format!(
                            "INSERT INTO `{database}`.counters VALUES ({}, 0)",
                            1000 + step
                        )
                    } else {
                        format!(
                            "UPDATE `{database}`.counters SET v = v + 1 WHERE id = {}",
                            step % HOT_KEYS + 1
                        )
                    };
                    match sqlx::raw_sql(AssertSqlSafe(sql))
                        .execute(&mut *current)
                        .await
                    {
                        Ok(_) => {
                            writes.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            conn = None;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        Self {
            stop,
            writes,
            errors,
            handle,
        }
    }

    /// Stops; returns (successful writes, failed statements).
    async fn stop(self) -> (i64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap();
        (
            self.writes.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}

async fn connect_with_retry(url: &str) -> MySqlConnection {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match MySqlConnection::connect(url).await {
            Ok(conn) => return conn,
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "MariaDB at {url} did not take connections after its restart: {error}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
