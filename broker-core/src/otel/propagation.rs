//! W3C trace context (`traceparent`, `tracestate`) between spans, HTTP requests and Kafka
//! record headers.
//!
//! A produced record gets the context of the span that produced it, unless it already
//! carries a `traceparent` (a client that set its own keeps it). A consumer of the record
//! (the ES sink, the mirror) continues that trace: see [`remote_context`].

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::produce::RecordHeader;

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// The remote context carried by `headers` (name, value), if they hold a valid
/// `traceparent`. Names compare case-insensitively (HTTP); other headers are ignored.
pub fn remote_context<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Option<Context> {
    let mut carrier: HashMap<String, String> = HashMap::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if (lower == TRACEPARENT || lower == TRACESTATE)
            && let Ok(text) = std::str::from_utf8(value)
        {
            carrier.entry(lower).or_insert_with(|| text.to_owned());
        }
    }
    if !carrier.contains_key(TRACEPARENT) {
        return None;
    }
    let context = TraceContextPropagator::new().extract(&carrier);
    let valid = context.span().span_context().is_valid();
    valid.then_some(context)
}

/// The remote context of a Kafka record's headers.
pub fn record_context<'a>(
    headers: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
) -> Option<Context> {
    remote_context(
        headers
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name, value))),
    )
}

/// Makes `context` the parent of `span` (before the span is first entered).
pub fn set_parent(span: &Span, context: Context) {
    if let Err(error) = span.set_parent(context) {
        tracing::debug!(%error, "span parent not set");
    }
}

/// Adds a link from `span` to `context` (a batch span to each traced record in it).
pub fn add_link(span: &Span, context: &Context) {
    span.add_link(context.span().span_context().clone());
}

/// `traceparent` and `tracestate` (when not empty) of `span`'s context; empty when the
/// span is disabled or export is off.
pub fn trace_headers(span: &Span) -> Vec<(&'static str, String)> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return Vec::new();
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    [TRACEPARENT, TRACESTATE]
        .into_iter()
        .filter_map(|name| {
            carrier
                .remove(name)
                .filter(|value| !value.is_empty())
                .map(|value| (name, value))
        })
        .collect()
}

/// Writes `traceparent`/`tracestate` of `span` into a record's headers unless the record
/// already carries a `traceparent`.
pub fn write_record_headers(span: &Span, headers: &mut Vec<RecordHeader>) {
    if headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(TRACEPARENT))
    {
        return;
    }
    for (name, value) in trace_headers(span) {
        headers.push((name.to_owned(), Some(value.into_bytes())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_gives_a_remote_context_whatever_the_case_of_its_name() {
        let context = remote_context([
            ("Content-Type", b"application/json".as_slice()),
            ("TraceParent", PARENT.as_bytes()),
            ("tracestate", b"vendor=1".as_slice()),
        ])
        .expect("a context");
        let span = context.span();
        let span_context = span.span_context();
        assert_eq!(
            span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(span_context.is_remote() && span_context.is_sampled());
        assert_eq!(span_context.trace_state().header(), "vendor=1");
    }

    #[test]
    fn no_or_a_malformed_traceparent_gives_none() {
        assert!(remote_context([("tracestate", b"a=b".as_slice())]).is_none());
        assert!(remote_context([("traceparent", b"00-zz-01".as_slice())]).is_none());
        assert!(record_context([("traceparent", None)]).is_none());
    }

    #[test]
    fn a_record_that_has_a_traceparent_keeps_it() {
        let mut headers = vec![("traceparent".to_owned(), Some(PARENT.as_bytes().to_vec()))];
        write_record_headers(&Span::none(), &mut headers);
        assert_eq!(headers.len(), 1);
        let mut empty = Vec::new();
        write_record_headers(&Span::none(), &mut empty);
        assert!(empty.is_empty(), "a disabled span has no context to write");
    }
}
