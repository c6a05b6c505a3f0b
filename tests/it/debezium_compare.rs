//! Record by record against the anchor: Debezium's MariaDB connector (3.5.0.Final) in a
//! real Kafka Connect 4.3 worker and our MySQL source in our worker capture the same
//! MariaDB table — every type of the type tests, a snapshot then inserts, updates, deletes,
//! a primary-key change and an ALTER TABLE — with the same connector config, through
//! JsonConverter with and without schemas and in each `decimal.handling.mode`. Keys,
//! values, schemas, tombstones and topic names must be identical; what legitimately
//! differs (wall-clock times, the binlog point each side's own snapshot read at) is
//! listed in [`legitimately_differs`] and in docs/mysql-source.md.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tests::kafka_connect::{KafkaConnectCluster, KafkaConnectProcess};
use tests::{Services, unique_name};

use crate::connect_support::{ClusterNames, call, wait_for};
use crate::mysql_common::{cdc_config, exec, read_topic, shared, start_worker};

/// The table of the type tests, plus spatial columns: GEOMETRY (whose Debezium schema is
/// optional even NOT NULL), POINT nullable and NOT NULL, POLYGON.
const COLUMNS: &str = "id BIGINT UNSIGNED PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, \
    si SMALLINT, mu MEDIUMINT UNSIGNED, iu INT UNSIGNED, bi BIGINT, de DECIMAL(10,3), \
    fl FLOAT, db DOUBLE, d DATE, t TIME(3), dt DATETIME(6), dt0 DATETIME, ts TIMESTAMP(3) NULL, \
    y YEAR, c CHAR(3), vc VARCHAR(20), tx TEXT, l1 VARCHAR(10) CHARACTER SET latin1, \
    bin BINARY(4), vb VARBINARY(8), bl BLOB, js JSON, e ENUM('a','b'), s SET('x','y','z'), \
    b1 BIT(1), b12 BIT(12), g GEOMETRY NOT NULL, p POINT, pn POINT NOT NULL, pg POLYGON, \
    n INT NULL";

/// Spatial values with SRIDs (4326, 3857) and without (0, written as a null `srid`).
fn full_row(id: u64) -> String {
    format!(
        "({id}, -128, 255, -32768, 16777215, 4294967295, -9223372036854775808, -12.345, 1.5, \
         2.25, '2024-02-29', '-838:59:59.500', '2024-01-02 03:04:05.123456', \
         '1999-12-31 23:59:59', '2024-01-02 03:04:05.120', 2024, 'ab', 'héllo', 'text', 'é€', \
         X'01', X'cafe', X'00ff', '{{\"a\": [1, 2]}}', 'b', 'x,z', b'1', b'101010111100', \
         ST_GeomFromText('LINESTRING(0 0, 1 1, 2 5.5)', 4326), \
         ST_PointFromText('POINT(1.5 -2.25)', 3857), POINT(0, 0), \
         ST_PolygonFromText('POLYGON((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))'), NULL)"
    )
}

/// A GEOMETRY column holding a point, the nullable spatial columns NULL.
fn sparse_row(id: u64) -> String {
    format!(
        "({id}, 0, 0, 0, 0, 0, 0, 0.5, 0, 0, '1970-01-01', '00:00:00', '1970-01-01 00:00:00', \
         '2038-01-19 03:14:07', NULL, 1901, '', '', '', '', X'', X'', X'', 'null', 'a', '', \
         b'0', b'0', ST_GeomFromText('POINT(3 4)'), NULL, POINT(-1e10, 0.1), NULL, 7)"
    )
}

/// One connector config both sides run.
struct Variant {
    label: &'static str,
    decimal_mode: &'static str,
    schemas: bool,
}

const VARIANTS: [Variant; 4] = [
    Variant {
        label: "precise",
        decimal_mode: "precise",
        schemas: true,
    },
    Variant {
        label: "noschema",
        decimal_mode: "precise",
        schemas: false,
    },
    Variant {
        label: "string",
        decimal_mode: "string",
        schemas: true,
    },
    Variant {
        label: "double",
        decimal_mode: "double",
        schemas: true,
    },
];

fn variant_config(prefix: &str, database: &str, variant: &Variant) -> Value {
    let mut config = cdc_config(&Services::from_env().mysql_url, prefix, database);
    let schemas = variant.schemas.to_string();
    let map = config.as_object_mut().expect("config object");
    map.insert("decimal.handling.mode".into(), variant.decimal_mode.into());
    map.insert(
        "key.converter.schemas.enable".into(),
        schemas.clone().into(),
    );
    map.insert("value.converter.schemas.enable".into(), schemas.into());
    config
}

/// Records expected per table topic: 2 snapshot rows, then insert, update, delete +
/// tombstone, insert after the ALTER, and a primary-key change (delete + tombstone +
/// create).
const EXPECTED_RECORDS: usize = 10;

/// A path (`value.payload.source.pos`) whose value may differ between the two, and why.
/// `snapshot` says whether the record came from the snapshot.
fn legitimately_differs(path: &str, snapshot: bool) -> Option<&'static str> {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    let in_source = path.contains(".source.");
    match leaf {
        // When the connector processed the event: wall-clock time of each process.
        "ts_ms" | "ts_us" | "ts_ns" if !in_source => Some("processing time"),
        // Each connector names its own release.
        "version" if in_source => Some("the connector's own version"),
        // Each side's snapshot ran at its own moment, at its own binlog point.
        "ts_ms" | "ts_us" | "ts_ns" | "file" | "pos" | "gtid" if in_source && snapshot => {
            Some("each side's own snapshot")
        }
        _ => None,
    }
}

/// What Debezium wrote for row 1's spatial columns, checked so that the comparison of them
/// is not between two nulls: empty when it is what docs/mysql-source.md describes.
fn spatial_columns_unwritten(snapshot_row: &Value) -> Vec<String> {
    let after = &snapshot_row["payload"]["after"];
    let fields = snapshot_row["schema"]["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["field"] == "after"))
        .map(|after| after["fields"].clone())
        .unwrap_or_default();
    let field = |name: &str| {
        fields
            .as_array()
            .and_then(|fields| fields.iter().find(|f| f["field"] == name))
            .cloned()
            .unwrap_or_default()
    };
    let checks = [
        (
            after["p"]["x"] == 1.5 && after["p"]["y"] == -2.25,
            "p is POINT(1.5 -2.25)",
        ),
        (after["p"]["srid"] == 3857, "p has SRID 3857"),
        (
            after["pn"]["srid"].is_null() && after["pn"]["wkb"].is_string(),
            "pn has no SRID",
        ),
        (
            after["g"]["srid"] == 4326 && after["g"]["wkb"].is_string(),
            "g has SRID 4326",
        ),
        (after["g"].get("x").is_none(), "g has no coordinates"),
        (
            field("g")["name"] == "io.debezium.data.geometry.Geometry"
                && field("g")["optional"] == true,
            "g's schema is an optional Geometry",
        ),
        (
            field("pn")["name"] == "io.debezium.data.geometry.Point"
                && field("pn")["optional"] == false,
            "pn's schema is a required Point",
        ),
    ];
    checks
        .iter()
        .filter(|(holds, _)| !holds)
        .map(|(_, what)| format!("Debezium's snapshot row 1: expected {what}: {snapshot_row}"))
        .collect()
}

fn is_snapshot(value: &Value) -> bool {
    let payload = value.get("payload").unwrap_or(value);
    payload["op"] == "r"
}

/// Every leaf where `ours` and `theirs` differ, as `path: ours != theirs`.
fn differences(path: &str, ours: &Value, theirs: &Value, snapshot: bool, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let child = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => differences(&child, x, y, snapshot, out),
                    (x, y) => out.push(format!("{child}: ours {x:?} != Debezium {y:?}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                differences(&format!("{path}[{index}]"), x, y, snapshot, out);
            }
        }
        _ if ours == theirs => {}
        _ if legitimately_differs(path, snapshot).is_some() => {}
        _ => out.push(format!("{path}: ours {ours} != Debezium {theirs}")),
    }
}

/// `value` with every `from` in its strings replaced by `to`: each side has its own
/// `topic.prefix`, which appears in schema names and `source.name`.
fn with_prefix(value: &Value, from: &str, to: &str) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace(from, to)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| with_prefix(v, from, to)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), with_prefix(v, from, to)))
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn topics_with_prefix(prefix: &str) -> BTreeSet<String> {
    let clients = crate::connect_support::clients().await;
    let inspector =
        broker_core::metadata::ClusterInspector::new(&clients, Duration::from_secs(10)).unwrap();
    let metadata = inspector.metadata(None).await.unwrap();
    metadata
        .topics
        .iter()
        .filter_map(|t| t.name.strip_prefix(prefix).map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn debezium_in_kafka_connect_and_ours_write_the_same_records() {
    let mut conn = shared().await;
    let database = unique_name("dbz_cmp");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut conn,
        &format!("CREATE TABLE `{database}`.t ({COLUMNS})"),
    )
    .await;
    exec(
        &mut conn,
        &format!(
            "INSERT INTO `{database}`.t VALUES {}, {}",
            full_row(1),
            sparse_row(2)
        ),
    )
    .await;

    // Debezium in Kafka Connect, and ours, each on its own group and internal topics.
    let theirs_names = ClusterNames::unique();
    let kafka_connect = KafkaConnectProcess::start(
        &KafkaConnectCluster {
            bootstrap: Services::from_env().kafka_bootstrap,
            group_id: theirs_names.group_id.clone(),
            config_topic: theirs_names.configs.clone(),
            offset_topic: theirs_names.offsets.clone(),
            status_topic: theirs_names.statuses.clone(),
            heap: "-Xmx512m".to_owned(),
        },
        Duration::from_secs(120),
    )
    .await;
    let ours = start_worker(&ClusterNames::unique()).await;
    let run = unique_name("dbzcmp");
    let prefix = |side: &str, variant: &Variant| format!("{run}_{side}_{}", variant.label);
    for variant in &VARIANTS {
        for (side, base) in [
            ("dbz", kafka_connect.url.as_str()),
            ("ours", ours.base.as_str()),
        ] {
            let body = json!({
                "name": format!("{side}_{}", variant.label),
                "config": variant_config(&prefix(side, variant), &database, variant),
            });
            let (status, answer) =
                call(Method::POST, &format!("{base}/connectors"), Some(body)).await;
            assert_eq!(status, 201, "{side} {}: {answer}", variant.label);
        }
    }
    for variant in &VARIANTS {
        for (side, base) in [
            ("dbz", kafka_connect.url.as_str()),
            ("ours", ours.base.as_str()),
        ] {
            let name = format!("{side}_{}", variant.label);
            wait_for(
                &format!("{base}/connectors/{name}/status"),
                Duration::from_secs(90),
                |status, body| status == 200 && body["tasks"][0]["state"] == "RUNNING",
            )
            .await;
        }
    }
    // Both snapshots are in Kafka before the changes, so the two streams see the same
    // binlog events (each snapshot is taken at its own binlog point).
    for variant in &VARIANTS {
        for side in ["dbz", "ours"] {
            let topic = format!("{}.{database}.t", prefix(side, variant));
            read_topic(
                &topic,
                Duration::from_secs(90),
                Duration::ZERO,
                Some(&|seen| seen.len() >= 2),
            )
            .await;
        }
    }

    let table = format!("`{database}`.t");
    for sql in [
        format!("INSERT INTO {table} VALUES {}", full_row(3)),
        format!(
            "UPDATE {table} SET vc = 'changed', de = 99.5, ts = '2030-05-06 07:08:09.5', \
             p = NULL, pg = ST_GeomFromText('POLYGON((0 0, 1 0, 0 1, 0 0))', 4326), \
             g = ST_GeomFromText('MULTIPOINT(1 1, 2 2)') WHERE id = 1"
        ),
        format!("DELETE FROM {table} WHERE id = 2"),
        format!("ALTER TABLE {table} ADD COLUMN added VARCHAR(8) NOT NULL DEFAULT 'dflt'"),
        format!(
            "INSERT INTO {table} VALUES {}",
            full_row(4).replace(", NULL)", ", NULL, 'new')")
        ),
        format!("UPDATE {table} SET id = 5 WHERE id = 4"),
    ] {
        exec(&mut conn, &sql).await;
    }

    let mut report = Vec::new();
    for variant in &VARIANTS {
        let read = |side: &'static str| {
            let topic = format!("{}.{database}.t", prefix(side, variant));
            async move {
                read_topic(
                    &topic,
                    Duration::from_secs(90),
                    Duration::ZERO,
                    Some(&|seen| seen.len() >= EXPECTED_RECORDS),
                )
                .await
            }
        };
        let (theirs, mine) = (read("dbz").await, read("ours").await);
        assert_eq!(
            mine.len(),
            theirs.len(),
            "{}: record counts differ",
            variant.label
        );
        if variant.label == "precise" {
            report.extend(spatial_columns_unwritten(&theirs[0].1));
        }
        for (index, ((our_key, our_value), (their_key, their_value))) in
            mine.iter().zip(&theirs).enumerate()
        {
            let snapshot = is_snapshot(their_value);
            let (from, to) = (prefix("ours", variant), prefix("dbz", variant));
            let our_key = &with_prefix(our_key, &from, &to);
            let our_value = &with_prefix(our_value, &from, &to);
            let mut found = Vec::new();
            differences("key", our_key, their_key, snapshot, &mut found);
            differences("value", our_value, their_value, snapshot, &mut found);
            for difference in found {
                report.push(format!("{} record {index}: {difference}", variant.label));
            }
        }
    }

    // Same topics on both sides: table topics and the schema change topic.
    let variant = &VARIANTS[0];
    let their_topics = topics_with_prefix(&prefix("dbz", variant)).await;
    let our_topics = topics_with_prefix(&prefix("ours", variant)).await;
    assert_eq!(our_topics, their_topics, "topic names after the prefix");

    kafka_connect.stop(Duration::from_secs(60)).await;
    ours.stop().await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
    assert!(
        report.is_empty(),
        "{} differences from Debezium:\n{}",
        report.len(),
        report.join("\n")
    );
}
