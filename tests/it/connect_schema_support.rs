//! What the tests of Connect's schema converters share (`connect_avro`, `connect_schemas`):
//! a registry process (`kafka-gateway schema-registry`) a test can kill and start again, a
//! worker with the MySQL source and the ES sink, a MySQL table with three rows, and the
//! converter settings for key and value.

use std::time::{Duration, Instant};

use connect_api::ConnectorPlugin;
use serde_json::{Value, json};
use tests::process::{GatewayProcess, free_port};
use tests::{Services, http_client, unique_name};

use crate::connect_support::{ClusterNames, TestWorker, clients};
use crate::es_sink_support::{create_connector, documents, sink_config};
use crate::mysql_common::{exec, shared};

/// `key.converter` and `value.converter` = `class`, both with the registry at `registry`.
pub(crate) fn schema_converters(class: &str, registry: &str) -> Value {
    json!({
        "key.converter": class, "key.converter.schema.registry.url": registry,
        "value.converter": class, "value.converter.schema.registry.url": registry,
    })
}

/// A registry process on a fixed port and topic, which a test can kill and start again.
pub(crate) struct Registry {
    process: Option<GatewayProcess>,
    dir: std::path::PathBuf,
    config: std::path::PathBuf,
    pub(crate) url: String,
    starts: u32,
}

impl Registry {
    pub(crate) async fn start() -> Self {
        let dir = std::env::temp_dir().join(unique_name("connect_schemas"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let port = free_port();
        let config = dir.join("registry.toml");
        std::fs::write(
            &config,
            format!(
                "[kafka]\nbootstrap_servers = \"{}\"\n\n[schema_registry]\nenabled = true\n\
                 kafkastore_topic = \"{}\"\ngroup_id = \"{}\"\nelection_session_timeout_ms = 6000\n\n\
                 [schema_registry.http]\nlisten = \"127.0.0.1:{port}\"\n",
                Services::from_env().kafka_bootstrap,
                unique_name("_schemas_connect"),
                unique_name("sr_connect"),
            ),
        )
        .expect("config file");
        let mut registry = Self {
            process: None,
            dir,
            config,
            url: format!("http://127.0.0.1:{port}"),
            starts: 0,
        };
        registry.start_again().await;
        registry
    }

    pub(crate) async fn start_again(&mut self) {
        self.starts += 1;
        let process = GatewayProcess::spawn(
            &[
                "schema-registry",
                "--config",
                self.config.to_str().expect("utf-8"),
            ],
            &[],
            self.dir.join(format!("registry-{}.log", self.starts)),
        );
        let started = Instant::now();
        loop {
            if let Ok(reply) = http_client()
                .get(format!("{}/subjects", self.url))
                .send()
                .await
                && reply.status().is_success()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the registry did not answer within 60 s:\n{}",
                process.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.process = Some(process);
    }

    /// `kill -9`: the registry is gone at once.
    pub(crate) fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.child.0.kill();
            let _ = process.child.0.wait();
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        http_client()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("registry answers")
            .json()
            .await
            .expect("JSON")
    }
}

fn plugins() -> connect::PluginRegistry {
    crate::mysql_common::plugins()
        .with(ConnectorPlugin::sink(elasticsearch_sink::ElasticsearchSink))
}

pub(crate) async fn start_worker() -> TestWorker {
    start_worker_with(ClusterNames::unique().config()).await
}

/// A worker of its own cluster with `config` (e.g. worker-level converters).
pub(crate) async fn start_worker_with(config: connect::ValidatedConnect) -> TestWorker {
    TestWorker::start_with_plugins(&clients().await, config, plugins()).await
}

/// `base` with `extra`'s keys; JsonConverter's own keys go (the schema converters refuse
/// keys it does not know).
pub(crate) fn merged(mut base: Value, extra: &Value) -> Value {
    if let Some(target) = base.as_object_mut() {
        target.remove("key.converter.schemas.enable");
        target.remove("value.converter.schemas.enable");
    }
    if let (Some(target), Some(more)) = (base.as_object_mut(), extra.as_object()) {
        for (key, value) in more {
            target.insert(key.clone(), value.clone());
        }
    }
    base
}

/// Polls `check` every 300 ms until it answers `Some`, or fails with `what`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
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
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `items` with three rows in a new database.
pub(crate) async fn items_database() -> String {
    let mut mysql = shared().await;
    let database = unique_name("avro_db");
    exec(&mut mysql, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut mysql,
        &format!(
            "CREATE TABLE `{database}`.items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, \
             qty SMALLINT, created DATETIME(3))"
        ),
    )
    .await;
    exec(
        &mut mysql,
        &format!(
            "INSERT INTO `{database}`.items VALUES (1, 'book', 2, '2024-01-02 03:04:05.678'), \
             (2, 'pen', NULL, NULL), (3, 'lamp', 7, '2024-05-06 07:08:09.000')"
        ),
    )
    .await;
    database
}

pub(crate) async fn create(worker: &TestWorker, name: &str, config: Value) {
    create_connector(worker, name, config).await;
}

pub(crate) async fn index_documents(search: &str, index: &str, expected: usize) -> Vec<Value> {
    eventually(
        &format!("{expected} documents in {index}"),
        Duration::from_secs(90),
        || async {
            let docs = documents(search, index).await;
            (docs.len() == expected).then(|| docs.into_values().collect::<Vec<_>>())
        },
    )
    .await
}

pub(crate) fn by_id(docs: &[Value], id: i64) -> &Value {
    docs.iter()
        .find(|doc| doc["id"] == id)
        .unwrap_or_else(|| panic!("no document with id {id} in {docs:?}"))
}

/// An update of row 1 (`qty = 5`) and a delete of row 3 of the [`items_database`] table,
/// until OpenSearch shows both in `index`.
pub(crate) async fn binlog_changes_reach_opensearch(database: &str, search: &str, index: &str) {
    let mut mysql = shared().await;
    exec(
        &mut mysql,
        &format!("UPDATE `{database}`.items SET qty = 5 WHERE id = 1"),
    )
    .await;
    exec(
        &mut mysql,
        &format!("DELETE FROM `{database}`.items WHERE id = 3"),
    )
    .await;
    eventually(
        "the update and the delete in OpenSearch",
        Duration::from_secs(60),
        || async {
            let docs: Vec<Value> = documents(search, index).await.into_values().collect();
            (docs.len() == 2 && by_id(&docs, 1)["qty"] == 5).then_some(())
        },
    )
    .await;
}

/// The ES sink with `converters` and Debezium's ExtractNewRecordState reads the change
/// events of the [`items_database`] table from `topic` into OpenSearch; answers the index
/// and its three documents, row 1 checked.
pub(crate) async fn change_events_reach_opensearch(
    worker: &TestWorker,
    prefix: &str,
    search: &str,
    topic: &str,
    converters: &Value,
) -> (String, Vec<Value>) {
    let sink = merged(
        merged(sink_config(search, topic, &json!({})), converters),
        &json!({
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "behavior.on.null.values": "delete",
        }),
    );
    create(worker, &format!("{prefix}-sink"), sink).await;
    let index = topic.to_lowercase();
    let docs = index_documents(search, &index, 3).await;
    assert_eq!(
        by_id(&docs, 1),
        &json!({"id": 1, "name": "book", "qty": 2, "created": 1_704_164_645_678_i64})
    );
    (index, docs)
}
