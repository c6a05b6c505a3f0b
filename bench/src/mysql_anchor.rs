//! Side by side with the anchor: Debezium's MariaDB connector in a real Kafka Connect 4.3
//! worker (`tests::kafka_connect`, jars from `scripts/services up`) and our MySQL source in
//! a `kafka-gateway` process, one after the other on the same table, broker and config.
//!
//! Per worker: snapshot rows/s (time from `POST /connectors` until the topic holds every
//! row of the table), binlog → Kafka p50/p99 under the same write load, the process's peak
//! RSS (`VmHWM`, the whole life of the process, JVM start included) and its CPU seconds
//! from the connector's creation to the end of the latency run. Each process runs alone:
//! the first is stopped before the second starts. Our process must be built first:
//! `cargo build --release -p gateway` (the bench looks for it next to its own binary).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;
use serde_json::json;
use tests::kafka_connect::{KafkaConnectCluster, KafkaConnectProcess, ProcessUsage};

use crate::mysql::{BenchResult, Latency, binlog_latency, high_watermark};

/// What both runs share.
pub(crate) struct Setup<'a> {
    pub(crate) bootstrap: &'a str,
    pub(crate) url: &'a str,
    pub(crate) database: &'a str,
    pub(crate) run: &'a str,
    pub(crate) fetch_size: u64,
    pub(crate) rate: u64,
    pub(crate) seconds: u64,
}

/// One worker's figures.
struct Outcome {
    snapshot_rows: i64,
    snapshot_rows_per_second: f64,
    latency: Latency,
    usage: ProcessUsage,
    /// Peak RSS of the started worker before the connector was created.
    idle_rss_mib: f64,
    cpu_seconds: f64,
}

/// A worker process and its REST address.
enum WorkerProcess {
    KafkaConnect(KafkaConnectProcess),
    Gateway { child: Child, url: String },
}

impl WorkerProcess {
    fn pid(&self) -> u32 {
        match self {
            Self::KafkaConnect(process) => process.pid(),
            Self::Gateway { child, .. } => child.id(),
        }
    }

    fn url(&self) -> &str {
        match self {
            Self::KafkaConnect(process) => &process.url,
            Self::Gateway { url, .. } => url,
        }
    }

    async fn stop(self) {
        match self {
            Self::KafkaConnect(process) => process.stop(Duration::from_secs(60)).await,
            Self::Gateway { mut child, .. } => {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline {
                    if child.try_wait().ok().flatten().is_some() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

pub(crate) async fn run(setup: &Setup<'_>) -> BenchResult<()> {
    let debezium = measure(setup, "debezium").await?;
    let ours = measure(setup, "ours").await?;
    print_table(&debezium, &ours);
    Ok(())
}

fn free_port() -> BenchResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start(setup: &Setup<'_>, side: &str) -> BenchResult<WorkerProcess> {
    let group = format!("bench_anchor_{side}_{}", setup.run);
    if side == "debezium" {
        let cluster = KafkaConnectCluster {
            bootstrap: setup.bootstrap.to_owned(),
            group_id: group.clone(),
            config_topic: format!("{group}_configs"),
            offset_topic: format!("{group}_offsets"),
            status_topic: format!("{group}_status"),
            // What a user would give a worker on a small host; the bench's table fits.
            heap: "-Xmx1g".to_owned(),
        };
        return Ok(WorkerProcess::KafkaConnect(
            KafkaConnectProcess::start(&cluster, Duration::from_secs(180)).await,
        ));
    }
    let binary = std::env::current_exe()?
        .parent()
        .map(|dir| dir.join("kafka-gateway"))
        .unwrap_or_else(|| PathBuf::from("kafka-gateway"));
    if !binary.exists() {
        return Err(format!(
            "{} is missing: build it with `cargo build --release -p gateway`",
            binary.display()
        )
        .into());
    }
    let port = free_port()?;
    let work = std::env::temp_dir().join(&group);
    std::fs::create_dir_all(&work)?;
    let config = work.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbootstrap_servers = \"{bootstrap}\"\n\
             [bridge]\nenabled = false\n[metrics]\nenabled = false\n\
             [connect]\nenabled = true\ngroup_id = \"{group}\"\n\
             config_storage_topic = \"{group}_configs\"\n\
             offset_storage_topic = \"{group}_offsets\"\n\
             status_storage_topic = \"{group}_status\"\n\
             [connect.http]\nlisten = \"127.0.0.1:{port}\"\n",
            bootstrap = setup.bootstrap,
        ),
    )?;
    let log = std::fs::File::create(work.join("gateway.log"))?;
    let child = Command::new(&binary)
        .args(["run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if http
            .get(format!("{url}/connectors"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(WorkerProcess::Gateway { child, url });
        }
        if Instant::now() > deadline {
            return Err(format!("kafka-gateway not ready; see {}", work.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn measure(setup: &Setup<'_>, side: &str) -> BenchResult<Outcome> {
    use mysql_async::prelude::Queryable;
    let table = format!("`{}`.t", setup.database);
    let mut conn = mysql_async::Conn::from_url(setup.url).await?;
    let rows: Option<(i64, u64)> = conn
        .query_first(format!(
            "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM {table}"
        ))
        .await?;
    let (rows, max_id) = rows.unwrap_or((0, 0));
    conn.disconnect().await?;

    let worker = start(setup, side).await?;
    let pid = worker.pid();
    let rest = setup.url.trim_start_matches("mysql://");
    let (user, address) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let (host, port) = address.split_once(':').unwrap_or((address, "3306"));
    let prefix = format!("bench_anchor_{side}_{}", setup.run);
    let topic = format!("{prefix}.{}.t", setup.database);
    let config = json!({
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": host, "database.port": port.split('/').next().unwrap_or("3306"),
        "database.user": user, "database.password": "",
        "database.server.id": if side == "debezium" { "4343" } else { "4344" },
        "topic.prefix": prefix, "database.include.list": setup.database,
        "snapshot.fetch.size": setup.fetch_size.to_string(),
        "schema.history.internal.kafka.bootstrap.servers": setup.bootstrap,
        "schema.history.internal.kafka.topic": format!("{prefix}.history"),
        "topic.creation.default.replication.factor": "-1",
        "topic.creation.default.partitions": "1",
        // What Debezium users run: JsonConverter with its schemas in every record.
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "true",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
    });
    let watermarks: std::sync::Arc<BaseConsumer> = std::sync::Arc::new(
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", setup.bootstrap)
            .create()?,
    );
    let idle = ProcessUsage::of(pid).unwrap_or_default();
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/connectors", worker.url()))
        .json(&json!({"name": format!("bench_{side}"), "config": config}))
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("{side}: create connector: {}", response.text().await?).into());
    }
    loop {
        if high_watermark(&watermarks, &topic).await >= rows {
            break;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            return Err(format!("{side}: snapshot incomplete after 30 min").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let snapshot = started.elapsed();
    println!(
        "  {side}: snapshot of {rows} rows in {:.2} s",
        snapshot.as_secs_f64()
    );
    let latency = binlog_latency(
        setup.bootstrap,
        setup.url,
        &table,
        &topic,
        rows,
        max_id + 1,
        (setup.rate, setup.seconds),
    )
    .await?;
    println!("  {side}: {latency}");
    let usage = ProcessUsage::of(pid).unwrap_or_default();
    worker.stop().await;
    Ok(Outcome {
        snapshot_rows: rows,
        snapshot_rows_per_second: rows as f64 / snapshot.as_secs_f64(),
        latency,
        cpu_seconds: usage.cpu_seconds - idle.cpu_seconds,
        idle_rss_mib: idle.peak_rss_mib,
        usage,
    })
}

fn print_table(debezium: &Outcome, ours: &Outcome) {
    println!(
        "\nDebezium 3.5.0.Final in Kafka Connect 4.3 vs ours, same table ({} / {} rows), same broker:",
        debezium.snapshot_rows, ours.snapshot_rows
    );
    println!(
        "{:<28} {:>14} {:>14} {:>10}  goal",
        "", "Debezium+KC", "ours", "ours/KC"
    );
    let line = |name: &str, theirs: f64, mine: f64, goal: &str| {
        println!(
            "{name:<28} {theirs:>14.1} {mine:>14.1} {:>10.2}  {goal}",
            mine / theirs
        );
    };
    line(
        "snapshot rows/s",
        debezium.snapshot_rows_per_second,
        ours.snapshot_rows_per_second,
        "≥ 3",
    );
    line(
        "binlog→Kafka p50 ms",
        debezium.latency.p50_ms,
        ours.latency.p50_ms,
        "",
    );
    line(
        "binlog→Kafka p99 ms",
        debezium.latency.p99_ms,
        ours.latency.p99_ms,
        "≤ 1",
    );
    line(
        "peak RSS MiB",
        debezium.usage.peak_rss_mib,
        ours.usage.peak_rss_mib,
        "≤ 0.1",
    );
    line(
        "  of which before connector",
        debezium.idle_rss_mib,
        ours.idle_rss_mib,
        "",
    );
    line(
        "CPU s (connector's run)",
        debezium.cpu_seconds,
        ours.cpu_seconds,
        "",
    );
}
