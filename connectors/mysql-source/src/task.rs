//! The CDC task: decides from the stored offset and `snapshot.mode` whether to snapshot,
//! resume a snapshot or stream, then hands out the reader tasks' batches in `poll`.
//!
//! After a transient failure of a reader the task restarts from the offset of the last
//! record it handed out (which the runtime stores once Kafka acknowledged it), so nothing
//! is lost across reconnects either.

use std::sync::Arc;

use connect_api::{ConnectError, SourceRecord, SourceTask, SourceTaskContext};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::SourceError;
use crate::binlog::{self, StreamItem, StreamJob};
use crate::config::{CdcConfig, SnapshotMode};
use crate::kafka::Topics;
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
}

/// A running CDC task.
pub struct CdcTask {
    config: Arc<CdcConfig>,
    connector: &'static str,
    flavor: Flavor,
    partition: Map<String, Value>,
    phase: Phase,
    topics: Option<Topics>,
    /// The offset of the last record handed out, for restarts after transient errors.
    last_offset: Option<StoredOffset>,
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
        drop(conn);
        let partition = position::partition(&config.topic_prefix);
        let stored = context.offset(&partition).and_then(StoredOffset::from_map);
        let topics = match &config.topic_creation {
            Some(settings) => Some(Topics::new(settings.clone())?),
            None => None,
        };
        let mut task = Self {
            config: Arc::new(config),
            connector,
            flavor,
            partition,
            phase: Phase::Idle,
            topics,
            last_offset: stored.clone(),
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
        let (receiver, reader) = snapshot::spawn_reader(
            conn,
            SnapshotJob {
                config: Arc::clone(&self.config),
                connector: self.connector,
                partition: self.partition.clone(),
                start: start.clone(),
                resume,
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
        let (receiver, reader) = binlog::spawn(StreamJob {
            config: Arc::clone(&self.config),
            connector: self.connector,
            partition: self.partition.clone(),
            start,
        });
        self.phase = Phase::Streaming { receiver, reader };
    }

    fn abort(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Snapshot { reader, .. } | Phase::Streaming { reader, .. } => reader.abort(),
            Phase::Idle => {}
        }
    }

    /// Restarts from the last handed-out offset after a transient reader failure.
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
        tracing::warn!(%error, "reader failed; restarting from the last offset handed out");
        let stored = self.last_offset.clone();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        self.begin(stored).await?;
        Err(error.into())
    }

    async fn deliverable(
        &mut self,
        records: Vec<SourceRecord>,
    ) -> Result<Vec<SourceRecord>, ConnectError> {
        if let Some(topics) = &mut self.topics {
            let mut names: Vec<&str> = records.iter().map(|r| r.record.topic.as_str()).collect();
            names.dedup();
            topics.ensure(names, false).await?;
        }
        if let Some(last) = records.last() {
            self.last_offset = StoredOffset::from_map(&last.source_offset);
        }
        Ok(records)
    }
}

impl SourceTask for CdcTask {
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let wait = self.config.poll_interval;
        match &mut self.phase {
            Phase::Idle => {
                tokio::time::sleep(wait).await;
                Ok(Vec::new())
            }
            Phase::Snapshot {
                receiver, start, ..
            } => {
                let item = tokio::time::timeout(wait, receiver.recv()).await;
                match item {
                    Err(_) => Ok(Vec::new()),
                    Ok(Some(SnapshotItem::Records(records))) => self.deliverable(records).await,
                    Ok(Some(SnapshotItem::Done)) => {
                        let start = start.clone();
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
                    Err(_) => Ok(Vec::new()),
                    Ok(Some(StreamItem::Records(records))) => self.deliverable(records).await,
                    Ok(Some(StreamItem::History(record))) => {
                        if let (Some(topics), Some(topic)) =
                            (&mut self.topics, &self.config.history_topic)
                        {
                            topics.append_history(topic, &Value::Null, &record).await?;
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

    async fn stop(&mut self) {
        self.abort();
    }
}
