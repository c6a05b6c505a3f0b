//! Logging and metrics shared by every service of one gateway process.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Installs the global tracing subscriber. `RUST_LOG` wins over `default_filter` so that an
/// operator can raise verbosity without editing the config. Calling it twice is harmless.
pub fn init_tracing(format: LogFormat, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The Prometheus registry every service of the process registers its metrics in; the
/// metrics service renders it on `/metrics`.
#[derive(Clone, Default)]
pub struct MetricsRegistry {
    inner: Arc<Mutex<Registry>>,
}

impl fmt::Debug for MetricsRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsRegistry").finish_non_exhaustive()
    }
}

impl MetricsRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `register` with the registry locked; metric families are created once at
    /// start-up, so the lock is never held on a hot path.
    pub fn with_registry<T>(&self, register: impl FnOnce(&mut Registry) -> T) -> T {
        let mut registry = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        register(&mut registry)
    }

    /// The text exposition format (OpenMetrics 1.0, which Prometheus scrapes).
    pub fn render(&self) -> Result<String, fmt::Error> {
        let registry = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        encode(&mut out, &registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;

    use super::*;

    #[test]
    fn registered_metrics_are_rendered() {
        let registry = MetricsRegistry::new();
        let counter: Counter = Counter::default();
        registry.with_registry(|r| {
            r.register("gateway_test_events", "Events seen", counter.clone());
        });
        counter.inc_by(3);
        let text = registry.render().unwrap();
        assert!(text.contains("gateway_test_events_total 3"), "{text}");
    }
}
