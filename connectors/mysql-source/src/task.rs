//! The CDC task: decides from the stored offset and `snapshot.mode` whether to snapshot,
//! resume a snapshot or stream, then hands out the reader tasks' batches in `poll`.
//!
//! After a transient failure of a reader (the server stopped, restarted or dropped the
//! connection) the task returns a retriable error, the runtime backs off
//! (`errors.retry.delay.max.ms` caps the wait), and the next `poll` starts a new reader from
//! the offset of the last record handed out (which the runtime stores once Kafka
//! acknowledged it), so nothing is lost or reordered across reconnects. The reconnect comes
//! after the backoff, not before it: a reader that connects at once is not left idle for a
//! whole backoff interval (`tests/it/mysql_outage.rs` measures the recovery).

use std::sync::Arc;

use connect_api::{ConnectError, SourceRecord, SourceTask, SourceTaskContext, TaskProgress};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::SourceError;
use crate::binlog::{self, StreamItem, StreamJob};
use crate::config::{CdcConfig, SnapshotMode};
use crate::history::HistoryTopic;
use crate::metrics::CdcMetrics;
use crate::position::{self, BinlogPosition, StoredOffset};
use crate::preflight::{self, Flavor};
use crate::snapshot::{self, SnapshotItem, chunks::SnapshotJob, start::current_position};

enum Phase {
    Snapshot {
        receiver: mpsc::Receiver<SnapshotItem>,
        reader: tokio::task::JoinHandle<()>,
        start: BinlogPosition,
    },
    Streaming {
        receiver: mpsc::Receiver<StreamItem>,
        reader: tokio::task::JoinHandle<()>,
    },
    /// `initial_only` after its snapshot, or stopped.
    Idle,
    /// A reader failed transiently; the next `poll` (after the runtime's backoff) starts a
    /// new one from the last handed-out offset.
    Reconnect,
}

/// A running CDC task.
pub struct CdcTask {
    config: Arc<CdcConfig>,
    connector: &'static str,
    flavor: Flavor,
    partition: Map<String, Value>,
    phase: Phase,
    /// The schema history topic, when `schema.history.internal.kafka.topic` is set.
    history: Option<HistoryTopic>,
    /// The offset of the last record handed out, for restarts after transient errors.
    last_offset: Option<StoredOffset>,
    /// Where the current binlog stream started; a reconnect before the stream handed out a
    /// record resumes here (not at today's position, which would skip the changes between).
    stream_start: Option<BinlogPosition>,
    /// When the last record or heartbeat was handed out, for `heartbeat.interval.ms`.
    last_emitted: std::time::Instant,
    /// Shown in the task's status: snapshot rows done / estimated, or streaming.
    progress: TaskProgress,
    /// Debezium's JMX metrics, exported by the runtime.
    metrics: CdcMetrics,
    /// The last poll returned the end of a snapshot chunk: its offset (start position + last
    /// key) is a resume point, stored at once so a crash re-sends at most one chunk.
    chunk_done: bool,
}

impl std::fmt::Debug for CdcTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdcTask")
            .field("server", &self.config.topic_prefix)
            .field("flavor", &self.flavor)
            .finish()
    }
}

impl CdcTask {
    pub async fn start(
        config: CdcConfig,
        connector: &'static str,
        context: &SourceTaskContext,
    ) -> Result<Self, ConnectError> {
        let problems = preflight::check(&config.connection).await;
        if let Some(problem) = problems.first() {
            return Err(ConnectError::definite(format!(
                "{}: {}",
                problem.key, problem.message
            )));
        }
        let mut conn = preflight::connect(&config.connection)
            .await
            .map_err(|p| ConnectError::definite(p.message))?;
        let flavor = preflight::flavor(&mut conn).await;
        preflight::advise_row_metadata(&mut conn).await;
        let gtid_mode = flavor == Flavor::MySql && preflight::mysql_gtid_mode(&mut conn).await;
        drop(conn);
        let partition = position::partition(&config.topic_prefix);
        let config_prefix = config.topic_prefix.clone();
        let stored = context.offset(&partition).and_then(StoredOffset::from_map);
        if let Some(stored) = &stored {
            position::check_resumable(stored, flavor, gtid_mode).map_err(ConnectError::definite)?;
        }
        let history = match &config.history {
            Some(settings) => Some(HistoryTopic::open(settings, context).await?),
            None => None,
        };
        let mut task = Self {
            config: Arc::new(config),
            connector,
            flavor,
            partition,
            phase: Phase::Idle,
            history,
            last_offset: stored.clone(),
            stream_start: None,
            last_emitted: std::time::Instant::now(),
            chunk_done: false,
            progress: context.progress.clone(),
            metrics: CdcMetrics::register(&context.metrics, connector, &config_prefix),
        };
        task.begin(stored).await?;
        Ok(task)
    }

    /// Chooses and starts the phase for a stored offset (or none).
    async fn begin(&mut self, stored: Option<StoredOffset>) -> Result<(), SourceError> {
        let mode = self.config.snapshot_mode;
        match (stored, mode) {
            (Some(StoredOffset::Snapshot { start, progress }), _) => {
                tracing::info!(
                    table = progress.table,
                    rows = progress.rows,
                    "resuming the snapshot"
                );
                self.start_snapshot(Some(start), Some(progress)).await
            }
            (Some(StoredOffset::Streaming(_)), SnapshotMode::Always)
            | (
                None,
                SnapshotMode::Initial
                | SnapshotMode::InitialOnly
                | SnapshotMode::WhenNeeded
                | SnapshotMode::Always,
            ) => self.start_snapshot(None, None).await,
            (Some(StoredOffset::Streaming(position)), SnapshotMode::InitialOnly) => {
                let _ = position;
                self.phase = Phase::Idle;
                Ok(())
            }
            (Some(StoredOffset::Streaming(position)), _) => {
                self.start_stream(position);
                Ok(())
            }
            (None, SnapshotMode::NoData) => {
                let position = current_position(&self.config, self.flavor).await?;
                self.start_stream(position);
                Ok(())
            }
            (None, SnapshotMode::Never) => {
                // The oldest binlog the server has: an empty GTID state on MariaDB, the
                // first file otherwise.
                let position = if self.flavor == Flavor::MariaDb {
                    BinlogPosition {
                        gtids: String::new(),
                        file: String::new(),
                        pos: 4,
                        skip_events: 0,
                        skip_rows: 0,
                    }
                } else {
                    BinlogPosition::default()
                };
                self.start_stream(position);
                Ok(())
            }
        }
    }

    async fn start_snapshot(
        &mut self,
        start: Option<BinlogPosition>,
        resume: Option<position::SnapshotProgress>,
    ) -> Result<(), SourceError> {
        let (conn, fresh) = snapshot::begin(&self.config, self.flavor).await?;
        let start = start.unwrap_or(fresh);
        self.stream_start = None;
        self.metrics.snapshot_started();
        let (receiver, reader) = snapshot::spawn_reader(
            conn,
            SnapshotJob {
                config: Arc::clone(&self.config),
                connector: self.connector,
                partition: self.partition.clone(),
                start: start.clone(),
                resume,
                progress: self.progress.clone(),
            },
        );
        self.phase = Phase::Snapshot {
            receiver,
            reader,
            start,
        };
        Ok(())
    }

    fn start_stream(&mut self, start: BinlogPosition) {
        self.progress.set(serde_json::json!({
            "phase": "streaming",
            "started_from": {"gtids": start.gtids, "file": start.file, "pos": start.pos},
        }));
        self.stream_start = Some(start.clone());
        let (receiver, reader) = binlog::spawn(StreamJob {
            config: Arc::clone(&self.config),
            connector: self.connector,
            partition: self.partition.clone(),
            start,
            flavor: self.flavor,
        });
        self.metrics.connected(true);
        self.phase = Phase::Streaming { receiver, reader };
    }

    fn abort(&mut self) {
        self.metrics.connected(false);
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Snapshot { reader, .. } | Phase::Streaming { reader, .. } => reader.abort(),
            Phase::Idle | Phase::Reconnect => {}
        }
    }

    /// After a transient reader failure: returns the retriable error so the runtime backs off,
    /// then the next `poll` reconnects from the last handed-out offset ([`Phase::Reconnect`]).
    async fn recover(&mut self, error: SourceError) -> Result<Vec<SourceRecord>, ConnectError> {
        self.abort();
        let purged =
            matches!(&error, SourceError::Definite(m) if m.contains("no longer on the server"));
        if purged && self.config.snapshot_mode == SnapshotMode::WhenNeeded {
            tracing::warn!(%error, "resume position purged; taking a new snapshot (snapshot.mode=when_needed)");
            self.start_snapshot(None, None).await?;
            return Ok(Vec::new());
        }
        if let SourceError::Definite(_) = error {
            return Err(error.into());
        }
        tracing::warn!(%error, "reader failed; reconnecting from the last offset handed out after a backoff");
        self.phase = Phase::Reconnect;
        Err(error.into())
    }

    /// Counts a batch and remembers its last offset, for restarts and heartbeats.
    fn deliverable(&mut self, records: Vec<SourceRecord>) -> Vec<SourceRecord> {
        self.metrics.handed_out(&records);
        if let Some(last) = records.last() {
            self.last_offset = StoredOffset::from_map(&last.source_offset);
            self.last_emitted = std::time::Instant::now();
        }
        records
    }

    /// Debezium's heartbeat while streaming: after `heartbeat.interval.ms` without a record,
    /// one record on `__debezium-heartbeat.<prefix>` (key `{serverName}`, value `{ts_ms}`)
    /// carrying the offset of the last record handed out, so the stored offset stays fresh
    /// and consumers see the connector is alive. None before the first streaming offset (a
    /// snapshot offset must not be re-stored as if it were current).
    fn heartbeat(&mut self) -> Option<SourceRecord> {
        let interval = self.config.heartbeat_interval?;
        if self.last_emitted.elapsed() < interval {
            return None;
        }
        let offset = match &self.last_offset {
            Some(offset @ StoredOffset::Streaming(_)) => offset.clone(),
            _ => return None,
        };
        self.last_emitted = std::time::Instant::now();
        Some(heartbeat_record(
            &self.config.topic_prefix,
            self.partition.clone(),
            &offset,
        ))
    }
}

/// Where a stream that failed transiently resumes: after the last record it handed out, or
/// where it started if it handed out none yet. `None` while snapshotting (the snapshot
/// resumes from its own offset). Never today's position nor a new snapshot: `no_data` and
/// `always` choose those once, when the task starts, not on every reconnect.
fn reconnect_point(
    last_offset: Option<&StoredOffset>,
    stream_start: Option<&BinlogPosition>,
) -> Option<BinlogPosition> {
    match (last_offset, stream_start) {
        (_, None) => None,
        (Some(StoredOffset::Streaming(position)), Some(_)) => Some(position.clone()),
        (_, Some(start)) => Some(start.clone()),
    }
}

/// The heartbeat record of `topic.prefix` (Debezium's `io.debezium.connector.common.Heartbeat`).
pub fn heartbeat_record(
    prefix: &str,
    partition: Map<String, Value>,
    offset: &StoredOffset,
) -> SourceRecord {
    use connect_api::{ConnectRecord, Field, Schema, SchemaType};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let key_schema = Schema::structure(vec![Field::new(
        "serverName",
        Schema::new(SchemaType::String),
    )])
    .named("io.debezium.connector.common.ServerNameKey");
    let value_schema = Schema::structure(vec![Field::new("ts_ms", Schema::new(SchemaType::Int64))])
        .named("io.debezium.connector.common.Heartbeat");
    let mut key = Map::new();
    key.insert("serverName".to_owned(), Value::String(prefix.to_owned()));
    let mut value = Map::new();
    value.insert("ts_ms".to_owned(), Value::from(now));
    SourceRecord {
        source_partition: partition,
        source_offset: offset.to_map(now / 1000),
        record: ConnectRecord::new(
            format!("__debezium-heartbeat.{prefix}"),
            Some(value_schema.into()),
            Value::Object(value),
        )
        .with_key(Some(key_schema.into()), Value::Object(key)),
    }
}

impl SourceTask for CdcTask {
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        self.chunk_done = false;
        let wait = self.config.poll_interval;
        if let Phase::Reconnect = self.phase {
            match reconnect_point(self.last_offset.as_ref(), self.stream_start.as_ref()) {
                Some(position) => self.start_stream(position),
                // A snapshot connection that fails here stays in `Reconnect` (retriable).
                None => self.begin(self.last_offset.clone()).await?,
            }
        }
        match &mut self.phase {
            Phase::Idle | Phase::Reconnect => {
                tokio::time::sleep(wait).await;
                Ok(Vec::new())
            }
            Phase::Snapshot {
                receiver, start, ..
            } => {
                let item = tokio::time::timeout(wait, receiver.recv()).await;
                match item {
                    Err(_) => Ok(Vec::new()),
                    Ok(Some(SnapshotItem::Records { records, chunk_end })) => {
                        // The chunk's last records: their offset is the chunk's resume point.
                        self.chunk_done = chunk_end;
                        Ok(self.deliverable(records))
                    }
                    Ok(Some(SnapshotItem::Done)) => {
                        let start = start.clone();
                        self.metrics.snapshot_completed();
                        if self.config.snapshot_mode == SnapshotMode::InitialOnly {
                            self.phase = Phase::Idle;
                        } else {
                            self.start_stream(start);
                        }
                        Ok(Vec::new())
                    }
                    Ok(Some(SnapshotItem::Failed(error))) => self.recover(error).await,
                    Ok(None) => {
                        self.recover(SourceError::transient("the snapshot reader stopped"))
                            .await
                    }
                }
            }
            Phase::Streaming { receiver, .. } => {
                let item = tokio::time::timeout(wait, receiver.recv()).await;
                match item {
                    Err(_) => match self.heartbeat() {
                        Some(record) => Ok(self.deliverable(vec![record])),
                        None => Ok(Vec::new()),
                    },
                    Ok(Some(StreamItem::Records(records))) => Ok(self.deliverable(records)),
                    Ok(Some(StreamItem::History(record))) => {
                        if let Some(history) = &self.history {
                            history.append(&record).await?;
                        }
                        Ok(Vec::new())
                    }
                    Ok(Some(StreamItem::Failed(error))) => self.recover(error).await,
                    Ok(None) => {
                        self.recover(SourceError::transient("the binlog reader stopped"))
                            .await
                    }
                }
            }
        }
    }

    fn store_offsets_now(&self) -> bool {
        self.chunk_done
    }

    async fn stop(&mut self) {
        self.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::BinlogPosition;

    #[test]
    fn a_reconnect_resumes_after_the_last_record_or_where_the_stream_started() {
        let at = |gtids: &str| BinlogPosition {
            gtids: gtids.into(),
            file: String::new(),
            pos: 4,
            skip_events: 0,
            skip_rows: 0,
        };
        let streamed = StoredOffset::Streaming(at("0-1-50"));
        let snapshot_row = StoredOffset::Snapshot {
            start: at("0-1-10"),
            progress: position::SnapshotProgress::default(),
        };
        // Mid-snapshot: the snapshot resumes from its own offset.
        assert_eq!(reconnect_point(Some(&snapshot_row), None), None);
        // Streaming, records handed out: after the last one.
        assert_eq!(
            reconnect_point(Some(&streamed), Some(&at("0-1-10"))),
            Some(at("0-1-50"))
        );
        // Streaming, nothing handed out yet (just after the snapshot, or `no_data`): where
        // the stream started, not today's position.
        assert_eq!(
            reconnect_point(Some(&snapshot_row), Some(&at("0-1-10"))),
            Some(at("0-1-10"))
        );
        assert_eq!(reconnect_point(None, Some(&at("0-1-7"))), Some(at("0-1-7")));
    }

    #[test]
    fn heartbeat_is_debeziums_shape_and_keeps_the_offset() {
        let offset = StoredOffset::Streaming(BinlogPosition {
            gtids: "0-1-42".into(),
            file: "bin.000002".into(),
            pos: 77,
            skip_events: 1,
            skip_rows: 0,
        });
        let record = heartbeat_record("shop", position::partition("shop"), &offset);
        assert_eq!(record.record.topic, "__debezium-heartbeat.shop");
        assert_eq!(record.record.key, serde_json::json!({"serverName": "shop"}));
        assert!(record.record.value["ts_ms"].as_i64().is_some_and(|t| t > 0));
        assert_eq!(StoredOffset::from_map(&record.source_offset), Some(offset));
        assert_eq!(record.source_partition, position::partition("shop"));
    }
}
