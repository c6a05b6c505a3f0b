//! Two `kafka-gateway schema-registry` processes on one topic and group: one primary
//! elected through Kafka, writes through the other forwarded to it, and after a `kill -9`
//! of the primary the survivor takes over without ever reusing an id.
//!
//! Needs the binary: `cargo build -p gateway` first (same target dir and profile).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::process::{GatewayProcess, free_port};
use tests::{Services, http_client, unique_name};

use crate::schema_registry_common::clients;

struct Instance {
    process: GatewayProcess,
    url: String,
}

fn spawn(config_dir: &std::path::Path, name: &str, topic: &str, group: &str) -> Instance {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let config = format!(
        "[kafka]\nbootstrap_servers = \"{}\"\n\n[telemetry]\nlog_format = \"json\"\n\n\
         [schema_registry]\nenabled = true\nkafkastore_topic = \"{topic}\"\ngroup_id = \"{group}\"\n\
         advertised_url = \"{url}\"\nelection_session_timeout_ms = 6000\n\n\
         [schema_registry.http]\nlisten = \"127.0.0.1:{port}\"\n",
        Services::from_env().kafka_bootstrap
    );
    let path = config_dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).expect("config file");
    let process = GatewayProcess::spawn(
        &[
            "schema-registry",
            "--config",
            path.to_str().expect("utf-8 path"),
        ],
        &[],
        config_dir.join(format!("{name}.log")),
    );
    Instance { process, url }
}

/// Registers `schema` under `subject` through `instance`, retrying answers 500 (election
/// or primary moving) for up to `patience`.
async fn register(instance: &Instance, subject: &str, schema: &str, patience: Duration) -> i64 {
    let client = http_client();
    let started = Instant::now();
    loop {
        let reply = client
            .post(format!("{}/subjects/{subject}/versions", instance.url))
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .json(&json!({"schema": schema}))
            .send()
            .await;
        let outcome = match reply {
            Ok(reply) => {
                let status = reply.status();
                let body: Value = reply.json().await.unwrap_or(Value::Null);
                if status.is_success() {
                    return body["id"].as_i64().expect("id");
                }
                assert!(status.is_server_error(), "{status} {body}");
                format!("{status} {body}")
            }
            Err(error) => error.to_string(),
        };
        assert!(
            started.elapsed() < patience,
            "no registration through {} within {patience:?}: {outcome}\nlog:\n{}",
            instance.url,
            instance.process.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Whether the process's last election log line says it is the primary.
fn is_leader(instance: &Instance) -> bool {
    instance
        .process
        .log()
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == json!("schema registry primary changed"))
        .is_some_and(|line| line["is_leader"] == json!(true))
}

fn record(index: usize) -> String {
    format!(r#"{{"type":"record","name":"R{index}","fields":[{{"name":"a","type":"int"}}]}}"#)
}

#[tokio::test]
async fn survivor_takes_over_after_kill_9_and_never_reuses_ids() {
    // Fails with the start hint when Kafka is down.
    clients().await;
    let dir = std::env::temp_dir().join(unique_name("sr_cluster"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let topic = unique_name("_schemas_cluster");
    let group = unique_name("sr_cluster_group");
    let first = spawn(&dir, "first", &topic, &group);
    let mut ids = vec![register(&first, "s0", &record(0), Duration::from_secs(60)).await];
    let second = spawn(&dir, "second", &topic, &group);
    let mut instances = [first, second];
    // Writes through both: the secondary forwards to the primary.
    for index in 1..7 {
        let instance = &instances[index % 2];
        ids.push(
            register(
                instance,
                &format!("s{index}"),
                &record(index),
                Duration::from_secs(60),
            )
            .await,
        );
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "ids are unique: {ids:?}");
    // The secondary serves reads from its own copy.
    let client = http_client();
    for instance in &instances {
        let subjects: Value = client
            .get(format!("{}/subjects", instance.url))
            .send()
            .await
            .expect("subjects")
            .json()
            .await
            .expect("json");
        assert!(
            subjects.as_array().is_some_and(|s| s.len() >= 6),
            "{subjects}"
        );
    }
    let leader = (0..2)
        .find(|&index| is_leader(&instances[index]))
        .unwrap_or_else(|| {
            panic!(
                "no primary in the logs:\n{}\n{}",
                instances[0].process.log(),
                instances[1].process.log()
            )
        });
    instances[leader].process.child.0.kill().expect("kill -9");
    let survivor = &instances[1 - leader];
    let max_before = *ids.iter().max().expect("ids");
    let after = register(
        survivor,
        "after-crash",
        &record(99),
        Duration::from_secs(90),
    )
    .await;
    assert!(
        after > max_before,
        "id {after} reused or below {max_before}: {ids:?}"
    );
    // Everything registered before the crash is still served, with its id.
    for (index, id) in ids.iter().enumerate() {
        let reply: Value = client
            .get(format!("{}/subjects/s{index}/versions/1", survivor.url))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(reply["id"], json!(id), "{reply}");
    }
    assert!(
        is_leader(survivor),
        "survivor log:\n{}",
        survivor.process.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
