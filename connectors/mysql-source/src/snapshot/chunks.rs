//! The snapshot reader task: tables in `db.table` order, chunks in primary-key order, one
//! chunk ahead of delivery (a channel of capacity 1), progress in the logs.

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
    Records(Vec<SourceRecord>),
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
    let handle = broker_core::task::spawn("mysql-snapshot-reader", async move {
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
        ColumnKind::Binary { .. } | ColumnKind::Bit { .. } => {
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

fn chunk_sql(
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

async fn read_all(
    mut conn: Conn,
    job: &SnapshotJob,
    sender: mpsc::Sender<SnapshotItem>,
) -> Result<(), SourceError> {
    let config = &job.config;
    let tables = schema::captured_tables(&mut conn, &config.filters).await?;
    let mut schemas = Vec::new();
    for (database, table) in &tables {
        let resume_table = job
            .resume
            .as_ref()
            .map(|p| p.table.as_str())
            .unwrap_or_default();
        if format!("{database}.{table}").as_str() < resume_table {
            continue;
        }
        if let Some(schema) = schema::load(
            &mut conn,
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
    let estimates: Vec<u64> = {
        let mut out = Vec::new();
        for table in &schemas {
            let rows: Option<Option<u64>> = conn
                .exec_first(
                    "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                    (&table.database, &table.table),
                )
                .await
                .unwrap_or(None);
            out.push(rows.flatten().unwrap_or(0));
        }
        out
    };
    let total_estimate: u64 = estimates.iter().sum();
    let started = Instant::now();
    let mut done_total: u64 = 0;
    let mut last_log = Instant::now();
    let mut first = job.resume.is_none();
    let table_count = schemas.len();
    for (index, table) in schemas.iter().enumerate() {
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
                config.snapshot_chunk_rows,
            );
            let rows: Vec<Row> = conn
                .query(sql)
                .await
                .map_err(|e| SourceError::from_mysql(&format!("cannot read {}", table.id()), &e))?;
            let fetched = rows.len();
            let last_chunk = fetched < config.snapshot_chunk_rows;
            let mut records = Vec::with_capacity(fetched);
            for (row_index, row) in rows.into_iter().enumerate() {
                let raw = row.unwrap_raw();
                let mut values = Vec::with_capacity(raw.len());
                let mut key_literals = Vec::with_capacity(table.primary_key.len());
                for (column, cell) in table.columns.iter().zip(&raw) {
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
                for key_index in &table.primary_key {
                    if let Some(Some(MyValue::Bytes(bytes))) = raw.get(*key_index) {
                        key_literals.push(literal(&table.columns[*key_index].kind, bytes));
                    }
                }
                progress.rows += 1;
                if !key_literals.is_empty() {
                    progress.last_key = Some(key_literals);
                }
                let is_last = last_chunk && index + 1 == table_count && row_index + 1 == fetched;
                let snapshot_flag = if first {
                    first = false;
                    "first"
                } else if is_last {
                    "last"
                } else {
                    "true"
                };
                let offset = if is_last {
                    StoredOffset::Streaming(job.start.clone())
                } else {
                    StoredOffset::Snapshot {
                        start: job.start.clone(),
                        progress: progress.clone(),
                    }
                };
                let info = SourceInfo {
                    connector: job.connector,
                    name: config.topic_prefix.clone(),
                    ts_ms: envelope::now_micros() / 1000,
                    snapshot: snapshot_flag,
                    server_id: 0,
                    gtid: None,
                    file: job.start.file.clone(),
                    pos: job.start.pos,
                    row: 0,
                    thread: None,
                };
                records.extend(envelope::records(
                    table,
                    &envelope_schema,
                    Change {
                        operation: Operation::Read,
                        before: None,
                        after: Some(values),
                    },
                    &info,
                    &job.partition,
                    &offset.to_map(info.ts_ms / 1000),
                    false,
                ));
            }
            done_total += fetched as u64;
            let rate = done_total as f64 / started.elapsed().as_secs_f64().max(0.001);
            // TABLE_ROWS is an estimate: never report fewer than are done.
            let estimate = total_estimate.max(done_total);
            let remaining = estimate.saturating_sub(done_total) as f64;
            job.progress.set(serde_json::json!({
                "phase": "snapshot",
                "table": table.id(),
                "tables_done": index,
                "tables_total": table_count,
                "rows_done": done_total,
                "rows_estimated": estimate,
                "rows_per_second": rate as u64,
                "eta_seconds": (remaining / rate.max(1.0)) as u64,
            }));
            if last_log.elapsed().as_secs() >= 5 || last_chunk {
                last_log = Instant::now();
                tracing::info!(
                    table = table.id(),
                    rows_done = done_total,
                    rows_estimated = estimate,
                    rows_per_second = rate as u64,
                    eta_seconds = (remaining / rate.max(1.0)) as u64,
                    "snapshot progress"
                );
            }
            if !records.is_empty() && sender.send(SnapshotItem::Records(records)).await.is_err() {
                return Ok(());
            }
            if last_chunk {
                break;
            }
        }
    }
    let _ = conn.query_drop("COMMIT").await;
    let _ = conn.disconnect().await;
    tracing::info!(
        rows = done_total,
        seconds = started.elapsed().as_secs_f64(),
        "snapshot complete"
    );
    let _ = sender.send(SnapshotItem::Done).await;
    Ok(())
}

/// The key schema is part of each record; re-exported for tests.
pub fn key_schema(table: &TableSchema) -> Option<Schema> {
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
