//! Per-task counters. The runtime offers no hook for plugin metrics or status details yet,
//! so each task registers its counters here under `(connector, task)`; the embedding process
//! (and the tests) read them with [`task_counters`], and a failed task's trace carries a
//! [`CountersSnapshot`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// What one task did so far.
#[derive(Debug, Default)]
pub struct SinkCounters {
    pub bulk_requests: AtomicU64,
    pub documents_indexed: AtomicU64,
    pub documents_deleted: AtomicU64,
    pub records_skipped_null: AtomicU64,
    pub records_dropped_invalid: AtomicU64,
    pub documents_malformed: AtomicU64,
    pub documents_already_indexed: AtomicU64,
    pub version_conflicts: AtomicU64,
    pub items_retried: AtomicU64,
    pub requests_retried: AtomicU64,
}

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
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CountersSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CountersSnapshot {
            bulk_requests: read(&self.bulk_requests),
            documents_indexed: read(&self.documents_indexed),
            documents_deleted: read(&self.documents_deleted),
            records_skipped_null: read(&self.records_skipped_null),
            records_dropped_invalid: read(&self.records_dropped_invalid),
            documents_malformed: read(&self.documents_malformed),
            documents_already_indexed: read(&self.documents_already_indexed),
            version_conflicts: read(&self.version_conflicts),
            items_retried: read(&self.items_retried),
            requests_retried: read(&self.requests_retried),
        }
    }
}

type Registry = Mutex<BTreeMap<(String, u32), Arc<SinkCounters>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// Fresh counters for a starting task (a restarted task starts from zero).
pub(crate) fn register(connector: &str, task: u32) -> Arc<SinkCounters> {
    let counters = Arc::new(SinkCounters::default());
    if let Ok(mut map) = registry().lock() {
        map.insert((connector.to_owned(), task), Arc::clone(&counters));
    }
    counters
}

/// The counters of a task running in this process, if any.
pub fn task_counters(connector: &str, task: u32) -> Option<CountersSnapshot> {
    let map = registry().lock().ok()?;
    map.get(&(connector.to_owned(), task)).map(|c| c.snapshot())
}

/// Every task's counters, summed, for one connector in this process.
pub fn connector_counters(connector: &str) -> Vec<(u32, CountersSnapshot)> {
    let Ok(map) = registry().lock() else {
        return Vec::new();
    };
    map.iter()
        .filter(|((name, _), _)| name == connector)
        .map(|((_, task), counters)| (*task, counters.snapshot()))
        .collect()
}
