//! The registry's REST API path by path against Confluent's documented answers, on the real
//! cluster A, plus the bytes it writes to `_schemas`.

use axum::http::StatusCode;
use serde_json::json;

use crate::schema_registry_common::{MEDIA, TestRegistry, avro_record, read_records};

const STRING: &str = r#""string""#;

#[tokio::test]
async fn metadata_paths_answer_as_confluent() {
    let registry = TestRegistry::start().await;
    let root = registry.get("/").await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(root.body, json!({}));
    assert_eq!(root.content_type, MEDIA);
    let types = registry.get("/schemas/types").await;
    assert_eq!(types.body, json!(["JSON", "PROTOBUF", "AVRO"]));
    let id = registry.get("/v1/metadata/id").await;
    assert!(
        id.body["scope"]["clusters"]["kafka-cluster"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{id:?}"
    );
    assert!(id.body["scope"]["clusters"]["schema-registry-cluster"].is_string());
    assert_eq!(registry.get("/contexts").await.body, json!(["."]));
    registry.get("/nowhere").await.assert_error(404, 404);
    assert_eq!(registry.get("/subjects").await.body, json!([]));
}

#[tokio::test]
async fn register_get_and_lookup() {
    let registry = TestRegistry::start().await;
    let v1 = avro_record("R", &[("a", r#"{"type":"int"}"#)]);
    let id = registry.register("orders-value", &v1, "AVRO").await;
    assert_eq!(id, 1);
    // Idempotent, and the same schema shares its id across subjects.
    assert_eq!(registry.register("orders-value", &v1, "AVRO").await, id);
    assert_eq!(registry.register("other-value", &v1, "AVRO").await, id);
    // `{"type":"string"}` and `"string"` are one schema.
    let string_id = registry
        .register("s", r#"{"type": "string"}"#, "AVRO")
        .await;
    assert_eq!(registry.register("s2", STRING, "AVRO").await, string_id);

    let by_id = registry.get(&format!("/schemas/ids/{id}")).await;
    assert_eq!(by_id.status, StatusCode::OK);
    assert!(
        by_id.body.get("schemaType").is_none(),
        "AVRO is implied: {by_id:?}"
    );
    let stored = by_id.body["schema"].as_str().unwrap().to_owned();
    assert!(!stored.contains(' '), "compact canonical text: {stored}");
    let raw = registry.get(&format!("/schemas/ids/{id}/schema")).await;
    assert_eq!(
        raw.body,
        serde_json::from_str::<serde_json::Value>(&stored).unwrap()
    );
    let subjects = registry.get(&format!("/schemas/ids/{id}/subjects")).await;
    assert_eq!(subjects.body, json!(["orders-value", "other-value"]));
    let versions = registry.get(&format!("/schemas/ids/{id}/versions")).await;
    assert_eq!(
        versions.body,
        json!([{"subject": "orders-value", "version": 1}, {"subject": "other-value", "version": 1}])
    );
    registry
        .get("/schemas/ids/9999")
        .await
        .assert_error(404, 40403);

    assert_eq!(
        registry.get("/subjects").await.body,
        json!(["orders-value", "other-value", "s", "s2"])
    );
    assert_eq!(
        registry.get("/subjects?subjectPrefix=orders").await.body,
        json!(["orders-value"])
    );
    assert_eq!(
        registry.get("/subjects/orders-value/versions").await.body,
        json!([1])
    );
    let latest = registry.get("/subjects/orders-value/versions/latest").await;
    assert_eq!(
        latest.body,
        json!({"subject": "orders-value", "version": 1, "id": id, "schema": stored})
    );
    let raw = registry
        .get("/subjects/orders-value/versions/1/schema")
        .await;
    assert_eq!(raw.status, StatusCode::OK);

    // Lookup with other whitespace finds the version.
    let spaced = v1.replace(',', ", ");
    let found = registry
        .post("/subjects/orders-value", json!({"schema": spaced}))
        .await;
    assert_eq!(found.body["id"], json!(id), "{found:?}");
    assert_eq!(found.body["version"], json!(1));
    registry
        .post("/subjects/orders-value", json!({"schema": STRING}))
        .await
        .assert_error(404, 40403);
    registry
        .post("/subjects/missing", json!({"schema": STRING}))
        .await
        .assert_error(404, 40401);
}

#[tokio::test]
async fn errors_carry_confluent_codes() {
    let registry = TestRegistry::start().await;
    registry
        .get("/subjects/missing/versions")
        .await
        .assert_error(404, 40401);
    registry
        .get("/subjects/missing/versions/1")
        .await
        .assert_error(404, 40401);
    registry.register("s", STRING, "AVRO").await;
    registry
        .get("/subjects/s/versions/2")
        .await
        .assert_error(404, 40402);
    for bad in ["0", "-2", "x", "99999999999"] {
        registry
            .get(&format!("/subjects/s/versions/{bad}"))
            .await
            .assert_error(422, 42202);
    }
    let invalid = registry
        .post(
            "/subjects/s/versions",
            json!({"schema": "{\"type\":\"record\"}"}),
        )
        .await;
    invalid.assert_error(422, 42201);
    registry
        .post(
            "/subjects/s/versions",
            json!({"schema": STRING, "schemaType": "XML"}),
        )
        .await
        .assert_error(422, 42201);
    registry
        .post("/subjects/s/versions", json!({"schema": STRING, "id": 77}))
        .await
        .assert_error(422, 42205);
    registry
        .put("/config", json!({"compatibility": "SIDEWAYS"}))
        .await
        .assert_error(422, 42203);
    registry
        .put("/mode", json!({"mode": "SOMETIMES"}))
        .await
        .assert_error(422, 42204);
    registry.get("/config/s").await.assert_error(404, 40408);
    registry.get("/mode/s").await.assert_error(404, 40409);
}

#[tokio::test]
async fn soft_then_permanent_deletes() {
    let registry = TestRegistry::start().await;
    let v1 = avro_record("R", &[("a", r#"{"type":"int"}"#)]);
    let v2 = avro_record(
        "R",
        &[
            ("a", r#"{"type":"int"}"#),
            ("b", r#"{"type":"int","default":0}"#),
        ],
    );
    let id1 = registry.register("s", &v1, "AVRO").await;
    let id2 = registry.register("s", &v2, "AVRO").await;
    registry
        .delete("/subjects/s/versions/1?permanent=true")
        .await
        .assert_error(404, 40407);
    assert_eq!(
        registry.delete("/subjects/s/versions/1").await.body,
        json!(1)
    );
    registry
        .delete("/subjects/s/versions/1")
        .await
        .assert_error(404, 40406);
    assert_eq!(registry.get("/subjects/s/versions").await.body, json!([2]));
    assert_eq!(
        registry.get("/subjects/s/versions?deleted=true").await.body,
        json!([1, 2])
    );
    registry
        .get("/subjects/s/versions/1")
        .await
        .assert_error(404, 40402);
    assert_eq!(
        registry
            .get("/subjects/s/versions/1?deleted=true")
            .await
            .body["id"],
        json!(id1)
    );
    // A soft-deleted id still resolves.
    assert_eq!(
        registry.get(&format!("/schemas/ids/{id1}")).await.status,
        StatusCode::OK
    );
    registry
        .delete("/subjects/s?permanent=true")
        .await
        .assert_error(404, 40405);
    assert_eq!(registry.delete("/subjects/s").await.body, json!([2]));
    registry
        .delete("/subjects/s")
        .await
        .assert_error(404, 40404);
    registry
        .get("/subjects/s/versions")
        .await
        .assert_error(404, 40401);
    assert_eq!(registry.get("/subjects").await.body, json!([]));
    assert_eq!(
        registry.get("/subjects?deleted=true").await.body,
        json!(["s"])
    );
    assert_eq!(
        registry.get("/subjects?deletedOnly=true").await.body,
        json!(["s"])
    );
    assert_eq!(
        registry.delete("/subjects/s?permanent=true").await.body,
        json!([1, 2])
    );
    registry
        .delete("/subjects/s")
        .await
        .assert_error(404, 40401);
    registry
        .get(&format!("/schemas/ids/{id2}"))
        .await
        .assert_error(404, 40403);
    // After a hard delete the id is new, never reused.
    let again = registry.register("s", &v1, "AVRO").await;
    assert!(again > id2, "{again} after {id2}");
}

#[tokio::test]
async fn config_and_mode_resources() {
    let registry = TestRegistry::start().await;
    assert_eq!(
        registry.get("/config").await.body,
        json!({"compatibilityLevel": "BACKWARD"})
    );
    let put = registry
        .put("/config", json!({"compatibility": "full"}))
        .await;
    assert_eq!(put.body, json!({"compatibility": "FULL"}));
    assert_eq!(
        registry.get("/config").await.body["compatibilityLevel"],
        json!("FULL")
    );
    let put = registry
        .put("/config/s", json!({"compatibility": "NONE"}))
        .await;
    assert_eq!(put.body, json!({"compatibility": "NONE"}));
    assert_eq!(
        registry.get("/config/s").await.body,
        json!({"compatibilityLevel": "NONE"})
    );
    assert_eq!(
        registry.get("/config/t?defaultToGlobal=true").await.body,
        json!({"compatibilityLevel": "FULL"})
    );
    assert_eq!(
        registry.delete("/config/s").await.body,
        json!({"compatibilityLevel": "NONE"})
    );
    registry.get("/config/s").await.assert_error(404, 40408);
    assert_eq!(
        registry.delete("/config").await.body,
        json!({"compatibilityLevel": "FULL"})
    );
    assert_eq!(
        registry.get("/config").await.body,
        json!({"compatibilityLevel": "BACKWARD"})
    );

    assert_eq!(
        registry.get("/mode").await.body,
        json!({"mode": "READWRITE"})
    );
    registry.register("s", STRING, "AVRO").await;
    assert_eq!(
        registry
            .put("/mode/s", json!({"mode": "READONLY"}))
            .await
            .body,
        json!({"mode": "READONLY"})
    );
    registry
        .post("/subjects/s/versions", json!({"schema": r#""int""#}))
        .await
        .assert_error(422, 42205);
    registry
        .delete("/subjects/s")
        .await
        .assert_error(422, 42205);
    // Reads still work.
    assert_eq!(registry.get("/subjects/s/versions").await.body, json!([1]));
    assert_eq!(
        registry.delete("/mode/s").await.body,
        json!({"mode": "READONLY"})
    );
    // IMPORT needs an empty registry unless forced.
    registry
        .put("/mode", json!({"mode": "IMPORT"}))
        .await
        .assert_error(422, 42205);
    assert_eq!(
        registry
            .put("/mode?force=true", json!({"mode": "IMPORT"}))
            .await
            .body,
        json!({"mode": "IMPORT"})
    );
    assert_eq!(
        registry.get("/mode/s?defaultToGlobal=true").await.body,
        json!({"mode": "IMPORT"})
    );
}

#[tokio::test]
async fn compatibility_endpoints() {
    let registry = TestRegistry::start().await;
    let v1 = avro_record("R", &[("a", r#"{"type":"int"}"#)]);
    let breaking = avro_record(
        "R",
        &[("a", r#"{"type":"int"}"#), ("b", r#"{"type":"int"}"#)],
    );
    // `latest` of an empty subject is compatible.
    let empty = registry
        .post(
            "/compatibility/subjects/s/versions/latest",
            json!({"schema": v1}),
        )
        .await;
    assert_eq!(empty.body, json!({"is_compatible": true}), "{empty:?}");
    registry.register("s", &v1, "AVRO").await;
    let check = registry
        .post(
            "/compatibility/subjects/s/versions/latest?verbose=true",
            json!({"schema": breaking}),
        )
        .await;
    assert_eq!(check.body["is_compatible"], json!(false), "{check:?}");
    let messages = check.body["messages"].to_string();
    assert!(
        messages.contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{messages}"
    );
    let quiet = registry
        .post(
            "/compatibility/subjects/s/versions/1",
            json!({"schema": breaking}),
        )
        .await;
    assert_eq!(quiet.body, json!({"is_compatible": false}));
    let all = registry
        .post("/compatibility/subjects/s/versions", json!({"schema": v1}))
        .await;
    assert_eq!(all.body, json!({"is_compatible": true}));
    registry
        .post(
            "/compatibility/subjects/s/versions/7",
            json!({"schema": v1}),
        )
        .await
        .assert_error(404, 40402);
    let invalid = registry
        .post(
            "/compatibility/subjects/s/versions/latest?verbose=true",
            json!({"schema": "{"}),
        )
        .await;
    assert_eq!(invalid.body["is_compatible"], json!(false), "{invalid:?}");
    registry
        .post(
            "/compatibility/subjects/s/versions/latest",
            json!({"schema": "{"}),
        )
        .await
        .assert_error(422, 42201);
    let refused = registry
        .post("/subjects/s/versions", json!({"schema": breaking}))
        .await;
    refused.assert_error(409, 409);
    assert!(
        refused.body["message"].as_str().unwrap().starts_with(
            "Schema being registered is incompatible with an earlier schema for subject \"s\""
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn references_and_referencedby() {
    let registry = TestRegistry::start().await;
    let inner =
        r#"{"type":"record","name":"Inner","namespace":"ns","fields":[{"name":"x","type":"int"}]}"#;
    let inner_id = registry.register("inner", inner, "AVRO").await;
    let outer = r#"{"type":"record","name":"Outer","fields":[{"name":"i","type":"ns.Inner"}]}"#;
    let reply = registry
        .post(
            "/subjects/outer/versions",
            json!({"schema": outer, "references": [{"name": "ns.Inner", "subject": "inner", "version": 1}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let outer_id = reply.body["id"].as_i64().unwrap();
    assert_ne!(outer_id, inner_id);
    let fetched = registry.get(&format!("/schemas/ids/{outer_id}")).await;
    assert_eq!(
        fetched.body["references"],
        json!([{"name": "ns.Inner", "subject": "inner", "version": 1}])
    );
    assert_eq!(
        registry
            .get("/subjects/inner/versions/1/referencedby")
            .await
            .body,
        json!([outer_id])
    );
    registry
        .delete("/subjects/inner/versions/1")
        .await
        .assert_error(422, 42206);
    // A missing reference is an invalid schema.
    registry
        .post(
            "/subjects/other/versions",
            json!({"schema": outer, "references": [{"name": "ns.Inner", "subject": "nope", "version": 1}]}),
        )
        .await
        .assert_error(422, 42201);
}

#[tokio::test]
async fn json_schema_and_protobuf_subjects() {
    let registry = TestRegistry::start().await;
    let json_v1 =
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#;
    let json_v2 = r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}"#;
    let id = registry.register("j", json_v1, "JSON").await;
    assert_eq!(
        registry.get(&format!("/schemas/ids/{id}")).await.body["schemaType"],
        json!("JSON")
    );
    registry.register("j", json_v2, "JSON").await;
    // Removing a property from a closed model breaks backward compatibility.
    registry
        .post(
            "/subjects/j/versions",
            json!({"schema": json_v1.replace("\"a\"", "\"c\""), "schemaType": "JSON"}),
        )
        .await
        .assert_error(409, 409);
    registry
        .post(
            "/subjects/j/versions",
            json!({"schema": "{\"type\":\"nonsense\"}", "schemaType": "JSON"}),
        )
        .await
        .assert_error(422, 42201);

    let proto_v1 = "syntax = \"proto3\";\npackage p;\nmessage M { int32 a = 1; }\n";
    let proto_v2 = "syntax = \"proto3\";\npackage p;\nmessage M { int64 a = 1; string b = 2; }\n";
    let proto_bad = "syntax = \"proto3\";\npackage p;\nmessage M { string a = 1; }\n";
    let id = registry.register("p", proto_v1, "PROTOBUF").await;
    assert_eq!(
        registry.get("/subjects/p/versions/1").await.body["schemaType"],
        json!("PROTOBUF")
    );
    assert!(registry.register("p", proto_v2, "PROTOBUF").await > id);
    registry
        .post(
            "/subjects/p/versions",
            json!({"schema": proto_bad, "schemaType": "PROTOBUF"}),
        )
        .await
        .assert_error(409, 409);
    // Changing the type of a subject is incompatible.
    registry
        .post("/subjects/p/versions", json!({"schema": STRING}))
        .await
        .assert_error(409, 409);
}

#[tokio::test]
async fn records_are_written_in_confluent_format() {
    let registry = TestRegistry::start().await;
    let id = registry.register("t-value", STRING, "AVRO").await;
    registry
        .put("/config/t-value", json!({"compatibility": "FULL"}))
        .await;
    registry.delete("/subjects/t-value").await;
    let records = read_records(&registry.clients, &registry.topic).await;
    let non_noop: Vec<&(String, Option<String>)> = records
        .iter()
        .filter(|(key, _)| key != r#"{"keytype":"NOOP","magic":0}"#)
        .collect();
    assert_eq!(
        non_noop,
        vec![
            &(
                r#"{"keytype":"SCHEMA","subject":"t-value","version":1,"magic":1}"#.to_owned(),
                Some(format!(
                    r#"{{"subject":"t-value","version":1,"id":{id},"schema":"\"string\"","deleted":false}}"#
                ))
            ),
            &(
                r#"{"keytype":"CONFIG","subject":"t-value","magic":0}"#.to_owned(),
                Some(r#"{"subject":"t-value","compatibilityLevel":"FULL"}"#.to_owned())
            ),
            &(
                r#"{"keytype":"DELETE_SUBJECT","subject":"t-value","magic":0}"#.to_owned(),
                Some(r#"{"subject":"t-value","version":1}"#.to_owned())
            ),
        ]
    );
    assert!(
        records
            .iter()
            .any(|(key, value)| key == r#"{"keytype":"NOOP","magic":0}"# && value.is_none()),
        "a NOOP marks the start-up sync: {records:?}"
    );
}

#[tokio::test]
async fn a_restarted_registry_replays_its_topic() {
    let topic = tests::unique_name("_schemas_restart");
    let v1 = avro_record("R", &[("a", r#"{"type":"int"}"#)]);
    let (first_id, second_id) = {
        let registry = TestRegistry::on_topic(&topic, "").await;
        let first = registry.register("a", &v1, "AVRO").await;
        let second = registry.register("b", STRING, "AVRO").await;
        registry
            .put("/config/a", json!({"compatibility": "FULL"}))
            .await;
        registry.delete("/subjects/b").await;
        (first, second)
    };
    let registry = TestRegistry::on_topic(&topic, "").await;
    assert_eq!(registry.get("/subjects").await.body, json!(["a"]));
    assert_eq!(
        registry.get("/subjects?deleted=true").await.body,
        json!(["a", "b"])
    );
    assert_eq!(
        registry.get("/subjects/a/versions/1").await.body["id"],
        json!(first_id)
    );
    assert_eq!(
        registry.get("/config/a").await.body,
        json!({"compatibilityLevel": "FULL"})
    );
    // Ids continue past the highest one written before the restart.
    let next = registry.register("c", r#""bytes""#, "AVRO").await;
    assert!(next > second_id, "{next} after {second_id}");
}
