//! Table metadata from `information_schema`, and the Connect schemas derived from it.
//!
//! A [`TableSchema`] is loaded when the snapshot starts and, while streaming, whenever a
//! table map event shows a table id not seen before (the server assigns a new id after every
//! DDL on the table, so an `ALTER TABLE` always leads to a reload). A row image with fewer
//! columns than the loaded schema (the reader lags behind an `ADD COLUMN`) is decoded with
//! the leading columns, which is what `ADD COLUMN` without `FIRST`/`AFTER` produces.

use connect_api::{Field, Schema, SchemaType};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use serde_json::{Map, Value};

use crate::SourceError;
use crate::config::Filters;
use crate::types::{BigintUnsigned, ColumnKind, TypeModes};

/// One column, in table order.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
    pub nullable: bool,
    /// `COLUMN_TYPE`, e.g. `bigint(20) unsigned`, for schema history.
    pub column_type: String,
    /// False when `column.exclude.list` drops it from events.
    pub included: bool,
    /// The column's default as its Connect value, put in the field's schema as Debezium
    /// does; `None` for no default, NULL, or a default not converted (see [`default_value`]).
    pub default: Option<Value>,
}

/// Everything needed to turn a row of one table into a change event.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub database: String,
    pub table: String,
    pub columns: Vec<Column>,
    /// Indexes into `columns` of the primary key (empty: keyless table).
    pub primary_key: Vec<usize>,
    pub topic: String,
    pub key_schema: Option<std::sync::Arc<Schema>>,
    pub row_schema: Schema,
}

impl TableSchema {
    pub fn id(&self) -> String {
        format!("{}.{}", self.database, self.table)
    }

    /// The row struct of the first `count` columns from `values` (column order).
    pub fn row(&self, values: Vec<Value>) -> Value {
        let mut row = Map::new();
        for (column, value) in self.columns.iter().zip(values) {
            if column.included {
                row.insert(column.name.clone(), value);
            }
        }
        Value::Object(row)
    }

    /// The key struct, or null for a keyless table.
    pub fn key(&self, values: &[Value]) -> Value {
        if self.primary_key.is_empty() {
            return Value::Null;
        }
        let mut key = Map::new();
        for index in &self.primary_key {
            key.insert(
                self.columns[*index].name.clone(),
                values.get(*index).cloned().unwrap_or(Value::Null),
            );
        }
        Value::Object(key)
    }
}

fn field(column: &Column, modes: &TypeModes) -> Field {
    let mut schema = column.kind.schema(modes);
    // Some of Debezium's schemas are optional whatever the column says (GEOMETRY's).
    schema.optional |= column.nullable;
    schema.default.clone_from(&column.default);
    Field::new(&column.name, schema)
}

/// Builds the key and row schemas once the columns are known.
pub fn build(
    prefix: &str,
    database: &str,
    table: &str,
    columns: Vec<Column>,
    primary_key: Vec<usize>,
    modes: &TypeModes,
) -> TableSchema {
    let base = format!("{prefix}.{database}.{table}");
    let key_schema = (!primary_key.is_empty()).then(|| {
        Schema::structure(
            primary_key
                .iter()
                .map(|i| field(&columns[*i], modes))
                .collect(),
        )
        .named(format!("{base}.Key"))
        .into()
    });
    let row_schema = Schema::structure(
        columns
            .iter()
            .filter(|c| c.included)
            .map(|c| field(c, modes))
            .collect(),
    )
    .named(format!("{base}.Value"))
    .optional();
    TableSchema {
        database: database.to_owned(),
        table: table.to_owned(),
        columns,
        primary_key,
        topic: base,
        key_schema,
        row_schema,
    }
}

/// Captured base tables, sorted by `db.table` (the snapshot order).
pub async fn captured_tables(
    conn: &mut Conn,
    filters: &Filters,
) -> Result<Vec<(String, String)>, SourceError> {
    let rows: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await
        .map_err(|e| SourceError::from_mysql("cannot list tables", &e))?;
    Ok(rows
        .into_iter()
        .filter(|(db, table)| filters.table(db, table))
        .collect())
}

fn opt_u32(row: &Row, index: usize) -> Option<u32> {
    row.get_opt::<Option<u64>, _>(index)
        .and_then(Result::ok)
        .flatten()
        .and_then(|n| u32::try_from(n).ok())
}

fn string(row: &Row, index: usize) -> String {
    row.get_opt::<Option<String>, _>(index)
        .and_then(Result::ok)
        .flatten()
        .unwrap_or_default()
}

/// Loads one table's columns and primary key; `None` when the table no longer exists.
pub async fn load(
    conn: &mut Conn,
    prefix: &str,
    database: &str,
    table: &str,
    filters: &Filters,
    modes: &TypeModes,
) -> Result<Option<TableSchema>, SourceError> {
    let context = format!("cannot read the columns of {database}.{table}");
    let rows: Vec<Row> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, \
             NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, COLUMN_KEY, COLUMN_DEFAULT \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await
        .map_err(|e| SourceError::from_mysql(&context, &e))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let primary_rows: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' \
             ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await
        .map_err(|e| SourceError::from_mysql(&context, &e))?;
    let mut columns = Vec::with_capacity(rows.len());
    for row in &rows {
        let name = string(row, 0);
        let charset = row
            .get_opt::<Option<String>, _>(7)
            .and_then(Result::ok)
            .flatten();
        let kind = ColumnKind::from_information_schema(
            &string(row, 1),
            &string(row, 2),
            opt_u32(row, 4),
            opt_u32(row, 5),
            opt_u32(row, 6),
            charset.as_deref(),
        );
        let default = row
            .get_opt::<Option<String>, _>(9)
            .and_then(Result::ok)
            .flatten();
        columns.push(Column {
            default: default_value(&kind, default.as_deref(), modes),
            included: filters.column(database, table, &name),
            name,
            kind,
            nullable: string(row, 3) == "YES",
            column_type: string(row, 2),
        });
    }
    let primary_key = primary_rows
        .iter()
        .filter_map(|pk| columns.iter().position(|c| &c.name == pk))
        .collect();
    Ok(Some(build(
        prefix,
        database,
        table,
        columns,
        primary_key,
        modes,
    )))
}

/// A column's `COLUMN_DEFAULT` (MariaDB writes it as SQL: `'text'`, `5`, `NULL`,
/// `current_timestamp()`) as the Connect default Debezium puts in the field's schema.
/// Converted: string literals of text, ENUM and SET columns, and integer literals of
/// integer columns held as int (not BIGINT UNSIGNED in precise mode). Other defaults
/// (decimals, dates, bit, binary, expressions) are left out of the schema; the differences
/// from Debezium this leaves are listed in docs/mysql-source.md.
fn default_value(kind: &ColumnKind, raw: Option<&str>, modes: &TypeModes) -> Option<Value> {
    let raw = raw?.trim();
    match kind {
        ColumnKind::Text { .. } | ColumnKind::Enum(_) | ColumnKind::Set(_) => {
            let inner = raw.strip_prefix('\'')?.strip_suffix('\'')?;
            Some(Value::String(unescape_sql_string(inner)))
        }
        ColumnKind::Integer { bytes, unsigned } => {
            if *bytes == 8 && *unsigned && modes.bigint_unsigned == BigintUnsigned::Precise {
                return None;
            }
            raw.parse::<i64>().ok().map(Value::from)
        }
        _ => None,
    }
}

/// The text of a single-quoted SQL literal's inside (`''` and backslash escapes).
fn unescape_sql_string(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('0') => out.push('\0'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

/// `CREATE TABLE` text for schema history.
pub async fn create_statement(conn: &mut Conn, database: &str, table: &str) -> Option<String> {
    let row: Option<(String, String)> = conn
        .query_first(format!(
            "SHOW CREATE TABLE {}.{}",
            quote_identifier(database),
            quote_identifier(table)
        ))
        .await
        .ok()
        .flatten();
    row.map(|(_, ddl)| ddl)
}

pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A struct schema's optional `string` field (for envelopes).
pub fn optional(schema_type: SchemaType) -> Schema {
    Schema::new(schema_type).optional()
}

#[cfg(test)]
mod default_tests {
    use super::*;

    #[test]
    fn string_and_integer_defaults_become_connect_values() {
        let modes = TypeModes::default();
        let text = ColumnKind::Text {
            charset: crate::types::Charset::Utf8,
        };
        assert_eq!(
            default_value(&text, Some("'it''s'"), &modes),
            Some(Value::from("it's"))
        );
        assert_eq!(default_value(&text, Some("NULL"), &modes), None);
        let int = ColumnKind::Integer {
            bytes: 4,
            unsigned: false,
        };
        assert_eq!(
            default_value(&int, Some("-5"), &modes),
            Some(Value::from(-5))
        );
        assert_eq!(default_value(&int, None, &modes), None);
        let date = ColumnKind::Date;
        assert_eq!(default_value(&date, Some("'2024-01-01'"), &modes), None);
    }
}
