//! Connect schemas the mapping tests of every format share.

use connect_api::Schema;
use serde_json::json;

/// A Debezium MySQL change event schema (Decimal, Date, Timestamp, int16, optional fields,
/// nested structs, a default), with an array, a map and bytes added to the row.
pub(super) fn debezium_envelope() -> Schema {
    let row = json!({"type": "struct", "optional": true, "name": "dbz.shop.orders.Value", "fields": [
        {"field": "id", "type": "int32", "optional": false},
        {"field": "qty", "type": "int16", "optional": true},
        {"field": "price", "type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
         "version": 1, "parameters": {"scale": "2", "connect.decimal.precision": "10"}},
        {"field": "day", "type": "int32", "optional": true, "name": "org.apache.kafka.connect.data.Date", "version": 1},
        {"field": "at", "type": "int64", "optional": true, "name": "org.apache.kafka.connect.data.Timestamp", "version": 1},
        {"field": "tags", "type": "array", "optional": true, "items": {"type": "string", "optional": false}},
        {"field": "counts", "type": "map", "optional": false, "keys": {"type": "string", "optional": false},
         "values": {"type": "int64", "optional": false}},
        {"field": "raw", "type": "bytes", "optional": true},
    ]});
    let mut after = row.clone();
    after["field"] = json!("after");
    let mut before = row;
    before["field"] = json!("before");
    serde_json::from_value(json!({"type": "struct", "optional": false, "name": "dbz.shop.orders.Envelope", "version": 1, "fields": [
        before, after,
        {"field": "source", "type": "struct", "optional": false, "name": "io.debezium.connector.mysql.Source", "fields": [
            {"field": "version", "type": "string", "optional": false},
            {"field": "snapshot", "type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
             "parameters": {"allowed": "true,first,last,false"}, "default": "false"},
        ]},
        {"field": "op", "type": "string", "optional": false},
        {"field": "ts_ms", "type": "int64", "optional": true},
    ]}))
    .unwrap()
}
