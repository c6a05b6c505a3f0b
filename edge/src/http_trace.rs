//! The server span of every HTTP request, for OpenTelemetry export; created by
//! [`crate::http_metrics::HttpMetricsService`], the one layer every service's router has.
//!
//! Only when export is on (`broker_core::otel::enabled`): otherwise the span is disabled
//! and costs nothing. A request carrying a W3C `traceparent` continues that trace. Names
//! and attributes follow the OpenTelemetry HTTP server conventions: span name
//! `{method} {route}` (the route template, never the raw path), `http.request.method`,
//! `http.route`, `url.path`, `http.response.status_code`, and an error status for 5xx.

use axum::http::Request;
use broker_core::otel::{self, propagation};
use tracing::Span;
use tracing::field::Empty;

pub(crate) fn request_span<B>(request: &Request<B>, route: &str, service: &str) -> Span {
    if !otel::enabled() {
        return Span::none();
    }
    let method = request.method().as_str();
    let span = tracing::info_span!(
        target: "otel",
        "HTTP request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        url.path = request.uri().path(),
        http.response.status_code = Empty,
        gateway.service = service,
    );
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    if let Some(context) = propagation::remote_context(headers) {
        propagation::set_parent(&span, context);
    }
    span
}

pub(crate) fn record_status(span: &Span, status: Option<u16>) {
    if span.is_disabled() {
        return;
    }
    match status {
        Some(status) => {
            span.record("http.response.status_code", status);
            if status >= 500 {
                span.record("otel.status_code", "ERROR");
            }
        }
        None => {
            span.record("otel.status_code", "ERROR");
        }
    }
}
