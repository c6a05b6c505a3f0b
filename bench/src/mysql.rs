//! MySQL source: snapshot throughput through the CDC connector into Kafka against a plain
//! `SELECT *` of the same table (the limit), and binlog-to-Kafka latency under a steady
//! write load.
//!
//! `cargo run --release -p bench -- mysql [--rows N] [--rate W] [--seconds S] [--fetch-size F]`
//! (defaults 1 000 000 rows, 5 000 writes/s, 20 s, `snapshot.fetch.size` 10 000; env `KAFKA_BOOTSTRAP`, `MYSQL_URL`).
//!
//! The connector runs in an in-process connect worker (the product path: task, JSON
//! converter, runtime producer). Snapshot rate = N / (time from `POST /connectors` until
//! the topic's high watermark reaches N). Latency = time a consumer receives the change
//! event − the client's clock when it sent the INSERT (the row carries it), so it includes
//! the commit, the binlog read, the conversion, the produce and the fetch.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use broker_core::telemetry::MetricsRegistry;
use broker_core::{ClusterConfig, KafkaClients, Shutdown};
use connect::{ConnectConfig, Worker, builtin_plugins};
use connect_api::ConnectorPlugin;
use mysql_async::prelude::Queryable;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};

pub(crate) type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Options {
    rows: u64,
    rate: u64,
    seconds: u64,
    fetch_size: u64,
}

fn options(args: &[String]) -> BenchResult<Options> {
    let mut options = Options {
        rows: 1_000_000,
        rate: 5_000,
        seconds: 20,
        fetch_size: 10_000,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value: u64 = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .parse()
            .map_err(|e| format!("{flag}: {e}"))?;
        match flag.as_str() {
            "--rows" => options.rows = value,
            "--rate" => options.rate = value,
            "--seconds" => options.seconds = value,
            "--fetch-size" => options.fetch_size = value,
            _ => return Err(format!("unknown option {flag}").into()),
        }
    }
    Ok(options)
}

pub(crate) fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

pub(crate) fn suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}_{nanos}", std::process::id())
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The high watermark of partition 0, 0 while the topic does not exist.
pub(crate) async fn high_watermark(consumer: &std::sync::Arc<BaseConsumer>, topic: &str) -> i64 {
    let consumer = std::sync::Arc::clone(consumer);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        consumer
            .fetch_watermarks(&topic, 0, Duration::from_secs(5))
            .map_or(0, |(_, high)| high)
    })
    .await
    .unwrap_or(0)
}

/// Rows/s of a plain streamed `SELECT *` of the table.
async fn plain_select(url: &str, table: &str) -> BenchResult<(u64, Duration)> {
    let mut conn = mysql_async::Conn::from_url(url).await?;
    let started = Instant::now();
    let mut result = conn.query_iter(format!("SELECT * FROM {table}")).await?;
    let mut rows = 0_u64;
    result
        .for_each(|_row| {
            rows += 1;
        })
        .await?;
    let elapsed = started.elapsed();
    drop(result);
    conn.disconnect().await?;
    Ok((rows, elapsed))
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

pub(crate) async fn run(args: Vec<String>) -> BenchResult<()> {
    let options = options(&args)?;
    let bootstrap = var("KAFKA_BOOTSTRAP", "127.0.0.1:9092");
    let url = var("MYSQL_URL", "mysql://root@127.0.0.1:3306");
    let run = suffix();
    let database = format!("bench_mysql_{run}");
    let table = format!("`{database}`.t");

    let mut conn = mysql_async::Conn::from_url(url.as_str()).await?;
    conn.query_drop(format!("CREATE DATABASE `{database}`"))
        .await?;
    conn.query_drop(format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(10,2), \
         created DATETIME(3), note VARCHAR(64), sent_us BIGINT)"
    ))
    .await?;
    let loading = Instant::now();
    conn.query_drop(format!(
        "INSERT INTO {table} SELECT seq, CONCAT('name ', seq), (seq % 100000) / 100, \
         NOW(3), REPEAT('x', 40), 0 FROM `{database}`.seq_1_to_{}",
        options.rows
    ))
    .await?;
    println!(
        "loaded {} rows in {:.1} s",
        options.rows,
        loading.elapsed().as_secs_f64()
    );

    let (rows, elapsed) = plain_select(&url, &table).await?;
    let select_rate = rows as f64 / elapsed.as_secs_f64();
    println!(
        "plain SELECT *: {rows} rows in {:.2} s = {select_rate:.0} rows/s",
        elapsed.as_secs_f64()
    );

    // The connector in an in-process worker.
    let cluster = ClusterConfig::new(bootstrap.as_str()).validate("kafka")?;
    let clients = KafkaClients::new(cluster);
    let connect = ConnectConfig {
        group_id: format!("bench_mysql_group_{run}"),
        config_storage_topic: format!("bench_mysql_configs_{run}"),
        offset_storage_topic: format!("bench_mysql_offsets_{run}"),
        status_storage_topic: format!("bench_mysql_status_{run}"),
        http: edge::ListenerConfig {
            listen: Some("127.0.0.1:0".to_owned()),
            ..edge::ListenerConfig::default()
        },
        ..ConnectConfig::default()
    }
    .validate("connect")?;
    let shutdown = Shutdown::new();
    let plugins = builtin_plugins().with(ConnectorPlugin::source(mysql_source::MySqlCdcSource));
    let worker = Worker::start(
        connect,
        clients,
        plugins,
        &MetricsRegistry::new(),
        shutdown.clone(),
    )
    .await?;
    let base = format!("http://{}", worker.tcp.local_addr()?);
    let served = tokio::spawn(async move {
        if let Err(error) = worker.serve().await {
            eprintln!("worker stopped: {error}");
        }
    });

    let rest = url.trim_start_matches("mysql://");
    let (user, address) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let (host, port) = address.split_once(':').unwrap_or((address, "3306"));
    let prefix = format!("bench_mysql_{run}");
    let topic = format!("{prefix}.{database}.t");
    let config = json!({
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": host, "database.port": port.split('/').next().unwrap_or("3306"),
        "database.user": user, "database.server.id": "4242",
        "topic.prefix": prefix, "database.include.list": database,
        "snapshot.fetch.size": options.fetch_size.to_string(),
        "schema.history.internal.kafka.bootstrap.servers": bootstrap,
        "schema.history.internal.kafka.topic": format!("{prefix}.history"),
        // Record topics are created by the runtime (KIP-158), as in Kafka Connect.
        "topic.creation.default.replication.factor": "-1",
        "topic.creation.default.partitions": "1",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    });
    let watermarks: std::sync::Arc<BaseConsumer> = std::sync::Arc::new(
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()?,
    );
    let http = reqwest::Client::new();
    let started = Instant::now();
    let response = http
        .post(format!("{base}/connectors"))
        .json(&json!({"name": "bench", "config": config}))
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("create connector: {}", response.text().await?).into());
    }
    let target = i64::try_from(options.rows)?;
    let mut last_report = Instant::now();
    loop {
        let high = high_watermark(&watermarks, &topic).await;
        if high >= target {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!(
                "  snapshot: {high} rows after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        if started.elapsed() > Duration::from_secs(1800) {
            return Err(format!("snapshot incomplete after 30 min: {high} rows").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let snapshot = started.elapsed();
    let snapshot_rate = options.rows as f64 / snapshot.as_secs_f64();
    println!(
        "CDC snapshot into Kafka: {} rows in {:.2} s = {snapshot_rate:.0} rows/s ({:.1} % of the plain SELECT)",
        options.rows,
        snapshot.as_secs_f64(),
        100.0 * snapshot_rate / select_rate
    );

    let latency = binlog_latency(
        &bootstrap,
        &url,
        &table,
        &topic,
        target,
        options.rows + 1,
        (options.rate, options.seconds),
    )
    .await?;
    println!("{latency}");

    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(30), served).await;

    // Debezium in Kafka Connect and our worker as separate processes, on the same table.
    crate::mysql_anchor::run(&crate::mysql_anchor::Setup {
        bootstrap: &bootstrap,
        url: &url,
        database: &database,
        run: &run,
        fetch_size: options.fetch_size,
        rate: options.rate,
        seconds: options.seconds,
    })
    .await?;
    conn.query_drop(format!("DROP DATABASE `{database}`"))
        .await?;
    conn.disconnect().await?;
    Ok(())
}

/// binlog → Kafka latency of the change events on `topic` (partition 0, from `from_offset`)
/// while a writer inserts `rate` rows/s for `seconds` s into `table` in multi-row INSERTs
/// every 10 ms, from id `first_id`; each row carries the client's clock when it was sent.
pub(crate) async fn binlog_latency(
    bootstrap: &str,
    url: &str,
    table: &str,
    topic: &str,
    from_offset: i64,
    first_id: u64,
    (rate, seconds): (u64, u64),
) -> BenchResult<Latency> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("bench_mysql_latency_{}", suffix()))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Offset(from_offset))?;
    consumer.assign(&assignment)?;
    // Let the task switch from the snapshot to the binlog stream.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let per_tick = (rate / 100).max(1);
    let total = per_tick * 100 * seconds;
    let writer = tokio::spawn({
        let url = url.to_owned();
        let table = table.to_owned();
        let first = first_id;
        async move {
            let mut conn = mysql_async::Conn::from_url(url.as_str()).await?;
            let mut ticker = tokio::time::interval(Duration::from_millis(10));
            let mut next = first;
            let started = Instant::now();
            while next < first + total {
                ticker.tick().await;
                let sent = now_micros();
                let values: Vec<String> = (next..next + per_tick)
                    .map(|id| format!("({id}, 'live {id}', 1.5, NOW(3), 'y', {sent})"))
                    .collect();
                conn.query_drop(format!("INSERT INTO {table} VALUES {}", values.join(",")))
                    .await?;
                next += per_tick;
            }
            let elapsed = started.elapsed();
            conn.disconnect().await?;
            Ok::<_, mysql_async::Error>(elapsed)
        }
    });
    let mut latencies: Vec<i64> = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let deadline = Instant::now() + Duration::from_secs(seconds + 60);
    while (latencies.len() as u64) < total && Instant::now() < deadline {
        let Ok(Ok(message)) = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await
        else {
            continue;
        };
        let received = now_micros();
        let Some(value) = message
            .payload()
            .and_then(|p| serde_json::from_slice::<Value>(p).ok())
        else {
            continue;
        };
        // With JsonConverter schemas the envelope is under `payload`.
        let envelope = value.get("payload").unwrap_or(&value);
        if let Some(sent) = envelope["after"]["sent_us"].as_i64().filter(|s| *s > 0) {
            latencies.push(received - sent);
        }
    }
    let write_time = writer.await??;
    latencies.sort_unstable();
    Ok(Latency {
        writes_per_second: total as f64 / write_time.as_secs_f64(),
        write_seconds: write_time.as_secs_f64(),
        received: latencies.len(),
        total,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: percentile(&latencies, 100.0),
    })
}

/// What [`binlog_latency`] measured.
pub(crate) struct Latency {
    pub(crate) writes_per_second: f64,
    pub(crate) write_seconds: f64,
    pub(crate) received: usize,
    pub(crate) total: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "binlog → Kafka latency at {:.0} writes/s for {:.1} s ({} of {} events): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.writes_per_second,
            self.write_seconds,
            self.received,
            self.total,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
        )
    }
}
