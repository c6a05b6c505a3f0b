//! Per-task counters, registered through the runtime's plugin metrics hook
//! ([`connect_api::TaskMetrics`]): the worker exports them on `/metrics` as
//! `elasticsearch_sink_<counter>_total{connector,task}` while the task runs, a restarted
//! task starts from zero, and a failed task's trace carries a [`CountersSnapshot`].

use connect_api::{Counter, TaskMetrics};

/// What one task did so far.
#[derive(Debug, Default)]
pub struct SinkCounters {
    pub bulk_requests: Counter,
    pub documents_indexed: Counter,
    pub documents_deleted: Counter,
    pub records_skipped_null: Counter,
    pub records_dropped_invalid: Counter,
    pub documents_malformed: Counter,
    pub documents_already_indexed: Counter,
    pub version_conflicts: Counter,
    pub items_retried: Counter,
    pub requests_retried: Counter,
}

/// The prefix of every exported name.
pub const METRIC_PREFIX: &str = "elasticsearch_sink";

/// A copy of [`SinkCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    pub bulk_requests: u64,
    pub documents_indexed: u64,
    pub documents_deleted: u64,
    pub records_skipped_null: u64,
    pub records_dropped_invalid: u64,
    pub documents_malformed: u64,
    pub documents_already_indexed: u64,
    pub version_conflicts: u64,
    pub items_retried: u64,
    pub requests_retried: u64,
}

impl std::fmt::Display for CountersSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "indexed={} deleted={} malformed={} already_indexed={} version_conflicts={} skipped_null={} dropped_invalid={} items_retried={} requests_retried={} bulk_requests={}",
            self.documents_indexed,
            self.documents_deleted,
            self.documents_malformed,
            self.documents_already_indexed,
            self.version_conflicts,
            self.records_skipped_null,
            self.records_dropped_invalid,
            self.items_retried,
            self.requests_retried,
            self.bulk_requests
        )
    }
}

impl SinkCounters {
    /// Registers this task's counters on the runtime's hook.
    pub fn register(metrics: &TaskMetrics) -> Self {
        let counter =
            |name: &str, help: &str| metrics.counter(&format!("{METRIC_PREFIX}_{name}"), help);
        Self {
            bulk_requests: counter("bulk_requests", "Bulk requests sent, retries included"),
            documents_indexed: counter(
                "documents_indexed",
                "Documents indexed (created or updated)",
            ),
            documents_deleted: counter(
                "documents_deleted",
                "Documents deleted for tombstones (behavior.on.null.values=delete)",
            ),
            records_skipped_null: counter(
                "records_skipped_null",
                "Records with a null value skipped (behavior.on.null.values=ignore)",
            ),
            records_dropped_invalid: counter(
                "records_dropped_invalid",
                "Records dropped as invalid (drop.invalid.message=true)",
            ),
            documents_malformed: counter(
                "documents_malformed",
                "Documents the cluster refused as malformed (non-retriable)",
            ),
            documents_already_indexed: counter(
                "documents_already_indexed",
                "Creates answered 409 because the document exists (write.method=insert replays)",
            ),
            version_conflicts: counter(
                "version_conflicts",
                "Documents refused with a version conflict",
            ),
            items_retried: counter(
                "items_retried",
                "Bulk items retried after a retriable item error",
            ),
            requests_retried: counter(
                "requests_retried",
                "Bulk requests retried after a transport or cluster error",
            ),
        }
    }

    pub fn add(counter: &Counter, amount: u64) {
        counter.add(amount);
    }

    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            bulk_requests: self.bulk_requests.get(),
            documents_indexed: self.documents_indexed.get(),
            documents_deleted: self.documents_deleted.get(),
            records_skipped_null: self.records_skipped_null.get(),
            records_dropped_invalid: self.records_dropped_invalid.get(),
            documents_malformed: self.documents_malformed.get(),
            documents_already_indexed: self.documents_already_indexed.get(),
            version_conflicts: self.version_conflicts.get(),
            items_retried: self.items_retried.get(),
            requests_retried: self.requests_retried.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_exported_under_the_plugin_prefix() {
        let metrics = TaskMetrics::default();
        let counters = SinkCounters::register(&metrics);
        SinkCounters::add(&counters.documents_indexed, 4);
        let sample = metrics
            .samples()
            .into_iter()
            .find(|s| s.name == "elasticsearch_sink_documents_indexed_total")
            .expect("registered");
        assert_eq!(sample.value, 4);
        assert_eq!(counters.snapshot().documents_indexed, 4);
    }
}
