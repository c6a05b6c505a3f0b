//! Exactly-once source tasks: where a transaction ends (`transaction.boundary`, KIP-618).
//!
//! - `poll`: every batch the task returned is one transaction with its offsets.
//! - `interval`: the transaction begun with the first batch after the last commit stays open
//!   across polls and commits once it is `transaction.boundary.interval.ms` old (default: the
//!   worker's `offset.flush.interval.ms`), checked after every poll, empty ones included. The
//!   records of several polls become visible to `read_committed` readers together.
//!
//! An open transaction is committed before a pause or a stop, and aborted when a record
//! fails, so nothing produced after a failure becomes visible and its offsets stay unstored.

use std::time::Duration;

use connect_api::{ConnectError, DynSourceTask, StoredOffsets};
use rdkafka::producer::FutureProducer;
use tokio::time::Instant;

use crate::exactly_once::TransactionBoundary;
use crate::runtime::Runtime;
use crate::storage::offset_store::OffsetWrite;
use crate::worker::source_batch::Batch;
use crate::worker::source_offsets::SourceOffsets;
use crate::worker::task_metrics::TaskMetricGroups;
use crate::worker::transactions::Transactions;

/// The transactional producer of one task and the transaction it has open.
pub(super) struct TransactionalSource {
    transactions: Transactions,
    /// `None` = one transaction per poll batch.
    interval: Option<Duration>,
    open: Option<OpenTransaction>,
}

impl std::fmt::Debug for TransactionalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalSource")
            .field("interval", &self.interval)
            .field("open", &self.open.is_some())
            .finish_non_exhaustive()
    }
}

struct OpenTransaction {
    batches: Vec<Batch>,
    commit_at: Instant,
}

/// Everything a commit touches besides the transaction.
pub(super) struct CommitContext<'a> {
    pub(super) runtime: &'a Runtime,
    pub(super) connector: &'a str,
    pub(super) offsets: &'a SourceOffsets,
    pub(super) metrics: &'a TaskMetricGroups,
}

fn count_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

impl TransactionalSource {
    /// `boundary` is never `Connector` here: validation refuses it for every plugin.
    pub(super) fn new(
        transactions: Transactions,
        boundary: TransactionBoundary,
        flush_interval: Duration,
    ) -> Self {
        let interval = match boundary {
            TransactionBoundary::Interval(interval) => Some(interval.unwrap_or(flush_interval)),
            TransactionBoundary::Poll | TransactionBoundary::Connector => None,
        };
        Self {
            transactions,
            interval,
            open: None,
        }
    }

    pub(super) fn producer(&self) -> &FutureProducer {
        self.transactions.producer()
    }

    /// Opens a transaction unless one is open; call before producing a batch.
    pub(super) fn begin(&mut self) -> Result<(), ConnectError> {
        if self.open.is_some() {
            return Ok(());
        }
        self.transactions.begin()?;
        self.open = Some(OpenTransaction {
            batches: Vec::new(),
            commit_at: Instant::now() + self.interval.unwrap_or_default(),
        });
        Ok(())
    }

    /// Adds a produced batch to the open transaction.
    pub(super) fn add(&mut self, batch: Batch) {
        if let Some(open) = &mut self.open {
            open.batches.push(batch);
        }
    }

    /// Commits when the boundary is reached: after every batch with `poll`, once the
    /// transaction is old enough with `interval`.
    pub(super) async fn commit_if_due(
        &mut self,
        context: &CommitContext<'_>,
        task: &mut dyn DynSourceTask,
    ) -> Result<(), ConnectError> {
        let due = self
            .open
            .as_ref()
            .is_some_and(|open| self.interval.is_none() || Instant::now() >= open.commit_at);
        if due {
            self.commit(context, task).await
        } else {
            Ok(())
        }
    }

    /// Waits for every record of the open transaction, then commits it with the offsets
    /// and lets the task commit; aborts when a record was refused.
    pub(super) async fn commit(
        &mut self,
        context: &CommitContext<'_>,
        task: &mut dyn DynSourceTask,
    ) -> Result<(), ConnectError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let mut offsets = StoredOffsets::new();
        for mut batch in open.batches {
            if let Err(error) = batch.wait().await {
                self.transactions.abort().await;
                return Err(error);
            }
            let source = &context.metrics.source;
            source.record_write.add(batch.deliveries.len() as u64);
            source.record_active.add(-count_i64(batch.polled));
            // Later batches carry later offsets of the same partition.
            offsets.extend(batch.offsets);
        }
        let offsets: Vec<OffsetWrite> = offsets
            .into_values()
            .map(|(partition, offset)| (partition, Some(offset)))
            .collect();
        let started = std::time::Instant::now();
        let committed = self
            .transactions
            .commit_with_offsets(context.connector, &offsets)
            .await;
        context
            .metrics
            .common
            .offset_commit(committed.is_ok(), started);
        committed?;
        context
            .offsets
            .copy_to_worker_topic(context.runtime, context.connector, &offsets)
            .await;
        task.commit().await
    }

    /// Aborts the open transaction, if any (a record failed before it was added).
    pub(super) async fn abort(&mut self) {
        if self.open.take().is_some() {
            self.transactions.abort().await;
        }
    }
}
