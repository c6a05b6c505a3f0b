//! `cargo run --release -p bench -- bridge`: the HTTP bridge against the native client, on
//! the local cluster A (`KAFKA_BOOTSTRAP`, default 127.0.0.1:9092), bounded to about two
//! minutes. Prints each figure and the ratios measured in the same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use broker_core::{ClusterConfig, KafkaClients};
use futures::StreamExt as _;
use gateway_bridge::{BridgeConfig, BridgeState, router};
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};

const RECORD_BYTES: usize = 1024;
const RECORDS_PER_REQUEST: usize = 100;
const CONNECTIONS: usize = 64;
const PARTITIONS: i32 = 6;
const PRODUCE_RECORDS: usize = 200_000;
const PRODUCE_LIMIT: Duration = Duration::from_secs(25);
const LATENCY_RATE: u64 = 1000;
const LATENCY_DURATION: Duration = Duration::from_secs(10);
const CONSUME_LIMIT: Duration = Duration::from_secs(25);

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    if which != "bridge" {
        eprintln!("usage: cargo run --release -p bench -- bridge");
        std::process::exit(2);
    }
    if let Err(error) = bridge().await {
        eprintln!("benchmark failed: {error}");
        std::process::exit(1);
    }
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn create_topic(clients: &KafkaClients, name: &str) -> BenchResult<()> {
    let admin = clients.admin()?;
    let results = admin
        .create_topics(
            &[NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await?;
    for result in results {
        result.map_err(|(topic, code)| format!("creating {topic}: {code}"))?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

async fn bridge() -> BenchResult<()> {
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".to_owned());
    let clients = KafkaClients::new(ClusterConfig::new(&bootstrap).validate("kafka")?);
    let mut config = BridgeConfig::default();
    config.http.listen = Some("127.0.0.1:0".to_owned());
    config.http.max_concurrent_requests = 4096;
    let validated = config.validate("bridge")?;
    let state = BridgeState::new(validated, clients.clone())?;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", tcp.local_addr()?);
    let app = router(state);
    tokio::spawn(async move { axum::serve(tcp, app).await });
    println!(
        "bridge on {base}, cluster A at {bootstrap}, rss at start {:.1} MiB",
        rss_mib()
    );

    let native_topic = unique("bench_native");
    let http_topic = unique("bench_http");
    create_topic(&clients, &native_topic).await?;
    create_topic(&clients, &http_topic).await?;
    let payload = vec![b'x'; RECORD_BYTES];

    // 1. Native producer.
    let producer = clients.producer()?;
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(10_000);
    let mut native_sent = 0usize;
    while native_sent < PRODUCE_RECORDS && started.elapsed() < PRODUCE_LIMIT {
        let key = format!("key-{native_sent}");
        let record = FutureRecord::to(&native_topic)
            .key(&key)
            .payload(&payload[..]);
        match producer.send_result(record) {
            Ok(delivery) => {
                deliveries.push(delivery);
                native_sent += 1;
            }
            Err((
                rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::QueueFull,
                ),
                _,
            )) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err((error, _)) => return Err(error.into()),
        }
        if deliveries.len() >= 10_000 {
            for delivery in deliveries.drain(..) {
                delivery.await?.map_err(|(e, _)| e)?;
            }
        }
    }
    for delivery in deliveries {
        delivery.await?.map_err(|(e, _)| e)?;
    }
    let native_rate = native_sent as f64 / started.elapsed().as_secs_f64();
    println!("native produce: {native_rate:.0} msgs/s ({native_sent} x {RECORD_BYTES} B)");

    // 2. HTTP produce: 100 records per request over 64 connections.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .timeout(Duration::from_secs(60))
        .build()?;
    let encoded = BASE64.encode(&payload);
    let records: Vec<Value> = (0..RECORDS_PER_REQUEST)
        .map(|i| json!({"key": BASE64.encode(format!("key-{i}")), "value": encoded}))
        .collect();
    let body = Arc::new(json!({ "records": records }).to_string());
    let sent = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (http, body, sent, url) = (
            http.clone(),
            Arc::clone(&body),
            Arc::clone(&sent),
            format!("{base}/topics/{http_topic}"),
        );
        workers.push(tokio::spawn(async move {
            while sent.fetch_add(RECORDS_PER_REQUEST, Ordering::Relaxed) < PRODUCE_RECORDS
                && started.elapsed() < PRODUCE_LIMIT
            {
                let response = http
                    .post(&url)
                    .header("content-type", "application/vnd.kafka.binary.v2+json")
                    .body(body.as_str().to_owned())
                    .send()
                    .await?;
                if !response.status().is_success() {
                    return Err(format!("produce answered {}", response.status()).into());
                }
                response.bytes().await?;
            }
            BenchResult::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let http_sent = sent.load(Ordering::Relaxed).min(PRODUCE_RECORDS);
    let http_rate = http_sent as f64 / started.elapsed().as_secs_f64();
    println!(
        "http produce:   {http_rate:.0} msgs/s ({RECORDS_PER_REQUEST} x {RECORD_BYTES} B per request, {CONNECTIONS} connections), rss {:.1} MiB",
        rss_mib()
    );

    // 3. Single-record latency at a fixed rate.
    let single = Arc::new(json!({"records": [{"value": BASE64.encode(&payload)}]}).to_string());
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / LATENCY_RATE));
    let started = Instant::now();
    let mut probes = Vec::new();
    while started.elapsed() < LATENCY_DURATION {
        ticker.tick().await;
        let (http, body, url) = (
            http.clone(),
            Arc::clone(&single),
            format!("{base}/topics/{http_topic}"),
        );
        probes.push(tokio::spawn(async move {
            let sent_at = Instant::now();
            let response = http
                .post(&url)
                .header("content-type", "application/vnd.kafka.binary.v2+json")
                .body(body.as_str().to_owned())
                .send()
                .await?;
            let ok = response.status().is_success();
            response.bytes().await?;
            let elapsed = sent_at.elapsed();
            if ok {
                BenchResult::Ok(elapsed)
            } else {
                Err("single produce failed".into())
            }
        }));
    }
    let mut latencies = Vec::with_capacity(probes.len());
    for probe in probes {
        latencies.push(probe.await??);
    }
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies.get(index).copied().unwrap_or_default()
    };
    let (p50, p99) = (percentile(0.50), percentile(0.99));
    println!(
        "single-record produce at {LATENCY_RATE} req/s: p50 {:.2} ms, p99 {:.2} ms ({} requests)",
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        latencies.len()
    );

    // 4. Native consume of the natively produced records.
    let consumer = clients.consumer(&unique("bench_native_group"))?;
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        list.add_partition_offset(&native_topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&list)?;
    let started = Instant::now();
    let mut stream = consumer.stream();
    let mut native_read = 0usize;
    while native_read < native_sent && started.elapsed() < CONSUME_LIMIT {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            Ok(Some(Ok(_))) => native_read += 1,
            Ok(Some(Err(error))) => return Err(error.into()),
            _ => break,
        }
    }
    let native_consume = native_read as f64 / started.elapsed().as_secs_f64();
    drop(stream);
    println!("native consume: {native_consume:.0} msgs/s ({native_read} records)");

    // 5. HTTP consume of the same records through a consumer instance.
    let group = unique("bench_http_group");
    let created: Value = http
        .post(format!("{base}/consumers/{group}"))
        .header("content-type", "application/vnd.kafka.v2+json")
        .body(
            json!({"name": "bench", "format": "binary", "auto.commit.enable": "false"}).to_string(),
        )
        .send()
        .await?
        .json()
        .await?;
    let instance = created["base_uri"]
        .as_str()
        .ok_or("no base_uri")?
        .rsplit_once("/consumers/")
        .map(|(_, path)| format!("{base}/consumers/{path}"))
        .ok_or("bad base_uri")?;
    let partitions: Vec<Value> = (0..PARTITIONS)
        .map(|p| json!({"topic": native_topic, "partition": p}))
        .collect();
    http.post(format!("{instance}/assignments"))
        .header("content-type", "application/vnd.kafka.v2+json")
        .body(json!({ "partitions": partitions }).to_string())
        .send()
        .await?;
    http.post(format!("{instance}/positions/beginning"))
        .header("content-type", "application/vnd.kafka.v2+json")
        .body(json!({ "partitions": partitions }).to_string())
        .send()
        .await?;
    let started = Instant::now();
    let mut http_read = 0usize;
    while http_read < native_read && started.elapsed() < CONSUME_LIMIT {
        let records: Vec<Value> = http
            .get(format!("{instance}/records?timeout=1000&max_bytes=8388608"))
            .header("accept", "application/vnd.kafka.binary.v2+json")
            .send()
            .await?
            .json()
            .await?;
        http_read += records.len();
    }
    let http_consume = http_read as f64 / started.elapsed().as_secs_f64();
    println!(
        "http consume:   {http_consume:.0} msgs/s ({http_read} records), rss {:.1} MiB",
        rss_mib()
    );

    println!();
    println!(
        "ratio http/native produce: {:.0} % (goal >= 60 %)",
        100.0 * http_rate / native_rate
    );
    println!(
        "single-record p99: {:.2} ms (goal <= 5 ms)",
        p99.as_secs_f64() * 1000.0
    );
    println!(
        "ratio http/native consume: {:.0} % (goal >= 50 %)",
        100.0 * http_consume / native_consume
    );
    println!(
        "rss of the process (bridge + bench clients): {:.1} MiB",
        rss_mib()
    );
    Ok(())
}
