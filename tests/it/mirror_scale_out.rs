//! #22: several `kafka-gateway mirror` processes share one flow, in both modes. Three
//! processes on a 12-partition topic while records are produced continuously; one is
//! killed with SIGKILL, another stopped with SIGTERM, a fourth joins. At the end every
//! source record is on the target (exactly once and in order per partition with
//! exactly-once, none lost with at-least-once), and a group's offsets still translate
//! exactly. `mirror status` must show who runs what along the way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use broker_core::KafkaClients;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{
    MirrorProcess, high_watermarks, produce_numbered, properties, properties_text,
    read_distinct_keys,
};

const PARTITIONS: i32 = 12;
const TASKS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_tasks_move_between_processes_and_every_record_lands_once() {
    let run = scale_out("exactly.once.support = enabled").await;
    let duplicated: Vec<_> = run.counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        run.missing.is_empty(),
        "{} records lost, first {:?}",
        run.missing.len(),
        run.missing.first()
    );
    assert!(
        duplicated.is_empty(),
        "{} records copied twice, e.g. {:?}",
        duplicated.len(),
        duplicated.first()
    );
    assert!(
        run.out_of_order.is_empty(),
        "out of order on the target (partition, id, after): {:?}",
        &run.out_of_order[..run.out_of_order.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_least_once_processes_share_the_flow_and_lose_nothing() {
    let run = scale_out("").await;
    assert!(
        run.missing.is_empty(),
        "{} records lost, first {:?}",
        run.missing.len(),
        run.missing.first()
    );
    let duplicates: usize = run.counts.values().map(|n| n - 1).sum();
    eprintln!("at-least-once scale-out: 0 lost, {duplicates} duplicates");
}

struct ScaleOut {
    counts: BTreeMap<u32, usize>,
    missing: Vec<u32>,
    /// (partition, id, previous id) where an id came after a larger one.
    out_of_order: Vec<(i32, u32, u32)>,
}

fn process(properties: &str, name: &str) -> MirrorProcess {
    MirrorProcess::start_as(properties, &unique_name(name))
}

async fn scale_out(mode: &str) -> ScaleOut {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("mirror_scale");
    let remote = format!("A.{topic}");
    let exactly_once = !mode.is_empty();
    create_topic(&a, &topic, PARTITIONS).await;
    let extra = format!("tasks.max = {TASKS}\n{mode}");
    let text = properties_text(&topic, &extra);
    let config = properties(&topic, &extra);

    // Records flow the whole time: 200 every 50 ms.
    let produced = Arc::new(AtomicU32::new(0));
    let stop_producing = Arc::new(AtomicBool::new(false));
    let producer_task = {
        let (a, topic) = (a.clone(), topic.clone());
        let (produced, stop) = (Arc::clone(&produced), Arc::clone(&stop_producing));
        tokio::spawn(async move {
            let producer = a.producer().expect("producer");
            while !stop.load(Ordering::Relaxed) {
                let from = produced.load(Ordering::Relaxed);
                produce_numbered(&producer, &topic, from..from + 200, PARTITIONS).await;
                produced.store(from + 200, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let first = process(&text, "p1");
    let second = process(&text, "p2");
    let third = process(&text, "p3");
    wait_for_copy(&b, &remote, 2000).await;
    if exactly_once {
        let owners = wait_for_owners(&config, 3, Duration::from_secs(60)).await;
        eprintln!("three processes: {owners:?}");
    } else {
        let members = wait_for_members(&config, 3 * TASKS, Duration::from_secs(60)).await;
        eprintln!("three processes: {members} source group members");
    }

    first.kill();
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    second.stop().await;
    let fourth = process(&text, "p4");
    if exactly_once {
        let owners = wait_for_owners(&config, 2, Duration::from_secs(60)).await;
        eprintln!(
            "every task owned again by two processes {:?} after the kill -9: {owners:?}",
            killed_at.elapsed()
        );
    }
    // A while of copying with the new membership.
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop_producing.store(true, Ordering::Relaxed);
    producer_task.await.expect("producer");
    let total = produced.load(Ordering::Relaxed);
    wait_for_copy(&b, &remote, i64::from(total)).await;

    // A group committed on A halfway through each partition translates exactly.
    let group = unique_name("mirror_scale_group");
    commit_halfway(&a, &group, &topic).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = mirror::translate(&config, &group).await.unwrap_or_default();
        let exact = rows.len() == usize::try_from(PARTITIONS).unwrap()
            && rows
                .iter()
                .all(|row| row.re_read == 0 && row.target_offset.is_some());
        if exact {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "group offsets do not translate exactly: {rows:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    third.stop().await;
    fourth.stop().await;

    let (b2, remote2) = (b.clone(), remote.clone());
    let expected = usize::try_from(total).unwrap();
    let seen = tokio::task::spawn_blocking(move || {
        read_distinct_keys(
            &b2,
            &remote2,
            expected,
            Duration::from_secs(120),
            exactly_once,
        )
    })
    .await
    .expect("reader");
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    let mut last: BTreeMap<i32, u32> = BTreeMap::new();
    let mut out_of_order = Vec::new();
    for record in &seen {
        let id: u32 = record.key.parse().expect("numbered key");
        *counts.entry(id).or_default() += 1;
        if let Some(previous) = last.insert(record.partition, id)
            && previous >= id
        {
            out_of_order.push((record.partition, id, previous));
        }
    }
    let missing = (0..total).filter(|id| !counts.contains_key(id)).collect();
    eprintln!(
        "{} records produced, {} read on the target",
        total,
        seen.len()
    );
    ScaleOut {
        counts,
        missing,
        out_of_order,
    }
}

async fn wait_for_copy(b: &KafkaClients, remote: &str, at_least: i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // The high watermark counts transaction markers too: a lower bound is enough here,
        // the reader counts records.
        let copied: i64 = high_watermarks(b, remote).await.values().sum();
        if copied >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{copied} of {at_least} on the target after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until exactly `processes` members of the task group own every task between them;
/// returns the client ids and their tasks.
async fn wait_for_owners(
    config: &mirror::ValidatedMirror,
    processes: usize,
    timeout: Duration,
) -> Vec<(String, Vec<usize>)> {
    let deadline = Instant::now() + timeout;
    loop {
        let status = mirror::status::status(config, Duration::from_secs(10))
            .await
            .expect("mirror status");
        let flow = &status[0];
        let owners: Vec<(String, Vec<usize>)> = flow
            .members
            .iter()
            .map(|m| (m.client_id.clone(), m.tasks.clone()))
            .collect();
        let owning = owners.iter().filter(|(_, tasks)| !tasks.is_empty()).count();
        if flow.state == "Stable"
            && flow.unowned_tasks.is_empty()
            && flow.members.len() == processes
            && owning == processes
        {
            return owners;
        }
        assert!(
            Instant::now() < deadline,
            "task group not settled on {processes} processes: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the source group has `members` members; returns the count.
async fn wait_for_members(
    config: &mirror::ValidatedMirror,
    members: usize,
    timeout: Duration,
) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let status = mirror::status::status(config, Duration::from_secs(10))
            .await
            .expect("mirror status");
        let flow = &status[0];
        let owning = flow
            .members
            .iter()
            .filter(|m| !m.partitions.is_empty())
            .count();
        if flow.members.len() == members
            && flow.state == "Stable"
            && owning == usize::try_from(PARTITIONS).unwrap().min(members)
        {
            return members;
        }
        assert!(
            Instant::now() < deadline,
            "source group has not {members} members: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Commits, for `group` on A, half of each partition's current end.
async fn commit_halfway(a: &KafkaClients, group: &str, topic: &str) {
    let ends = high_watermarks(a, topic).await;
    let (a, group, topic) = (a.clone(), group.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = a.consumer_config(&group).create().expect("committer");
        let mut list = TopicPartitionList::new();
        for (partition, end) in ends {
            list.add_partition_offset(&topic, partition, Offset::Offset(end / 2))
                .expect("offset");
        }
        consumer
            .commit(&list, CommitMode::Sync)
            .expect("commit on A");
    })
    .await
    .expect("committer");
}
