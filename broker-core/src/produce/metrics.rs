//! `kafka_gateway_producer_queue_full_waits_total{client}`.
//!
//! The family is one per process, so that an [`super::Enqueuer`] can be made before the
//! registry is at hand (the bridge's state is); [`register_metrics`] adds it to a registry
//! once however many services call it, because a second registration under the same name
//! would render a duplicate family that Prometheus rejects.

use std::sync::LazyLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::telemetry::MetricsRegistry;

type ClientLabels = Vec<(&'static str, String)>;

static WAITS: LazyLock<Family<ClientLabels, Counter>> = LazyLock::new(Family::default);

/// The counter of `client`'s series.
pub(super) fn waits_of(client: &str) -> Counter {
    WAITS
        .get_or_create(&vec![("client", client.to_owned())])
        .clone()
}

/// Registers the queue-full wait counter in `registry` unless it is there already.
pub fn register_metrics(registry: &MetricsRegistry) {
    registry.register_once("kafka_gateway_producer_queue_full_waits", |r| {
        r.register(
            "kafka_gateway_producer_queue_full_waits",
            "Waits for room in a full producer queue (each a short backoff before the record is offered again), by client",
            WAITS.clone(),
        );
    });
}
