//! broker-core's native OffsetCommit against cluster A: several memberless groups committed
//! in one call and read back, and a group with an active member refused (its positions are
//! its own, the rule the mirror's group sync relies on).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use broker_core::wire::offset_commit::GroupCommits;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_acls::wire_client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memberless_groups_are_committed_in_one_call_and_active_ones_refused() {
    let services = Services::from_env();
    let clients = kafka_clients(&services.kafka_bootstrap).await;
    let topic = unique_name("wire_commit");
    create_topic(&clients, &topic, 2).await;
    let client = wire_client(&services.kafka_bootstrap);
    let (first, second, active) = (
        unique_name("wire_commit_a"),
        unique_name("wire_commit_b"),
        unique_name("wire_commit_active"),
    );

    // A member that holds its group (subscribed, assignment received).
    let mut config = clients.consumer_config(&active);
    config.set("enable.auto.commit", "false");
    let member: BaseConsumer = config.create().expect("member");
    member.subscribe(&[&topic]).expect("subscribe");
    let joined = Instant::now() + Duration::from_secs(60);
    while member.assignment().map_or(0, |a| a.count()) == 0 {
        assert!(
            Instant::now() < joined,
            "member of {active} never got an assignment"
        );
        member.poll(Duration::from_millis(100));
    }

    let commits: GroupCommits = [
        (
            first.clone(),
            BTreeMap::from([((topic.clone(), 0), 5), ((topic.clone(), 1), 7)]),
        ),
        (second.clone(), BTreeMap::from([((topic.clone(), 1), 3)])),
        (active.clone(), BTreeMap::from([((topic.clone(), 0), 9)])),
    ]
    .into_iter()
    .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let results = client
        .commit_group_offsets(&commits, deadline)
        .await
        .expect("coordinators found");
    assert!(results[&first].is_ok(), "{:?}", results[&first]);
    assert!(results[&second].is_ok(), "{:?}", results[&second]);
    assert!(
        results[&active].is_err(),
        "a group with an active member must refuse a memberless commit"
    );

    let read = client
        .committed_offsets(&[first.clone(), second.clone()], deadline)
        .await
        .expect("offsets read");
    let positions = |group: &str| -> Vec<(i32, i64)> {
        read[group]
            .as_ref()
            .expect("group answered")
            .iter()
            .map(|c| (c.partition, c.offset))
            .collect()
    };
    assert_eq!(positions(&first), vec![(0, 5), (1, 7)]);
    assert_eq!(positions(&second), vec![(1, 3)]);
    drop(member);
}
