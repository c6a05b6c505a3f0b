//! The polling task: one query per table per poll, WHERE clause by mode, offsets per table.

use std::collections::BTreeMap;
use std::time::Instant;

use connect_api::{
    ConnectError, ConnectRecord, Field, Schema, SourceRecord, SourceTask, SourceTaskContext,
};
use futures::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::mysql::MySqlRow;
use sqlx::{AssertSqlSafe, Column, ConnectOptions, MySqlConnection, Row, TypeInfo};

use crate::query::config::{Mode, QueryConfig, Source};
use crate::schema::quote_identifier;
use crate::snapshot::chunks::literal;
use crate::types::{ColumnKind, TimePrecision, TypeModes};

/// Where one table (or the query) got to.
#[derive(Debug, Clone, Default)]
struct Cursor {
    incrementing: Option<i64>,
    /// Microseconds since the epoch (UTC).
    timestamp: Option<i64>,
}

/// A running query-mode task.
#[derive(Debug)]
pub struct QueryTask {
    config: QueryConfig,
    connection: Option<MySqlConnection>,
    cursors: BTreeMap<String, Cursor>,
    next_table: usize,
    modes: TypeModes,
    /// The offsets stored when the task started, for tables discovered later.
    context: SourceTaskContext,
    /// When the tables were last discovered (`Source::Discover` only).
    discovered_at: Option<Instant>,
    /// Per table, (precision, scale) of its DECIMAL columns.
    decimals: BTreeMap<String, BTreeMap<String, (u32, u32)>>,
}

/// The cursor stored for one table (or the query), if any.
fn stored_cursor(context: &SourceTaskContext, name: &str, is_query: bool) -> Cursor {
    let stored = context.offset(&partition(name, is_query));
    Cursor {
        incrementing: stored
            .and_then(|o| o.get("incrementing"))
            .and_then(Value::as_i64),
        timestamp: stored
            .and_then(|o| o.get("timestamp"))
            .and_then(Value::as_i64)
            .map(|ms| {
                let nanos = stored
                    .and_then(|o| o.get("timestamp_nanos"))
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                ms.div_euclid(1000) * 1_000_000 + nanos / 1000
            }),
    }
}

fn partition(name: &str, is_query: bool) -> Map<String, Value> {
    let mut map = Map::new();
    if is_query {
        map.insert("query".into(), Value::from("query"));
    } else {
        map.insert("table".into(), Value::from(name));
    }
    map
}

fn retriable(context: &str, error: &sqlx::Error) -> ConnectError {
    ConnectError::retriable(format!("{context}: {error}"))
}

/// The kind sqlx reports for a column, in the JDBC source's mapping: timestamps as
/// Connect Timestamp; DECIMAL as Connect Decimal when its precision and scale are known
/// (tables: from `information_schema`), else as its exact text (query mode: sqlx does not
/// report a result column's scale, and a guessed scale could differ between records);
/// spatial columns (sqlx names them all `GEOMETRY`) as their stored bytes, SRID + WKB
/// (Debezium's geometry structs are CDC mode's; not compared with the JDBC source).
fn kind_of(type_name: &str, decimal: Option<(u32, u32)>) -> ColumnKind {
    let lower = type_name.to_ascii_lowercase();
    let base = lower.split_whitespace().next().unwrap_or_default();
    match base {
        "timestamp" | "datetime" => ColumnKind::DateTime { fsp: 6 },
        "geometry" => ColumnKind::Binary { fixed: None },
        "decimal" => match decimal {
            Some((precision, scale)) => ColumnKind::Decimal { precision, scale },
            None => ColumnKind::Text {
                charset: crate::types::Charset::Utf8,
            },
        },
        _ => {
            ColumnKind::from_information_schema(base, &lower, None, None, Some(6), Some("utf8mb4"))
        }
    }
}

impl QueryTask {
    pub async fn start(
        config: QueryConfig,
        context: &SourceTaskContext,
    ) -> Result<Self, ConnectError> {
        let mut cursors = BTreeMap::new();
        let names: Vec<(String, bool)> = match &config.source {
            Source::Tables(tables) => tables.iter().map(|t| (t.clone(), false)).collect(),
            Source::Query(_) => vec![("query".to_owned(), true)],
            Source::Discover { .. } => Vec::new(),
        };
        for (name, is_query) in names {
            cursors.insert(name.clone(), stored_cursor(context, &name, is_query));
        }
        let modes = TypeModes {
            time: TimePrecision::Connect,
            ..TypeModes::default()
        };
        let mut task = Self {
            config,
            connection: None,
            cursors,
            next_table: 0,
            modes,
            context: context.clone(),
            discovered_at: None,
            decimals: BTreeMap::new(),
        };
        task.connect().await?;
        task.discover().await?;
        let tables: Vec<String> = match task.config.source {
            Source::Query(_) => Vec::new(),
            _ => task.cursors.keys().cloned().collect(),
        };
        for table in tables {
            task.check_not_null(&table).await?;
        }
        Ok(task)
    }

    /// Finds the tables of the database again (at most every `table.poll.interval.ms`):
    /// new ones start from their stored offset, dropped ones are forgotten.
    async fn discover(&mut self) -> Result<(), ConnectError> {
        let Source::Discover {
            exclude,
            views,
            tables,
            every,
        } = &self.config.source
        else {
            return Ok(());
        };
        if self.discovered_at.is_some_and(|at| at.elapsed() < *every) {
            return Ok(());
        }
        let mut types = Vec::new();
        if *tables {
            types.push("'BASE TABLE'");
        }
        if *views {
            types.push("'VIEW'");
        }
        let exclude = exclude.clone();
        let sql = format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_TYPE IN ({}) ORDER BY TABLE_NAME",
            types.join(", ")
        );
        let connection = self.connect().await?;
        let found: Result<Vec<(String,)>, sqlx::Error> = sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(&mut *connection)
            .await;
        let found = match found {
            Ok(found) => found,
            Err(error) => {
                self.connection = None;
                return Err(retriable("cannot list the tables", &error));
            }
        };
        let found: Vec<String> = found
            .into_iter()
            .map(|(name,)| name)
            .filter(|name| {
                !exclude
                    .iter()
                    .any(|e| e == name || e.ends_with(&format!(".{name}")))
            })
            .collect();
        let before: Vec<String> = self.cursors.keys().cloned().collect();
        self.cursors.retain(|name, _| found.contains(name));
        for name in &found {
            if !self.cursors.contains_key(name) {
                let cursor = stored_cursor(&self.context, name, false);
                self.cursors.insert(name.clone(), cursor);
            }
        }
        if self.discovered_at.is_some() {
            for name in found.iter().filter(|n| !before.contains(n)) {
                self.check_not_null(name).await?;
                tracing::info!(table = %name, "new table found; copying it");
            }
            for name in before.iter().filter(|n| !found.contains(n)) {
                tracing::info!(table = %name, "table gone; no longer copied");
            }
        }
        self.discovered_at = Some(Instant::now());
        Ok(())
    }

    /// (precision, scale) of the DECIMAL columns of `table`, read once per table.
    async fn load_decimals(&mut self, table: &str) -> Result<(), ConnectError> {
        if self.decimals.contains_key(table) || matches!(self.config.source, Source::Query(_)) {
            return Ok(());
        }
        let (database, name) = match table.split_once('.') {
            Some((database, name)) => (Some(database.to_owned()), name.to_owned()),
            None => (None, table.to_owned()),
        };
        let connection = self.connect().await?;
        let rows: Result<Vec<(String, u64, u64)>, sqlx::Error> = sqlx::query_as(
            "SELECT COLUMN_NAME, CAST(NUMERIC_PRECISION AS UNSIGNED), CAST(NUMERIC_SCALE AS UNSIGNED) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) \
             AND TABLE_NAME = ? AND DATA_TYPE = 'decimal'",
        )
        .bind(database)
        .bind(&name)
        .fetch_all(&mut *connection)
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => {
                self.connection = None;
                return Err(retriable("cannot read the column types", &error));
            }
        };
        let columns = rows
            .into_iter()
            .map(|(column, precision, scale)| {
                (
                    column,
                    (
                        u32::try_from(precision).unwrap_or(65),
                        u32::try_from(scale).unwrap_or(0),
                    ),
                )
            })
            .collect();
        self.decimals.insert(table.to_owned(), columns);
        Ok(())
    }

    /// `validate.non.null`: the mode's columns must be NOT NULL, or rows with NULL there
    /// would never be read (as in the JDBC source).
    async fn check_not_null(&mut self, table: &str) -> Result<(), ConnectError> {
        if !self.config.validate_non_null {
            return Ok(());
        }
        let columns: Vec<String> = match &self.config.mode {
            Mode::Bulk => Vec::new(),
            Mode::Incrementing { column } | Mode::Timestamp { column } => vec![column.clone()],
            Mode::TimestampIncrementing {
                timestamp,
                incrementing,
            } => vec![timestamp.clone(), incrementing.clone()],
        };
        let (database, name) = match table.split_once('.') {
            Some((database, name)) => (Some(database.to_owned()), name.to_owned()),
            None => (None, table.to_owned()),
        };
        for column in columns {
            let connection = self.connect().await?;
            let nullable: Result<Option<(String,)>, sqlx::Error> = sqlx::query_as(
                "SELECT IS_NULLABLE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND COLUMN_NAME = ?",
            )
            .bind(database.clone())
            .bind(&name)
            .bind(&column)
            .fetch_optional(&mut *connection)
            .await;
            match nullable {
                Ok(Some((flag,))) if flag.eq_ignore_ascii_case("YES") => {
                    return Err(ConnectError::definite(format!(
                        "column {column} of table {table} is nullable: rows with NULL there would \
                         never be copied. Make it NOT NULL or set validate.non.null=false"
                    )));
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(ConnectError::definite(format!(
                        "table {table} has no column {column} (named by the mode's column setting)"
                    )));
                }
                Err(error) => {
                    self.connection = None;
                    return Err(retriable("cannot check the columns", &error));
                }
            }
        }
        Ok(())
    }

    async fn connect(&mut self) -> Result<&mut MySqlConnection, ConnectError> {
        if self.connection.is_none() {
            let options: sqlx::mysql::MySqlConnectOptions = self
                .config
                .url
                .parse()
                .map_err(|e| ConnectError::config("connection.url", format!("{e}")))?;
            let mut connection = options.connect().await.map_err(|e| match &e {
                sqlx::Error::Database(db) if db.code().as_deref() == Some("28000") => {
                    ConnectError::definite(format!(
                        "access denied: check connection.user and connection.password ({e})"
                    ))
                }
                _ => retriable("cannot connect", &e),
            })?;
            sqlx::raw_sql("SET time_zone = '+00:00'")
                .execute(&mut connection)
                .await
                .map_err(|e| retriable("cannot set the session time zone", &e))?;
            self.connection = Some(connection);
        }
        self.connection
            .as_mut()
            .ok_or_else(|| ConnectError::retriable("no connection"))
    }

    fn timestamp_literal(micros: i64) -> String {
        let seconds = micros.div_euclid(1_000_000);
        let fraction = micros.rem_euclid(1_000_000);
        let zoned = crate::types::zoned(seconds, u32::try_from(fraction).unwrap_or(0), 6);
        format!("'{}'", zoned.trim_end_matches('Z').replace('T', " "))
    }

    fn sql(&self, name: &str, cursor: &Cursor) -> String {
        let base = match &self.config.source {
            Source::Query(query) => format!("SELECT * FROM ({query}) AS jdbc_source_query"),
            Source::Tables(_) | Source::Discover { .. } => {
                let parts: Vec<String> = name.split('.').map(quote_identifier).collect();
                format!("SELECT * FROM {}", parts.join("."))
            }
        };
        let sql = self.where_clause(base, cursor);
        if self.config.suffix.is_empty() {
            sql
        } else {
            format!("{sql} {}", self.config.suffix)
        }
    }

    fn where_clause(&self, base: String, cursor: &Cursor) -> String {
        let initial = self.config.timestamp_initial.unwrap_or(0);
        let delay = self.config.delay.as_micros();
        let upper = format!("DATE_SUB(NOW(6), INTERVAL {delay} MICROSECOND)");
        let limit = self.config.batch_max_rows;
        match &self.config.mode {
            Mode::Bulk => base,
            Mode::Incrementing { column } => {
                let column = quote_identifier(column);
                let last = cursor.incrementing.unwrap_or(-1);
                format!("{base} WHERE {column} > {last} ORDER BY {column} ASC LIMIT {limit}")
            }
            Mode::Timestamp { column } => {
                let column = quote_identifier(column);
                let last = Self::timestamp_literal(cursor.timestamp.unwrap_or(initial));
                format!(
                    "{base} WHERE {column} > {last} AND {column} < {upper} ORDER BY {column} ASC LIMIT {limit}"
                )
            }
            Mode::TimestampIncrementing {
                timestamp,
                incrementing,
            } => {
                let (ts, inc) = (quote_identifier(timestamp), quote_identifier(incrementing));
                let last_ts = Self::timestamp_literal(cursor.timestamp.unwrap_or(initial));
                let last_inc = cursor.incrementing.unwrap_or(-1);
                format!(
                    "{base} WHERE {ts} < {upper} AND (({ts} = {last_ts} AND {inc} > {last_inc}) OR {ts} > {last_ts}) ORDER BY {ts}, {inc} ASC LIMIT {limit}"
                )
            }
        }
    }

    fn record(
        &self,
        name: &str,
        is_query: bool,
        row: &MySqlRow,
        cursor: &mut Cursor,
    ) -> Result<SourceRecord, ConnectError> {
        let mut fields = Vec::new();
        let mut value = Map::new();
        for (index, column) in row.columns().iter().enumerate() {
            let decimal = self
                .decimals
                .get(name)
                .and_then(|columns| columns.get(column.name()))
                .copied();
            let kind = kind_of(column.type_info().name(), decimal);
            let raw: Option<Vec<u8>> = row
                .try_get_unchecked(index)
                .map_err(|e| ConnectError::definite(e.to_string()))?;
            let json = match &raw {
                None => Value::Null,
                Some(bytes) => kind.from_text(bytes, &self.modes).map_err(|e| {
                    ConnectError::definite(format!("{name}.{}: {e}", column.name()))
                })?,
            };
            let mut schema = kind.schema(&self.modes);
            schema.optional = true;
            fields.push(Field::new(column.name(), schema));
            match &self.config.mode {
                Mode::Incrementing { column: c }
                | Mode::TimestampIncrementing {
                    incrementing: c, ..
                } if c == column.name() => {
                    cursor.incrementing = raw
                        .as_deref()
                        .and_then(|b| String::from_utf8_lossy(b).parse().ok());
                }
                _ => {}
            }
            match &self.config.mode {
                Mode::Timestamp { column: c }
                | Mode::TimestampIncrementing { timestamp: c, .. }
                    if c == column.name() =>
                {
                    cursor.timestamp = raw
                        .as_deref()
                        .and_then(|b| {
                            ColumnKind::DateTime { fsp: 6 }
                                .from_text(b, &TypeModes::default())
                                .ok()
                        })
                        .and_then(|v| v.as_i64());
                }
                _ => {}
            }
            value.insert(column.name().to_owned(), json);
        }
        let mut offset = Map::new();
        if let Some(n) = cursor.incrementing {
            offset.insert("incrementing".into(), Value::from(n));
        }
        if let Some(micros) = cursor.timestamp {
            offset.insert("timestamp".into(), Value::from(micros.div_euclid(1000)));
            offset.insert(
                "timestamp_nanos".into(),
                Value::from(micros.rem_euclid(1_000_000) * 1000),
            );
        }
        let topic = if is_query {
            self.config.topic_prefix.clone()
        } else {
            format!("{}{name}", self.config.topic_prefix)
        };
        let table_name = name.rsplit('.').next().unwrap_or(name).to_owned();
        let schema = Schema::structure(fields).named(table_name);
        Ok(SourceRecord {
            source_partition: partition(name, is_query),
            source_offset: offset,
            record: ConnectRecord::new(topic, Some(schema.into()), Value::Object(value)),
        })
    }
}

impl SourceTask for QueryTask {
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        self.discover().await?;
        let names: Vec<String> = self.cursors.keys().cloned().collect();
        if names.is_empty() {
            // Discovery found no table yet.
            tokio::time::sleep(self.config.poll_interval).await;
            return Ok(Vec::new());
        }
        let is_query = matches!(self.config.source, Source::Query(_));
        // Round-robin over the tables; sleep when a full round returned nothing.
        for _ in 0..names.len() {
            let name = names[self.next_table % names.len()].clone();
            self.next_table = self.next_table.wrapping_add(1);
            let mut cursor = self.cursors.get(&name).cloned().unwrap_or_default();
            self.load_decimals(&name).await?;
            let sql = self.sql(&name, &cursor);
            let connection = self.connect().await?;
            let rows: Result<Vec<MySqlRow>, sqlx::Error> = sqlx::raw_sql(AssertSqlSafe(sql))
                .fetch(&mut *connection)
                .try_collect()
                .await;
            let rows = match rows {
                Ok(rows) => rows,
                Err(error) => {
                    self.connection = None;
                    return Err(retriable(&format!("cannot poll {name}"), &error));
                }
            };
            if rows.is_empty() {
                continue;
            }
            let mut records = Vec::with_capacity(rows.len());
            for row in &rows {
                records.push(self.record(&name, is_query, row, &mut cursor)?);
            }
            self.cursors.insert(name, cursor);
            if self.config.mode == Mode::Bulk {
                tokio::time::sleep(self.config.poll_interval).await;
            }
            return Ok(records);
        }
        tokio::time::sleep(self.config.poll_interval).await;
        Ok(Vec::new())
    }
}

/// Used by tests: the literal of a key value (shared with the snapshot).
pub fn sql_literal(kind: &ColumnKind, text: &[u8]) -> String {
    literal(kind, text)
}
