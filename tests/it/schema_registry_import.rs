//! Migration: a `_schemas` topic written record by record in Confluent's documented format
//! (and Karapace's variants) is read as-is, same ids and versions; IMPORT mode then takes
//! explicit ids, and new ids continue past the highest one seen.

use axum::http::StatusCode;
use serde_json::json;
use tests::unique_name;

use crate::schema_registry_common::{TestRegistry, clients, write_raw};

const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}"#;
const V2: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"note","type":"string","default":""}]}"#;

fn schema_value(subject: &str, version: i32, id: i32, schema: &str, deleted: bool) -> String {
    json!({"subject": subject, "version": version, "id": id, "schema": schema, "deleted": deleted})
        .to_string()
}

#[tokio::test]
async fn confluent_topic_is_read_with_its_ids_and_versions() {
    let clients = clients().await;
    let topic = unique_name("_schemas_import");
    let orders_1 = schema_value("orders-value", 1, 21, V1, false);
    let orders_2 = schema_value("orders-value", 2, 35, V2, false);
    let payments = json!({"subject": "payments-value", "version": 1, "id": 40,
        "schemaType": "JSON", "schema": r#"{"type":"object"}"#, "deleted": false, "ts": 1700000000})
    .to_string();
    let shared = schema_value("audit-value", 1, 21, V1, false);
    let gone_1 = schema_value("gone-value", 1, 50, r#""int""#, false);
    write_raw(
        &clients,
        &topic,
        &[
            (r#"{"keytype":"NOOP","magic":0}"#, None),
            (
                r#"{"keytype":"SCHEMA","subject":"orders-value","version":1,"magic":1}"#,
                Some(&orders_1),
            ),
            (
                r#"{"keytype":"SCHEMA","subject":"orders-value","version":2,"magic":1}"#,
                Some(&orders_2),
            ),
            (
                r#"{"keytype":"SCHEMA","subject":"payments-value","version":1,"magic":1}"#,
                Some(&payments),
            ),
            (
                r#"{"keytype":"SCHEMA","subject":"audit-value","version":1,"magic":1}"#,
                Some(&shared),
            ),
            // Karapace writes the global config with "subject": null.
            (
                r#"{"keytype":"CONFIG","subject":null,"magic":0}"#,
                Some(r#"{"compatibilityLevel":"FULL"}"#),
            ),
            (
                r#"{"keytype":"CONFIG","subject":"payments-value","magic":0}"#,
                Some(r#"{"subject":"payments-value","compatibilityLevel":"NONE"}"#),
            ),
            (
                r#"{"keytype":"SCHEMA","subject":"gone-value","version":1,"magic":1}"#,
                Some(&gone_1),
            ),
            (
                r#"{"keytype":"DELETE_SUBJECT","subject":"gone-value","magic":0}"#,
                Some(r#"{"subject":"gone-value","version":1}"#),
            ),
            // Key types we do not use are skipped.
            (
                r#"{"keytype":"CONTEXT","tenant":"default","context":".c","magic":0}"#,
                Some(r#"{"tenant":"default","context":".c"}"#),
            ),
        ],
    )
    .await;
    let registry = TestRegistry::on_topic(&topic, "").await;
    assert_eq!(
        registry.get("/subjects").await.body,
        json!(["audit-value", "orders-value", "payments-value"])
    );
    assert_eq!(
        registry.get("/subjects/orders-value/versions").await.body,
        json!([1, 2])
    );
    let latest = registry.get("/subjects/orders-value/versions/latest").await;
    assert_eq!(latest.body["id"], json!(35));
    assert_eq!(latest.body["schema"], json!(V2));
    assert_eq!(
        registry.get("/schemas/ids/40").await.body,
        json!({"schemaType": "JSON", "schema": r#"{"type":"object"}"#})
    );
    assert_eq!(
        registry.get("/schemas/ids/21/subjects").await.body,
        json!(["audit-value", "orders-value"])
    );
    assert_eq!(
        registry.get("/config").await.body,
        json!({"compatibilityLevel": "FULL"})
    );
    assert_eq!(
        registry.get("/config/payments-value").await.body,
        json!({"compatibilityLevel": "NONE"})
    );
    assert_eq!(
        registry
            .get("/subjects?deleted=true")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // Re-registering an imported schema answers its imported id; a new one continues past 50.
    assert_eq!(registry.register("orders-value", V2, "AVRO").await, 35);
    assert_eq!(registry.register("new-value", V1, "AVRO").await, 21);
    assert_eq!(
        registry.register("fresh-value", r#""bytes""#, "AVRO").await,
        51
    );
}

#[tokio::test]
async fn import_mode_registers_explicit_ids_and_versions() {
    let registry = TestRegistry::start().await;
    let put = registry.put("/mode", json!({"mode": "IMPORT"})).await;
    assert_eq!(put.body, json!({"mode": "IMPORT"}), "{put:?}");
    for (subject, version, id, schema) in [
        ("orders-value", 1, 100, V1),
        ("orders-value", 3, 250, V2),
        ("audit-value", 7, 100, V1),
    ] {
        let reply = registry
            .post(
                &format!("/subjects/{subject}/versions"),
                json!({"schema": schema, "id": id, "version": version}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.body["id"], json!(id));
    }
    // Without an id, or another schema under a taken id: refused.
    registry
        .post("/subjects/x/versions", json!({"schema": r#""int""#}))
        .await
        .assert_error(422, 42205);
    registry
        .post(
            "/subjects/x/versions",
            json!({"schema": r#""int""#, "id": 250}),
        )
        .await
        .assert_error(422, 42205);
    assert_eq!(
        registry.get("/subjects/orders-value/versions").await.body,
        json!([1, 3])
    );
    assert_eq!(
        registry.get("/subjects/audit-value/versions/7").await.body["id"],
        json!(100)
    );
    registry.put("/mode", json!({"mode": "READWRITE"})).await;
    // Back in READWRITE: the next version follows the highest, the next id the highest.
    let v3 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"note","type":"string","default":""},{"name":"n","type":"int","default":0}]}"#;
    assert_eq!(registry.register("orders-value", v3, "AVRO").await, 251);
    assert_eq!(
        registry.get("/subjects/orders-value/versions").await.body,
        json!([1, 3, 4])
    );
}

#[tokio::test]
async fn a_topic_that_is_not_one_compacted_partition_is_refused() {
    let clients = clients().await;
    let topic = unique_name("_schemas_bad");
    tests::create_topic(&clients, &topic, 2).await;
    let text = format!("enabled = true\nkafkastore_topic = \"{topic}\"\n");
    let config: schema_registry::SchemaRegistryConfig = toml::from_str(&text).unwrap();
    let error = schema_registry::Registry::start(
        config.validate("schema_registry").unwrap(),
        &clients,
        broker_core::Shutdown::new(),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("exactly one"), "{error}");
}
