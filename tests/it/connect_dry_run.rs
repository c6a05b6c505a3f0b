//! The dry-run API (issue #16): a connector config applied to real sample input, with
//! nothing written anywhere.
//! - ES sink with an SMT over a real topic of known records: the documents it would index;
//!   the index stays absent in OpenSearch and no consumer group commits on the topic (also
//!   through `POST /connectors/{name}/dry-run` of a STOPPED connector with overrides);
//! - MySQL CDC source over a real table: Debezium-shaped `r` records; the record topic and
//!   the schema history topic stay absent in Kafka;
//! - a bad config: the validation errors and no outputs; an unknown plugin is a 404.

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{Services, create_topic, http_client, unique_name};

use crate::connect_support::{ClusterNames, call, clients};
use crate::es_sink_support::{keyed, produce, search_url, sink_config, start_worker};
use crate::mysql_common::{cdc_config, exec, shared};

const ES_PLUGIN: &str = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector";

fn consumer() -> BaseConsumer {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", Services::from_env().kafka_bootstrap)
        .create()
        .unwrap()
}

fn group_names() -> BTreeSet<String> {
    consumer()
        .fetch_group_list(None, Duration::from_secs(10))
        .unwrap()
        .groups()
        .iter()
        .map(|g| g.name().to_owned())
        .collect()
}

/// Whether `group` has a committed offset on partition 0 of `topic`.
fn committed_on(group: &str, topic: &str) -> bool {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", Services::from_env().kafka_bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition(topic, 0);
    consumer
        .committed_offsets(list, Duration::from_secs(10))
        .map(|c| {
            c.elements()
                .iter()
                .any(|e| matches!(e.offset(), rdkafka::Offset::Offset(_)))
        })
        .unwrap_or(false)
}

fn topic_exists(topic: &str) -> bool {
    // All topics: asking for one by name could create it where auto-creation is on.
    consumer()
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap()
        .topics()
        .iter()
        .any(|t| t.name() == topic)
}

async fn index_status(search: &str, index: &str) -> u16 {
    http_client()
        .get(format!("{search}/{index}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_es_sink_dry_run_shows_the_documents_and_writes_nothing() {
    let clients = clients().await;
    let search = search_url().await;
    let topic = unique_name("dry_run_es");
    create_topic(&clients, &topic, 1).await;
    let records: Vec<(String, Value)> = (0..5)
        .map(|i| {
            (
                format!("k{i}"),
                json!({"i": i, "name": format!("item-{i}")}),
            )
        })
        .collect();
    let pairs: Vec<(&str, Value)> = records
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    produce(&clients, &topic, &keyed(&pairs)).await;
    let groups_before = group_names();
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let mut config = sink_config(&search, &topic, &json!({}));
    config["transforms"] = json!("rename");
    config["transforms.rename.type"] =
        json!("org.apache.kafka.connect.transforms.ReplaceField$Value");
    config["transforms.rename.renames"] = json!("name:title");

    let (status, answer) = call(
        Method::PUT,
        &worker.url(&format!(
            "/connector-plugins/{ES_PLUGIN}/config/dry-run?samples=3"
        )),
        Some(config.clone()),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["validation"]["error_count"], 0, "{answer}");
    let outputs = answer["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 3, "{answer}");
    for (i, output) in outputs.iter().enumerate() {
        assert_eq!(output["error"], Value::Null, "{output}");
        assert_eq!(output["input"]["key"], format!("k{i}"), "{output}");
        assert_eq!(output["input"]["offset"], i, "{output}");
        assert_eq!(
            output["output"],
            json!([{"action": "index", "index": topic.to_lowercase(), "id": format!("k{i}"),
                "document": {"i": i, "title": format!("item-{i}")}}]),
            "{output}"
        );
    }

    // The same through a STOPPED connector, with an override of its config.
    let name = unique_name("dry-run-es");
    let (status, answer) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": name, "config": config, "initial_state": "STOPPED"})),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = call(
        Method::POST,
        &worker.url(&format!("/connectors/{name}/dry-run?samples=2&offset=3")),
        Some(json!({"transforms": ""})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let outputs = answer["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2, "{answer}");
    assert_eq!(
        outputs[0]["output"][0]["document"],
        json!({"i": 3, "name": "item-3"}),
        "{answer}"
    );

    // Nothing written: no index, no commit by any group on the topic.
    assert_eq!(index_status(&search, &topic.to_lowercase()).await, 404);
    let connector_group = connect::worker::sink::group_of(&name);
    assert!(!committed_on(&connector_group, &topic));
    for group in group_names().difference(&groups_before) {
        assert!(
            !committed_on(group, &topic),
            "group {group} committed on {topic}"
        );
    }
    worker.stop().await;
}

#[tokio::test]
async fn a_mysql_source_dry_run_shows_debezium_records_and_produces_nothing() {
    let mut conn = shared().await;
    let database = unique_name("dry_run");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut conn,
        &format!("CREATE TABLE `{database}`.items (id INT PRIMARY KEY, name VARCHAR(64))"),
    )
    .await;
    exec(
        &mut conn,
        &format!("INSERT INTO `{database}`.items VALUES (1, 'one'), (2, 'two'), (3, 'three')"),
    )
    .await;
    let names = ClusterNames::unique();
    let worker = crate::mysql_common::start_worker(&names).await;
    let prefix = unique_name("dry_run");
    let config = cdc_config(&Services::from_env().mysql_url, &prefix, &database);
    let (status, answer) = call(
        Method::PUT,
        &worker.url("/connector-plugins/MariaDbConnector/config/dry-run?samples=2"),
        Some(config),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["validation"]["error_count"], 0, "{answer}");
    let outputs = answer["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2, "{answer}");
    let topic = format!("{prefix}.{database}.items");
    for (output, (id, name)) in outputs.iter().zip([(1, "one"), (2, "two")]) {
        assert_eq!(output["error"], Value::Null, "{output}");
        assert_eq!(output["input"], json!({"id": id, "name": name}), "{output}");
        let record = &output["output"][0];
        assert_eq!(record["topic"], topic.as_str(), "{output}");
        assert_eq!(record["key"], json!({"id": id}), "{output}");
        assert_eq!(record["value"]["op"], "r", "{output}");
        assert_eq!(record["value"]["before"], Value::Null, "{output}");
        assert_eq!(
            record["value"]["after"],
            json!({"id": id, "name": name}),
            "{output}"
        );
        assert_eq!(
            record["value"]["source"]["db"],
            database.as_str(),
            "{output}"
        );
        assert_eq!(record["value"]["source"]["table"], "items", "{output}");
    }
    assert!(!topic_exists(&topic), "{topic} was created");
    assert!(
        !topic_exists(&format!("{prefix}.history")),
        "the schema history topic was created"
    );
    worker.stop().await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}

#[tokio::test]
async fn a_bad_config_gives_validation_errors_and_no_outputs() {
    let clients = clients().await;
    let search = search_url().await;
    let topic = unique_name("dry_run_bad");
    create_topic(&clients, &topic, 1).await;
    produce(&clients, &topic, &keyed(&[("k", json!({"a": 1}))])).await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let config = sink_config(&search, &topic, &json!({"batch.size": "many"}));
    let (status, answer) = call(
        Method::PUT,
        &worker.url(&format!("/connector-plugins/{ES_PLUGIN}/config/dry-run")),
        Some(config.clone()),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["validation"]["error_count"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{answer}"
    );
    assert_eq!(answer["outputs"], json!([]), "{answer}");

    let (status, answer) = call(
        Method::PUT,
        &worker.url("/connector-plugins/NoSuchConnector/config/dry-run"),
        Some(config.clone()),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error_code"], 404, "{answer}");
    let (status, answer) = call(
        Method::PUT,
        &worker.url(&format!(
            "/connector-plugins/{ES_PLUGIN}/config/dry-run?samples=0"
        )),
        Some(config),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error_code"], 400, "{answer}");
    worker.stop().await;
}
