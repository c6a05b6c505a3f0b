//! One trace from an HTTP produce to OpenSearch and to cluster B, exported over OTLP to a
//! real receiver: Jaeger v2 (OTLP/HTTP in, in-memory store, query API), built by
//! `scripts/services jaeger` and started here on free ports.
//!
//! The `kafka-gateway` binary runs the bridge, connect (an Elasticsearch sink on the topic)
//! and the mirror (A→B) with `[telemetry.otlp]` pointed at Jaeger. A produce request
//! carries a W3C `traceparent`; the test then asserts that Jaeger holds that one trace with
//! the HTTP server span (child of the client's span), the producer span (child of the HTTP
//! span), the sink's record span and the mirror's copy span (both children of the producer
//! span), and that the record on A and its copy on B carry a `traceparent` of that trace
//! naming the producer span.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};
use tests::process::{ChildGuard, free_port, gateway_binary};
use tests::{Services, create_topic, http_client, kafka_clients, services_dir, unique_name};

/// Polls `check` every 500 ms until it returns `Some`, or fails with `what`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn jaeger_binary() -> std::path::PathBuf {
    let path = std::env::var("JAEGER_BIN")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map_or_else(
            || services_dir().join("jaeger/jaeger-v1.75.0"),
            std::path::PathBuf::from,
        );
    assert!(
        path.is_file(),
        "the Jaeger binary {} is missing: build it with `scripts/services jaeger` (Go module \
         proxy, once; long: see docs/telemetry.md), then `eval \"$(scripts/services env)\"`",
        path.display()
    );
    path
}

/// Jaeger on free ports; returns the guard, the OTLP/HTTP base URL and the query URL.
async fn start_jaeger(dir: &std::path::Path) -> (ChildGuard, String, String) {
    let (otlp, query, query_grpc) = (free_port(), free_port(), free_port());
    let config = dir.join("jaeger.yaml");
    std::fs::write(
        &config,
        format!(
            "service:\n  extensions: [jaeger_storage, jaeger_query]\n  pipelines:\n    traces:\n      \
             receivers: [otlp]\n      processors: [batch]\n      exporters: [jaeger_storage_exporter]\n  \
             telemetry:\n    metrics:\n      level: none\n    logs:\n      level: warn\n\
             extensions:\n  jaeger_query:\n    storage:\n      traces: memstore\n    http:\n      \
             endpoint: 127.0.0.1:{query}\n    grpc:\n      endpoint: 127.0.0.1:{query_grpc}\n  \
             jaeger_storage:\n    backends:\n      memstore:\n        memory:\n          max_traces: 10000\n\
             receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:{otlp}\n\
             processors:\n  batch:\n    timeout: 200ms\n\
             exporters:\n  jaeger_storage_exporter:\n    trace_storage: memstore\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("jaeger.log")).unwrap();
    let guard = ChildGuard(
        Command::new(jaeger_binary())
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("jaeger starts"),
    );
    let query_url = format!("http://127.0.0.1:{query}");
    let http = http_client();
    eventually("Jaeger's query API", Duration::from_secs(60), || {
        let http = http.clone();
        let url = format!("{query_url}/api/services");
        async move {
            http.get(url)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        }
    })
    .await;
    (guard, format!("http://127.0.0.1:{otlp}"), query_url)
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// The headers of the record at offset 0 of partition 0 of `topic`.
fn first_record_headers(bootstrap: &str, topic: &str) -> HashMap<String, String> {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("otel_reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    // The mirror creates the remote topic when it discovers the source's, which takes a
    // refresh interval and, on the loaded machine, a while more; an assignment made before
    // the topic exists would wait for librdkafka's next metadata refresh.
    let deadline = Instant::now() + Duration::from_secs(90);
    while !consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .is_ok_and(|m| {
            m.topics()
                .iter()
                .any(|t| t.error().is_none() && !t.partitions().is_empty())
        })
    {
        assert!(
            Instant::now() < deadline,
            "{topic} not on {bootstrap} within 90 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&list).unwrap();
    while Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(500)) {
            return message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .filter_map(|h| {
                            h.value.map(|v| {
                                (h.key.to_owned(), String::from_utf8_lossy(v).into_owned())
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
    }
    panic!("no record on {topic} at {bootstrap} within 90 s");
}

/// One span of the Jaeger answer: operation name, span id and parent span id.
#[derive(Debug, Clone)]
struct SeenSpan {
    operation: String,
    span_id: String,
    parent: Option<String>,
}

fn spans_of(trace: &Value) -> Vec<SeenSpan> {
    trace["data"][0]["spans"]
        .as_array()
        .map(|spans| {
            spans
                .iter()
                .map(|span| SeenSpan {
                    operation: span["operationName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    span_id: span["spanID"].as_str().unwrap_or_default().to_owned(),
                    parent: span["references"].as_array().and_then(|refs| {
                        refs.iter()
                            .find(|r| r["refType"] == "CHILD_OF")
                            .and_then(|r| r["spanID"].as_str())
                            .map(str::to_owned)
                    }),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn one_trace_follows_a_record_from_http_produce_to_the_sink_and_the_mirror() {
    let services = Services::from_env();
    let cluster_a = kafka_clients(&services.kafka_bootstrap).await;
    kafka_clients(&services.kafka_b_bootstrap).await;
    let http = http_client();
    let name = unique_name("otel");
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let (_jaeger, otlp_endpoint, query) = start_jaeger(&dir).await;

    let topic = format!("{name}-orders");
    create_topic(&cluster_a, &topic, 1).await;
    let (source_alias, target_alias) = (format!("src{name}"), format!("dst{name}"));
    let mm2 = dir.join("mm2.properties");
    std::fs::write(
        &mm2,
        format!(
            "clusters = {source_alias}, {target_alias}\n\
             {source_alias}.bootstrap.servers = {}\n{target_alias}.bootstrap.servers = {}\n\
             {source_alias}->{target_alias}.enabled = true\n\
             {source_alias}->{target_alias}.topics = {name}.*\n\
             replication.factor = 1\ncheckpoints.topic.replication.factor = 1\n\
             heartbeats.topic.replication.factor = 1\noffset-syncs.topic.replication.factor = 1\n\
             refresh.topics.interval.seconds = 2\n",
            services.kafka_bootstrap, services.kafka_b_bootstrap
        ),
    )
    .unwrap();
    let (bridge_port, connect_port, metrics_port) = (free_port(), free_port(), free_port());
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbootstrap_servers = \"{}\"\n\
             [telemetry.otlp]\nendpoint = \"{otlp_endpoint}\"\nservice_name = \"{name}\"\n\
             timeout_ms = 5000\n\
             [bridge]\nenabled = true\n[bridge.http]\nlisten = \"127.0.0.1:{bridge_port}\"\n\
             [connect]\nenabled = true\ngroup_id = \"{name}-connect\"\n\
             config_storage_topic = \"{name}-configs.internal\"\n\
             offset_storage_topic = \"{name}-offsets.internal\"\n\
             status_storage_topic = \"{name}-status.internal\"\n\
             offset_storage_partitions = 1\nstatus_storage_partitions = 1\n\
             [connect.http]\nlisten = \"127.0.0.1:{connect_port}\"\n\
             [mirror]\nenabled = true\nproperties_file = \"{}\"\n\
             [metrics]\nenabled = true\ncluster_metrics = false\n\
             [metrics.http]\nlisten = \"127.0.0.1:{metrics_port}\"\n",
            services.kafka_bootstrap,
            mm2.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("gateway.log")).unwrap();
    let mut gateway = ChildGuard(
        Command::new(gateway_binary())
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("binary starts"),
    );
    let bridge = format!("http://127.0.0.1:{bridge_port}");
    let connect = format!("http://127.0.0.1:{connect_port}");
    eventually("the bridge and connect", Duration::from_secs(90), || {
        let http = http.clone();
        let urls = [format!("{bridge}/"), format!("{connect}/")];
        async move {
            for url in urls {
                let up = http
                    .get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !up {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;

    let created = http
        .post(format!("{connect}/connectors"))
        .json(&json!({"name": format!("{name}-es"), "config": {
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "topics": topic,
            "connection.url": services.elasticsearch_url,
            "key.ignore": "true", "schema.ignore": "true",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false"
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status().as_u16(),
        201,
        "{}",
        created.text().await.unwrap()
    );

    // The client's own span: the HTTP server span must be its child.
    let trace_id = random_hex(16);
    let client_span = random_hex(8);
    let produced = http
        .post(format!("{bridge}/topics/{topic}"))
        .header("Content-Type", "application/vnd.kafka.json.v2+json")
        .header("traceparent", format!("00-{trace_id}-{client_span}-01"))
        .body(json!({"records": [{"value": {"order": 1}}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(produced.status().as_u16(), 200);

    // The record on A carries the trace, and so does its copy on B.
    let on_a = first_record_headers(&services.kafka_bootstrap, &topic);
    let traceparent = on_a
        .get("traceparent")
        .unwrap_or_else(|| panic!("no traceparent on the record: {on_a:?}"))
        .clone();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(
        parts[1], trace_id,
        "the record continues the request's trace"
    );
    let producer_span_id = parts[2].to_owned();
    let remote = format!("{source_alias}.{topic}");
    let on_b = first_record_headers(&services.kafka_b_bootstrap, &remote);
    assert_eq!(on_b.get("traceparent"), Some(&traceparent), "{on_b:?}");

    // OpenSearch got the document.
    let index = topic.to_lowercase();
    eventually(
        "the document in OpenSearch",
        Duration::from_secs(90),
        || {
            let http = http.clone();
            let base = services.elasticsearch_url.clone();
            let index = index.clone();
            async move {
                let _ = http.post(format!("{base}/{index}/_refresh")).send().await;
                let found: Value = http
                    .get(format!("{base}/{index}/_search"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                (found["hits"]["total"]["value"].as_i64() == Some(1)).then_some(())
            }
        },
    )
    .await;

    let http_operation = "POST /topics/{topic}".to_owned();
    let send_operation = format!("send {topic}");
    let sink_operation = format!("process {topic}");
    let mirror_operation = format!("mirror {topic}");
    let spans = eventually("the trace in Jaeger", Duration::from_secs(60), || {
        let http = http.clone();
        let url = format!("{query}/api/traces/{trace_id}");
        let wanted = [
            http_operation.clone(),
            send_operation.clone(),
            sink_operation.clone(),
            mirror_operation.clone(),
        ];
        async move {
            let trace: Value = http.get(url).send().await.ok()?.json().await.ok()?;
            let spans = spans_of(&trace);
            wanted
                .iter()
                .all(|operation| spans.iter().any(|s| &s.operation == operation))
                .then_some(spans)
        }
    })
    .await;
    let one = |operation: &str| -> SeenSpan {
        let matching: Vec<&SeenSpan> = spans.iter().filter(|s| s.operation == operation).collect();
        assert_eq!(matching.len(), 1, "{operation}: {spans:#?}");
        matching[0].clone()
    };
    let http_span = one(&http_operation);
    let send_span = one(&send_operation);
    let sink_span = one(&sink_operation);
    let mirror_span = one(&mirror_operation);
    assert_eq!(http_span.parent.as_deref(), Some(client_span.as_str()));
    assert_eq!(
        send_span.parent.as_deref(),
        Some(http_span.span_id.as_str())
    );
    assert_eq!(
        send_span.span_id, producer_span_id,
        "the record names the producer span"
    );
    assert_eq!(
        sink_span.parent.as_deref(),
        Some(send_span.span_id.as_str())
    );
    assert_eq!(
        mirror_span.parent.as_deref(),
        Some(send_span.span_id.as_str())
    );

    let status = gateway.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}
