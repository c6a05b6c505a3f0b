//! Request metrics for the gateway's own HTTP services, as a tower layer.
//!
//! ```ignore
//! let router = router.layer(HttpMetricsLayer::new(&registry, "bridge"));
//! ```
//!
//! Series (one family each, shared by every service of the process):
//! - `kafka_gateway_http_requests_total{service, method, route, status}`
//! - `kafka_gateway_http_request_duration_seconds{service, method, route}` (histogram)
//!
//! `route` is the axum route template (`/topics/{topic}`), never the raw path, so the number
//! of series stays bounded whatever clients send; requests no route matched are counted as
//! `route="unmatched"`. Add the layer with `Router::layer` so it runs after routing and sees
//! the matched route.
//!
//! The same layer opens each request's OpenTelemetry server span when trace export is on
//! ([`crate::http_trace`]), so every service's router is traced without a layer of its own.
//!
//! The families are registered once per registry ([`MetricsRegistry::register_once`]):
//! services built in any order share them, because a second registration under the same
//! name would render a duplicate family that Prometheus rejects.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use broker_core::telemetry::MetricsRegistry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use tower::{Layer, Service};

type RequestLabels = Vec<(&'static str, String)>;

/// Latency buckets in seconds: from a cached lookup to a long poll.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Debug, Clone)]
struct HttpFamilies {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
}

fn new_histogram() -> Histogram {
    Histogram::new(BUCKETS.iter().copied())
}

impl HttpFamilies {
    /// The families registered in `registry`, registering them on first use.
    fn of(registry: &MetricsRegistry) -> Self {
        registry.register_once("kafka_gateway_http", |r| {
            let families = Self {
                requests: Family::default(),
                durations: Family::new_with_constructor(new_histogram),
            };
            r.register(
                "kafka_gateway_http_requests",
                "HTTP requests served, by service, method, route template and status code",
                families.requests.clone(),
            );
            r.register(
                "kafka_gateway_http_request_duration_seconds",
                "Time from request to response headers, by service, method and route template",
                families.durations.clone(),
            );
            families
        })
    }
}

/// Counts requests and measures their latency for one service.
#[derive(Debug, Clone)]
pub struct HttpMetricsLayer {
    families: HttpFamilies,
    service: Arc<str>,
}

impl HttpMetricsLayer {
    /// `service` becomes the `service` label (`bridge`, `connect`, `metrics`).
    pub fn new(registry: &MetricsRegistry, service: &str) -> Self {
        Self {
            families: HttpFamilies::of(registry),
            service: Arc::from(service),
        }
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetricsService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`HttpMetricsLayer`] wraps around a router or handler.
#[derive(Debug, Clone)]
pub struct HttpMetricsService<S> {
    inner: S,
    layer: HttpMetricsLayer,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for HttpMetricsService<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
        let labels: RequestLabels = vec![
            ("service", self.layer.service.to_string()),
            ("method", request.method().as_str().to_owned()),
            ("route", route),
        ];
        let span = crate::http_trace::request_span(&request, &labels[2].1, &self.layer.service);
        let families = self.layer.families.clone();
        let started = Instant::now();
        let response = span.in_scope(|| self.inner.call(request));
        let traced = span.clone();
        let future = async move {
            let result = response.await;
            crate::http_trace::record_status(
                &traced,
                result
                    .as_ref()
                    .ok()
                    .map(|response| response.status().as_u16()),
            );
            let status = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "error".to_owned(),
            };
            families
                .durations
                .get_or_create(&labels)
                .observe(started.elapsed().as_secs_f64());
            let mut with_status = labels;
            with_status.push(("status", status));
            families.requests.get_or_create(&with_status).inc();
            result
        };
        Box::pin(tracing::Instrument::instrument(future, span))
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn call(router: &Router, path: &str) -> StatusCode {
        router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn counts_by_route_template_and_status() {
        let registry = MetricsRegistry::new();
        let router = Router::new()
            .route("/topics/{topic}", get(|| async { "ok" }))
            .layer(HttpMetricsLayer::new(&registry, "bridge"));
        assert_eq!(call(&router, "/topics/a").await, StatusCode::OK);
        assert_eq!(call(&router, "/topics/b").await, StatusCode::OK);
        assert_eq!(call(&router, "/nope").await, StatusCode::NOT_FOUND);

        let text = registry.render().unwrap();
        assert!(
            text.contains(
                r#"kafka_gateway_http_requests_total{service="bridge",method="GET",route="/topics/{topic}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"route="unmatched",status="404"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"kafka_gateway_http_request_duration_seconds_count{service="bridge",method="GET",route="/topics/{topic}"} 2"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn two_services_share_one_family() {
        let registry = MetricsRegistry::new();
        let bridge = Router::new()
            .route("/a", get(|| async { "a" }))
            .layer(HttpMetricsLayer::new(&registry, "bridge"));
        let connect = Router::new()
            .route("/b", get(|| async { "b" }))
            .layer(HttpMetricsLayer::new(&registry, "connect"));
        call(&bridge, "/a").await;
        call(&connect, "/b").await;
        let text = registry.render().unwrap();
        assert_eq!(
            text.matches("# TYPE kafka_gateway_http_requests counter")
                .count(),
            1,
            "{text}"
        );
        assert!(text.contains(r#"service="connect""#), "{text}");
    }
}
