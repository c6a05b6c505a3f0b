//! The snapshot reader task: tables in `db.table` order, chunks in primary-key order,
//! progress in the logs.
//!
//! A chunk (`snapshot.fetch.size` rows, one query) is handed to the task in pieces of at
//! most `max.batch.size` records through a channel of capacity 1: the reader turns the
//! next rows into records only once the task took the previous piece. Records (a Debezium
//! envelope with its schemas) are ~20× larger in memory than the row they come from, so
//! converting a whole chunk ahead held three chunks of records at once (one being built,
//! one in the channel, one being delivered): ~450 MiB for a 10,000-row fetch size.

use std::sync::Arc;
use std::time::Instant;

use connect_api::{Schema, SourceRecord, TaskProgress};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value as MyValue};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::SourceError;
use crate::config::CdcConfig;
use crate::envelope::{self, Change, Operation, SourceInfo};
use crate::position::{BinlogPosition, SnapshotProgress, StoredOffset};
use crate::schema::{self, TableSchema, quote_identifier};
use crate::types::ColumnKind;

/// What the reader hands to the task.
#[derive(Debug)]
pub enum SnapshotItem {
    /// Records of one chunk; `chunk_end` on the chunk's last piece, whose offset is a resume
    /// point worth storing at once.
    Records {
        records: Vec<SourceRecord>,
        chunk_end: bool,
    },
    /// Every table is read; stream from the snapshot's start position.
    Done,
    Failed(SourceError),
}

/// What the reader needs besides the connection.
#[derive(Debug, Clone)]
pub struct SnapshotJob {
    pub config: Arc<CdcConfig>,
    pub connector: &'static str,
    pub partition: Map<String, Value>,
    pub start: BinlogPosition,
    pub resume: Option<SnapshotProgress>,
    /// The task's progress report, updated after every chunk.
    pub progress: TaskProgress,
}

pub fn spawn_reader(
    conn: Conn,
    job: SnapshotJob,
) -> (mpsc::Receiver<SnapshotItem>, tokio::task::JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(1);
    let handle = connect_api::task::spawn("mysql-snapshot-reader", async move {
        let failure = sender.clone();
        if let Err(error) = read_all(conn, &job, sender).await {
            let _ = failure.send(SnapshotItem::Failed(error)).await;
        }
    });
    (receiver, handle)
}

/// A SQL literal for one key value, from its text form.
pub fn literal(kind: &ColumnKind, text: &[u8]) -> String {
    match kind {
        ColumnKind::Integer { .. }
        | ColumnKind::Decimal { .. }
        | ColumnKind::Float
        | ColumnKind::Double
        | ColumnKind::Year
            if text
                .iter()
                .all(|b| b.is_ascii_digit() || b"-+.eE".contains(b)) =>
        {
            String::from_utf8_lossy(text).into_owned()
        }
        ColumnKind::Binary { .. }
        | ColumnKind::Bit { .. }
        | ColumnKind::Point
        | ColumnKind::Geometry => {
            let hex: String = text.iter().map(|b| format!("{b:02x}")).collect();
            format!("X'{hex}'")
        }
        _ => {
            let mut out = String::with_capacity(text.len() + 2);
            out.push('\'');
            for c in String::from_utf8_lossy(text).chars() {
                match c {
                    '\'' => out.push_str("''"),
                    '\\' => out.push_str("\\\\"),
                    '\0' => out.push_str("\\0"),
                    c => out.push(c),
                }
            }
            out.push('\'');
            out
        }
    }
}

pub(super) fn chunk_sql(
    table: &TableSchema,
    last_key: Option<&[String]>,
    done_rows: u64,
    limit: usize,
) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| quote_identifier(&c.name))
        .collect();
    let from = format!(
        "{}.{}",
        quote_identifier(&table.database),
        quote_identifier(&table.table)
    );
    if table.primary_key.is_empty() {
        return format!(
            "SELECT {} FROM {from} LIMIT {limit} OFFSET {done_rows}",
            columns.join(", ")
        );
    }
    let key: Vec<String> = table
        .primary_key
        .iter()
        .map(|i| columns[*i].clone())
        .collect();
    let filter = match last_key {
        Some(values) if values.len() == key.len() => {
            if key.len() == 1 {
                format!(" WHERE {} > {}", key[0], values[0])
            } else {
                format!(" WHERE ({}) > ({})", key.join(", "), values.join(", "))
            }
        }
        _ => String::new(),
    };
    format!(
        "SELECT {} FROM {from}{filter} ORDER BY {} LIMIT {limit}",
        columns.join(", "),
        key.join(", ")
    )
}

/// Reads every captured table, chunk by chunk, and hands the records to the task; `Ok`
/// also when the task stopped listening.
async fn read_all(
    mut conn: Conn,
    job: &SnapshotJob,
    sender: mpsc::Sender<SnapshotItem>,
) -> Result<(), SourceError> {
    let schemas = tables_to_read(&mut conn, job).await?;
    let estimate = estimated_rows(&mut conn, &schemas).await;
    let mut meter = SnapshotMeter::new(estimate, schemas.len());
    // Only a fresh snapshot's first record is marked `first`; a resumed one already was.
    let mut first = job.resume.is_none();
    for (index, table) in schemas.iter().enumerate() {
        let place = TablePlace {
            index,
            last: index + 1 == schemas.len(),
        };
        let delivered = read_table(
            &mut conn, job, table, place, &mut first, &mut meter, &sender,
        )
        .await?;
        if !delivered {
            return Ok(());
        }
    }
    let _ = conn.query_drop("COMMIT").await;
    let _ = conn.disconnect().await;
    tracing::info!(
        rows = meter.rows_done,
        seconds = meter.started.elapsed().as_secs_f64(),
        "snapshot complete"
    );
    let _ = sender.send(SnapshotItem::Done).await;
    Ok(())
}

/// The captured tables in `db.table` order, without those a resumed snapshot finished.
async fn tables_to_read(
    conn: &mut Conn,
    job: &SnapshotJob,
) -> Result<Vec<TableSchema>, SourceError> {
    let config = &job.config;
    let tables = schema::captured_tables(conn, &config.filters).await?;
    let resume_table = job
        .resume
        .as_ref()
        .map(|p| p.table.as_str())
        .unwrap_or_default();
    let mut schemas = Vec::new();
    for (database, table) in &tables {
        if format!("{database}.{table}").as_str() < resume_table {
            continue;
        }
        if let Some(schema) = schema::load(
            conn,
            &config.topic_prefix,
            database,
            table,
            &config.filters,
            &config.modes,
        )
        .await?
        {
            schemas.push(schema);
        }
    }
    Ok(schemas)
}

/// The sum of `TABLE_ROWS`, an estimate for progress reports only: a table whose estimate
/// cannot be read counts as empty rather than failing the snapshot.
async fn estimated_rows(conn: &mut Conn, schemas: &[TableSchema]) -> u64 {
    let mut total = 0;
    for table in schemas {
        let rows: Option<Option<u64>> = conn
            .exec_first(
                "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (&table.database, &table.table),
            )
            .await
            .unwrap_or(None);
        total += rows.flatten().unwrap_or(0);
    }
    total
}

/// Where a table stands in the snapshot.
#[derive(Debug, Clone, Copy)]
struct TablePlace {
    index: usize,
    /// The last table: its last row ends the snapshot.
    last: bool,
}

/// Reads one table chunk by chunk; `false` when the task stopped listening.
async fn read_table(
    conn: &mut Conn,
    job: &SnapshotJob,
    table: &TableSchema,
    place: TablePlace,
    first: &mut bool,
    meter: &mut SnapshotMeter,
    sender: &mpsc::Sender<SnapshotItem>,
) -> Result<bool, SourceError> {
    let chunk_rows = job.config.snapshot_chunk_rows;
    let envelope_schema = envelope::envelope_schema(table, job.connector);
    let mut progress = match &job.resume {
        Some(p) if p.table == table.id() => p.clone(),
        _ => SnapshotProgress {
            table: table.id(),
            last_key: None,
            rows: 0,
        },
    };
    loop {
        let sql = chunk_sql(
            table,
            progress.last_key.as_deref(),
            progress.rows,
            chunk_rows,
        );
        let rows: Vec<Row> = conn
            .query(sql)
            .await
            .map_err(|e| SourceError::from_mysql(&format!("cannot read {}", table.id()), &e))?;
        let fetched = rows.len();
        let last_chunk = fetched < chunk_rows;
        let piece_size = job.config.max_batch_size.max(1);
        let mut records = Vec::with_capacity(piece_size.min(fetched));
        for (row_index, row) in rows.into_iter().enumerate() {
            if records.len() >= piece_size {
                let piece = std::mem::replace(&mut records, Vec::with_capacity(piece_size));
                let item = SnapshotItem::Records {
                    records: piece,
                    chunk_end: false,
                };
                if sender.send(item).await.is_err() {
                    return Ok(false);
                }
            }
            let decoded = decode_row(table, &job.config, &row.unwrap_raw())?;
            progress.rows += 1;
            if !decoded.key_literals.is_empty() {
                progress.last_key = Some(decoded.key_literals);
            }
            let ends_snapshot = last_chunk && place.last && row_index + 1 == fetched;
            let marker = snapshot_marker(first, ends_snapshot);
            records.extend(read_event(
                job,
                table,
                &envelope_schema,
                decoded.values,
                marker,
                &resume_offset(job, &progress, ends_snapshot),
            ));
        }
        meter.chunk_read(&job.progress, table, place.index, fetched, last_chunk);
        let item = SnapshotItem::Records {
            records,
            chunk_end: true,
        };
        if fetched > 0 && sender.send(item).await.is_err() {
            return Ok(false);
        }
        if last_chunk {
            return Ok(true);
        }
    }
}

/// One row's column values and the SQL literals of its primary key.
pub(super) struct DecodedRow {
    pub(super) values: Vec<Value>,
    pub(super) key_literals: Vec<String>,
}

pub(super) fn decode_row(
    table: &TableSchema,
    config: &CdcConfig,
    raw: &[Option<MyValue>],
) -> Result<DecodedRow, SourceError> {
    let mut values = Vec::with_capacity(raw.len());
    for (column, cell) in table.columns.iter().zip(raw) {
        let value = match cell {
            None | Some(MyValue::NULL) => Value::Null,
            Some(MyValue::Bytes(bytes)) => {
                column.kind.from_text(bytes, &config.modes).map_err(|e| {
                    SourceError::definite(format!(
                        "cannot decode {}.{}: {e}",
                        table.id(),
                        column.name
                    ))
                })?
            }
            Some(other) => Value::String(other.as_sql(true)),
        };
        values.push(value);
    }
    let mut key_literals = Vec::with_capacity(table.primary_key.len());
    for key_index in &table.primary_key {
        if let Some(Some(MyValue::Bytes(bytes))) = raw.get(*key_index) {
            key_literals.push(literal(&table.columns[*key_index].kind, bytes));
        }
    }
    Ok(DecodedRow {
        values,
        key_literals,
    })
}

/// Debezium's `source.snapshot`: `first`, `last`, else `true`.
fn snapshot_marker(first: &mut bool, ends_snapshot: bool) -> &'static str {
    if *first {
        *first = false;
        "first"
    } else if ends_snapshot {
        "last"
    } else {
        "true"
    }
}

/// Where a restart resumes after this row: the next chunk, or the binlog once the last
/// row of the snapshot is delivered.
fn resume_offset(
    job: &SnapshotJob,
    progress: &SnapshotProgress,
    ends_snapshot: bool,
) -> StoredOffset {
    if ends_snapshot {
        StoredOffset::Streaming(job.start.clone())
    } else {
        StoredOffset::Snapshot {
            start: job.start.clone(),
            progress: progress.clone(),
        }
    }
}

/// The `r` (read) event of one row.
pub(super) fn read_event(
    job: &SnapshotJob,
    table: &TableSchema,
    envelope_schema: &Arc<Schema>,
    values: Vec<Value>,
    marker: &'static str,
    offset: &StoredOffset,
) -> Vec<SourceRecord> {
    let info = SourceInfo {
        connector: job.connector,
        name: job.config.topic_prefix.clone(),
        ts_ms: envelope::now_micros() / 1000,
        snapshot: marker,
        server_id: 0,
        gtid: None,
        file: job.start.file.clone(),
        pos: job.start.pos,
        row: 0,
        thread: None,
    };
    envelope::records(
        table,
        envelope_schema,
        Change {
            operation: Operation::Read,
            before: None,
            after: Some(values),
        },
        &info,
        &job.partition,
        &offset.to_map(info.ts_ms / 1000),
        false,
    )
}

/// Rows done against the estimate: the task's progress report after every chunk, a log
/// line every 5 s and at the end of each table.
struct SnapshotMeter {
    started: Instant,
    rows_done: u64,
    rows_estimated: u64,
    tables_total: usize,
    last_log: Instant,
}

impl SnapshotMeter {
    fn new(rows_estimated: u64, tables_total: usize) -> Self {
        Self {
            started: Instant::now(),
            rows_done: 0,
            rows_estimated,
            tables_total,
            last_log: Instant::now(),
        }
    }

    fn chunk_read(
        &mut self,
        report: &TaskProgress,
        table: &TableSchema,
        tables_done: usize,
        fetched: usize,
        last_chunk: bool,
    ) {
        self.rows_done += fetched as u64;
        let rate = self.rows_done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        // TABLE_ROWS is an estimate: never report fewer than are done.
        let estimate = self.rows_estimated.max(self.rows_done);
        let remaining = estimate.saturating_sub(self.rows_done) as f64;
        report.set(serde_json::json!({
            "phase": "snapshot",
            "table": table.id(),
            "tables_done": tables_done,
            "tables_total": self.tables_total,
            "rows_done": self.rows_done,
            "rows_estimated": estimate,
            "rows_per_second": rate as u64,
            "eta_seconds": (remaining / rate.max(1.0)) as u64,
        }));
        if self.last_log.elapsed().as_secs() >= 5 || last_chunk {
            self.last_log = Instant::now();
            tracing::info!(
                table = table.id(),
                rows_done = self.rows_done,
                rows_estimated = estimate,
                rows_per_second = rate as u64,
                eta_seconds = (remaining / rate.max(1.0)) as u64,
                "snapshot progress"
            );
        }
    }
}

/// The key schema is part of each record; re-exported for tests.
pub fn key_schema(table: &TableSchema) -> Option<Arc<Schema>> {
    table.key_schema.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Charset;

    #[test]
    fn literals_are_quoted_by_kind() {
        assert_eq!(
            literal(
                &ColumnKind::Integer {
                    bytes: 4,
                    unsigned: false
                },
                b"-12"
            ),
            "-12"
        );
        assert_eq!(
            literal(
                &ColumnKind::Text {
                    charset: Charset::Utf8
                },
                b"it's\\"
            ),
            "'it''s\\\\'"
        );
        assert_eq!(
            literal(&ColumnKind::Binary { fixed: None }, &[0, 255]),
            "X'00ff'"
        );
    }
}
