//! v2 produce through the bridge's HTTP layer against the real cluster A, read back with a
//! native consumer.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use bridge::Flavor;
use futures::StreamExt;
use rdkafka::consumer::Consumer;
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::bridge_common::{BINARY, Bridge, JSON, TEXT, V2, b64};

/// Reads `count` records of `topic` (all partitions, from the start) with a native consumer.
async fn read_back(
    bridge: &Bridge,
    topic: &str,
    partitions: i32,
    count: usize,
) -> Vec<OwnedMessage> {
    let consumer = bridge
        .clients
        .consumer(&unique_name("readback"))
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).expect("assign");
    let mut stream = consumer.stream();
    let mut out = Vec::new();
    while out.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("records arrive within 30 s")
            .expect("stream open")
            .expect("no consume error");
        out.push(message.detach());
    }
    out.sort_by_key(|m| (m.partition(), m.offset()));
    out
}

#[tokio::test]
async fn binary_produce_with_keys_headers_and_timestamps_is_acknowledged() {
    for flavor in [Flavor::Confluent, Flavor::Strimzi] {
        let bridge = Bridge::start(flavor).await;
        let topic = unique_name("bridge_bin");
        create_topic(&bridge.clients, &topic, 3).await;
        let body = json!({"records": [
            {"key": b64(b"user-1"), "value": b64(b"first"),
             "headers": [{"key": "trace", "value": b64(b"abc")}], "timestamp": 1_700_000_000_000_i64},
            {"value": b64(&[0, 159, 146, 150]), "partition": 0},
        ]});
        let reply = bridge
            .post(&format!("/topics/{topic}"), BINARY, &body)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{flavor:?}: {reply:?}");
        let offsets = reply.body["offsets"].as_array().unwrap();
        assert_eq!(offsets.len(), 2);
        assert_eq!(
            offsets[0]["partition"],
            json!(2),
            "user-1 goes to partition 2 of 3"
        );
        assert_eq!(offsets[1]["partition"], json!(0));
        if flavor == Flavor::Confluent {
            assert_eq!(offsets[0]["error_code"], Value::Null);
            assert!(reply.body.get("value_schema_id").is_some());
        } else {
            assert!(offsets[0].get("error_code").is_none(), "{reply:?}");
        }
        let records = read_back(&bridge, &topic, 3, 2).await;
        let keyed = records.iter().find(|m| m.partition() == 2).unwrap();
        assert_eq!(keyed.key(), Some(&b"user-1"[..]));
        assert_eq!(keyed.payload(), Some(&b"first"[..]));
        assert_eq!(keyed.timestamp().to_millis(), Some(1_700_000_000_000));
        let header = keyed.headers().unwrap().get(0);
        assert_eq!((header.key, header.value), ("trace", Some(&b"abc"[..])));
        let raw = records.iter().find(|m| m.partition() == 0).unwrap();
        assert_eq!(raw.payload(), Some(&[0, 159, 146, 150][..]));
        assert_eq!(raw.key(), None);
    }
}

#[tokio::test]
async fn json_and_text_formats_keep_their_values() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let topic = unique_name("bridge_fmt");
    create_topic(&bridge.clients, &topic, 1).await;
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            JSON,
            &json!({"records": [{"key": {"id": 1}, "value": {"a": [1, 2], "b": null}}, {"value": 42}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let reply = bridge
        .post(
            &format!("/topics/{topic}/partitions/0"),
            TEXT,
            &json!({"records": [{"key": "k", "value": "héllo"}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["offsets"][0]["offset"], json!(2));
    let records = read_back(&bridge, &topic, 1, 3).await;
    assert_eq!(records[0].key(), Some(&br#"{"id":1}"#[..]));
    assert_eq!(records[0].payload(), Some(&br#"{"a":[1,2],"b":null}"#[..]));
    assert_eq!(records[1].payload(), Some(&b"42"[..]));
    assert_eq!(records[2].payload(), Some("héllo".as_bytes()));
}

/// The Java client's murmur2 partitions for these keys.
const JAVA_PARTITIONS: &[(i32, &[(&str, i32)])] = &[
    (
        3,
        &[
            ("a", 1),
            ("b", 2),
            ("user-1", 2),
            ("order-42", 0),
            ("order-43", 1),
            ("key-0", 1),
            ("key-1", 0),
            ("hello world", 1),
        ],
    ),
    (7, &[("a", 5), ("b", 6), ("user-1", 3), ("order-42", 1)]),
];

#[tokio::test]
async fn keyed_records_land_on_the_java_partition() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    for (partitions, expected) in JAVA_PARTITIONS {
        let topic = unique_name("bridge_murmur");
        create_topic(&bridge.clients, &topic, *partitions).await;
        let records: Vec<Value> = expected
            .iter()
            .map(|(key, _)| json!({"key": key, "value": "v"}))
            .collect();
        let reply = bridge
            .post(
                &format!("/topics/{topic}"),
                TEXT,
                &json!({ "records": records }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        for (index, (key, partition)) in expected.iter().enumerate() {
            assert_eq!(
                reply.body["offsets"][index]["partition"],
                json!(partition),
                "key {key} of {partitions} partitions"
            );
        }
    }
}

#[tokio::test]
async fn partition_choice_follows_the_flavor() {
    let confluent = Bridge::start(Flavor::Confluent).await;
    let topic = unique_name("bridge_part");
    create_topic(&confluent.clients, &topic, 2).await;
    let body = json!({"records": [{"value": "x", "partition": 1}]});
    let reply = confluent
        .post(&format!("/topics/{topic}/partitions/0"), TEXT, &body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(
        reply.body["offsets"][0]["partition"],
        json!(1),
        "record partition wins"
    );

    let strimzi = Bridge::start(Flavor::Strimzi).await;
    let reply = strimzi
        .post(&format!("/topics/{topic}/partitions/0"), TEXT, &body)
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    assert_eq!(reply.body["error_code"], json!(422));

    let reply = confluent
        .post(
            &format!("/topics/{topic}/partitions/5"),
            TEXT,
            &json!({"records": [{"value": "x"}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["error_code"], json!(40402));

    let reply = confluent
        .post(
            &format!("/topics/{topic}"),
            TEXT,
            &json!({"records": [{"value": "x", "partition": 9}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["offsets"][0]["error_code"], json!(40402));
    assert!(
        reply.body["offsets"][0]["error"]
            .as_str()
            .unwrap()
            .contains("9")
    );

    let reply = strimzi
        .call(
            Method::POST,
            &format!("/topics/{topic}?async=true"),
            Some(TEXT),
            Some(&json!({"records": [{"value": "fire and forget"}]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
}

#[tokio::test]
async fn produce_errors_are_clear_4xx_in_each_flavor() {
    for flavor in [Flavor::Confluent, Flavor::Strimzi] {
        let bridge = Bridge::start(flavor).await;
        let topic = unique_name("bridge_err");
        create_topic(&bridge.clients, &topic, 1).await;
        let path = format!("/topics/{topic}");
        let code = |confluent: u32, status: u16| match flavor {
            Flavor::Confluent => json!(confluent),
            Flavor::Strimzi => json!(status),
        };

        let reply = bridge
            .post(
                &format!("/topics/{}", unique_name("missing")),
                BINARY,
                &json!({"records": [{"value": "eA=="}]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}");
        assert_eq!(reply.body["error_code"], code(40401, 404));

        let reply = bridge.call(Method::POST, &path, Some(BINARY), None).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "empty body: {reply:?}"
        );

        let malformed = axum::http::Request::post(&path)
            .header("content-type", BINARY)
            .body(axum::body::Body::from("{\"records\": ["))
            .unwrap();
        let reply = bridge.send(malformed).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
        assert_eq!(reply.body["error_code"], json!(400));
        assert!(reply.body["message"].as_str().unwrap().contains("JSON"));

        let reply = bridge
            .post(
                &path,
                BINARY,
                &json!({"records": [{"value": "not base64!"}]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
        assert_eq!(reply.body["error_code"], code(42203, 422));
        assert!(reply.body["message"].as_str().unwrap().contains("base64"));

        let reply = bridge
            .post(&path, "text/plain", &json!({"records": []}))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{reply:?}"
        );
        assert_eq!(reply.body["error_code"], json!(415));

        let reply = bridge.post(&path, BINARY, &json!({"records": []})).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");

        let reply = bridge
            .post(
                &path,
                TEXT,
                &json!({"records": [{"value": {"not": "text"}}]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");

        let reply = bridge
            .post(&path, V2, &json!({"records": [{"value": "eA=="}]}))
            .await;
        let expected = match flavor {
            Flavor::Confluent => StatusCode::OK,
            Flavor::Strimzi => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        };
        assert_eq!(reply.status, expected, "generic content type: {reply:?}");
    }
}

#[tokio::test]
async fn oversize_body_is_413_in_the_error_body() {
    let mut config = bridge::BridgeConfig::default();
    config.http.max_body_bytes = 1024;
    let bridge = Bridge::with_config(config).await;
    let topic = unique_name("bridge_big");
    create_topic(&bridge.clients, &topic, 1).await;
    let big = "x".repeat(4096);
    let reply = bridge
        .post(
            &format!("/topics/{topic}"),
            TEXT,
            &json!({"records": [{"value": big}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{reply:?}");
    assert_eq!(reply.body["error_code"], json!(413));
    assert!(reply.body["message"].as_str().unwrap().contains("1024"));
}
