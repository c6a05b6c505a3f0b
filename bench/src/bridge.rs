//! `cargo run --release -p bench -- bridge`: the HTTP bridge against the native client, on
//! the local cluster A (`KAFKA_BOOTSTRAP`, default 127.0.0.1:9092), bounded to about two
//! minutes. Prints each figure and the ratios measured in the same run.
//!
//! Consume is measured on the same 1,000,000 records (the natively produced topic), each
//! way by a new consumer instance from the beginning: the native consumer; long polls of one
//! binary instance (`GET records`, 8 MiB responses) by a client that decodes a response
//! before it sends the next request, and by one that decodes it while the next request is
//! out; one stream each in NDJSON and in Server-Sent Events (`Accept: application/x-ndjson`,
//! `text/event-stream`). Every HTTP client decodes each record's JSON (values borrowed),
//! and each phase prints the CPU time the gateway and this process used, so a client that
//! is the bottleneck shows.
//!
//! The bridge runs as its own process, the release `kafka-gateway bridge` binary next to
//! this one (build it with `cargo build --release -p gateway`, or point
//! `KAFKA_GATEWAY_BIN` at it), so the RSS printed is the gateway's alone; this process is
//! only the load generator and the native clients. `BENCH_BRIDGE_LINGER_MS` sets the
//! bridge's `[bridge.producer] linger_ms` (unset: the bridge's default), and
//! `BENCH_BRIDGE_PRODUCER_PROPERTIES=name=value,...` its `[bridge.producer.properties]`.

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use broker_core::{ClusterConfig, KafkaClients};
use futures::StreamExt as _;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;
use serde_json::{Value, json};

const RECORD_BYTES: usize = 1024;
const RECORDS_PER_REQUEST: usize = 100;
const CONNECTIONS: usize = 64;
const PARTITIONS: i32 = 6;
const PRODUCE_RECORDS: usize = 200_000;
/// Records of the topic every consume phase reads: the timed native produce writes the
/// first [`PRODUCE_RECORDS`], the rest is written untimed, so that each consume phase runs
/// for seconds rather than a fraction of one.
const CONSUME_RECORDS: usize = 1_000_000;
const PRODUCE_LIMIT: Duration = Duration::from_secs(25);
const LATENCY_RATE: u64 = 1000;
const LATENCY_DURATION: Duration = Duration::from_secs(10);
const CONSUME_LIMIT: Duration = Duration::from_secs(25);
const GATEWAY_START_LIMIT: Duration = Duration::from_secs(20);

pub(crate) type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Resident and peak resident memory of a process, MiB, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Memory {
    rss_mib: f64,
    peak_mib: f64,
}

impl Memory {
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
                .map_or(0.0, |kib| kib / 1024.0)
        };
        Self {
            rss_mib: field("VmRSS:"),
            peak_mib: field("VmHWM:"),
        }
    }
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rss {:.1} MiB (peak {:.1} MiB)",
            self.rss_mib, self.peak_mib
        )
    }
}

/// CPU time (user + system, all threads) of a process so far, in seconds, from
/// `/proc/<pid>/stat` (clock ticks of 1/100 s, Linux's fixed `USER_HZ`).
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after it are space-separated.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU used by the gateway and by this process during one phase of the bench.
struct CpuMeter {
    gateway: u32,
    started: Instant,
    gateway_cpu: f64,
    bench_cpu: f64,
}

impl CpuMeter {
    fn start(gateway: &Gateway) -> Self {
        let gateway = gateway.child.id();
        Self {
            gateway,
            started: Instant::now(),
            gateway_cpu: cpu_seconds(gateway),
            bench_cpu: cpu_seconds(std::process::id()),
        }
    }

    /// `gateway cpu X s (Y % of a core), bench cpu ...` since [`CpuMeter::start`].
    fn report(&self) -> String {
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        let gateway = cpu_seconds(self.gateway) - self.gateway_cpu;
        let bench = cpu_seconds(std::process::id()) - self.bench_cpu;
        format!(
            "cpu: gateway {gateway:.2} s ({:.0} % of a core), bench {bench:.2} s ({:.0} %) in {wall:.2} s",
            100.0 * gateway / wall,
            100.0 * bench / wall
        )
    }
}

/// The `kafka-gateway bridge` child process; stopped with SIGTERM when dropped.
pub(crate) struct Gateway {
    pub(crate) child: Child,
    pub(crate) base: String,
    directory: PathBuf,
}

impl Gateway {
    fn binary() -> BenchResult<PathBuf> {
        if let Some(path) = std::env::var_os("KAFKA_GATEWAY_BIN") {
            return Ok(PathBuf::from(path));
        }
        let exe = std::env::current_exe()?;
        let sibling = exe
            .parent()
            .map(|dir| dir.join("kafka-gateway"))
            .ok_or("cannot locate the bench executable's directory")?;
        if sibling.is_file() {
            Ok(sibling)
        } else {
            Err(format!(
                "{} not found: build it first with `cargo build --release -p gateway` \
                 (same CARGO_TARGET_DIR), or set KAFKA_GATEWAY_BIN",
                sibling.display()
            )
            .into())
        }
    }

    async fn start(bootstrap: &str, http: &reqwest::Client) -> BenchResult<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let directory =
            std::env::temp_dir().join(format!("bench-bridge-{:08x}", rand::random::<u32>()));
        let mut config = format!(
            "[kafka]\nbootstrap_servers = \"{bootstrap}\"\n\n[telemetry]\nlog_level = \"warn\"\n\n\
             [bridge]\nenabled = true\n\n[bridge.http]\nlisten = \"127.0.0.1:{port}\"\n\
             max_concurrent_requests = 4096\n"
        );
        if let Ok(linger) = std::env::var("BENCH_BRIDGE_LINGER_MS") {
            let linger: u64 = linger
                .parse()
                .map_err(|_| format!("BENCH_BRIDGE_LINGER_MS={linger} is not a number"))?;
            config.push_str(&format!("\n[bridge.producer]\nlinger_ms = {linger}\n"));
        }
        if let Ok(properties) = std::env::var("BENCH_BRIDGE_PRODUCER_PROPERTIES") {
            config.push_str("\n[bridge.producer.properties]\n");
            for pair in properties.split(',').filter(|p| !p.trim().is_empty()) {
                let (name, value) = pair.split_once('=').ok_or_else(|| {
                    format!("`{pair}` in BENCH_BRIDGE_PRODUCER_PROPERTIES is not name=value")
                })?;
                config.push_str(&format!("\"{}\" = \"{}\"\n", name.trim(), value.trim()));
            }
        }
        // Trace export overhead: `[telemetry.otlp]` with this sampling ratio, spans sent to
        // BENCH_BRIDGE_OTLP_ENDPOINT (a receiver that is down only costs dropped spans).
        if let Ok(ratio) = std::env::var("BENCH_BRIDGE_OTLP_SAMPLING") {
            let ratio: f64 = ratio
                .parse()
                .map_err(|_| format!("BENCH_BRIDGE_OTLP_SAMPLING={ratio} is not a number"))?;
            let endpoint = std::env::var("BENCH_BRIDGE_OTLP_ENDPOINT")
                .unwrap_or_else(|_| "http://127.0.0.1:4318".to_owned());
            config.push_str(&format!(
                "\n[telemetry.otlp]\nendpoint = \"{endpoint}\"\nsampling_ratio = {ratio}\n"
            ));
        }
        Self::launch(
            http,
            "bridge",
            &config,
            directory,
            format!("http://127.0.0.1:{port}"),
        )
        .await
    }

    /// Starts `kafka-gateway <subcommand>` with `config` in `directory`, ready once `base`
    /// answers `GET /`.
    pub(crate) async fn launch(
        http: &reqwest::Client,
        subcommand: &str,
        config: &str,
        directory: PathBuf,
        base: String,
    ) -> BenchResult<Self> {
        let binary = Self::binary()?;
        std::fs::create_dir_all(&directory)?;
        let config_path = directory.join("gateway.toml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(directory.join("gateway.log"))?;
        let mut command = Command::new(&binary);
        command
            .arg(subcommand)
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("KAFKA_GATEWAY_") {
                command.env_remove(name);
            }
        }
        let child = command
            .spawn()
            .map_err(|error| format!("starting {}: {error}", binary.display()))?;
        let mut gateway = Self {
            child,
            base,
            directory,
        };
        gateway.wait_ready(http).await?;
        Ok(gateway)
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) -> BenchResult<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!(
                    "kafka-gateway exited with {status}; see {}",
                    self.directory.join("gateway.log").display()
                )
                .into());
            }
            if let Ok(response) = http.get(format!("{}/", self.base)).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > GATEWAY_START_LIMIT {
                return Err("kafka-gateway did not answer within 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) fn memory(&self) -> Memory {
        Memory::of(self.child.id())
    }

    pub(crate) fn log_path(&self) -> PathBuf {
        self.directory.join("gateway.log")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let stopped = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|status| status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while stopped && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.directory);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn create_topic(clients: &KafkaClients, name: &str) -> BenchResult<()> {
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

pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

/// What the HTTP consume client reads of each record: the structure is decoded (values
/// borrowed, not base64-decoded), as an efficient client would.
#[derive(Deserialize)]
struct ConsumedRecord<'a> {
    #[serde(borrow)]
    #[allow(dead_code)] // Decoded to make the client do a realistic amount of work.
    value: Option<Cow<'a, str>>,
    #[allow(dead_code)]
    offset: i64,
}

pub(crate) async fn run() -> BenchResult<()> {
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".to_owned());
    let clients = KafkaClients::new(ClusterConfig::new(&bootstrap).validate("kafka")?);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .timeout(Duration::from_secs(60))
        .build()?;
    let gateway = Gateway::start(&bootstrap, &http).await?;
    let base = gateway.base.clone();
    println!(
        "kafka-gateway bridge (pid {}) on {base}, cluster A at {bootstrap}, linger.ms {}, {} at start",
        gateway.child.id(),
        std::env::var("BENCH_BRIDGE_LINGER_MS")
            .unwrap_or_else(|_| format!("{} (default)", bridge::DEFAULT_LINGER_MS)),
        gateway.memory()
    );
    let result = measure(&clients, &http, &gateway).await;
    if result.is_err() {
        eprintln!("gateway log: {}", gateway.log_path().display());
    }
    result
}

async fn measure(
    clients: &KafkaClients,
    http: &reqwest::Client,
    gateway: &Gateway,
) -> BenchResult<()> {
    let base = gateway.base.as_str();
    let native_topic = unique("bench_native");
    let http_topic = unique("bench_http");
    create_topic(clients, &native_topic).await?;
    create_topic(clients, &http_topic).await?;
    let payload = vec![b'x'; RECORD_BYTES];

    // 1. Native producer (broker-core's defaults, linger.ms=5).
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
    for delivery in deliveries.drain(..) {
        delivery.await?.map_err(|(e, _)| e)?;
    }
    let native_rate = native_sent as f64 / started.elapsed().as_secs_f64();
    println!("native produce: {native_rate:.0} msgs/s ({native_sent} x {RECORD_BYTES} B)");
    // Only the produce figures (e.g. tracing on vs off): no topic to fill for the consumers.
    let produce_only = std::env::var("BENCH_BRIDGE_PRODUCE_ONLY").is_ok_and(|v| v == "1");
    let filling = Instant::now();
    while !produce_only && native_sent < CONSUME_RECORDS && filling.elapsed() < PRODUCE_LIMIT {
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

    // 2. HTTP produce: 100 records per request over 64 connections.
    let encoded = BASE64.encode(&payload);
    let records: Vec<Value> = (0..RECORDS_PER_REQUEST)
        .map(|i| json!({"key": BASE64.encode(format!("key-{i}")), "value": encoded}))
        .collect();
    let body = bytes::Bytes::from(json!({ "records": records }).to_string());
    let sent = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (http, body, sent, url) = (
            http.clone(),
            body.clone(),
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
                    .body(body.clone())
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
        "http produce:   {http_rate:.0} msgs/s ({RECORDS_PER_REQUEST} x {RECORD_BYTES} B per request, {CONNECTIONS} connections), gateway {}",
        gateway.memory()
    );

    if produce_only {
        return Ok(());
    }

    // 3. Single-record latency at a fixed rate.
    let single =
        bytes::Bytes::from(json!({"records": [{"value": BASE64.encode(&payload)}]}).to_string());
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / LATENCY_RATE));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut probes = Vec::new();
    while started.elapsed() < LATENCY_DURATION {
        ticker.tick().await;
        let (http, body, url) = (
            http.clone(),
            single.clone(),
            format!("{base}/topics/{http_topic}"),
        );
        probes.push(tokio::spawn(async move {
            let sent_at = Instant::now();
            let response = http
                .post(&url)
                .header("content-type", "application/vnd.kafka.binary.v2+json")
                .body(body)
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
    let (p50, p90, p99) = (percentile(0.50), percentile(0.90), percentile(0.99));
    let milliseconds = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "single-record produce at {LATENCY_RATE} req/s: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} requests)",
        milliseconds(p50),
        milliseconds(p90),
        milliseconds(p99),
        milliseconds(latencies.last().copied().unwrap_or_default()),
        latencies.len()
    );

    // 4. Native consume of the natively produced records.
    let consumer = clients.consumer(&unique("bench_native_group"))?;
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        list.add_partition_offset(&native_topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&list)?;
    let cpu = CpuMeter::start(gateway);
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
    drop(consumer);
    println!(
        "native consume: {native_consume:.0} msgs/s ({native_read} records), {}",
        cpu.report()
    );

    // 5. HTTP consume of the same records through a consumer instance, long polls: a
    // client that decodes each response before asking for the next, then one that decodes
    // a response while the next request is out.
    let mut long_polls = Vec::new();
    for pipelined in [false, true] {
        let instance = create_instance(http, base, &native_topic).await?;
        let cpu = CpuMeter::start(gateway);
        let (read, elapsed) = long_poll_consume(http, &instance, native_read, pipelined).await?;
        let rate = read as f64 / elapsed.as_secs_f64();
        let name = if pipelined {
            "http consume, pipelined client"
        } else {
            "http consume"
        };
        println!(
            "{name}: {rate:.0} msgs/s ({read} records), gateway {}, {}",
            gateway.memory(),
            cpu.report()
        );
        let _ = http.delete(instance).send().await;
        long_polls.push((name, rate));
    }

    // 6. Streaming consume of the same records: NDJSON, then Server-Sent Events.
    let mut streamed = Vec::new();
    for framing in [StreamFraming::NdJson, StreamFraming::ServerSentEvents] {
        let instance = create_instance(http, base, &native_topic).await?;
        let cpu = CpuMeter::start(gateway);
        let (read, elapsed) = stream_consume(http, &instance, framing, native_read).await?;
        let rate = read as f64 / elapsed.as_secs_f64();
        println!(
            "{} consume: {rate:.0} msgs/s ({read} records), gateway {}, {}",
            framing.name(),
            gateway.memory(),
            cpu.report()
        );
        let _ = http.delete(instance).send().await;
        streamed.push((framing, rate));
    }

    println!();
    println!(
        "ratio http/native produce: {:.0} % (goal >= 90 %)",
        100.0 * http_rate / native_rate
    );
    println!(
        "single-record p99: {:.2} ms (goal <= 5 ms)",
        milliseconds(p99)
    );
    for (name, rate) in long_polls {
        println!(
            "ratio {name}/native: {:.0} % (goal >= 70 %)",
            100.0 * rate / native_consume
        );
    }
    for (framing, rate) in streamed {
        println!(
            "ratio {}/native consume: {:.0} % (goal >= 90 %)",
            framing.name(),
            100.0 * rate / native_consume
        );
    }
    println!(
        "gateway process alone: {}; bench process (load generator + native clients): {}",
        gateway.memory(),
        Memory::of(std::process::id())
    );
    Ok(())
}

/// Long polls of `instance` (8 MiB responses) until `wanted` records came or the time is
/// up; how many and how long. With `pipelined`, another task decodes each response while
/// the next request is out (one response waits at most), as a client that processes a
/// batch while it fetches the next would; the time ends when the last record is decoded.
async fn long_poll_consume(
    http: &reqwest::Client,
    instance: &str,
    wanted: usize,
    pipelined: bool,
) -> BenchResult<(usize, Duration)> {
    let started = Instant::now();
    let url = &format!("{instance}/records?timeout=1000&max_bytes=8388608");
    let request = move || async move {
        let response = http
            .get(url)
            .header("accept", "application/vnd.kafka.binary.v2+json")
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("records answered {}", response.status()).into());
        }
        BenchResult::Ok(response.bytes().await?)
    };
    let decode = |body: &[u8]| -> BenchResult<usize> {
        let records: Vec<ConsumedRecord<'_>> = serde_json::from_slice(body)?;
        Ok(records.len())
    };
    if !pipelined {
        let mut read = 0usize;
        while read < wanted && started.elapsed() < CONSUME_LIMIT {
            read += decode(&request().await?)?;
        }
        return Ok((read, started.elapsed()));
    }
    let (bodies, mut inbox) = tokio::sync::mpsc::channel::<bytes::Bytes>(1);
    let mut decoder = tokio::spawn(async move {
        let mut read = 0usize;
        while let Some(body) = inbox.recv().await {
            read += decode(&body)?;
            if read >= wanted {
                break;
            }
        }
        BenchResult::Ok((read, started.elapsed()))
    });
    loop {
        tokio::select! {
            decoded = &mut decoder => return decoded?,
            body = request() => {
                if bodies.send(body?).await.is_err() || started.elapsed() >= CONSUME_LIMIT {
                    break;
                }
            }
        }
    }
    drop(bodies);
    decoder.await?
}

/// A binary consumer instance of a new group, assigned every partition of `topic` from the
/// beginning; its URL.
async fn create_instance(http: &reqwest::Client, base: &str, topic: &str) -> BenchResult<String> {
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
        .map(|p| json!({"topic": topic, "partition": p}))
        .collect();
    for path in ["assignments", "positions/beginning"] {
        let response = http
            .post(format!("{instance}/{path}"))
            .header("content-type", "application/vnd.kafka.v2+json")
            .body(json!({ "partitions": partitions }).to_string())
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("{path} answered {}", response.status()).into());
        }
    }
    Ok(instance)
}

#[derive(Debug, Clone, Copy)]
enum StreamFraming {
    NdJson,
    ServerSentEvents,
}

impl StreamFraming {
    fn name(self) -> &'static str {
        match self {
            Self::NdJson => "ndjson",
            Self::ServerSentEvents => "sse",
        }
    }

    fn accept(self) -> &'static str {
        match self {
            Self::NdJson => "application/x-ndjson",
            Self::ServerSentEvents => "text/event-stream",
        }
    }

    /// The JSON record a line carries, if any (SSE: the `data:` field; `id:` lines, blank
    /// lines and heartbeats carry none).
    fn record(self, line: &[u8]) -> Option<&[u8]> {
        match self {
            Self::NdJson => (!line.is_empty()).then_some(line),
            Self::ServerSentEvents => line.strip_prefix(b"data: "),
        }
    }
}

/// Reads `instance` as one stream until `wanted` records came (or the time is up): the
/// body is split into lines as it arrives and each record is decoded like the long-poll
/// client's, so the client's work is comparable. How many records and how long.
async fn stream_consume(
    http: &reqwest::Client,
    instance: &str,
    framing: StreamFraming,
    wanted: usize,
) -> BenchResult<(usize, Duration)> {
    let started = Instant::now();
    let response = http
        .get(format!("{instance}/records"))
        .header("accept", framing.accept())
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("{} records answered {}", framing.name(), response.status()).into());
    }
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::with_capacity(512 * 1024);
    let mut read = 0usize;
    while read < wanted && started.elapsed() < CONSUME_LIMIT {
        let chunk = match tokio::time::timeout(Duration::from_secs(5), body.next()).await {
            Ok(Some(chunk)) => chunk?,
            Ok(None) | Err(_) => break,
        };
        buffer.extend_from_slice(&chunk);
        let mut consumed = 0;
        while let Some(end) = buffer[consumed..].iter().position(|b| *b == b'\n') {
            let line = &buffer[consumed..consumed + end];
            consumed += end + 1;
            if let Some(record) = framing.record(line) {
                if record.starts_with(b"{\"error_code\"") {
                    return Err(format!(
                        "{} stream error: {}",
                        framing.name(),
                        String::from_utf8_lossy(record)
                    )
                    .into());
                }
                let _record: ConsumedRecord<'_> = serde_json::from_slice(record)?;
                read += 1;
            }
        }
        buffer.drain(..consumed);
    }
    Ok((read, started.elapsed()))
}
