//! Debezium change events (as the MySQL source writes them) → Kafka → `ExtractNewRecordState`
//! → the Elasticsearch sink: inserts and updates become documents keyed by the row's primary
//! key, deletes (delete event + tombstone) remove them. The envelopes are produced directly
//! until the MySQL source lands.

use std::time::Duration;

use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::connect_support::{ClusterNames, clients};
use crate::es_sink_support::{
    create_connector, delete_index, documents, produce, search_url, sink_config, start_worker,
};

fn event(op: &str, before: Value, after: Value) -> String {
    json!({"before": before, "after": after, "op": op, "ts_ms": 1_700_000_000_000_i64,
        "source": {"connector": "mysql", "db": "shop", "table": "customers"}})
    .to_string()
}

#[tokio::test]
async fn change_events_become_documents_and_deletes_remove_them() {
    let clients = clients().await;
    let search = search_url().await;
    let topic = unique_name("es_sink_dbserver.shop.customers");
    create_topic(&clients, &topic, 1).await;
    let key = |id: u32| Some(json!({"id": id}).to_string());
    produce(
        &clients,
        &topic,
        &[
            (
                key(1),
                Some(event("c", Value::Null, json!({"id": 1, "name": "ada"}))),
            ),
            (
                key(2),
                Some(event("c", Value::Null, json!({"id": 2, "name": "bob"}))),
            ),
            (
                key(3),
                Some(event("r", Value::Null, json!({"id": 3, "name": "cy"}))),
            ),
            (
                key(1),
                Some(event(
                    "u",
                    json!({"id": 1, "name": "ada"}),
                    json!({"id": 1, "name": "ada l."}),
                )),
            ),
            (
                key(2),
                Some(event("d", json!({"id": 2, "name": "bob"}), Value::Null)),
            ),
            (key(2), None),
        ],
    )
    .await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let index = topic.to_lowercase();
    create_connector(&worker, &unique_name("es-pipeline"), sink_config(&search, &topic, &json!({
        "key.converter": "org.apache.kafka.connect.json.JsonConverter", "key.converter.schemas.enable": "false",
        "transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "behavior.on.null.values": "delete"}))).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let expected: std::collections::BTreeMap<String, Value> = [
        (r#"{"id":1}"#.to_owned(), json!({"id": 1, "name": "ada l."})),
        (r#"{"id":3}"#.to_owned(), json!({"id": 3, "name": "cy"})),
    ]
    .into();
    loop {
        let docs = documents(&search, &index).await;
        if docs == expected {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{docs:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    worker.stop().await;
    delete_index(&search, &index).await;
}
