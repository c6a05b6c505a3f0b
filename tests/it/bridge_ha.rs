//! Consumer instances that any node serves (issue #14, part 1): three `kafka-gateway`
//! processes with `[bridge.cluster]` behind a real HAProxy (Debian's package) balancing
//! round-robin without stickiness, on random ports with a generated configuration.
//!
//! A client creates an instance through the load balancer, subscribes, and reads and
//! commits through it without ever naming a node. The owner is killed with SIGKILL during
//! consumption, and later the new owner is stopped gracefully (SIGTERM) and started again:
//! every answer's status is asserted (never a 404), the client keeps the same instance URL,
//! and every key produced is read (records handed out and not committed may come again,
//! only after a failure). Expiry is seen alike on every node, and an instance deleted
//! through one node is gone on all.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use tests::{create_topic, kafka_clients, unique_name};

use crate::bridge_common::{BINARY, V2, unb64};
use crate::bridge_ha_support::{BridgeCluster, LEASE_MS, NODES, PARTITIONS};

async fn producer(bootstrap: &str) -> FutureProducer {
    kafka_clients(bootstrap).await.producer().expect("producer")
}

async fn produce(
    producer: &FutureProducer,
    topic: &str,
    keys: impl Iterator<Item = String>,
) -> Vec<String> {
    let mut sent = Vec::new();
    for key in keys {
        producer
            .send(
                FutureRecord::to(topic)
                    .key(key.as_bytes())
                    .payload(key.as_bytes()),
                Duration::from_secs(10),
            )
            .await
            .expect("record acknowledged");
        sent.push(key);
    }
    sent
}

/// What the client saw, request by request.
#[derive(Default)]
struct ClientLog {
    statuses: BTreeMap<(String, u16), usize>,
    /// Answers of the load balancer itself while a node went away (502/503).
    retried: usize,
    /// Requests whose connection the load balancer closed without an answer.
    closed: usize,
    reads: HashMap<String, Vec<Instant>>,
}

impl ClientLog {
    fn count(&mut self, what: &str, status: u16) {
        *self.statuses.entry((what.to_owned(), status)).or_default() += 1;
    }

    fn note_records(&mut self, body: &Value) {
        let now = Instant::now();
        for record in body.as_array().expect("records array") {
            let key = record["key"].as_str().expect("binary key");
            let key = String::from_utf8(unb64(key)).expect("utf-8 key");
            self.reads.entry(key).or_default().push(now);
        }
    }

    /// Adds what a concurrent request saw, and the records it returned.
    fn merge(&mut self, other: Self, body: &Value) {
        for (what, count) in other.statuses {
            *self.statuses.entry(what).or_default() += count;
        }
        self.retried += other.retried;
        self.closed += other.closed;
        self.note_records(body);
    }
}

/// One request through the load balancer; a 502/503 of the load balancer while a node
/// dies is retried (what any client behind a load balancer does); a 404 fails the test.
async fn call(
    cluster: &BridgeCluster,
    log: &mut ClientLog,
    what: &str,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> (u16, Value) {
    for _ in 0..20 {
        let answer = match request().send().await {
            Ok(answer) => answer,
            Err(error) if !error.is_timeout() => {
                // The request in flight on a node that dies: HAProxy closes the client's
                // connection (or answers 502, below); a client retries either.
                println!(
                    "{what}: connection closed without an answer ({error}: {:?}), retrying",
                    std::error::Error::source(&error)
                );
                log.closed += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(error) => panic!("{what}: no answer in time: {error}\n{}", cluster.logs()),
        };
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        log.count(what, status);
        assert_ne!(status, 404, "{what}: 404 {body}\n{}", cluster.logs());
        if status == 502 || status == 503 || status == 504 {
            log.retried += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        return (status, body);
    }
    panic!("{what}: no answer but 5xx 20 times\n{}", cluster.logs());
}

/// Reads and commits through the load balancer until every key of `expected` was read or
/// `deadline` passed.
async fn consume_until(
    cluster: &BridgeCluster,
    log: &mut ClientLog,
    base_uri: &str,
    expected: &HashSet<String>,
    deadline: Duration,
) {
    let started = Instant::now();
    while !expected.iter().all(|key| log.reads.contains_key(key)) {
        assert!(
            started.elapsed() < deadline,
            "{} of {} keys read within {deadline:?}\n{}",
            expected
                .iter()
                .filter(|k| log.reads.contains_key(*k))
                .count(),
            expected.len(),
            cluster.logs()
        );
        read_and_commit(cluster, log, base_uri).await;
    }
}

/// One records request; the keys it returned are noted.
async fn read(cluster: &BridgeCluster, log: &mut ClientLog, base_uri: &str, what: &str) {
    let (status, body) = call(cluster, log, what, || {
        cluster
            .http
            .get(format!("{base_uri}/records?timeout=1000&max_records=20"))
            .header("accept", BINARY)
    })
    .await;
    assert_eq!(status, 200, "records: {body}");
    log.note_records(&body);
}

async fn read_and_commit(cluster: &BridgeCluster, log: &mut ClientLog, base_uri: &str) {
    read(cluster, log, base_uri, "records").await;
    let (status, body) = call(cluster, log, "commit", || {
        cluster
            .http
            .post(format!("{base_uri}/offsets"))
            .header("content-type", V2)
    })
    .await;
    assert_eq!(status, 200, "commit: {body}");
}

fn assert_duplicates_only_after(log: &ClientLog, failures: &[Instant]) {
    let first_failure = failures.iter().min().copied();
    for (key, reads) in &log.reads {
        if reads.len() > 1 {
            let first_failure =
                first_failure.unwrap_or_else(|| panic!("{key} read twice without a failure"));
            assert!(
                reads[1..].iter().all(|at| *at >= first_failure),
                "{key} read again before any failure"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn owner_killed_and_restarted_behind_a_round_robin_balancer_loses_no_record() {
    let mut cluster = BridgeCluster::start(300_000).await;
    let topic = unique_name("bridge_ha");
    let group = unique_name("bridge_ha_group");
    create_topic(&kafka_clients(&cluster.bootstrap).await, &topic, PARTITIONS).await;
    let producer = producer(&cluster.bootstrap).await;
    let mut log = ClientLog::default();

    let (status, created) = call(&cluster, &mut log, "create", || {
        cluster
            .http
            .post(format!("{}/consumers/{group}", cluster.lb_url))
            .header("content-type", V2)
            .json(&json!({"format": "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false"}))
    })
    .await;
    assert_eq!(status, 200, "create: {created}");
    let base_uri = created["base_uri"].as_str().expect("base_uri").to_owned();
    let instance = created["instance_id"]
        .as_str()
        .expect("instance_id")
        .to_owned();
    assert_eq!(
        base_uri,
        format!("{}/consumers/{group}/instances/{instance}", cluster.lb_url),
        "base_uri is built from advertised_url, the load balancer"
    );
    let (status, body) = call(&cluster, &mut log, "subscribe", || {
        cluster
            .http
            .post(format!("{base_uri}/subscription"))
            .header("content-type", V2)
            .json(&json!({"topics": [topic]}))
    })
    .await;
    assert_eq!(status, 204, "subscribe: {body}");
    // Every node answers the subscription, whichever one owns the instance.
    for index in 0..NODES {
        let answer = cluster
            .http
            .get(format!(
                "{}/consumers/{group}/instances/{instance}/subscription",
                cluster.node_url(index)
            ))
            .send()
            .await
            .expect("node answers");
        assert_eq!(
            answer.status().as_u16(),
            200,
            "subscription via node {index}"
        );
        let body: Value = answer.json().await.expect("json");
        assert_eq!(body["topics"], json!([topic]), "node {index}");
    }

    // Phase 1: records flow and are committed; 20 more are handed out and not committed;
    // the owner is killed with SIGKILL while a records request waits for data; more
    // records come.
    let mut expected: HashSet<String> = produce(
        &producer,
        &topic,
        (0..150).map(|i| format!("committed-{i}")),
    )
    .await
    .into_iter()
    .collect();
    consume_until(
        &cluster,
        &mut log,
        &base_uri,
        &expected,
        Duration::from_secs(60),
    )
    .await;
    let uncommitted: HashSet<String> = produce(
        &producer,
        &topic,
        (0..20).map(|i| format!("uncommitted-{i}")),
    )
    .await
    .into_iter()
    .collect();
    expected.extend(uncommitted.iter().cloned());
    let started = Instant::now();
    while !uncommitted.iter().all(|key| log.reads.contains_key(key)) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "uncommitted records not read\n{}",
            cluster.logs()
        );
        read(&cluster, &mut log, &base_uri, "records").await;
    }
    let owner = cluster.owner_of(&instance);
    let pid = cluster.nodes[owner]
        .as_ref()
        .expect("owner runs")
        .process
        .child
        .0
        .id();
    println!(
        "instance {instance} owned by node {owner}; killing it (SIGKILL) during a records request"
    );
    let mut in_flight = ClientLog::default();
    let killed_at = Instant::now();
    let ((status, body), ()) = tokio::join!(
        call(&cluster, &mut in_flight, "records in flight", || {
            cluster
                .http
                .get(format!("{base_uri}/records?timeout=5000&max_records=20"))
                .header("accept", BINARY)
        }),
        async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let killed = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .expect("kill runs");
            assert!(killed.success(), "SIGKILL to node {owner}");
        }
    );
    assert_eq!(status, 200, "the request in flight at the kill: {body}");
    log.merge(in_flight, &body);
    cluster.kill(owner);
    expected.extend(
        produce(
            &producer,
            &topic,
            (0..150).map(|i| format!("after-kill-{i}")),
        )
        .await,
    );
    consume_until(
        &cluster,
        &mut log,
        &base_uri,
        &expected,
        Duration::from_secs(120),
    )
    .await;
    println!(
        "phase 1: all {} keys read {:?} after the kill",
        expected.len(),
        killed_at.elapsed()
    );
    for key in &uncommitted {
        assert!(
            log.reads[key].len() >= 2,
            "{key} was handed out and not committed before the kill: it comes again"
        );
    }
    cluster.restart(owner).await;

    // Phase 2: the new owner stops gracefully (SIGTERM) and starts again.
    let owner = cluster.owner_of(&instance);
    println!("instance {instance} now owned by node {owner}; stopping it (SIGTERM)");
    expected.extend(
        produce(
            &producer,
            &topic,
            (0..100).map(|i| format!("before-stop-{i}")),
        )
        .await,
    );
    let started = Instant::now();
    while !expected
        .iter()
        .filter(|k| k.starts_with("before-stop"))
        .take(30)
        .all(|k| log.reads.contains_key(k))
        && started.elapsed() < Duration::from_secs(30)
    {
        read_and_commit(&cluster, &mut log, &base_uri).await;
    }
    let stopped_at = Instant::now();
    cluster.terminate(owner).await;
    expected.extend(
        produce(
            &producer,
            &topic,
            (0..100).map(|i| format!("after-stop-{i}")),
        )
        .await,
    );
    consume_until(
        &cluster,
        &mut log,
        &base_uri,
        &expected,
        Duration::from_secs(120),
    )
    .await;
    println!(
        "phase 2: all {} keys read {:?} after the stop",
        expected.len(),
        stopped_at.elapsed()
    );
    cluster.restart(owner).await;
    // The restarted node serves the instance too (forwarding or owning it).
    let answer = cluster
        .http
        .get(format!(
            "{}/consumers/{group}/instances/{instance}/assignments",
            cluster.node_url(owner)
        ))
        .send()
        .await
        .expect("restarted node answers");
    assert_eq!(answer.status().as_u16(), 200);

    assert_duplicates_only_after(&log, &[killed_at, stopped_at]);
    // Only a request in flight on a node that died may go unanswered or get the load
    // balancer's 5xx: one kill, one stop, with some margin for the health checks.
    assert!(
        log.retried + log.closed <= 4,
        "{} load-balancer errors and {} closed connections for two node failures",
        log.retried,
        log.closed
    );
    let forwarded: Vec<usize> = cluster
        .nodes
        .iter()
        .map(|node| {
            node.as_ref().map_or(0, |node| {
                node.process
                    .log()
                    .lines()
                    .filter(|line| line.contains("request forwarded to the owner"))
                    .count()
            })
        })
        .collect();
    println!("requests forwarded by the running nodes: {forwarded:?}");
    assert!(
        forwarded.iter().sum::<usize>() > 0,
        "round-robin without stickiness sends requests to nodes that do not own the instance"
    );
    let duplicates: usize = log.reads.values().map(|reads| reads.len() - 1).sum();
    println!(
        "statuses {:?}; load balancer 5xx retried: {}; connections closed without an answer: {}; keys {} read {} times ({duplicates} again after a failure)",
        log.statuses,
        log.retried,
        log.closed,
        log.reads.len(),
        log.reads.values().map(Vec::len).sum::<usize>()
    );
    let (status, _) = call(&cluster, &mut log, "delete", || {
        cluster
            .http
            .delete(base_uri.clone())
            .header("content-type", V2)
    })
    .await;
    assert_eq!(status, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiry_and_deletion_are_seen_alike_on_every_node() {
    let cluster = BridgeCluster::start(4000).await;
    let group = unique_name("bridge_ha_group");
    let topic = unique_name("bridge_ha");
    create_topic(&kafka_clients(&cluster.bootstrap).await, &topic, 1).await;
    let create = |node: usize, name: &str| {
        cluster
            .http
            .post(format!("{}/consumers/{group}", cluster.node_url(node)))
            .header("content-type", V2)
            .json(&json!({"name": name, "format": "binary"}))
            .send()
    };

    // Deletion through another node than the owner.
    let answer = create(0, "deleted").await.expect("create");
    assert_eq!(answer.status().as_u16(), 200);
    let path = format!("/consumers/{group}/instances/deleted");
    // The name is taken on every node.
    let again = create(2, "deleted").await.expect("create again");
    assert_eq!(
        again.status().as_u16(),
        409,
        "the name is taken cluster-wide"
    );
    for index in 0..NODES {
        let answer = cluster
            .http
            .post(format!("{}{path}/subscription", cluster.node_url(index)))
            .header("content-type", V2)
            .json(&json!({"topics": [topic]}))
            .send()
            .await
            .expect("subscribe");
        assert_eq!(answer.status().as_u16(), 204, "subscribe via node {index}");
    }
    let answer = cluster
        .http
        .delete(format!("{}{path}", cluster.node_url(1)))
        .header("content-type", V2)
        .send()
        .await
        .expect("delete");
    assert_eq!(answer.status().as_u16(), 204, "delete via node 1");
    for index in 0..NODES {
        let answer = cluster
            .http
            .get(format!("{}{path}/subscription", cluster.node_url(index)))
            .send()
            .await
            .expect("answer");
        assert_eq!(
            answer.status().as_u16(),
            404,
            "deleted, seen from node {index}"
        );
        let body: Value = answer.json().await.expect("json");
        assert_eq!(body["error_code"], 40403, "{body}");
    }

    // Expiry after 4 s of disuse, on every node alike.
    let answer = create(1, "expiring").await.expect("create");
    assert_eq!(answer.status().as_u16(), 200);
    let path = format!("/consumers/{group}/instances/expiring");
    for index in 0..NODES {
        let answer = cluster
            .http
            .get(format!("{}{path}/assignments", cluster.node_url(index)))
            .send()
            .await
            .expect("answer");
        assert_eq!(
            answer.status().as_u16(),
            200,
            "alive, seen from node {index}"
        );
    }
    // The timeout, the owner's sweep and its next directory period, and a margin.
    tokio::time::sleep(Duration::from_millis(4000 + 1000 + LEASE_MS / 3 + 3000)).await;
    for index in 0..NODES {
        let answer = cluster
            .http
            .get(format!("{}{path}/assignments", cluster.node_url(index)))
            .send()
            .await
            .expect("answer");
        assert_eq!(
            answer.status().as_u16(),
            404,
            "expired, seen from node {index}\n{}",
            cluster.logs()
        );
    }
}
