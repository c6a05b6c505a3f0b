//! MySQL snapshot with Confluent's AvroConverter (registry lookups, AvroData mapping,
//! Avro binary) against the same snapshot with `JsonConverter` (`schemas.enable=true`, the
//! schema written into every record), in one run on one table.
//!
//! `cargo run --release -p bench -- mysql-avro [--rows N] [--rounds R]`
//! (defaults 300 000 rows, 2 rounds; env `KAFKA_BOOTSTRAP`, `MYSQL_URL`).
//!
//! The registry is the gateway's own, served in process over HTTP on a fresh topic; the
//! connector runs in an in-process connect worker. Each round snapshots the table once per
//! converter (JSON first, then Avro), each into its own topic; a snapshot's rate = N / (time
//! from `POST /connectors` until the topic's high watermark reaches N). The figure is the
//! Avro rate as a percentage of the JSON rate, best round of each (goal ≥ 80 %).

use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::telemetry::MetricsRegistry;
use broker_core::{ClusterConfig, KafkaClients, Shutdown};
use connect::{ConnectConfig, Worker, builtin_plugins};
use connect_api::ConnectorPlugin;
use mysql_async::prelude::Queryable;
use rdkafka::consumer::BaseConsumer;
use serde_json::{Value, json};

use crate::mysql::{high_watermark, suffix, var};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn options(args: &[String]) -> BenchResult<(u64, u64)> {
    let (mut rows, mut rounds) = (300_000, 2);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value: u64 = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .parse()
            .map_err(|e| format!("{flag}: {e}"))?;
        match flag.as_str() {
            "--rows" => rows = value,
            "--rounds" => rounds = value.max(1),
            _ => return Err(format!("unknown option {flag}").into()),
        }
    }
    Ok((rows, rounds))
}

/// The gateway's registry on a fresh topic, served over HTTP in this process.
async fn start_registry(
    clients: &KafkaClients,
    run: &str,
    shutdown: &Shutdown,
) -> BenchResult<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let url = format!("http://{address}");
    // Its own address, so that it forwards writes to itself while it is the primary.
    let config = schema_registry::SchemaRegistryConfig {
        enabled: true,
        http: edge::ListenerConfig {
            listen: Some(address.to_string()),
            ..edge::ListenerConfig::default()
        },
        advertised_url: Some(url.clone()),
        kafkastore_topic: format!("_schemas_bench_{run}"),
        group_id: format!("bench_sr_{run}"),
        ..schema_registry::SchemaRegistryConfig::default()
    };
    let validated = config.validate("schema_registry")?;
    let registry = schema_registry::Registry::start(validated, clients, shutdown.clone()).await?;
    let router = schema_registry::router(Arc::new(registry));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("registry stopped: {error}");
        }
    });
    Ok(url)
}

pub(crate) async fn run(args: Vec<String>) -> BenchResult<()> {
    let (rows, rounds) = options(&args)?;
    let bootstrap = var("KAFKA_BOOTSTRAP", "127.0.0.1:9092");
    let url = var("MYSQL_URL", "mysql://root@127.0.0.1:3306");
    let run = suffix();
    let database = format!("bench_avro_{run}");
    let table = format!("`{database}`.t");

    let mut conn = mysql_async::Conn::from_url(url.as_str()).await?;
    conn.query_drop(format!("CREATE DATABASE `{database}`"))
        .await?;
    conn.query_drop(format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(10,2), \
         created DATETIME(3), qty SMALLINT, note VARCHAR(64))"
    ))
    .await?;
    conn.query_drop(format!(
        "INSERT INTO {table} SELECT seq, CONCAT('name ', seq), (seq % 100000) / 100, \
         NOW(3), seq % 1000, REPEAT('x', 40) FROM `{database}`.seq_1_to_{rows}"
    ))
    .await?;
    println!("loaded {rows} rows");

    let cluster = ClusterConfig::new(bootstrap.as_str()).validate("kafka")?;
    let clients = KafkaClients::new(cluster);
    let shutdown = Shutdown::new();
    let registry = start_registry(&clients, &run, &shutdown).await?;
    println!("registry at {registry}");
    let connect = ConnectConfig {
        group_id: format!("bench_avro_group_{run}"),
        config_storage_topic: format!("bench_avro_configs_{run}"),
        offset_storage_topic: format!("bench_avro_offsets_{run}"),
        status_storage_topic: format!("bench_avro_status_{run}"),
        http: edge::ListenerConfig {
            listen: Some("127.0.0.1:0".to_owned()),
            ..edge::ListenerConfig::default()
        },
        ..ConnectConfig::default()
    }
    .validate("connect")?;
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

    let json_converters = json!({
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "true",
        "value.converter.schemas.enable": "true",
    });
    let avro_converters = json!({
        "key.converter": "io.confluent.connect.avro.AvroConverter",
        "key.converter.schema.registry.url": registry,
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": registry,
    });
    let snapshot = Snapshot {
        base,
        bootstrap: bootstrap.clone(),
        mysql_url: url.clone(),
        database: database.clone(),
        rows,
    };
    let (mut best_json, mut best_avro) = (0.0_f64, 0.0_f64);
    for round in 0..rounds {
        let json_rate = snapshot
            .rate(&format!("j{round}_{run}"), &json_converters)
            .await?;
        let avro_rate = snapshot
            .rate(&format!("a{round}_{run}"), &avro_converters)
            .await?;
        println!(
            "round {}: JsonConverter {json_rate:.0} rows/s, AvroConverter {avro_rate:.0} rows/s ({:.1} %)",
            round + 1,
            100.0 * avro_rate / json_rate
        );
        best_json = best_json.max(json_rate);
        best_avro = best_avro.max(avro_rate);
    }
    println!(
        "MySQL snapshot, AvroConverter vs JsonConverter (schemas.enable=true): {best_avro:.0} vs {best_json:.0} rows/s = {:.1} % (goal >= 80 %)",
        100.0 * best_avro / best_json
    );
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(30), served).await;
    conn.query_drop(format!("DROP DATABASE `{database}`"))
        .await?;
    conn.disconnect().await?;
    Ok(())
}

struct Snapshot {
    base: String,
    bootstrap: String,
    mysql_url: String,
    database: String,
    rows: u64,
}

impl Snapshot {
    /// Rows/s of one snapshot of the table with `converters`, into a topic of its own.
    async fn rate(&self, name: &str, converters: &Value) -> BenchResult<f64> {
        let rest = self.mysql_url.trim_start_matches("mysql://");
        let (user, address) = rest.rsplit_once('@').unwrap_or(("root", rest));
        let (host, port) = address.split_once(':').unwrap_or((address, "3306"));
        let prefix = format!("bench_avro_{name}");
        let topic = format!("{prefix}.{}.t", self.database);
        let mut config = json!({
            "connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": host, "database.port": port.split('/').next().unwrap_or("3306"),
            "database.user": user, "database.server.id": (5000 + rand::random::<u16>() % 10_000).to_string(),
            "topic.prefix": prefix, "database.include.list": self.database,
            "snapshot.fetch.size": "10000",
            "schema.history.internal.kafka.bootstrap.servers": self.bootstrap,
            "schema.history.internal.kafka.topic": format!("{prefix}.history"),
            "topic.creation.default.replication.factor": "-1",
            "topic.creation.default.partitions": "1",
        });
        if let (Some(target), Some(extra)) = (config.as_object_mut(), converters.as_object()) {
            target.extend(extra.clone());
        }
        let http = reqwest::Client::new();
        let started = Instant::now();
        let response = http
            .post(format!("{}/connectors", self.base))
            .json(&json!({"name": name, "config": config}))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("create connector: {}", response.text().await?).into());
        }
        let target = i64::try_from(self.rows)?;
        // A client of its own per snapshot: one that looked the topic up before it existed
        // keeps answering from its stale metadata.
        let watermarks: Arc<BaseConsumer> = Arc::new(
            rdkafka::ClientConfig::new()
                .set("bootstrap.servers", &self.bootstrap)
                .set("topic.metadata.refresh.interval.ms", "200")
                .create()?,
        );
        let mut last_report = Instant::now();
        loop {
            let high = high_watermark(&watermarks, &topic).await;
            if high >= target {
                break;
            }
            if last_report.elapsed() > Duration::from_secs(10) {
                let status: Value = http
                    .get(format!("{}/connectors/{name}/status", self.base))
                    .send()
                    .await?
                    .json()
                    .await?;
                println!(
                    "  {name}: {high} rows after {:.0} s (task {})",
                    started.elapsed().as_secs_f64(),
                    status["tasks"][0]["state"]
                );
                last_report = Instant::now();
            }
            if started.elapsed() > Duration::from_secs(1800) {
                return Err("snapshot incomplete after 30 min".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let rate = self.rows as f64 / started.elapsed().as_secs_f64();
        // Stop it so the next snapshot has the machine to itself.
        let _ = http
            .delete(format!("{}/connectors/{name}", self.base))
            .send()
            .await;
        Ok(rate)
    }
}
