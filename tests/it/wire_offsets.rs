//! broker-core's native client against cluster A: committed offsets of several groups read
//! in one batched call (plaintext and SASL_SSL with SCRAM), and IncrementalAlterConfigs
//! changing one topic key without touching the others.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use broker_core::wire::{
    CommittedOffset, ConfigChanges, ConfigOperation, ConfigResource, KafkaCode, WireClient,
};
use rdkafka::admin::{AdminOptions, ConfigSource, ResourceSpecifier};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_acls::wire_client;

/// Commits `offsets` (partition → offset) on `topic` for `group` without joining it, as
/// a client using `assign` does; `metadata` goes with each commit.
fn commit(
    clients: &broker_core::KafkaClients,
    group: &str,
    topic: &str,
    offsets: &[(i32, i64)],
    metadata: &str,
) {
    let committer: BaseConsumer = clients
        .consumer_config(group)
        .create()
        .expect("memberless committer");
    let mut list = TopicPartitionList::new();
    for (partition, offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("offset");
        list.find_partition(topic, *partition)
            .expect("just added")
            .set_metadata(metadata);
    }
    committer.commit(&list, CommitMode::Sync).expect("commit");
}

fn expected(topic: &str, offsets: &[(i32, i64)], metadata: &str) -> Vec<CommittedOffset> {
    offsets
        .iter()
        .map(|(partition, offset)| CommittedOffset {
            topic: topic.to_owned(),
            partition: *partition,
            offset: *offset,
            metadata: Some(metadata.to_owned()),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_of_many_groups_in_one_call_plaintext_and_sasl_ssl() {
    let services = Services::from_env();
    let clients = kafka_clients(&services.kafka_bootstrap).await;
    let topic = unique_name("wire_offsets");
    create_topic(&clients, &topic, 3).await;
    let commits: Vec<(String, Vec<(i32, i64)>)> = vec![
        (unique_name("wire_group"), vec![(0, 11), (1, 12), (2, 13)]),
        (unique_name("wire_group"), vec![(0, 21), (2, 23)]),
        (unique_name("wire_group"), vec![(1, 31)]),
    ];
    for (group, offsets) in &commits {
        commit(&clients, group, &topic, offsets, group);
    }
    let unknown = unique_name("wire_group_never_committed");
    let mut groups: Vec<String> = commits.iter().map(|(group, _)| group.clone()).collect();
    groups.push(unknown.clone());

    let listener = Services::sasl_ssl();
    let scram = listener
        .scram("SCRAM-SHA-512")
        .validate("test")
        .expect("valid SASL_SSL config");
    for (name, client) in [
        ("plaintext", wire_client(&services.kafka_bootstrap)),
        (
            "SASL_SSL SCRAM-SHA-512",
            WireClient::new(&scram, Duration::from_secs(10)).expect("supported settings"),
        ),
    ] {
        let started = Instant::now();
        let answers = client
            .committed_offsets(&groups, Instant::now() + Duration::from_secs(20))
            .await
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        println!("{name}: {} groups in {:?}", groups.len(), started.elapsed());
        assert_eq!(answers.len(), groups.len(), "{name}: {answers:?}");
        for (group, offsets) in &commits {
            let got = answers[group]
                .as_ref()
                .unwrap_or_else(|error| panic!("{name}: group {group}: {error}"));
            assert_eq!(got, &expected(&topic, offsets, group), "{name}: {group}");
        }
        assert_eq!(
            answers[&unknown].as_ref().ok(),
            Some(&Vec::new()),
            "{name}: a group without commits is empty, not an error"
        );
        // The coordinator connections are kept: a second call works on them.
        let again = client
            .committed_offsets(&groups[..1], Instant::now() + Duration::from_secs(20))
            .await
            .expect("second call");
        assert_eq!(
            again[&groups[0]].as_ref().ok(),
            Some(&expected(&topic, &commits[0].1, &groups[0])),
            "{name}"
        );
    }
}

/// The topic's dynamic (`DYNAMIC_TOPIC_CONFIG`) entries once they equal `wanted`, or a
/// panic showing the last ones seen. A config change shows a moment after it is answered.
pub(crate) async fn wait_dynamic_configs(
    clients: &broker_core::KafkaClients,
    topic: &str,
    wanted: &BTreeMap<&str, &str>,
) {
    let admin = clients.admin().expect("admin");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let results = admin
            .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
            .await
            .expect("describe configs");
        let dynamic: BTreeMap<String, String> = results
            .into_iter()
            .flatten()
            .flat_map(|resource| resource.entries)
            .filter(|entry| entry.source == ConfigSource::DynamicTopic)
            .filter_map(|entry| Some((entry.name, entry.value?)))
            .collect();
        let seen: BTreeMap<&str, &str> = dynamic
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if &seen == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "dynamic configs of {topic}: {seen:?}, wanted {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn change(topic: &str, operations: &[(&str, ConfigOperation)]) -> ConfigChanges {
    ConfigChanges {
        resource: ConfigResource::Topic(topic.to_owned()),
        operations: operations
            .iter()
            .map(|(name, operation)| ((*name).to_owned(), operation.clone()))
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_alter_configs_sets_one_key_and_deletes_reset() {
    let services = Services::from_env();
    let clients = kafka_clients(&services.kafka_bootstrap).await;
    let client = wire_client(&services.kafka_bootstrap);
    let topic = unique_name("wire_configs");
    create_topic(&clients, &topic, 1).await;
    let set = ConfigOperation::Set;
    let alter = |changes: Vec<ConfigChanges>| {
        let client = &client;
        async move {
            let results = client
                .incremental_alter_configs(&changes, false)
                .await
                .expect("request answered");
            for result in results {
                result.expect("change applied");
            }
        }
    };

    alter(vec![change(
        &topic,
        &[("retention.ms", set("60000".into()))],
    )])
    .await;
    wait_dynamic_configs(
        &clients,
        &topic,
        &BTreeMap::from([("retention.ms", "60000")]),
    )
    .await;

    // SET of another key leaves the first one.
    alter(vec![change(
        &topic,
        &[("max.message.bytes", set("200000".into()))],
    )])
    .await;
    wait_dynamic_configs(
        &clients,
        &topic,
        &BTreeMap::from([("retention.ms", "60000"), ("max.message.bytes", "200000")]),
    )
    .await;

    // DELETE resets one key to its default; list keys APPEND and SUBTRACT.
    alter(vec![change(
        &topic,
        &[
            ("retention.ms", ConfigOperation::Delete),
            ("cleanup.policy", ConfigOperation::Append("compact".into())),
        ],
    )])
    .await;
    wait_dynamic_configs(
        &clients,
        &topic,
        &BTreeMap::from([
            ("max.message.bytes", "200000"),
            ("cleanup.policy", "delete,compact"),
        ]),
    )
    .await;
    alter(vec![change(
        &topic,
        &[("cleanup.policy", ConfigOperation::Subtract("delete".into()))],
    )])
    .await;
    wait_dynamic_configs(
        &clients,
        &topic,
        &BTreeMap::from([
            ("max.message.bytes", "200000"),
            ("cleanup.policy", "compact"),
        ]),
    )
    .await;

    // Per-resource errors: a missing topic and a bad value, next to a valid change.
    let results = client
        .incremental_alter_configs(
            &[
                change(
                    &unique_name("wire_no_topic"),
                    &[("retention.ms", set("1".into()))],
                ),
                change(&topic, &[("retention.ms", set("soon".into()))]),
            ],
            true,
        )
        .await
        .expect("request answered");
    assert_eq!(
        results[0].as_ref().err().and_then(|e| e.code()),
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{results:?}"
    );
    assert_eq!(
        results[1].as_ref().err().and_then(|e| e.code()),
        Some(KafkaCode::INVALID_CONFIG),
        "{results:?}"
    );

    // A broker's own configs go to that broker (found through Metadata); validate only.
    let brokers = client.brokers().await.expect("metadata");
    let node = brokers.first().expect("a broker").node_id;
    let results = client
        .incremental_alter_configs(
            &[ConfigChanges {
                resource: ConfigResource::Broker(node),
                operations: vec![("log.cleaner.backoff.ms".to_owned(), set("15000".into()))],
            }],
            true,
        )
        .await
        .expect("request answered");
    assert!(results[0].is_ok(), "{results:?}");
}
