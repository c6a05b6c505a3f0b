//! Edge protection of the bridge against the real cluster A: the concurrency limit answers
//! 503 in the error body while the requests already admitted are still served, a request
//! past the timeout gets 504, and a graceful shutdown lets an in-flight produce finish,
//! flushes records accepted asynchronously and closes consumer instances, all within the
//! deadline. (The 413 body limit is in `bridge_produce`.)

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bridge::{BridgeConfig, Flavor, ProducerConfig};
use broker_core::Shutdown;
use futures::StreamExt as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};
use tests::{Services, create_topic, http_client, kafka_clients, unique_name};

use crate::bridge_common::{BINARY, Bridge, V2, b64};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_limit_sheds_with_503_while_admitted_requests_finish() {
    let mut config = BridgeConfig::default();
    config.http.max_concurrent_requests = 2;
    config.consumer_request_timeout_ms = 3000;
    let bridge = std::sync::Arc::new(Bridge::with_config(config).await);
    let topic = unique_name("bridge_edge_limit");
    create_topic(&bridge.clients, &topic, 1).await;
    let group = unique_name("edge_limit_group");
    let created = bridge
        .post(&format!("/consumers/{group}"), V2, &json!({"name": "slow"}))
        .await;
    assert_eq!(created.status, StatusCode::OK, "{created:?}");
    let base = format!("/consumers/{group}/instances/slow");
    let assigned = bridge
        .post(
            &format!("{base}/assignments"),
            V2,
            &json!({"partitions": [{"topic": topic, "partition": 0}]}),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::NO_CONTENT, "{assigned:?}");

    // Two long polls on an empty topic take both slots for about 3 s.
    let polls: Vec<_> = (0..2)
        .map(|_| {
            let (bridge, uri) = (
                std::sync::Arc::clone(&bridge),
                format!("{base}/records?timeout=3000"),
            );
            tokio::spawn(async move {
                bridge
                    .call_with(Method::GET, &uri, None, Some(BINARY), None)
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shed = bridge.get("/topics").await;
    assert_eq!(shed.status, StatusCode::SERVICE_UNAVAILABLE, "{shed:?}");
    assert_eq!(shed.body["error_code"], json!(503), "{shed:?}");
    assert!(shed.body["message"].is_string(), "{shed:?}");
    for poll in polls {
        let reply = poll.await.expect("poll task");
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "admitted request served: {reply:?}"
        );
        assert_eq!(reply.body, json!([]));
    }
    let after = bridge.get("/topics").await;
    assert_eq!(after.status, StatusCode::OK, "{after:?}");
}

#[tokio::test]
async fn request_past_the_timeout_gets_504_in_the_error_body() {
    let mut config = BridgeConfig::default();
    config.http.request_timeout_ms = 1500;
    config.consumer_request_timeout_ms = 1000;
    let bridge = Bridge::with_config(config).await;
    let topic = unique_name("bridge_edge_timeout");
    create_topic(&bridge.clients, &topic, 1).await;
    // A client that starts a body and never finishes it.
    let stalled = futures::stream::once(async {
        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"{\"records\":["))
    })
    .chain(futures::stream::pending());
    let request = Request::post(format!("/topics/{topic}"))
        .header("content-type", BINARY)
        .body(Body::from_stream(stalled))
        .expect("request");
    let started = Instant::now();
    let reply = bridge.send(request).await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT, "{reply:?}");
    assert_eq!(reply.body["error_code"], json!(504), "{reply:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("free port")
}

/// Members of `group` as the coordinator sees them.
fn group_members(bootstrap: &str, group: &str) -> usize {
    let client: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("client");
    client
        .fetch_group_list(Some(group), Duration::from_secs(10))
        .expect("group list")
        .groups()
        .iter()
        .map(|g| g.members().len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_finishes_in_flight_flushes_and_closes_consumers() {
    let bootstrap = Services::from_env().kafka_bootstrap;
    let clients = kafka_clients(&bootstrap).await;
    let topic = unique_name("bridge_edge_shutdown");
    create_topic(&clients, &topic, 1).await;
    let port = free_port();
    let mut config = BridgeConfig {
        flavor: Flavor::Strimzi,
        // Records wait 1.5 s in the producer: a produce is in flight when shutdown comes,
        // and records accepted with async=true are still unsent.
        producer: ProducerConfig {
            linger_ms: Some(1500),
            ..ProducerConfig::default()
        },
        ..BridgeConfig::default()
    };
    config.http.listen = Some(format!("127.0.0.1:{port}"));
    config.http.shutdown_deadline_ms = 10_000;
    let validated = config.validate("bridge").expect("valid config");
    let deadline = validated.listener.shutdown_deadline;
    let shutdown = Shutdown::new();
    let server = tokio::spawn(bridge::run(
        validated,
        clients.clone(),
        broker_core::telemetry::MetricsRegistry::new(),
        shutdown.clone(),
    ));
    let base = format!("http://127.0.0.1:{port}");
    let http = http_client();
    let started = Instant::now();
    while http.get(format!("{base}/healthy")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "bridge not up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A consumer instance that has joined its group.
    let group = unique_name("edge_shutdown_group");
    let created = http
        .post(format!("{base}/consumers/{group}"))
        .header("content-type", V2)
        .body(json!({"name": "c1", "format": "binary"}).to_string())
        .send()
        .await
        .expect("create consumer");
    assert_eq!(created.status(), StatusCode::OK);
    let instance = format!("{base}/consumers/{group}/instances/c1");
    let subscribed = http
        .post(format!("{instance}/subscription"))
        .header("content-type", V2)
        .body(json!({"topics": [topic]}).to_string())
        .send()
        .await
        .expect("subscribe");
    assert_eq!(subscribed.status(), StatusCode::NO_CONTENT);
    let started = Instant::now();
    while group_members(&bootstrap, &group) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "consumer never joined"
        );
        let _ = http
            .get(format!("{instance}/records?timeout=1000"))
            .header("accept", BINARY)
            .send()
            .await;
    }

    // Fire-and-forget records, then one produce that is in flight when shutdown comes.
    let accepted = http
        .post(format!("{base}/topics/{topic}?async=true"))
        .header("content-type", BINARY)
        .body(json!({"records": [{"value": b64(b"async")}]}).to_string())
        .send()
        .await
        .expect("async produce");
    assert_eq!(accepted.status(), StatusCode::NO_CONTENT);
    let in_flight = tokio::spawn({
        let (http, url) = (http.clone(), format!("{base}/topics/{topic}"));
        async move {
            http.post(url)
                .header("content-type", BINARY)
                .body(json!({"records": [{"value": b64(b"in-flight")}]}).to_string())
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    shutdown.trigger();

    let response = in_flight
        .await
        .expect("task")
        .expect("in-flight produce answered");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert!(body["offsets"][0]["offset"].is_i64(), "{body}");
    tokio::time::timeout(deadline + Duration::from_secs(2), server)
        .await
        .expect("bridge stopped within the deadline")
        .expect("task")
        .expect("clean stop");
    assert!(signalled.elapsed() < deadline, "{:?}", signalled.elapsed());
    assert!(
        http.get(format!("{base}/healthy")).send().await.is_err(),
        "the listener is closed"
    );
    assert_eq!(
        group_members(&bootstrap, &group),
        0,
        "the consumer instance left its group on shutdown"
    );

    // Both records are in the topic: the async one was flushed, not dropped.
    let consumer = clients
        .consumer(&unique_name("edge_check"))
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(&topic, 0, Offset::Beginning)
        .expect("partition");
    consumer.assign(&list).expect("assign");
    let mut values = Vec::new();
    let mut stream = consumer.stream();
    while values.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(15), stream.next())
            .await
            .expect("records after shutdown")
            .expect("stream")
            .expect("message");
        values.push(message.payload().unwrap_or_default().to_vec());
    }
    values.sort();
    assert_eq!(values, vec![b"async".to_vec(), b"in-flight".to_vec()]);
}
