//! The disaster-recovery drill of #15 against real brokers: cluster A is a throwaway broker
//! of this test (its process is SIGKILLed; the shared cluster A is never touched), B is the
//! shared cluster B.
//!
//! Producers on A, two groups on A (one lagging, one caught up), the A → B mirror running;
//! the mirror falls behind (stops), a burst of records is acknowledged by A and A's broker
//! is killed at once while a producer keeps writing. Failover with A unreachable: every group resumes on B exactly where it
//! stopped on A (0 re-read, 0 skipped among the records B holds) and the RPO printed is at
//! most what was lost. A comes back; producers wrote on B in between and the groups read
//! on; the B → A mirror copies back; failback: the groups resume on A at the inverse
//! positions on the original topic and at the translated ones on `B.<topic>`, everything
//! written on B is on A, and the RPO window printed is exactly the records A holds that
//! never reached B.
//!
//! The drill runs in both delivery modes. With exactly-once, transaction markers take
//! offsets on the target, so offsets differ between A and B; the checks compare the next
//! record a group reads on each side (by the id in its key), which is what "0 re-read, 0
//! skipped" means. With at-least-once the offsets must also be equal.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use broker_core::KafkaClients;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tests::throwaway_broker::ThrowawayBroker;
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{
    MirrorProcess, RunningMirror, committed_offsets, high_watermarks, produce_numbered,
    wait_for_copied,
};

const PARTITIONS: i32 = 2;
/// Records on A before the groups commit.
const BEFORE: u32 = 400;
/// Acknowledged by A after the mirror fell behind, just before A's broker is killed.
const BURST: u32 = 20_000;
/// Written on B during the outage.
const ON_B: u32 = 300;
/// Ids of records written on B start here.
const B_IDS: u32 = 1_000_000;

/// Partition → offset.
type Offsets = BTreeMap<i32, i64>;
/// Group → its offsets.
type GroupOffsets = BTreeMap<String, Offsets>;
/// Partition → its `(offset, id)` records.
type Logs = BTreeMap<i32, Vec<(i64, u32)>>;

/// `mm2.properties` for the throwaway A and the shared B with the given flow lines.
fn text(a: &str, b: &str, flows: &str, group: &str, mode: &str) -> String {
    format!(
        "clusters = A, B\nA.bootstrap.servers = {a}\nB.bootstrap.servers = {b}\n{flows}{mode}\n\
         replication.factor = 1\ncheckpoints.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\noffset-syncs.topic.replication.factor = 1\n\
         refresh.topics.interval.seconds = 1\nrefresh.groups.interval.seconds = 1\n\
         offset.flush.interval.ms = 200\nemit.checkpoints.interval.seconds = 1\n\
         heartbeats.replication.enabled = false\nreplication.group.id = {group}\n"
    )
}

/// `(offset, id)` of every record of `topic`[`partition`] from `from` to the end.
fn read_partition(
    clients: &KafkaClients,
    topic: &str,
    partition: i32,
    from: i64,
) -> Vec<(i64, u32)> {
    let mut config = clients.consumer_config(&unique_name("drill_reader"));
    // Transaction markers take the last offsets of a partition written with exactly-once:
    // no record reaches the high watermark, the end of the partition does.
    config.set("enable.partition.eof", "true");
    let consumer: BaseConsumer = config.create().expect("reader");
    let (_, high) = consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(30))
        .expect("watermarks");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Offset(from))
        .expect("offset");
    consumer.assign(&assignment).expect("assign");
    let mut seen = Vec::new();
    let mut position = from;
    let deadline = Instant::now() + Duration::from_secs(120);
    while position < high {
        assert!(
            Instant::now() < deadline,
            "{topic}[{partition}] stuck at {position} of {high}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(500)) {
            let message = match message {
                Err(rdkafka::error::KafkaError::PartitionEOF(_)) => break,
                other => other.expect("record"),
            };
            let key = std::str::from_utf8(message.key().expect("key")).expect("utf-8");
            seen.push((message.offset(), key.parse().expect("numbered key")));
            position = message.offset() + 1;
        }
    }
    seen
}

/// Commits `offsets` (partition → offset) of `topic` for `group`, memberless.
fn commit(clients: &KafkaClients, group: &str, topic: &str, offsets: &BTreeMap<i32, i64>) {
    let mut config = clients.consumer_config(group);
    config.set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().expect("consumer");
    let mut list = TopicPartitionList::new();
    for (partition, offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("offset");
    }
    consumer.commit(&list, CommitMode::Sync).expect("commit");
}

/// Runs `kafka-gateway mirror <command>`; exit code, stdout, stderr.
fn run_cli(properties: &str, command: &str, args: &[&str]) -> (i32, String, String) {
    let dir = std::env::temp_dir().join(unique_name("drill"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mm2.properties");
    std::fs::write(&path, properties).expect("properties");
    let output = Command::new(tests::process::gateway_binary())
        .args(["mirror", command, "--config"])
        .arg(&path)
        .args(args)
        .output()
        .expect("kafka-gateway runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A producer writing numbered records to A one by one until told to stop; the ids A
/// acknowledged.
fn keep_producing(
    a: &KafkaClients,
    topic: &str,
    first: u32,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<u32>> {
    let mut config = a.producer_config();
    config.set("message.timeout.ms", "2000");
    let producer: FutureProducer = config.create().expect("producer");
    let topic = topic.to_owned();
    tokio::spawn(async move {
        let mut acked = Vec::new();
        let mut id = first;
        while !stop.load(Ordering::Relaxed) {
            let key = format!("{id:08}");
            let partition = i32::try_from(id).expect("id") % PARTITIONS;
            let record = FutureRecord::to(&topic)
                .key(&key)
                .payload("steady")
                .partition(partition);
            if producer.send(record, Duration::from_secs(3)).await.is_ok() {
                acked.push(id);
            }
            id += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        acked
    })
}

/// Waits until B holds a checkpoint of each group at its commit on A.
async fn wait_for_checkpoints(
    config: &mirror::ValidatedMirror,
    groups: &BTreeMap<String, BTreeMap<i32, i64>>,
) {
    let pattern = format!(
        "^({})$",
        groups.keys().cloned().collect::<Vec<_>>().join("|")
    );
    let options = mirror::failover::FailoverOptions {
        from: "A".to_owned(),
        to: "B".to_owned(),
        groups: Some(regex::Regex::new(&pattern).expect("regex")),
        dry_run: true,
        force: false,
        source_timeout: Duration::from_secs(5),
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let report = mirror::failover::failover(config, &options)
            .await
            .expect("dry run");
        let seen: BTreeMap<String, BTreeMap<i32, i64>> = report
            .groups
            .iter()
            .map(|g| {
                let at = g
                    .partitions
                    .iter()
                    .filter_map(|p| Some((p.partition, p.checkpoint_offset?)))
                    .collect();
                (g.group.clone(), at)
            })
            .collect();
        if &seen == groups {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "checkpoints on B: {seen:?}, want {groups:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn ids(records: &[(i64, u32)]) -> Vec<u32> {
    records.iter().map(|(_, id)| *id).collect()
}

/// The id of the record a group committed at `offset` reads next; None at the end.
fn next_id(log: &[(i64, u32)], offset: i64) -> Option<u32> {
    log.iter().find(|(at, _)| *at >= offset).map(|(_, id)| *id)
}

/// Partition → its `(offset, id)` records from offset 0.
fn logs(clients: &KafkaClients, topic: &str) -> BTreeMap<i32, Vec<(i64, u32)>> {
    (0..PARTITIONS)
        .map(|p| (p, read_partition(clients, topic, p, 0)))
        .collect()
}

/// Each group on `to` reads next what it would have read next on `from`, among the
/// records `from_logs` lists; with at-least-once the offsets are also the same.
fn assert_same_next_records(
    what: &str,
    exactly_once: bool,
    (from, from_logs): (&GroupOffsets, &Logs),
    (to, to_logs): (&GroupOffsets, &Logs),
) {
    for (group, offsets) in from {
        for (partition, offset) in offsets {
            let moved = to[group].get(partition).copied();
            let moved =
                moved.unwrap_or_else(|| panic!("{what}: {group}[{partition}] not committed"));
            assert_eq!(
                next_id(&to_logs[partition], moved),
                next_id(&from_logs[partition], *offset),
                "{what}: {group}[{partition}] at {offset} moved to {moved}"
            );
        }
        if !exactly_once {
            assert_eq!(
                &to[group], offsets,
                "{what}: {group}, offsets equal with at-least-once"
            );
        }
    }
}

fn committed_by_group(
    clients: &KafkaClients,
    groups: impl Iterator<Item = String>,
    topic: &str,
) -> BTreeMap<String, Offsets> {
    groups
        .map(|group| {
            let offsets = committed_offsets(clients, &group, topic, PARTITIONS);
            (group, offsets)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn groups_fail_over_when_a_dies_and_fail_back_when_it_returns() {
    drill("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_exactly_once_groups_fail_over_and_back_reading_neither_twice_nor_never() {
    drill("exactly.once.support = enabled").await;
}

/// The drill with `mode` added to both flows' properties.
#[allow(clippy::too_many_lines)] // one scenario, stage by stage, as the runbook reads
async fn drill(mode: &str) {
    let exactly_once = !mode.is_empty();
    let services = Services::from_env();
    let mut broker = ThrowawayBroker::start().await;
    let a = broker.clients();
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("drill");
    let remote = format!("A.{topic}");
    let back_remote = format!("B.{topic}");
    create_topic(&a, &topic, PARTITIONS).await;
    let producer: FutureProducer = a.producer().expect("producer");
    produce_numbered(&producer, &topic, 0..BEFORE, PARTITIONS).await;

    // Before the disaster: A -> B runs, the groups commit on A and are checkpointed on B.
    let out_text = text(
        &broker.bootstrap(),
        &services.kafka_b_bootstrap,
        &format!("A->B.enabled = true\nA->B.topics = {topic}\n"),
        &unique_name("__drill_out"),
        mode,
    );
    let out_config = mirror::parse_properties(&out_text).expect("properties");
    let mirror = RunningMirror::start(out_config.clone());
    wait_for_copied(&b, &remote, i64::from(BEFORE) - 1).await;
    let lagging = unique_name("drill_lagging");
    let caught_up = unique_name("drill_caught_up");
    let half = i64::from(BEFORE) / i64::from(PARTITIONS);
    let on_a: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::from([
        (lagging.clone(), BTreeMap::from([(0, 70), (1, 67)])),
        (caught_up.clone(), BTreeMap::from([(0, half), (1, half)])),
    ]);
    for (group, offsets) in &on_a {
        commit(&a, group, &topic, offsets);
    }
    wait_for_checkpoints(&out_config, &on_a).await;

    // The disaster: a producer writing all along, copied while the mirror runs; the mirror
    // falls behind (it stops: a mirror copying as fast as A takes records would leave
    // nothing to lose), a burst A acknowledges, and A's broker is killed while the producer
    // still writes.
    let stop = Arc::new(AtomicBool::new(false));
    let steady = keep_producing(&a, &topic, BEFORE + BURST, stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    mirror.crash().await;
    produce_numbered(&producer, &topic, BEFORE..BEFORE + BURST, PARTITIONS).await;
    broker.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let steady_acked = steady.await.expect("producer task");
    drop(producer);

    // Failover with A unreachable.
    let group_regex = format!("^({lagging}|{caught_up})$");
    let started = Instant::now();
    let (code, out, err) = run_cli(
        &out_text,
        "failover",
        &[
            "--from",
            "A",
            "--to",
            "B",
            "--group",
            &group_regex,
            "--output",
            "json",
            "--source-timeout-seconds",
            "2",
        ],
    );
    let failover_took = started.elapsed();
    assert_eq!(code, 0, "{out}{err}");
    let failover: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(failover["source_reachable"], false, "{out}");
    for group in failover["groups"].as_array().expect("groups") {
        assert_eq!(group["outcome"], "committed", "{out}");
        for row in group["partitions"].as_array().expect("rows") {
            assert_eq!(row["skip"].as_i64(), Some(0), "{out}");
        }
    }
    let rpo_at_failover: i64 = failover["rpo"]
        .as_array()
        .expect("rpo")
        .iter()
        .filter(|r| r["source_topic"] == topic.as_str())
        .map(|r| r["missing_at_least"].as_i64().unwrap_or(0))
        .sum();
    eprintln!("failover without A took {failover_took:?}; RPO printed: at least {rpo_at_failover}");
    // Where every group resumes on B; checked once A's log can be read again.
    let failed_over = committed_by_group(&b, on_a.keys().cloned(), &remote);

    // The outage: producers write on B, the groups read on on B.
    create_topic(&b, &topic, PARTITIONS).await;
    let b_producer: FutureProducer = b.producer().expect("producer");
    produce_numbered(&b_producer, &topic, B_IDS..B_IDS + ON_B, PARTITIONS).await;
    let b_ends = high_watermarks(&b, &remote).await;
    let on_b: BTreeMap<String, (Offsets, Offsets)> = BTreeMap::from([
        (
            lagging.clone(),
            (
                failed_over[&lagging]
                    .iter()
                    .map(|(p, o)| (*p, (o + 20).min(b_ends[p])))
                    .collect(),
                BTreeMap::from([(0, 10), (1, 13)]),
            ),
        ),
        (
            caught_up.clone(),
            (b_ends.clone(), high_watermarks(&b, &topic).await),
        ),
    ]);
    for (group, (original, written)) in &on_b {
        commit(&b, group, &remote, original);
        commit(&b, group, &topic, written);
    }

    // A returns; B -> A copies what was written on B (A -> B stays stopped).
    broker.start_again().await;
    let back_text = text(
        &broker.bootstrap(),
        &services.kafka_b_bootstrap,
        &format!("B->A.enabled = true\nB->A.topics = {topic}\n"),
        &unique_name("__drill_back"),
        mode,
    );
    // Its own process, so that its log tells why if it does not copy.
    let back = MirrorProcess::start(&back_text);
    let copying = Instant::now();
    while high_watermarks(&a, &back_remote)
        .await
        .values()
        .sum::<i64>()
        < i64::from(ON_B)
    {
        assert!(
            copying.elapsed() < Duration::from_secs(120),
            "B->A did not copy {ON_B} records in 120 s; its log:\n{}",
            back.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // What was lost: records on A past what B holds, by partition.
    let a_ends = high_watermarks(&a, &topic).await;
    let mut lost = 0;
    // Partition → how many of A's records B holds (A's offsets are dense: plain producers).
    let mut copied = Offsets::new();
    let mut a_logs = BTreeMap::new();
    let remote_logs = logs(&b, &remote);
    for partition in 0..PARTITIONS {
        let on_a_log = read_partition(&a, &topic, partition, 0);
        let on_b_log = &remote_logs[&partition];
        copied.insert(partition, i64::try_from(on_b_log.len()).expect("count"));
        assert_eq!(
            ids(&on_a_log[..on_b_log.len()]),
            ids(on_b_log),
            "B's copy of partition {partition} is a prefix of A's"
        );
        lost += i64::try_from(on_a_log.len() - on_b_log.len()).expect("count");
        assert_eq!(
            a_ends[&partition],
            i64::try_from(on_a_log.len()).expect("count")
        );
        a_logs.insert(partition, on_a_log);
    }
    // Every group resumed on B where it stopped on A: it read next on B the record it
    // would have read next on A, among the records B holds (with at-least-once the copy
    // starts at offset 0 of A with nothing duplicated, so B's offsets are A's).
    let held_by_b: BTreeMap<i32, Vec<(i64, u32)>> = a_logs
        .iter()
        .map(|(p, log)| (*p, log[..remote_logs[p].len()].to_vec()))
        .collect();
    assert_same_next_records(
        "failover",
        exactly_once,
        (&on_a, &held_by_b),
        (&failed_over, &remote_logs),
    );
    // Nothing A acknowledged was lost by A itself (the process died, the page cache did not).
    let on_a_ids: std::collections::BTreeSet<u32> = (0..PARTITIONS)
        .flat_map(|p| ids(&read_partition(&a, &topic, p, 0)))
        .collect();
    assert!(steady_acked.iter().all(|id| on_a_ids.contains(id)));
    assert!(
        lost > 0,
        "the drill lost nothing: the mirror copied the whole burst before the kill"
    );
    assert!(
        rpo_at_failover <= lost,
        "the failover's RPO without A ({rpo_at_failover}) is a lower bound of what was lost ({lost})"
    );

    // Failback, dry run then real.
    let fb_args = [
        "--from",
        "B",
        "--to",
        "A",
        "--group",
        &group_regex,
        "--output",
        "json",
    ];
    let mut dry_args = fb_args.to_vec();
    dry_args.push("--dry-run");
    let (code, out, err) = run_cli(&back_text, "failback", &dry_args);
    assert_eq!(code, 0, "{out}{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(plan["caught_up"], true, "{out}");
    let window: Vec<&serde_json::Value> = plan["rpo_window"]
        .as_array()
        .expect("window")
        .iter()
        .filter(|r| r["topic"] == topic.as_str())
        .collect();
    assert_eq!(
        window.len(),
        usize::try_from(PARTITIONS).expect("partitions"),
        "{out}"
    );
    for row in &window {
        let partition = i32::try_from(row["partition"].as_i64().expect("partition")).expect("i32");
        assert_eq!(
            row["from_offset"].as_i64(),
            Some(copied[&partition]),
            "{out}"
        );
        assert_eq!(row["to_offset"].as_i64(), Some(a_ends[&partition]), "{out}");
    }
    let window_records: i64 = window
        .iter()
        .map(|r| r["records"].as_i64().expect("n"))
        .sum();
    assert_eq!(window_records, lost, "{out}");

    let started = Instant::now();
    let (code, out, err) = run_cli(&back_text, "failback", &fb_args);
    let failback_took = started.elapsed();
    assert_eq!(code, 0, "{out}{err}");
    eprintln!("failback took {failback_took:?}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    for group in report["groups"].as_array().expect("groups") {
        assert_eq!(group["outcome"], "committed", "{out}");
        for row in group["partitions"].as_array().expect("rows") {
            assert_eq!(
                (
                    row["exact"].as_bool(),
                    row["re_read"].as_i64(),
                    row["skip"].as_i64()
                ),
                (Some(true), Some(0), Some(0)),
                "{out}"
            );
        }
    }

    // The groups resume on A: the original topic where they stopped on B (among the
    // records B held; the RPO window ahead of them, never skipped), the records written on
    // B on `B.<topic>` where they stopped on B's topic.
    let originals: BTreeMap<String, Offsets> = on_b
        .iter()
        .map(|(g, (o, _))| (g.clone(), o.clone()))
        .collect();
    let writtens: BTreeMap<String, Offsets> = on_b
        .iter()
        .map(|(g, (_, w))| (g.clone(), w.clone()))
        .collect();
    let back_on_a = committed_by_group(&a, on_b.keys().cloned(), &topic);
    for (group, offsets) in &back_on_a {
        for (partition, offset) in offsets {
            assert!(
                *offset <= copied[partition],
                "{group}[{partition}] skips into the window"
            );
        }
    }
    assert_same_next_records(
        "failback, original topic",
        exactly_once,
        (&originals, &remote_logs),
        (&back_on_a, &held_by_b),
    );
    assert_same_next_records(
        "failback, topic written on B",
        exactly_once,
        (&writtens, &logs(&b, &topic)),
        (
            &committed_by_group(&a, on_b.keys().cloned(), &back_remote),
            &logs(&a, &back_remote),
        ),
    );
    // Everything written on B is on A.
    let copied_back: std::collections::BTreeSet<u32> = (0..PARTITIONS)
        .flat_map(|p| ids(&read_partition(&a, &back_remote, p, 0)))
        .collect();
    assert_eq!(copied_back, (B_IDS..B_IDS + ON_B).collect());
    back.stop().await;
    println!(
        "drill: {lost} record(s) lost, failover {failover_took:?} (RPO printed >= {rpo_at_failover}), failback {failback_took:?}"
    );
}
