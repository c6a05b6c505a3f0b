//! Moving a running capture between Debezium in Kafka Connect and our worker, both ways,
//! on the same group and internal topics: the connector config Kafka Connect stored is run
//! by our worker from the source offsets Debezium committed (and Debezium's schema history
//! topic), then Debezium runs it again from the offsets and history we wrote. Neither side
//! takes a new snapshot, and every row written while the capture was down arrives.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tests::kafka_connect::{KafkaConnectCluster, KafkaConnectProcess};
use tests::{Services, unique_name};

use crate::connect_support::{ClusterNames, call, wait_for};
use crate::mysql_common::{cdc_config, exec, items_table, read_topic, shared, start_worker};

fn kafka_connect_cluster(names: &ClusterNames) -> KafkaConnectCluster {
    KafkaConnectCluster {
        bootstrap: Services::from_env().kafka_bootstrap,
        group_id: names.group_id.clone(),
        config_topic: names.configs.clone(),
        offset_topic: names.offsets.clone(),
        status_topic: names.statuses.clone(),
        heap: "-Xmx512m".to_owned(),
    }
}

/// How many change events each id has, by operation (`r`, `c`, `u`), tombstones aside.
fn events_by_id(records: &[(Value, Value)]) -> BTreeMap<i64, BTreeMap<String, usize>> {
    let mut out: BTreeMap<i64, BTreeMap<String, usize>> = BTreeMap::new();
    for (key, value) in records {
        let (Some(id), Some(op)) = (key["id"].as_i64(), value["op"].as_str()) else {
            continue;
        };
        *out.entry(id).or_default().entry(op.to_owned()).or_default() += 1;
    }
    out
}

fn has_ids(records: &[(Value, Value)], last: i64) -> bool {
    let seen = events_by_id(records);
    (1..=last).all(|id| seen.contains_key(&id))
}

async fn insert(
    conn: &mut sqlx::MySqlConnection,
    database: &str,
    ids: std::ops::RangeInclusive<i64>,
) {
    for id in ids {
        exec(
            conn,
            &format!("INSERT INTO `{database}`.items (id, name) VALUES ({id}, 'row {id}')"),
        )
        .await;
    }
}

async fn wait_running(base: &str, name: &str) {
    wait_for(
        &format!("{base}/connectors/{name}/status"),
        Duration::from_secs(90),
        |status, body| status == 200 && body["tasks"][0]["state"] == "RUNNING",
    )
    .await;
}

#[tokio::test]
async fn offsets_and_history_carry_over_between_debezium_and_ours_both_ways() {
    let mut conn = shared().await;
    let database = items_table(&mut conn, "dbz_mig", 20).await;
    let names = ClusterNames::unique();
    let prefix = unique_name("dbzmig");
    let topic = format!("{prefix}.{database}.items");

    // 1. Debezium in Kafka Connect snapshots 1..=20 and streams 21..=25.
    let kafka_connect =
        KafkaConnectProcess::start(&kafka_connect_cluster(&names), Duration::from_secs(120)).await;
    let config = cdc_config(&Services::from_env().mysql_url, &prefix, &database);
    let (status, answer) = call(
        Method::POST,
        &format!("{}/connectors", kafka_connect.url),
        Some(json!({"name": "moved", "config": config})),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    wait_running(&kafka_connect.url, "moved").await;
    read_topic(
        &topic,
        Duration::from_secs(90),
        Duration::ZERO,
        Some(&|r| has_ids(r, 20)),
    )
    .await;
    insert(&mut conn, &database, 21..=25).await;
    read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|r| has_ids(r, 25)),
    )
    .await;
    kafka_connect.stop(Duration::from_secs(60)).await;

    // 2. Written while nobody captures, with a DDL in between: our worker must read on
    //    from Debezium's offset with the table's new shape.
    insert(&mut conn, &database, 26..=28).await;
    exec(
        &mut conn,
        &format!("ALTER TABLE `{database}`.items ADD COLUMN extra INT NULL"),
    )
    .await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (29, 'row 29', 29), (30, 'row 30', 30)"),
    )
    .await;
    let ours = start_worker(&names).await;
    wait_running(&ours.base, "moved").await;
    let records = read_topic(
        &topic,
        Duration::from_secs(90),
        Duration::ZERO,
        Some(&|r| has_ids(r, 30)),
    )
    .await;
    insert(&mut conn, &database, 31..=33).await;
    read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::ZERO,
        Some(&|r| has_ids(r, 33)),
    )
    .await;
    let after_ours = events_by_id(&records);
    ours.stop().await;

    // 3. Back to Debezium: it resumes from the offsets and history our worker wrote.
    insert(&mut conn, &database, 34..=36).await;
    exec(
        &mut conn,
        &format!("UPDATE `{database}`.items SET extra = 1 WHERE id = 1"),
    )
    .await;
    let kafka_connect =
        KafkaConnectProcess::start(&kafka_connect_cluster(&names), Duration::from_secs(120)).await;
    wait_running(&kafka_connect.url, "moved").await;
    read_topic(
        &topic,
        Duration::from_secs(90),
        Duration::ZERO,
        Some(&|r| has_ids(r, 36) && r.iter().any(|(_, v)| v["op"] == "u")),
    )
    .await;
    // Everything in the topic, once it was quiet for 3 s: what Debezium would wrongly
    // replay has had time to arrive.
    let records = read_topic(
        &topic,
        Duration::from_secs(60),
        Duration::from_secs(3),
        None,
    )
    .await;
    let log = kafka_connect.log_tail();
    kafka_connect.stop(Duration::from_secs(60)).await;

    let events = events_by_id(&records);
    let snapshot_reads: usize = events.values().filter_map(|ops| ops.get("r")).sum();
    assert_eq!(
        snapshot_reads, 20,
        "one snapshot only (ours after Debezium: {after_ours:?}); Debezium log:\n{log}"
    );
    let missing: Vec<i64> = (1..=36).filter(|id| !events.contains_key(id)).collect();
    assert!(missing.is_empty(), "rows never captured: {missing:?}");
    let repeated: Vec<(&i64, &BTreeMap<String, usize>)> = events
        .iter()
        .filter(|(_, ops)| ops.get("c").copied().unwrap_or(0) > 1)
        .collect();
    assert!(
        repeated.is_empty(),
        "inserts delivered twice across a hand-over: {repeated:?}"
    );
    assert_eq!(
        events[&1].get("u"),
        Some(&1),
        "the update after the hand-back: {:?}",
        events[&1]
    );
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}
