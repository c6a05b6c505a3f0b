//! Confluent's own Python client and serializers (confluent-kafka 2.16, fastavro,
//! protobuf) against our registry process: what they register, frame and read back.
//! Protobuf goes the way Confluent's serializers send it: a base64 FileDescriptorProto
//! registered, `format=serialized` asked back.

use std::time::{Duration, Instant};

use tests::independent;
use tests::process::{GatewayProcess, free_port};
use tests::{Services, http_client, unique_name};

async fn start_registry(dir: &std::path::Path) -> (GatewayProcess, String) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let config = format!(
        "[kafka]\nbootstrap_servers = \"{}\"\n\n[schema_registry]\nenabled = true\n\
         kafkastore_topic = \"{}\"\ngroup_id = \"{}\"\n\n[schema_registry.http]\n\
         listen = \"127.0.0.1:{port}\"\n",
        Services::from_env().kafka_bootstrap,
        unique_name("_schemas_py"),
        unique_name("sr_py"),
    );
    let path = dir.join("registry.toml");
    std::fs::write(&path, config).expect("config file");
    let process = GatewayProcess::spawn(
        &["schema-registry", "--config", path.to_str().expect("utf-8")],
        &[],
        dir.join("registry.log"),
    );
    let started = Instant::now();
    loop {
        if let Ok(reply) = http_client().get(format!("{url}/subjects")).send().await
            && reply.status().is_success()
        {
            return (process, url);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the registry did not answer within 60 s:\n{}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn confluent_python_serializers_round_trip_through_our_registry() {
    let dir = std::env::temp_dir().join(unique_name("sr_py"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (process, url) = start_registry(&dir).await;
    let topic = unique_name("py");
    let script_url = url.clone();
    let lines = tokio::task::spawn_blocking(move || {
        independent::run("registry_clients.py", &[&script_url, &topic])
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\nregistry log:\n{}", process.log()));

    let avro = independent::check(&lines, "avro");
    assert_eq!(avro["framed_id"], avro["latest_id"], "{avro}");
    assert_eq!(avro["latest_version"], 1, "{avro}");
    assert_eq!(avro["round_trip"], true, "{avro}");
    assert_eq!(avro["decoded_note"], "first", "{avro}");

    let protobuf = independent::check(&lines, "protobuf");
    assert_eq!(protobuf["framed_id"], protobuf["latest_id"], "{protobuf}");
    assert_eq!(protobuf["schema_type"], "PROTOBUF", "{protobuf}");
    assert_eq!(protobuf["round_trip"], true, "{protobuf}");
    let text = protobuf["stored_text"].as_str().expect("text");
    // Stored as .proto source printed from the descriptor, not as base64.
    assert!(text.starts_with("syntax = \"proto3\";"), "{text}");
    assert!(text.contains("message Order {"), "{text}");
    assert!(text.contains("repeated .shop.Line lines = 2;"), "{text}");
    // Second message of the file: indexes [1], written as count 1 then 1 (zig-zag 2, 2).
    assert_eq!(protobuf["message_index_byte"], 2, "{protobuf}");
    assert_eq!(
        independent::check(&lines, "protobuf_text_same_id")["id"],
        protobuf["latest_id"]
    );

    let json = independent::check(&lines, "json");
    assert_eq!(json["framed_id"], json["latest_id"], "{json}");
    assert_eq!(json["decoded"], serde_json::json!({"id": 5, "note": "n"}));

    let compatibility = independent::check(&lines, "compatibility");
    assert_eq!(compatibility["compatible"], true, "{compatibility}");
    assert_eq!(compatibility["incompatible"], false, "{compatibility}");
}
