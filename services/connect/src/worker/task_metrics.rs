//! Kafka Connect's per-task metrics (`source-task-metrics`, `sink-task-metrics`,
//! `task-error-metrics`, `connector-task-metrics`), updated where the task loops do the
//! work, plus the plugin's own metrics registered through [`connect_api::TaskMetrics`].
//!
//! A task's metrics are registered when the supervisor starts it and removed when the
//! supervisor stops it (stop, delete, restart, reassignment), as Kafka removes a task's
//! metric groups in `Worker.stopAndAwaitTask`: a FAILED task keeps its series until it is
//! restarted or deleted, so its error counts stay visible; a restarted task starts from
//! zero. Counters are atomics; the windowed `*-avg`/`*-max` stats take a lock once per
//! batch or commit, never per record.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use connect_api::{Counter, Gauge};

use crate::sampled_stat::SampledStat;
use crate::worker::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    Source,
    Sink,
}

/// `source-task-metrics`.
#[derive(Debug, Default)]
pub struct SourceTaskMetrics {
    /// Records returned by `poll`, before SMTs.
    pub record_poll: Counter,
    /// Records Kafka acknowledged (after SMTs; filtered and failed ones excluded).
    pub record_write: Counter,
    /// Records polled whose batch Kafka has not acknowledged yet.
    pub record_active: Gauge,
    pub(crate) poll_batch_time_ms: SampledStat,
}

/// `sink-task-metrics`.
#[derive(Debug, Default)]
pub struct SinkTaskMetrics {
    /// Records consumed from Kafka, before converters and SMTs.
    pub record_read: Counter,
    /// Records handed to a `put` that succeeded (after SMTs).
    pub record_send: Counter,
    /// Records consumed whose offsets are not committed yet.
    pub record_active: Gauge,
    pub offset_commit_completion: Counter,
    /// Commits that failed after a rebalance and were skipped (the records replay).
    pub offset_commit_skip: Counter,
    pub partition_count: Gauge,
    pub(crate) put_batch_time_ms: SampledStat,
}

/// `task-error-metrics`, counted as Kafka's `RetryWithToleranceOperator` counts them.
#[derive(Debug, Default)]
pub struct ErrorMetrics {
    /// Failed attempts: a record that failed conversion, an SMT or the sink task
    /// (reported), and each failed retriable `poll`/`put`/`flush`.
    pub record_failures: Counter,
    /// Records that failed for good (also when the failure was tolerated).
    pub record_errors: Counter,
    /// Records skipped under `errors.tolerance=all`.
    pub records_skipped: Counter,
    pub retries: Counter,
    pub errors_logged: Counter,
    pub dead_letter_queue_requests: Counter,
    pub dead_letter_queue_failures: Counter,
    /// Epoch milliseconds of the last failure, 0 before the first.
    pub last_error_timestamp: Gauge,
}

impl ErrorMetrics {
    /// A record failed in a stage that is not retried: Kafka's `execAndHandleError` then
    /// `execute`'s `recordError`, and `recordSkipped` when the failure is tolerated.
    pub fn record_failed(&self, tolerated: bool, logged: bool) {
        self.record_failures.inc();
        self.record_errors.inc();
        self.last_error_timestamp.set(now_ms());
        if tolerated {
            self.records_skipped.inc();
        }
        if logged {
            self.errors_logged.inc();
        }
    }

    /// A sink task reported a record (KIP-610), as Kafka's `executeFailed` counts it: an
    /// error only when it is not tolerated, and never "skipped".
    pub fn record_reported(&self, tolerated: bool, logged: bool) {
        self.record_failures.inc();
        self.last_error_timestamp.set(now_ms());
        if !tolerated {
            self.record_errors.inc();
        }
        if logged {
            self.errors_logged.inc();
        }
    }

    /// A retriable operation failed; `retried` when it will be attempted again.
    pub fn operation_failed(&self, retried: bool) {
        self.record_failures.inc();
        self.last_error_timestamp.set(now_ms());
        if retried {
            self.retries.inc();
        }
    }
}

/// `connector-task-metrics` (beside `status`, which the status collector exports).
#[derive(Debug, Default)]
pub struct CommonTaskMetrics {
    /// 1 per successful offset commit, 0 per failed one; the average is the percentage.
    pub(crate) offset_commit_outcome: SampledStat,
    pub(crate) offset_commit_time_ms: SampledStat,
    pub(crate) batch_size: SampledStat,
}

impl CommonTaskMetrics {
    pub(crate) fn offset_commit(&self, succeeded: bool, started: std::time::Instant) {
        self.offset_commit_outcome
            .record(if succeeded { 1.0 } else { 0.0 });
        if succeeded {
            self.offset_commit_time_ms
                .record(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
}

/// Everything one running task exports.
#[derive(Debug)]
pub struct TaskMetricGroups {
    pub connector: String,
    pub task: u32,
    pub kind: TaskKind,
    pub source: SourceTaskMetrics,
    pub sink: SinkTaskMetrics,
    pub errors: ErrorMetrics,
    pub common: CommonTaskMetrics,
    /// What the plugin registered.
    pub plugin: connect_api::TaskMetrics,
}

type Tasks = BTreeMap<(String, u32), Arc<TaskMetricGroups>>;

/// The metric groups of the tasks this worker runs.
#[derive(Debug, Clone, Default)]
pub struct TaskMetricsRegistry {
    tasks: Arc<Mutex<Tasks>>,
}

/// Removes its task's metrics when dropped (the supervisor drops it after the task
/// stopped).
#[derive(Debug)]
pub struct Registration {
    registry: TaskMetricsRegistry,
    groups: Arc<TaskMetricGroups>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut tasks = self.registry.lock();
        let key = (self.groups.connector.clone(), self.groups.task);
        // A newer registration of the same task is not ours to remove.
        if tasks
            .get(&key)
            .is_some_and(|current| Arc::ptr_eq(current, &self.groups))
        {
            tasks.remove(&key);
        }
    }
}

impl Registration {
    pub fn groups(&self) -> Arc<TaskMetricGroups> {
        Arc::clone(&self.groups)
    }
}

impl TaskMetricsRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tasks> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fresh metrics for a starting task, replacing any earlier ones of the same task.
    pub fn register(&self, connector: &str, task: u32, kind: TaskKind) -> Registration {
        let groups = Arc::new(TaskMetricGroups {
            connector: connector.to_owned(),
            task,
            kind,
            source: SourceTaskMetrics::default(),
            sink: SinkTaskMetrics::default(),
            errors: ErrorMetrics::default(),
            common: CommonTaskMetrics::default(),
            plugin: connect_api::TaskMetrics::default(),
        });
        self.lock()
            .insert((connector.to_owned(), task), Arc::clone(&groups));
        Registration {
            registry: self.clone(),
            groups,
        }
    }

    /// The registered tasks, in (connector, task) order.
    pub fn tasks(&self) -> Vec<Arc<TaskMetricGroups>> {
        self.lock().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_an_old_registration_keeps_the_new_one() {
        let registry = TaskMetricsRegistry::default();
        let old = registry.register("c", 0, TaskKind::Sink);
        let new = registry.register("c", 0, TaskKind::Sink);
        drop(old);
        assert_eq!(registry.tasks().len(), 1);
        drop(new);
        assert!(registry.tasks().is_empty());
    }

    #[test]
    fn a_tolerated_failure_is_failed_errored_and_skipped() {
        let errors = ErrorMetrics::default();
        errors.record_failed(true, false);
        errors.record_failed(false, true);
        errors.operation_failed(true);
        assert_eq!(errors.record_failures.get(), 3);
        assert_eq!(errors.record_errors.get(), 2);
        assert_eq!(errors.records_skipped.get(), 1);
        assert_eq!(errors.errors_logged.get(), 1);
        assert_eq!(errors.retries.get(), 1);
        assert!(errors.last_error_timestamp.get() > 0);
    }
}
