//! Records through the bridge, by topic: produced (acknowledged by Kafka), refused or
//! failed on produce, and handed out to HTTP consumers. Request counts and latencies are
//! the shared HTTP layer's (`kafka_gateway_http_*`).
//!
//! The families are registered once per registry ([`MetricsRegistry::register_once`]): every
//! bridge state attached to one registry (a restarted bridge, several in a test process)
//! counts into the same families. Nothing is counted before [`BridgeMetrics::register`].

use std::sync::OnceLock;

use broker_core::telemetry::MetricsRegistry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

type TopicLabels = Vec<(&'static str, String)>;

#[derive(Debug, Default)]
pub(crate) struct BridgeMetrics(OnceLock<Families>);

#[derive(Debug, Clone, Default)]
struct Families {
    produced: Family<TopicLabels, Counter>,
    produce_failed: Family<TopicLabels, Counter>,
    consumed: Family<TopicLabels, Counter>,
}

fn labels(topic: &str) -> TopicLabels {
    vec![("topic", topic.to_owned())]
}

impl BridgeMetrics {
    /// Counts into the bridge families of `registry`; only the first call has an effect.
    pub(crate) fn register(&self, registry: &MetricsRegistry) {
        let families = registry.register_once("kafka_gateway_bridge", |r| {
            let families = Families::default();
            let r = r.sub_registry_with_prefix("kafka_gateway_bridge");
            r.register(
                "produced_records",
                "Records produced through the bridge and acknowledged by Kafka",
                families.produced.clone(),
            );
            r.register(
                "produce_failed_records",
                "Records of produce requests that were refused or not acknowledged",
                families.produce_failed.clone(),
            );
            r.register(
                "consumed_records",
                "Records handed out to HTTP consumers",
                families.consumed.clone(),
            );
            families
        });
        let _ = self.0.set(families);
    }

    pub(crate) fn produced(&self, topic: &str, ok: u64, failed: u64) {
        let Some(families) = self.0.get() else {
            return;
        };
        if ok > 0 {
            families.produced.get_or_create(&labels(topic)).inc_by(ok);
        }
        if failed > 0 {
            families
                .produce_failed
                .get_or_create(&labels(topic))
                .inc_by(failed);
        }
    }

    pub(crate) fn consumed(&self, topic: &str, count: u64) {
        if let Some(families) = self.0.get() {
            families
                .consumed
                .get_or_create(&labels(topic))
                .inc_by(count);
        }
    }
}
