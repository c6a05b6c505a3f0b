//! The Elasticsearch sink's config options against the real Kafka and OpenSearch.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tests::{create_topic, http_client, unique_name};

use crate::connect_support::{ClusterNames, call, clients};
use crate::es_sink_support::{
    create_connector, delete_index, documents, index_mapping, keyed, payload, produce, search_url,
    sink_config, start_worker, wait_for_count, wait_for_es_counter, wait_for_task,
};

#[tokio::test]
async fn ids_index_names_tombstones_and_upserts() {
    let clients = clients().await;
    let search = search_url().await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    // Upper-case letters in the topic: the index is the topic lower-cased.
    let keyed_topic = unique_name("EsSink_Keyed");
    let offsets_topic = unique_name("es_sink_offsets");
    let ignore_topic = unique_name("es_sink_ignore_null");
    let fail_topic = unique_name("es_sink_fail_null");
    let struct_topic = unique_name("es_sink_struct_key");
    let upsert_topic = unique_name("es_sink_upsert");
    for topic in [
        &keyed_topic,
        &offsets_topic,
        &ignore_topic,
        &fail_topic,
        &struct_topic,
        &upsert_topic,
    ] {
        create_topic(&clients, topic, 1).await;
    }
    produce(
        &clients,
        &keyed_topic,
        &keyed(&[
            ("k1", json!({"a": 1})),
            ("k2", json!({"a": 2})),
            ("7", json!({"a": 7})),
            ("k1", json!({"a": 3})),
            ("k2", Value::Null),
        ]),
    )
    .await;
    produce(
        &clients,
        &offsets_topic,
        &keyed(&[
            ("same", json!({"n": 0})),
            ("same", json!({"n": 1})),
            ("same", json!({"n": 2})),
        ]),
    )
    .await;
    produce(
        &clients,
        &ignore_topic,
        &keyed(&[("k1", json!({"a": 1})), ("k1", Value::Null)]),
    )
    .await;
    produce(&clients, &fail_topic, &keyed(&[("k1", Value::Null)])).await;
    produce(
        &clients,
        &struct_topic,
        &[(
            Some(r#"{"id":5}"#.to_owned()),
            Some(r#"{"v":"five"}"#.to_owned()),
        )],
    )
    .await;
    produce(
        &clients,
        &upsert_topic,
        &keyed(&[("u", json!({"a": 1})), ("u", json!({"b": 2}))]),
    )
    .await;

    let name = |suffix: &str| format!("es-{suffix}-{}", unique_name("c"));
    let (keyed_name, offsets_name, ignore_name, fail_name, struct_name, upsert_name) = (
        name("keyed"),
        name("offsets"),
        name("ignore"),
        name("fail"),
        name("struct"),
        name("upsert"),
    );
    create_connector(
        &worker,
        &keyed_name,
        sink_config(
            &search,
            &keyed_topic,
            &json!({"behavior.on.null.values": "delete"}),
        ),
    )
    .await;
    create_connector(
        &worker,
        &offsets_name,
        sink_config(&search, &offsets_topic, &json!({"key.ignore": "true"})),
    )
    .await;
    create_connector(
        &worker,
        &ignore_name,
        sink_config(
            &search,
            &ignore_topic,
            &json!({"behavior.on.null.values": "ignore"}),
        ),
    )
    .await;
    create_connector(
        &worker,
        &fail_name,
        sink_config(&search, &fail_topic, &json!({})),
    )
    .await;
    create_connector(&worker, &struct_name, sink_config(&search, &struct_topic, &json!({
        "key.converter": "org.apache.kafka.connect.json.JsonConverter", "key.converter.schemas.enable": "false"}))).await;
    create_connector(
        &worker,
        &upsert_name,
        sink_config(&search, &upsert_topic, &json!({"write.method": "upsert"})),
    )
    .await;

    let keyed_index = keyed_topic.to_lowercase();
    wait_for_count(&search, &keyed_index, 2, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let docs = documents(&search, &keyed_index).await;
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert_eq!(docs["k1"], json!({"a": 3}));
    assert_eq!(docs["7"], json!({"a": 7}));

    wait_for_count(&search, &offsets_topic, 3, Duration::from_secs(60)).await;
    let docs = documents(&search, &offsets_topic).await;
    let ids: Vec<&String> = docs.keys().collect();
    assert_eq!(
        ids,
        vec![
            &format!("{offsets_topic}+0+0"),
            &format!("{offsets_topic}+0+1"),
            &format!("{offsets_topic}+0+2")
        ]
    );

    wait_for_count(&search, &ignore_topic, 1, Duration::from_secs(60)).await;
    wait_for_count(&search, &struct_topic, 1, Duration::from_secs(60)).await;
    assert_eq!(
        documents(&search, &struct_topic).await[r#"{"id":5}"#],
        json!({"v": "five"})
    );

    wait_for(&search, &upsert_topic, |docs| {
        docs.get("u") == Some(&json!({"a": 1, "b": 2}))
    })
    .await;

    let status = wait_for_task(&worker, &fail_name, "FAILED").await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("behavior.on.null.values"), "{trace}");
    // The ignored tombstone left the document; the connector still runs.
    assert_eq!(
        wait_for_task(&worker, &ignore_name, "RUNNING").await["tasks"][0]["state"],
        "RUNNING"
    );
    worker.stop().await;
    for index in [
        &keyed_index,
        &offsets_topic,
        &ignore_topic,
        &fail_topic,
        &struct_topic,
        &upsert_topic,
    ] {
        delete_index(&search, index).await;
    }
}

async fn wait_for(
    search: &str,
    index: &str,
    done: impl Fn(&std::collections::BTreeMap<String, Value>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let docs = documents(search, index).await;
        if done(&docs) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{index}: {docs:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn malformed_documents_follow_the_configured_behavior() {
    let clients = clients().await;
    let search = search_url().await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let http = http_client();
    let mut cases = Vec::new();
    for behavior in ["ignore", "warn", "fail"] {
        let topic = unique_name(&format!("es_sink_malformed_{behavior}"));
        create_topic(&clients, &topic, 1).await;
        // A mapping conflict: `n` is a long, one record sends text.
        let created = http
            .put(format!("{search}/{topic}"))
            .json(&json!({"mappings": {"properties": {"n": {"type": "long"}}}}))
            .send()
            .await
            .unwrap();
        assert!(
            created.status().is_success(),
            "{}",
            created.text().await.unwrap_or_default()
        );
        produce(
            &clients,
            &topic,
            &keyed(&[
                ("a", json!({"n": 1})),
                ("b", json!({"n": "not a number"})),
                ("c", json!({"n": 3})),
            ]),
        )
        .await;
        let name = format!("es-malformed-{behavior}-{}", unique_name("c"));
        create_connector(
            &worker,
            &name,
            sink_config(
                &search,
                &topic,
                &json!({"behavior.on.malformed.documents": behavior}),
            ),
        )
        .await;
        cases.push((behavior, topic, name));
    }
    for (behavior, topic, name) in &cases {
        if *behavior == "fail" {
            let status = wait_for_task(&worker, name, "FAILED").await;
            let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
            assert!(
                trace.contains("mapper_parsing_exception")
                    || trace.contains("document_parsing_exception"),
                "{trace}"
            );
            assert!(
                trace.contains("malformed=1"),
                "the trace carries the counters: {trace}"
            );
        } else {
            wait_for_count(&search, topic, 2, Duration::from_secs(60)).await;
            let docs = documents(&search, topic).await;
            assert!(
                docs.contains_key("a") && docs.contains_key("c") && !docs.contains_key("b"),
                "{behavior}: {docs:?}"
            );
            wait_for_es_counter(&worker, name, "documents_malformed", |v| v == 1.0).await;
            assert_eq!(
                wait_for_task(&worker, name, "RUNNING").await["tasks"][0]["state"],
                "RUNNING"
            );
        }
    }
    worker.stop().await;
    for (_, topic, _) in &cases {
        delete_index(&search, topic).await;
    }
}

#[tokio::test]
async fn invalid_messages_are_dropped_or_fail_the_task() {
    let clients = clients().await;
    let search = search_url().await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let mut cases = Vec::new();
    for drop in ["true", "false"] {
        let topic = unique_name("es_sink_invalid");
        create_topic(&clients, &topic, 1).await;
        // No key (cannot be an id) and a value that is not an object.
        produce(
            &clients,
            &topic,
            &[
                (None, Some(r#"{"a":1}"#.to_owned())),
                (Some("k".to_owned()), Some("[1,2]".to_owned())),
                (Some("ok".to_owned()), Some(r#"{"a":2}"#.to_owned())),
            ],
        )
        .await;
        let name = format!("es-invalid-{drop}-{}", unique_name("c"));
        create_connector(
            &worker,
            &name,
            sink_config(&search, &topic, &json!({"drop.invalid.message": drop})),
        )
        .await;
        cases.push((drop, topic, name));
    }
    for (drop, topic, name) in &cases {
        if *drop == "true" {
            wait_for_count(&search, topic, 1, Duration::from_secs(60)).await;
            assert!(documents(&search, topic).await.contains_key("ok"));
            wait_for_es_counter(&worker, name, "records_dropped_invalid", |v| v == 2.0).await;
        } else {
            let status = wait_for_task(&worker, name, "FAILED").await;
            assert!(
                status["tasks"][0]["trace"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("cannot be written"),
                "{status}"
            );
        }
    }
    worker.stop().await;
    for (_, topic, _) in &cases {
        delete_index(&search, topic).await;
    }
}

#[tokio::test]
async fn schema_mapping_routing_batching_failover_and_data_streams() {
    let clients = clients().await;
    let search = search_url().await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;

    // schema.ignore=false: the index is created with a mapping from the Connect schema; a
    // RegexRouter renames the index.
    let schema_topic = unique_name("es_sink_schema");
    create_topic(&clients, &schema_topic, 1).await;
    let envelope = json!({"schema": {"type": "struct", "optional": false, "fields": [
        {"field": "id", "type": "int32", "optional": false},
        {"field": "name", "type": "string", "optional": true},
        {"field": "at", "type": "int64", "optional": true, "name": "org.apache.kafka.connect.data.Timestamp"}]},
        "payload": {"id": 1, "name": "one", "at": 1_700_000_000_000_i64}});
    produce(
        &clients,
        &schema_topic,
        &[(Some("1".to_owned()), Some(envelope.to_string()))],
    )
    .await;
    let routed = format!("routed-{schema_topic}");
    create_connector(&worker, &unique_name("es-schema"), sink_config(&search, &schema_topic, &json!({
        "value.converter.schemas.enable": "true",
        "transforms": "route", "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "(.*)", "transforms.route.replacement": "routed-$1"}))).await;
    wait_for_count(&search, &routed, 1, Duration::from_secs(60)).await;
    let mapping = index_mapping(&search, &routed).await;
    let properties = &mapping[&routed]["mappings"]["properties"];
    assert_eq!(properties["id"]["type"], "integer", "{mapping}");
    assert_eq!(properties["at"]["type"], "date", "{mapping}");
    assert_eq!(properties["name"]["type"], "text", "{mapping}");

    // Small batches, byte limit, several requests in flight, a tiny buffer, and a first
    // URL that refuses connections (failover to the second).
    let batch_topic = unique_name("es_sink_batching");
    create_topic(&clients, &batch_topic, 1).await;
    let records: Vec<_> = (0..600_u64)
        .map(|i| (Some(format!("k{i}")), Some(payload(i, 1024))))
        .collect();
    produce(&clients, &batch_topic, &records).await;
    create_connector(&worker, &unique_name("es-batching"), sink_config(&format!("http://127.0.0.1:1,{search}"), &batch_topic, &json!({
        "batch.size": "7", "bulk.size.bytes": "5000", "max.in.flight.requests": "3", "max.buffered.records": "20",
        "linger.ms": "50", "flush.timeout.ms": "60000", "max.retries": "2", "retry.backoff.ms": "10",
        "connection.username": "unused", "connection.password": "unused-secret",
        "connection.timeout.ms": "500", "read.timeout.ms": "10000"}))).await;
    wait_for_count(&search, &batch_topic, 600, Duration::from_secs(90)).await;

    // Data streams: op_type create into logs-<dataset>-<topic>.
    let stream_topic = unique_name("es_sink_stream");
    create_topic(&clients, &stream_topic, 1).await;
    produce(
        &clients,
        &stream_topic,
        &keyed(&[("a", json!({"m": 1})), ("b", json!({"m": 2}))]),
    )
    .await;
    create_connector(
        &worker,
        &unique_name("es-stream"),
        sink_config(
            &search,
            &stream_topic,
            &json!({
        "data.stream.type": "LOGS", "data.stream.dataset": "gateway", "key.ignore": "true"}),
        ),
    )
    .await;
    let stream = format!("logs-gateway-{stream_topic}");
    wait_for_count(&search, &stream, 2, Duration::from_secs(60)).await;
    let docs = documents(&search, &stream).await;
    assert!(
        docs.values().all(|d| d["@timestamp"].is_number()),
        "{docs:?}"
    );

    worker.stop().await;
    let http = http_client();
    let _ = http
        .delete(format!("{search}/_data_stream/{stream}"))
        .send()
        .await;
    let _ = http
        .delete(format!("{search}/_index_template/kafka-connect-{stream}"))
        .send()
        .await;
    delete_index(&search, &routed).await;
    delete_index(&search, &batch_topic).await;
}

#[tokio::test]
async fn validate_names_every_wrong_key_and_hides_the_password() {
    let clients = clients().await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let config = json!({
        "connector.class": "ElasticsearchSinkConnector", "name": "v", "topics": "t",
        "connection.url": "http://a:9200", "connection.password": "s3cr3t",
        "batch.size": "many", "write.method": "replace", "data.stream.type": "LOGS"});
    let (status, body) = call(Method::PUT,
        &worker.url("/connector-plugins/io.confluent.connect.elasticsearch.ElasticsearchSinkConnector/config/validate"),
        Some(config)).await;
    assert_eq!(status, 200, "{body}");
    let errors = |key: &str| -> Vec<Value> {
        body["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == key)
            .map(|c| c["value"]["errors"].as_array().cloned().unwrap_or_default())
            .unwrap_or_default()
    };
    assert!(!errors("batch.size").is_empty(), "{body}");
    assert!(!errors("write.method").is_empty(), "{body}");
    assert!(
        body.to_string().contains("[hidden]") && !body.to_string().contains("s3cr3t"),
        "{body}"
    );
    worker.stop().await;
}

/// With a dead letter queue, a document Elasticsearch refuses and a record that cannot
/// become a document go to the DLQ (with Kafka's context headers, stage TASK_PUT) through
/// the runtime's errant record reporter; the rest is indexed and the offsets move past
/// them only once the DLQ has them.
#[tokio::test]
async fn refused_and_invalid_records_go_to_the_dead_letter_queue() {
    let clients = clients().await;
    let search = search_url().await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let http = http_client();
    let topic = unique_name("es_sink_dlq");
    let dlq = unique_name("es_sink_dlq_errors");
    create_topic(&clients, &topic, 1).await;
    let created = http
        .put(format!("{search}/{topic}"))
        .json(&json!({"mappings": {"properties": {"n": {"type": "long"}}}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    produce(
        &clients,
        &topic,
        &[
            (Some("a".to_owned()), Some(r#"{"n":1}"#.to_owned())),
            (
                Some("b".to_owned()),
                Some(r#"{"n":"not a number"}"#.to_owned()),
            ),
            (Some("k".to_owned()), Some("[1,2]".to_owned())),
            (Some("c".to_owned()), Some(r#"{"n":3}"#.to_owned())),
        ],
    )
    .await;
    let name = format!("es-dlq-{}", unique_name("c"));
    create_connector(
        &worker,
        &name,
        sink_config(
            &search,
            &topic,
            &json!({
                "behavior.on.malformed.documents": "warn",
                "drop.invalid.message": "true",
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": dlq,
                "errors.deadletterqueue.context.headers.enable": "true",
            }),
        ),
    )
    .await;
    wait_for_count(&search, &topic, 2, Duration::from_secs(60)).await;

    let dlq_records = tokio::task::spawn_blocking({
        let clients = clients.clone();
        let dlq = dlq.clone();
        move || read_dead_letters(&clients, &dlq, 2)
    })
    .await
    .unwrap();
    let mut keys: Vec<&str> = dlq_records.iter().map(|r| r.0.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["b", "k"], "{dlq_records:?}");
    for (key, value, headers) in &dlq_records {
        assert_eq!(
            headers.get("__connect.errors.stage").map(String::as_str),
            Some("TASK_PUT"),
            "{key}: {headers:?}"
        );
        assert_eq!(
            headers.get("__connect.errors.topic").map(String::as_str),
            Some(topic.as_str())
        );
        assert!(headers.contains_key("__connect.errors.offset"));
        if key == "b" {
            assert_eq!(value, r#"{"n":"not a number"}"#);
        }
    }
    assert_eq!(
        wait_for_task(&worker, &name, "RUNNING").await["tasks"][0]["state"],
        "RUNNING"
    );
    worker.stop().await;
    delete_index(&search, &topic).await;
}

/// (key, value, headers) of the first `count` records of `topic`.
fn read_dead_letters(
    clients: &broker_core::KafkaClients,
    topic: &str,
    count: usize,
) -> Vec<(String, String, std::collections::BTreeMap<String, String>)> {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Headers;
    let consumer: BaseConsumer = broker_core::clients::create(
        &clients.consumer_config(&unique_name("dlq_reader")),
        "dlq reader",
    )
    .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {count} records in the DLQ {topic}: {out:?}",
            out.len()
        );
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|header| {
                        (
                            header.key.to_owned(),
                            String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push((
            String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned(),
            headers,
        ));
    }
    out
}
