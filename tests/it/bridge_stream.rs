//! Streaming consume (`text/event-stream`, `application/x-ndjson`) through a real HTTP
//! listener against the real cluster A, read with reqwest's `bytes_stream`.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bridge::{BridgeConfig, Flavor};
use broker_core::{ClusterConfig, KafkaClients, Shutdown};
use futures::StreamExt as _;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use serde_json::{Value, json};
use tests::{Services, create_topic, kafka_clients, unique_name};

const V2: &str = "application/vnd.kafka.v2+json";

/// A bridge served on a real port, stopped when dropped.
struct Served {
    base: String,
    http: reqwest::Client,
    clients: KafkaClients,
    registry: broker_core::telemetry::MetricsRegistry,
    shutdown: Shutdown,
    task: Option<tokio::task::JoinHandle<Result<(), bridge::BridgeError>>>,
}

impl Served {
    async fn start(flavor: Flavor, clients: KafkaClients) -> Self {
        let config = BridgeConfig {
            flavor,
            ..BridgeConfig::default()
        }
        .validate("bridge")
        .expect("valid bridge config");
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", tcp.local_addr().expect("address"));
        let registry = broker_core::telemetry::MetricsRegistry::new();
        let shutdown = Shutdown::new();
        let task = tokio::spawn(bridge::serve(
            config,
            clients.clone(),
            registry.clone(),
            tcp,
            shutdown.clone(),
        ));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("http client");
        Self {
            base,
            http,
            clients,
            registry,
            shutdown,
            task: Some(task),
        }
    }

    async fn default_cluster(flavor: Flavor) -> Self {
        let clients = kafka_clients(&Services::from_env().kafka_bootstrap).await;
        Self::start(flavor, clients).await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", V2)
            .body(body.to_string())
            .send()
            .await
            .expect("bridge answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates an instance subscribed to `topic`; its path.
    async fn subscribed_instance(&self, group: &str, topic: &str, create: &Value) -> String {
        let (status, body) = self.post(&format!("/consumers/{group}"), create).await;
        assert_eq!(status, 200, "{body}");
        let name = body["instance_id"]
            .as_str()
            .expect("instance id")
            .to_owned();
        let path = format!("/consumers/{group}/instances/{name}");
        let (status, body) = self
            .post(
                &format!("{path}/subscription"),
                &json!({ "topics": [topic] }),
            )
            .await;
        assert_eq!(status, 204, "{body}");
        path
    }

    async fn stream(&self, path: &str, accept: &str, last_event_id: Option<&str>) -> Events {
        let mut request = self
            .http
            .get(format!("{}{path}/records", self.base))
            .header("accept", accept);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("stream opens");
        assert_eq!(response.status().as_u16(), 200, "stream refused");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            accept,
            "the stream's media type"
        );
        Events {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
            separator: if accept == "application/x-ndjson" {
                b"\n"
            } else {
                b"\n\n"
            },
        }
    }

    fn consumed(&self, topic: &str) -> u64 {
        let metrics = self.registry.render().expect("metrics");
        let prefix = format!(r#"kafka_gateway_bridge_consumed_records_total{{topic="{topic}"}} "#);
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map_or(0, |count| count.trim().parse().expect("a count"))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

type ByteStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>;

/// The frames of a stream: SSE events or NDJSON lines.
struct Events {
    body: ByteStream,
    buffer: Vec<u8>,
    separator: &'static [u8],
}

/// One frame: an SSE event's fields, or an NDJSON line as `data`.
#[derive(Debug, Default)]
struct Event {
    id: Option<String>,
    event: Option<String>,
    data: String,
}

impl Events {
    /// The next event or line with content (heartbeats skipped); `None` when the stream
    /// ended; panics when nothing came within `within`.
    async fn next(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self
                .buffer
                .windows(self.separator.len())
                .position(|w| w == self.separator)
            {
                let frame: Vec<u8> = self.buffer.drain(..end + self.separator.len()).collect();
                let text = String::from_utf8(frame).expect("UTF-8 stream");
                let text = text.trim_end_matches('\n');
                if let Some(event) = parse_frame(text, self.separator.len() == 1) {
                    return Some(event);
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk.expect("stream chunk")),
                Ok(None) => return None,
                Err(_) => panic!("nothing on the stream within {within:?}"),
            }
        }
    }

    /// Whether the stream ends within `within`, past what was already on its way.
    async fn ends_within(&mut self, within: Duration) -> bool {
        let drained = async { while self.next(within + Duration::from_secs(1)).await.is_some() {} };
        tokio::time::timeout(within, drained).await.is_ok()
    }
}

fn parse_frame(text: &str, ndjson: bool) -> Option<Event> {
    if ndjson {
        return (!text.is_empty()).then(|| Event {
            data: text.to_owned(),
            ..Event::default()
        });
    }
    let mut event = Event::default();
    let mut any = false;
    for line in text.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(": ").unwrap_or((line, ""));
        any = true;
        match field {
            "id" => event.id = Some(value.to_owned()),
            "event" => event.event = Some(value.to_owned()),
            "data" => {
                assert!(event.data.is_empty(), "one data line per event: {text}");
                event.data = value.to_owned();
            }
            other => panic!("unexpected field {other} in {text}"),
        }
    }
    any.then_some(event)
}

async fn produce(producer: &FutureProducer, topic: &str, values: &[Vec<u8>]) {
    let sends: Vec<_> = values
        .iter()
        .map(|value| {
            producer
                .send_result(
                    FutureRecord::<(), [u8]>::to(topic)
                        .partition(0)
                        .payload(value),
                )
                .expect("enqueued")
        })
        .collect();
    for send in sends {
        send.await
            .expect("delivery result")
            .expect("acknowledged by Kafka");
    }
}

fn texts(prefix: &str, range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range
        .map(|i| format!("{prefix}-{i}").into_bytes())
        .collect()
}

/// The value and offset of a binary record event, checking its id.
fn binary_record(event: &Event, topic: &str) -> (String, i64) {
    let record: Value = serde_json::from_str(&event.data).expect("a JSON record");
    let offset = record["offset"].as_i64().expect("offset");
    assert_eq!(
        event.id.as_deref(),
        Some(format!("{topic}/0/{offset}").as_str()),
        "the id is topic/partition/offset of the record"
    );
    assert_eq!(record["topic"], json!(topic));
    assert_eq!(record["partition"], json!(0));
    let value = BASE64
        .decode(record["value"].as_str().expect("base64 value"))
        .expect("base64");
    (String::from_utf8(value).expect("text"), offset)
}

#[tokio::test]
async fn sse_streams_records_before_and_during_and_resumes_after_last_event_id() {
    let bridge = Served::default_cluster(Flavor::Confluent).await;
    let topic = unique_name("stream_sse");
    create_topic(&bridge.clients, &topic, 1).await;
    let producer: FutureProducer = bridge.clients.producer().expect("producer");
    produce(&producer, &topic, &texts("before", 0..20)).await;
    let path = bridge
        .subscribed_instance(
            &unique_name("stream_group"),
            &topic,
            &json!({"format": "binary", "auto.offset.reset": "earliest"}),
        )
        .await;

    let mut events = bridge.stream(&path, "text/event-stream", None).await;
    for expected in 0..20 {
        let event = events.next(Duration::from_secs(30)).await.expect("event");
        assert_eq!(
            binary_record(&event, &topic),
            (format!("before-{expected}"), expected)
        );
    }
    // Records produced while the stream is open arrive on it.
    produce(&producer, &topic, &texts("during", 20..40)).await;
    let mut last_id = String::new();
    for expected in 20..30 {
        let event = events.next(Duration::from_secs(30)).await.expect("event");
        assert_eq!(
            binary_record(&event, &topic),
            (format!("during-{expected}"), expected)
        );
        last_id = event.id.expect("id");
    }
    // The client goes away having seen offset 29, whatever the bridge had sent beyond it.
    drop(events);

    let mut events = bridge
        .stream(&path, "text/event-stream", Some(&last_id))
        .await;
    for expected in 30..40 {
        let event = events.next(Duration::from_secs(30)).await.expect("event");
        assert_eq!(
            binary_record(&event, &topic),
            (format!("during-{expected}"), expected),
            "exactly the rest after Last-Event-ID {last_id}"
        );
    }
    // Nothing more: no duplicate of what came before.
    let extra = tokio::time::timeout(Duration::from_secs(3), events.next(Duration::from_secs(4)))
        .await
        .ok()
        .flatten();
    assert!(extra.is_none(), "unexpected event {extra:?}");
}

#[tokio::test]
async fn ndjson_streams_one_record_per_line_on_the_strimzi_flavor() {
    let bridge = Served::default_cluster(Flavor::Strimzi).await;
    let topic = unique_name("stream_ndjson");
    create_topic(&bridge.clients, &topic, 1).await;
    let producer: FutureProducer = bridge.clients.producer().expect("producer");
    // A value with line breaks between its tokens must still be one line.
    let values: Vec<Vec<u8>> = (0..5)
        .map(|i| format!("{{\n  \"n\": {i},\n  \"text\": \"a\\nb\"\r\n}}").into_bytes())
        .collect();
    produce(&producer, &topic, &values).await;
    let group = unique_name("stream_group");
    let (status, body) = bridge
        .post(
            &format!("/consumers/{group}"),
            &json!({"name": "reader", "format": "json", "auto.offset.reset": "earliest"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/consumers/{group}/instances/reader");
    let (status, body) = bridge
        .post(
            &format!("{path}/subscription"),
            &json!({ "topics": [topic] }),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    let mut lines = bridge.stream(&path, "application/x-ndjson", None).await;
    for expected in 0..5 {
        let line = lines.next(Duration::from_secs(30)).await.expect("a line");
        let record: Value = serde_json::from_str(&line.data).expect("one JSON record per line");
        assert_eq!(record["offset"], json!(expected));
        assert_eq!(record["value"], json!({"n": expected, "text": "a\nb"}));
        assert_eq!(record["topic"], json!(topic));
    }
    assert_eq!(bridge.consumed(&topic), 5);
}

#[tokio::test]
async fn commit_while_streaming_then_a_new_instance_starts_after_the_commit() {
    let bridge = Served::default_cluster(Flavor::Confluent).await;
    let topic = unique_name("stream_commit");
    create_topic(&bridge.clients, &topic, 1).await;
    let producer: FutureProducer = bridge.clients.producer().expect("producer");
    produce(&producer, &topic, &texts("r", 0..20)).await;
    let group = unique_name("stream_group");
    let create =
        json!({"format": "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false"});
    let path = bridge.subscribed_instance(&group, &topic, &create).await;

    let mut events = bridge.stream(&path, "text/event-stream", None).await;
    for expected in 0..10 {
        let event = events.next(Duration::from_secs(30)).await.expect("event");
        assert_eq!(binary_record(&event, &topic).1, expected);
    }
    // The stream does not lock the instance: a commit goes through while it is open.
    let started = Instant::now();
    let (status, body) = bridge
        .post(
            &format!("{path}/offsets"),
            &json!({"offsets": [{"topic": topic, "partition": 0, "offset": 9}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the commit waited {:?}",
        started.elapsed()
    );
    // Deleting the instance ends its stream cleanly.
    let deleted = bridge
        .http
        .delete(format!("{}{path}", bridge.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status().as_u16(), 204);
    assert!(
        events.ends_within(Duration::from_secs(10)).await,
        "the stream of a deleted instance ends"
    );

    let path = bridge.subscribed_instance(&group, &topic, &create).await;
    let mut events = bridge.stream(&path, "text/event-stream", None).await;
    let first = events.next(Duration::from_secs(60)).await.expect("event");
    assert_eq!(
        binary_record(&first, &topic),
        ("r-10".to_owned(), 10),
        "the new instance starts after the commit"
    );
    // The gateway's shutdown ends a stream too, well before the drain deadline.
    bridge.shutdown.trigger();
    assert!(
        events.ends_within(Duration::from_secs(10)).await,
        "the stream ends at shutdown"
    );
}

/// A client that stops reading stops the polling: what the bridge rendered stays within
/// what the sockets buffer, and the consumer keeps its place in the group past
/// `max.poll.interval.ms` (a consumer kicked out would start again at the earliest offset,
/// as nothing is committed, and repeat records).
#[tokio::test]
async fn slow_reader_bounds_what_is_fetched_ahead_and_keeps_the_group_membership() {
    const RECORDS: usize = 3000;
    const RECORD_BYTES: usize = 16 * 1024;
    let bootstrap = Services::from_env().kafka_bootstrap;
    kafka_clients(&bootstrap).await;
    let mut cluster = ClusterConfig::new(&bootstrap);
    for (key, value) in [
        ("max.poll.interval.ms", "7000"),
        ("session.timeout.ms", "6000"),
    ] {
        cluster.properties.insert(key.to_owned(), value.to_owned());
    }
    let clients = KafkaClients::new(cluster.validate("test").expect("cluster config"));
    let bridge = Served::start(Flavor::Confluent, clients).await;
    let topic = unique_name("stream_slow");
    create_topic(&bridge.clients, &topic, 1).await;
    let producer: FutureProducer = bridge.clients.producer().expect("producer");
    let values: Vec<Vec<u8>> = (0..RECORDS)
        .map(|i| {
            let mut value = format!("{i:08}").into_bytes();
            value.resize(RECORD_BYTES, b'x');
            value
        })
        .collect();
    for chunk in values.chunks(500) {
        produce(&producer, &topic, chunk).await;
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    let create =
        json!({"format": "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false"});
    let path = bridge
        .subscribed_instance(&unique_name("stream_group"), &topic, &create)
        .await;

    let mut events = bridge.stream(&path, "text/event-stream", None).await;
    let mut next_offset = 0i64;
    for _ in 0..5 {
        let event = events.next(Duration::from_secs(30)).await.expect("event");
        assert_eq!(binary_record(&event, &topic).1, next_offset);
        next_offset += 1;
    }
    // Longer than max.poll.interval.ms without reading.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let rendered = bridge.consumed(&topic);
    eprintln!("rendered ahead of a client that read 5: {rendered}");
    // Loopback socket buffers hold a few MiB (a few hundred of these ~22 KiB events); the
    // topic holds 3000.
    assert!(
        rendered < 1000,
        "the bridge rendered {rendered} records for a client that read 5"
    );
    while next_offset < i64::try_from(RECORDS).unwrap() {
        let event = events.next(Duration::from_secs(60)).await.expect("event");
        let (value, offset) = binary_record(&event, &topic);
        assert_eq!(offset, next_offset, "in order, no repeat, none skipped");
        assert!(value.starts_with(&format!("{offset:08}")));
        next_offset += 1;
    }
    let extra = tokio::time::timeout(Duration::from_secs(3), events.next(Duration::from_secs(4)))
        .await
        .ok()
        .flatten();
    assert!(
        extra.is_none(),
        "a repeated record after the pause: {extra:?}"
    );
}
