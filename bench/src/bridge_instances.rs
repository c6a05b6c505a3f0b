//! `cargo run --release -p bench -- bridge-instances [--instances N] [--single-mb M]`: what
//! HTTP consumer instances cost the gateway, on the local cluster A (`KAFKA_BOOTSTRAP`).
//!
//! 1. One instance reads `M` MiB (default 100) of 1 KiB records through `GET records`:
//!    gateway RSS and threads before, after, and once the instance is deleted.
//! 2. `N` instances (default 1000), each in its own group, subscribed to the same topic,
//!    each polled twice with the default `max_bytes`: RSS and threads at rest, after
//!    creating and after polling, and per instance; the p99 of `GET /` probed every 10 ms
//!    while they are created and polled.
//!
//! The gateway is the `kafka-gateway bridge` binary next to this one (or
//! `KAFKA_GATEWAY_BIN`), so the figures are its own. `BENCH_BRIDGE_EXTRA_CONFIG` is
//! appended to its `gateway.toml`, e.g. to compare `[bridge.consumer]` settings.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use broker_core::{ClusterConfig, KafkaClients};
use futures::StreamExt as _;
use rdkafka::producer::FutureRecord;
use serde_json::{Value, json};

use crate::bridge::{BenchResult, Gateway, create_topic, unique};

const RECORD_BYTES: usize = 1024;
const V2: &str = "application/vnd.kafka.v2+json";
const BINARY: &str = "application/vnd.kafka.binary.v2+json";
/// Requests in flight while instances are created, polled and deleted.
const CONCURRENCY: usize = 32;
const PROBE_PERIOD: Duration = Duration::from_millis(10);

struct Options {
    instances: usize,
    single_mib: usize,
}

impl Options {
    fn parse(args: &[String]) -> BenchResult<Self> {
        let mut options = Self {
            instances: 1000,
            single_mib: 100,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> BenchResult<usize> {
                let text = args.next().ok_or(format!("{name} needs a number"))?;
                text.parse()
                    .map_err(|_| format!("{name} {text} is not a number").into())
            };
            match arg.as_str() {
                "--instances" => options.instances = value("--instances")?,
                "--single-mb" => options.single_mib = value("--single-mb")?,
                other => {
                    return Err(format!(
                        "unknown argument {other}; usage: bridge-instances [--instances N] [--single-mb M]"
                    )
                    .into());
                }
            }
        }
        Ok(options)
    }
}

/// RSS (MiB) and thread count of a process.
#[derive(Debug, Clone, Copy)]
struct Footprint {
    rss_mib: f64,
    threads: usize,
    descriptors: usize,
}

impl Footprint {
    fn of(pid: u32) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
                .unwrap_or(0.0)
        };
        Self {
            rss_mib: field("VmRSS:") / 1024.0,
            threads: field("Threads:") as usize,
            descriptors: std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(Iterator::count)
                .unwrap_or(0),
        }
    }
}

/// Where the gateway's resident anonymous memory is, by the allocator that owns it, read
/// from `/proc/<pid>/smaps`: glibc's heaps (the `[heap]` of the main arena and the 64 MiB
/// aligned heaps of its per-thread arenas, which librdkafka's C code allocates from),
/// mimalloc's arenas (reservations of 256 MiB and more, the Rust side), 8 MiB mappings
/// (pthread's default stacks, i.e. librdkafka's threads), and the rest (large blocks glibc
/// serves with `mmap`, small mappings).
fn allocator_breakdown(pid: u32) -> String {
    const MIB: u64 = 1024 * 1024;
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let (mut glibc, mut mimalloc, mut stacks, mut other) = (0u64, 0u64, 0u64, 0u64);
    let mut current: Option<(u64, u64, bool, bool)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        {
            let _perms = fields.next();
            let path = fields.nth(3).unwrap_or_default();
            current = Some((start, end - start, path.is_empty(), path == "[heap]"));
            continue;
        }
        if first == "Rss:"
            && let Some((start, size, anonymous, heap)) = current
        {
            let kib: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            if anonymous && size == 8 * MIB {
                // The default pthread stack: librdkafka's threads.
                stacks += kib;
            } else if heap || (anonymous && start % (64 * MIB) == 0 && size <= 64 * MIB) {
                glibc += kib;
            } else if anonymous && size >= 256 * MIB {
                mimalloc += kib;
            } else if anonymous {
                other += kib;
            }
        }
    }
    format!(
        "glibc heaps {:.0} MiB, mimalloc arenas {:.0} MiB, 8 MiB thread stacks {:.0} MiB, other anonymous {:.0} MiB",
        glibc as f64 / 1024.0,
        mimalloc as f64 / 1024.0,
        stacks as f64 / 1024.0,
        other as f64 / 1024.0
    )
}

impl std::fmt::Display for Footprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rss {:.1} MiB, {} threads, {} file descriptors",
            self.rss_mib, self.threads, self.descriptors
        )
    }
}

pub(crate) async fn run(args: Vec<String>) -> BenchResult<()> {
    let options = Options::parse(&args)?;
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".to_owned());
    let clients = KafkaClients::new(ClusterConfig::new(&bootstrap).validate("kafka")?);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY * 2)
        .timeout(Duration::from_secs(60))
        .build()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut config = format!(
        "[kafka]\nbootstrap_servers = \"{bootstrap}\"\n\n[telemetry]\nlog_level = \"warn\"\n\n\
         [bridge]\nenabled = true\nmax_consumer_instances = {}\n\n[bridge.http]\n\
         listen = \"127.0.0.1:{port}\"\nmax_concurrent_requests = 4096\n",
        options.instances + 10
    );
    if let Ok(extra) = std::env::var("BENCH_BRIDGE_EXTRA_CONFIG") {
        config.push('\n');
        config.push_str(&extra);
        config.push('\n');
    }
    let directory =
        std::env::temp_dir().join(format!("bench-instances-{:08x}", rand::random::<u32>()));
    let gateway = Gateway::launch(
        &http,
        "bridge",
        &config,
        directory,
        format!("http://127.0.0.1:{port}"),
    )
    .await?;
    let pid = gateway.child.id();
    println!(
        "kafka-gateway bridge (pid {pid}) on {}, cluster A at {bootstrap}; gateway: {}",
        gateway.base,
        std::fs::read_to_string(format!("/proc/{pid}/limits"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap_or("Max open files ?")
    );
    let result = measure(&clients, &http, &gateway, &options).await;
    if result.is_err() {
        eprintln!("gateway log: {}", gateway.log_path().display());
    }
    result
}

async fn measure(
    clients: &KafkaClients,
    http: &reqwest::Client,
    gateway: &Gateway,
    options: &Options,
) -> BenchResult<()> {
    let base = gateway.base.as_str();
    let pid = gateway.child.id();
    let topic = unique("bench_instances");
    create_topic(clients, &topic).await?;
    let records = (options.single_mib * 1024 * 1024 / RECORD_BYTES).max(1000);
    produce(clients, &topic, records).await?;
    println!(
        "topic {topic}: {records} records of {RECORD_BYTES} B ({} MiB)",
        records * RECORD_BYTES / (1024 * 1024)
    );
    let rest = Footprint::of(pid);
    println!("at rest:                    {rest}");

    // 1. One instance reads the whole topic.
    if options.single_mib > 0 {
        let path = create_instance(http, base, &unique("bench_single"), &topic).await?;
        let started = Instant::now();
        let mut read = 0usize;
        while read < records && started.elapsed() < Duration::from_secs(300) {
            read += poll(http, base, &path).await?;
        }
        let after = Footprint::of(pid);
        println!(
            "one instance read {read} records in {:.1} s: {after}",
            started.elapsed().as_secs_f64()
        );
        delete(http, base, &path).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!("  after deleting it:        {}", Footprint::of(pid));
        println!("  {}", allocator_breakdown(pid));
    }
    let rest = Footprint::of(pid);

    // 2. Many instances, with `GET /` probed throughout.
    let probing = Arc::new(AtomicBool::new(true));
    let probe = tokio::spawn(probe_root(
        http.clone(),
        base.to_owned(),
        Arc::clone(&probing),
    ));
    let started = Instant::now();
    let failures = Arc::new(AtomicUsize::new(0));
    let paths: Vec<String> = futures::stream::iter(0..options.instances)
        .map(|_| {
            let failures = Arc::clone(&failures);
            let topic = topic.clone();
            async move {
                match create_instance(http, base, &unique("bench_instance"), &topic).await {
                    Ok(path) => Some(path),
                    Err(error) => {
                        if failures.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("creating an instance failed: {error}");
                        }
                        None
                    }
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|path| async move { path })
        .collect()
        .await;
    let created = Footprint::of(pid);
    println!(
        "{} instances created in {:.1} s ({} failed): {created}",
        paths.len(),
        started.elapsed().as_secs_f64(),
        failures.load(Ordering::Relaxed)
    );
    let started = Instant::now();
    let polled_records = AtomicUsize::new(0);
    for round in 1..=2 {
        futures::stream::iter(&paths)
            .map(|path| {
                let polled_records = &polled_records;
                let failures = Arc::clone(&failures);
                async move {
                    match poll(http, base, path).await {
                        Ok(count) => {
                            polled_records.fetch_add(count, Ordering::Relaxed);
                        }
                        Err(error) => {
                            if failures.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("polling an instance failed: {error}");
                            }
                        }
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<()>()
            .await;
        println!(
            "poll round {round} done at {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            Footprint::of(pid)
        );
    }
    let polled = Footprint::of(pid);
    println!("  {}", allocator_breakdown(pid));
    probing.store(false, Ordering::Relaxed);
    let latencies = probe.await?;
    let count = paths.len().max(1) as f64;
    println!(
        "{} instances polled twice ({} records handed out, {} failures): {polled}",
        paths.len(),
        polled_records.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed)
    );
    println!(
        "per instance: {:.2} MiB RSS and {:.2} threads after creating, {:.2} MiB, {:.2} threads and {:.2} file descriptors after polling",
        (created.rss_mib - rest.rss_mib) / count,
        (created.threads as f64 - rest.threads as f64) / count,
        (polled.rss_mib - rest.rss_mib) / count,
        (polled.threads as f64 - rest.threads as f64) / count,
        (polled.descriptors as f64 - rest.descriptors as f64) / count,
    );
    println!(
        "GET / during the run: {} probes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal p99 <= 50 ms)",
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    println!(
        "goal: {} active instances in <= 1024 MiB RSS: {:.0} MiB",
        paths.len(),
        polled.rss_mib
    );
    let started = Instant::now();
    futures::stream::iter(&paths)
        .map(|path| async move {
            let _ = delete(http, base, path).await;
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<()>()
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "deleted in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        Footprint::of(pid)
    );
    println!("  {}", allocator_breakdown(pid));
    Ok(())
}

async fn produce(clients: &KafkaClients, topic: &str, records: usize) -> BenchResult<()> {
    let producer = clients.producer()?;
    // Random bytes: the producer compresses (lz4), and a repeated byte would compress a
    // hundredfold, so that each fetch decompresses into far more than the pre-fetch bounds
    // (heaptrack showed librdkafka's decompression buffers as the peak with such records).
    let payloads: Vec<Vec<u8>> = (0..64)
        .map(|_| (0..RECORD_BYTES).map(|_| rand::random::<u8>()).collect())
        .collect();
    let mut deliveries = Vec::with_capacity(10_000);
    let mut sent = 0usize;
    while sent < records {
        let payload = &payloads[sent % payloads.len()];
        match producer.send_result(FutureRecord::<(), [u8]>::to(topic).payload(&payload[..])) {
            Ok(delivery) => {
                deliveries.push(delivery);
                sent += 1;
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
    Ok(())
}

/// Creates a binary instance in its own group subscribed to `topic`; its path.
async fn create_instance(
    http: &reqwest::Client,
    base: &str,
    group: &str,
    topic: &str,
) -> BenchResult<String> {
    let response = http
        .post(format!("{base}/consumers/{group}"))
        .header("content-type", V2)
        .body(json!({"format": "binary", "auto.offset.reset": "earliest"}).to_string())
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("create answered {}", response.status()).into());
    }
    let created: Value = response.json().await?;
    let name = created["instance_id"].as_str().ok_or("no instance_id")?;
    let path = format!("/consumers/{group}/instances/{name}");
    let response = http
        .post(format!("{base}{path}/subscription"))
        .header("content-type", V2)
        .body(json!({ "topics": [topic] }).to_string())
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("subscribe answered {}", response.status()).into());
    }
    Ok(path)
}

/// One `GET records` with the default `max_bytes`; the records it returned.
async fn poll(http: &reqwest::Client, base: &str, path: &str) -> BenchResult<usize> {
    let response = http
        .get(format!("{base}{path}/records?timeout=1000"))
        .header("accept", BINARY)
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("records answered {}", response.status()).into());
    }
    let records: Vec<serde::de::IgnoredAny> = serde_json::from_slice(&response.bytes().await?)?;
    Ok(records.len())
}

async fn delete(http: &reqwest::Client, base: &str, path: &str) -> BenchResult<()> {
    let response = http.delete(format!("{base}{path}")).send().await?;
    if !response.status().is_success() {
        return Err(format!("delete answered {}", response.status()).into());
    }
    Ok(())
}

/// Latencies (ms) of `GET /` every [`PROBE_PERIOD`] until `probing` turns false.
async fn probe_root(http: reqwest::Client, base: String, probing: Arc<AtomicBool>) -> Vec<f64> {
    let mut latencies = Vec::new();
    let mut ticker = tokio::time::interval(PROBE_PERIOD);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while probing.load(Ordering::Relaxed) {
        ticker.tick().await;
        let started = Instant::now();
        let answered = http.get(format!("{base}/")).send().await;
        if answered.is_ok_and(|r| r.status().is_success()) {
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    latencies
}

fn percentile(latencies: &[f64], quantile: f64) -> f64 {
    if latencies.is_empty() {
        return f64::NAN;
    }
    let mut sorted = latencies.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() - 1) as f64 * quantile).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
