//! Logging and metrics shared by every service of one gateway process.

use std::any::{Any, TypeId};
use std::collections::HashMap;
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
/// The filter sits behind a reload handle so that levels can change at runtime
/// ([`crate::log_levels`], Kafka Connect's `/admin/loggers`).
pub fn init_tracing(format: LogFormat, default_filter: &str) {
    init_tracing_with_export(format, default_filter, None);
}

/// [`init_tracing`] plus the OpenTelemetry layer when `export` is given: it sees only the
/// spans of target [`crate::otel::TARGET`], and the log filter always lets them through
/// (`otel=info` is appended), so a quiet log level does not switch tracing off.
pub fn init_tracing_with_export(
    format: LogFormat,
    default_filter: &str,
    export: Option<&crate::otel::OtlpExport>,
) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let mut base = std::env::var("RUST_LOG")
        .ok()
        .filter(|text| EnvFilter::try_new(text).is_ok())
        .or_else(|| {
            EnvFilter::try_new(default_filter)
                .is_ok()
                .then(|| default_filter.to_owned())
        })
        .unwrap_or_else(|| "info".to_owned());
    if export.is_some() {
        base = format!("{base},{}=info", crate::otel::TARGET);
    }
    let (filter, handle) = tracing_subscriber::reload::Layer::new(EnvFilter::new(base.as_str()));
    let otel_layer = export.map(|export| {
        tracing_opentelemetry::layer()
            .with_tracer(export.tracer())
            .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
                metadata.target() == crate::otel::TARGET
            }))
    });
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    let installed = match format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    if installed.is_ok() {
        crate::log_levels::install(&base, handle);
        if let Some(export) = export {
            export.activate();
        }
    }
}

/// The Prometheus registry every service of the process registers its metrics in; the
/// metrics service renders it on `/metrics`.
///
/// A metric family must be registered once per registry: a second registration under the
/// same name renders a duplicate family, which Prometheus rejects. Families that several
/// services, listeners or restarts share go through [`Self::register_once`].
#[derive(Clone, Default)]
pub struct MetricsRegistry {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    registry: Registry,
    /// What [`MetricsRegistry::register_once`] created, by name and type. It lives beside the
    /// registry it was registered in, so another registry never sees it.
    registered_once: HashMap<(&'static str, TypeId), Box<dyn Any + Send + Sync>>,
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
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        register(&mut inner.registry)
    }

    /// The metric handles registered under `name` in this registry: `register` creates and
    /// registers them on the first call for `name` (and type `T`); every later call, from
    /// any service or thread, gets a clone of those, so the families are registered once
    /// whatever the order in which services start. `T` is typically a struct of
    /// `Family`/`Counter` handles, which share their values across clones.
    pub fn register_once<T>(
        &self,
        name: &'static str,
        register: impl FnOnce(&mut Registry) -> T,
    ) -> T
    where
        T: Clone + Send + Sync + 'static,
    {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (name, TypeId::of::<T>());
        if let Some(existing) = inner
            .registered_once
            .get(&key)
            .and_then(|value| value.downcast_ref::<T>())
        {
            return existing.clone();
        }
        let created = register(&mut inner.registry);
        inner.registered_once.insert(key, Box::new(created.clone()));
        created
    }

    /// The text exposition format (OpenMetrics 1.0, which Prometheus scrapes).
    pub fn render(&self) -> Result<String, fmt::Error> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        encode(&mut out, &inner.registry)?;
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

    #[test]
    fn register_once_registers_a_family_once_per_registry() {
        let register = |registry: &MetricsRegistry| {
            registry.register_once("gateway_test_shared", |r| {
                let counter: Counter = Counter::default();
                r.register("gateway_test_shared", "Shared events", counter.clone());
                counter
            })
        };
        let registry = MetricsRegistry::new();
        let first = register(&registry);
        let second = register(&registry.clone());
        first.inc();
        second.inc_by(2);
        let text = registry.render().unwrap();
        assert_eq!(
            text.matches("# TYPE gateway_test_shared").count(),
            1,
            "{text}"
        );
        assert!(text.contains("gateway_test_shared_total 3"), "{text}");

        let other = MetricsRegistry::new();
        register(&other).inc();
        let text = other.render().unwrap();
        assert!(text.contains("gateway_test_shared_total 1"), "{text}");
    }
}
