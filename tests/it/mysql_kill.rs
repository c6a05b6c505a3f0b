//! `kill -9` of a connect worker process running the CDC source, mid-snapshot and then
//! mid-stream with a writer running: after each restart every row comes out at least once
//! and the last event per primary key equals the row.
//!
//! The stock `connect-worker` binary registers only the built-in plugins, so the worker
//! process here is this test binary itself, re-run with `--ignored --exact
//! mysql_kill::worker_process` and `MYSQL_IT_WORKER` set: that entry serves a worker whose
//! registry includes the MySQL plugins until it is killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use broker_core::Shutdown;
use broker_core::telemetry::MetricsRegistry;
use connect::Worker;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{Services, unique_name};

use crate::connect_support::{ClusterNames, TestWorker, call, clients, wait_for_state};
use crate::mysql_common::{
    Writer, assert_events_match, cdc_config, exec, items_table, plugins, read_topic, shared,
    table_rows,
};

const ROWS: i64 = 6000;
/// Rows per snapshot chunk (`snapshot.fetch.size`).
const CHUNK_ROWS: usize = 20;
const WORKER_ENV: &str = "MYSQL_IT_WORKER";

/// The worker process's entry: does nothing unless started by [`spawn_worker`].
#[tokio::test]
#[ignore = "the worker process of kill_nine_mid_snapshot_and_mid_stream_loses_nothing"]
async fn worker_process() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let text = |k: &str| spec[k].as_str().unwrap().to_owned();
    let names = ClusterNames {
        group_id: text("group"),
        configs: text("configs"),
        offsets: text("offsets"),
        statuses: text("statuses"),
    };
    let mut config = names.config();
    config.exactly_once_source = spec["exactly_once"].as_bool().unwrap_or(false);
    let worker = Worker::start(
        config,
        clients().await,
        plugins(),
        &MetricsRegistry::new(),
        Shutdown::new(),
    )
    .await
    .unwrap();
    println!("listening on {}", worker.tcp.local_addr().unwrap());
    worker.serve().await.unwrap();
}

struct WorkerProcess {
    child: Child,
    base: String,
}

impl WorkerProcess {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A [`TestWorker`] view for the status helpers (its shutdown handle is unused).
    fn view(&self) -> TestWorker {
        TestWorker {
            base: self.base.clone(),
            worker_id: String::new(),
            // A separate process: its metrics are not scraped here.
            metrics_url: String::new(),
            shutdown: Shutdown::new(),
            served: tokio::spawn(async {}),
        }
    }

    fn kill_nine(mut self) {
        // Child::kill sends SIGKILL.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn spawn_worker(names: &ClusterNames, exactly_once: bool) -> WorkerProcess {
    let spec = json!({
        "group": names.group_id, "configs": names.configs,
        "offsets": names.offsets, "statuses": names.statuses,
        "exactly_once": exactly_once,
    });
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "mysql_kill::worker_process",
            "--nocapture",
        ])
        .env(WORKER_ENV, spec.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("listening on ") {
                let _ = tx.send(address.to_owned());
            }
        }
    });
    let Ok(address) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = child.kill();
        panic!("the worker process did not start within 60 s");
    };
    WorkerProcess {
        child,
        base: format!("http://{address}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_mid_snapshot_and_mid_stream_loses_nothing() {
    let drill = kill_mid_snapshot_and_mid_stream(false).await;
    println!(
        "at-least-once: {} snapshot rows sent again, {} streamed creations sent again, \
         {} rows both read by the resumed snapshot and streamed, {} duplicate creations in all",
        drill.snapshot_duplicates, drill.stream_duplicates, drill.overlap, drill.duplicates
    );
    // #17 item 6: the offset of every finished snapshot chunk is stored at once, so the
    // restart after the kill mid-snapshot re-reads at most the chunk that was in flight.
    assert!(
        drill.snapshot_duplicates <= 2 * CHUNK_ROWS,
        "{} snapshot rows sent twice, more than two chunks of {CHUNK_ROWS}",
        drill.snapshot_duplicates
    );
}

/// The same drill on a worker with exactly-once source support and the connector's
/// `exactly.once.support=requested`: each poll's records and offsets are one transaction, so
/// a `read_committed` reader sees no snapshot row twice after the kill mid-snapshot and no
/// streamed change twice after the kill mid-stream.
///
/// Rows inserted while the killed snapshot was down can still come twice, once as a
/// snapshot read (`r`) and once as a creation (`c`): the resumed snapshot reads with a new
/// read view, while streaming starts from the position the snapshot began at (see
/// `connectors/mysql-source/src/snapshot.rs`). That overlap is printed, not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_kill_nine_mid_snapshot_sends_no_row_twice() {
    let drill = kill_mid_snapshot_and_mid_stream(true).await;
    println!(
        "exactly-once: {} snapshot rows sent again, {} streamed creations sent again, \
         {} rows both read by the resumed snapshot and streamed, {} duplicate creations in all",
        drill.snapshot_duplicates, drill.stream_duplicates, drill.overlap, drill.duplicates
    );
    assert_eq!(drill.snapshot_duplicates, 0, "snapshot rows sent twice");
    assert_eq!(drill.stream_duplicates, 0, "streamed creations sent twice");
}

/// What a `read_committed` reader saw after both kills.
struct KillDrill {
    /// Snapshot (`op` `r`) events beyond the first per row: the re-send after the kill
    /// mid-snapshot.
    snapshot_duplicates: usize,
    /// Streamed creations (`c`) beyond the first per row: the re-send after the kill
    /// mid-stream.
    stream_duplicates: usize,
    /// Rows with both a snapshot read and a streamed creation (inserted while the
    /// snapshot was interrupted).
    overlap: usize,
    /// Creations (`r`/`c`) beyond the first per row, over both kills.
    duplicates: usize,
}

async fn kill_mid_snapshot_and_mid_stream(exactly_once: bool) -> KillDrill {
    let url = Services::from_env().mysql_url;
    let mut conn = shared().await;
    let database = items_table(&mut conn, "cdc_kill", ROWS).await;
    let names = ClusterNames::unique();
    let prefix = unique_name("cdc_kill");
    let topic = format!("{prefix}.{database}.items");
    let mut config = cdc_config(&url, &prefix, &database);
    if exactly_once {
        config["exactly.once.support"] = json!("requested");
    }
    config["snapshot.fetch.size"] = json!(CHUNK_ROWS.to_string());
    config["max.batch.size"] = json!(CHUNK_ROWS.to_string());

    let first = spawn_worker(&names, exactly_once);
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
    first.kill_nine();
    let at_kill = read_topic(
        &topic,
        Duration::from_secs(30),
        Duration::from_secs(3),
        None,
    )
    .await;
    println!("killed after {} of {ROWS} snapshot rows", at_kill.len());
    assert!(
        at_kill.len() < usize::try_from(ROWS).unwrap(),
        "the kill came mid-snapshot"
    );

    let writer = Writer::start(url.clone(), database.clone(), 100_001);
    let restarted = std::time::Instant::now();
    let second = spawn_worker(&names, exactly_once);
    let resumed = time_to_more_events(&topic, at_kill.len(), restarted).await;
    wait_for_state(&second.view(), "cdc", "RUNNING", 1).await;
    read_topic(
        &topic,
        Duration::from_secs(180),
        Duration::ZERO,
        Some(&|seen| seen.iter().filter(|(_, v)| v["op"] == "c").count() >= 100),
    )
    .await;
    second.kill_nine();
    // Writes go on while no worker runs.
    let at_second_kill = read_topic(
        &topic,
        Duration::from_secs(30),
        Duration::from_secs(2),
        None,
    )
    .await
    .len();
    let restarted = std::time::Instant::now();
    let third = spawn_worker(&names, exactly_once);
    let resumed_streaming = time_to_more_events(&topic, at_second_kill, restarted).await;
    println!(
        "mysql source kill -9: first event {resumed:?} after the restart mid-snapshot, \
         {resumed_streaming:?} after the restart mid-stream"
    );
    wait_for_state(&third.view(), "cdc", "RUNNING", 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let last = writer.stop().await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (999999, 'marker')"),
    )
    .await;
    let records = read_topic(
        &topic,
        Duration::from_secs(180),
        Duration::ZERO,
        Some(&|seen| seen.iter().any(|(_, v)| v["after"]["id"] == 999_999)),
    )
    .await;
    let expected = table_rows(&mut conn, &database).await;
    let duplicates = assert_events_match(&records, &expected);
    let snapshot_reads = creations_by_row(&records, "r");
    let streamed = creations_by_row(&records, "c");
    let snapshot_duplicates: usize = snapshot_reads.values().map(|n| n - 1).sum();
    let stream_duplicates: usize = streamed.values().map(|n| n - 1).sum();
    let overlap = streamed
        .keys()
        .filter(|id| snapshot_reads.contains_key(id))
        .count();
    println!(
        "{} rows ({ROWS} snapshot, {} streamed), {} events, {duplicates} duplicate creations",
        expected.len(),
        last - 100_000,
        records.len()
    );
    third.kill_nine();
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
    KillDrill {
        snapshot_duplicates,
        stream_duplicates,
        overlap,
        duplicates,
    }
}

/// How many events of kind `op` each row has.
fn creations_by_row(
    records: &[(Value, Value)],
    op: &str,
) -> std::collections::BTreeMap<i64, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for (key, value) in records {
        if value["op"] == op {
            *counts.entry(key["id"].as_i64().unwrap()).or_default() += 1;
        }
    }
    counts
}

/// Time from `since` until `topic` holds more than `before` events.
async fn time_to_more_events(topic: &str, before: usize, since: std::time::Instant) -> Duration {
    read_topic(
        topic,
        Duration::from_secs(180),
        Duration::ZERO,
        Some(&|seen| seen.len() > before),
    )
    .await;
    since.elapsed()
}
