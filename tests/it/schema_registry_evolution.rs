//! Schema evolution under each compatibility level, as Confluent documents them
//! ("Schema Evolution and Compatibility"): the same sequence of Avro schemas registered
//! under each level, with the outcome the level prescribes.

use axum::http::StatusCode;
use serde_json::json;

use crate::schema_registry_common::{TestRegistry, avro_record};

/// v1 {a:int}; add_optional = v1 + b with a default; add_required = v1 + b without one;
/// drop_a = {} (a removed, it had no default).
fn schemas() -> [(&'static str, String); 4] {
    [
        ("v1", avro_record("R", &[("a", r#"{"type":"int"}"#)])),
        (
            "add_optional",
            avro_record(
                "R",
                &[
                    ("a", r#"{"type":"int"}"#),
                    ("b", r#"{"type":"string","default":""}"#),
                ],
            ),
        ),
        (
            "add_required",
            avro_record(
                "R",
                &[("a", r#"{"type":"int"}"#), ("b", r#"{"type":"string"}"#)],
            ),
        ),
        ("drop_a", avro_record("R", &[])),
    ]
}

/// Registers v1 under `level`, then tries each candidate against it alone (fresh subject
/// each time) and returns which were accepted.
async fn accepted(registry: &TestRegistry, level: &str) -> Vec<&'static str> {
    let [(_, v1), candidates @ ..] = schemas();
    let mut accepted = Vec::new();
    for (name, candidate) in candidates {
        let subject = format!("{level}-{name}");
        let put = registry
            .put(
                &format!("/config/{subject}"),
                json!({"compatibility": level}),
            )
            .await;
        assert_eq!(put.status, StatusCode::OK, "{put:?}");
        registry.register(&subject, &v1, "AVRO").await;
        let reply = registry
            .post(
                &format!("/subjects/{subject}/versions"),
                json!({"schema": candidate}),
            )
            .await;
        match reply.status {
            StatusCode::OK => accepted.push(name),
            StatusCode::CONFLICT => {}
            _ => panic!("{level} {name}: {reply:?}"),
        }
    }
    accepted
}

#[tokio::test]
async fn each_level_accepts_what_confluent_documents() {
    let registry = TestRegistry::start().await;
    // BACKWARD: new readers read old data: adding a field needs a default; deleting is fine.
    assert_eq!(
        accepted(&registry, "BACKWARD").await,
        ["add_optional", "drop_a"]
    );
    // FORWARD: old readers read new data: adding any field is fine; deleting one without a
    // default is not.
    assert_eq!(
        accepted(&registry, "FORWARD").await,
        ["add_optional", "add_required"]
    );
    // FULL: both.
    assert_eq!(accepted(&registry, "FULL").await, ["add_optional"]);
    assert_eq!(
        accepted(&registry, "NONE").await,
        ["add_optional", "add_required", "drop_a"]
    );
    assert_eq!(
        accepted(&registry, "BACKWARD_TRANSITIVE").await,
        ["add_optional", "drop_a"]
    );
    assert_eq!(
        accepted(&registry, "FORWARD_TRANSITIVE").await,
        ["add_optional", "add_required"]
    );
    assert_eq!(
        accepted(&registry, "FULL_TRANSITIVE").await,
        ["add_optional"]
    );
}

#[tokio::test]
async fn transitive_levels_check_every_live_version() {
    let registry = TestRegistry::start().await;
    let v1 = avro_record("R", &[("a", r#"{"type":"int","default":0}"#)]);
    let v2 = avro_record("R", &[]);
    let v3 = avro_record("R", &[("a", r#"{"type":"string","default":""}"#)]);
    for (subject, level, v3_ok) in [
        ("plain", "BACKWARD", true),
        ("transitive", "BACKWARD_TRANSITIVE", false),
    ] {
        registry
            .put(
                &format!("/config/{subject}"),
                json!({"compatibility": level}),
            )
            .await;
        registry.register(subject, &v1, "AVRO").await;
        registry.register(subject, &v2, "AVRO").await;
        let reply = registry
            .post(
                &format!("/subjects/{subject}/versions"),
                json!({"schema": v3}),
            )
            .await;
        assert_eq!(reply.status == StatusCode::OK, v3_ok, "{level}: {reply:?}");
    }
    // Soft-deleted versions are not checked: delete v1 and v3 passes transitively too.
    registry.delete("/subjects/transitive/versions/1").await;
    let reply = registry
        .post("/subjects/transitive/versions", json!({"schema": v3}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

#[tokio::test]
async fn global_level_applies_unless_the_subject_has_one() {
    let registry = TestRegistry::start().await;
    let v1 = avro_record("R", &[("a", r#"{"type":"int"}"#)]);
    let add_required = avro_record(
        "R",
        &[("a", r#"{"type":"int"}"#), ("b", r#"{"type":"int"}"#)],
    );
    registry
        .put("/config", json!({"compatibility": "NONE"}))
        .await;
    registry.register("g", &v1, "AVRO").await;
    registry.register("g", &add_required, "AVRO").await;
    registry
        .put("/config/h", json!({"compatibility": "BACKWARD"}))
        .await;
    registry.register("h", &v1, "AVRO").await;
    registry
        .post("/subjects/h/versions", json!({"schema": add_required}))
        .await
        .assert_error(409, 409);
}
