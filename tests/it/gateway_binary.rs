//! The `kafka-gateway` binary as an operator runs it: config errors exit 2 naming the key,
//! `run` serves the bridge and metrics against the real cluster, and SIGTERM drains and
//! exits 0.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::process::{ChildGuard, free_port, gateway_binary};
use tests::{Services, create_topic, http_client, kafka_clients, unique_name};

#[test]
fn typo_in_config_exits_2_and_names_the_key() {
    let dir = std::env::temp_dir().join(unique_name("gateway-config"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gateway.toml");
    std::fs::write(&path, "[bridge]\nflavour = \"strimzi\"\n").unwrap();
    let output = Command::new(gateway_binary())
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("flavour"), "{stderr}");
}

#[test]
fn secrets_are_hidden_by_check_config() {
    let output = Command::new(gateway_binary())
        .arg("check-config")
        .env(
            "KAFKA_GATEWAY_KAFKA__PROPERTIES__SASL_PASSWORD",
            "canary-secret-4711",
        )
        .output()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("sasl.password"), "{stdout}");
    assert!(!stdout.contains("canary-secret-4711"), "{stdout}");
}

#[tokio::test]
async fn run_serves_the_cluster_and_drains_on_sigterm() {
    let services = Services::from_env();
    let clients = kafka_clients(&services.kafka_bootstrap).await;
    let topic = unique_name("binary");
    create_topic(&clients, &topic, 1).await;

    let bridge_port = free_port();
    let metrics_port = free_port();
    let mut gateway = spawn_run(&services.kafka_bootstrap, bridge_port, metrics_port);
    let http = http_client();

    let base = format!("http://127.0.0.1:{bridge_port}");
    let root = first_answer(&http, &format!("{base}/")).await;
    assert_eq!(root.status().as_u16(), 200);
    assert_eq!(root.text().await.unwrap(), "{}");

    let topics: Vec<String> = http
        .get(format!("{base}/topics"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(topics.contains(&topic), "{topics:?} lacks {topic}");

    let metrics = http
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("kafka_gateway_build_info"), "{metrics}");

    // Probes need no credentials and name each service's state and the Kafka check.
    let live = http
        .get(format!("http://127.0.0.1:{metrics_port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status().as_u16(), 200);
    let ready = http
        .get(format!("http://127.0.0.1:{metrics_port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["kafka"]["reachable"], true, "{ready}");
    assert_eq!(ready["services"]["bridge"]["state"], "running", "{ready}");
    assert_eq!(ready["services"]["metrics"]["state"], "running", "{ready}");

    let status = gateway.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

/// With Kafka unreachable the process is alive but not ready, and says why.
#[tokio::test]
async fn readyz_is_503_while_kafka_is_unreachable() {
    // A port nothing listens on: connections are refused at once.
    let dead_kafka = format!("127.0.0.1:{}", free_port());
    let metrics_port = free_port();
    let mut gateway = spawn_run(&dead_kafka, free_port(), metrics_port);
    let http = http_client();
    let ready = first_answer(&http, &format!("http://127.0.0.1:{metrics_port}/readyz")).await;
    assert_eq!(ready.status().as_u16(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], false, "{ready}");
    assert_eq!(ready["kafka"]["reachable"], false, "{ready}");
    assert!(
        ready["kafka"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{ready}"
    );
    let live = http
        .get(format!("http://127.0.0.1:{metrics_port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status().as_u16(), 200);
    let status = gateway.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

/// A bridge killed with SIGKILL and started again on the same ports: the time from the
/// restart to the first produce request Kafka acknowledged (#21's recovery table).
#[tokio::test]
async fn bridge_answers_produce_again_soon_after_a_kill_9() {
    let services = Services::from_env();
    let clients = kafka_clients(&services.kafka_bootstrap).await;
    let topic = unique_name("bridge_kill");
    create_topic(&clients, &topic, 1).await;
    let (bridge_port, metrics_port) = (free_port(), free_port());
    let http = http_client();
    let url = format!("http://127.0.0.1:{bridge_port}/topics/{topic}");
    let produce = || {
        http.post(&url)
            .header("content-type", "application/vnd.kafka.json.v2+json")
            .json(&serde_json::json!({"records": [{"value": {"n": 1}}]}))
            .send()
    };
    let mut gateway = spawn_run(&services.kafka_bootstrap, bridge_port, metrics_port);
    let started = Instant::now();
    while !produce().await.is_ok_and(|r| r.status().is_success()) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no produce answered 200 in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gateway.0.kill().expect("SIGKILL");
    gateway.0.wait().expect("reaped");

    let restarted = Instant::now();
    let _gateway = spawn_run(&services.kafka_bootstrap, bridge_port, metrics_port);
    let mut refused = 0;
    loop {
        match produce().await {
            Ok(response) if response.status().is_success() => break,
            Ok(response) => panic!("produce after the restart answered {}", response.status()),
            Err(_) => refused += 1,
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(60),
            "no produce answered 200 within 60 s of the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "bridge kill -9: first produce acknowledged {:?} after the restart ({refused} \
         connections refused before)",
        restarted.elapsed()
    );
}

/// `kafka-gateway run` with the default config on `kafka`, the bridge and metrics on the
/// given ports.
fn spawn_run(kafka: &str, bridge_port: u16, metrics_port: u16) -> ChildGuard {
    let child = Command::new(gateway_binary())
        .arg("run")
        .env("KAFKA_GATEWAY_KAFKA__BOOTSTRAP_SERVERS", kafka)
        .env(
            "KAFKA_GATEWAY_BRIDGE__HTTP__LISTEN",
            format!("127.0.0.1:{bridge_port}"),
        )
        .env(
            "KAFKA_GATEWAY_METRICS__HTTP__LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    ChildGuard(child)
}

/// The first answer of `url`, retried while the listener is not up yet (at most 30 s).
async fn first_answer(http: &reqwest::Client, url: &str) -> reqwest::Response {
    let started = Instant::now();
    loop {
        match http.get(url).send().await {
            Ok(response) => return response,
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("{url} did not answer within 30 s: {error}"),
        }
    }
}
