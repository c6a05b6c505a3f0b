//! Replication A → B against the real clusters: records unchanged, remote topics created
//! with the source partition count, new topics discovered, no loop back to the origin.

use std::time::Duration;

use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{
    RunningMirror, numbered_timestamp, produce_numbered, properties, read_all, wait_for_topic,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_are_copied_unchanged_to_the_same_partition() {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("mirror_copy");
    create_topic(&a, &topic, 3).await;
    let producer = a.producer().expect("producer");
    produce_numbered(&producer, &topic, 0..60, 3).await;

    let mirror = RunningMirror::start(properties(&topic, ""));
    let remote = format!("A.{topic}");
    assert_eq!(
        wait_for_topic(&b, &remote, Duration::from_secs(30)).await,
        3,
        "remote topic has the source partition count"
    );
    let b_reader = b.clone();
    let remote_name = remote.clone();
    let mut seen = tokio::task::spawn_blocking(move || {
        read_all(&b_reader, &remote_name, 60, Duration::from_secs(60), false)
    })
    .await
    .unwrap();
    mirror.stop().await;

    seen.sort();
    assert_eq!(seen.len(), 60, "every record arrives once");
    for (id, record) in seen.iter().enumerate() {
        let id = u32::try_from(id).unwrap();
        assert_eq!(record.key, format!("{id:08}"));
        assert_eq!(record.value, format!("value-{id}"));
        assert_eq!(
            record.partition,
            i32::try_from(id % 3).unwrap(),
            "same partition"
        );
        assert_eq!(
            record.timestamp,
            Some(numbered_timestamp(id)),
            "same timestamp"
        );
        assert_eq!(
            record.headers,
            vec![("trace".to_owned(), format!("h-{id}"))],
            "same headers"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_matching_topic_is_discovered() {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let prefix = unique_name("mirror_disc");
    let first = format!("{prefix}_first");
    create_topic(&a, &first, 1).await;
    let mirror = RunningMirror::start(properties(&format!("{prefix}_.*"), ""));
    wait_for_topic(&b, &format!("A.{first}"), Duration::from_secs(30)).await;

    // Created after the mirror started: found by the 1 s refresh.
    let later = format!("{prefix}_later");
    create_topic(&a, &later, 2).await;
    let producer = a.producer().expect("producer");
    produce_numbered(&producer, &later, 0..10, 2).await;
    let remote = format!("A.{later}");
    assert_eq!(
        wait_for_topic(&b, &remote, Duration::from_secs(30)).await,
        2
    );
    let b_reader = b.clone();
    let seen = tokio::task::spawn_blocking(move || {
        read_all(&b_reader, &remote, 10, Duration::from_secs(60), false)
    })
    .await
    .unwrap();
    mirror.stop().await;
    assert_eq!(seen.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_loop_back_to_the_origin_with_the_default_policy() {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let prefix = unique_name("mirror_loop");
    let topic = format!("{prefix}_orders");
    create_topic(&a, &topic, 1).await;
    let producer = a.producer().expect("producer");
    produce_numbered(&producer, &topic, 0..5, 1).await;

    // Both directions, the same filter: A.<topic> on B matches `.*<prefix>.*` but must not
    // come back to A as B.A.<topic>.
    let config = properties(
        &format!(".*{prefix}.*"),
        &format!("B->A.enabled = true\nB->A.topics = .*{prefix}.*"),
    );
    assert_eq!(config.flows.len(), 2);
    let mirror = RunningMirror::start(config);
    let remote = format!("A.{topic}");
    wait_for_topic(&b, &remote, Duration::from_secs(30)).await;
    let b_reader = b.clone();
    let seen = tokio::task::spawn_blocking(move || {
        read_all(&b_reader, &remote, 5, Duration::from_secs(60), false)
    })
    .await
    .unwrap();
    assert_eq!(seen.len(), 5);
    // Several discovery rounds.
    tokio::time::sleep(Duration::from_secs(4)).await;
    mirror.stop().await;

    let inspector =
        broker_core::metadata::ClusterInspector::new(&a, Duration::from_secs(5)).unwrap();
    let names: Vec<String> = inspector
        .metadata(None)
        .await
        .unwrap()
        .topics
        .into_iter()
        .map(|t| t.name)
        .filter(|n| n.contains(&prefix))
        .collect();
    assert_eq!(names, vec![topic.clone()], "nothing mirrored back to A");
}

/// The periodic config sync writes only differences (IncrementalAlterConfigs): a source
/// change and a source deletion reach the target, a target-local key that
/// `config.properties.exclude` matches (`min.insync.replicas` by default) survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn topic_config_sync_follows_the_source_and_keeps_excluded_target_keys() {
    use std::collections::BTreeMap;

    use broker_core::wire::ConfigOperation;

    use crate::mirror_acls::wire_client;
    use crate::wire_offsets::{change, wait_dynamic_configs};

    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let wire_a = wire_client(&services.kafka_bootstrap);
    let wire_b = wire_client(&services.kafka_b_bootstrap);
    let topic = unique_name("mirror_configs");
    create_topic(&a, &topic, 1).await;
    alter(
        &wire_a,
        change(
            &topic,
            &[("retention.ms", ConfigOperation::Set("60000".into()))],
        ),
    )
    .await;
    wait_dynamic_configs(&a, &topic, &BTreeMap::from([("retention.ms", "60000")])).await;

    let mirror = RunningMirror::start(properties(
        &topic,
        "sync.topic.configs.interval.seconds = 1",
    ));
    let remote = format!("A.{topic}");
    wait_for_topic(&b, &remote, Duration::from_secs(30)).await;
    wait_dynamic_configs(&b, &remote, &BTreeMap::from([("retention.ms", "60000")])).await;

    alter(
        &wire_b,
        change(
            &remote,
            &[("min.insync.replicas", ConfigOperation::Set("1".into()))],
        ),
    )
    .await;
    alter(
        &wire_a,
        change(
            &topic,
            &[
                ("retention.ms", ConfigOperation::Delete),
                ("max.message.bytes", ConfigOperation::Set("200000".into())),
            ],
        ),
    )
    .await;
    wait_dynamic_configs(
        &b,
        &remote,
        &BTreeMap::from([
            ("max.message.bytes", "200000"),
            ("min.insync.replicas", "1"),
        ]),
    )
    .await;
    mirror.stop().await;
}

async fn alter(client: &broker_core::wire::WireClient, changes: broker_core::wire::ConfigChanges) {
    for result in client
        .incremental_alter_configs(&[changes], false)
        .await
        .expect("request answered")
    {
        result.expect("change applied");
    }
}
