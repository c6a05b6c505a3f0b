//! The bridge's schema formats (avro, jsonschema, protobuf) against the real cluster A and
//! our registry, served over HTTP on a topic and group of its own: v2 produce with schema
//! texts and ids, per-record 42203 for values that do not match, consumers that decode
//! Confluent's wire format, v3 produce with subject name strategies, and a registry that
//! cannot be reached.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bridge::BridgeConfig;
use broker_core::Shutdown;
use schema_registry::SchemaRegistryConfig;
use serde_json::{Value, json};
use tests::process::free_port;
use tests::{Services, create_topic, http_client, kafka_clients, unique_name};

use crate::bridge_common::{BINARY, Bridge, V2, unb64};

pub(crate) const AVRO: &str = "application/vnd.kafka.avro.v2+json";
pub(crate) const JSONSCHEMA: &str = "application/vnd.kafka.jsonschema.v2+json";
pub(crate) const PROTOBUF: &str = "application/vnd.kafka.protobuf.v2+json";

/// Our registry on a fresh `_schemas` topic, served on a loopback port until dropped.
pub(crate) struct LiveRegistry {
    pub(crate) url: String,
    shutdown: Shutdown,
}

impl Drop for LiveRegistry {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

impl LiveRegistry {
    pub(crate) async fn start() -> Self {
        let clients = kafka_clients(&Services::from_env().kafka_bootstrap).await;
        let text = format!(
            "enabled = true\nkafkastore_topic = \"{}\"\ngroup_id = \"{}\"\n",
            unique_name("_schemas_bridge"),
            unique_name("sr_bridge")
        );
        let config: SchemaRegistryConfig = toml::from_str(&text).expect("registry config");
        let validated = config.validate("schema_registry").expect("valid config");
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", tcp.local_addr().expect("address"));
        let shutdown = Shutdown::new();
        let serving = shutdown.clone();
        broker_core::task::spawn("test-schema-registry", async move {
            let metrics = broker_core::telemetry::MetricsRegistry::new();
            if let Err(error) =
                schema_registry::serve(validated, clients, metrics, tcp, serving).await
            {
                panic!("the registry stopped: {error}");
            }
        });
        let started = Instant::now();
        loop {
            if let Ok(reply) = http_client().get(format!("{url}/subjects")).send().await
                && reply.status().is_success()
            {
                return Self { url, shutdown };
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the registry did not answer within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A bridge using this registry.
    pub(crate) async fn bridge(&self) -> Bridge {
        Bridge::with_config(BridgeConfig {
            schema_registry_url: Some(self.url.clone()),
            ..BridgeConfig::default()
        })
        .await
    }
}

/// A consumer instance of `format` subscribed to `topic` from the start.
pub(crate) async fn subscribed(bridge: &Bridge, topic: &str, format: &str) -> String {
    let group = unique_name("schemas_group");
    let reply = bridge
        .post(
            &format!("/consumers/{group}"),
            V2,
            &json!({"format": format, "auto.offset.reset": "earliest"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let name = reply.body["instance_id"].as_str().expect("id").to_owned();
    let base = format!("/consumers/{group}/instances/{name}");
    let reply = bridge
        .post(
            &format!("{base}/subscription"),
            V2,
            &json!({"topics": [topic]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    base
}

/// The raw bytes of the values in `topic`, read through a binary consumer.
async fn raw_values(bridge: &Bridge, topic: &str, count: usize) -> Vec<Vec<u8>> {
    let base = subscribed(bridge, topic, "binary").await;
    let records = bridge.records_until(&base, BINARY, count).await;
    records
        .iter()
        .map(|r| unb64(r["value"].as_str().expect("base64 value")))
        .collect()
}

fn schema_id_of(framed: &[u8]) -> i64 {
    assert_eq!(framed[0], 0, "magic byte: {framed:?}");
    i64::from(i32::from_be_bytes([
        framed[1], framed[2], framed[3], framed[4],
    ]))
}

const ORDER_AVRO: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"id","type":"long"},
    {"name":"note","type":["null","string"],"default":null},
    {"name":"raw","type":"bytes"},
    {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["NEW","OLD"]}}]}"#;

#[tokio::test]
async fn avro_v2_produce_and_consume_with_schema_ids() {
    let registry = LiveRegistry::start().await;
    let bridge = registry.bridge().await;
    let topic = unique_name("bridge_avro");
    create_topic(&bridge.clients, &topic, 1).await;

    let first = json!({"id": 1, "note": {"string": "first"}, "raw": "\u{ff}\u{1}", "kind": "NEW"});
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            AVRO,
            &json!({
                "key_schema": "\"string\"",
                "value_schema": ORDER_AVRO,
                "records": [
                    {"key": "a", "value": first},
                    {"key": "b", "value": {"id": "two", "raw": "", "kind": "NEW"}},
                    {"value": {"id": 3, "raw": "", "kind": "OLD"}},
                ]
            }),
        )
        .await;
    // The record that does not match fails alone; the others are produced.
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    let offsets = reply.body["offsets"].as_array().expect("offsets");
    assert_eq!(offsets[0]["offset"], json!(0), "{reply:?}");
    assert_eq!(offsets[1]["error_code"], json!(42203), "{reply:?}");
    let reason = offsets[1]["error"].as_str().expect("error");
    assert!(
        reason.contains("records[1].value") && reason.contains("$.id"),
        "{reason}"
    );
    assert_eq!(offsets[2]["offset"], json!(1), "{reply:?}");
    let key_id = reply.body["key_schema_id"].as_i64().expect("key id");
    let value_id = reply.body["value_schema_id"].as_i64().expect("value id");
    assert_ne!(key_id, value_id);

    // The ids the answer gave produce the same way.
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            AVRO,
            &json!({"key_schema_id": key_id, "value_schema_id": value_id,
                    "records": [{"key": "d", "value": {"id": 4, "raw": "x", "kind": "OLD", "note": null}}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["value_schema_id"], json!(value_id));
    // Registered under TopicNameStrategy's subjects.
    let subjects: Value = http_client()
        .get(format!("{}/subjects", registry.url))
        .send()
        .await
        .expect("registry")
        .json()
        .await
        .expect("json");
    let subjects = subjects.as_array().expect("list");
    assert!(
        subjects.contains(&json!(format!("{topic}-key"))),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&json!(format!("{topic}-value"))),
        "{subjects:?}"
    );

    // Keys without a schema are refused as REST Proxy does.
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            AVRO,
            &json!({"value_schema_id": value_id, "records": [{"key": "k", "value": first}]}),
        )
        .await;
    assert_eq!(reply.body["error_code"], json!(42201), "{reply:?}");
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            AVRO,
            &json!({"value_schema": "{\"type\":\"record\"", "records": [{"value": 1}]}),
        )
        .await;
    assert_eq!(reply.body["error_code"], json!(42205), "{reply:?}");

    let base = subscribed(&bridge, &topic, "avro").await;
    let records = bridge.records_until(&base, AVRO, 3).await;
    assert_eq!(records[0]["key"], json!("a"));
    assert_eq!(records[0]["value"], first);
    assert_eq!(records[1]["key"], Value::Null);
    assert_eq!(
        records[1]["value"],
        json!({"id": 3, "note": null, "raw": "", "kind": "OLD"})
    );
    assert_eq!(records[2]["value"]["raw"], json!("x"));

    // In Kafka: Confluent's framing with the ids the answers gave.
    let raw = raw_values(&bridge, &topic, 3).await;
    assert_eq!(schema_id_of(&raw[0]), value_id);
    // id 1 (zig-zag 2), the union's string branch (index 1, zig-zag 2), its length 5 (10).
    assert_eq!(&raw[0][5..9], &[2, 2, 10, b'f']);
}

#[tokio::test]
async fn jsonschema_v2_validates_and_consumes() {
    let registry = LiveRegistry::start().await;
    let bridge = registry.bridge().await;
    let topic = unique_name("bridge_jsonschema");
    create_topic(&bridge.clients, &topic, 1).await;
    let schema = json!({"type": "object", "title": "Person",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name"]})
    .to_string();
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            JSONSCHEMA,
            &json!({"value_schema": schema, "records": [
                {"value": {"name": "ann", "age": 3}},
                {"value": {"name": "bob", "age": -1}},
                {"value": {"age": 5}},
                {"value": {"name": "cy"}},
            ]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    let offsets = reply.body["offsets"].as_array().expect("offsets");
    assert_eq!(offsets[1]["error_code"], json!(42203), "{reply:?}");
    assert!(
        offsets[1]["error"].as_str().unwrap().contains("/age"),
        "{reply:?}"
    );
    assert_eq!(offsets[2]["error_code"], json!(42203), "{reply:?}");
    assert_eq!(offsets[3]["offset"], json!(1), "{reply:?}");
    let value_id = reply.body["value_schema_id"].as_i64().expect("id");

    let base = subscribed(&bridge, &topic, "jsonschema").await;
    // An avro Accept does not match a jsonschema consumer.
    let refused = bridge
        .call_with(
            axum::http::Method::GET,
            &format!("{base}/records"),
            None,
            Some(AVRO),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE, "{refused:?}");
    let records = bridge.records_until(&base, JSONSCHEMA, 2).await;
    assert_eq!(records[0]["value"], json!({"name": "ann", "age": 3}));
    assert_eq!(records[1]["value"], json!({"name": "cy"}));
    let raw = raw_values(&bridge, &topic, 2).await;
    assert_eq!(schema_id_of(&raw[0]), value_id);
    let text: Value = serde_json::from_slice(&raw[0][5..]).expect("JSON after the header");
    assert_eq!(text, json!({"name": "ann", "age": 3}));
}

const ORDER_PROTO: &str = r#"syntax = "proto3";
package shop;
message Order {
  int64 id = 1;
  string note = 2;
  repeated string tags = 3;
}
message Other {
  int32 x = 1;
}
"#;

#[tokio::test]
async fn protobuf_v2_produce_and_consume() {
    let registry = LiveRegistry::start().await;
    let bridge = registry.bridge().await;
    let topic = unique_name("bridge_protobuf");
    create_topic(&bridge.clients, &topic, 1).await;
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            PROTOBUF,
            &json!({"value_schema": ORDER_PROTO, "records": [
                {"value": {"id": "5", "note": "n", "tags": ["a", "b"]}},
                {"value": {"id": "not a number"}},
                {"value": {"id": 7}},
            ]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    let offsets = reply.body["offsets"].as_array().expect("offsets");
    assert_eq!(offsets[1]["error_code"], json!(42203), "{reply:?}");
    assert_eq!(offsets[2]["offset"], json!(1), "{reply:?}");
    let value_id = reply.body["value_schema_id"].as_i64().expect("id");

    let base = subscribed(&bridge, &topic, "protobuf").await;
    let records = bridge.records_until(&base, PROTOBUF, 2).await;
    // proto3 JSON: 64-bit integers as strings, default values printed.
    assert_eq!(
        records[0]["value"],
        json!({"id": "5", "note": "n", "tags": ["a", "b"]})
    );
    assert_eq!(
        records[1]["value"],
        json!({"id": "7", "note": "", "tags": []})
    );
    let raw = raw_values(&bridge, &topic, 2).await;
    assert_eq!(schema_id_of(&raw[0]), value_id);
    // The first message of the file: message indexes [0] as the single byte 0.
    assert_eq!(raw[0][5], 0);
    assert_eq!(&raw[0][6..8], &[0x08, 5]);
}

async fn cluster_id(bridge: &Bridge) -> String {
    let clusters = bridge.get("/v3/clusters").await;
    clusters.body["data"][0]["cluster_id"]
        .as_str()
        .expect("cluster id")
        .to_owned()
}

#[tokio::test]
async fn v3_produce_with_types_ids_versions_and_strategies() {
    let registry = LiveRegistry::start().await;
    let bridge = registry.bridge().await;
    let cluster = cluster_id(&bridge).await;
    let avro_topic = unique_name("bridge_v3_avro");
    let proto_topic = unique_name("bridge_v3_proto");
    let json_topic = unique_name("bridge_v3_json");
    for topic in [&avro_topic, &proto_topic, &json_topic] {
        create_topic(&bridge.clients, topic, 1).await;
    }
    let produce = |topic: &str, body: Value| {
        let uri = format!("/v3/clusters/{cluster}/topics/{topic}/records");
        let bridge = &bridge;
        async move { bridge.post(&uri, "application/json", &body).await }
    };

    // A schema text under TOPIC_NAME (the default), then the id it got without a type.
    let reply = produce(
        &avro_topic,
        json!({
        "key": {"type": "AVRO", "schema": "\"string\"", "data": "k1"},
        "value": {"type": "AVRO", "schema": ORDER_AVRO,
                  "data": {"id": 1, "raw": "", "kind": "NEW"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["value"]["type"], json!("AVRO"), "{reply:?}");
    assert_eq!(
        reply.body["value"]["subject"],
        json!(format!("{avro_topic}-value"))
    );
    assert_eq!(reply.body["value"]["schema_version"], json!(1), "{reply:?}");
    assert_eq!(
        reply.body["key"]["subject"],
        json!(format!("{avro_topic}-key"))
    );
    let value_id = reply.body["value"]["schema_id"].as_i64().expect("id");
    let reply = produce(&avro_topic, json!({
        "value": {"schema_id": value_id, "data": {"id": 2, "note": {"string": "x"}, "raw": "", "kind": "OLD"}}})).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["value"]["type"], json!("AVRO"), "{reply:?}");
    assert_eq!(reply.body["value"]["schema_id"], json!(value_id));
    // The latest version of the topic's subject when nothing else is said.
    let reply = produce(
        &avro_topic,
        json!({
        "value": {"type": "AVRO", "data": {"id": 3, "raw": "", "kind": "OLD"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["value"]["schema_version"], json!(1), "{reply:?}");
    // A value that does not match is the record's own 400.
    let reply = produce(
        &avro_topic,
        json!({
        "value": {"schema_id": value_id, "data": {"id": "x"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("Conversion"),
        "{reply:?}"
    );
    let base = subscribed(&bridge, &avro_topic, "avro").await;
    let records = bridge.records_until(&base, AVRO, 3).await;
    assert_eq!(records[0]["key"], json!("k1"));
    assert_eq!(records[1]["value"]["note"], json!({"string": "x"}));
    assert_eq!(records[2]["value"]["id"], json!(3));

    // TOPIC_RECORD_NAME, then that subject's version 1.
    let reply = produce(
        &proto_topic,
        json!({
        "value": {"type": "PROTOBUF", "subject_name_strategy": "TOPIC_RECORD_NAME",
                  "schema": ORDER_PROTO, "data": {"id": "9"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let subject = format!("{proto_topic}-shop.Order");
    assert_eq!(reply.body["value"]["subject"], json!(subject), "{reply:?}");
    let reply = produce(
        &proto_topic,
        json!({
        "value": {"type": "PROTOBUF", "subject": subject, "schema_version": 1,
                  "data": {"id": "10", "tags": ["t"]}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["value"]["schema_version"], json!(1), "{reply:?}");
    let base = subscribed(&bridge, &proto_topic, "protobuf").await;
    let records = bridge.records_until(&base, PROTOBUF, 2).await;
    assert_eq!(
        records[1]["value"],
        json!({"id": "10", "note": "", "tags": ["t"]})
    );

    // RECORD_NAME takes a JSON Schema's title.
    let title = unique_name("Person");
    let schema = json!({"type": "object", "title": title,
        "properties": {"name": {"type": "string"}}, "required": ["name"]})
    .to_string();
    let reply = produce(
        &json_topic,
        json!({
        "value": {"type": "JSONSCHEMA", "subject_name_strategy": "RECORD_NAME",
                  "schema": schema, "data": {"name": "ann"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["value"]["subject"], json!(title), "{reply:?}");
    assert_eq!(
        reply.body["value"]["type"],
        json!("JSONSCHEMA"),
        "{reply:?}"
    );
    let reply = produce(
        &json_topic,
        json!({
        "value": {"type": "JSONSCHEMA", "subject": title, "data": {"nom": "ann"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
}

#[tokio::test]
async fn an_unreachable_registry_is_a_503_not_a_silent_drop() {
    // A port nothing listens on: connections are refused, as with a stopped registry.
    let bridge = Bridge::with_config(BridgeConfig {
        schema_registry_url: Some(format!("http://127.0.0.1:{}", free_port())),
        ..BridgeConfig::default()
    })
    .await;
    let topic = unique_name("bridge_sr_down");
    create_topic(&bridge.clients, &topic, 1).await;
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            AVRO,
            &json!({"value_schema": ORDER_AVRO, "records": [{"value": {"id": 1, "raw": "", "kind": "NEW"}}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert_eq!(reply.body["error_code"], json!(50003), "{reply:?}");
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("Schema registry unavailable")
    );

    let cluster = cluster_id(&bridge).await;
    let reply = bridge
        .post(
            &format!("/v3/clusters/{cluster}/topics/{topic}/records"),
            "application/json",
            &json!({"value": {"schema_id": 1, "data": {}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");

    // A framed record in Kafka cannot be decoded without the registry: 503, and it stays
    // pending for the next request.
    let framed = [0u8, 0, 0, 0, 1, 2];
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            BINARY,
            &json!({"records": [{"value": crate::bridge_common::b64(&framed)}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let base = subscribed(&bridge, &topic, "avro").await;
    let started = Instant::now();
    let mut refusals = 0;
    while refusals < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no 503 within 30 s"
        );
        let reply = bridge
            .call_with(
                axum::http::Method::GET,
                &format!("{base}/records?timeout=1000"),
                None,
                Some(AVRO),
                None,
            )
            .await;
        match reply.status {
            StatusCode::OK => assert_eq!(reply.body, json!([]), "{reply:?}"),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(reply.body["error_code"], json!(50003), "{reply:?}");
                refusals += 1;
            }
            other => panic!("unexpected {other}: {reply:?}"),
        }
    }
}
