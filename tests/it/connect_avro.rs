//! Connect's AvroConverter against a real registry (`kafka-gateway schema-registry`, a
//! child process) and the real Kafka, MariaDB and OpenSearch:
//!
//! - the config a Debezium user pastes (MySQL source, AvroConverter for key and value)
//!   registers `<topic>-key` / `<topic>-value` with Debezium's record names, and Confluent's
//!   Python AvroDeserializer reads what it wrote; the ES sink with AvroConverter turns the
//!   change events into documents with the right fields and mapping types;
//! - records written by Confluent's Python AvroSerializer reach OpenSearch through the sink;
//! - a registry that is down stalls a sink and a source task without failing them, without
//!   committing any offset and without losing a record; they resume when it is back.
//!
//! Needs the binary (`cargo build -p gateway`) and the Python venv (`scripts/install-deps`).

use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use tests::{Services, create_topic, independent, unique_name};

use crate::connect_schema_support::{
    Registry, binlog_changes_reach_opensearch, by_id, change_events_reach_opensearch, create,
    eventually, index_documents, items_database, merged, schema_converters, start_worker,
    start_worker_with,
};
use crate::connect_support::{ClusterNames, TestWorker, clients, get, wait_for_state};
use crate::es_sink_support::{documents, index_mapping, search_url, sink_config};
use crate::mysql_common::cdc_config;

const AVRO: &str = "io.confluent.connect.avro.AvroConverter";

fn avro_converters(registry: &str) -> Value {
    schema_converters(AVRO, registry)
}

#[tokio::test]
async fn debezium_mysql_source_to_opensearch_through_avro() {
    let search = search_url().await;
    let registry = Registry::start().await;
    let database = items_database().await;
    let worker = start_worker().await;
    let prefix = unique_name("avrodbz");
    let topic = format!("{prefix}.{database}.items");
    let (_, plugins) = get(&worker.url("/connector-plugins?connectorsOnly=false")).await;
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == AVRO && p["type"] == "converter"),
        "{plugins}"
    );

    // 1. The config a Debezium user pastes, with Confluent's AvroConverter.
    let source = merged(
        cdc_config(&Services::from_env().mysql_url, &prefix, &database),
        &merged(
            avro_converters(&registry.url),
            &json!({"connector.class": "io.debezium.connector.mysql.MySqlConnector"}),
        ),
    );
    create(&worker, &format!("{prefix}-source"), source).await;
    let lines = {
        let (bootstrap, url, topic) = (
            Services::from_env().kafka_bootstrap,
            registry.url.clone(),
            topic.clone(),
        );
        tokio::task::spawn_blocking(move || {
            independent::run(
                "connect_schemas.py",
                &["decode", "avro", &bootstrap, &url, &topic, "3"],
            )
        })
        .await
        .unwrap()
    };

    // 2. Subjects by TopicNameStrategy, Debezium's record names.
    let subjects = registry.get("/subjects").await;
    for side in ["key", "value"] {
        let subject = format!("{topic}-{side}");
        assert!(
            subjects.as_array().unwrap().contains(&json!(subject)),
            "{subjects}"
        );
    }
    let value_schema: Value = serde_json::from_str(
        registry
            .get(&format!("/subjects/{topic}-value/versions/latest"))
            .await["schema"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(value_schema["name"], "Envelope", "{value_schema}");
    assert_eq!(
        value_schema["namespace"],
        format!("{prefix}.{database}.items")
    );
    assert_eq!(value_schema["connect.name"], format!("{topic}.Envelope"));
    let text = value_schema.to_string();
    assert!(text.contains(r#""name":"Value""#), "{text}");
    assert_eq!(
        value_schema["fields"][2]["type"]["connect.name"], "io.debezium.connector.mysql.Source",
        "{text}"
    );
    // Semantic types and int16 survive as properties of the primitive types.
    assert!(
        text.contains(r#""connect.name":"io.debezium.time.Timestamp""#),
        "{text}"
    );
    assert!(text.contains(r#""connect.type":"int16""#), "{text}");
    let key_schema: Value = serde_json::from_str(
        registry
            .get(&format!("/subjects/{topic}-key/versions/latest"))
            .await["schema"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(key_schema["name"], "Key", "{key_schema}");

    // 3. Confluent's Python deserializer reads the snapshot events.
    assert_eq!(
        independent::check(&lines, "decoded")["count"],
        3,
        "{lines:?}"
    );
    let records: Vec<&Value> = lines.iter().filter(|l| l["check"] == "record").collect();
    let first = records
        .iter()
        .find(|r| r["key"]["id"] == 1)
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(first["value"]["op"], "r");
    assert_eq!(first["value"]["after"]["name"], "book");
    assert_eq!(first["value"]["after"]["qty"], 2);
    // DATETIME(3) as io.debezium.time.Timestamp: epoch milliseconds.
    assert_eq!(first["value"]["after"]["created"], 1_704_164_645_678_i64);
    assert_eq!(first["value"]["before"], Value::Null);
    assert_eq!(first["value"]["source"]["db"], database.as_str());

    // 4. The ES sink reads them with AvroConverter into OpenSearch.
    let (index, docs) = change_events_reach_opensearch(
        &worker,
        &prefix,
        &search,
        &topic,
        &avro_converters(&registry.url),
    )
    .await;
    assert_eq!(
        by_id(&docs, 2),
        &json!({"id": 2, "name": "pen", "qty": null, "created": null})
    );
    let mapping = index_mapping(&search, &index).await;
    let properties = &mapping[&index]["mappings"]["properties"];
    assert_eq!(properties["id"]["type"], "integer", "{mapping}");
    assert_eq!(properties["qty"]["type"], "short", "{mapping}");
    assert_eq!(properties["name"]["type"], "text", "{mapping}");
    assert_eq!(properties["created"]["type"], "long", "{mapping}");

    // 5. Changes in the binlog follow: an update and a delete.
    binlog_changes_reach_opensearch(&database, &search, &index).await;
    worker.stop().await;
}

#[tokio::test]
async fn records_of_confluents_python_serializer_reach_opensearch() {
    let search = search_url().await;
    let clients = clients().await;
    let registry = Registry::start().await;
    let topic = unique_name("avro_py_orders");
    create_topic(&clients, &topic, 1).await;
    let lines = {
        let (bootstrap, url, topic) = (
            Services::from_env().kafka_bootstrap,
            registry.url.clone(),
            topic.clone(),
        );
        tokio::task::spawn_blocking(move || {
            independent::run(
                "connect_schemas.py",
                &["produce", "avro", &bootstrap, &url, &topic],
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(independent::check(&lines, "produced")["count"], 3);
    let worker = start_worker().await;
    create(
        &worker,
        &unique_name("avro-py-sink"),
        merged(
            sink_config(&search, &topic, &json!({})),
            &avro_converters(&registry.url),
        ),
    )
    .await;
    let docs = index_documents(&search, &topic.to_lowercase(), 3).await;
    assert_eq!(
        by_id(&docs, 2),
        &json!({"id": 2, "item": "pen", "qty": 10, "note": "blue", "tags": []})
    );
    assert_eq!(
        by_id(&docs, 3),
        &json!({"id": 3, "item": "lamp", "qty": 1, "note": null, "tags": ["light", "desk"]})
    );
    // The document ids are the Avro "long" keys.
    let ids: Vec<String> = documents(&search, &topic.to_lowercase())
        .await
        .into_keys()
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
    worker.stop().await;
}

/// Committed offsets of `group` on partition 0 of `topic` (`None` when nothing is committed).
async fn committed(group: &str, topic: &str) -> Option<i64> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", Services::from_env().kafka_bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    list.add_partition(topic, 0);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .unwrap();
        match committed.find_partition(&topic, 0).map(|p| p.offset()) {
            Some(Offset::Offset(offset)) => Some(offset),
            _ => None,
        }
    })
    .await
    .unwrap()
}

async fn task_state(worker: &TestWorker, name: &str) -> Value {
    get(&worker.url(&format!("/connectors/{name}/status")))
        .await
        .1["tasks"][0]
        .clone()
}

#[tokio::test]
async fn a_registry_outage_stalls_sink_and_source_tasks_without_loss() {
    let search = search_url().await;
    let clients = clients().await;
    let mut registry = Registry::start().await;
    let topic = unique_name("avro_outage");
    create_topic(&clients, &topic, 1).await;
    let (bootstrap, url) = (Services::from_env().kafka_bootstrap, registry.url.clone());
    let produced_topic = topic.clone();
    let lines = tokio::task::spawn_blocking(move || {
        independent::run(
            "connect_schemas.py",
            &["produce", "avro", &bootstrap, &url, &produced_topic],
        )
    })
    .await
    .unwrap();
    assert_eq!(independent::check(&lines, "produced")["count"], 3);
    let database = items_database().await;

    // The registry goes down before either task has looked a schema up.
    registry.kill();
    let worker = start_worker().await;
    let sink_name = unique_name("avro-outage-sink");
    create(
        &worker,
        &sink_name,
        merged(
            sink_config(&search, &topic, &json!({})),
            &avro_converters(&registry.url),
        ),
    )
    .await;
    let prefix = unique_name("avroout");
    let source_name = format!("{prefix}-source");
    let source = merged(
        cdc_config(&Services::from_env().mysql_url, &prefix, &database),
        &avro_converters(&registry.url),
    );
    create(&worker, &source_name, source).await;
    wait_for_state(&worker, &sink_name, "RUNNING", 1).await;
    wait_for_state(&worker, &source_name, "RUNNING", 1).await;
    // Long enough for several retries (backoff from 300 ms) and a flush interval.
    tokio::time::sleep(Duration::from_secs(12)).await;
    for name in [&sink_name, &source_name] {
        let task = task_state(&worker, name).await;
        assert_eq!(task["state"], "RUNNING", "{name}: {task}");
    }
    let index = topic.to_lowercase();
    assert!(documents(&search, &index).await.is_empty());
    assert_eq!(
        committed(&format!("connect-{sink_name}"), &topic).await,
        None
    );
    let source_topic = format!("{prefix}.{database}.items");
    let (low, high) = watermarks(&source_topic).await;
    assert_eq!(
        high - low,
        0,
        "records produced while the registry was down"
    );

    // Back: both resume; every record arrives.
    registry.start_again().await;
    let docs = index_documents(&search, &index, 3).await;
    assert_eq!(by_id(&docs, 1)["item"], "book");
    eventually(
        "the sink's offsets committed",
        Duration::from_secs(60),
        || async {
            (committed(&format!("connect-{sink_name}"), &topic).await == Some(3)).then_some(())
        },
    )
    .await;
    eventually(
        "the snapshot of 3 rows in Kafka",
        Duration::from_secs(60),
        || async {
            let (low, high) = watermarks(&source_topic).await;
            (high - low >= 3).then_some(())
        },
    )
    .await;
    for name in [&sink_name, &source_name] {
        let task = task_state(&worker, name).await;
        assert_eq!(task["state"], "RUNNING", "{name}: {task}");
    }
    worker.stop().await;
}

/// Low and high watermarks of partition 0 (0, 0 when the topic does not exist yet).
async fn watermarks(topic: &str) -> (i64, i64) {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", Services::from_env().kafka_bootstrap)
        .set("group.id", unique_name("watermarks"))
        .set("allow.auto.create.topics", "false")
        .create()
        .unwrap();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        consumer
            .fetch_watermarks(&topic, 0, Duration::from_secs(5))
            .unwrap_or((0, 0))
    })
    .await
    .unwrap()
}

/// `[connect.converters]`: a worker whose default converters are Confluent's AvroConverter
/// (a Kafka Connect worker with `key.converter` / `value.converter` in its properties) runs
/// a connector whose config names no converter with them: Confluent's Python deserializer
/// reads its change events, and the subjects are the connector's.
#[tokio::test]
async fn worker_level_avro_converters_apply_to_connectors_without_their_own() {
    let registry = Registry::start().await;
    let database = items_database().await;
    let mut config = ClusterNames::unique().config();
    config.converter_defaults = [
        ("key.converter", AVRO),
        ("key.converter.schema.registry.url", registry.url.as_str()),
        ("value.converter", AVRO),
        ("value.converter.schema.registry.url", registry.url.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let worker = start_worker_with(config).await;
    let prefix = unique_name("avroworker");
    let topic = format!("{prefix}.{database}.items");
    let mut source = cdc_config(&Services::from_env().mysql_url, &prefix, &database);
    for key in [
        "key.converter",
        "key.converter.schemas.enable",
        "value.converter",
        "value.converter.schemas.enable",
    ] {
        source.as_object_mut().unwrap().remove(key);
    }
    create(&worker, &format!("{prefix}-source"), source).await;
    let lines = {
        let (bootstrap, url, topic) = (
            Services::from_env().kafka_bootstrap,
            registry.url.clone(),
            topic.clone(),
        );
        tokio::task::spawn_blocking(move || {
            independent::run(
                "connect_schemas.py",
                &["decode", "avro", &bootstrap, &url, &topic, "3"],
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(
        independent::check(&lines, "decoded")["count"],
        3,
        "{lines:?}"
    );
    let subjects = registry.get("/subjects").await;
    for side in ["key", "value"] {
        assert!(
            subjects
                .as_array()
                .unwrap()
                .contains(&json!(format!("{topic}-{side}"))),
            "{subjects}"
        );
    }
    worker.stop().await;
}
