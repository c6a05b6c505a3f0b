//! A broker restart in the middle of a produce run, on a throwaway broker of the test's own
//! (the shared clusters are never restarted): every record the bridge acknowledged with a
//! 200 is readable afterwards with the same bytes, and every failure is explicit, a
//! per-record `error_code` or a non-2xx answer in the error body.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bridge::{BridgeConfig, ProducerConfig};
use futures::StreamExt as _;
use rdkafka::consumer::Consumer;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::json;
use tests::throwaway_broker::ThrowawayBroker;
use tests::{create_topic, unique_name};

use crate::bridge_common::{BINARY, Bridge, b64};

pub(crate) const PARTITIONS: i32 = 3;
const WORKERS: usize = 4;
const RECORDS_PER_REQUEST: usize = 5;

/// What became of one record the test sent.
#[derive(Debug)]
enum Outcome {
    Acknowledged {
        partition: i32,
        offset: i64,
        value: Vec<u8>,
        after_restart: bool,
    },
    /// A per-record error in a 200 answer.
    RecordFailed { error_code: u64 },
    /// The whole request was refused with a non-2xx status.
    RequestFailed { status: StatusCode },
}

async fn produce_until_stopped(
    bridge: Arc<Bridge>,
    topic: String,
    worker: usize,
    stop: Arc<AtomicBool>,
    restarted: Arc<AtomicBool>,
    acknowledged_after: Arc<AtomicUsize>,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut sequence = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let after_restart = restarted.load(Ordering::Relaxed);
        let values: Vec<Vec<u8>> = (0..RECORDS_PER_REQUEST)
            .map(|i| format!("worker{worker}-request{sequence}-record{i}").into_bytes())
            .collect();
        sequence += 1;
        let records: Vec<_> = values.iter().map(|v| json!({"value": b64(v)})).collect();
        let reply = bridge
            .post(
                &format!("/topics/{topic}"),
                BINARY,
                &json!({ "records": records }),
            )
            .await;
        if reply.status != StatusCode::OK {
            assert!(
                reply.status.is_client_error() || reply.status.is_server_error(),
                "{reply:?}"
            );
            assert!(
                reply.body["error_code"].is_u64() && reply.body["message"].is_string(),
                "a refused request explains itself in the error body: {reply:?}"
            );
            outcomes.push(Outcome::RequestFailed {
                status: reply.status,
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let offsets = reply.body["offsets"].as_array().expect("offsets").clone();
        assert_eq!(offsets.len(), RECORDS_PER_REQUEST, "{reply:?}");
        for (entry, value) in offsets.iter().zip(values) {
            match entry["error_code"].as_u64() {
                None => {
                    if after_restart {
                        acknowledged_after.fetch_add(1, Ordering::Relaxed);
                    }
                    outcomes.push(Outcome::Acknowledged {
                        partition: i32::try_from(entry["partition"].as_i64().expect("partition"))
                            .expect("partition fits i32"),
                        offset: entry["offset"].as_i64().expect("offset"),
                        value,
                        after_restart,
                    });
                }
                Some(error_code) => {
                    assert!(
                        matches!(error_code, 50002 | 50003),
                        "unexpected per-record code: {entry}"
                    );
                    assert!(
                        entry["error"].as_str().is_some_and(|m| !m.is_empty()),
                        "a failed record says why: {entry}"
                    );
                    assert!(entry["offset"].is_null(), "{entry}");
                    outcomes.push(Outcome::RecordFailed { error_code });
                }
            }
        }
    }
    outcomes
}

/// Every record of `topic` (with `PARTITIONS` partitions), by partition and offset.
pub(crate) async fn read_back(
    clients: &broker_core::KafkaClients,
    topic: &str,
) -> HashMap<(i32, i64), Vec<u8>> {
    let consumer = clients
        .consumer(&unique_name("restart_check"))
        .expect("consumer");
    let mut ends = HashMap::new();
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        let (_, high) = consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(10))
            .expect("watermarks");
        ends.insert(partition, high);
        list.add_partition_offset(topic, partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&list).expect("assign");
    let total: i64 = ends.values().sum();
    let mut records = HashMap::new();
    let mut stream = consumer.stream();
    let started = Instant::now();
    while i64::try_from(records.len()).unwrap_or(i64::MAX) < total {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "read {} of {total} records in 60 s",
            records.len()
        );
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            Ok(Some(Ok(message))) => {
                records.insert(
                    (message.partition(), message.offset()),
                    message.payload().unwrap_or_default().to_vec(),
                );
            }
            Ok(Some(Err(error))) => panic!("reading back: {error}"),
            Ok(None) | Err(_) => {}
        }
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_record_survives_a_broker_restart() {
    let mut broker = ThrowawayBroker::start().await;
    let clients = broker.clients();
    let topic = unique_name("bridge_restart");
    create_topic(&clients, &topic, PARTITIONS).await;
    // Records waiting for the broker fail after 20 s instead of librdkafka's 300 s, so the
    // run is bounded; the request timeout leaves room for that.
    let mut producer = ProducerConfig::default();
    producer
        .properties
        .insert("message.timeout.ms".to_owned(), "20000".to_owned());
    let bridge = Arc::new(Bridge::with_clients(
        &BridgeConfig {
            producer,
            ..BridgeConfig::default()
        },
        clients,
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    let acknowledged_after = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            tokio::spawn(produce_until_stopped(
                Arc::clone(&bridge),
                topic.clone(),
                worker,
                Arc::clone(&stop),
                Arc::clone(&restarted),
                Arc::clone(&acknowledged_after),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.restart().await;
    restarted.store(true, Ordering::Relaxed);
    // Produce until requests sent after the restart are acknowledged (librdkafka reconnects
    // with a backoff of up to 10 s, longer on a loaded machine), then a little more.
    let recovering = Instant::now();
    while acknowledged_after.load(Ordering::Relaxed) == 0
        && recovering.elapsed() < Duration::from_secs(45)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await.expect("produce worker"));
    }

    let stored = read_back(&bridge.clients, &topic).await;
    let (mut before, mut after, mut record_failures, mut request_failures) = (0, 0, 0, 0);
    for outcome in &outcomes {
        match outcome {
            Outcome::Acknowledged {
                partition,
                offset,
                value,
                after_restart,
            } => {
                assert_eq!(
                    stored.get(&(*partition, *offset)),
                    Some(value),
                    "acknowledged record at {partition}/{offset} is not readable as sent"
                );
                if *after_restart {
                    after += 1;
                } else {
                    before += 1;
                }
            }
            Outcome::RecordFailed { .. } => record_failures += 1,
            Outcome::RequestFailed { .. } => request_failures += 1,
        }
    }
    eprintln!(
        "broker restart: {before} acknowledged before, {after} after, {record_failures} \
         records failed explicitly, {request_failures} requests refused: {:?}",
        outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::RecordFailed { error_code } => Some(error_code.to_string()),
                Outcome::RequestFailed { status } => Some(status.to_string()),
                Outcome::Acknowledged { .. } => None,
            })
            .collect::<std::collections::BTreeSet<_>>()
    );
    assert!(before > 0, "nothing was acknowledged before the restart");
    assert!(
        after > 0,
        "nothing was acknowledged after the broker came back: the bridge did not recover"
    );
    // Offsets are never handed out twice: duplicates would mean a 200 lied.
    let acknowledged: std::collections::HashSet<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Acknowledged {
                partition, offset, ..
            } => Some((*partition, *offset)),
            _ => None,
        })
        .collect();
    assert_eq!(acknowledged.len(), before + after);

    // The failure path, not left to chance: with the broker down for longer than the
    // producer's message timeout, records fail with a per-record code, then the bridge
    // recovers once the broker is back.
    let mut producer = ProducerConfig::default();
    producer
        .properties
        .insert("message.timeout.ms".to_owned(), "3000".to_owned());
    let impatient = Bridge::with_clients(
        &BridgeConfig {
            producer,
            ..BridgeConfig::default()
        },
        broker.clients(),
    );
    let one = json!({"records": [{"value": b64(b"before")}, {"value": b64(b"stop")}]});
    let uri = format!("/topics/{topic}");
    let reply = impatient.post(&uri, BINARY, &one).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    broker.stop().await;
    let reply = impatient.post(&uri, BINARY, &one).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    for entry in reply.body["offsets"].as_array().expect("offsets") {
        assert!(
            matches!(entry["error_code"].as_u64(), Some(50002 | 50003)),
            "a record the broker never got is an explicit failure: {reply:?}"
        );
        assert!(entry["offset"].is_null(), "{reply:?}");
    }
    broker.start_again().await;
    let started = Instant::now();
    loop {
        let reply = impatient.post(&uri, BINARY, &one).await;
        if reply.status == StatusCode::OK && reply.body["offsets"][0]["error_code"].is_null() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the bridge did not recover after the broker came back: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
