//! Starting connect workers against the real Kafka for the `connect_*` tests: each test gets
//! its own group id and internal topics, and a worker served on 127.0.0.1:0.

use std::time::Duration;

use broker_core::telemetry::MetricsRegistry;
use broker_core::{KafkaClients, Shutdown};
use connect::{ConnectConfig, ValidatedConnect, Worker, builtin_plugins};
use serde_json::Value;
use tests::{Services, http_client, kafka_clients, unique_name};

/// The internal topic names and group of one test's connect cluster.
#[derive(Debug, Clone)]
pub(crate) struct ClusterNames {
    pub(crate) group_id: String,
    pub(crate) configs: String,
    pub(crate) offsets: String,
    pub(crate) statuses: String,
}

impl ClusterNames {
    pub(crate) fn unique() -> Self {
        Self {
            group_id: unique_name("connect_group"),
            configs: unique_name("connect_configs"),
            offsets: unique_name("connect_offsets"),
            statuses: unique_name("connect_status"),
        }
    }

    pub(crate) fn config(&self) -> ValidatedConnect {
        let config = ConnectConfig {
            group_id: self.group_id.clone(),
            config_storage_topic: self.configs.clone(),
            offset_storage_topic: self.offsets.clone(),
            status_storage_topic: self.statuses.clone(),
            offset_storage_partitions: 5,
            session_timeout_ms: 6000,
            http: edge::ListenerConfig {
                listen: Some("127.0.0.1:0".to_owned()),
                ..edge::ListenerConfig::default()
            },
            ..ConnectConfig::default()
        };
        config.validate("connect").unwrap()
    }
}

/// A worker served in this process, and the metrics service (`/metrics`, without the
/// cluster series) over the registry the worker registers in, as in the gateway binary.
#[derive(Debug)]
pub(crate) struct TestWorker {
    pub(crate) base: String,
    pub(crate) worker_id: String,
    pub(crate) metrics_url: String,
    pub(crate) shutdown: Shutdown,
    pub(crate) served: tokio::task::JoinHandle<()>,
}

impl TestWorker {
    pub(crate) async fn start(clients: &KafkaClients, names: &ClusterNames) -> Self {
        Self::start_with(clients, names.config()).await
    }

    pub(crate) async fn start_with(clients: &KafkaClients, config: ValidatedConnect) -> Self {
        Self::start_with_plugins(clients, config, builtin_plugins()).await
    }

    /// A worker served in this process with `plugins` (e.g. the MySQL or ES plugins).
    pub(crate) async fn start_with_plugins(
        clients: &KafkaClients,
        config: ValidatedConnect,
        plugins: connect::PluginRegistry,
    ) -> Self {
        let shutdown = Shutdown::new();
        let registry = MetricsRegistry::new();
        let worker = Worker::start(
            config,
            clients.clone(),
            plugins,
            &registry,
            shutdown.clone(),
        )
        .await
        .unwrap_or_else(|error| panic!("connect worker did not start: {error}"));
        let metrics_url = serve_metrics(clients, registry, shutdown.clone()).await;
        let address = worker.tcp.local_addr().unwrap();
        let worker_id = worker.runtime.worker_id.clone();
        let served = tokio::spawn(async move {
            worker.serve().await.unwrap();
        });
        Self {
            base: format!("http://{address}"),
            worker_id,
            metrics_url,
            shutdown,
            served,
        }
    }

    /// `GET /metrics` in the Prometheus text format.
    pub(crate) async fn scrape(&self) -> String {
        let response = http_client()
            .get(&self.metrics_url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.metrics_url));
        assert_eq!(response.status().as_u16(), 200, "{}", self.metrics_url);
        response.text().await.unwrap()
    }

    /// Scrapes until `done(text)` holds, or panics with the last scrape after `timeout`.
    pub(crate) async fn wait_for_metrics(
        &self,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let text = self.scrape().await;
            if done(&text) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "metrics did not reach the expected values within {timeout:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Graceful stop: tasks flush and commit.
    pub(crate) async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(60), self.served)
            .await
            .expect("worker stops within 60 s")
            .unwrap();
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Serves the metrics service (cluster series off) on a free port until `shutdown`.
async fn serve_metrics(
    clients: &KafkaClients,
    registry: MetricsRegistry,
    shutdown: Shutdown,
) -> String {
    let port = tests::process::free_port();
    let text = format!("cluster_metrics = false\n[http]\nlisten = \"127.0.0.1:{port}\"\n");
    let config: metrics::MetricsConfig = toml::from_str(&text).unwrap();
    let config = config.validate("metrics").unwrap();
    let clients = clients.clone();
    tokio::spawn(async move {
        if let Err(error) = metrics::run(config, clients, registry, shutdown).await {
            panic!("metrics service failed: {error}");
        }
    });
    let url = format!("http://127.0.0.1:{port}/metrics");
    for _ in 0..100 {
        if http_client().get(&url).send().await.is_ok() {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("metrics service did not listen at {url}");
}

/// The value of the series `name{labels…}` in a Prometheus text scrape (label order as
/// exported: `connector`, `task`, then the plugin's).
pub(crate) fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (label_text, value) = match rest.strip_prefix('{') {
            Some(rest) => rest.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        let present: Vec<&str> = if label_text.is_empty() {
            Vec::new()
        } else {
            label_text.split(',').collect()
        };
        let matches =
            wanted.len() == present.len() && wanted.iter().all(|w| present.contains(&w.as_str()));
        if !matches {
            return None;
        }
        value.trim().parse().ok()
    })
}

pub(crate) async fn clients() -> KafkaClients {
    kafka_clients(&Services::from_env().kafka_bootstrap).await
}

/// Sends a request and returns (status, JSON body or Null).
pub(crate) async fn call(method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = http_client().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, json)
}

pub(crate) async fn get(url: &str) -> (u16, Value) {
    call(reqwest::Method::GET, url, None).await
}

/// Polls `url` until `done(body)` holds, or panics with the last answer after `timeout`.
pub(crate) async fn wait_for(
    url: &str,
    timeout: Duration,
    done: impl Fn(u16, &Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (status, body) = get(url).await;
        if done(status, &body) {
            return body;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{url} did not reach the expected state within {timeout:?}; last answer {status} {body}"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the connector and all of its (at least `tasks`) tasks are in `state`.
pub(crate) async fn wait_for_state(
    worker: &TestWorker,
    name: &str,
    state: &str,
    tasks: usize,
) -> Value {
    wait_for(
        &worker.url(&format!("/connectors/{name}/status")),
        Duration::from_secs(45),
        |status, body| {
            status == 200
                && body["connector"]["state"] == state
                && body["tasks"]
                    .as_array()
                    .is_some_and(|t| t.len() >= tasks && t.iter().all(|t| t["state"] == state))
        },
    )
    .await
}

/// Waits until `path` has exactly `expected` lines.
pub(crate) async fn wait_for_lines(path: &std::path::Path, expected: &[String], timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let text = tokio::fs::read_to_string(path).await.unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= expected.len() {
            assert_eq!(lines, expected, "sink file content");
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "sink file has {} of {} lines after {timeout:?}",
                lines.len(),
                expected.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) fn temp_file(prefix: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{}.txt", unique_name(prefix)))
}
