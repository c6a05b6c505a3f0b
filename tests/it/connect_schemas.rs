//! Connect's JsonSchemaConverter and ProtobufConverter against a real registry
//! (`kafka-gateway schema-registry`, a child process) and the real Kafka, MariaDB and
//! OpenSearch; each scenario is written once and run for both formats:
//!
//! - the config a Debezium user pastes (MySQL source, the converter for key and value)
//!   registers `<topic>-key` / `<topic>-value` with Confluent's mapping of the Debezium
//!   schemas, and Confluent's Python JSONDeserializer (which validates every payload
//!   against the writer's schema) or ProtobufDeserializer reads what it wrote; the ES sink
//!   with the same converter turns the change events into documents;
//! - records written by Confluent's Python JSONSerializer (a plain JSON Schema) or
//!   ProtobufSerializer reach OpenSearch through the sink;
//! - Connect's Decimal, Date and Timestamp written by the ProtobufConverter are what
//!   Confluent's ProtobufDeserializer reads as `confluent.type.Decimal`, `google.type.Date`
//!   and `google.protobuf.Timestamp`.
//!
//! The registry outage behaviour is the converters' shared code path, tested with the
//! AvroConverter in `connect_avro`. Needs the binary (`cargo build -p gateway`) and the
//! Python venv (`scripts/install-deps`).

use serde_json::{Value, json};
use tests::{Services, create_topic, independent, unique_name};

use crate::connect_schema_support::{
    Registry, binlog_changes_reach_opensearch, by_id, change_events_reach_opensearch, create,
    index_documents, items_database, merged, schema_converters, start_worker,
};
use crate::connect_support::{clients, get};
use crate::es_sink_support::{documents, index_mapping, search_url, sink_config};
use crate::mysql_common::{cdc_config, exec, shared};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonSchema,
    Protobuf,
}

impl Format {
    fn class(self) -> &'static str {
        match self {
            Self::JsonSchema => "io.confluent.connect.json.JsonSchemaConverter",
            Self::Protobuf => "io.confluent.connect.protobuf.ProtobufConverter",
        }
    }

    /// The format argument of `connect_schemas.py`.
    fn script_name(self) -> &'static str {
        match self {
            Self::JsonSchema => "json",
            Self::Protobuf => "protobuf",
        }
    }

    fn registry_type(self) -> &'static str {
        match self {
            Self::JsonSchema => "JSON",
            Self::Protobuf => "PROTOBUF",
        }
    }
}

async fn run_script(args: Vec<String>) -> Vec<Value> {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        independent::run("connect_schemas.py", &args)
    })
    .await
    .unwrap()
}

async fn latest_schema(registry: &Registry, subject: &str) -> (String, String) {
    let latest = registry
        .get(&format!("/subjects/{subject}/versions/latest"))
        .await;
    (
        latest["schemaType"].as_str().unwrap_or("AVRO").to_owned(),
        latest["schema"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn debezium_mysql_source_to_opensearch_through_json_schema() {
    debezium_mysql_source_to_opensearch(Format::JsonSchema).await;
}

#[tokio::test]
async fn debezium_mysql_source_to_opensearch_through_protobuf() {
    debezium_mysql_source_to_opensearch(Format::Protobuf).await;
}

async fn debezium_mysql_source_to_opensearch(format: Format) {
    let search = search_url().await;
    let registry = Registry::start().await;
    let database = items_database().await;
    let worker = start_worker().await;
    let prefix = unique_name(&format!("{}dbz", format.script_name()));
    let topic = format!("{prefix}.{database}.items");
    let (_, plugins) = get(&worker.url("/connector-plugins?connectorsOnly=false")).await;
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == format.class() && p["type"] == "converter"),
        "{plugins}"
    );

    // 1. The config a Debezium user pastes, with Confluent's converter.
    let converters = schema_converters(format.class(), &registry.url);
    let source = merged(
        cdc_config(&Services::from_env().mysql_url, &prefix, &database),
        &merged(
            converters.clone(),
            &json!({"connector.class": "io.debezium.connector.mysql.MySqlConnector"}),
        ),
    );
    create(&worker, &format!("{prefix}-source"), source).await;
    let lines = run_script(vec![
        "decode".into(),
        format.script_name().into(),
        Services::from_env().kafka_bootstrap,
        registry.url.clone(),
        topic.clone(),
        "3".into(),
    ])
    .await;

    // 2. Subjects by TopicNameStrategy, holding Confluent's mapping of Debezium's schemas.
    let (schema_type, value_schema) = latest_schema(&registry, &format!("{topic}-value")).await;
    assert_eq!(schema_type, format.registry_type());
    let (_, key_schema) = latest_schema(&registry, &format!("{topic}-key")).await;
    match format {
        Format::JsonSchema => {
            let value: Value = serde_json::from_str(&value_schema).unwrap();
            assert_eq!(value["title"], format!("{topic}.Envelope"), "{value}");
            let after = &value["properties"]["after"];
            assert_eq!(after["connect.index"], 1, "{value}");
            let row = &after["oneOf"][1];
            assert_eq!(after["oneOf"][0], json!({"type": "null"}), "{value}");
            assert_eq!(row["title"], format!("{topic}.Value"), "{value}");
            assert_eq!(
                row["properties"]["qty"]["oneOf"][1],
                json!({"type": "integer", "connect.type": "int16"}),
                "{value}"
            );
            assert_eq!(
                row["properties"]["created"]["oneOf"][1]["title"], "io.debezium.time.Timestamp",
                "{value}"
            );
            let key: Value = serde_json::from_str(&key_schema).unwrap();
            assert_eq!(key["title"], format!("{topic}.Key"), "{key}");
        }
        Format::Protobuf => {
            assert!(
                value_schema.contains(&format!("package {topic};")),
                "{value_schema}"
            );
            assert!(value_schema.contains("message Envelope"), "{value_schema}");
            assert!(value_schema.contains("Value after = 2;"), "{value_schema}");
            // int16 as int32 with the Connect type in the field's meta params (the
            // registry stores the text re-laid out, so only the tokens are compared).
            let tokens: String = value_schema.split_whitespace().collect();
            assert!(
                tokens.contains(r#"int32qty=3[(confluent.field_meta)={params:[{key:"connect.type",value:"int16""#),
                "{value_schema}"
            );
            assert!(key_schema.contains("message Key"), "{key_schema}");
        }
    }

    // 3. Confluent's Python deserializer reads the snapshot events.
    assert_eq!(
        independent::check(&lines, "decoded")["count"],
        3,
        "{lines:?}"
    );
    let records: Vec<&Value> = lines.iter().filter(|l| l["check"] == "record").collect();
    match format {
        Format::JsonSchema => {
            let first = records
                .iter()
                .find(|r| r["key"]["id"] == 1)
                .unwrap_or_else(|| panic!("{records:?}"));
            assert_eq!(first["value"]["op"], "r");
            assert_eq!(first["value"]["after"]["name"], "book");
            assert_eq!(first["value"]["after"]["qty"], 2);
            assert_eq!(first["value"]["after"]["created"], 1_704_164_645_678_i64);
            assert_eq!(first["value"]["before"], Value::Null);
            assert_eq!(first["value"]["source"]["db"], database.as_str());
            let second = records.iter().find(|r| r["key"]["id"] == 2).unwrap();
            assert_eq!(second["value"]["after"]["qty"], Value::Null);
        }
        Format::Protobuf => {
            let first = records
                .iter()
                .find(|r| r["key"]["fields"]["id"] == 1)
                .unwrap_or_else(|| panic!("{records:?}"));
            assert_eq!(first["key"]["type"], format!("{topic}.Key"));
            let value = &first["value"]["fields"];
            assert_eq!(first["value"]["type"], format!("{topic}.Envelope"));
            assert_eq!(value["op"], "r");
            assert_eq!(value["after"]["name"], "book");
            assert_eq!(value["after"]["qty"], 2);
            // MessageToDict writes int64 as a string (proto3 JSON mapping).
            assert_eq!(value["after"]["created"], "1704164645678");
            assert!(value.get("before").is_none(), "{value}");
            assert_eq!(value["source"]["db"], database.as_str());
        }
    }

    // 4. The ES sink reads them with the same converter into OpenSearch.
    let (index, docs) =
        change_events_reach_opensearch(&worker, &prefix, &search, &topic, &converters).await;
    let expected_pen = match format {
        Format::JsonSchema => json!({"id": 2, "name": "pen", "qty": null, "created": null}),
        // Without wrappers (Confluent's default) a null scalar is proto3's default.
        Format::Protobuf => json!({"id": 2, "name": "pen", "qty": 0, "created": 0}),
    };
    assert_eq!(by_id(&docs, 2), &expected_pen);

    // 5. Changes in the binlog follow: an update and a delete.
    binlog_changes_reach_opensearch(&database, &search, &index).await;
    worker.stop().await;
}

#[tokio::test]
async fn records_of_confluents_python_json_serializer_reach_opensearch() {
    python_records_reach_opensearch(Format::JsonSchema).await;
}

#[tokio::test]
async fn records_of_confluents_python_protobuf_serializer_reach_opensearch() {
    python_records_reach_opensearch(Format::Protobuf).await;
}

async fn python_records_reach_opensearch(format: Format) {
    let search = search_url().await;
    let clients = clients().await;
    let registry = Registry::start().await;
    let topic = unique_name(&format!("{}_py_orders", format.script_name()));
    create_topic(&clients, &topic, 1).await;
    let lines = run_script(vec![
        "produce".into(),
        format.script_name().into(),
        Services::from_env().kafka_bootstrap,
        registry.url.clone(),
        topic.clone(),
    ])
    .await;
    assert_eq!(independent::check(&lines, "produced")["count"], 3);
    let worker = start_worker().await;
    // The Python producer wrote plain string keys: the key stays StringConverter's.
    let value_converter = json!({
        "value.converter": format.class(),
        "value.converter.schema.registry.url": registry.url,
    });
    create(
        &worker,
        &unique_name("schemas-py-sink"),
        merged(sink_config(&search, &topic, &json!({})), &value_converter),
    )
    .await;
    let index = topic.to_lowercase();
    let docs = index_documents(&search, &index, 3).await;
    match format {
        Format::JsonSchema => {
            assert_eq!(
                by_id(&docs, 2),
                &json!({"id": 2, "item": "pen", "qty": 10, "note": "blue", "tags": []})
            );
            assert_eq!(
                by_id(&docs, 3),
                &json!({"id": 3, "item": "lamp", "qty": 1, "note": null, "tags": ["light", "desk"]})
            );
        }
        Format::Protobuf => {
            assert_eq!(
                by_id(&docs, 3),
                &json!({"id": 3, "item": "lamp", "qty": 1, "tags": ["light", "desk"],
                        "at": 1_700_000_003_000_i64})
            );
            let mapping = index_mapping(&search, &index).await;
            // google.protobuf.Timestamp reads as Connect's Timestamp: a date in the index.
            let properties = &mapping[&index]["mappings"]["properties"];
            assert_eq!(properties["at"]["type"], "date", "{mapping}");
            assert_eq!(properties["qty"]["type"], "integer", "{mapping}");
        }
    }
    let ids: Vec<String> = documents(&search, &index).await.into_keys().collect();
    assert_eq!(ids, ["1", "2", "3"]);
    worker.stop().await;
}

/// Connect's logical types (Debezium's `time.precision.mode=connect` and a DECIMAL) as
/// ProtobufData writes them, read by Confluent's Python ProtobufDeserializer:
/// `confluent.type.Decimal`, `google.type.Date`, `google.protobuf.Timestamp`.
#[tokio::test]
async fn logical_types_reach_confluents_python_protobuf_deserializer() {
    let registry = Registry::start().await;
    let mut mysql = shared().await;
    let database = unique_name("proto_db");
    exec(&mut mysql, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut mysql,
        &format!(
            "CREATE TABLE `{database}`.prices (id INT PRIMARY KEY, amount DECIMAL(10,2), \
             day DATE, at DATETIME(3))"
        ),
    )
    .await;
    exec(
        &mut mysql,
        &format!(
            "INSERT INTO `{database}`.prices VALUES \
             (1, 123.45, '2024-01-02', '2024-01-02 03:04:05.678'), (2, -0.5, NULL, NULL)"
        ),
    )
    .await;
    let worker = start_worker().await;
    let prefix = unique_name("protologic");
    let topic = format!("{prefix}.{database}.prices");
    let source = merged(
        cdc_config(&Services::from_env().mysql_url, &prefix, &database),
        &merged(
            schema_converters(Format::Protobuf.class(), &registry.url),
            &json!({"time.precision.mode": "connect"}),
        ),
    );
    create(&worker, &format!("{prefix}-source"), source).await;
    let lines = run_script(vec![
        "decode".into(),
        "protobuf".into(),
        Services::from_env().kafka_bootstrap,
        registry.url.clone(),
        topic.clone(),
        "2".into(),
    ])
    .await;
    let (_, value_schema) = latest_schema(&registry, &format!("{topic}-value")).await;
    let tokens: String = value_schema.split_whitespace().collect();
    for expected in [
        "confluent.type.Decimalamount=2",
        "google.type.Dateday=3",
        "google.protobuf.Timestampat=4",
        r#"import"confluent/type/decimal.proto";"#,
    ] {
        assert!(tokens.contains(expected), "{expected}: {value_schema}");
    }
    assert_eq!(
        independent::check(&lines, "decoded")["count"],
        2,
        "{lines:?}"
    );
    let after = |id: i64| {
        lines
            .iter()
            .find(|l| l["check"] == "record" && l["key"]["fields"]["id"] == id)
            .map(|l| l["value"]["fields"]["after"].clone())
            .unwrap_or_else(|| panic!("no record {id} in {lines:?}"))
    };
    // 123.45: unscaled 12345 = 0x3039, five digits, scale 2.
    assert_eq!(
        after(1),
        json!({"id": 1, "amount": {"value": "MDk=", "precision": 5, "scale": 2},
               "day": {"year": 2024, "month": 1, "day": 2}, "at": "2024-01-02T03:04:05.678Z"})
    );
    // -0.5: unscaled -50 = 0xce; null logical values are absent messages.
    assert_eq!(
        after(2),
        json!({"id": 2, "amount": {"value": "zg==", "precision": 2, "scale": 2}})
    );
    worker.stop().await;
}
