//! `kafka_consumergroup_lag_seconds` against the real cluster: records with known
//! CreateTime timestamps (now − 120 s, − 60 s, − 10 s, now), groups committed at each of
//! them, and the series reads the age of the record at each commit; a caught-up group
//! reads 0; the per-group max is the largest of its partitions.
//!
//! Tolerance: a value may exceed the expected age by the time between producing and the
//! scrape (measured by the test) plus one second for clock reads; it may never be below
//! it (the timestamps are set by the test, the age is measured with the same clock).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use broker_core::KafkaClients;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::metrics_exporter::{metrics_config, samples, scrape, start, value};

/// Ages of the records at offsets 0..4 of each partition.
const AGES_SECONDS: [i64; 4] = [120, 60, 10, 0];

fn now_millis() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("millis fit i64")
}

/// Produces one record per age to each of the two partitions, with that CreateTime.
async fn produce_aged(clients: &KafkaClients, topic: &str, now_ms: i64) {
    let producer = clients.producer().expect("producer");
    for partition in 0..2 {
        for age in AGES_SECONDS {
            let payload = format!("aged-{age}");
            producer
                .send(
                    FutureRecord::<(), _>::to(topic)
                        .partition(partition)
                        .payload(&payload)
                        .timestamp(now_ms - age * 1000),
                    Duration::from_secs(10),
                )
                .await
                .unwrap_or_else(|(error, _)| panic!("produce failed: {error}"));
        }
    }
}

/// Commits `offsets` (partition → next offset to consume) for `group` without joining it.
fn commit(clients: &KafkaClients, topic: &str, group: &str, offsets: &[(i32, i64)]) {
    let consumer: BaseConsumer =
        broker_core::clients::create(&clients.consumer_config(group), "test committer creation")
            .expect("committer");
    let mut list = TopicPartitionList::new();
    for (partition, offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("offset");
    }
    consumer
        .commit(&list, CommitMode::Sync)
        .expect("commit succeeds");
}

fn assert_age(text: &str, labels: &str, expected: f64, slack: f64) {
    let seen = value(text, "kafka_consumergroup_lag_seconds", labels);
    assert!(
        seen >= expected && seen <= expected + slack,
        "lag seconds {{{labels}}} = {seen}, expected {expected} (+ at most {slack})"
    );
}

#[tokio::test]
async fn lag_seconds_is_the_age_of_the_record_at_the_commit() {
    let bootstrap = Services::from_env().kafka_bootstrap;
    let clients = kafka_clients(&bootstrap).await;
    let topic = unique_name("metrics_lag_seconds");
    let prefix = unique_name("lag_seconds_group");
    create_topic(&clients, &topic, 2).await;
    let produced = Instant::now();
    let now_ms = now_millis();
    produce_aged(&clients, &topic, now_ms).await;

    // One group per aged record on partition 0; "caught" read everything; "mixed" sits at
    // 120 s on partition 0 and 10 s on partition 1.
    let groups: Vec<(String, i64)> = AGES_SECONDS
        .iter()
        .enumerate()
        .map(|(offset, age)| (format!("{prefix}_at{age}"), offset as i64))
        .collect();
    for (group, offset) in &groups {
        commit(&clients, &topic, group, &[(0, *offset)]);
    }
    let caught = format!("{prefix}_caught");
    commit(&clients, &topic, &caught, &[(0, 4), (1, 4)]);
    let mixed = format!("{prefix}_mixed");
    commit(&clients, &topic, &mixed, &[(0, 0), (1, 2)]);

    let config = metrics_config(&format!(
        "topic_filter = \"^{topic}$\"\ngroup_filter = \"^{prefix}\""
    ));
    let server = start(config, clients.clone()).await;
    let text = scrape(&server).await;
    let slack = produced.elapsed().as_secs_f64() + 1.0;

    for ((group, _), age) in groups.iter().zip(AGES_SECONDS) {
        let labels = format!(r#"consumergroup="{group}",topic="{topic}",partition="0""#);
        assert_age(&text, &labels, age as f64, slack);
    }
    for partition in 0..2 {
        let labels = format!(r#"consumergroup="{caught}",topic="{topic}",partition="{partition}""#);
        assert_eq!(
            value(&text, "kafka_consumergroup_lag_seconds", &labels),
            0.0,
            "a caught-up group has no lag in seconds"
        );
    }
    assert_eq!(
        value(
            &text,
            "kafka_consumergroup_lag_seconds_max",
            &format!(r#"consumergroup="{caught}""#)
        ),
        0.0
    );
    let mixed_labels = |partition: i32| {
        format!(r#"consumergroup="{mixed}",topic="{topic}",partition="{partition}""#)
    };
    assert_age(&text, &mixed_labels(0), 120.0, slack);
    assert_age(&text, &mixed_labels(1), 10.0, slack);
    let mixed_max = value(
        &text,
        "kafka_consumergroup_lag_seconds_max",
        &format!(r#"consumergroup="{mixed}""#),
    );
    assert_eq!(
        mixed_max,
        value(&text, "kafka_consumergroup_lag_seconds", &mixed_labels(0)),
        "the max is the partition with the oldest unconsumed record"
    );
    assert_eq!(
        samples(&text, "kafka_consumergroup_lag_seconds_max").len(),
        AGES_SECONDS.len() + 2,
        "one max per group:\n{text}"
    );

    // The next scrape reads nothing new (the positions are cached) and the ages grow with
    // the clock: the same records, older.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = scrape(&server).await;
    let slack = produced.elapsed().as_secs_f64() + 1.0;
    assert_age(&later, &mixed_labels(0), 120.0 + 1.5, slack);
    let first = value(&text, "kafka_consumergroup_lag_seconds", &mixed_labels(0));
    let second = value(&later, "kafka_consumergroup_lag_seconds", &mixed_labels(0));
    assert!(
        second - first >= 1.4,
        "the cached record ages with the clock: {first} then {second}"
    );
}
