//! The demo pipeline as a test, through the `kafka-gateway` binary with every service on:
//! MariaDB rows -> MySQL CDC source -> Kafka A -> mirror -> Kafka B -> Elasticsearch sink
//! -> OpenSearch, plus produce and consume over the HTTP bridge and a metrics scrape.
//! Every step is asserted on what really arrived.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::process::gateway_binary;

use broker_core::metadata::ClusterInspector;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, MySqlConnection};
use tests::process::{ChildGuard, free_port};
use tests::{START_HINT, Services, http_client, kafka_clients, unique_name};

async fn execute(connection: &mut MySqlConnection, statement: String) {
    sqlx::query(AssertSqlSafe(statement.clone()))
        .execute(connection)
        .await
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
}

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

#[tokio::test]
async fn mysql_to_opensearch_through_both_clusters_and_the_bridge() {
    let services = Services::from_env();
    // Fail early, with the start hint, when a service is missing.
    kafka_clients(&services.kafka_bootstrap).await;
    let cluster_b = kafka_clients(&services.kafka_b_bootstrap).await;
    let mut mysql = MySqlConnection::connect(&services.mysql_url)
        .await
        .unwrap_or_else(|error| panic!("MariaDB is unreachable ({error}); {START_HINT}"));
    let http = http_client();

    let name = unique_name("pipe");
    let database = format!("{name}_shop");
    execute(&mut mysql, format!("CREATE DATABASE `{database}`")).await;
    execute(
        &mut mysql,
        format!(
            "CREATE TABLE `{database}`.orders (id INT PRIMARY KEY, item VARCHAR(64) NOT NULL, \
             qty INT NOT NULL)"
        ),
    )
    .await;
    execute(
        &mut mysql,
        format!("INSERT INTO `{database}`.orders VALUES (1, 'book', 2), (2, 'pen', 10)"),
    )
    .await;

    // Aliases of our own give the mirror its own replication group and internal topics.
    let (source_alias, target_alias) = (format!("src{name}"), format!("dst{name}"));
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
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
             [bridge]\nenabled = true\n[bridge.http]\nlisten = \"127.0.0.1:{bridge_port}\"\n\
             [connect]\nenabled = true\ngroup_id = \"{name}-connect\"\n\
             config_storage_topic = \"{name}-configs.internal\"\n\
             offset_storage_topic = \"{name}-offsets.internal\"\n\
             status_storage_topic = \"{name}-status.internal\"\n\
             offset_storage_partitions = 2\nstatus_storage_partitions = 1\n\
             [connect.http]\nlisten = \"127.0.0.1:{connect_port}\"\n\
             [mirror]\nenabled = true\nproperties_file = \"{}\"\n\
             [metrics]\nenabled = true\n\
             topic_filter = \"{name}.*\"\ngroup_filter = \"{name}.*\"\n\
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
    eventually(
        "the bridge and connect to answer",
        Duration::from_secs(60),
        || {
            let http = http.clone();
            let (bridge, connect) = (bridge.clone(), connect.clone());
            async move {
                let up = |url: String| {
                    let http = http.clone();
                    async move {
                        http.get(url)
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success())
                    }
                };
                (up(format!("{bridge}/")).await && up(format!("{connect}/")).await).then_some(())
            }
        },
    )
    .await;

    // The plugin list names the classes users configure (and deployment scripts check).
    let plugins: Value = http
        .get(format!("{connect}/connector-plugins"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let classes: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["class"].as_str())
        .collect();
    for expected in [
        "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "io.debezium.connector.mysql.MySqlConnector",
        "io.debezium.connector.mariadb.MariaDbConnector",
        "io.confluent.connect.jdbc.JdbcSourceConnector",
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
    ] {
        assert!(
            classes.contains(&expected),
            "{expected} missing from {classes:?}"
        );
    }
    assert!(
        !classes.iter().any(|c| c.starts_with("io.kafkagateway.")),
        "{classes:?}"
    );

    // 1. CDC source on cluster A.
    let created = http
        .post(format!("{connect}/connectors"))
        .json(&json!({"name": format!("{name}-mysql"), "config": {
            "connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": "127.0.0.1", "database.port": "3306",
            "database.user": "root", "database.password": "",
            "database.server.id": (20000 + rand_suffix(&name)).to_string(),
            "topic.prefix": name, "database.include.list": database,
            "include.schema.changes": "false",
            "schema.history.internal.kafka.topic": format!("{name}-history.internal"),
            "schema.history.internal.kafka.bootstrap.servers": services.kafka_bootstrap,
            "topic.creation.default.partitions": "1",
            "topic.creation.default.replication.factor": "1"
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
    execute(
        &mut mysql,
        format!("UPDATE `{database}`.orders SET qty = 3 WHERE id = 1"),
    )
    .await;
    execute(
        &mut mysql,
        format!("DELETE FROM `{database}`.orders WHERE id = 2"),
    )
    .await;
    execute(
        &mut mysql,
        format!("INSERT INTO `{database}`.orders VALUES (3, 'lamp', 1)"),
    )
    .await;

    // 2. The mirror creates the remote topic on cluster B.
    let remote = format!("{source_alias}.{name}.{database}.orders");
    let inspector = ClusterInspector::new(&cluster_b, Duration::from_secs(5)).unwrap();
    eventually(
        "the remote topic on cluster B",
        Duration::from_secs(90),
        || {
            let inspector = inspector.clone();
            let remote = remote.clone();
            async move { inspector.topic(&remote).await.ok().map(|_| ()) }
        },
    )
    .await;

    // 3. Elasticsearch sink reading cluster B, unwrapping the change events.
    let created = http
        .post(format!("{connect}/connectors"))
        .json(&json!({"name": format!("{name}-es"), "config": {
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "topics": remote,
            "connection.url": services.elasticsearch_url,
            "consumer.override.bootstrap.servers": services.kafka_b_bootstrap,
            "key.ignore": "false", "schema.ignore": "true",
            "behavior.on.null.values": "delete",
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.unwrap.drop.tombstones": "false"
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

    // 4. OpenSearch holds the table as it is now: 1 updated, 2 deleted, 3 inserted.
    let index = remote.to_lowercase();
    let documents = eventually(
        "the documents in OpenSearch",
        Duration::from_secs(120),
        || {
            let http = http.clone();
            let base = services.elasticsearch_url.clone();
            let index = index.clone();
            async move {
                let _ = http.post(format!("{base}/{index}/_refresh")).send().await;
                let found: Value = http
                    .get(format!("{base}/{index}/_search?size=100"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                let mut documents: Vec<Value> = found["hits"]["hits"]
                    .as_array()?
                    .iter()
                    .map(|hit| hit["_source"].clone())
                    .collect();
                documents.sort_by_key(|d| d["id"].as_i64());
                (documents
                    == vec![
                        json!({"id": 1, "item": "book", "qty": 3}),
                        json!({"id": 3, "item": "lamp", "qty": 1}),
                    ])
                .then_some(documents)
            }
        },
    )
    .await;
    assert_eq!(documents.len(), 2);

    // 5. The bridge on cluster A, and the same records mirrored to B.
    let topic = format!("{name}-http");
    let created = http
        .post(format!(
            "{bridge}/v3/clusters/{}/topics",
            cluster_id(&http, &bridge).await
        ))
        .json(&json!({"topic_name": topic, "partitions_count": 1}))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap()
    );
    let produced: Value = http
        .post(format!("{bridge}/topics/{topic}"))
        .header("Content-Type", "application/vnd.kafka.json.v2+json")
        .body(json!({"records": [{"key": "k1", "value": {"n": 1}}, {"key": "k2", "value": {"n": 2}}]}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let offsets = produced["offsets"].as_array().unwrap();
    assert_eq!(offsets.len(), 2);
    assert!(
        offsets.iter().all(|o| o["error_code"].is_null()),
        "{produced}"
    );
    let remote_http = format!("{source_alias}.{topic}");
    eventually(
        "the bridge's records on cluster B",
        Duration::from_secs(90),
        || {
            let inspector = inspector.clone();
            let remote_http = remote_http.clone();
            async move {
                let watermarks = inspector.watermarks(&remote_http, 0).await.ok()?;
                (watermarks.high == 2).then_some(())
            }
        },
    )
    .await;

    // 6. Metrics: kafka_exporter's names for the topic, and the gateway's own.
    let metrics = http
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("kafka_topic_partitions{{topic=\"{topic}\"}} 1")),
        "{metrics}"
    );
    assert!(metrics.contains("kafka_gateway_build_info"), "{metrics}");
    assert!(
        metrics.contains(
            "kafka_gateway_http_requests_total{service=\"bridge\",method=\"POST\",route=\"/topics/{topic}\",status=\"200\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("kafka_gateway_http_requests_total{service=\"connect\",method=\"POST\",route=\"/connectors\",status=\"201\"}"),
        "{metrics}"
    );

    // 7. SIGTERM drains every service and exits 0.
    let status = gateway.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
    execute(&mut mysql, format!("DROP DATABASE `{database}`")).await;
}

async fn cluster_id(http: &reqwest::Client, bridge: &str) -> String {
    let clusters: Value = http
        .get(format!("{bridge}/v3/clusters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    clusters["data"][0]["cluster_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no cluster id in {clusters}"))
        .to_owned()
}

/// A number from the random part of `name`, for a `database.server.id` no other test uses.
fn rand_suffix(name: &str) -> u32 {
    name.bytes().fold(0u32, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(b))
    }) % 10_000
}
