//! The binlog reader task.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use connect_api::{Schema, SourceRecord};
use futures::StreamExt;
use mysql_async::binlog::events::{Event, EventData, RowsEventData};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, Conn};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::SourceError;
use crate::binlog::gtid::{MARIADB_GTID, MariaGtid};
use crate::binlog::image;
use crate::binlog::mysql_gtid::{MySqlGtid, MySqlGtidSet};
use crate::binlog::request::DumpRequest;
use crate::binlog::transaction::Transactions;
use crate::config::CdcConfig;
use crate::envelope::{self, Change, Operation, SourceInfo};
use crate::position::BinlogPosition;
use crate::preflight::Flavor;
use crate::schema::{self, TableSchema};

/// What the reader hands to the task, in binlog order.
#[derive(Debug)]
pub enum StreamItem {
    Records(Vec<SourceRecord>),
    /// A DDL statement for the schema history topic (Debezium's history record).
    History(Value),
    Failed(SourceError),
}

#[derive(Debug, Clone)]
pub struct StreamJob {
    pub config: Arc<CdcConfig>,
    pub connector: &'static str,
    pub partition: Map<String, Value>,
    pub start: BinlogPosition,
    pub flavor: Flavor,
}

pub fn spawn(job: StreamJob) -> (mpsc::Receiver<StreamItem>, tokio::task::JoinHandle<()>) {
    let batches = (job.config.max_queue_size / job.config.max_batch_size.max(1)).max(2);
    let (sender, receiver) = mpsc::channel(batches);
    let handle = connect_api::task::spawn("mysql-binlog-reader", async move {
        let failure = sender.clone();
        let result = match Reader::new(job) {
            Ok(reader) => reader.run(&sender).await,
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            let _ = failure.send(StreamItem::Failed(error)).await;
        }
    });
    (receiver, handle)
}

/// A table as the stream sees it: schema and envelope schema, or not captured.
type Captured = Option<Arc<(TableSchema, Arc<Schema>)>>;

struct Reader {
    job: StreamJob,
    transactions: Transactions,
    tables: HashMap<u64, Captured>,
    batch: Vec<SourceRecord>,
}

fn purged_message(start: &BinlogPosition, error: &str) -> String {
    let at = if start.gtids.is_empty() {
        format!("{}:{}", start.file, start.pos)
    } else {
        format!("GTID {}", start.gtids)
    };
    format!(
        "the binlog position to resume from ({at}) is no longer on the server, probably purged \
         ({error}). Changes after it are lost to this connector. To recover, take a new snapshot: \
         set snapshot.mode=when_needed and restart the connector, or stop it, delete its offsets \
         (DELETE /connectors/<name>/offsets) and resume it; keep binlogs longer \
         (binlog_expire_logs_seconds) to avoid this"
    )
}

impl Reader {
    fn new(job: StreamJob) -> Result<Self, SourceError> {
        Ok(Self {
            transactions: Transactions::new(job.flavor, &job.start)?,
            tables: HashMap::new(),
            batch: Vec::new(),
            job,
        })
    }

    async fn open(&self) -> Result<BinlogStream, SourceError> {
        let config = &self.job.config;
        let mut conn = Conn::new(config.connection.opts())
            .await
            .map_err(|e| SourceError::from_mysql("cannot connect for the binlog stream", &e))?;
        let setup =
            |e: mysql_async::Error| SourceError::from_mysql("cannot prepare the binlog stream", &e);
        let start = &self.job.start;
        let dump = match self.job.flavor {
            Flavor::MariaDb => {
                conn.query_drop("SET @mariadb_slave_capability=4")
                    .await
                    .map_err(setup)?;
                if start.gtids.is_empty() {
                    DumpRequest::file(start)
                } else {
                    conn.exec_drop("SET @slave_connect_state = ?", (start.gtids.as_str(),))
                        .await
                        .map_err(setup)?;
                    conn.query_drop("SET @slave_gtid_strict_mode = 1")
                        .await
                        .map_err(setup)?;
                    DumpRequest::File {
                        file: String::new(),
                        position: 4,
                    }
                }
            }
            Flavor::MySql => DumpRequest::mysql(start)?,
        };
        let request = dump.to_stream_request(config.server_id);
        tracing::info!(
            gtids = start.gtids,
            file = start.file,
            pos = start.pos,
            skip = start.skip_events,
            "binlog stream starting"
        );
        conn.get_binlog_stream(request).await.map_err(|e| {
            match SourceError::from_mysql("cannot start the binlog stream", &e) {
                SourceError::Definite(message) if message.contains("1236") => {
                    SourceError::definite(purged_message(start, &message))
                }
                other => other,
            }
        })
    }

    async fn run(mut self, sender: &mpsc::Sender<StreamItem>) -> Result<(), SourceError> {
        let mut stream = self.open().await?;
        let mut schema_conn = Conn::new(self.job.config.connection.opts())
            .await
            .map_err(|e| SourceError::from_mysql("cannot connect for table metadata", &e))?;
        loop {
            let next = if self.batch.is_empty() {
                stream.next().await
            } else {
                match tokio::time::timeout(Duration::from_millis(2), stream.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        self.flush(sender).await?;
                        continue;
                    }
                }
            };
            let event = match next {
                None => {
                    return Err(SourceError::transient(
                        "the server closed the binlog stream",
                    ));
                }
                Some(Err(error)) => {
                    return Err(match SourceError::from_mysql("binlog stream", &error) {
                        SourceError::Definite(message) if message.contains("1236") => {
                            SourceError::definite(purged_message(&self.job.start, &message))
                        }
                        other => other,
                    });
                }
                Some(Ok(event)) => event,
            };
            self.handle(&event, &stream, &mut schema_conn, sender)
                .await?;
            if self.batch.len() >= self.job.config.max_batch_size {
                self.flush(sender).await?;
            }
        }
    }

    async fn flush(&mut self, sender: &mpsc::Sender<StreamItem>) -> Result<(), SourceError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        sender
            .send(StreamItem::Records(batch))
            .await
            .map_err(|_| SourceError::transient("the task stopped"))
    }

    fn info(&self, event: &Event, row: u32) -> SourceInfo {
        self.transactions.source_info(
            self.job.connector,
            &self.job.config.topic_prefix,
            &event.header(),
            row,
        )
    }

    async fn handle(
        &mut self,
        event: &Event,
        stream: &BinlogStream,
        schema_conn: &mut Conn,
        sender: &mpsc::Sender<StreamItem>,
    ) -> Result<(), SourceError> {
        let header = event.header();
        let end_pos = u64::from(header.log_pos());
        let start_pos = end_pos.saturating_sub(u64::from(header.event_size()));
        if header.event_type_raw() == MARIADB_GTID {
            if let Some(gtid) = MariaGtid::parse(event.data(), header.server_id()) {
                self.transactions.on_mariadb_gtid(gtid, start_pos);
            }
            return Ok(());
        }
        let data = match event.read_data() {
            Ok(Some(data)) => data,
            Ok(None) => return Ok(()),
            Err(error) => {
                return Err(SourceError::definite(format!(
                    "cannot decode a binlog event: {error}"
                )));
            }
        };
        match data {
            EventData::RotateEvent(rotate) => {
                self.transactions
                    .on_rotate(&rotate.name(), rotate.position(), rotate.is_fake())
            }
            EventData::GtidEvent(gtid) if self.job.flavor == Flavor::MySql => {
                self.transactions
                    .on_mysql_gtid(MySqlGtid::from_event(&gtid), start_pos);
                // Like MariaDB's, the GTID event opens the transaction: not one of its events.
                return Ok(());
            }
            EventData::PreviousGtidsEvent(previous) if self.job.flavor == Flavor::MySql => {
                self.transactions
                    .on_previous_gtids(MySqlGtidSet::from_previous(&previous));
            }
            EventData::XidEvent(_) => self.transactions.commit(end_pos),
            EventData::QueryEvent(query) => {
                let text = query.query().trim().to_owned();
                let upper = text.to_ascii_uppercase();
                if upper == "BEGIN" {
                    self.transactions.on_begin();
                } else if upper == "COMMIT" || upper.starts_with("XA COMMIT") {
                    self.transactions.commit(end_pos);
                } else {
                    let database = query.schema().into_owned();
                    self.ddl(event, &database, &text, sender).await?;
                    if self.transactions.statement_ends_transaction() {
                        self.transactions.commit(end_pos);
                    }
                }
            }
            EventData::TableMapEvent(map) => {
                let table_id = map.table_id();
                if !self.tables.contains_key(&table_id) {
                    let (database, table) = (
                        map.database_name().into_owned(),
                        map.table_name().into_owned(),
                    );
                    let config = &self.job.config;
                    let captured = if config.filters.table(&database, &table) {
                        schema::load(
                            schema_conn,
                            &config.topic_prefix,
                            &database,
                            &table,
                            &config.filters,
                            &config.modes,
                        )
                        .await?
                        .map(|t| {
                            let t = image::schema_for_event(
                                t,
                                &map,
                                &config.topic_prefix,
                                &config.filters,
                                &config.modes,
                            )
                            .map_err(SourceError::definite)?;
                            let envelope = envelope::envelope_schema(&t, self.job.connector);
                            Ok::<_, SourceError>(Arc::new((t, envelope)))
                        })
                        .transpose()?
                    } else {
                        None
                    };
                    self.tables.insert(table_id, captured);
                }
            }
            EventData::RowsEvent(rows) => {
                self.rows(event, &rows, stream)?;
                self.transactions.event_done(true);
                return Ok(());
            }
            _ => {}
        }
        self.transactions.event_done(false);
        Ok(())
    }

    fn rows(
        &mut self,
        event: &Event,
        rows: &RowsEventData<'_>,
        stream: &BinlogStream,
    ) -> Result<(), SourceError> {
        let table_id = rows.table_id();
        let Some(Some(captured)) = self.tables.get(&table_id).cloned() else {
            return Ok(());
        };
        let Some(map) = stream.get_tme(table_id) else {
            return Err(SourceError::definite(format!(
                "rows event for unknown table id {table_id}"
            )));
        };
        let (table, envelope_schema) = (&captured.0, &captured.1);
        let operation = match rows {
            RowsEventData::WriteRowsEvent(_) | RowsEventData::WriteRowsEventV1(_) => {
                Operation::Create
            }
            RowsEventData::UpdateRowsEvent(_)
            | RowsEventData::UpdateRowsEventV1(_)
            | RowsEventData::PartialUpdateRowsEvent(_) => Operation::Update,
            RowsEventData::DeleteRowsEvent(_) | RowsEventData::DeleteRowsEventV1(_) => {
                Operation::Delete
            }
        };
        let modes = self.job.config.modes;
        // Fewer columns in the image than in the schema: the reader is behind an ADD
        // COLUMN; the image's columns are the leading ones.
        let image_columns = usize::try_from(map.columns_count()).unwrap_or(usize::MAX);
        let decode = |row: Option<BinlogRow>| -> Result<Option<Vec<Value>>, SourceError> {
            let Some(mut row) = row else { return Ok(None) };
            let mut values = Vec::with_capacity(table.columns.len());
            for (index, column) in table.columns.iter().enumerate().take(image_columns) {
                let value = match row.take(index) {
                    None => Value::Null,
                    Some(value) => column.kind.from_binlog(value, &modes).map_err(|e| {
                        SourceError::definite(format!(
                            "cannot decode {}.{} from the binlog: {e}",
                            table.id(),
                            column.name
                        ))
                    })?,
                };
                values.push(value);
            }
            Ok(Some(values))
        };
        for (row_index, row) in rows.rows(map).enumerate() {
            let (before, after) = row.map_err(|e| {
                SourceError::definite(format!("cannot decode a row of {}: {e}", table.id()))
            })?;
            let change = Change {
                operation,
                before: decode(before)?,
                after: decode(after)?,
            };
            if !self.transactions.next_change() {
                continue;
            }
            let info = self.info(event, u32::try_from(row_index).unwrap_or(0));
            let offset = self.transactions.offset();
            self.batch.extend(envelope::records(
                table,
                envelope_schema,
                change,
                &info,
                &self.job.partition,
                &offset,
                self.job.config.tombstones_on_delete,
            ));
        }
        Ok(())
    }

    async fn ddl(
        &mut self,
        event: &Event,
        database: &str,
        ddl: &str,
        sender: &mpsc::Sender<StreamItem>,
    ) -> Result<(), SourceError> {
        // A new table id follows every DDL, but drop cached schemas anyway (RENAME etc.).
        self.tables.clear();
        let config = Arc::clone(&self.job.config);
        if !database.is_empty() && !config.filters.database(database) {
            return Ok(());
        }
        let info = self.info(event, 0);
        let offset = self.transactions.offset();
        if config.history.is_some() {
            self.flush(sender).await?;
            let mut source = Map::new();
            source.insert("server".into(), Value::from(config.topic_prefix.clone()));
            let mut record = Map::new();
            record.insert("source".into(), Value::Object(source));
            record.insert("position".into(), Value::Object(offset.clone()));
            record.insert("ts_ms".into(), Value::from(info.ts_ms));
            record.insert("databaseName".into(), Value::from(database));
            record.insert("ddl".into(), Value::from(ddl));
            record.insert("tableChanges".into(), Value::Array(Vec::new()));
            sender
                .send(StreamItem::History(Value::Object(record)))
                .await
                .map_err(|_| SourceError::transient("the task stopped"))?;
        }
        if config.include_schema_changes {
            self.batch.push(envelope::schema_change(
                &config.topic_prefix,
                self.job.connector,
                database,
                ddl,
                &info,
                &self.job.partition,
                &offset,
            ));
        }
        Ok(())
    }
}
