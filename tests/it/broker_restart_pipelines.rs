//! A Kafka broker restarted under running pipelines (#17 item 4b and 4c). The broker is a
//! throwaway single-node broker of the test's own (`tests::throwaway_broker`): the shared
//! clusters are never restarted by tests.
//!
//! - CDC → Kafka → OpenSearch: the MySQL source and the Elasticsearch sink run in one
//!   connect worker whose cluster (internal topics, record topics, schema history) is the
//!   throwaway broker, while a writer inserts into MariaDB. The broker is stopped (SIGTERM)
//!   and started again mid-stream. Every row must reach OpenSearch, with its last value.
//! - The mirror copies from the throwaway broker (cluster A) to the shared cluster B while
//!   the broker restarts. Every source record must be on B afterwards (at-least-once).
//!
//! Each prints the recovery time: broker ready → the first record that moved after it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use connect_api::ConnectorPlugin;
use reqwest::Method;
use serde_json::{Value, json};
use tests::throwaway_broker::ThrowawayBroker;
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::connect_support::{ClusterNames, TestWorker, call, wait_for_state};
use crate::es_sink_support::{count, delete_index, search_url};
use crate::mirror_common::{
    MirrorProcess, high_watermarks, produce_numbered, read_distinct_keys, wait_for_copied,
};
use crate::mysql_common::{Writer, cdc_config, exec, items_table, shared, table_rows};

const SNAPSHOT_ROWS: i64 = 500;
const RETRY_DELAY_MAX_MS: &str = "5000";

/// Documents of `index` as (Kafka offset, source): with `key.ignore` the ids are
/// `topic+partition+offset`, and the offset orders them.
async fn documents(search: &str, index: &str) -> Vec<(i64, Value)> {
    crate::es_sink_support::documents(search, index)
        .await
        .into_iter()
        .filter_map(|(id, source)| Some((id.rsplit('+').next()?.parse().ok()?, source)))
        .collect()
}

/// Per row id, the name of its latest document (by Kafka offset), and how many documents
/// repeat an earlier (id, name) pair: records delivered twice.
fn latest_by_id(documents: &[(i64, Value)]) -> (BTreeMap<i64, String>, usize) {
    let mut sorted: Vec<&(i64, Value)> = documents.iter().collect();
    sorted.sort_by_key(|(offset, _)| *offset);
    let mut latest = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut repeats = 0;
    for (_, source) in sorted {
        let (Some(id), Some(name)) = (source["id"].as_i64(), source["name"].as_str()) else {
            continue;
        };
        if !seen.insert((id, name.to_owned())) {
            repeats += 1;
        }
        latest.insert(id, name.to_owned());
    }
    (latest, repeats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cdc_to_opensearch_resumes_after_a_broker_restart_and_loses_no_row() {
    let url = Services::from_env().mysql_url;
    let search = search_url().await;
    let mut broker = ThrowawayBroker::start().await;
    let mut conn = shared().await;
    let database = items_table(&mut conn, "cdc_broker", SNAPSHOT_ROWS).await;
    let prefix = unique_name("cdc_broker");
    let topic = format!("{prefix}.{database}.items");
    let index = topic.to_lowercase();

    let plugins = crate::mysql_common::plugins()
        .with(ConnectorPlugin::sink(elasticsearch_sink::ElasticsearchSink));
    let worker =
        TestWorker::start_with_plugins(&broker.clients(), ClusterNames::unique().config(), plugins)
            .await;
    let mut source = cdc_config(&url, &prefix, &database);
    source["schema.history.internal.kafka.bootstrap.servers"] = json!(broker.bootstrap());
    // The runtime's retry backoff doubles up to this bound (60 s by default, as in Kafka
    // Connect); 5 s is what an operator who wants a quick resume sets.
    source["errors.retry.delay.max.ms"] = json!(RETRY_DELAY_MAX_MS);
    let sink = json!({
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "connection.url": search, "topics": topic, "tasks.max": "1",
        "key.ignore": "true", "schema.ignore": "true", "linger.ms": "5",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "errors.retry.delay.max.ms": RETRY_DELAY_MAX_MS,
    });
    for (name, config) in [("cdc", source), ("es", sink)] {
        let body = json!({"name": name, "config": config});
        let (status, answer) = call(
            Method::POST,
            &format!("{}/connectors", worker.base),
            Some(body),
        )
        .await;
        assert_eq!(status, 201, "{answer}");
    }
    let writer = Writer::start(url.clone(), database.clone(), 100_001);
    wait_for_documents(&search, &index, u64::try_from(SNAPSHOT_ROWS).unwrap() + 100).await;

    let stopped = Instant::now();
    broker.stop().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    broker.start_again().await;
    let ready = Instant::now();
    let at_ready = count(&search, &index).await;
    let recovery = loop {
        if count(&search, &index).await > at_ready {
            break ready.elapsed();
        }
        assert!(
            ready.elapsed() < Duration::from_secs(180),
            "no new document in OpenSearch within 180 s of the broker's restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let last = writer.stop().await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (999999, 'marker')"),
    )
    .await;
    let expected = table_rows(&mut conn, &database).await;
    let deadline = Instant::now() + Duration::from_secs(180);
    let (latest, repeats) = loop {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (latest, repeats) = latest_by_id(&documents(&search, &index).await);
        if latest.contains_key(&999_999) && latest == expected {
            break (latest, repeats);
        }
        if Instant::now() > deadline {
            let lost: Vec<&i64> = expected
                .keys()
                .filter(|id| !latest.contains_key(id))
                .collect();
            let wrong: Vec<_> = expected
                .iter()
                .filter(|(id, name)| latest.get(id).is_some_and(|n| n != *name))
                .take(5)
                .collect();
            panic!(
                "after 180 s: {} rows missing in OpenSearch (first {:?}), last values differ \
                 for {wrong:?}; worker statuses: {:?}",
                lost.len(),
                &lost[..lost.len().min(10)],
                statuses(&worker).await
            );
        }
    };
    eprintln!(
        "broker restart under CDC -> Kafka -> OpenSearch: broker down {:?}; {} rows \
         ({SNAPSHOT_ROWS} snapshot, {} streamed), 0 lost, {repeats} documents repeated \
         (at-least-once), first new document {recovery:?} after the broker was ready \
         (errors.retry.delay.max.ms {RETRY_DELAY_MAX_MS})",
        ready.duration_since(stopped),
        latest.len(),
        last - 100_000,
    );
    for name in ["cdc", "es"] {
        wait_for_state(&worker, name, "RUNNING", 1).await;
    }
    worker.stop().await;
    delete_index(&search, &index).await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}

async fn wait_for_documents(search: &str, index: &str, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let count = count(search, index).await;
        if count >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {count} documents in {index} after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn statuses(worker: &TestWorker) -> Vec<Value> {
    let mut all = Vec::new();
    for name in ["cdc", "es"] {
        let (_, body) = call(
            Method::GET,
            &format!("{}/connectors/{name}/status", worker.base),
            None,
        )
        .await;
        all.push(body);
    }
    all
}

const MIRRORED: u32 = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mirror_resumes_after_its_source_broker_restarts_and_copies_everything() {
    let services = Services::from_env();
    let mut broker = ThrowawayBroker::start().await;
    let source = broker.clients();
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("mirror_broker");
    let remote = format!("A.{topic}");
    create_topic(&source, &topic, 3).await;
    let producer = source.producer().expect("producer");
    produce_numbered(&producer, &topic, 0..MIRRORED / 2, 3).await;
    drop(producer);

    let group = format!("__mirror_test.{topic}");
    let properties = format!(
        "clusters = A, B\nA.bootstrap.servers = {}\nB.bootstrap.servers = {}\n\
         A->B.enabled = true\nA->B.topics = {topic}\nreplication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\nrefresh.topics.interval.seconds = 1\n\
         offset.flush.interval.ms = 200\nemit.checkpoints.interval.seconds = 1\n\
         replication.group.id = {group}\n",
        broker.bootstrap(),
        services.kafka_b_bootstrap,
    );
    let mirror = MirrorProcess::start(&properties);
    wait_for_copied(&b, &remote, i64::from(MIRRORED / 4)).await;

    let stopped = Instant::now();
    broker.stop().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    broker.start_again().await;
    let ready = Instant::now();
    // More records once the broker is back: the copy must resume to reach them.
    let producer = broker.clients().producer().expect("producer");
    produce_numbered(&producer, &topic, MIRRORED / 2..MIRRORED, 3).await;
    let at_ready: i64 = high_watermarks(&b, &remote).await.values().sum();
    let recovery = loop {
        let copied: i64 = high_watermarks(&b, &remote).await.values().sum();
        if copied > at_ready {
            break ready.elapsed();
        }
        assert!(
            ready.elapsed() < Duration::from_secs(180),
            "nothing copied within 180 s of the source broker's restart; mirror log:\n{}",
            mirror.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (reader, name) = (b.clone(), remote.clone());
    let expected = usize::try_from(MIRRORED).unwrap();
    let seen = tokio::task::spawn_blocking(move || {
        read_distinct_keys(&reader, &name, expected, Duration::from_secs(180), false)
    })
    .await
    .unwrap();
    let caught_up = ready.elapsed();
    mirror.stop().await;
    let keys: BTreeSet<&String> = seen.iter().map(|record| &record.key).collect();
    let missing: Vec<u32> = (0..MIRRORED)
        .filter(|id| !keys.contains(&format!("{id:08}")))
        .collect();
    eprintln!(
        "source broker restart under the mirror: broker down {:?}; {} of {MIRRORED} records \
         on the target, {} duplicates (at-least-once), first record {recovery:?} and every \
         record {caught_up:?} after the broker was ready",
        ready.duration_since(stopped),
        keys.len(),
        seen.len() - keys.len(),
    );
    assert!(
        missing.is_empty(),
        "{} records lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // Every copy is the source record: same value, same partition.
    for record in &seen {
        let id: u32 = record.key.parse().unwrap();
        assert_eq!(record.value, format!("value-{id}"));
        assert_eq!(record.partition, i32::try_from(id % 3).unwrap());
    }
}
