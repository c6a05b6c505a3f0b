//! Confluent REST v3 through the bridge's HTTP layer against the real cluster A.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bridge::Flavor;
use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::bridge_common::{Bridge, TEXT, V2};

async fn cluster_id(bridge: &Bridge) -> String {
    let clusters = bridge.get("/v3/clusters").await;
    assert_eq!(clusters.status, StatusCode::OK, "{clusters:?}");
    assert_eq!(clusters.body["kind"], json!("KafkaClusterList"));
    clusters.body["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn clusters_and_topic_lifecycle() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let id = cluster_id(&bridge).await;
    let cluster = bridge.get(&format!("/v3/clusters/{id}")).await;
    assert_eq!(cluster.body["cluster_id"], json!(id));
    assert_eq!(
        bridge.get("/v3/clusters/nope").await.status,
        StatusCode::NOT_FOUND
    );

    let topic = unique_name("bridge_v3");
    let created = bridge
        .post(&format!("/v3/clusters/{id}/topics"), "application/json",
            &json!({"topic_name": topic, "partitions_count": 2, "replication_factor": 1, "configs": [{"name": "retention.ms", "value": "60000"}]}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let again = bridge
        .post(
            &format!("/v3/clusters/{id}/topics"),
            "application/json",
            &json!({"topic_name": topic}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
    let wrong_type = bridge
        .post(
            &format!("/v3/clusters/{id}/topics"),
            V2,
            &json!({"topic_name": "x"}),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let described = bridge
        .get(&format!("/v3/clusters/{id}/topics/{topic}"))
        .await;
    assert_eq!(
        described.body["partitions_count"],
        json!(2),
        "{described:?}"
    );
    let list = bridge.get(&format!("/v3/clusters/{id}/topics")).await;
    assert!(
        list.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["topic_name"] == json!(topic))
    );

    let deleted = bridge
        .call(
            Method::DELETE,
            &format!("/v3/clusters/{id}/topics/{topic}"),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
    let gone = bridge
        .call(
            Method::DELETE,
            &format!("/v3/clusters/{id}/topics/{topic}"),
            None,
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{gone:?}");
}

#[tokio::test]
async fn single_and_streaming_record_produce() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let id = cluster_id(&bridge).await;
    let topic = unique_name("bridge_v3rec");
    create_topic(&bridge.clients, &topic, 3).await;
    let path = format!("/v3/clusters/{id}/topics/{topic}/records");

    let single = bridge
        .post(&path, "application/json", &json!({"key": {"type": "STRING", "data": "user-1"}, "value": {"type": "JSON", "data": {"a": 1}}, "timestamp": "2024-01-01T00:00:00Z"}))
        .await;
    assert_eq!(single.status, StatusCode::OK, "{single:?}");
    assert_eq!(single.body["error_code"], json!(200));
    assert_eq!(single.body["partition_id"], json!(2));
    assert_eq!(single.body["timestamp"], json!("2024-01-01T00:00:00.000Z"));
    assert_eq!(single.body["value"]["size"], json!(7));

    let bad = bridge
        .post(
            &path,
            "application/json",
            &json!({"value": {"type": "BINARY", "data": "%%%"}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
    assert_eq!(bad.body["error_code"], json!(400));

    // Chunked stream of concatenated records, split mid-record; one report each, in order.
    let mut text = String::new();
    for i in 0..20 {
        text.push_str(
            &json!({"partition_id": 1, "value": {"type": "STRING", "data": format!("v{i}")}})
                .to_string(),
        );
    }
    text.push_str(r#"{"partition_id": 9, "value": {"type": "STRING", "data": "nowhere"}}"#);
    let bytes = text.into_bytes();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(37).map(|c| Ok(c.to_vec())).collect();
    let request = Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header("content-type", "application/json")
        .header("transfer-encoding", "chunked")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let reply = bridge.send(request).await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = match &reply.body {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let reports: Vec<Value> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(reports.len(), 21, "{text}");
    for (i, report) in reports.iter().take(20).enumerate() {
        assert_eq!(report["error_code"], json!(200), "{report}");
        assert_eq!(report["offset"], json!(i), "in order: {report}");
    }
    assert_eq!(reports[20]["error_code"], json!(404));

    // Reading them back with v2 shows the STRING values.
    let offsets = bridge
        .get(&format!("/topics/{topic}/partitions/1/offsets"))
        .await;
    assert_eq!(offsets.body["end_offset"], json!(20));
    let _ = TEXT;
}

#[tokio::test]
async fn consumer_group_lag() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let id = cluster_id(&bridge).await;
    let topic = unique_name("bridge_lag");
    create_topic(&bridge.clients, &topic, 1).await;
    let records: Vec<Value> = (0..5).map(|i| json!({"value": format!("r{i}")})).collect();
    assert_eq!(
        bridge
            .post(
                &format!("/topics/{topic}"),
                TEXT,
                &json!({"records": records})
            )
            .await
            .status,
        StatusCode::OK
    );

    let group = unique_name("group");
    let created = bridge
        .post(&format!("/consumers/{group}"), V2, &json!({"name": "c"}))
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let base = format!("/consumers/{group}/instances/c");
    bridge
        .post(
            &format!("{base}/assignments"),
            V2,
            &json!({"partitions": [{"topic": topic, "partition": 0}]}),
        )
        .await;
    let commit = bridge
        .post(
            &format!("{base}/offsets"),
            V2,
            &json!({"offsets": [{"topic": topic, "partition": 0, "offset": 1}]}),
        )
        .await;
    assert_eq!(commit.status, StatusCode::OK, "{commit:?}");

    let summary = bridge
        .get(&format!(
            "/v3/clusters/{id}/consumer-groups/{group}/lag-summary"
        ))
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{summary:?}");
    assert_eq!(summary.body["total_lag"], json!(3));
    assert_eq!(summary.body["max_lag_topic_name"], json!(topic));
    let lags = bridge
        .get(&format!("/v3/clusters/{id}/consumer-groups/{group}/lags"))
        .await;
    assert_eq!(lags.body["data"][0]["current_offset"], json!(2));
    assert_eq!(lags.body["data"][0]["log_end_offset"], json!(5));
    let groups = bridge
        .get(&format!("/v3/clusters/{id}/consumer-groups"))
        .await;
    assert_eq!(groups.status, StatusCode::OK, "{groups:?}");
    assert!(
        groups.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["consumer_group_id"] == json!(group)),
        "{groups:?}"
    );
}

/// `records:batch`: 207 with a success or failure per entry id; the successes are in Kafka.
#[tokio::test]
async fn batch_produce_reports_per_entry() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let id = cluster_id(&bridge).await;
    let topic = unique_name("bridge_v3batch");
    create_topic(&bridge.clients, &topic, 2).await;
    let path = format!("/v3/clusters/{id}/topics/{topic}/records:batch");
    let reply = bridge
        .post(
            &path,
            "application/json",
            &json!({"entries": [
                {"id": "a", "partition_id": 0, "value": {"type": "STRING", "data": "one"}},
                {"id": "b", "partition_id": 1, "value": {"type": "JSON", "data": {"n": 2}}},
                {"id": "c", "value": {"type": "BINARY", "data": "%%%"}},
                {"id": "d", "partition_id": 7, "value": {"type": "STRING", "data": "nowhere"}},
                {"value": {"type": "STRING", "data": "no id"}},
                {"id": "a", "value": {"type": "STRING", "data": "same id"}}
            ]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{reply:?}");
    let successes = reply.body["successes"].as_array().unwrap();
    let failures = reply.body["failures"].as_array().unwrap();
    let ids = |list: &[Value]| -> Vec<Value> { list.iter().map(|e| e["id"].clone()).collect() };
    assert_eq!(ids(successes), [json!("a"), json!("b")], "{reply:?}");
    assert_eq!(successes[1]["partition_id"], json!(1));
    assert_eq!(
        ids(failures),
        [json!("c"), json!("d"), Value::Null, json!("a")],
        "{reply:?}"
    );
    assert!(
        failures
            .iter()
            .all(|f| f["error_code"].as_u64().unwrap() >= 400)
    );

    let inspector = broker_core::metadata::ClusterInspector::new(
        &bridge.clients,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let mut written = 0;
    for partition in [0, 1] {
        written += inspector.watermarks(&topic, partition).await.unwrap().high;
    }
    assert_eq!(written, 2, "only the two successes are in Kafka");

    let too_many: Vec<Value> = (0..11)
        .map(|i| json!({"id": format!("e{i}"), "value": {"type": "STRING", "data": "x"}}))
        .collect();
    let refused = bridge
        .post(&path, "application/json", &json!({"entries": too_many}))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
    assert_eq!(refused.body["error_code"], json!(400));

    // An entry that is not an object fails the request (Confluent's entries are typed),
    // rather than a 207 with a failure that has no id.
    let not_an_object = bridge
        .post(&path, "application/json", &json!({"entries": [["a"]]}))
        .await;
    assert_eq!(
        not_an_object.status,
        StatusCode::BAD_REQUEST,
        "{not_an_object:?}"
    );
    assert_eq!(not_an_object.body["error_code"], json!(400));
}
