use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use broker_core::telemetry::MetricsRegistry;
use gateway_edge::EdgeRejection;

use crate::config::ValidatedMetrics;

/// Prometheus negotiates OpenMetrics; this content type is what prometheus-client renders.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub fn router(registry: MetricsRegistry, config: &ValidatedMetrics) -> Router {
    let routes = Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(landing))
        .with_state(registry);
    gateway_edge::apply_limits(routes, &config.listener, reject)
}

async fn metrics(State(registry): State<MetricsRegistry>) -> Response {
    match registry.render() {
        Ok(text) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "rendering metrics failed\n",
            )
                .into_response()
        }
    }
}

/// kafka_exporter answers `/` with a link page; scrapers that probe it keep working.
async fn landing() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<html><head><title>kafka-gateway metrics</title></head><body>\
         <h1>kafka-gateway</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>",
    )
}

fn reject(rejection: EdgeRejection) -> Response {
    match rejection {
        EdgeRejection::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded\n"),
        EdgeRejection::TimedOut => (StatusCode::GATEWAY_TIMEOUT, "timed out\n"),
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use prometheus_client::metrics::counter::Counter;
    use tower::ServiceExt;

    use super::*;
    use crate::MetricsConfig;

    #[tokio::test]
    async fn renders_registered_metrics_as_openmetrics() {
        let registry = MetricsRegistry::new();
        let counter: Counter = Counter::default();
        registry.with_registry(|r| r.register("gateway_demo", "Demo counter", counter.clone()));
        counter.inc();
        let config = MetricsConfig::default().validate("metrics").unwrap();
        let response = router(registry, &config)
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("gateway_demo_total 1"), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
