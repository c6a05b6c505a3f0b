//! Expected Avro schemas are those Confluent's `AvroData` gives for the same Connect
//! schemas (its documented behaviour and `AvroDataTest`'s fixtures), compared as JSON.

use schemas::compiled::AvroSchema;

use super::*;

fn connect(schema: Value) -> Schema {
    serde_json::from_value(schema).unwrap()
}

fn avro(schema: Value) -> Value {
    avro_schema_of(&connect(schema), AvroDataOptions::default()).unwrap()
}

/// A Debezium MySQL change event schema, as the MySQL source builds it.
fn debezium_envelope() -> Value {
    let row = json!({"type": "struct", "optional": true, "name": "dbz.shop.orders.Value", "fields": [
        {"field": "id", "type": "int32", "optional": false},
        {"field": "qty", "type": "int16", "optional": true},
        {"field": "price", "type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
         "version": 1, "parameters": {"scale": "2", "connect.decimal.precision": "10"}},
        {"field": "day", "type": "int32", "optional": true, "name": "io.debezium.time.Date", "version": 1},
    ]});
    json!({"type": "struct", "optional": false, "name": "dbz.shop.orders.Envelope", "version": 1, "fields": [
        dbz_field("before", &row),
        dbz_field("after", &row),
        {"field": "source", "type": "struct", "optional": false, "name": "io.debezium.connector.mysql.Source", "fields": [
            {"field": "version", "type": "string", "optional": false},
            {"field": "snapshot", "type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
             "parameters": {"allowed": "true,first,last,false"}, "default": "false"},
        ]},
        {"field": "op", "type": "string", "optional": false},
        {"field": "ts_ms", "type": "int64", "optional": true},
    ]})
}

fn dbz_field(name: &str, row: &Value) -> Value {
    let mut field = row.clone();
    field["field"] = Value::from(name);
    field
}

#[test]
fn debezium_envelope_maps_to_named_records() {
    let expected_row = json!({"type": "record", "name": "Value", "namespace": "dbz.shop.orders", "fields": [
        {"name": "id", "type": {"type": "int"}},
        {"name": "qty", "type": ["null", {"type": "int", "connect.type": "int16"}], "default": null},
        {"name": "price", "type": ["null", {"type": "bytes", "scale": 2, "precision": 10, "logicalType": "decimal",
            "connect.version": 1, "connect.name": "org.apache.kafka.connect.data.Decimal",
            "connect.parameters": {"scale": "2", "connect.decimal.precision": "10"}}], "default": null},
        {"name": "day", "type": ["null", {"type": "int", "connect.version": 1, "connect.name": "io.debezium.time.Date"}], "default": null},
    ], "connect.name": "dbz.shop.orders.Value"});
    let expected = json!({"type": "record", "name": "Envelope", "namespace": "dbz.shop.orders", "fields": [
        {"name": "before", "type": ["null", expected_row], "default": null},
        {"name": "after", "type": ["null", "dbz.shop.orders.Value"], "default": null},
        {"name": "source", "type": {"type": "record", "name": "Source", "namespace": "io.debezium.connector.mysql", "fields": [
            {"name": "version", "type": {"type": "string"}},
            // An optional field with a default: the type first, then null; the default kept.
            {"name": "snapshot", "type": [{"type": "string", "connect.version": 1,
                "connect.parameters": {"allowed": "true,first,last,false"}, "connect.default": "false",
                "connect.name": "io.debezium.data.Enum"}, "null"], "default": "false"},
        ], "connect.name": "io.debezium.connector.mysql.Source"}},
        {"name": "op", "type": {"type": "string"}},
        {"name": "ts_ms", "type": ["null", {"type": "long"}], "default": null},
    ], "connect.version": 1, "connect.name": "dbz.shop.orders.Envelope"});
    assert_eq!(avro(debezium_envelope()), expected);
    // apache-avro parses it (no named type defined twice).
    AvroSchema::compile(&expected.to_string(), &[]).unwrap();
}

#[test]
fn logical_types_and_decimal_precision() {
    let decimal = avro(
        json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
        "parameters": {"scale": "3"}}),
    );
    assert_eq!(
        decimal,
        json!({"type": "bytes", "scale": 3, "precision": 64, "logicalType": "decimal",
        "connect.version": 1, "connect.parameters": {"scale": "3"}, "connect.name": "org.apache.kafka.connect.data.Decimal"})
    );
    for (name, base, logical) in [
        (DATE, "int32", "date"),
        (TIME, "int32", "time-millis"),
        (TIMESTAMP, "int64", "timestamp-millis"),
    ] {
        let schema = avro(json!({"type": base, "name": name, "version": 1}));
        assert_eq!(schema["logicalType"], logical, "{schema}");
        assert_eq!(schema["connect.name"], name);
    }
    assert_eq!(
        avro(json!({"type": "int8"})),
        json!({"type": "int", "connect.type": "int8"})
    );
}

#[test]
fn maps_follow_their_key_type() {
    assert_eq!(
        avro(json!({"type": "map", "keys": {"type": "string"}, "values": {"type": "int32"}})),
        json!({"type": "map", "values": {"type": "int"}})
    );
    assert_eq!(
        avro(
            json!({"type": "map", "keys": {"type": "string", "optional": true}, "values": {"type": "int32"}})
        ),
        json!({"type": "array", "items": {"type": "record", "name": "MapEntry", "namespace": "io.confluent.connect.avro",
            "fields": [{"name": "key", "type": ["null", {"type": "string"}], "default": null},
                       {"name": "value", "type": {"type": "int"}}]}})
    );
    // A named map: the entry record takes the name and says it is a map entry.
    assert_eq!(
        avro(
            json!({"type": "map", "name": "foo.bar", "keys": {"type": "int32"}, "values": {"type": "int32"}})
        ),
        json!({"type": "array", "connect.name": "foo.bar", "items": {"type": "record", "name": "bar", "namespace": "foo",
            "connect.internal.type": "MapEntry",
            "fields": [{"name": "key", "type": {"type": "int"}}, {"name": "value", "type": {"type": "int"}}]}})
    );
}

#[test]
fn unnamed_structs_are_connect_default() {
    let schema = avro(json!({"type": "struct", "fields": [
        {"field": "inner", "type": "struct", "fields": [{"field": "x", "type": "string"}]},
    ]}));
    assert_eq!(schema["name"], "ConnectDefault");
    assert_eq!(schema["namespace"], "io.confluent.connect.avro");
    assert_eq!(schema["fields"][0]["type"]["name"], "ConnectDefault2");
    AvroSchema::compile(&schema.to_string(), &[]).unwrap();
}

#[test]
fn connect_meta_data_false_drops_the_properties() {
    let options = AvroDataOptions {
        connect_meta_data: false,
        ..AvroDataOptions::default()
    };
    let schema = avro_schema_of(&connect(debezium_envelope()), options).unwrap();
    let text = schema.to_string();
    assert!(!text.contains("connect.name"), "{text}");
    assert_eq!(schema["name"], "Envelope");
}

#[test]
fn the_reverse_mapping_gives_back_the_connect_schema() {
    let original = connect(debezium_envelope());
    let avro = avro_schema_of(&original, AvroDataOptions::default()).unwrap();
    let names = AvroNames::collect(&[&avro]);
    let back = connect_schema_of(&avro, &names).unwrap();
    assert_eq!(back, original);
}

#[test]
fn avro_written_elsewhere_gets_connect_names() {
    // A record, an enum and a fixed written by a plain Avro producer.
    let avro = json!({"type": "record", "name": "User", "namespace": "com.example", "doc": "a user", "fields": [
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "tag", "type": {"type": "fixed", "name": "Tag", "size": 2}},
        {"name": "age", "type": "int", "default": 3},
    ]});
    let schema = connect_schema_of(&avro, &AvroNames::collect(&[&avro])).unwrap();
    assert_eq!(schema.name.as_deref(), Some("com.example.User"));
    let parameters = schema.parameters.clone().unwrap();
    assert_eq!(parameters["io.confluent.connect.avro.record.doc"], "a user");
    let kind = &schema.field("kind").unwrap().schema;
    assert_eq!(kind.schema_type, SchemaType::String);
    assert_eq!(
        kind.parameters.as_ref().unwrap()["io.confluent.connect.avro.Enum"],
        "com.example.Kind"
    );
    let age = &schema.field("age").unwrap().schema;
    assert_eq!(age.default, Some(json!(3)));
    assert_eq!(
        schema.field("tag").unwrap().schema.schema_type,
        SchemaType::Bytes
    );
}

#[test]
fn values_round_trip_through_avro_binary() {
    let schema = connect(debezium_envelope());
    let value = json!({
        "before": null,
        "after": {"id": 7, "qty": 3, "price": "MDk=", "day": 19000},
        "source": {"version": "2.7.0.Final", "snapshot": "true"},
        "op": "r",
        "ts_ms": 1_700_000_000_000_i64,
    });
    let avro_json = avro_schema_of(&schema, AvroDataOptions::default()).unwrap();
    let names = AvroNames::collect(&[&avro_json]);
    let compiled = AvroSchema::compile(&avro_json.to_string(), &[]).unwrap();
    let datum = compiled
        .encode(avro_value_of(&avro_json, &names, &value).unwrap())
        .unwrap();
    // before = union index 0 (null); after = union index 1, then id 7 → zig-zag 14.
    assert_eq!(&datum[..3], &[0, 2, 14]);
    let decoded = compiled.decode(&datum).unwrap();
    assert_eq!(
        connect_value_of(&avro_json, &names, &decoded).unwrap(),
        value
    );
}

#[test]
fn maps_with_non_string_keys_round_trip_as_entries() {
    let schema =
        connect(json!({"type": "map", "keys": {"type": "int32"}, "values": {"type": "string"}}));
    let value = json!([[1, "one"], [2, "two"]]);
    let avro_json = avro_schema_of(&schema, AvroDataOptions::default()).unwrap();
    let names = AvroNames::collect(&[&avro_json]);
    let compiled = AvroSchema::compile(&avro_json.to_string(), &[]).unwrap();
    let datum = compiled
        .encode(avro_value_of(&avro_json, &names, &value).unwrap())
        .unwrap();
    let decoded = compiled.decode(&datum).unwrap();
    assert_eq!(
        connect_value_of(&avro_json, &names, &decoded).unwrap(),
        value
    );
}

#[test]
fn a_value_that_does_not_fit_names_its_field() {
    let schema = connect(debezium_envelope());
    let avro_json = avro_schema_of(&schema, AvroDataOptions::default()).unwrap();
    let names = AvroNames::collect(&[&avro_json]);
    let error = avro_value_of(
        &avro_json,
        &names,
        &json!({"after": null, "before": null, "source": {"version": 1}, "op": "r"}),
    )
    .unwrap_err();
    assert!(error.contains("source.version"), "{error}");
}
