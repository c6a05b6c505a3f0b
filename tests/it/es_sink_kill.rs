//! `kill -9` of the worker running the sink, mid-run: a new worker resumes from the last
//! committed consumer offset, replays overwrite the same ids (`topic+partition+offset`), and
//! the index ends with every record exactly once.
//!
//! The worker runs in a child process: this test binary started again with only
//! [`worker_process`] selected, which serves a worker with the Elasticsearch sink until killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tests::{create_topic, unique_name};

use crate::connect_support::{ClusterNames, clients};
use crate::es_sink_support::{
    count, create_connector, delete_index, documents, payload, produce, search_url, sink_config,
    start_worker_with, wait_for_count,
};

const RECORDS: u64 = 20_000;
const CHILD_ENV: &str = "ES_SINK_KILL_CHILD";

/// Not a test of its own: the body of the worker process the kill test starts and kills.
#[tokio::test]
#[ignore = "started as a child process by a_killed_worker_loses_nothing"]
async fn worker_process() {
    let names = std::env::var(CHILD_ENV).expect("run by a_killed_worker_loses_nothing only");
    let parts: Vec<&str> = names.split(',').collect();
    let names = ClusterNames {
        group_id: parts[0].to_owned(),
        configs: parts[1].to_owned(),
        offsets: parts[2].to_owned(),
        statuses: parts[3].to_owned(),
    };
    let worker = start_worker_with(&clients().await, names.config()).await;
    println!("listening on {}", worker.base);
    tokio::time::sleep(Duration::from_secs(600)).await;
}

struct ChildWorker {
    child: Child,
    base: String,
}

fn spawn_worker(names: &ClusterNames) -> ChildWorker {
    let joined = [
        &names.group_id,
        &names.configs,
        &names.offsets,
        &names.statuses,
    ]
    .map(String::as_str)
    .join(",");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "es_sink_kill::worker_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, joined)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some((_, base)) = line.split_once("listening on ") {
                let _ = sender.send(base.to_owned());
            }
        }
    });
    let Ok(base) = receiver.recv_timeout(Duration::from_secs(90)) else {
        let _ = child.kill();
        panic!("the child worker did not start within 90 s");
    };
    ChildWorker { child, base }
}

#[tokio::test]
async fn a_killed_worker_loses_nothing() {
    let clients = clients().await;
    let search = search_url().await;
    let topic = unique_name("es_sink_kill");
    create_topic(&clients, &topic, 1).await;
    let names = ClusterNames::unique();
    let records: Vec<_> = (0..RECORDS)
        .map(|i| (Some(format!("k{i}")), Some(payload(i, 1024))))
        .collect();
    produce(&clients, &topic, &records).await;

    let mut first = spawn_worker(&names);
    let worker = crate::connect_support::TestWorker {
        base: first.base.clone(),
        worker_id: String::new(),
        // A separate process: its metrics are not scraped here.
        metrics_url: String::new(),
        shutdown: broker_core::Shutdown::new(),
        served: tokio::spawn(async {}),
    };
    create_connector(
        &worker,
        "es-kill",
        sink_config(
            &search,
            &topic,
            &json!({
        "key.ignore": "true", "batch.size": "500"}),
        ),
    )
    .await;
    // Kill -9 once part of the records are indexed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let indexed = count(&search, &topic).await;
        if indexed >= RECORDS / 5 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {indexed} indexed after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.child.kill().unwrap();
    let _ = first.child.wait();
    let at_kill = count(&search, &topic).await;
    assert!(
        at_kill < RECORDS,
        "the kill came too late to test anything ({at_kill} indexed)"
    );
    println!("killed the worker with {at_kill} of {RECORDS} records indexed");

    // Recovery: from the restart (a new process with the same group and topics) to the
    // first document indexed after it, and to the last.
    let restarted = std::time::Instant::now();
    let mut second = spawn_worker(&names);
    let first_after = loop {
        if count(&search, &topic).await > at_kill {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(180),
            "nothing indexed within 180 s of the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_for_count(&search, &topic, RECORDS, Duration::from_secs(180)).await;
    println!(
        "connect worker (ES sink) kill -9: first document {first_after:?} and all {RECORDS} \
         {:?} after the restart",
        restarted.elapsed()
    );
    let docs = documents(&search, &topic).await;
    assert_eq!(docs.len() as u64, RECORDS);
    for offset in 0..RECORDS {
        assert_eq!(docs[&format!("{topic}+0+{offset}")]["i"], offset);
    }
    let _ = second.child.kill();
    let _ = second.child.wait();
    delete_index(&search, &topic).await;
}
