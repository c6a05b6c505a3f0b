//! Records through the bridge, by topic: produced (acknowledged by Kafka), refused or
//! failed on produce, and handed out to HTTP consumers. Request counts and latencies are
//! the shared HTTP layer's (`kafka_gateway_http_*`).

use broker_core::telemetry::MetricsRegistry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

type TopicLabels = Vec<(&'static str, String)>;

#[derive(Debug, Clone, Default)]
pub(crate) struct BridgeMetrics {
    produced: Family<TopicLabels, Counter>,
    produce_failed: Family<TopicLabels, Counter>,
    consumed: Family<TopicLabels, Counter>,
}

fn labels(topic: &str) -> TopicLabels {
    vec![("topic", topic.to_owned())]
}

impl BridgeMetrics {
    pub(crate) fn register(&self, registry: &MetricsRegistry) {
        registry.with_registry(|r| {
            let r = r.sub_registry_with_prefix("kafka_gateway_bridge");
            r.register(
                "produced_records",
                "Records produced through the bridge and acknowledged by Kafka",
                self.produced.clone(),
            );
            r.register(
                "produce_failed_records",
                "Records of produce requests that were refused or not acknowledged",
                self.produce_failed.clone(),
            );
            r.register(
                "consumed_records",
                "Records handed out to HTTP consumers",
                self.consumed.clone(),
            );
        });
    }

    pub(crate) fn produced(&self, topic: &str, ok: u64, failed: u64) {
        if ok > 0 {
            self.produced.get_or_create(&labels(topic)).inc_by(ok);
        }
        if failed > 0 {
            self.produce_failed
                .get_or_create(&labels(topic))
                .inc_by(failed);
        }
    }

    pub(crate) fn consumed(&self, topic: &str, count: u64) {
        self.consumed.get_or_create(&labels(topic)).inc_by(count);
    }
}
