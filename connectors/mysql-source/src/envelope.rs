//! Debezium's change event: key struct, value envelope (`before`, `after`, `source`, `op`,
//! `ts_ms`, `ts_us`, `ts_ns`, `transaction`), the tombstone after a delete, and the schema
//! change event. Schemas are spelled the way Debezium's `JsonConverter` output shows them
//! with `schemas.enable=true`.

use std::sync::Arc;

use connect_api::{ConnectRecord, Field, Header, Schema, SchemaType, SourceRecord};
use serde_json::{Map, Value};

use crate::schema::{TableSchema, optional};

/// `c`, `u`, `d` or `r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Read,
}

impl Operation {
    pub fn code(self) -> &'static str {
        match self {
            Self::Create => "c",
            Self::Update => "u",
            Self::Delete => "d",
            Self::Read => "r",
        }
    }
}

/// Where one event came from: the `source` block.
#[derive(Debug, Clone, Default)]
pub struct SourceInfo {
    /// `mysql` or `mariadb`, by the connector class used.
    pub connector: &'static str,
    pub name: String,
    /// When the change happened in the database (binlog event time), in ms.
    pub ts_ms: i64,
    /// `true`, `first`, `last`, `false`.
    pub snapshot: &'static str,
    pub server_id: u32,
    pub gtid: Option<String>,
    pub file: String,
    pub pos: u64,
    pub row: u32,
    pub thread: Option<u32>,
}

fn f(name: &str, schema: Schema) -> Field {
    Field::new(name, schema)
}

/// `io.debezium.connector.mysql.Source` (or `.mariadb.`).
pub fn source_schema(connector: &str) -> Schema {
    let mut snapshot = optional(SchemaType::String).named("io.debezium.data.Enum");
    snapshot.version = Some(1);
    let mut parameters = connect_api::Parameters::new();
    parameters.insert(
        "allowed".to_owned(),
        Value::String(
            "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"
                .to_owned(),
        ),
    );
    snapshot.parameters = Some(parameters);
    snapshot.default = Some(Value::String("false".to_owned()));
    let mut source = Schema::structure(vec![
        f("version", Schema::new(SchemaType::String)),
        f("connector", Schema::new(SchemaType::String)),
        f("name", Schema::new(SchemaType::String)),
        f("ts_ms", Schema::new(SchemaType::Int64)),
        f("snapshot", snapshot),
        f("db", Schema::new(SchemaType::String)),
        f("sequence", optional(SchemaType::String)),
        f("ts_us", optional(SchemaType::Int64)),
        f("ts_ns", optional(SchemaType::Int64)),
        f("table", optional(SchemaType::String)),
        f("server_id", Schema::new(SchemaType::Int64)),
        f("gtid", optional(SchemaType::String)),
        f("file", Schema::new(SchemaType::String)),
        f("pos", Schema::new(SchemaType::Int64)),
        f("row", Schema::new(SchemaType::Int32)),
        f("thread", optional(SchemaType::Int64)),
        f("query", optional(SchemaType::String)),
    ])
    .named(format!("io.debezium.connector.{connector}.Source"));
    source.version = Some(1);
    source
}

fn transaction_schema() -> Schema {
    let mut schema = Schema::structure(vec![
        f("id", Schema::new(SchemaType::String)),
        f("total_order", Schema::new(SchemaType::Int64)),
        f("data_collection_order", Schema::new(SchemaType::Int64)),
    ])
    .named("event.block")
    .optional();
    schema.version = Some(1);
    schema
}

/// `<prefix>.<db>.<table>.Envelope`.
pub fn envelope_schema(table: &TableSchema, connector: &str) -> Arc<Schema> {
    let mut schema = Schema::structure(vec![
        f("before", table.row_schema.clone()),
        f("after", table.row_schema.clone()),
        f("source", source_schema(connector)),
        f("transaction", transaction_schema()),
        f("op", Schema::new(SchemaType::String)),
        f("ts_ms", optional(SchemaType::Int64)),
        f("ts_us", optional(SchemaType::Int64)),
        f("ts_ns", optional(SchemaType::Int64)),
    ])
    .named(format!("{}.Envelope", table.topic));
    schema.version = Some(2);
    Arc::new(schema)
}

pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn source_value(info: &SourceInfo, table: &TableSchema) -> Value {
    let mut source = Map::new();
    source.insert("version".into(), Value::from(crate::VERSION));
    source.insert("connector".into(), Value::from(info.connector));
    source.insert("name".into(), Value::from(info.name.clone()));
    source.insert("ts_ms".into(), Value::from(info.ts_ms));
    source.insert("snapshot".into(), Value::from(info.snapshot));
    source.insert("db".into(), Value::from(table.database.clone()));
    source.insert("sequence".into(), Value::Null);
    source.insert("ts_us".into(), Value::from(info.ts_ms * 1000));
    source.insert("ts_ns".into(), Value::from(info.ts_ms * 1_000_000));
    source.insert("table".into(), Value::from(table.table.clone()));
    source.insert("server_id".into(), Value::from(info.server_id));
    source.insert(
        "gtid".into(),
        info.gtid.clone().map_or(Value::Null, Value::String),
    );
    source.insert("file".into(), Value::from(info.file.clone()));
    source.insert("pos".into(), Value::from(info.pos));
    source.insert("row".into(), Value::from(info.row));
    source.insert(
        "thread".into(),
        info.thread.map_or(Value::Null, Value::from),
    );
    source.insert("query".into(), Value::Null);
    Value::Object(source)
}

/// One change of one row; `before`/`after` are full column lists (table order).
#[derive(Debug)]
pub struct Change {
    pub operation: Operation,
    pub before: Option<Vec<Value>>,
    pub after: Option<Vec<Value>>,
}

/// The change event and, for a delete with tombstones on, the tombstone after it.
///
/// An update that changes the primary key becomes, as in Debezium, a delete of the old key
/// (with its tombstone) and a create of the new one, so a compacted topic keeps no row
/// under the old key. The delete carries the header `__debezium.newkey` and the create
/// `__debezium.oldkey`, each holding the other key.
pub fn records(
    table: &TableSchema,
    envelope: &Arc<Schema>,
    change: Change,
    info: &SourceInfo,
    partition: &Map<String, Value>,
    offset: &Map<String, Value>,
    tombstones_on_delete: bool,
) -> Vec<SourceRecord> {
    let event = ChangeEvent {
        table,
        envelope,
        info,
        partition,
        offset,
        tombstones_on_delete,
    };
    let old_key = change.before.as_ref().map(|v| table.key(v));
    let new_key = change.after.as_ref().map(|v| table.key(v));
    match (change.operation, old_key, new_key) {
        (Operation::Update, Some(old_key), Some(new_key))
            if old_key != new_key && !old_key.is_null() =>
        {
            let mut out = event.records(
                Operation::Delete,
                change.before,
                None,
                vec![Header {
                    key: "__debezium.newkey".to_owned(),
                    value: new_key,
                }],
            );
            out.extend(event.records(
                Operation::Create,
                None,
                change.after,
                vec![Header {
                    key: "__debezium.oldkey".to_owned(),
                    value: old_key,
                }],
            ));
            out
        }
        _ => event.records(change.operation, change.before, change.after, Vec::new()),
    }
}

/// What every record of one row change shares.
struct ChangeEvent<'a> {
    table: &'a TableSchema,
    envelope: &'a Arc<Schema>,
    info: &'a SourceInfo,
    partition: &'a Map<String, Value>,
    offset: &'a Map<String, Value>,
    tombstones_on_delete: bool,
}

impl ChangeEvent<'_> {
    fn records(
        &self,
        operation: Operation,
        before: Option<Vec<Value>>,
        after: Option<Vec<Value>>,
        headers: Vec<Header>,
    ) -> Vec<SourceRecord> {
        let table = self.table;
        let key_values = after.as_ref().or(before.as_ref());
        let key = key_values.map_or(Value::Null, |v| table.key(v));
        let now = now_micros();
        let mut value = Map::new();
        value.insert(
            "before".into(),
            before.map_or(Value::Null, |v| table.row(v)),
        );
        value.insert("after".into(), after.map_or(Value::Null, |v| table.row(v)));
        value.insert("source".into(), source_value(self.info, table));
        value.insert("transaction".into(), Value::Null);
        value.insert("op".into(), Value::from(operation.code()));
        value.insert("ts_ms".into(), Value::from(now / 1000));
        value.insert("ts_us".into(), Value::from(now));
        value.insert("ts_ns".into(), Value::from(now.saturating_mul(1000)));
        let mut record = ConnectRecord::new(
            &table.topic,
            Some(self.envelope.clone()),
            Value::Object(value),
        )
        .with_key(table.key_schema.clone(), key.clone());
        record.headers = headers.clone();
        let mut out = vec![SourceRecord {
            source_partition: self.partition.clone(),
            source_offset: self.offset.clone(),
            record,
        }];
        if operation == Operation::Delete && self.tombstones_on_delete && !key.is_null() {
            let mut tombstone = ConnectRecord::new(&table.topic, None, Value::Null)
                .with_key(table.key_schema.clone(), key);
            tombstone.headers = headers;
            out.push(SourceRecord {
                source_partition: self.partition.clone(),
                source_offset: self.offset.clone(),
                record: tombstone,
            });
        }
        out
    }
}

/// `io.debezium.connector.mysql.SchemaChangeValue` on the topic `<prefix>`.
pub fn schema_change(
    prefix: &str,
    connector: &str,
    database: &str,
    ddl: &str,
    info: &SourceInfo,
    partition: &Map<String, Value>,
    offset: &Map<String, Value>,
) -> SourceRecord {
    let key_schema = Schema::structure(vec![f("databaseName", Schema::new(SchemaType::String))])
        .named(format!("io.debezium.connector.{connector}.SchemaChangeKey"));
    let value_schema = Schema::structure(vec![
        f("source", source_schema(connector)),
        f("ts_ms", Schema::new(SchemaType::Int64)),
        f("databaseName", optional(SchemaType::String)),
        f("schemaName", optional(SchemaType::String)),
        f("ddl", optional(SchemaType::String)),
    ])
    .named(format!(
        "io.debezium.connector.{connector}.SchemaChangeValue"
    ));
    let pseudo_table = crate::schema::build(
        prefix,
        database,
        "",
        Vec::new(),
        Vec::new(),
        &crate::types::TypeModes::default(),
    );
    let mut source = source_value(info, &pseudo_table);
    if let Value::Object(map) = &mut source {
        map.insert("table".into(), Value::Null);
    }
    let mut value = Map::new();
    value.insert("source".into(), source);
    value.insert("ts_ms".into(), Value::from(now_micros() / 1000));
    value.insert("databaseName".into(), Value::from(database));
    value.insert("schemaName".into(), Value::Null);
    value.insert("ddl".into(), Value::from(ddl));
    let mut key = Map::new();
    key.insert("databaseName".into(), Value::from(database));
    SourceRecord {
        source_partition: partition.clone(),
        source_offset: offset.clone(),
        record: ConnectRecord::new(prefix, Some(Arc::new(value_schema)), Value::Object(value))
            .with_key(Some(Arc::new(key_schema)), Value::Object(key)),
    }
}
