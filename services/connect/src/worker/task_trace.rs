//! OpenTelemetry spans of connector tasks: a source task's poll, a sink task's put.
//!
//! One span per poll or put call (a batch), never per record on the hot path. A sink
//! batch span (`put {connector}`, kind consumer) is a new trace **linked** to the trace of
//! each record in it that carries a W3C `traceparent` (a batch has many parents; the
//! messaging conventions link them). So that one trace still follows a record end to end
//! (HTTP produce → Kafka → sink), each such record also gets a `process {topic}` span whose
//! **parent** is the record's context; it lasts as long as the put that carries the record.
//! These per-record spans exist only when trace export is on and the record is traced.

use broker_core::otel::{self, propagation};
use connect_api::SinkRecord;
use serde_json::Value;
use tracing::Span;

/// At most this many records of one batch are linked and get their own span.
const MAX_TRACED_RECORDS: usize = 128;

/// The spans of one put call; they end when dropped.
#[derive(Debug)]
pub(crate) struct PutSpans {
    pub(crate) batch: Span,
    _records: Vec<Span>,
}

pub(crate) fn put_spans(connector: &str, task: u32, batch: &[SinkRecord]) -> PutSpans {
    if !otel::enabled() || batch.is_empty() {
        return PutSpans {
            batch: Span::none(),
            _records: Vec::new(),
        };
    }
    let batch_span = tracing::info_span!(
        target: "otel",
        "connector put",
        otel.name = %format_args!("put {connector}"),
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "process",
        messaging.batch.message_count = batch.len(),
        connector,
        task,
    );
    let mut records = Vec::new();
    for record in batch {
        if records.len() >= MAX_TRACED_RECORDS {
            break;
        }
        let headers = record
            .record
            .headers
            .iter()
            .filter_map(|header| match &header.value {
                Value::String(text) => Some((header.key.as_str(), text.as_bytes())),
                _ => None,
            });
        let Some(context) = propagation::remote_context(headers) else {
            continue;
        };
        propagation::add_link(&batch_span, &context);
        let span = tracing::info_span!(
            target: "otel",
            "connector record",
            otel.name = %format_args!("process {}", record.original_topic),
            otel.kind = "consumer",
            messaging.system = "kafka",
            messaging.operation.type = "process",
            messaging.destination.name = record.original_topic.as_str(),
            messaging.destination.partition.id = record.kafka_partition,
            messaging.kafka.offset = record.kafka_offset,
            connector,
            task,
        );
        propagation::set_parent(&span, context);
        records.push(span);
    }
    PutSpans {
        batch: batch_span,
        _records: records,
    }
}

/// The span of one source task poll.
pub(crate) fn poll_span(connector: &str, task: u32) -> Span {
    if !otel::enabled() {
        return Span::none();
    }
    tracing::info_span!(
        target: "otel",
        "connector poll",
        otel.name = %format_args!("poll {connector}"),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "create",
        connector,
        task,
        messaging.batch.message_count = tracing::field::Empty,
    )
}
