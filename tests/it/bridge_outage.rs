//! The Kafka broker stopped for about 10 s and started again while HTTP clients produce
//! through a real `kafka-gateway run` process (issue #17, item 4a). The broker is a
//! throwaway one of the test's own (the shared clusters are never restarted), the bridge
//! runs with its default producer and request settings, and the clients speak HTTP over TCP.
//!
//! Every record answered 200 without a per-record error must be readable afterwards at the
//! partition and offset the answer named, with the bytes sent; every other outcome must be an
//! explicit failure (a per-record `error_code` with a message, or a non-2xx answer with the
//! Confluent error body); no offset is handed out twice. Counts and the recovery time (broker
//! ready → the first request sent after it is acknowledged) are printed.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::process::{GatewayProcess, free_port};
use tests::throwaway_broker::ThrowawayBroker;
use tests::{create_topic, unique_name};

use crate::bridge_common::{BINARY, b64};
use crate::bridge_restart::{PARTITIONS, read_back};

const CLIENTS: usize = 4;
const RECORDS_PER_REQUEST: usize = 5;
/// How long the broker stays down.
const OUTAGE: Duration = Duration::from_secs(10);

/// What became of one record a client sent.
#[derive(Debug)]
enum Outcome {
    /// In a 200 answer without an error: at `partition`/`offset`.
    Acknowledged {
        partition: i32,
        offset: i64,
        value: Vec<u8>,
    },
    /// A per-record `error_code` in a 200 answer.
    RecordFailed { error_code: u64, message: String },
    /// The request was answered with a non-2xx status and the error body.
    RequestFailed { status: u16, message: String },
}

/// One request: when it was sent, how long the answer took, what became of its records.
#[derive(Debug)]
struct Exchange {
    sent: Instant,
    latency: Duration,
    outcomes: Vec<Outcome>,
}

async fn produce_until_stopped(
    http: reqwest::Client,
    url: String,
    client: usize,
    stop: Arc<AtomicBool>,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
) {
    let mut sequence = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let values: Vec<Vec<u8>> = (0..RECORDS_PER_REQUEST)
            .map(|i| format!("client{client}-request{sequence}-record{i}").into_bytes())
            .collect();
        sequence += 1;
        let records: Vec<Value> = values.iter().map(|v| json!({"value": b64(v)})).collect();
        let sent = Instant::now();
        let response = http
            .post(&url)
            .header("content-type", BINARY)
            .json(&json!({ "records": records }))
            .send()
            .await
            .unwrap_or_else(|error| panic!("the bridge did not answer at all: {error}"));
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let latency = sent.elapsed();
        let outcomes = if status == 200 {
            let offsets = body["offsets"].as_array().expect("offsets in a 200");
            assert_eq!(offsets.len(), RECORDS_PER_REQUEST, "{body}");
            offsets
                .iter()
                .zip(values)
                .map(|(entry, value)| match entry["error_code"].as_u64() {
                    None => Outcome::Acknowledged {
                        partition: i32::try_from(entry["partition"].as_i64().expect("partition"))
                            .expect("partition fits i32"),
                        offset: entry["offset"]
                            .as_i64()
                            .expect("offset of an acknowledged record"),
                        value,
                    },
                    Some(error_code) => {
                        assert!(
                            entry["error"].as_str().is_some_and(|m| !m.is_empty())
                                && entry["offset"].is_null(),
                            "a failed record says why and has no offset: {entry}"
                        );
                        Outcome::RecordFailed {
                            error_code,
                            message: entry["error"].as_str().unwrap_or_default().to_owned(),
                        }
                    }
                })
                .collect()
        } else {
            assert!(status >= 400, "{status} {body}");
            assert!(
                body["error_code"].is_u64() && body["message"].is_string(),
                "a refused request explains itself in the error body: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            vec![Outcome::RequestFailed {
                status,
                message: body["message"].as_str().unwrap_or_default().to_owned(),
            }]
        };
        exchanges.lock().unwrap().push(Exchange {
            sent,
            latency,
            outcomes,
        });
    }
}

/// A request sent at or after `since` whose records were all acknowledged.
fn acknowledged_since(exchange: &Exchange, since: Instant) -> bool {
    exchange.sent >= since
        && exchange
            .outcomes
            .iter()
            .all(|outcome| matches!(outcome, Outcome::Acknowledged { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_stopped_for_10_s_under_http_produce_loses_no_acknowledged_record() {
    // Default settings: records wait for the broker (the request timeout is 60 s).
    outage_under_http_produce(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_down_longer_than_the_message_timeout_fails_records_explicitly() {
    // `message.timeout.ms` = 4 s < the outage: records sent while the broker is down must
    // come back as explicit failures, never as a 200 without an error.
    let failed = outage_under_http_produce(Some("4000")).await;
    assert!(
        failed > 0,
        "records sent during an outage longer than message.timeout.ms failed explicitly"
    );
}

/// Runs the outage; returns how many records failed explicitly (per record or per request).
async fn outage_under_http_produce(message_timeout_ms: Option<&str>) -> usize {
    let mut broker = ThrowawayBroker::start().await;
    let topic = unique_name("bridge_outage");
    create_topic(&broker.clients(), &topic, PARTITIONS).await;
    let bridge_port = free_port();
    let log = std::env::temp_dir().join(format!("{}.log", unique_name("bridge_outage")));
    let (bootstrap, listen, metrics) = (
        broker.bootstrap(),
        format!("127.0.0.1:{bridge_port}"),
        format!("127.0.0.1:{}", free_port()),
    );
    let env = [
        ("KAFKA_GATEWAY_KAFKA__BOOTSTRAP_SERVERS", bootstrap.as_str()),
        ("KAFKA_GATEWAY_BRIDGE__HTTP__LISTEN", listen.as_str()),
        ("KAFKA_GATEWAY_METRICS__HTTP__LISTEN", metrics.as_str()),
    ];
    // The producer property goes through the config file: a numeric value in a
    // `KAFKA_GATEWAY_…__PROPERTIES__…` variable is refused today (not a string).
    let config = std::env::temp_dir().join(format!("{}.toml", unique_name("bridge_outage")));
    let producer = message_timeout_ms.map_or_else(String::new, |timeout| {
        format!("[bridge.producer.properties]\n\"message.timeout.ms\" = \"{timeout}\"\n")
    });
    std::fs::write(&config, producer).expect("gateway config");
    let config = config.display().to_string();
    let mut gateway = GatewayProcess::spawn(&["run", "--config", &config], &env, log);
    // Longer than the bridge's own request timeout (60 s): the bridge must answer first.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("http client");
    let base = format!("http://127.0.0.1:{bridge_port}");
    let started = Instant::now();
    while http.get(format!("{base}/")).send().await.is_err() {
        if let Ok(Some(status)) = gateway.child.0.try_wait() {
            panic!(
                "kafka-gateway exited with {status}; log:\n{}",
                gateway.log()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the bridge did not listen within 60 s; log:\n{}",
            gateway.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let exchanges = Arc::new(Mutex::new(Vec::new()));
    let url = format!("{base}/topics/{topic}");
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            tokio::spawn(produce_until_stopped(
                http.clone(),
                url.clone(),
                client,
                Arc::clone(&stop),
                Arc::clone(&exchanges),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopped = Instant::now();
    broker.stop().await;
    tokio::time::sleep(OUTAGE).await;
    broker.start_again().await;
    let ready = Instant::now();
    println!(
        "broker down {:?} (stopped with SIGTERM, started on the same data)",
        ready.duration_since(stopped)
    );
    // Produce until requests sent after the restart are acknowledged (librdkafka reconnects
    // with a backoff of up to 10 s, longer on a loaded machine), then a little more.
    let deadline = ready + Duration::from_secs(120);
    while !exchanges
        .lock()
        .unwrap()
        .iter()
        .any(|exchange| acknowledged_since(exchange, ready))
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        tokio::time::timeout(Duration::from_secs(180), client)
            .await
            .expect("every request is answered")
            .expect("client task");
    }
    let exchanges = std::mem::take(&mut *exchanges.lock().unwrap());

    let stored = read_back(&broker.clients(), &topic).await;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut offsets = HashSet::new();
    let mut lost = Vec::new();
    for outcome in exchanges.iter().flat_map(|exchange| &exchange.outcomes) {
        match outcome {
            Outcome::Acknowledged {
                partition,
                offset,
                value,
            } => {
                *counts.entry("acknowledged").or_default() += 1;
                assert!(
                    offsets.insert((*partition, *offset)),
                    "offset {partition}/{offset} acknowledged twice"
                );
                if stored.get(&(*partition, *offset)) != Some(value) {
                    lost.push((*partition, *offset));
                }
            }
            Outcome::RecordFailed {
                error_code,
                message,
            } => {
                *counts.entry("records failed").or_default() += 1;
                *failures
                    .entry(format!("record {error_code}: {message}"))
                    .or_default() += 1;
            }
            Outcome::RequestFailed { status, message } => {
                *counts.entry("requests refused").or_default() += 1;
                *failures
                    .entry(format!("http {status}: {message}"))
                    .or_default() += 1;
            }
        }
    }
    let recovery = exchanges
        .iter()
        .filter(|exchange| acknowledged_since(exchange, ready))
        .map(|exchange| (exchange.sent + exchange.latency).saturating_duration_since(ready))
        .min();
    // Requests sent while the broker was down and answered after it came back.
    let held_answered = exchanges
        .iter()
        .filter(|exchange| exchange.sent < ready && exchange.sent + exchange.latency >= ready)
        .map(|exchange| (exchange.sent + exchange.latency).saturating_duration_since(ready))
        .min();
    let slowest = exchanges.iter().map(|exchange| exchange.latency).max();
    let in_kafka = stored.len();
    let sent_records = exchanges.len() * RECORDS_PER_REQUEST;
    println!(
        "broker outage under HTTP produce (message.timeout.ms {}): {} requests ({sent_records} records), {counts:?}, \
         failures {failures:?}; {in_kafka} records in Kafka; lost (acknowledged, not in Kafka \
         as sent) {}; in Kafka without a 200 {}; slowest answer {slowest:?}; recovery {recovery:?} \
         (broker ready → first request sent after it acknowledged); requests held through \
         the outage answered from {held_answered:?} after ready",
        message_timeout_ms.unwrap_or("default"),
        exchanges.len(),
        lost.len(),
        in_kafka.saturating_sub(offsets.len()),
    );
    assert!(
        lost.is_empty(),
        "acknowledged but not in Kafka as sent: {lost:?}"
    );
    assert!(
        exchanges.iter().any(|exchange| exchange.sent < stopped
            && matches!(
                exchange.outcomes.first(),
                Some(Outcome::Acknowledged { .. })
            )),
        "records were acknowledged before the outage"
    );
    assert!(
        recovery.is_some(),
        "no request sent after the broker came back was acknowledged: the bridge did not recover"
    );
    drop(gateway);
    counts.get("records failed").copied().unwrap_or_default()
        + counts.get("requests refused").copied().unwrap_or_default()
}
