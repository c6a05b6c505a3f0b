//! The plugin metrics hook: a task registers its own counters and gauges on the
//! [`TaskMetrics`] handle of its context, and the runtime exports them on `/metrics` with
//! the labels `connector` and `task` added, for as long as the task runs.
//!
//! Registering takes a lock (do it at start-up, or once per new label value); updating a
//! [`Counter`] or [`Gauge`] is one relaxed atomic operation, so it is fine per record.
//! Names follow Prometheus' rules: characters outside `[a-zA-Z0-9_:]` become `_`, as the JMX
//! exporter does. A counter's exported name ends with `_total` (added when missing). The
//! runtime's `connector` and `task` labels take precedence over plugin labels of that name.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A monotonic count, e.g. documents indexed.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, amount: u64) {
        self.0.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down, e.g. lag in milliseconds or a 0/1 flag.
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn add(&self, amount: i64) {
        self.0.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

#[derive(Debug, Clone)]
enum Handle {
    Counter(Counter),
    Gauge(Gauge),
}

#[derive(Debug, Clone)]
struct Registered {
    name: String,
    help: String,
    labels: Vec<(String, String)>,
    handle: Handle,
}

/// One series at the time of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSample {
    /// The exported name (a counter's ends with `_total`).
    pub name: String,
    pub help: String,
    pub kind: MetricKind,
    pub labels: Vec<(String, String)>,
    pub value: i64,
}

/// Where a task registers its metrics; cloning shares the registrations.
#[derive(Debug, Clone, Default)]
pub struct TaskMetrics {
    registered: Arc<Mutex<Vec<Registered>>>,
}

/// Prometheus' metric and label name alphabet; anything else becomes `_`.
pub fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn counter_name(name: &str) -> String {
    let name = sanitize_name(name);
    if name.ends_with("_total") {
        name
    } else {
        format!("{name}_total")
    }
}

const RESERVED_LABELS: [&str; 2] = ["connector", "task"];

fn owned_labels(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(key, value)| (sanitize_name(key), (*value).to_owned()))
        .filter(|(key, _)| !RESERVED_LABELS.contains(&key.as_str()))
        .collect()
}

impl TaskMetrics {
    pub fn counter(&self, name: &str, help: &str) -> Counter {
        self.counter_with_labels(name, help, &[])
    }

    /// A counter of one label set, e.g. `[("table", "shop.orders")]`. Registering the same
    /// name and labels again returns the same counter.
    pub fn counter_with_labels(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Counter {
        let handle = self.register(counter_name(name), help, labels, || {
            Handle::Counter(Counter::default())
        });
        match handle {
            Handle::Counter(counter) => counter,
            // The name is taken by a gauge: a counter nobody exports, rather than a panic.
            Handle::Gauge(_) => Counter::default(),
        }
    }

    pub fn gauge(&self, name: &str, help: &str) -> Gauge {
        self.gauge_with_labels(name, help, &[])
    }

    pub fn gauge_with_labels(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Gauge {
        let handle = self.register(sanitize_name(name), help, labels, || {
            Handle::Gauge(Gauge::default())
        });
        match handle {
            Handle::Gauge(gauge) => gauge,
            Handle::Counter(_) => Gauge::default(),
        }
    }

    fn register(
        &self,
        name: String,
        help: &str,
        labels: &[(&str, &str)],
        create: impl FnOnce() -> Handle,
    ) -> Handle {
        let labels = owned_labels(labels);
        let mut registered = self
            .registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = registered
            .iter()
            .find(|r| r.name == name && r.labels == labels)
        {
            return existing.handle.clone();
        }
        let handle = create();
        registered.push(Registered {
            name,
            help: help.to_owned(),
            labels,
            handle: handle.clone(),
        });
        handle
    }

    /// Every registered series with its current value, in registration order.
    pub fn samples(&self) -> Vec<MetricSample> {
        let registered = self
            .registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        registered
            .iter()
            .map(|r| {
                let (kind, value) = match &r.handle {
                    Handle::Counter(c) => (
                        MetricKind::Counter,
                        i64::try_from(c.get()).unwrap_or(i64::MAX),
                    ),
                    Handle::Gauge(g) => (MetricKind::Gauge, g.get()),
                };
                MetricSample {
                    name: r.name.clone(),
                    help: r.help.clone(),
                    kind,
                    labels: r.labels.clone(),
                    value,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_a_total_suffix_once_and_names_are_sanitized() {
        let metrics = TaskMetrics::default();
        metrics.counter("es.sink-documents", "help").add(3);
        metrics.counter("already_total", "help").inc();
        metrics.gauge("9lives", "help").set(-2);
        let names: Vec<(String, i64)> = metrics
            .samples()
            .into_iter()
            .map(|s| (s.name, s.value))
            .collect();
        assert_eq!(
            names,
            [
                ("es_sink_documents_total".to_owned(), 3),
                ("already_total".to_owned(), 1),
                ("_9lives".to_owned(), -2),
            ]
        );
    }

    #[test]
    fn registering_twice_shares_the_series() {
        let metrics = TaskMetrics::default();
        let first = metrics.counter_with_labels("rows", "h", &[("table", "a")]);
        let again = metrics.counter_with_labels("rows", "h", &[("table", "a")]);
        let other = metrics.counter_with_labels("rows", "h", &[("table", "b")]);
        first.inc();
        again.inc();
        other.inc();
        let samples = metrics.samples();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].value, 2);
        assert_eq!(samples[1].labels, [("table".to_owned(), "b".to_owned())]);
    }

    #[test]
    fn runtime_labels_are_reserved_and_kind_clashes_do_not_panic() {
        let metrics = TaskMetrics::default();
        let gauge = metrics.gauge_with_labels("x", "h", &[("task", "7"), ("k", "v")]);
        gauge.set(1);
        let counter = metrics.counter("x_total", "h");
        counter.inc();
        let clash = metrics.gauge("x_total", "h");
        clash.set(5);
        let samples = metrics.samples();
        assert_eq!(samples[0].labels, [("k".to_owned(), "v".to_owned())]);
        assert_eq!(samples.len(), 2, "the clashing gauge is not exported");
        assert_eq!(samples[1].value, 1);
    }
}
