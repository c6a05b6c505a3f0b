//! Delivery across an in-process abrupt stop (the mirror future is dropped mid-stream, so
//! nothing is flushed or committed) and a restart. The process-level kill -9 drills are in
//! `mirror_delivery`.

use std::collections::BTreeMap;
use std::time::Duration;

use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{
    RunningMirror, high_watermarks, produce_numbered, properties, read_all,
};

const RECORDS: u32 = 20_000;

async fn crash_and_restart(extra: &str, read_committed: bool) -> BTreeMap<String, usize> {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("mirror_crash");
    let remote = format!("A.{topic}");
    create_topic(&a, &topic, 3).await;
    let producer = a.producer().expect("producer");
    produce_numbered(&producer, &topic, 0..RECORDS, 3).await;

    let mirror = RunningMirror::start(properties(&topic, extra));
    loop {
        let copied: i64 = high_watermarks(&b, &remote).await.values().sum();
        if copied > i64::from(RECORDS) / 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    mirror.crash().await;
    let mirror = RunningMirror::start(properties(&topic, extra));
    let b_reader = b.clone();
    let remote_name = remote.clone();
    let expected = usize::try_from(RECORDS).unwrap();
    let first_pass = tokio::task::spawn_blocking(move || {
        read_all(
            &b_reader,
            &remote_name,
            expected,
            Duration::from_secs(120),
            read_committed,
        )
    })
    .await
    .unwrap();
    assert!(
        first_pass.len() >= expected,
        "only {} of {expected} records arrived",
        first_pass.len()
    );
    // Stop gracefully, then read everything again to count duplicates.
    mirror.stop().await;
    let b_reader = b.clone();
    let remote_name = remote.clone();
    let seen = tokio::task::spawn_blocking(move || {
        read_all(
            &b_reader,
            &remote_name,
            expected,
            Duration::from_secs(120),
            read_committed,
        )
    })
    .await
    .unwrap();
    let mut per_partition: BTreeMap<i32, usize> = BTreeMap::new();
    for record in &seen {
        *per_partition.entry(record.partition).or_insert(0) += 1;
    }
    // Context for a failure below: records read per partition vs the log's end offsets.
    eprintln!(
        "read {} records, per partition {per_partition:?}; high watermarks {:?}",
        seen.len(),
        high_watermarks(&b, &format!("A.{topic}")).await
    );
    let mut counts = BTreeMap::new();
    for record in seen {
        *counts.entry(record.key).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_least_once_loses_nothing_across_an_in_process_crash() {
    let counts = crash_and_restart("", false).await;
    let missing: Vec<u32> = (0..RECORDS)
        .filter(|id| !counts.contains_key(&format!("{id:08}")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} records lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}
