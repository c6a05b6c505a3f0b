//! `cargo run --release -p bench -- schemas`: the bridge's Avro format against its JSON
//! format on the same records, and the built-in schema registry under load, on the local
//! cluster A (`KAFKA_BOOTSTRAP`, default 127.0.0.1:9092), bounded to about two minutes.
//!
//! One `kafka-gateway run` process holds the bridge, the registry and the metrics endpoint
//! (the registry on a `_schemas` topic of its own). Figures, all measured in this run:
//!
//! - v2 produce of the same logical records as `json` and as `avro` with
//!   `value_schema_id`, alternating twice so that drift on a shared machine hits both,
//!   after a warm-up round of each that is not counted;
//! - v2 consume of each topic by a consumer of the matching format, from its first records
//!   on (the group join is not counted), four rounds alternating formats, the best of each
//!   (a round reads ~300,000 records in about half a second, so one round is noise);
//! - `GET /schemas/ids/{id}` and `POST /subjects/{s}` (lookup): requests per second and
//!   latency percentiles at a fixed concurrency;
//! - the bridge's registry client counters, which show that the records cost one registry
//!   request per schema id, not one per record.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use broker_core::{ClusterConfig, KafkaClients};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bridge::{BenchResult, Gateway, create_topic, unique};

const RECORDS_PER_REQUEST: usize = 100;
const CONNECTIONS: usize = 32;
const PRODUCE_RECORDS: usize = 150_000;
const PRODUCE_LIMIT: Duration = Duration::from_secs(12);
const CONSUME_ROUNDS: usize = 4;
const CONSUME_LIMIT: Duration = Duration::from_secs(20);
const REGISTRY_CONNECTIONS: usize = 32;
const REGISTRY_DURATION: Duration = Duration::from_secs(8);
const REGISTRY_MEDIA: &str = "application/vnd.schemaregistry.v1+json";

const AVRO_SCHEMA: &str = r#"{"type":"record","name":"Purchase","namespace":"bench",
"fields":[{"name":"id","type":"long"},{"name":"customer","type":"string"},
{"name":"amount","type":"double"},{"name":"active","type":"boolean"},
{"name":"tags","type":{"type":"array","items":"string"}},
{"name":"note","type":["null","string"],"default":null}]}"#;

fn note(i: usize) -> String {
    format!("{i:08} delivered to the back door, ring twice; the parcel holds fragile glassware")
}

/// The record as the json format carries it.
fn json_record(i: usize) -> Value {
    json!({"id": i, "customer": format!("customer-{}", i % 1000), "amount": 12.5,
           "active": i.is_multiple_of(2), "tags": ["gift", "express", "eu"], "note": note(i)})
}

/// The same record in Avro's JSON encoding (the union wrapped), as the avro format reads it.
fn avro_record(i: usize) -> Value {
    let mut value = json_record(i);
    value["note"] = json!({"string": note(i)});
    value
}

fn free_port() -> BenchResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

struct Ports {
    bridge: u16,
    registry: u16,
    metrics: u16,
}

fn config(bootstrap: &str, ports: &Ports) -> String {
    format!(
        "[kafka]\nbootstrap_servers = \"{bootstrap}\"\n\n[telemetry]\nlog_level = \"warn\"\n\n\
         [bridge]\nenabled = true\n\n[bridge.http]\nlisten = \"127.0.0.1:{}\"\n\
         max_concurrent_requests = 4096\n\n\
         [schema_registry]\nenabled = true\nkafkastore_topic = \"{}\"\ngroup_id = \"{}\"\n\n\
         [schema_registry.http]\nlisten = \"127.0.0.1:{}\"\nmax_concurrent_requests = 4096\n\n\
         [metrics]\nenabled = true\ncluster_metrics = false\n\n[metrics.http]\n\
         listen = \"127.0.0.1:{}\"\n",
        ports.bridge,
        unique("_schemas_bench"),
        unique("bench_registry"),
        ports.registry,
        ports.metrics,
    )
}

pub(crate) async fn run() -> BenchResult<()> {
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".to_owned());
    let clients = KafkaClients::new(ClusterConfig::new(&bootstrap).validate("kafka")?);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS.max(REGISTRY_CONNECTIONS))
        .timeout(Duration::from_secs(60))
        .build()?;
    let ports = Ports {
        bridge: free_port()?,
        registry: free_port()?,
        metrics: free_port()?,
    };
    let directory =
        std::env::temp_dir().join(format!("bench-schemas-{:08x}", rand::random::<u32>()));
    let gateway = Gateway::launch(
        &http,
        "run",
        &config(&bootstrap, &ports),
        directory,
        format!("http://127.0.0.1:{}", ports.bridge),
    )
    .await?;
    println!(
        "kafka-gateway run (bridge + schema registry + metrics, pid {}), cluster A at {bootstrap}, {} at start",
        gateway.child.id(),
        gateway.memory()
    );
    let result = measure(&clients, &http, &gateway, &ports).await;
    if result.is_err() {
        eprintln!("gateway log: {}", gateway.log_path().display());
    }
    result
}

async fn measure(
    clients: &KafkaClients,
    http: &reqwest::Client,
    gateway: &Gateway,
    ports: &Ports,
) -> BenchResult<()> {
    let registry = format!("http://127.0.0.1:{}", ports.registry);
    wait_for_registry(http, &registry).await?;
    let json_topic = unique("bench_json");
    let avro_topic = unique("bench_avro");
    create_topic(clients, &json_topic).await?;
    create_topic(clients, &avro_topic).await?;
    let subject = format!("{avro_topic}-value");
    let registered: Value = http
        .post(format!("{registry}/subjects/{subject}/versions"))
        .header("content-type", REGISTRY_MEDIA)
        .body(json!({ "schema": AVRO_SCHEMA }).to_string())
        .send()
        .await?
        .json()
        .await?;
    let schema_id = registered["id"].as_i64().ok_or("no schema id")?;

    // 1. Produce, alternating the formats twice.
    let json_body = bytes::Bytes::from(
        json!({"records": (0..RECORDS_PER_REQUEST).map(|i| json!({"value": json_record(i)})).collect::<Vec<_>>()})
            .to_string(),
    );
    let avro_body = bytes::Bytes::from(
        json!({"value_schema_id": schema_id,
               "records": (0..RECORDS_PER_REQUEST).map(|i| json!({"value": avro_record(i)})).collect::<Vec<_>>()})
        .to_string(),
    );
    let base = gateway.base.as_str();
    let json_url = format!("{base}/topics/{json_topic}");
    let avro_url = format!("{base}/topics/{avro_topic}");
    let (mut json_total, mut avro_total) = ((0usize, 0.0f64), (0usize, 0.0f64));
    // Round 0 warms both paths up (connections, metadata, the producer's batches, the
    // schema cache) and is not counted: otherwise the format measured first pays for it.
    for round in 0..=2 {
        let (sent, seconds) = produce(
            http,
            &json_url,
            "application/vnd.kafka.json.v2+json",
            &json_body,
        )
        .await?;
        println!(
            "round {round} json produce: {:.0} msgs/s ({sent} records)",
            sent as f64 / seconds
        );
        if round > 0 {
            json_total = (json_total.0 + sent, json_total.1 + seconds);
        }
        let (sent, seconds) = produce(
            http,
            &avro_url,
            "application/vnd.kafka.avro.v2+json",
            &avro_body,
        )
        .await?;
        println!(
            "round {round} avro produce: {:.0} msgs/s ({sent} records, value_schema_id {schema_id})",
            sent as f64 / seconds
        );
        if round > 0 {
            avro_total = (avro_total.0 + sent, avro_total.1 + seconds);
        }
    }
    let json_rate = json_total.0 as f64 / json_total.1;
    let avro_rate = avro_total.0 as f64 / avro_total.1;

    // 2. Consume the same number of records of each.
    // Four rounds, alternating formats, the best of each counts: one consumer instance
    // serves one long poll at a time, so a round follows the scheduling of this client on
    // a shared machine.
    let count = json_total.0.min(avro_total.0);
    let mut json_consume = (0, 0.0_f64);
    let mut avro_consume = (0, 0.0_f64);
    for round in 1..=CONSUME_ROUNDS {
        let json = consume(http, base, &json_topic, "json", count).await?;
        println!(
            "round {round} json consume: {:.0} msgs/s ({} records)",
            json.1, json.0
        );
        let avro = consume(http, base, &avro_topic, "avro", count).await?;
        println!(
            "round {round} avro consume: {:.0} msgs/s ({} records)",
            avro.1, avro.0
        );
        if json.1 > json_consume.1 {
            json_consume = json;
        }
        if avro.1 > avro_consume.1 {
            avro_consume = avro;
        }
    }
    let client_counters = scrape_client_metrics(http, ports.metrics).await?;

    // 3. The registry alone.
    let by_id_request = http
        .get(format!("{registry}/schemas/ids/{schema_id}"))
        .build()?;
    let by_id = load(http, REGISTRY_CONNECTIONS, by_id_request).await?;
    println!("registry GET /schemas/ids/{{id}}: {by_id}");
    let lookup_request = http
        .post(format!("{registry}/subjects/{subject}"))
        .header("content-type", REGISTRY_MEDIA)
        .body(json!({ "schema": AVRO_SCHEMA }).to_string())
        .build()?;
    let lookup = load(http, REGISTRY_CONNECTIONS, lookup_request).await?;
    println!("registry POST /subjects/{{s}} (lookup): {lookup}");

    println!();
    println!(
        "ratio avro/json produce: {:.0} % (goal >= 80 %)",
        100.0 * avro_rate / json_rate
    );
    println!(
        "ratio avro/json consume: {:.0} % (goal >= 80 %)",
        100.0 * avro_consume.1 / json_consume.1
    );
    println!(
        "registry by id: {:.0} req/s, p99 {:.2} ms; lookup: {:.0} req/s, p99 {:.2} ms (goal >= 20000 req/s, p99 <= 5 ms)",
        by_id.rate,
        by_id.p99_ms(),
        lookup.rate,
        lookup.p99_ms()
    );
    println!(
        "bridge registry client after {} avro records produced and {} consumed:",
        avro_total.0, avro_consume.0
    );
    for line in client_counters {
        println!("  {line}");
    }
    println!("gateway process: {}", gateway.memory());
    Ok(())
}

async fn wait_for_registry(http: &reqwest::Client, registry: &str) -> BenchResult<()> {
    let started = Instant::now();
    loop {
        if let Ok(response) = http.get(format!("{registry}/subjects")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the schema registry did not answer within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Records sent and seconds taken, `RECORDS_PER_REQUEST` per request over `CONNECTIONS`.
async fn produce(
    http: &reqwest::Client,
    url: &str,
    content_type: &'static str,
    body: &bytes::Bytes,
) -> BenchResult<(usize, f64)> {
    let sent = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (http, body, sent, url) = (
            http.clone(),
            body.clone(),
            Arc::clone(&sent),
            url.to_owned(),
        );
        workers.push(tokio::spawn(async move {
            while sent.fetch_add(RECORDS_PER_REQUEST, Ordering::Relaxed) < PRODUCE_RECORDS
                && started.elapsed() < PRODUCE_LIMIT
            {
                let response = http
                    .post(&url)
                    .header("content-type", content_type)
                    .body(body.clone())
                    .send()
                    .await?;
                let status = response.status();
                let text = response.bytes().await?;
                if !status.is_success() {
                    return Err(format!(
                        "produce answered {status}: {}",
                        String::from_utf8_lossy(&text)
                    )
                    .into());
                }
            }
            BenchResult::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    // Each worker overshoots the counter once when it stops.
    let done = sent
        .load(Ordering::Relaxed)
        .saturating_sub(CONNECTIONS * RECORDS_PER_REQUEST)
        .min(PRODUCE_RECORDS);
    Ok((done, seconds))
}

#[derive(Deserialize)]
struct Consumed {
    #[allow(dead_code)] // Decoded to make the client do a realistic amount of work.
    value: serde::de::IgnoredAny,
}

/// Records read and the rate, through a consumer of `format` from the beginning.
async fn consume(
    http: &reqwest::Client,
    base: &str,
    topic: &str,
    format: &str,
    count: usize,
) -> BenchResult<(usize, f64)> {
    let group = unique("bench_schemas_group");
    let created: Value = http
        .post(format!("{base}/consumers/{group}"))
        .header("content-type", "application/vnd.kafka.v2+json")
        .body(
            json!({"format": format, "auto.offset.reset": "earliest", "auto.commit.enable": "false"})
                .to_string(),
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
    http.post(format!("{instance}/subscription"))
        .header("content-type", "application/vnd.kafka.v2+json")
        .body(json!({ "topics": [topic] }).to_string())
        .send()
        .await?;
    let accept = format!("application/vnd.kafka.{format}.v2+json");
    let started = Instant::now();
    // The rate counts from the first records on: the group join before them (rebalance
    // delay, assignment) is the same for both formats and is not what is compared.
    let mut first: Option<(Instant, usize)> = None;
    let mut read = 0usize;
    while read < count && started.elapsed() < CONSUME_LIMIT {
        let response = http
            .get(format!("{instance}/records?timeout=1000&max_bytes=8388608"))
            .header("accept", &accept)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            return Err(format!(
                "records answered {status}: {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        let records: Vec<Consumed> = serde_json::from_slice(&body)?;
        read += records.len();
        if first.is_none() && read > 0 {
            first = Some((Instant::now(), read));
        }
    }
    let rate = first.map_or(0.0, |(at, before)| {
        (read - before) as f64 / at.elapsed().as_secs_f64().max(0.001)
    });
    let _ = http.delete(instance).send().await;
    Ok((read, rate))
}

/// Throughput and latency of one request kind.
struct Load {
    requests: usize,
    rate: f64,
    latencies: Vec<Duration>,
}

impl Load {
    fn percentile(&self, p: f64) -> Duration {
        let index = ((self.latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        self.latencies.get(index).copied().unwrap_or_default()
    }

    fn p99_ms(&self) -> f64 {
        self.percentile(0.99).as_secs_f64() * 1000.0
    }
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "{:.0} req/s ({} requests, {REGISTRY_CONNECTIONS} connections), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.rate,
            self.requests,
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            ms(self.latencies.last().copied().unwrap_or_default())
        )
    }
}

/// `connections` closed loops of `request` (cloned per request) for
/// [`REGISTRY_DURATION`].
async fn load(
    http: &reqwest::Client,
    connections: usize,
    request: reqwest::Request,
) -> BenchResult<Load> {
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..connections {
        let http = http.clone();
        let template = request.try_clone().ok_or("the request cannot be cloned")?;
        handles.push(tokio::spawn(async move {
            let mut own = Vec::new();
            while started.elapsed() < REGISTRY_DURATION {
                let copy = template.try_clone().ok_or("the request cannot be cloned")?;
                let sent_at = Instant::now();
                let response = http.execute(copy).await?;
                let status = response.status();
                response.bytes().await?;
                if !status.is_success() {
                    return Err(format!("registry answered {status}").into());
                }
                own.push(sent_at.elapsed());
            }
            BenchResult::Ok(own)
        }));
    }
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    Ok(Load {
        requests: latencies.len(),
        rate: latencies.len() as f64 / seconds,
        latencies,
    })
}

/// The bridge client's lines of `kafka_gateway_schema_registry_client_*`.
async fn scrape_client_metrics(http: &reqwest::Client, port: u16) -> BenchResult<Vec<String>> {
    let text = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|line| {
            line.starts_with("kafka_gateway_schema_registry_client_") && !line.starts_with('#')
        })
        .map(str::to_owned)
        .collect())
}
