//! The spans of the bridge's record paths, for OpenTelemetry export.
//!
//! Produce: one span per request (per v3 stream), never per record: `send {topic}`, kind
//! producer, with the OpenTelemetry messaging attributes. Its context goes into every
//! record's `traceparent`/`tracestate` headers unless the client set a `traceparent` of its
//! own, so a consumer of the record (the ES sink, the mirror) continues the trace.
//! Consume: one `receive {group}` span per records request. Nothing is created or written
//! when trace export is off.

use broker_core::otel::{self, propagation};
use broker_core::produce::OutgoingRecord;
use tracing::Span;

/// The span of one produce request to `topic`; `records` when known up front.
pub(crate) fn produce_span(topic: &str, records: Option<usize>) -> Span {
    if !otel::enabled() {
        return Span::none();
    }
    tracing::info_span!(
        target: "otel",
        "produce",
        otel.name = %format_args!("send {topic}"),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "send",
        messaging.operation.name = "send",
        messaging.destination.name = topic,
        messaging.batch.message_count = records,
    )
}

/// Writes `span`'s trace context into the record's headers.
pub(crate) fn trace_record(span: &Span, record: &mut OutgoingRecord) {
    if !span.is_disabled() {
        propagation::write_record_headers(span, &mut record.headers);
    }
}

/// The span of one records request of a consumer instance; `record_count` after the fetch.
pub(crate) fn consume_span(group: &str) -> Span {
    if !otel::enabled() {
        return Span::none();
    }
    tracing::info_span!(
        target: "otel",
        "consume",
        otel.name = %format_args!("receive {group}"),
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "receive",
        messaging.consumer.group.name = group,
        messaging.batch.message_count = tracing::field::Empty,
    )
}

pub(crate) fn record_count(span: &Span, count: u64) {
    if !span.is_disabled() {
        span.record("messaging.batch.message_count", count);
    }
}
