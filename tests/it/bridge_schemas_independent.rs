//! The bridge's schema formats against an implementation independent of ours: Confluent's
//! Python serializers (confluent-kafka 2.16, `tests/independent/bridge_formats.py`) write
//! records through our registry that the bridge's consumers must decode to the expected
//! JSON, and read back with Confluent's deserializers what the bridge produced.

use serde_json::{Value, json};
use tests::{Services, create_topic, independent, unique_name};

use crate::bridge_schemas::{AVRO, JSONSCHEMA, LiveRegistry, PROTOBUF, subscribed};

async fn run_script(args: Vec<String>) -> Vec<Value> {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        independent::run("bridge_formats.py", &args)
    })
    .await
    .expect("the script ran")
}

#[tokio::test]
async fn confluent_python_serializers_and_the_bridge_read_each_other() {
    let registry = LiveRegistry::start().await;
    let bridge = registry.bridge().await;
    let bootstrap = Services::from_env().kafka_bootstrap;
    let from_python = unique_name("py_to_bridge");
    let from_bridge = unique_name("bridge_to_py");
    for prefix in [&from_python, &from_bridge] {
        for format in ["avro", "protobuf", "json"] {
            create_topic(&bridge.clients, &format!("{prefix}-{format}"), 1).await;
        }
    }

    // Python → Kafka → bridge consumers.
    let lines = run_script(vec![
        "produce".into(),
        registry.url.clone(),
        bootstrap.clone(),
        from_python.clone(),
    ])
    .await;
    // shop.Order is the file's second message: indexes [1], count 1 then 1, zig-zag.
    assert_eq!(
        independent::check(&lines, "protobuf_framing")["message_indexes_hex"],
        json!("0202")
    );
    let base = subscribed(&bridge, &format!("{from_python}-avro"), "avro").await;
    let records = bridge.records_until(&base, AVRO, 1).await;
    assert_eq!(
        records[0]["value"],
        json!({"id": 42, "note": {"string": "first"}, "raw": "\u{1}\u{ff}", "kind": "OLD"})
    );
    let base = subscribed(&bridge, &format!("{from_python}-protobuf"), "protobuf").await;
    let records = bridge.records_until(&base, PROTOBUF, 1).await;
    assert_eq!(
        records[0]["value"],
        json!({"id": "7", "note": "n", "tags": ["a", "b"]})
    );
    let base = subscribed(&bridge, &format!("{from_python}-json"), "jsonschema").await;
    let records = bridge.records_until(&base, JSONSCHEMA, 1).await;
    assert_eq!(records[0]["value"], json!({"name": "ann", "age": 3}));

    // Bridge → Kafka → Python deserializers.
    let avro_schema = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
        {"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null},
        {"name":"raw","type":"bytes"},
        {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["NEW","OLD"]}}]}"#;
    let produced = [
        (
            "avro",
            AVRO,
            json!({"value_schema": avro_schema, "records": [
                {"value": {"id": 1, "note": {"string": "x"}, "raw": "\u{0}\u{ff}", "kind": "NEW"}},
                {"value": {"id": 2, "raw": "", "kind": "OLD"}}]}),
        ),
        (
            "protobuf",
            PROTOBUF,
            json!({"value_schema": "syntax = \"proto3\";\npackage shop;\nmessage Order {\n  int64 id = 1;\n  string note = 2;\n  repeated string tags = 3;\n}\n",
                   "records": [{"value": {"id": "5", "note": "n", "tags": ["t"]}},
                               {"value": {"id": 6}}]}),
        ),
        (
            "json",
            JSONSCHEMA,
            json!({"value_schema": json!({"type": "object", "properties": {"name": {"type": "string"}}}).to_string(),
                   "records": [{"value": {"name": "bo"}}, {"value": {"name": "cy"}}]}),
        ),
    ];
    for (format, media, body) in produced {
        let reply = bridge
            .post(&format!("/topics/{from_bridge}-{format}"), media, &body)
            .await;
        assert_eq!(
            reply.status,
            axum::http::StatusCode::OK,
            "{format}: {reply:?}"
        );
    }
    let lines = run_script(vec![
        "consume".into(),
        registry.url.clone(),
        bootstrap,
        from_bridge,
        "2".into(),
    ])
    .await;
    assert_eq!(
        independent::check(&lines, "avro")["values"],
        json!([{"id": 1, "note": "x", "raw": "00ff", "kind": "NEW"},
               {"id": 2, "note": null, "raw": "", "kind": "OLD"}])
    );
    assert_eq!(
        independent::check(&lines, "protobuf")["values"],
        json!([{"id": 5, "note": "n", "tags": ["t"]}, {"id": 6, "note": "", "tags": []}])
    );
    assert_eq!(
        independent::check(&lines, "json")["values"],
        json!([{"name": "bo"}, {"name": "cy"}])
    );
}
