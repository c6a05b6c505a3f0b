//! Expected JSON Schemas are those Confluent's `JsonSchemaData` gives for the same Connect
//! schemas (its mapping rules and `JsonSchemaDataTest`'s fixtures), compared as JSON.

use super::*;
use crate::converters::test_fixtures::debezium_envelope;

fn connect(schema: Value) -> Schema {
    serde_json::from_value(schema).unwrap()
}

fn json_schema(schema: &Schema) -> Value {
    json_schema_of(schema, JsonSchemaDataOptions::default()).unwrap()
}

#[test]
fn debezium_envelope_maps_as_confluent_does() {
    let row = json!({"type": "object", "title": "dbz.shop.orders.Value", "properties": {
        "id": {"type": "integer", "connect.type": "int32", "connect.index": 0},
        "qty": {"oneOf": [{"type": "null"}, {"type": "integer", "connect.type": "int16"}], "connect.index": 1},
        "price": {"oneOf": [{"type": "null"}, {"type": "number", "connect.type": "bytes",
            "title": "org.apache.kafka.connect.data.Decimal", "connect.version": 1,
            "connect.parameters": {"scale": "2", "connect.decimal.precision": "10"}}], "connect.index": 2},
        "day": {"oneOf": [{"type": "null"}, {"type": "integer", "connect.type": "int32",
            "title": "org.apache.kafka.connect.data.Date", "connect.version": 1}], "connect.index": 3},
        "at": {"oneOf": [{"type": "null"}, {"type": "integer", "connect.type": "int64",
            "title": "org.apache.kafka.connect.data.Timestamp", "connect.version": 1}], "connect.index": 4},
        "tags": {"oneOf": [{"type": "null"}, {"type": "array", "items": {"type": "string"}}], "connect.index": 5},
        "counts": {"type": "object", "additionalProperties": {"type": "integer", "connect.type": "int64"},
            "connect.type": "map", "connect.index": 6},
        "raw": {"oneOf": [{"type": "null"}, {"type": "string", "connect.type": "bytes"}], "connect.index": 7},
    }});
    let expected = json!({"type": "object", "title": "dbz.shop.orders.Envelope", "connect.version": 1, "properties": {
        // An optional struct: the title sits inside the oneOf, the index outside.
        "before": {"oneOf": [{"type": "null"}, row], "connect.index": 0},
        "after": {"oneOf": [{"type": "null"}, row], "connect.index": 1},
        "source": {"type": "object", "title": "io.debezium.connector.mysql.Source", "connect.index": 2, "properties": {
            "version": {"type": "string", "connect.index": 0},
            "snapshot": {"oneOf": [{"type": "null"}, {"type": "string", "title": "io.debezium.data.Enum",
                "connect.version": 1, "connect.parameters": {"allowed": "true,first,last,false"},
                "default": "false"}], "connect.index": 1},
        }},
        "op": {"type": "string", "connect.index": 3},
        "ts_ms": {"oneOf": [{"type": "null"}, {"type": "integer", "connect.type": "int64"}], "connect.index": 4},
    }});
    let schema = debezium_envelope();
    let written = json_schema(&schema);
    assert_eq!(written, expected);
    // The registry's validator accepts it.
    schemas::compiled::JsonSchema::compile(&written.to_string(), &[]).unwrap();
    // And it reads back as the same Connect schema.
    let back = connect_schema_of(&written, None, JsonSchemaDataOptions::default()).unwrap();
    assert_eq!(back, schema);
}

#[test]
fn additional_properties_false_only_when_configured() {
    let schema = connect(json!({"type": "struct", "name": "a.B", "fields": [
        {"field": "x", "type": "int8"},
        {"field": "m", "type": "map", "keys": {"type": "int32"}, "values": {"type": "boolean"}}]}));
    let closed = json_schema_of(
        &schema,
        JsonSchemaDataOptions {
            object_additional_properties: false,
            ..JsonSchemaDataOptions::default()
        },
    )
    .unwrap();
    assert_eq!(closed["additionalProperties"], false);
    assert!(json_schema(&schema).get("additionalProperties").is_none());
    // A map with non-string keys is an array of key/value entries.
    assert_eq!(
        closed["properties"]["m"],
        json!({"type": "array", "connect.type": "map", "connect.index": 1, "items": {"type": "object",
            "properties": {"key": {"type": "integer", "connect.type": "int32", "connect.index": 0},
                           "value": {"type": "boolean", "connect.index": 1}}}})
    );
}

#[test]
fn values_round_trip_through_json() {
    let schema = debezium_envelope();
    let value = json!({
        "before": null,
        "after": {"id": 1, "qty": 2, "price": "MDk=", "day": 19_724, "at": 1_704_164_645_678_i64,
                  "tags": ["a"], "counts": {"x": 3}, "raw": "AQI="},
        "source": {"version": "2.7", "snapshot": null},
        "op": "c", "ts_ms": 5,
    });
    let written = json_value_of(&schema, &value).unwrap();
    // A null with a default is written as the default, as Confluent does.
    assert_eq!(written["source"]["snapshot"], "false");
    assert_eq!(written["after"]["price"], "MDk=");
    let back = connect_value_of(&schema, &written).unwrap();
    let mut expected = value;
    expected["source"]["snapshot"] = json!("false");
    assert_eq!(back, expected);
    // A required field without a value and without a default is refused.
    let missing = json!({"before": null, "after": null, "source": null, "op": "c", "ts_ms": null});
    assert!(json_value_of(&schema, &missing).is_err());
}

#[test]
fn plain_json_schemas_of_other_producers_read() {
    let written = json!({"$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
        "properties": {"id": {"type": "integer"}, "note": {"type": ["null", "string"]},
                       "price": {"type": "number"}, "lines": {"type": "array", "items": {"$ref": "#/definitions/Line"}}},
        "required": ["id"],
        "definitions": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}}}}});
    let schema = connect_schema_of(&written, Some(3), JsonSchemaDataOptions::default()).unwrap();
    assert_eq!(schema.name.as_deref(), Some("Order"));
    assert_eq!(schema.version, Some(3));
    let id = schema.field("id").unwrap();
    assert_eq!(
        (id.schema.schema_type, id.schema.optional),
        (SchemaType::Int64, false)
    );
    let note = schema.field("note").unwrap();
    assert_eq!(
        (note.schema.schema_type, note.schema.optional),
        (SchemaType::String, true)
    );
    assert_eq!(
        schema.field("price").unwrap().schema.schema_type,
        SchemaType::Double
    );
    let lines = &schema.field("lines").unwrap().schema;
    assert_eq!(
        lines
            .items
            .as_ref()
            .unwrap()
            .field("sku")
            .unwrap()
            .schema
            .schema_type,
        SchemaType::String
    );
    let value = connect_value_of(
        &schema,
        &json!({"id": 7, "price": 2.5, "lines": [{"sku": "x"}]}),
    )
    .unwrap();
    assert_eq!(
        value,
        json!({"id": 7, "note": null, "price": 2.5, "lines": [{"sku": "x"}]})
    );
    // use.optional.for.nonrequired makes every property outside `required` optional.
    let optional = connect_schema_of(
        &written,
        None,
        JsonSchemaDataOptions {
            use_optional_for_nonrequired: true,
            ..JsonSchemaDataOptions::default()
        },
    )
    .unwrap();
    assert!(optional.field("price").unwrap().schema.optional);
    assert!(!optional.field("id").unwrap().schema.optional);
}

#[test]
fn numeric_decimals_become_unscaled_bytes() {
    let schema = connect(
        json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
        "parameters": {"scale": "2"}}),
    );
    // 123.45 → unscaled 12345 = 0x3039.
    assert_eq!(
        connect_value_of(&schema, &json!(123.45)).unwrap(),
        json!("MDk=")
    );
    assert_eq!(minimal_twos_complement(-1), [0xff]);
    assert_eq!(minimal_twos_complement(128), [0, 128]);
}
