//! The `kafka-gateway` binary as an operator runs it: config errors exit 2 naming the key,
//! `run` serves the bridge and metrics against the real cluster, and SIGTERM drains and
//! exits 0.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::process::gateway_binary;

use tests::process::{ChildGuard, free_port};
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
    let child = Command::new(gateway_binary())
        .arg("run")
        .env(
            "KAFKA_GATEWAY_KAFKA__BOOTSTRAP_SERVERS",
            &services.kafka_bootstrap,
        )
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
    let mut gateway = ChildGuard(child);
    let http = http_client();

    let base = format!("http://127.0.0.1:{bridge_port}");
    let started = Instant::now();
    let root = loop {
        match http.get(format!("{base}/")).send().await {
            Ok(response) => break response,
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("the bridge did not answer within 30 s: {error}"),
        }
    };
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

    let status = gateway.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}
