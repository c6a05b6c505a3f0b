//! Offset translation: a group that consumed N records on A resumes on B at exactly
//! record N+1 (0 re-read, 0 skipped), for a lagging and for a caught-up group, after a
//! mid-stream crash of the mirror that left duplicates on B.

use std::time::Duration;

use broker_core::KafkaClients;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{
    RunningMirror, high_watermarks, produce_numbered, properties, read_all,
};

/// Consumes `count` records of a one-partition topic as `group` and commits.
fn consume_and_commit(clients: &KafkaClients, group: &str, topic: &str, count: usize) {
    let mut config = clients.consumer_config(group);
    config.set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut last = None;
    let mut read = 0;
    while read < count {
        if let Some(message) = consumer.poll(Duration::from_secs(1)) {
            let message = message.unwrap();
            last = Some(message.offset());
            read += 1;
        }
    }
    let mut commit = TopicPartitionList::new();
    commit
        .add_partition_offset(topic, 0, Offset::Offset(last.unwrap() + 1))
        .unwrap();
    consumer.commit(&commit, CommitMode::Sync).unwrap();
}

/// Commits `offset` for `group` on `topic`[0] of the target, as a failover runbook would.
fn commit_on_target(clients: &KafkaClients, group: &str, topic: &str, offset: i64) {
    let mut config = clients.consumer_config(group);
    config.set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().unwrap();
    let mut commit = TopicPartitionList::new();
    commit
        .add_partition_offset(topic, 0, Offset::Offset(offset))
        .unwrap();
    consumer.commit(&commit, CommitMode::Sync).unwrap();
}

/// The key of the first record `group` reads on the target.
fn first_record_of_group(clients: &KafkaClients, group: &str, topic: &str) -> String {
    let mut config = clients.consumer_config(group);
    config.set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().unwrap();
    // Where the group resumes is its committed offset; assigning there reads the same record
    // as a subscription would, without waiting for a group join on a loaded broker.
    let mut partition = TopicPartitionList::new();
    partition.add_partition(topic, 0);
    let committed = consumer
        .committed_offsets(partition, Duration::from_secs(30))
        .unwrap();
    let offset = committed.elements()[0].offset();
    assert!(
        matches!(offset, Offset::Offset(_)),
        "group {group} has no committed offset on {topic}: {offset:?}"
    );
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, offset).unwrap();
    consumer.assign(&assignment).unwrap();
    for _ in 0..60 {
        if let Some(message) = consumer.poll(Duration::from_secs(1)) {
            let message = message.unwrap();
            return String::from_utf8_lossy(message.key().unwrap()).into_owned();
        }
    }
    panic!("group {group} read nothing on {topic}");
}

async fn wait_until_copied(b: &KafkaClients, remote: &str, records: usize) {
    let b = b.clone();
    let remote = remote.to_owned();
    let seen = tokio::task::spawn_blocking(move || {
        read_all(&b, &remote, records, Duration::from_secs(90), false)
    })
    .await
    .unwrap();
    assert!(
        seen.len() >= records,
        "only {} of {records} records copied",
        seen.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn translated_offsets_resume_at_the_next_record() {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("mirror_xlate");
    let remote = format!("A.{topic}");
    create_topic(&a, &topic, 1).await;
    let producer = a.producer().expect("producer");
    produce_numbered(&producer, &topic, 0..3000, 1).await;

    // Crash mid-stream and restart: B holds duplicates, the map holds several runs.
    let mirror = RunningMirror::start(properties(&topic, "offset.flush.interval.ms = 100"));
    loop {
        let copied: i64 = high_watermarks(&b, &remote).await.values().sum();
        if copied > 500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    mirror.crash().await;
    let mirror = RunningMirror::start(properties(&topic, ""));
    wait_until_copied(&b, &remote, 3000).await;

    // A lagging group (37 of 3000) and a caught-up group (all 3000).
    let lagging = unique_name("mirror_lagging");
    let caught_up = unique_name("mirror_caught_up");
    {
        let (a1, a2) = (a.clone(), a.clone());
        let (t1, t2) = (topic.clone(), topic.clone());
        let (g1, g2) = (lagging.clone(), caught_up.clone());
        tokio::task::spawn_blocking(move || consume_and_commit(&a1, &g1, &t1, 37))
            .await
            .unwrap();
        tokio::task::spawn_blocking(move || consume_and_commit(&a2, &g2, &t2, 3000))
            .await
            .unwrap();
    }
    let config = properties(&topic, "");
    for (group, expected_source) in [(&lagging, 37), (&caught_up, 3000)] {
        let rows = mirror::translate(&config, group).await.expect("translate");
        assert_eq!(rows.len(), 1, "{rows:?}");
        let row = &rows[0];
        assert_eq!(row.source_offset, expected_source);
        assert_eq!(row.target_topic, remote);
        assert_eq!(row.re_read, 0, "{row:?}");
        let target = row.target_offset.expect("translated");
        let (b1, g, r) = (b.clone(), group.clone(), remote.clone());
        tokio::task::spawn_blocking(move || commit_on_target(&b1, &g, &r, target))
            .await
            .unwrap();
    }
    // The caught-up group's next record does not exist yet: produce it.
    produce_numbered(&producer, &topic, 3000..3010, 1).await;
    wait_until_copied(&b, &remote, 3010).await;
    mirror.stop().await;

    for (group, expected_first) in [(&lagging, 37u32), (&caught_up, 3000)] {
        let (b1, g, r) = (b.clone(), group.clone(), remote.clone());
        let first = tokio::task::spawn_blocking(move || first_record_of_group(&b1, &g, &r))
            .await
            .unwrap();
        assert_eq!(
            first,
            format!("{expected_first:08}"),
            "group {group} resumes at record N+1"
        );
    }
}
