//! `kafka-gateway mirror failover` against real clusters A and B: groups move to B at
//! exactly translated offsets (0 re-read, 0 skipped, checked record by record on B), the
//! RPO equals the records A holds that B does not, the command works from B's checkpoints
//! (and A's log ends the running mirror recorded on B) while A is unreachable, and a group
//! active on B is refused with exit code 3.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use broker_core::KafkaClients;
use mirror::failover::{FailoverOptions, FailoverReport, GroupOutcome};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{
    RunningMirror, produce_numbered, properties, properties_text, wait_for_copied,
};

const PARTITIONS: i32 = 2;
const RECORDS: u32 = 1000;
/// Written while the mirror is stopped: what B lacks.
const UNCOPIED: u32 = 50;

/// Reads `count` records of `topic` (all partitions, from the beginning) as `group` and
/// commits the next offset of each partition; returns the commits.
fn consume_and_commit(
    clients: &KafkaClients,
    group: &str,
    topic: &str,
    count: usize,
) -> BTreeMap<i32, i64> {
    let mut config = clients.consumer_config(group);
    config.set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut next = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut read = 0;
    while read < count {
        assert!(
            Instant::now() < deadline,
            "read only {read} of {count} on {topic}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(500)) {
            let message = message.expect("record");
            next.insert(message.partition(), message.offset() + 1);
            read += 1;
        }
    }
    let mut commit = TopicPartitionList::new();
    for (partition, offset) in &next {
        commit
            .add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("offset");
    }
    consumer.commit(&commit, CommitMode::Sync).expect("commit");
    next
}

/// The keys `group` reads on `topic` of B from its committed offsets to the end, per partition.
fn read_from_committed(
    clients: &KafkaClients,
    group: &str,
    topic: &str,
) -> BTreeMap<i32, Vec<u32>> {
    let mut config = clients.consumer_config(group);
    config.set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().expect("consumer");
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        partitions.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(partitions, Duration::from_secs(30))
        .expect("committed offsets");
    let mut keys: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
    for element in committed.elements() {
        // A partition the group never committed on A has no commit on B either.
        let Offset::Offset(from) = element.offset() else {
            continue;
        };
        let (_, high) = consumer
            .fetch_watermarks(topic, element.partition(), Duration::from_secs(30))
            .expect("watermarks");
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, element.partition(), Offset::Offset(from))
            .expect("offset");
        consumer.assign(&assignment).expect("assign");
        let seen = keys.entry(element.partition()).or_default();
        let mut position = from;
        let deadline = Instant::now() + Duration::from_secs(60);
        while position < high {
            assert!(
                Instant::now() < deadline,
                "{topic}[{}] stuck at {position}",
                element.partition()
            );
            if let Some(message) = consumer.poll(Duration::from_millis(500)) {
                let message = message.expect("record");
                let key = std::str::from_utf8(message.key().expect("key")).expect("utf-8");
                seen.push(key.parse().expect("numbered key"));
                position = message.offset() + 1;
            }
        }
    }
    keys
}

/// The ids a group that committed `next` (per partition) on A has not read yet, per
/// partition: [`produce_numbered`] puts id `i` at offset `i / PARTITIONS` of `i % PARTITIONS`.
fn unread_ids(next: &BTreeMap<i32, i64>, ids: std::ops::Range<u32>) -> BTreeMap<i32, Vec<u32>> {
    let mut unread: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
    for id in ids {
        let partition = i32::try_from(id).expect("id") % PARTITIONS;
        let offset = i64::from(id) / i64::from(PARTITIONS);
        if offset >= next.get(&partition).copied().unwrap_or(0) {
            unread.entry(partition).or_default().push(id);
        }
    }
    unread
}

fn options(groups: &str, dry_run: bool) -> FailoverOptions {
    FailoverOptions {
        from: "A".to_owned(),
        to: "B".to_owned(),
        groups: Some(regex::Regex::new(groups).expect("regex")),
        dry_run,
        force: false,
        source_timeout: Duration::from_secs(5),
    }
}

/// Runs the command line and returns its exit code and stdout.
fn run_cli(properties: &str, args: &[&str]) -> (i32, String) {
    let dir = std::env::temp_dir().join(unique_name("failover"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mm2.properties");
    std::fs::write(&path, properties).expect("properties");
    let output = Command::new(tests::process::gateway_binary())
        .args(["mirror", "failover", "--config"])
        .arg(&path)
        .args(["--from", "A", "--to", "B"])
        .args(args)
        .output()
        .expect("kafka-gateway runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (
        output.status.code().unwrap_or(-1),
        format!("{stdout}{stderr}"),
    )
}

/// Waits until B holds a checkpoint of every partition of `group` at exactly `next`.
async fn wait_for_checkpoints(topic: &str, group: &str, next: &BTreeMap<i32, i64>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report = mirror::failover::failover(
            &properties(topic, ""),
            &options(&format!("^{group}$"), true),
        )
        .await
        .expect("dry run");
        let at: BTreeMap<i32, i64> = report
            .groups
            .iter()
            .flat_map(|g| &g.partitions)
            .filter_map(|p| Some((p.partition, p.checkpoint_offset?)))
            .collect();
        if &at == next {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "checkpoints of {group} on B: {at:?}, want {next:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until a failover without A sees, for every partition, A's log end as recorded on
/// B by the running mirror.
async fn wait_for_seen_ends(unreachable: &str, topic: &str) {
    let config = mirror::parse_properties(unreachable).expect("properties");
    let mut blind = options(".*", true);
    blind.source_timeout = Duration::from_secs(1);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report = mirror::failover::failover(&config, &blind)
            .await
            .expect("dry run without A");
        let seen = report
            .rpo
            .iter()
            .filter(|r| r.source_topic == topic && r.missing_at_least == Some(0))
            .count();
        if seen == usize::try_from(PARTITIONS).expect("partitions") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "A's log ends never recorded on B: {:?}",
            report.rpo
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn groups_move_to_b_exactly_and_the_rpo_is_what_b_lacks() {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("failover");
    let remote = format!("A.{topic}");
    create_topic(&a, &topic, PARTITIONS).await;
    let producer = a.producer().expect("producer");
    produce_numbered(&producer, &topic, 0..RECORDS, PARTITIONS).await;

    let mirror = RunningMirror::start(properties(&topic, ""));
    wait_for_copied(&b, &remote, i64::from(RECORDS) - 1).await;
    let lagging = unique_name("failover_lagging");
    let caught_up = unique_name("failover_caught_up");
    let (a1, t1, g1) = (a.clone(), topic.clone(), lagging.clone());
    let lagging_next = tokio::task::spawn_blocking(move || consume_and_commit(&a1, &g1, &t1, 337))
        .await
        .expect("consume");
    let (a2, t2, g2) = (a.clone(), topic.clone(), caught_up.clone());
    let caught_up_next =
        tokio::task::spawn_blocking(move || consume_and_commit(&a2, &g2, &t2, RECORDS as usize))
            .await
            .expect("consume");
    wait_for_checkpoints(&topic, &lagging, &lagging_next).await;
    wait_for_checkpoints(&topic, &caught_up, &caught_up_next).await;
    // The running mirror records A's log ends on B: what a failover without A knows.
    let text = properties_text(&topic, "");
    let unreachable = text.replace(
        &services.kafka_bootstrap,
        &format!("127.0.0.1:{}", tests::process::free_port()),
    );
    wait_for_seen_ends(&unreachable, &topic).await;
    mirror.stop().await;
    // The disaster window: A takes records B never gets.
    produce_numbered(&producer, &topic, RECORDS..RECORDS + UNCOPIED, PARTITIONS).await;

    // Dry run from the command line, A reachable: exact, nothing skipped, RPO = UNCOPIED.
    let pattern = format!("^({lagging}|{caught_up})$");
    let (code, out) = run_cli(
        &text,
        &["--group", &pattern, "--dry-run", "--output", "json"],
    );
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["source_reachable"], true, "{out}");
    let missing: i64 = report["rpo"]
        .as_array()
        .expect("rpo rows")
        .iter()
        .filter(|row| row["source_topic"] == topic.as_str())
        .map(|row| row["missing"].as_i64().expect("known with A reachable"))
        .sum();
    assert_eq!(missing, i64::from(UNCOPIED), "{out}");
    for group in report["groups"].as_array().expect("groups") {
        assert_eq!(group["outcome"], "would_commit", "{out}");
        for row in group["partitions"].as_array().expect("rows") {
            assert_eq!(
                (row["re_read"].as_i64(), row["skip"].as_i64()),
                (Some(0), Some(0)),
                "{out}"
            );
        }
    }

    // A unreachable: the same positions from B's checkpoints.
    let (code, out) = run_cli(
        &unreachable,
        &[
            "--group",
            &pattern,
            "--dry-run",
            "--output",
            "json",
            "--source-timeout-seconds",
            "2",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let blind: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(blind["source_reachable"], false, "{out}");
    let targets = |report: &serde_json::Value| -> Vec<(String, i64, i64)> {
        report["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .flat_map(|g| {
                g["partitions"]
                    .as_array()
                    .expect("rows")
                    .iter()
                    .map(move |p| {
                        (
                            g["group"].as_str().expect("name").to_owned(),
                            p["partition"].as_i64().expect("partition"),
                            p["target_offset"].as_i64().expect("translated"),
                        )
                    })
            })
            .collect()
    };
    assert_eq!(targets(&blind), targets(&report), "{out}");
    // Unknown exactly; at least what the mirror saw of A's end and B lacks (the records
    // written after the mirror stopped are beyond what it saw).
    assert!(
        blind["rpo"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["source_topic"] == topic.as_str())
            .all(|r| r["missing"].is_null()
                && r["missing_at_least"].as_i64() == Some(0)
                && r["source_end_seen_ms"].is_i64()),
        "{out}"
    );

    // The failover itself, then each group reads on B exactly what it had not read on A.
    let moved: FailoverReport =
        mirror::failover::failover(&properties(&topic, ""), &options(&pattern, false))
            .await
            .expect("failover");
    assert!(
        moved
            .groups
            .iter()
            .all(|g| g.outcome == GroupOutcome::Committed),
        "{moved:?}"
    );
    for (group, next) in [(&lagging, &lagging_next), (&caught_up, &caught_up_next)] {
        let (b1, g, r) = (b.clone(), group.clone(), remote.clone());
        let read = tokio::task::spawn_blocking(move || read_from_committed(&b1, &g, &r))
            .await
            .expect("read");
        // Only the partitions it committed on A (the first 337 records may all come from
        // one partition); each read ends at B's end, so an empty list where it caught up.
        let mut expected = unread_ids(next, 0..RECORDS);
        expected.retain(|partition, _| next.contains_key(partition));
        for partition in next.keys() {
            expected.entry(*partition).or_default();
        }
        assert_eq!(
            read, expected,
            "{group}: what it reads on B after the failover"
        );
    }

    // A consumer of `lagging` now active on B: refused, exit code 3.
    let mut config = b.consumer_config(&lagging);
    config.set("enable.auto.commit", "false");
    let active: BaseConsumer = config.create().expect("consumer");
    active.subscribe(&[&remote]).expect("subscribe");
    let joined = Instant::now() + Duration::from_secs(60);
    while active.assignment().map_or(0, |a| a.count()) == 0 {
        assert!(
            Instant::now() < joined,
            "the consumer never joined {lagging} on B"
        );
        active.poll(Duration::from_millis(200));
    }
    let (code, out) = run_cli(&text, &["--group", &format!("^{lagging}$")]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("REFUSED") && out.contains("active member(s) on B"),
        "{out}"
    );
}
