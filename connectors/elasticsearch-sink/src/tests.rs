//! Tier-2 tests: the task against an in-process fake `_bulk` endpoint that rejects items with
//! 429 on their first attempt, fails whole requests, or reports mapping conflicts.
#![allow(clippy::disallowed_methods, reason = "test tasks need no names")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use connect_api::{ConfigMap, ConnectError, ConnectRecord, SinkConnector, SinkRecord, SinkTask};
use serde_json::{Value, json};

use crate::ElasticsearchSink;

#[derive(Debug, Default)]
struct Fake {
    documents: BTreeMap<String, Value>,
    seen: BTreeMap<String, u32>,
    requests: u32,
    /// Whole requests to answer with 503 first.
    fail_requests: u32,
    /// Reject a document whose `n` field is a string, as a long-mapped field would.
    strict: bool,
}

type Shared = Arc<Mutex<Fake>>;

async fn bulk(State(fake): State<Shared>, body: String) -> (StatusCode, String) {
    let mut fake = fake.lock().unwrap();
    fake.requests += 1;
    if fake.fail_requests > 0 {
        fake.fail_requests -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, "{}".to_owned());
    }
    let mut lines = body.lines();
    let mut items = Vec::new();
    while let Some(action) = lines.next() {
        let action: Value = serde_json::from_str(action).unwrap();
        let (operation, meta) = action.as_object().unwrap().iter().next().unwrap();
        let id = meta["_id"].as_str().unwrap().to_owned();
        let source: Option<Value> = if operation == "delete" {
            None
        } else {
            lines.next().map(|l| serde_json::from_str(l).unwrap())
        };
        let attempts = fake.seen.entry(id.clone()).or_default();
        *attempts += 1;
        let item = if *attempts == 1 && id.ends_with('7') {
            json!({"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}})
        } else if fake.strict && source.as_ref().is_some_and(|s| s["n"].is_string()) {
            json!({"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [n] of type [long]"}})
        } else {
            match source {
                Some(source) => {
                    fake.documents.insert(id, source);
                }
                None => {
                    fake.documents.remove(&id);
                }
            }
            json!({"status": 200, "result": "updated"})
        };
        items.push(json!({operation.clone(): item}));
    }
    (
        StatusCode::OK,
        json!({"errors": true, "items": items}).to_string(),
    )
}

async fn serve(fake: Shared) -> String {
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                axum::Json(json!({"version": {"distribution": "opensearch", "number": "2.19.6"}}))
            }),
        )
        .route("/_bulk", post(bulk))
        .route(
            "/{index}",
            get(|| async { "{}" }).head(|| async { StatusCode::OK }),
        )
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn config(url: &str, extra: &[(&str, &str)]) -> ConfigMap {
    let mut map: ConfigMap = [
        ("name", "fake"),
        ("connection.url", url),
        ("batch.size", "10"),
        ("retry.backoff.ms", "1"),
        ("behavior.on.null.values", "delete"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in extra {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    map
}

fn record(offset: i64, key: &str, value: Value) -> SinkRecord {
    SinkRecord {
        record: ConnectRecord::new("t", None, value).with_key(None, json!(key)),
        original_topic: "t".to_owned(),
        kafka_partition: 0,
        kafka_offset: offset,
    }
}

#[tokio::test]
async fn rejected_items_are_retried_in_order_and_flush_waits_for_them() {
    let fake = Shared::default();
    let url = serve(Arc::clone(&fake)).await;
    let mut task = ElasticsearchSink
        .create_task(&config(&url, &[]), connect_api::SinkTaskContext::default())
        .await
        .unwrap();
    // Two versions of each of 20 ids in one put: the first attempt of ids ending in 7 is
    // rejected; the later version must still win.
    let mut records = Vec::new();
    for round in 0..2 {
        for id in 0..20 {
            records.push(record(
                round * 20 + id,
                &format!("id{id}"),
                json!({"v": round}),
            ));
        }
    }
    task.put(&records).await.unwrap();
    task.flush().await.unwrap();
    let fake_state = fake.lock().unwrap();
    assert_eq!(fake_state.documents.len(), 20);
    for (id, document) in &fake_state.documents {
        assert_eq!(document["v"], 1, "{id} holds the latest version");
    }
    let counters = task.counters();
    assert_eq!(counters.items_retried, 2);
    assert_eq!(counters.documents_indexed, 40);
}

#[tokio::test]
async fn failed_requests_are_retried_and_flush_reports_after_max_retries() {
    let fake = Shared::default();
    fake.lock().unwrap().fail_requests = 3;
    let url = serve(Arc::clone(&fake)).await;
    let mut task = ElasticsearchSink
        .create_task(
            &config(
                &url,
                &[("max.retries", "1"), ("max.in.flight.requests", "1")],
            ),
            connect_api::SinkTaskContext::default(),
        )
        .await
        .unwrap();
    task.put(&[record(0, "a", json!({"v": 1}))]).await.unwrap();
    // The first flush may see the stall; retrying the flush (as the runtime does) succeeds.
    let mut flushed = false;
    for _ in 0..50 {
        match task.flush().await {
            Ok(()) => {
                flushed = true;
                break;
            }
            Err(error) => {
                assert!(error.is_retriable(), "{error}");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
    assert!(flushed);
    assert_eq!(fake.lock().unwrap().documents.len(), 1);
    assert!(task.counters().requests_retried >= 3);
}

#[tokio::test]
async fn malformed_documents_follow_the_behavior() {
    for (behavior, fails) in [("ignore", false), ("warn", false), ("fail", true)] {
        let fake = Shared::default();
        fake.lock().unwrap().strict = true;
        let url = serve(Arc::clone(&fake)).await;
        let mut task = ElasticsearchSink
            .create_task(
                &config(&url, &[("behavior.on.malformed.documents", behavior)]),
                connect_api::SinkTaskContext::default(),
            )
            .await
            .unwrap();
        task.put(&[
            record(0, "good", json!({"n": 1})),
            record(1, "bad", json!({"n": "one"})),
        ])
        .await
        .unwrap();
        let result = task.flush().await;
        if fails {
            let error = result.unwrap_err();
            assert!(matches!(error, ConnectError::Definite { .. }), "{error}");
            assert!(
                error.to_string().contains("mapper_parsing_exception"),
                "{error}"
            );
        } else {
            result.unwrap();
            assert_eq!(task.counters().documents_malformed, 1, "{behavior}");
        }
        assert!(fake.lock().unwrap().documents.contains_key("good"));
    }
}

#[tokio::test]
async fn tombstones_delete_and_backpressure_bounds_the_buffer() {
    let fake = Shared::default();
    let url = serve(Arc::clone(&fake)).await;
    let mut task = ElasticsearchSink
        .create_task(
            &config(&url, &[("max.buffered.records", "3")]),
            connect_api::SinkTaskContext::default(),
        )
        .await
        .unwrap();
    let records: Vec<_> = (0..30)
        .map(|i| record(i, &format!("k{i}"), json!({"i": i})))
        .collect();
    task.put(&records).await.unwrap();
    task.put(&[record(30, "k0", Value::Null)]).await.unwrap();
    task.flush().await.unwrap();
    let state = fake.lock().unwrap();
    assert_eq!(state.documents.len(), 29);
    assert!(!state.documents.contains_key("k0"));
}
