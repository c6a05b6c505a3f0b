//! The OpenTelemetry span of a mirrored record that carries a W3C `traceparent`.
//!
//! The copy loop creates no span per record: with export off this costs one relaxed atomic
//! load per record, with export on a scan of the record's headers, and a span only for a
//! record that is traced. That span (`mirror {source topic}`, kind producer) has the
//! record's context as **parent**, so the trace of an HTTP produce continues into the copy
//! to the target cluster; it covers handing the record to the target producer. The record
//! keeps its headers as they are on the source (MirrorMaker 2 copies headers verbatim), so
//! the copy on the target carries the same `traceparent` as the source record.

use broker_core::otel::{self, propagation};
use rdkafka::Message;
use rdkafka::message::{BorrowedMessage, Headers};
use tracing::Span;

/// `flow` is only asked for when a span is made.
pub(crate) fn copy_span(
    flow: impl FnOnce() -> String,
    message: &BorrowedMessage<'_>,
    target_topic: &str,
) -> Span {
    if !otel::enabled() {
        return Span::none();
    }
    let Some(headers) = message.headers() else {
        return Span::none();
    };
    let Some(context) =
        propagation::record_context(headers.iter().map(|header| (header.key, header.value)))
    else {
        return Span::none();
    };
    let span = tracing::info_span!(
        target: "otel",
        "mirror copy",
        otel.name = %format_args!("mirror {}", message.topic()),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "send",
        messaging.destination.name = target_topic,
        messaging.destination.partition.id = message.partition(),
        messaging.kafka.source.topic = message.topic(),
        messaging.kafka.source.offset = message.offset(),
        mirror.flow = flow(),
    );
    propagation::set_parent(&span, context);
    span
}
