//! v2 consumer instances, both flavors, against the real cluster A.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use bridge::{BridgeConfig, Flavor};
use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::bridge_common::{BINARY, Bridge, JSON, TEXT, V2, b64, unb64};

async fn produce_text(bridge: &Bridge, topic: &str, partition: i32, values: &[&str]) {
    let records: Vec<Value> = values
        .iter()
        .map(|v| json!({"key": "k", "value": v}))
        .collect();
    let reply = bridge
        .post(
            &format!("/topics/{topic}/partitions/{partition}"),
            TEXT,
            &json!({"records": records}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

async fn create(bridge: &Bridge, group: &str, body: &Value) -> String {
    let reply = bridge.post(&format!("/consumers/{group}"), V2, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let name = reply.body["instance_id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.body["base_uri"],
        json!(format!(
            "http://bridge.test:8082/consumers/{group}/instances/{name}"
        ))
    );
    format!("/consumers/{group}/instances/{name}")
}

#[tokio::test]
async fn subscribe_consume_commit_and_read_offsets_confluent() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let topic = unique_name("bridge_sub");
    create_topic(&bridge.clients, &topic, 1).await;
    let headers_body =
        json!({"records": [{"value": b64(b"one"), "headers": [{"key": "h", "value": b64(b"v")}]}]});
    assert_eq!(
        bridge
            .post(&format!("/topics/{topic}"), BINARY, &headers_body)
            .await
            .status,
        StatusCode::OK
    );
    produce_text(&bridge, &topic, 0, &["two", "three"]).await;

    let group = unique_name("group");
    let base = create(&bridge, &group, &json!({"name": "c1", "format": "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false"})).await;
    let duplicate = bridge
        .post(&format!("/consumers/{group}"), V2, &json!({"name": "c1"}))
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.body["error_code"], json!(40902));

    let reply = bridge
        .post(
            &format!("{base}/subscription"),
            V2,
            &json!({"topics": [topic]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    assert_eq!(
        bridge.get(&format!("{base}/subscription")).await.body,
        json!({"topics": [topic]})
    );

    let records = bridge.records_until(&base, BINARY, 3).await;
    assert_eq!(unb64(records[0]["value"].as_str().unwrap()), b"one");
    assert_eq!(records[0]["topic"], json!(topic));
    assert_eq!(records[0]["offset"], json!(0));
    assert!(records[0]["timestamp"].is_i64());
    assert_eq!(records[0]["headers"][0]["key"], json!("h"));
    assert_eq!(unb64(records[2]["value"].as_str().unwrap()), b"three");
    assert_eq!(unb64(records[1]["key"].as_str().unwrap()), b"k");

    let assignments = bridge.get(&format!("{base}/assignments")).await;
    assert_eq!(
        assignments.body,
        json!({"partitions": [{"topic": topic, "partition": 0}]})
    );

    // Confluent commits offset + 1: "the last record I processed is offset 1".
    let commit = bridge
        .post(
            &format!("{base}/offsets"),
            V2,
            &json!({"offsets": [{"topic": topic, "partition": 0, "offset": 1}]}),
        )
        .await;
    assert_eq!(commit.status, StatusCode::OK, "{commit:?}");
    assert_eq!(commit.body, json!([]));
    let committed = bridge
        .call(
            Method::GET,
            &format!("{base}/offsets"),
            Some(V2),
            Some(&json!({"partitions": [{"topic": topic, "partition": 0}]})),
        )
        .await;
    assert_eq!(committed.status, StatusCode::OK, "{committed:?}");
    assert_eq!(committed.body["offsets"][0]["offset"], json!(2));
    let no_body = bridge
        .call(Method::GET, &format!("{base}/offsets"), None, None)
        .await;
    assert_eq!(no_body.body["error_code"], json!(40402));

    // An empty commit commits everything handed out.
    let commit_all = bridge
        .call(Method::POST, &format!("{base}/offsets"), None, None)
        .await;
    assert_eq!(commit_all.status, StatusCode::OK, "{commit_all:?}");
    let committed = bridge
        .call(
            Method::GET,
            &format!("{base}/offsets"),
            Some(V2),
            Some(&json!({"partitions": [{"topic": topic, "partition": 0}]})),
        )
        .await;
    assert_eq!(committed.body["offsets"][0]["offset"], json!(3));

    // Accept must match the format.
    let mismatch = bridge
        .call_with(
            Method::GET,
            &format!("{base}/records"),
            None,
            Some(JSON),
            None,
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(mismatch.body["error_code"], json!(40601));
    let empty = bridge
        .call_with(
            Method::GET,
            &format!("{base}/records?timeout=10"),
            None,
            Some(BINARY),
            None,
        )
        .await;
    assert_eq!(empty.headers["content-type"], BINARY);

    assert_eq!(
        bridge
            .call(Method::DELETE, &format!("{base}/subscription"), None, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        bridge.call(Method::DELETE, &base, None, None).await.status,
        StatusCode::NO_CONTENT
    );
    let gone = bridge.get(&format!("{base}/subscription")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["error_code"], json!(40403));

    // A record for a partition that does not exist fails; the counters say so.
    let bad = bridge
        .post(
            &format!("/topics/{topic}"),
            TEXT,
            &json!({"records": [{"value": "x", "partition": 7}]}),
        )
        .await;
    assert_eq!(
        bad.body["offsets"][0]["error_code"],
        json!(40402),
        "{bad:?}"
    );
    let metrics = bridge.registry.render().unwrap();
    for line in [
        format!(r#"kafka_gateway_bridge_produced_records_total{{topic="{topic}"}} 3"#),
        format!(r#"kafka_gateway_bridge_produce_failed_records_total{{topic="{topic}"}} 1"#),
        format!(r#"kafka_gateway_bridge_consumed_records_total{{topic="{topic}"}} 3"#),
    ] {
        assert!(metrics.contains(&line), "no `{line}` in\n{metrics}");
    }
}

#[tokio::test]
async fn assignments_positions_and_strimzi_commit_semantics() {
    let bridge = Bridge::start(Flavor::Strimzi).await;
    let topic = unique_name("bridge_assign");
    create_topic(&bridge.clients, &topic, 2).await;
    produce_text(&bridge, &topic, 0, &["a0", "a1", "a2", "a3"]).await;
    produce_text(&bridge, &topic, 1, &["b0"]).await;

    let group = unique_name("group");
    let base = create(
        &bridge,
        &group,
        &json!({"name": "s1", "format": "text", "enable.auto.commit": false}),
    )
    .await;
    let reply = bridge
        .post(&format!("{base}/assignments"), V2, &json!({"partitions": [{"topic": topic, "partition": 0}, {"topic": topic, "partition": 1}]}))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    let conflict = bridge
        .post(
            &format!("{base}/subscription"),
            V2,
            &json!({"topics": [topic]}),
        )
        .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(
        conflict.body["error_code"],
        json!(409),
        "strimzi shape: {conflict:?}"
    );

    let seek = bridge
        .post(
            &format!("{base}/positions"),
            V2,
            &json!({"offsets": [{"topic": topic, "partition": 0, "offset": 2}]}),
        )
        .await;
    assert_eq!(seek.status, StatusCode::NO_CONTENT, "{seek:?}");
    let end = bridge
        .post(
            &format!("{base}/positions/end"),
            V2,
            &json!({"partitions": [{"topic": topic, "partition": 1}]}),
        )
        .await;
    assert_eq!(end.status, StatusCode::NO_CONTENT, "{end:?}");
    let records = bridge.records_until(&base, TEXT, 2).await;
    let values: Vec<&str> = records
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["a2", "a3"]);

    let again = bridge
        .post(
            &format!("{base}/positions/beginning"),
            V2,
            &json!({"partitions": [{"topic": topic, "partition": 1}]}),
        )
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    let records = bridge.records_until(&base, TEXT, 1).await;
    assert_eq!(records[0]["value"], json!("b0"));

    let by_time = bridge
        .post(&format!("{base}/positions"), V2, &json!({"timestamps": [{"topic": topic, "partition": 0, "timestamp": "2000-01-01T00:00:00Z"}]}))
        .await;
    assert_eq!(by_time.status, StatusCode::NO_CONTENT, "{by_time:?}");
    let records = bridge.records_until(&base, TEXT, 4).await;
    assert_eq!(records[0]["value"], json!("a0"));

    // Strimzi commits as sent and answers 204.
    let commit = bridge
        .post(
            &format!("{base}/offsets"),
            V2,
            &json!({"offsets": [{"topic": topic, "partition": 0, "offset": 3}]}),
        )
        .await;
    assert_eq!(commit.status, StatusCode::NO_CONTENT, "{commit:?}");
    let committed = bridge
        .call(
            Method::GET,
            &format!("{base}/offsets"),
            Some(V2),
            Some(&json!({"partitions": [{"topic": topic, "partition": 0}]})),
        )
        .await;
    assert_eq!(committed.body["offsets"][0]["offset"], json!(3));

    // Strimzi wants the exact Accept.
    let wildcard = bridge
        .call_with(
            Method::GET,
            &format!("{base}/records"),
            None,
            Some("*/*"),
            None,
        )
        .await;
    assert_eq!(wildcard.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(wildcard.body["error_code"], json!(406));

    let subscription = bridge.get(&format!("{base}/subscription")).await;
    assert_eq!(subscription.body["topics"], json!([]));
    let not_assigned = bridge
        .post(
            &format!("{base}/positions"),
            V2,
            &json!({"offsets": [{"topic": "other", "partition": 0, "offset": 0}]}),
        )
        .await;
    assert_eq!(not_assigned.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn json_format_max_records_and_oversized_record() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let topic = unique_name("bridge_json");
    create_topic(&bridge.clients, &topic, 1).await;
    let records: Vec<Value> = (0..5).map(|i| json!({"value": {"n": i}})).collect();
    assert_eq!(
        bridge
            .post(
                &format!("/topics/{topic}"),
                JSON,
                &json!({"records": records})
            )
            .await
            .status,
        StatusCode::OK
    );
    let big = "x".repeat(2000);
    assert_eq!(
        bridge
            .post(
                &format!("/topics/{topic}"),
                JSON,
                &json!({"records": [{"value": big}]})
            )
            .await
            .status,
        StatusCode::OK
    );

    let group = unique_name("group");
    let base = create(&bridge, &group, &json!({"format": "json"})).await;
    assert_eq!(
        bridge
            .post(
                &format!("{base}/assignments"),
                V2,
                &json!({"partitions": [{"topic": topic, "partition": 0}]})
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let mut first = Vec::new();
    let started = std::time::Instant::now();
    while first.is_empty() && started.elapsed() < Duration::from_secs(30) {
        let reply = bridge
            .call_with(
                Method::GET,
                &format!("{base}/records?max_records=2&timeout=1000"),
                None,
                Some(JSON),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        first = reply.body.as_array().cloned().unwrap_or_default();
    }
    assert_eq!(first.len(), 2, "max_records caps the response: {first:?}");
    assert_eq!(first[0]["value"], json!({"n": 0}));
    let mut rest = Vec::new();
    while rest.len() < 3 {
        let reply = bridge
            .call_with(
                Method::GET,
                &format!("{base}/records?max_bytes=100&timeout=1000"),
                None,
                Some(JSON),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        rest.extend(reply.body.as_array().cloned().unwrap_or_default());
        assert!(started.elapsed() < Duration::from_secs(30), "{rest:?}");
    }
    assert_eq!(
        rest.len(),
        3,
        "the large record does not fit max_bytes=100: {rest:?}"
    );
    assert_eq!(rest[2]["value"], json!({"n": 4}));

    let too_small = bridge
        .call_with(
            Method::GET,
            &format!("{base}/records?max_bytes=100&timeout=2000"),
            None,
            Some(JSON),
            None,
        )
        .await;
    assert_eq!(
        too_small.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{too_small:?}"
    );
    assert!(
        too_small.body["message"]
            .as_str()
            .unwrap()
            .contains("max_bytes"),
        "{too_small:?}"
    );
    let retried = bridge.records_until(&base, JSON, 1).await;
    assert_eq!(
        retried[0]["offset"],
        json!(5),
        "the oversized record is kept for the retry"
    );
}

#[tokio::test]
async fn pattern_subscription_and_invalid_configs() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let prefix = unique_name("bridge_pat");
    let topic = format!("{prefix}_x");
    create_topic(&bridge.clients, &topic, 1).await;
    produce_text(&bridge, &topic, 0, &["p"]).await;
    let group = unique_name("group");
    let base = create(&bridge, &group, &json!({"format": "text"})).await;
    let reply = bridge
        .post(
            &format!("{base}/subscription"),
            V2,
            &json!({"topic_pattern": format!("{prefix}_.*")}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    let records = bridge.records_until(&base, TEXT, 1).await;
    assert_eq!(records[0]["value"], json!("p"));
    let both = bridge
        .post(
            &format!("{base}/subscription"),
            V2,
            &json!({"topics": [topic], "topic_pattern": "x"}),
        )
        .await;
    assert_eq!(both.body["error_code"], json!(40903));
    // An illegal topic name is invalid input, not librdkafka's 500 "invalid argument".
    let illegal = bridge
        .post(
            &format!("{base}/subscription"),
            V2,
            &json!({"topics": [""]}),
        )
        .await;
    assert_eq!(
        illegal.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{illegal:?}"
    );
    assert_eq!(illegal.body["error_code"], json!(422));

    for (body, status, code) in [
        (json!({"fetch.min.bytes": 20_000_000}), 422, 40001),
        (json!({"format": "avro"}), 422, 422),
        (json!({"auto.offset.reset": "sometimes"}), 422, 42204),
        (json!({"auto.comit.enable": "true"}), 422, 42204),
    ] {
        let reply = bridge.post(&format!("/consumers/{group}"), V2, &body).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {reply:?}");
        assert_eq!(reply.body["error_code"], json!(code), "{body}");
    }
    let wrong_type = bridge
        .post(&format!("/consumers/{group}"), "text/plain", &json!({}))
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let malformed = axum::http::Request::post(format!("/consumers/{group}"))
        .header("content-type", V2)
        .body(axum::body::Body::from("{"))
        .unwrap();
    assert_eq!(bridge.send(malformed).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn idle_instances_expire_and_the_limit_holds() {
    let bridge = Bridge::with_config(BridgeConfig {
        consumer_instance_timeout_ms: 1000,
        max_consumer_instances: 1,
        ..BridgeConfig::default()
    })
    .await;
    let group = unique_name("group");
    let base = create(&bridge, &group, &json!({})).await;
    let refused = bridge
        .post(&format!("/consumers/{group}"), V2, &json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{refused:?}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let expired = bridge.get(&format!("{base}/subscription")).await;
    assert_eq!(expired.status, StatusCode::NOT_FOUND, "{expired:?}");
    assert_eq!(expired.body["error_code"], json!(40403));
    create(&bridge, &group, &json!({})).await;
}

#[tokio::test]
async fn strimzi_records_that_together_exceed_max_bytes_get_422_and_stay_pending() {
    let bridge = Bridge::start(Flavor::Strimzi).await;
    let topic = unique_name("bridge_strimzi_bytes");
    create_topic(&bridge.clients, &topic, 1).await;
    let values: Vec<String> = (0..5)
        .map(|n| format!("value-{n}-{}", "x".repeat(60)))
        .collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    produce_text(&bridge, &topic, 0, &refs).await;
    let group = unique_name("group");
    let base = create(&bridge, &group, &json!({"name": "c", "format": "text"})).await;
    assert_eq!(
        bridge
            .post(
                &format!("{base}/assignments"),
                V2,
                &json!({"partitions": [{"topic": topic, "partition": 0}]})
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // Each record is about 130 bytes rendered: one fits 200, the five together do not.
    let started = std::time::Instant::now();
    let refused = loop {
        let reply = bridge
            .call_with(
                Method::GET,
                &format!("{base}/records?max_bytes=200&timeout=1000"),
                None,
                Some(TEXT),
                None,
            )
            .await;
        if reply.status != StatusCode::OK {
            break reply;
        }
        assert_eq!(
            reply.body,
            json!([]),
            "nothing is returned partially: {reply:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(30), "{reply:?}");
    };
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{refused:?}"
    );
    assert_eq!(
        refused.body,
        json!({"error_code": 422,
               "message": "Response exceeds the maximum number of bytes the consumer can receive"})
    );
    // Unlike Strimzi, the records were not lost: a large enough max_bytes returns them all.
    let records = bridge.records_until(&base, TEXT, 5).await;
    let got: Vec<&str> = records
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert_eq!(got, refs);
    assert_eq!(records[0]["offset"], json!(0));
}

/// Found by schemathesis on the Strimzi flavor (#18), checked on both: an offset outside a
/// commit's or a seek's range is refused with 422 naming the entry (a 400 with librdkafka's
/// "invalid argument" before; Confluent's `offset + 1` overflowed on `i64::MAX`); a
/// partition named twice in one seek goes where its last entry says (two timestamps for one
/// partition failed as a whole); both spellings of auto-commit are checked.
#[tokio::test]
async fn offsets_out_of_range_and_partitions_named_twice() {
    let topic = unique_name("bridge_offset_ranges");
    for flavor in [Flavor::Confluent, Flavor::Strimzi] {
        let bridge = Bridge::start(flavor).await;
        if flavor == Flavor::Confluent {
            create_topic(&bridge.clients, &topic, 1).await;
            produce_text(&bridge, &topic, 0, &["a0", "a1", "a2", "a3"]).await;
        }
        let group = unique_name("group");
        let base = create(
            &bridge,
            &group,
            &json!({"format": "text", "auto.commit.enable": "false"}),
        )
        .await;
        let partitions = json!({"partitions": [{"topic": topic, "partition": 0}]});
        let reply = bridge
            .post(&format!("{base}/assignments"), V2, &partitions)
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");

        let seek = |body: Value| {
            let bridge = &bridge;
            let uri = format!("{base}/positions");
            async move { bridge.post(&uri, V2, &body).await }
        };
        let twice = seek(json!({"offsets": [
            {"topic": topic, "partition": 0, "offset": 3},
            {"topic": topic, "partition": 0, "offset": 1}]}))
        .await;
        assert_eq!(
            twice.status,
            StatusCode::NO_CONTENT,
            "{flavor:?}: {twice:?}"
        );
        let records = bridge.records_until(&base, TEXT, 3).await;
        assert_eq!(
            records[0]["value"],
            json!("a1"),
            "{flavor:?}: the last entry"
        );

        let twice = seek(json!({"timestamps": [
            {"topic": topic, "partition": 0, "timestamp": "2999-01-01T00:00:00Z"},
            {"topic": topic, "partition": 0, "timestamp": "2000-01-01T00:00:00Z"}]}))
        .await;
        assert_eq!(
            twice.status,
            StatusCode::NO_CONTENT,
            "{flavor:?}: {twice:?}"
        );
        let records = bridge.records_until(&base, TEXT, 1).await;
        assert_eq!(
            records[0]["value"],
            json!("a0"),
            "{flavor:?}: the last entry"
        );

        let negative =
            seek(json!({"offsets": [{"topic": topic, "partition": 0, "offset": -1}]})).await;
        assert_eq!(
            negative.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{negative:?}"
        );
        assert_eq!(negative.body["error_code"], json!(422));
        assert!(
            negative.body["message"]
                .as_str()
                .unwrap()
                .contains("-1 for"),
            "{negative:?}"
        );

        let commit = |offset: i64| {
            let bridge = &bridge;
            let uri = format!("{base}/offsets");
            let body = json!({"offsets": [{"topic": topic, "partition": 0, "offset": offset}]});
            async move { bridge.post(&uri, V2, &body).await }
        };
        let committed = || {
            let bridge = &bridge;
            let uri = format!("{base}/offsets");
            let body = partitions.clone();
            async move {
                let reply = bridge.call(Method::GET, &uri, Some(V2), Some(&body)).await;
                reply.body["offsets"][0]["offset"].clone()
            }
        };
        let (lowest, committed_position, success) = match flavor {
            // Confluent commits offset + 1: -1 is position 0.
            Flavor::Confluent => (-1, 0, StatusCode::OK),
            Flavor::Strimzi => (0, 0, StatusCode::NO_CONTENT),
        };
        let reply = commit(lowest).await;
        assert_eq!(reply.status, success, "{flavor:?}: {reply:?}");
        assert_eq!(committed().await, json!(committed_position));
        for refused in [lowest - 1, i64::MAX] {
            let reply = commit(refused).await;
            assert_eq!(
                reply.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{flavor:?} {refused}: {reply:?}"
            );
            assert!(
                reply.body["message"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("{refused} for {topic}-0")),
                "{reply:?}"
            );
        }
        assert_eq!(committed().await, json!(committed_position), "unchanged");

        let both = bridge
            .post(
                &format!("/consumers/{group}"),
                V2,
                &json!({"enable.auto.commit": true, "auto.commit.enable": {"x": 1}}),
            )
            .await;
        let expected = match flavor {
            Flavor::Confluent => (StatusCode::UNPROCESSABLE_ENTITY, json!(42204)),
            Flavor::Strimzi => (StatusCode::BAD_REQUEST, json!(400)),
        };
        assert_eq!(
            (both.status, both.body["error_code"].clone()),
            expected,
            "{both:?}"
        );
        assert!(
            both.body["message"]
                .as_str()
                .unwrap()
                .contains("auto.commit.enable"),
            "{both:?}"
        );
    }
}
