//! The web console in a real Chromium against a real gateway and the real cluster: each
//! page loads without a browser error, shows what Kafka and Connect hold, and its buttons
//! act on them; a read-only principal is refused producing.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use broker_core::metadata::ClusterInspector;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use tests::{Services, create_topic, http_client, kafka_clients, unique_name};

use crate::console_support::{Browser, ConsoleGateway};

/// Every test record is this old, so lag in seconds has a floor the test can assert.
const RECORD_AGE_MS: i64 = 120_000;

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Five records: k0..k2 on partition 0, k3 on 1, k4 on 2, values `{"n": i}`.
async fn produce_five(clients: &broker_core::KafkaClients, topic: &str) {
    let producer = clients.producer().unwrap();
    let timestamp = now_ms() - RECORD_AGE_MS;
    for (index, partition) in [0, 0, 0, 1, 2].into_iter().enumerate() {
        let key = format!("k{index}");
        let value = json!({"n": index}).to_string();
        producer
            .send(
                FutureRecord::to(topic)
                    .partition(partition)
                    .key(&key)
                    .payload(&value)
                    .timestamp(timestamp),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }
}

/// Commits `offsets` (partition → next offset) for `group` without joining it.
fn commit(clients: &broker_core::KafkaClients, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let consumer: BaseConsumer = clients.consumer_config(group).create().unwrap();
    let mut list = TopicPartitionList::new();
    for (partition, offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .unwrap();
    }
    consumer.commit(&list, CommitMode::Sync).unwrap();
}

/// Every key in `topic`, read from the start of each partition.
fn keys_in(clients: &broker_core::KafkaClients, topic: &str, partitions: i32) -> Vec<String> {
    let consumer: BaseConsumer = clients
        .consumer_config(&unique_name("console_check"))
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    let mut remaining = 0;
    for partition in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(10))
            .unwrap();
        remaining += high - low;
        list.add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let mut keys = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while remaining > 0 && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            keys.push(String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned());
            remaining -= 1;
        }
    }
    keys
}

async fn connector_state(connect: &str, name: &str) -> Option<String> {
    let status: Value = http_client()
        .get(format!("{connect}/connectors/{name}/status"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    status["connector"]["state"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn console_pages_show_the_cluster_and_their_buttons_act() {
    let services = Services::from_env();
    let clients = kafka_clients(&services.kafka_bootstrap).await;
    let name = unique_name("console");
    let topic = format!("{name}-orders");
    let group = format!("{name}-billing");
    create_topic(&clients, &topic, 3).await;
    produce_five(&clients, &topic).await;
    // Lag: 2 on partition 0 (k1, k2 unread), 1 on partition 1, 0 on partition 2.
    commit(&clients, &group, &topic, &[(0, 1), (1, 0), (2, 1)]);

    let gateway = ConsoleGateway::start(&services, &name, "").await;
    let browser = Browser::start().await;
    let console = &gateway.console;

    // Overview: the cluster id and brokers Kafka reports, this process's services.
    let inspector = ClusterInspector::new(&clients, Duration::from_secs(10)).unwrap();
    let cluster_id = inspector.cluster_id().await.unwrap();
    let metadata = inspector.metadata(None).await.unwrap();
    browser.goto(&format!("{console}/#/overview")).await;
    browser
        .wait_for("cluster id", "#cluster-id", |t| t == [cluster_id.clone()])
        .await;
    let brokers = browser.texts("#brokers tbody tr").await;
    assert_eq!(brokers.len(), metadata.brokers.len(), "{brokers:?}");
    for broker in &metadata.brokers {
        let advertised = format!("{}:{}", broker.host, broker.port);
        assert!(
            brokers.iter().any(|row| row.contains(&advertised)),
            "{brokers:?} lacks {advertised}"
        );
    }
    let services_shown = browser
        .wait_for("services", "#services tbody tr", |rows| {
            ["bridge", "connect", "console"].iter().all(|s| {
                rows.iter()
                    .any(|r| r.starts_with(s) && r.contains("running"))
            })
        })
        .await;
    println!("overview services: {services_shown:?}");
    browser.screenshot("overview").await;
    browser.assert_no_page_errors("overview").await;

    // Topics: 3 partitions and 5 records, as created.
    browser.goto(&format!("{console}/#/topics")).await;
    let row = format!("#topics tr[data-topic='{topic}']");
    browser
        .wait_for("partitions", &format!("{row} .partitions"), |t| t == ["3"])
        .await;
    browser
        .wait_for("records", &format!("{row} .records"), |t| t == ["5"])
        .await;
    browser.screenshot("topics").await;
    browser.assert_no_page_errors("topics").await;

    // Topic: the five records with their keys and decoded JSON values.
    browser.goto(&format!("{console}/#/topics/{topic}")).await;
    browser
        .wait_for("record count", "#records-count", |t| t == ["5 record(s)"])
        .await;
    let mut keys = browser.texts("#records td.key pre").await;
    keys.sort();
    assert_eq!(keys, ["k0", "k1", "k2", "k3", "k4"]);
    let values = browser.texts("#records td.value").await;
    for index in 0..5 {
        assert!(
            values
                .iter()
                .any(|v| v.starts_with("json") && v.contains(&format!("\"n\": {index}"))),
            "{values:?} lacks n = {index}"
        );
    }
    // From an offset: partition 0 from offset 1 is k1, k2.
    browser.type_into("#browse-partition", "0").await;
    browser.type_into("#browse-offset", "1").await;
    browser.click("#browse-go").await;
    browser
        .wait_for("browse from offset", "#records td.key pre", |t| {
            t == ["k1", "k2"]
        })
        .await;
    browser.screenshot("topic").await;
    browser.assert_no_page_errors("topic").await;

    // Consumer group: lag per partition in records and seconds, as the API says.
    browser.goto(&format!("{console}/#/groups/{group}")).await;
    let lag_css =
        |partition: i32| format!("#group-partitions tr[data-partition='{topic}-{partition}'] .lag");
    browser
        .wait_for("lag p0", &lag_css(0), |t| t == ["2"])
        .await;
    browser
        .wait_for("lag p1", &lag_css(1), |t| t == ["1"])
        .await;
    browser
        .wait_for("lag p2", &lag_css(2), |t| t == ["0"])
        .await;
    let seconds = browser
        .wait_for(
            "lag seconds p0",
            &format!("#group-partitions tr[data-partition='{topic}-0'] .lag-seconds"),
            |t| t.len() == 1 && t[0].parse::<f64>().is_ok(),
        )
        .await;
    let seconds: f64 = seconds[0].parse().unwrap();
    assert!(
        (RECORD_AGE_MS as f64 / 1000.0 - 1.0..RECORD_AGE_MS as f64 / 1000.0 + 300.0)
            .contains(&seconds),
        "lag seconds {seconds} is not the age of the record at the committed offset"
    );
    let detail: Value = http_client()
        .get(format!("{console}/api/groups/{group}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let total: i64 = detail["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["lag"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3, "{detail}");
    browser
        .wait_for("lag chart", "#group-chart .u-title", |t| {
            t == [format!("lag of {group}")]
        })
        .await;
    browser.screenshot("groups").await;
    browser.assert_no_page_errors("groups").await;
    browser.goto(&format!("{console}/#/groups")).await;
    browser
        .wait_for(
            "group list lag",
            &format!("#groups tr[data-group='{group}'] .lag"),
            |t| t == ["3"],
        )
        .await;

    // Produce from the page: the record is in Kafka.
    browser.goto(&format!("{console}/#/topics/{topic}")).await;
    browser
        .wait_for("record count", "#records-count", |t| t == ["5 record(s)"])
        .await;
    browser.type_into("#produce-partition", "1").await;
    browser.type_into("#produce-key", "from-the-page").await;
    browser
        .type_into("#produce-value", "{\"hello\": \"kafka\"}")
        .await;
    browser.click("#produce-go").await;
    let produced = browser
        .wait_for("produce result", "#produce-result", |t| {
            t.len() == 1 && t[0].starts_with("produced")
        })
        .await;
    assert_eq!(produced, ["produced to partition 1 at offset 1"]);
    let keys = keys_in(&clients, &topic, 3);
    assert!(keys.contains(&"from-the-page".to_owned()), "{keys:?}");
    assert_eq!(keys.len(), 6, "{keys:?}");
    browser.assert_no_page_errors("produce").await;

    // Connectors: pause a real connector from its row; Connect's REST says PAUSED.
    let input = gateway.dir.join("connector-input.txt");
    std::fs::write(&input, "line one\nline two\n").unwrap();
    let connector = format!("{name}-file");
    let created = http_client()
        .post(format!("{}/connectors", gateway.connect))
        .json(&json!({"name": connector, "config": {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "topic": format!("{name}-lines"), "file": input, "tasks.max": "1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status().as_u16(),
        201,
        "{}",
        created.text().await.unwrap()
    );
    browser.goto(&format!("{console}/#/connectors")).await;
    let state_css = format!("#connectors tr[data-connector='{connector}'] td.state");
    browser
        .wait_for("connector running", &state_css, |t| t == ["RUNNING"])
        .await;
    browser
        .click(&format!(
            "#connectors tr[data-connector='{connector}'] button.pause"
        ))
        .await;
    let started = Instant::now();
    while connector_state(&gateway.connect, &connector)
        .await
        .as_deref()
        != Some("PAUSED")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "connect does not report {connector} PAUSED 30 s after the click"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    browser
        .wait_for("connector paused", &state_css, |t| t == ["PAUSED"])
        .await;
    // Validate from the create panel: per key results from the plugin.
    browser.click("#connector-validate").await;
    browser
        .wait_for("validate result", "#validate-summary", |t| {
            t.len() == 1 && t[0].contains("error(s)")
        })
        .await;
    // Dry run of an Elasticsearch sink over the topic: the documents the sink would write
    // for its six records (the five produced above and the one from the page), shown per
    // record, and nothing written to OpenSearch.
    let index = topic.to_lowercase();
    let sink = json!({
        "name": format!("{name}-dry-sink"),
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "topics": topic,
        "connection.url": services.elasticsearch_url,
        "key.ignore": "true",
        "schema.ignore": "true",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    });
    browser
        .type_into("#connector-config", &sink.to_string())
        .await;
    browser.type_into("#dry-run-samples", "10").await;
    browser.click("#dry-run-go").await;
    let outputs = browser
        .wait_for("dry-run documents", "#dry-run-outputs tbody tr", |rows| {
            rows.len() == 6
        })
        .await;
    let documents: Vec<(String, Value)> = browser
        .texts("#dry-run-outputs tbody tr td:nth-child(2) pre")
        .await
        .iter()
        .map(|text| {
            let output: serde_json::Value = serde_json::from_str(text).unwrap();
            let document = &output[0];
            assert_eq!(document["action"], "index", "{text}");
            assert_eq!(document["index"], index.as_str(), "{text}");
            (
                document["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no id: {text}"))
                    .to_owned(),
                document["document"].clone(),
            )
        })
        .collect();
    let mut numbers: Vec<i64> = documents
        .iter()
        .filter_map(|(_, document)| document["n"].as_i64())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [0, 1, 2, 3, 4], "{outputs:?}");
    assert!(
        documents
            .iter()
            .any(|(_, document)| *document == json!({"hello": "kafka"})),
        "{outputs:?}"
    );
    // Ids as the sink writes them with key.ignore: topic+partition+offset, one per record.
    let ids: std::collections::BTreeSet<&str> =
        documents.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 6, "{outputs:?}");
    assert!(ids.contains(format!("{topic}+1+1").as_str()), "{ids:?}");
    let index_status = http_client()
        .get(format!("{}/{index}", services.elasticsearch_url))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(index_status, 404, "a dry run writes nothing to OpenSearch");
    browser.screenshot("connectors").await;
    browser.assert_no_page_errors("connectors").await;

    // Schemas: two versions registered in the gateway's registry, listed and compared.
    let subject = format!("{name}-value");
    for fields in [
        json!([{"name": "id", "type": "long"}]),
        json!([{"name": "id", "type": "long"}, {"name": "note", "type": ["null", "string"], "default": null}]),
    ] {
        let schema = json!({"type": "record", "name": "Order", "fields": fields}).to_string();
        let registered = http_client()
            .post(format!("{}/subjects/{subject}/versions", gateway.registry))
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .json(&json!({"schema": schema}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            registered.status().as_u16(),
            200,
            "{}",
            registered.text().await.unwrap()
        );
    }
    browser.goto(&format!("{console}/#/schemas")).await;
    browser
        .wait_for("subjects", "#subjects-table tbody tr", |rows| {
            rows.iter().any(|r| *r == format!("{subject}1, 2"))
        })
        .await;
    browser.type_into("#diff-subject", &subject).await;
    browser.type_into("#diff-left", "1").await;
    browser.type_into("#diff-right", "2").await;
    browser.click("#schema-diff button").await;
    let added = browser
        .wait_for("diff", "#diff-lines .diff-add", |lines| !lines.is_empty())
        .await;
    assert!(
        added.iter().any(|line| line.contains("\"note\"")),
        "{added:?}"
    );
    browser.screenshot("schemas").await;
    browser.assert_no_page_errors("schemas").await;

    // Mirror: no mirror in this process, and the page says so.
    browser.goto(&format!("{console}/#/mirror")).await;
    browser
        .wait_for("mirror", "#mirror-detail", |t| {
            t.len() == 1 && t[0].starts_with("no mirror runs in this gateway")
        })
        .await;
    browser.assert_no_page_errors("mirror").await;

    browser.close().await;
}

#[tokio::test]
async fn console_read_only_principal_cannot_produce() {
    let services = Services::from_env();
    let clients = kafka_clients(&services.kafka_bootstrap).await;
    let name = unique_name("console_ro");
    let topic = format!("{name}-orders");
    create_topic(&clients, &topic, 3).await;
    produce_five(&clients, &topic).await;

    let dir = std::env::temp_dir().join(unique_name("console-users"));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users");
    let line = |user: &str| {
        let hash = edge::security::users::hash_password(format!("{user}-pw").as_bytes()).unwrap();
        format!("{user}:{hash}\n")
    };
    std::fs::write(&users, format!("{}{}", line("viewer"), line("operator"))).unwrap();
    let auth = format!(
        "[console.http.auth]\nusers_file = {:?}\n\
         [[console.http.auth.acl]]\nprincipal = \"viewer\"\nrole = \"read_only\"\n\
         [[console.http.auth.acl]]\nprincipal = \"operator\"\nrole = \"admin\"\n",
        users.display().to_string()
    );
    let gateway = ConsoleGateway::start(&services, &name, &auth).await;
    let console = &gateway.console;
    let http = http_client();

    // The API needs credentials, answers in the console's error shape and never asks the
    // browser for its own login dialog.
    let refused = http
        .get(format!("{console}/api/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert!(refused.headers().get("www-authenticate").is_none());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error_code"], 401, "{body}");

    let browser = Browser::start().await;
    browser.goto(&format!("{console}/#/topics/{topic}")).await;
    browser
        .wait_for("login form", "#login:not([hidden]) h2", |t| {
            t == ["Sign in"]
        })
        .await;
    browser.type_into("#login-user", "viewer").await;
    browser.type_into("#login-password", "viewer-pw").await;
    browser.click("#login-go").await;
    browser
        .wait_for("signed in", "#whoami", |t| t == ["viewer (read_only)"])
        .await;
    browser
        .wait_for("record count", "#records-count", |t| t == ["5 record(s)"])
        .await;
    browser.type_into("#produce-key", "should-not-land").await;
    browser.type_into("#produce-value", "nope").await;
    browser.click("#produce-go").await;
    let refusal = browser
        .wait_for("refusal", "#produce-result", |t| {
            t.len() == 1 && t[0].starts_with("refused")
        })
        .await;
    assert!(
        refusal[0].contains("403") && refusal[0].contains("admin role"),
        "{refusal:?}"
    );
    browser.screenshot("read-only-refused").await;
    browser.assert_no_page_errors("read-only topic").await;
    browser.close().await;

    let keys = keys_in(&clients, &topic, 3);
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(!keys.contains(&"should-not-land".to_owned()));

    // The admin may.
    let produced = http
        .post(format!("{console}/api/topics/{topic}/records"))
        .basic_auth("operator", Some("operator-pw"))
        .json(&json!({"key": "by-admin", "value": "ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(produced.status().as_u16(), 200);
    assert!(keys_in(&clients, &topic, 3).contains(&"by-admin".to_owned()));
}
