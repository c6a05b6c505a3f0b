//! Elasticsearch sink benchmark: N × ~1 KiB JSON records from Kafka into OpenSearch through
//! (1) a raw `_bulk` loader — consume, concatenate NDJSON by hand, POST with a fixed number of
//! requests in flight — and (2) the sink task (`elasticsearch-sink`), fed by the same kind of
//! consumer, with records converted as JsonConverter does and a flush once a second as Kafka
//! Connect's `offset.flush.interval.ms` would (plus a final one). Same batch size, same
//! concurrency, same node, fresh index each (1 shard, 0 replicas).
//!
//! `cargo run --release -p bench -- es-sink [--records N] [--batch-size B] [--in-flight C]`.
//! Env: `KAFKA_BOOTSTRAP` (127.0.0.1:9092), `ELASTICSEARCH_URL` (http://127.0.0.1:9200).

use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::{ClusterConfig, KafkaClients};
use connect_api::{ConnectRecord, SinkConnector, SinkRecord, SinkTask};
use futures::StreamExt;
use rdkafka::Message;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Clone)]
struct Options {
    records: u64,
    batch_size: usize,
    in_flight: usize,
    kafka: String,
    search: String,
}

fn options(args: &[String]) -> BenchResult<Options> {
    let env = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let mut options = Options {
        records: 1_000_000,
        batch_size: 2000,
        in_flight: 5,
        kafka: env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        search: env("ELASTICSEARCH_URL", "http://127.0.0.1:9200"),
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--records" => options.records = value()?.parse()?,
            "--batch-size" => options.batch_size = value()?.parse()?,
            "--in-flight" => options.in_flight = value()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(options)
}

fn suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}_{nanos}", std::process::id())
}

async fn produce(clients: &KafkaClients, topic: &str, records: u64) -> BenchResult<()> {
    let admin = clients.admin()?;
    admin
        .create_topics(
            &[NewTopic::new(topic, 4, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let producer: FutureProducer = clients
        .producer_config()
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("compression.type", "lz4")
        .create()?;
    let filler = "x".repeat(900);
    let started = Instant::now();
    let mut sent = 0;
    while sent < records {
        let chunk = (records - sent).min(20_000);
        let sends = (sent..sent + chunk).map(|i| {
            let key = format!("k{i}");
            let value = json!({"i": i, "name": format!("record {i}"), "at": 1_700_000_000_000_u64 + i, "filler": filler}).to_string();
            let producer = producer.clone();
            let topic = topic.to_owned();
            async move {
                producer
                    .send(
                        FutureRecord::to(&topic).key(&key).payload(&value),
                        Duration::from_secs(60),
                    )
                    .await
                    .map(|_| ())
                    .map_err(|(error, _)| error)
            }
        });
        for result in futures::future::join_all(sends).await {
            result?;
        }
        sent += chunk;
    }
    println!(
        "produced {records} records to {topic} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn consumer(clients: &KafkaClients, topic: &str) -> BenchResult<StreamConsumer> {
    let consumer: StreamConsumer = clients
        .consumer_config(&format!("bench-es-{}", suffix()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[topic])?;
    Ok(consumer)
}

async fn create_index(http: &reqwest::Client, search: &str, index: &str) -> BenchResult<()> {
    let response = http
        .put(format!("{search}/{index}"))
        .json(&json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}}))
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("creating {index}: {}", response.text().await?).into());
    }
    Ok(())
}

async fn count(http: &reqwest::Client, search: &str, index: &str) -> BenchResult<u64> {
    http.post(format!("{search}/{index}/_refresh"))
        .send()
        .await?;
    let body: Value = http
        .get(format!("{search}/{index}/_count"))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["count"].as_u64().unwrap_or(0))
}

/// Raw loader: Kafka bytes → NDJSON → `_bulk`, `in_flight` requests at a time.
async fn raw(
    options: &Options,
    clients: &KafkaClients,
    topic: &str,
    index: &str,
) -> BenchResult<f64> {
    let http = reqwest::Client::new();
    create_index(&http, &options.search, index).await?;
    let consumer = consumer(clients, topic)?;
    let mut stream = consumer.stream();
    let limit = Arc::new(tokio::sync::Semaphore::new(options.in_flight));
    let mut tasks = Vec::new();
    let mut body = Vec::new();
    let mut in_body = 0;
    let mut received = 0;
    let started = Instant::now();
    while received < options.records {
        let Some(message) = stream.next().await else {
            break;
        };
        let message = message?;
        let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        body.extend_from_slice(
            json!({"index": {"_index": index, "_id": key}})
                .to_string()
                .as_bytes(),
        );
        body.push(b'\n');
        body.extend_from_slice(message.payload().unwrap_or(b"{}"));
        body.push(b'\n');
        in_body += 1;
        received += 1;
        if in_body == options.batch_size || received == options.records {
            let permit = Arc::clone(&limit).acquire_owned().await?;
            let request = http
                .post(format!("{}/_bulk", options.search))
                .header("content-type", "application/x-ndjson")
                .body(std::mem::take(&mut body));
            in_body = 0;
            tasks.push(tokio::spawn(async move {
                let result = request.send().await.map(|r| r.status().is_success());
                drop(permit);
                result
            }));
        }
    }
    for task in tasks {
        if !task.await?? {
            return Err("a raw bulk request failed".into());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let indexed = count(&http, &options.search, index).await?;
    if indexed != options.records {
        return Err(format!("raw loader indexed {indexed} of {}", options.records).into());
    }
    Ok(options.records as f64 / seconds)
}

/// The sink task fed by a consumer, flushing once a second.
async fn sink(
    options: &Options,
    clients: &KafkaClients,
    topic: &str,
    index: &str,
) -> BenchResult<f64> {
    let http = reqwest::Client::new();
    create_index(&http, &options.search, index).await?;
    let config: connect_api::ConfigMap = [
        ("name", "bench-es-sink"),
        ("connection.url", options.search.as_str()),
        ("batch.size", &options.batch_size.to_string()),
        ("max.in.flight.requests", &options.in_flight.to_string()),
        ("schema.ignore", "true"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let mut task = elasticsearch_sink::ElasticsearchSink
        .create_task(&config, connect_api::SinkTaskContext::default())
        .await?;
    let consumer = consumer(clients, topic)?;
    let mut stream = consumer.stream();
    let mut batch = Vec::with_capacity(options.batch_size);
    let mut received = 0;
    let started = Instant::now();
    let mut last_flush = Instant::now();
    while received < options.records {
        let Some(message) = stream.next().await else {
            break;
        };
        let message = message?;
        // What JsonConverter (schemas.enable=false) and StringConverter would hand the task.
        let value: Value = serde_json::from_slice(message.payload().unwrap_or(b"null"))?;
        let key =
            Value::String(String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned());
        batch.push(SinkRecord {
            record: ConnectRecord::new(index, None, value).with_key(None, key),
            original_topic: message.topic().to_owned(),
            kafka_partition: message.partition(),
            kafka_offset: message.offset(),
        });
        received += 1;
        if batch.len() == 500 || received == options.records {
            task.put(&batch).await?;
            batch.clear();
        }
        if last_flush.elapsed() >= Duration::from_secs(1) {
            task.flush().await?;
            last_flush = Instant::now();
        }
    }
    task.flush().await?;
    let seconds = started.elapsed().as_secs_f64();
    task.stop().await;
    let indexed = count(&http, &options.search, index).await?;
    if indexed != options.records {
        return Err(format!("sink indexed {indexed} of {}", options.records).into());
    }
    println!("sink counters: {}", task.counters());
    Ok(options.records as f64 / seconds)
}

pub(crate) async fn run(args: Vec<String>) -> BenchResult<()> {
    let options = options(&args)?;
    let clients = KafkaClients::new(ClusterConfig::new(&options.kafka).validate("kafka")?);
    let topic = format!("bench_es_{}", suffix());
    produce(&clients, &topic, options.records).await?;
    let raw_index = format!("bench-es-raw-{}", suffix());
    let sink_index = format!("bench-es-sink-{}", suffix());
    let raw_rate = raw(&options, &clients, &topic, &raw_index).await?;
    println!("raw _bulk loader: {raw_rate:.0} docs/s");
    let sink_rate = sink(&options, &clients, &topic, &sink_index).await?;
    println!("elasticsearch sink: {sink_rate:.0} docs/s");
    println!(
        "records={} batch.size={} in-flight={}: sink / raw = {:.1} %",
        options.records,
        options.batch_size,
        options.in_flight,
        100.0 * sink_rate / raw_rate
    );
    let http = reqwest::Client::new();
    for index in [&raw_index, &sink_index] {
        let _ = http
            .delete(format!("{}/{index}", options.search))
            .send()
            .await;
    }
    if let Ok(admin) = clients.admin() {
        let _ = admin.delete_topics(&[&topic], &AdminOptions::new()).await;
    }
    Ok(())
}
