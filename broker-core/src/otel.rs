//! OpenTelemetry traces exported over OTLP, and W3C trace context carried through Kafka.
//!
//! The gateway's spans are ordinary `tracing` spans with target `otel`; only those reach
//! the OpenTelemetry layer (a per-layer filter), so the long-lived task spans and log
//! events never become trace data, and a span's OpenTelemetry parent is the nearest
//! enclosing `otel` span (or the remote context set on it). When `[telemetry.otlp]` is off
//! [`enabled`] is false and the services create no such span at all: the hot paths pay one
//! relaxed atomic load.
//!
//! Export: a batch span processor on its own thread sends OTLP/HTTP protobuf through a
//! blocking reqwest client, so export never runs on the async runtime; a full queue drops
//! spans (the SDK's policy), it never blocks a request. Sampling is parent-based: a
//! request with a sampled `traceparent` is recorded, a new trace is recorded with
//! `sampling_ratio`.
//!
//! Propagation ([`propagation`]): W3C `traceparent`/`tracestate` in, from HTTP request
//! headers and Kafka record headers; out, into the Kafka records the bridge produces.

mod config;
pub mod propagation;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, Tracer};

pub use self::config::{OtlpConfig, OtlpProtocol, ValidatedOtlp};

/// The `tracing` target of every span meant for OpenTelemetry.
pub const TARGET: &str = "otel";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported: the services create their `otel` spans only then.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
#[error("the OTLP trace exporter cannot start: {0}")]
pub struct OtlpStartError(String);

/// The running export; dropping it flushes what is queued (bounded by the export timeout)
/// and stops the export thread.
#[derive(Debug)]
pub struct OtlpExport {
    provider: SdkTracerProvider,
    tracer: Tracer,
}

impl OtlpExport {
    /// Builds the exporter and the tracer provider; nothing is sent until spans end.
    pub fn start(settings: &ValidatedOtlp) -> Result<Self, OtlpStartError> {
        let headers: HashMap<String, String> = settings
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(settings.traces_url.clone())
            .with_timeout(settings.timeout)
            .with_headers(headers)
            .build()
            .map_err(|error| OtlpStartError(error.to_string()))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                settings.sampling_ratio,
            ))))
            .with_resource(
                Resource::builder()
                    .with_service_name(settings.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = provider.tracer("kafka-gateway");
        Ok(Self { provider, tracer })
    }

    pub(crate) fn tracer(&self) -> Tracer {
        self.tracer.clone()
    }

    /// Marks export as on, once the layer is installed.
    pub(crate) fn activate(&self) {
        ENABLED.store(true, Ordering::Relaxed);
    }
}

impl Drop for OtlpExport {
    fn drop(&mut self) {
        ENABLED.store(false, Ordering::Relaxed);
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "the last spans were not exported");
        }
    }
}
