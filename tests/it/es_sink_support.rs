//! Helpers for the `es_sink_*` tests: a connect worker with the Elasticsearch sink registered,
//! OpenSearch queries, a producer of JSON records, and a TCP proxy that can cut the sink off
//! from OpenSearch without touching the shared node.

use std::sync::Arc;
use std::time::Duration;

use broker_core::KafkaClients;
use connect::{PluginRegistry, ValidatedConnect, builtin_plugins};
use connect_api::ConnectorPlugin;
use rdkafka::producer::FutureRecord;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{START_HINT, Services, http_client};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::connect_support::{ClusterNames, TestWorker, call, metric_value, wait_for};

pub(crate) fn plugins() -> PluginRegistry {
    builtin_plugins().with(ConnectorPlugin::sink(elasticsearch_sink::ElasticsearchSink))
}

/// A worker served in this process, with the Elasticsearch sink.
pub(crate) async fn start_worker(clients: &KafkaClients, names: &ClusterNames) -> TestWorker {
    start_worker_with(clients, names.config()).await
}

pub(crate) async fn start_worker_with(
    clients: &KafkaClients,
    config: ValidatedConnect,
) -> TestWorker {
    TestWorker::start_with_plugins(clients, config, plugins()).await
}

/// Waits until task 0 of `connector` exported `elasticsearch_sink_<counter>_total` with a
/// value `done` accepts, and returns it.
pub(crate) async fn wait_for_es_counter(
    worker: &TestWorker,
    connector: &str,
    counter: &str,
    done: impl Fn(f64) -> bool,
) -> f64 {
    let name = format!("elasticsearch_sink_{counter}_total");
    let labels = [("connector", connector), ("task", "0")];
    let text = worker
        .wait_for_metrics(Duration::from_secs(60), |text| {
            metric_value(text, &name, &labels).is_some_and(&done)
        })
        .await;
    metric_value(&text, &name, &labels).unwrap_or_default()
}

/// The OpenSearch base URL, checked to answer.
pub(crate) async fn search_url() -> String {
    let base = Services::from_env().elasticsearch_url;
    match http_client().get(&base).send().await {
        Ok(response) if response.status().is_success() => base,
        Ok(response) => panic!(
            "OpenSearch at {base} answered {}; {START_HINT}",
            response.status()
        ),
        Err(error) => panic!("OpenSearch at {base} is unreachable ({error}); {START_HINT}"),
    }
}

/// Creates a sink connector; panics on anything but 201.
pub(crate) async fn create_connector(worker: &TestWorker, name: &str, config: Value) {
    let (status, body) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": name, "config": config})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// The usual sink config: string keys, schemaless JSON values.
pub(crate) fn sink_config(search: &str, topics: &str, extra: &Value) -> Value {
    let mut config = json!({
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "connection.url": search,
        "topics": topics,
        "tasks.max": "1",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "linger.ms": "5",
    });
    if let (Some(target), Some(more)) = (config.as_object_mut(), extra.as_object()) {
        for (key, value) in more {
            target.insert(key.clone(), value.clone());
        }
    }
    config
}

/// Produces `(key, value)` records (a `None` value is a tombstone) to one partition.
pub(crate) async fn produce(
    clients: &KafkaClients,
    topic: &str,
    records: &[(Option<String>, Option<String>)],
) {
    let producer = clients.producer().unwrap();
    let sends = records.iter().map(|(key, value)| {
        let mut record = FutureRecord::<str, str>::to(topic).partition(0);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(value) = value {
            record = record.payload(value);
        }
        producer.send(record, Duration::from_secs(30))
    });
    for result in futures::future::join_all(sends).await {
        result.map_err(|(error, _)| error).unwrap();
    }
}

pub(crate) fn keyed(pairs: &[(&str, Value)]) -> Vec<(Option<String>, Option<String>)> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                Some((*k).to_owned()),
                if v.is_null() {
                    None
                } else {
                    Some(v.to_string())
                },
            )
        })
        .collect()
}

/// Refreshes `index` and returns every document id → source.
pub(crate) async fn documents(
    search: &str,
    index: &str,
) -> std::collections::BTreeMap<String, Value> {
    let http = http_client();
    let _ = http.post(format!("{search}/{index}/_refresh")).send().await;
    let mut all = std::collections::BTreeMap::new();
    let response = http
        .post(format!("{search}/{index}/_search?scroll=1m"))
        .json(&json!({"size": 5000, "query": {"match_all": {}}}))
        .send()
        .await
        .unwrap();
    if response.status().as_u16() == 404 {
        return all;
    }
    let mut body: Value = response.json().await.unwrap();
    loop {
        let hits = body["hits"]["hits"].as_array().cloned().unwrap_or_default();
        if hits.is_empty() {
            break;
        }
        for hit in hits {
            let id = hit["_id"].as_str().unwrap().to_owned();
            assert!(
                all.insert(id.clone(), hit["_source"].clone()).is_none(),
                "id {id} twice"
            );
        }
        let scroll = body["_scroll_id"].clone();
        body = http
            .post(format!("{search}/_search/scroll"))
            .json(&json!({"scroll": "1m", "scroll_id": scroll}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    }
    all
}

/// `_count` of `index` after a refresh (0 when it does not exist).
/// `GET /{index}/_mapping` of the search server, as JSON.
pub(crate) async fn index_mapping(search: &str, index: &str) -> Value {
    let response = http_client()
        .get(format!("{search}/{index}/_mapping"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{search} unreachable: {error}"));
    response.json().await.expect("the mapping is JSON")
}

pub(crate) async fn count(search: &str, index: &str) -> u64 {
    let http = http_client();
    let _ = http.post(format!("{search}/{index}/_refresh")).send().await;
    let body: Value = match http.get(format!("{search}/{index}/_count")).send().await {
        Ok(response) => response.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    body["count"].as_u64().unwrap_or(0)
}

/// Waits until `index` holds `expected` documents.
pub(crate) async fn wait_for_count(search: &str, index: &str, expected: u64, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let current = count(search, index).await;
        if current == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{index} holds {current} documents, expected {expected}, after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits for the first task of `name` to be in `state`; returns the status body.
pub(crate) async fn wait_for_task(worker: &TestWorker, name: &str, state: &str) -> Value {
    wait_for(
        &worker.url(&format!("/connectors/{name}/status")),
        Duration::from_secs(60),
        |status, body| status == 200 && body["tasks"][0]["state"] == state,
    )
    .await
}

pub(crate) async fn delete_index(search: &str, index: &str) {
    let _ = http_client()
        .delete(format!("{search}/{index}"))
        .send()
        .await;
}

/// A TCP proxy in front of OpenSearch. While blocked it refuses new connections (accepts
/// and closes them at once) and cuts the open ones.
#[derive(Debug)]
pub(crate) struct Proxy {
    pub(crate) url: String,
    blocked: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub(crate) async fn start(upstream: &str) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (blocked, watcher) = watch::channel(false);
        let upstream = Arc::new(upstream);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *watcher.borrow() {
                    drop(client);
                    continue;
                }
                let upstream = Arc::clone(&upstream);
                let mut watcher = watcher.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream.as_str()).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watcher.wait_for(|blocked| *blocked) => {}
                    }
                });
            }
        });
        Self { url, blocked, task }
    }

    pub(crate) fn block(&self, blocked: bool) {
        self.blocked.send_replace(blocked);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `n` JSON values of about `size` bytes each, numbered by `i`.
pub(crate) fn payload(i: u64, size: usize) -> String {
    let filler = "x".repeat(size.saturating_sub(60));
    json!({"i": i, "name": format!("record {i}"), "filler": filler}).to_string()
}

/// One request a [`RecordingProxy`] forwarded.
#[derive(Debug, Clone)]
pub(crate) struct ProxiedRequest {
    pub(crate) method: String,
    /// The absolute-form target a client sends to a proxy (`http://host:port/path`).
    pub(crate) target: String,
    pub(crate) headers: reqwest::header::HeaderMap,
}

/// A real HTTP forward proxy in front of OpenSearch: it takes absolute-form requests, as a
/// client configured with a proxy sends them, remembers their headers, and forwards method,
/// headers and body unchanged (so a gzipped body reaches OpenSearch gzipped).
#[derive(Debug)]
pub(crate) struct RecordingProxy {
    pub(crate) port: u16,
    seen: Arc<std::sync::Mutex<Vec<ProxiedRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingProxy {
    pub(crate) async fn start() -> Self {
        use http_body_util::{BodyExt, Full};
        use hyper::body::{Bytes, Incoming};
        use hyper_util::rt::{TokioExecutor, TokioIo};

        type Seen = Arc<std::sync::Mutex<Vec<ProxiedRequest>>>;

        /// An upstream failure is an `Err`: hyper then closes the client's connection
        /// without an answer (a cut), because a proxy here may not answer for OpenSearch.
        async fn forward(
            seen: Seen,
            request: hyper::Request<Incoming>,
        ) -> Result<hyper::Response<Full<Bytes>>, reqwest::Error> {
            let (parts, body) = request.into_parts();
            seen.lock().unwrap().push(ProxiedRequest {
                method: parts.method.to_string(),
                target: parts.uri.to_string(),
                headers: parts.headers.clone(),
            });
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            // The upstream connection itself must not go through any proxy.
            let upstream = reqwest::Client::builder().no_proxy().build()?;
            let mut headers = parts.headers.clone();
            for hop in [
                "proxy-authorization",
                "proxy-connection",
                "connection",
                "host",
            ] {
                headers.remove(hop);
            }
            let answer = upstream
                .request(parts.method, parts.uri.to_string())
                .headers(headers)
                .body(body)
                .send()
                .await?;
            let mut response = hyper::Response::builder().status(answer.status());
            if let Some(kind) = answer.headers().get(reqwest::header::CONTENT_TYPE) {
                response = response.header(reqwest::header::CONTENT_TYPE, kind);
            }
            let bytes = answer.bytes().await?;
            Ok(response.body(Full::new(bytes)).expect("a valid response"))
        }

        let seen: Seen = Arc::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = Arc::clone(&accepted);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        forward(Arc::clone(&seen), request)
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { port, seen, task }
    }

    /// The requests forwarded so far.
    pub(crate) fn seen(&self) -> Vec<ProxiedRequest> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How to start the fault-test node when a test cannot reach it.
pub(crate) const FAULTS_HINT: &str = "start the fault-test OpenSearch node with \
     `scripts/services up opensearch-faults` (then `eval \"$(scripts/services env)\"`)";

/// Held for the whole run of every test that uses the fault-test node: one of them stops the
/// node's process, so they never overlap. The shared `opensearch` node is never stopped.
pub(crate) static FAULTS_NODE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The fault-test OpenSearch node's base URL (one write thread with a queue of one,
/// `http.max_content_length=1mb`), checked to answer.
pub(crate) async fn faults_url() -> String {
    let base = Services::from_env().elasticsearch_faults_url;
    match http_client().get(&base).send().await {
        Ok(response) if response.status().is_success() => base,
        Ok(response) => panic!(
            "the fault-test OpenSearch at {base} answered {}; {FAULTS_HINT}",
            response.status()
        ),
        Err(error) => {
            panic!("the fault-test OpenSearch at {base} is unreachable ({error}); {FAULTS_HINT}")
        }
    }
}

/// This repository's `scripts/services`; it inherits `GATEWAY_SERVICES_DIR`, so it acts on
/// the services the tests use.
pub(crate) fn services_script() -> std::process::Command {
    let mut command =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services"));
    command.stdin(std::process::Stdio::null());
    command
}

/// Runs `scripts/services <args>` off the runtime threads (the in-process worker keeps
/// running) and panics with its output when it fails.
pub(crate) async fn run_services_script(args: &'static [&'static str]) {
    let output = tokio::task::spawn_blocking(move || services_script().args(args).output())
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("cannot run scripts/services: {error}"));
    assert!(
        output.status.success(),
        "scripts/services {} failed ({}): {}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Write-pool rejections the node counted so far (`es_rejected_execution_exception`).
pub(crate) async fn write_rejections(search: &str) -> u64 {
    let stats: Value = http_client()
        .get(format!(
            "{search}/_nodes/_local/stats/thread_pool?filter_path=nodes.*.thread_pool.write"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["nodes"]
        .as_object()
        .and_then(|nodes| nodes.values().next())
        .and_then(|node| node["thread_pool"]["write"]["rejected"].as_u64())
        .unwrap_or_else(|| panic!("no write pool in the node stats: {stats}"))
}

/// The offset the consumer group `group` committed for `topic`/`partition`, if any.
pub(crate) async fn committed_offset(
    clients: &KafkaClients,
    group: &str,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};

    let config = clients.consumer_config(group);
    let (topic, group) = (topic.to_owned(), group.to_owned());
    tokio::task::spawn_blocking(move || {
        // Never subscribes: reading the group's offsets does not join the group.
        let consumer: BaseConsumer = config.create().unwrap();
        let mut partitions = TopicPartitionList::new();
        partitions.add_partition(&topic, partition);
        let committed = consumer
            .committed_offsets(partitions, Duration::from_secs(10))
            .unwrap_or_else(|error| panic!("committed offsets of {group}: {error}"));
        match committed
            .find_partition(&topic, partition)
            .map(|p| p.offset())
        {
            Some(Offset::Offset(offset)) => Some(offset),
            _ => None,
        }
    })
    .await
    .unwrap()
}
