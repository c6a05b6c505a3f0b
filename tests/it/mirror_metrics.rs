//! Mirror replication metrics and alert rules (#15, part 3), against the real clusters A
//! and B: a caught-up flow reports lag 0 in records and seconds, fresh offset syncs and a
//! group translation lag of 0 after its checkpoint; a stalled flow reports lag in records
//! and seconds that grow, and a group that reads past what the target holds a translation
//! lag of what a failover would re-read; the exposition passes `promtool check metrics`; the alert rules
//! pass `promtool check rules` and their unit tests (`promtool test rules`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use broker_core::KafkaClients;
use broker_core::telemetry::MetricsRegistry;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::metrics_exporter::{
    MetricsServer, metrics_config, promtool_check, scrape, start_with_registry,
};
use crate::mirror_common::{RunningMirror, high_watermarks, properties};

/// The value of `name{…}` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?.strip_prefix('{')?;
            labels
                .iter()
                .all(|(key, value)| rest.contains(&format!("{key}=\"{value}\"")))
                .then(|| value.parse().ok())?
        })
        .next()
}

/// `/metrics` of a metrics service serving the mirror's registry, its cluster part
/// limited to `topic` and `group` (a full scrape of the shared cluster takes seconds).
async fn serve(
    clients: &KafkaClients,
    registry: &MetricsRegistry,
    topic: &str,
    group: &str,
) -> MetricsServer {
    let config = metrics_config(&format!(
        "topic_filter = \"^{topic}$\"\ngroup_filter = \"^{group}$\""
    ));
    start_with_registry(config, clients.clone(), registry.clone()).await
}

/// Scrapes `/metrics` until `ready` accepts it, or panics after `timeout` with the last
/// scrape.
async fn wait_for_metrics(
    server: &MetricsServer,
    timeout: Duration,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let text = scrape(server).await;
        if ready(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not seen within {timeout:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A memberless commit of `offset` on `topic`[`partition`] for `group`.
fn commit(clients: &KafkaClients, group: &str, topic: &str, partition: i32, offset: i64) {
    let mut config = clients.consumer_config(group);
    config.set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().expect("committer");
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Offset(offset))
        .expect("partition");
    consumer
        .commit(&list, CommitMode::Sync)
        .unwrap_or_else(|e| panic!("commit for {group}: {e}"));
}

/// `count` records to partition 0 with the current time as timestamp; returns the
/// timestamp of the first.
async fn produce_now(producer: &FutureProducer, topic: &str, count: usize) -> i64 {
    let first = now_ms();
    for i in 0..count {
        let value = format!("value-{i}");
        producer
            .send(
                FutureRecord::to(topic)
                    .key("k")
                    .payload(&value)
                    .partition(0)
                    .timestamp(now_ms()),
                Duration::from_secs(10),
            )
            .await
            .expect("acknowledged");
    }
    first
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("millis fit i64")
}

async fn wait_for_copied_exactly(b: &KafkaClients, remote: &str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let copied: i64 = high_watermarks(b, remote).await.values().sum();
        if copied >= expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{copied} of {expected} records copied to {remote} in 90 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn caught_up_flow_shows_zero_lag_fresh_syncs_and_zero_translation_lag() {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("mirror_metrics");
    let remote = format!("A.{topic}");
    create_topic(&a, &topic, 2).await;
    let producer: FutureProducer = a.producer().expect("producer");
    produce_now(&producer, &topic, 40).await;

    let registry = MetricsRegistry::new();
    let group = unique_name("mirror_metrics_group");
    let server = serve(&a, &registry, &topic, &group).await;
    let mirror = RunningMirror::start_with_metrics(properties(&topic, ""), registry.clone());
    wait_for_copied_exactly(&b, &remote, 40).await;
    {
        let (a, group, topic) = (a.clone(), group.clone(), topic.clone());
        tokio::task::spawn_blocking(move || commit(&a, &group, &topic, 0, 25))
            .await
            .expect("commit");
    }

    let partition = [("topic", topic.as_str()), ("partition", "0")];
    let group_label = [("group", group.as_str())];
    let text = wait_for_metrics(
        &server,
        Duration::from_secs(60),
        "lag 0, lag seconds 0 and translation lag 0",
        |text| {
            sample(text, "kafka_gateway_mirror_record_lag", &partition) == Some(0.0)
                && sample(text, "kafka_gateway_mirror_record_lag_seconds", &partition) == Some(0.0)
                && sample(
                    text,
                    "kafka_gateway_mirror_group_translation_lag",
                    &group_label,
                ) == Some(0.0)
                && sample(
                    text,
                    "kafka_gateway_mirror_offset_sync_age_seconds",
                    &partition,
                )
                .is_some()
        },
    )
    .await;
    mirror.stop().await;

    let sync_age = sample(
        &text,
        "kafka_gateway_mirror_offset_sync_age_seconds",
        &partition,
    )
    .expect("offset sync age");
    let rpo = sample(&text, "kafka_gateway_mirror_rpo_seconds", &partition).expect("rpo");
    println!("caught up: offset sync age {sync_age:.1} s, rpo {rpo} s");
    // Syncs are written at the first commit after the copy; the copy ended moments ago.
    assert!(
        sync_age < 30.0,
        "offset sync age {sync_age} s on a flow that just copied:\n{text}"
    );
    assert_eq!(rpo, 0.0, "rpo_seconds keeps record_lag_seconds' value");
    // Partition 1 received nothing (every record went to partition 0): lag 0, no sync.
    let empty = [("topic", topic.as_str()), ("partition", "1")];
    assert_eq!(
        sample(&text, "kafka_gateway_mirror_record_lag", &empty),
        Some(0.0),
        "an empty partition of the flow is reported too:\n{text}"
    );
    promtool_check(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_flow_shows_lag_growing_in_records_and_seconds() {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("mirror_stalled");
    let remote = format!("A.{topic}");
    create_topic(&a, &topic, 1).await;
    let producer: FutureProducer = a.producer().expect("producer");

    // A first process copies 10 records and stops cleanly: its position (10) is committed.
    produce_now(&producer, &topic, 10).await;
    let first = RunningMirror::start(properties(&topic, ""));
    wait_for_copied_exactly(&b, &remote, 10).await;
    first.stop().await;

    // The next process cannot get anything onto the target: its producer holds every
    // record for two minutes (librdkafka's own batching delay), so the target acknowledges
    // nothing, just as with a target that stopped answering. Its lag must come from the
    // committed position and grow.
    let oldest_ms = produce_now(&producer, &topic, 10).await;
    // A consumer group read 5 records, checkpointed by the next process.
    let group = unique_name("mirror_stalled_group");
    {
        let (a, group, topic) = (a.clone(), group.clone(), topic.clone());
        tokio::task::spawn_blocking(move || commit(&a, &group, &topic, 0, 5))
            .await
            .expect("commit");
    }
    let registry = MetricsRegistry::new();
    let server = serve(&a, &registry, &topic, &group).await;
    let stalled = RunningMirror::start_with_metrics(
        properties(&topic, "B.producer.linger.ms = 120000"),
        registry.clone(),
    );
    let partition = [("topic", topic.as_str()), ("partition", "0")];
    let text = wait_for_metrics(&server, Duration::from_secs(30), "record lag 10", |text| {
        sample(text, "kafka_gateway_mirror_record_lag", &partition) == Some(10.0)
    })
    .await;
    let sampled_ms = now_ms();
    let seconds_first = sample(&text, "kafka_gateway_mirror_record_lag_seconds", &partition)
        .expect("lag seconds with the record lag");
    let expected_first = (sampled_ms - oldest_ms) as f64 / 1000.0;

    tokio::time::sleep(Duration::from_secs(3)).await;
    produce_now(&producer, &topic, 5).await;
    let text = wait_for_metrics(&server, Duration::from_secs(30), "record lag 15", |text| {
        sample(text, "kafka_gateway_mirror_record_lag", &partition) == Some(15.0)
    })
    .await;
    let seconds_second =
        sample(&text, "kafka_gateway_mirror_record_lag_seconds", &partition).expect("lag seconds");
    let expected_second = (now_ms() - oldest_ms) as f64 / 1000.0;

    // The group reads on to 18 on A, past what B holds (10): its commit cannot be
    // translated exactly, its checkpoint stays at 5, a failover would re-read 13 records.
    let group_label = [("group", group.as_str())];
    // First its checkpoint at 5 matches its commit.
    wait_for_metrics(
        &server,
        Duration::from_secs(30),
        "translation lag 0 at the group's checkpoint",
        |text| {
            sample(
                text,
                "kafka_gateway_mirror_group_translation_lag",
                &group_label,
            ) == Some(0.0)
        },
    )
    .await;
    {
        let (a, group, topic) = (a.clone(), group.clone(), topic.clone());
        tokio::task::spawn_blocking(move || commit(&a, &group, &topic, 0, 18))
            .await
            .expect("commit");
    }
    wait_for_metrics(
        &server,
        Duration::from_secs(30),
        "translation lag 13",
        |text| {
            sample(
                text,
                "kafka_gateway_mirror_group_translation_lag",
                &group_label,
            ) == Some(13.0)
        },
    )
    .await;
    let copied_while_stalled: i64 = high_watermarks(&b, &remote).await.values().sum();
    println!(
        "stalled: lag 10 records / {seconds_first:.1} s (oldest record {expected_first:.1} s \
         old), then 15 records / {seconds_second:.1} s ({expected_second:.1} s)"
    );
    // Draining flushes what the producer held: the flow catches up on stop.
    stalled.stop().await;
    wait_for_copied_exactly(&b, &remote, 25).await;

    assert_eq!(copied_while_stalled, 10, "nothing reached B while stalled");
    // The lag loop samples every 5 s: a value is at most one tick older than the render.
    for (seconds, expected) in [
        (seconds_first, expected_first),
        (seconds_second, expected_second),
    ] {
        assert!(
            seconds <= expected + 0.5 && seconds >= expected - 6.0,
            "lag seconds {seconds}, the oldest record not copied is {expected} s old"
        );
    }
    assert!(
        seconds_second >= seconds_first + 2.0,
        "lag seconds did not grow: {seconds_first} then {seconds_second}"
    );
    promtool_check(&text);
}

fn promtool(args: &[&str]) -> String {
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus");
    let output = match Command::new("promtool")
        .args(args)
        .current_dir(&rules)
        .output()
    {
        Ok(output) => output,
        Err(error) => panic!(
            "promtool is needed to check the alert rules ({error}): install Debian's \
             `prometheus` package (`apt-get install -y prometheus`), e.g. via scripts/install-deps"
        ),
    };
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool {args:?} failed:\n{report}"
    );
    report
}

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() {
    let checked = promtool(&["check", "rules", "mirror-alerts.yml"]);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool(&["test", "rules", "mirror-alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    println!("{checked}{tested}");
}
