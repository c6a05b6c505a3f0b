//! Checkpoints at scale (#23): with a few hundred idle groups on A (on top of whatever the
//! shared development cluster already holds), a group that commits on A after the flow
//! started has its translated offset committed on B within a couple of pass intervals, and
//! the pass metrics say how long passes take and how stale each group's checkpoint is.

use std::time::{Duration, Instant};

use broker_core::KafkaClients;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{
    RunningMirror, committed_offsets, high_watermarks, produce_numbered, properties,
};

const IDLE_GROUPS: usize = 300;
/// Both `emit.checkpoints.interval.seconds` and `sync.group.offsets.interval.seconds`.
const INTERVAL: Duration = Duration::from_secs(2);

/// A memberless commit of `offset` on `topic`[0] for `group`, as an admin tool would.
fn commit(clients: &KafkaClients, group: &str, topic: &str, offset: i64) {
    let mut config = clients.consumer_config(group);
    config.set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().expect("committer");
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, 0, Offset::Offset(offset))
        .expect("partition");
    consumer
        .commit(&list, CommitMode::Sync)
        .unwrap_or_else(|e| panic!("commit for {group}: {e}"));
}

/// `count` groups named `<prefix>-<i>`, each with one commit on `topic`, on a few threads
/// (a commit is a FindCoordinator and an OffsetCommit round trip).
fn create_idle_groups(clients: &KafkaClients, prefix: &str, topic: &str, count: usize) {
    let threads = 6;
    std::thread::scope(|scope| {
        for thread in 0..threads {
            scope.spawn(move || {
                for i in (thread..count).step_by(threads) {
                    commit(clients, &format!("{prefix}-{i}"), topic, 1);
                }
            });
        }
    });
}

fn metric_value(metrics: &str, name: &str, label: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| line.starts_with(name) && line.contains(label))
        .find_map(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fresh_group_reaches_the_target_within_two_intervals_among_hundreds() {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("mirror_groups");
    let idle_topic = unique_name("mirror_groups_idle");
    let remote = format!("A.{topic}");
    create_topic(&a, &topic, 1).await;
    create_topic(&a, &idle_topic, 1).await;
    let producer = a.producer().expect("producer");
    produce_numbered(&producer, &topic, 0..100, 1).await;
    produce_numbered(&producer, &idle_topic, 0..10, 1).await;

    let prefix = unique_name("mirror_idle");
    let created = Instant::now();
    {
        let (a, prefix, idle_topic) = (a.clone(), prefix.clone(), idle_topic.clone());
        tokio::task::spawn_blocking(move || {
            create_idle_groups(&a, &prefix, &idle_topic, IDLE_GROUPS);
        })
        .await
        .expect("idle groups");
    }
    println!(
        "{IDLE_GROUPS} idle groups created in {:.1} s",
        created.elapsed().as_secs_f64()
    );

    let registry = broker_core::telemetry::MetricsRegistry::new();
    let mirror = RunningMirror::start_with_metrics(
        properties(
            &topic,
            "emit.checkpoints.interval.seconds = 2\nsync.group.offsets.enabled = true\n\
             sync.group.offsets.interval.seconds = 2",
        ),
        registry.clone(),
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let copied: i64 = high_watermarks(&b, &remote).await.values().sum();
        if copied >= 100 {
            break;
        }
        assert!(Instant::now() < deadline, "records not copied to B in 90 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the first passes (with every idle group) run before the fresh group commits.
    tokio::time::sleep(INTERVAL * 2).await;

    let fresh = unique_name("mirror_fresh");
    let committed_at = Instant::now();
    {
        let (a, fresh, topic) = (a.clone(), fresh.clone(), topic.clone());
        tokio::task::spawn_blocking(move || commit(&a, &fresh, &topic, 40))
            .await
            .expect("fresh commit");
    }
    let limit = INTERVAL * 3 + Duration::from_secs(2);
    let seen = loop {
        let (b, group, remote) = (b.clone(), fresh.clone(), remote.clone());
        let on_b = tokio::task::spawn_blocking(move || committed_offsets(&b, &group, &remote, 1))
            .await
            .expect("read B");
        if let Some(offset) = on_b.get(&0) {
            break (*offset, committed_at.elapsed());
        }
        assert!(
            committed_at.elapsed() < limit * 4,
            "group {fresh} has no commit on B {:?} after its commit on A",
            committed_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The checkpoint pass may come after the sync pass that committed on B.
    tokio::time::sleep(INTERVAL + Duration::from_millis(500)).await;
    let metrics = registry.render().expect("metrics render");
    mirror.stop().await;

    let groups = metric_value(
        &metrics,
        "kafka_gateway_mirror_offset_pass_groups",
        "pass=\"checkpoint\"",
    )
    .expect("groups per pass reported");
    let passes = metric_value(
        &metrics,
        "kafka_gateway_mirror_offset_pass_duration_seconds_sum",
        "pass=\"sync\"",
    )
    .expect("pass duration reported");
    let count = metric_value(
        &metrics,
        "kafka_gateway_mirror_offset_pass_duration_seconds_count",
        "pass=\"sync\"",
    )
    .expect("pass count reported");
    println!(
        "fresh group on B after {:.2} s (limit {:.0} s); last checkpoint pass covered {groups} \
         groups; sync passes: {count}, mean {:.3} s",
        seen.1.as_secs_f64(),
        limit.as_secs_f64(),
        passes / count.max(1.0)
    );
    assert_eq!(
        seen.0, 40,
        "translated offset of a clean copy is the same offset"
    );
    assert!(
        seen.1 <= limit,
        "translated commit on B after {:?}, more than {limit:?}",
        seen.1
    );
    assert!(
        groups >= IDLE_GROUPS as f64,
        "the passes covered {groups} groups, fewer than the {IDLE_GROUPS} idle ones"
    );
    let age_label = format!("group=\"{fresh}\"");
    assert!(
        metric_value(
            &metrics,
            "kafka_gateway_mirror_checkpoint_age_seconds",
            &age_label
        )
        .is_some(),
        "no checkpoint age for {fresh}:\n{metrics}"
    );
}
