//! Expected `.proto` sources follow Confluent's `ProtobufData` rules (its mapping code and
//! `ProtobufDataTest`'s fixtures); values go through real Protobuf bytes both ways.

use prost::Message as _;
use prost_reflect::DynamicMessage;
use schemas::compiled::ProtobufSchema;
use serde_json::json;

use super::*;
use crate::converters::test_fixtures::debezium_envelope;

fn connect(schema: Value) -> Schema {
    serde_json::from_value(schema).unwrap()
}

const EXPECTED_PROTO: &str = r#"syntax = "proto3";
package dbz.shop.orders;

import "confluent/meta.proto";
import "confluent/type/decimal.proto";
import "google/protobuf/timestamp.proto";
import "google/type/date.proto";

message Envelope {
  Value before = 1;
  Value after = 2;
  Source source = 3;
  string op = 4;
  int64 ts_ms = 5;
  message Value {
    int32 id = 1;
    int32 qty = 2 [(confluent.field_meta) = { params: [ { key: "connect.type", value: "int16" } ] }];
    confluent.type.Decimal price = 3 [(confluent.field_meta) = { params: [ { key: "precision", value: "10" }, { key: "scale", value: "2" } ] }];
    google.type.Date day = 4;
    google.protobuf.Timestamp at = 5;
    repeated string tags = 6;
    repeated ConnectDefault1Entry counts = 7;
    bytes raw = 8;
    message ConnectDefault1Entry {
      string key = 1;
      int64 value = 2;
    }
  }
  message Source {
    string version = 1;
    string snapshot = 2;
  }
}
"#;

#[test]
fn debezium_envelope_maps_as_confluent_does() {
    let file = proto_of(&debezium_envelope()).unwrap();
    assert_eq!(file.message, "dbz.shop.orders.Envelope");
    assert_eq!(file.text, EXPECTED_PROTO);
    // It compiles with Confluent's known imports, and reads back as Connect sees it.
    let compiled = ProtobufSchema::compile(&file.text, &[]).unwrap();
    let (message, indexes) = compiled.message_named(Some(&file.message)).unwrap();
    assert_eq!(indexes, [0]);
    let schema = connect_schema_of(&compiled, &message, None).unwrap();
    assert_eq!(schema.name.as_deref(), Some("Envelope"));
    let after = &schema.field("after").unwrap().schema;
    assert_eq!(after.name.as_deref(), Some("Value"));
    let field = |name: &str| after.field(name).unwrap().schema.clone();
    assert_eq!(field("qty").schema_type, SchemaType::Int16);
    assert!(field("qty").optional);
    assert_eq!(
        field("price").name.as_deref(),
        Some("org.apache.kafka.connect.data.Decimal")
    );
    assert_eq!(
        field("price").parameters.unwrap().get("scale"),
        Some(&json!("2"))
    );
    assert_eq!(
        field("day").name.as_deref(),
        Some("org.apache.kafka.connect.data.Date")
    );
    assert_eq!(field("at").schema_type, SchemaType::Int64);
    assert_eq!(field("tags").schema_type, SchemaType::Array);
    assert_eq!(field("counts").schema_type, SchemaType::Map);
    assert_eq!(field("id").parameters.unwrap().get(TAG), Some(&json!("1")));
}

#[test]
fn values_round_trip_through_protobuf_bytes() {
    let schema = debezium_envelope();
    let file = proto_of(&schema).unwrap();
    let compiled = ProtobufSchema::compile(&file.text, &[]).unwrap();
    let (message, _) = compiled.message_named(Some(&file.message)).unwrap();
    let value = json!({
        "before": null,
        "after": {"id": 1, "qty": 2, "price": "MDk=", "day": 19_724, "at": 1_704_164_645_678_i64,
                  "tags": ["a", "b"], "counts": {"x": 3}, "raw": "AQI="},
        "source": {"version": "2.7", "snapshot": "true"},
        "op": "c", "ts_ms": 5,
    });
    let bytes = protobuf_message_of(&message, &schema, &value)
        .unwrap()
        .encode_to_vec();
    let decoded = DynamicMessage::decode(message.clone(), bytes.as_slice()).unwrap();
    let read_schema = connect_schema_of(&compiled, &message, None).unwrap();
    let back = connect_value_of(&decoded, &read_schema).unwrap();
    assert_eq!(back, value);
    // 2024-01-02 as google.type.Date.
    assert_eq!(civil_from_days(19_724), (2024, 1, 2));
    assert_eq!(days_from_civil(2024, 1, 2), 19_724);
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
}

#[test]
fn unnamed_structs_get_default_names_and_clashing_names_a_suffix() {
    let schema = connect(json!({"type": "struct", "fields": [
        {"field": "inner", "type": "struct", "optional": true, "fields": [{"field": "a", "type": "int8"}]},
        {"field": "Point", "type": "struct", "name": "geo.Point", "fields": [{"field": "x", "type": "double"}]},
        {"field": "nums", "type": "map", "keys": {"type": "int32"}, "values": {"type": "string"}},
    ]}));
    let file = proto_of(&schema).unwrap();
    assert_eq!(file.message, "ConnectDefault1");
    assert!(
        file.text.contains("  ConnectDefault2 inner = 1;"),
        "{}",
        file.text
    );
    assert!(
        file.text.contains("  PointMessage Point = 2;"),
        "{}",
        file.text
    );
    assert!(
        file.text
            .contains("  repeated ConnectDefault3Entry nums = 3;"),
        "{}",
        file.text
    );
    let compiled = ProtobufSchema::compile(&file.text, &[]).unwrap();
    let (message, _) = compiled.message_named(Some("ConnectDefault1")).unwrap();
    let value = json!({"inner": {"a": -3}, "Point": {"x": 1.5}, "nums": [[1, "one"], [2, "two"]]});
    let bytes = protobuf_message_of(&message, &schema, &value)
        .unwrap()
        .encode_to_vec();
    let decoded = DynamicMessage::decode(message.clone(), bytes.as_slice()).unwrap();
    let back = connect_value_of(
        &decoded,
        &connect_schema_of(&compiled, &message, None).unwrap(),
    )
    .unwrap();
    assert_eq!(back, value);
}

#[test]
fn messages_of_other_producers_read() {
    let compiled = ProtobufSchema::compile(
        r#"syntax = "proto3"; package shop;
           import "google/protobuf/timestamp.proto";
           enum Kind { KIND_UNKNOWN = 0; KIND_BOOK = 1; }
           message Order { int64 id = 1; repeated Line lines = 2; google.protobuf.Timestamp at = 3;
             map<string, int32> stock = 4; Kind kind = 5; optional string note = 6;
             oneof pay { string card = 7; int32 cash = 8; } }
           message Line { string sku = 1; uint32 qty = 2; }"#,
        &[],
    )
    .unwrap();
    let message = compiled.message_at(&[0]).unwrap();
    let schema = connect_schema_of(&compiled, &message, Some(2)).unwrap();
    assert_eq!(schema.version, Some(2));
    assert_eq!(schema.fields.as_ref().unwrap()[0].field, "pay_0");
    let mut order = DynamicMessage::new(message.clone());
    order.set_field_by_name("id", prost_reflect::Value::I64(7));
    order.set_field_by_name("kind", prost_reflect::Value::EnumNumber(1));
    order.set_field_by_name("cash", prost_reflect::Value::I32(5));
    order.set_field_by_name(
        "at",
        prost_reflect::Value::Message({
            let mut at = DynamicMessage::new(
                compiled
                    .file
                    .parent_pool()
                    .get_message_by_name("google.protobuf.Timestamp")
                    .unwrap(),
            );
            at.set_field_by_name("seconds", prost_reflect::Value::I64(1_700_000_000));
            at
        }),
    );
    let value = connect_value_of(&order, &schema).unwrap();
    assert_eq!(
        value,
        json!({"pay_0": {"cash": 5}, "id": 7, "lines": [], "at": 1_700_000_000_000_i64,
               "stock": {}, "kind": "KIND_BOOK", "note": null})
    );
}
