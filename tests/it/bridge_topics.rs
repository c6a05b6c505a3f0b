//! Topic metadata, brokers, status routes and OpenAPI through the bridge's HTTP layer.

use axum::http::{Method, StatusCode};
use bridge::Flavor;
use serde_json::json;
use tests::{create_topic, unique_name};

use crate::bridge_common::{Bridge, TEXT};

#[tokio::test]
async fn topic_partition_and_offset_metadata() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let topic = unique_name("bridge_meta");
    create_topic(&bridge.clients, &topic, 2).await;
    let produced = bridge
        .post(
            &format!("/topics/{topic}/partitions/1"),
            TEXT,
            &json!({"records": [{"value": "a"}, {"value": "b"}]}),
        )
        .await;
    assert_eq!(produced.status, StatusCode::OK, "{produced:?}");

    let list = bridge.get("/topics").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.headers["content-type"],
        "application/vnd.kafka.v2+json"
    );
    assert!(list.body.as_array().unwrap().contains(&json!(topic)));
    assert!(
        !list
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().starts_with("__"))
    );

    let described = bridge.get(&format!("/topics/{topic}")).await;
    assert_eq!(described.status, StatusCode::OK, "{described:?}");
    assert_eq!(described.body["name"], json!(topic));
    assert_eq!(described.body["partitions"].as_array().unwrap().len(), 2);
    assert!(
        described.body["configs"]["cleanup.policy"].is_string(),
        "{described:?}"
    );
    let replica = &described.body["partitions"][0]["replicas"][0];
    assert_eq!(replica["leader"], json!(true));
    assert_eq!(replica["in_sync"], json!(true));

    let partitions = bridge.get(&format!("/topics/{topic}/partitions")).await;
    assert_eq!(partitions.body.as_array().unwrap().len(), 2);
    let one = bridge.get(&format!("/topics/{topic}/partitions/1")).await;
    assert_eq!(one.body["partition"], json!(1));
    let offsets = bridge
        .get(&format!("/topics/{topic}/partitions/1/offsets"))
        .await;
    assert_eq!(
        offsets.body,
        json!({"beginning_offset": 0, "end_offset": 2})
    );

    let missing_topic = unique_name("missing");
    for path in [
        format!("/topics/{missing_topic}"),
        format!("/topics/{missing_topic}/partitions"),
        format!("/topics/{missing_topic}/partitions/0/offsets"),
    ] {
        let reply = bridge.get(&path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.body["error_code"], json!(40401), "{path}");
    }
    for path in [
        format!("/topics/{topic}/partitions/7"),
        format!("/topics/{topic}/partitions/7/offsets"),
    ] {
        let reply = bridge.get(&path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.body["error_code"], json!(40402), "{path}");
    }
    let reply = bridge.get(&format!("/topics/{topic}/partitions/abc")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["error_code"], json!(404));
}

#[tokio::test]
async fn status_routes_brokers_and_unknown_routes() {
    let confluent = Bridge::start(Flavor::Confluent).await;
    assert_eq!(confluent.get("/").await.body, json!({}));
    assert_eq!(
        confluent.get("/healthy").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(confluent.get("/ready").await.status, StatusCode::NO_CONTENT);
    let brokers = confluent.get("/brokers").await;
    assert!(
        !brokers.body["brokers"].as_array().unwrap().is_empty(),
        "{brokers:?}"
    );
    let unknown = confluent.get("/no/such/route").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["error_code"], json!(404));
    let wrong_method = confluent.call(Method::PUT, "/topics", None, None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.body["error_code"], json!(405));

    let strimzi = Bridge::start(Flavor::Strimzi).await;
    assert!(strimzi.get("/").await.body["bridge_version"].is_string());
}

#[tokio::test]
async fn openapi_and_swagger_ui_are_served() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let document = bridge.get("/openapi.json").await;
    assert_eq!(document.status, StatusCode::OK);
    assert!(
        document.body["openapi"]
            .as_str()
            .unwrap()
            .starts_with("3.1")
    );
    assert!(document.body["paths"]["/consumers/{group}"].is_object());
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/bridge.json"
        ))
        .expect("openapi/bridge.json is committed"),
    )
    .unwrap();
    assert_eq!(
        document.body, committed,
        "served document equals the committed one"
    );
    let ui = bridge.get("/swagger-ui/").await;
    assert_eq!(ui.status, StatusCode::OK, "{ui:?}");
    assert!(
        ui.body.as_str().unwrap_or_default().contains("swagger"),
        "{ui:?}"
    );
}

/// Strimzi's `POST /admin/topics`: 201, the topic exists with the asked partitions; a
/// second create is 409 in the flavor's error shape.
#[tokio::test]
async fn strimzi_admin_creates_topics() {
    let bridge = Bridge::start(Flavor::Strimzi).await;
    let topic = unique_name("bridge_admin");
    let body = serde_json::json!({"topic_name": topic, "partitions_count": 3});
    let created = bridge
        .post("/admin/topics", "application/json", &body)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let described = bridge.get(&format!("/topics/{topic}")).await;
    assert_eq!(described.status, StatusCode::OK, "{described:?}");
    assert_eq!(described.body["partitions"].as_array().unwrap().len(), 3);
    let again = bridge
        .post("/admin/topics", "application/json", &body)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
    assert_eq!(again.body["error_code"], serde_json::json!(409));
}
