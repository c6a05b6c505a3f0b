//! `/metrics` and the landing page.
//!
//! The format follows the scraper's `Accept` header like Go's client library does:
//! OpenMetrics 1.0 when asked for (`application/openmetrics-text`), otherwise the Prometheus
//! text format 0.0.4 that kafka_exporter serves and `promtool check metrics` reads.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use broker_core::telemetry::MetricsRegistry;
use edge::EdgeRejection;
use prometheus_client::encoding::prometheus_text;

use crate::collector::ClusterExporter;
use crate::config::ValidatedMetrics;
use edge::http_metrics::HttpMetricsLayer;

/// What prometheus-client's OpenMetrics encoder renders.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone)]
struct MetricsState {
    registry: MetricsRegistry,
    exporter: Option<Arc<ClusterExporter>>,
}

/// The metrics routes. With an `exporter`, every scrape first reads the cluster.
pub fn router(
    registry: MetricsRegistry,
    exporter: Option<Arc<ClusterExporter>>,
    config: &ValidatedMetrics,
) -> Router {
    let http_metrics = HttpMetricsLayer::new(&registry, "metrics");
    let routes = Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(landing))
        .with_state(MetricsState { registry, exporter });
    // Outside the edge layers, so that refusals (401, 503) are counted too.
    edge::apply_limits(routes, &config.listener, reject).layer(http_metrics)
}

async fn metrics(State(state): State<MetricsState>, headers: HeaderMap) -> Response {
    if let Some(exporter) = &state.exporter {
        exporter.refresh().await;
    }
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/openmetrics-text"));
    let rendered = if wants_openmetrics {
        state.registry.render().map(|text| (OPENMETRICS, text))
    } else {
        state.registry.with_registry(|registry| {
            let mut text = String::new();
            prometheus_text::encode(&mut text, registry)
                .map(|()| (prometheus_text::CONTENT_TYPE, text))
        })
    };
    match rendered {
        Ok((content_type, text)) => ([(header::CONTENT_TYPE, content_type)], text).into_response(),
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
        EdgeRejection::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthorized\n"),
        EdgeRejection::Forbidden => (StatusCode::FORBIDDEN, "forbidden\n"),
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

    async fn scrape(accept: Option<&str>) -> (String, String) {
        let registry = MetricsRegistry::new();
        let counter: Counter = Counter::default();
        registry.with_registry(|r| r.register("gateway_demo", "Demo counter", counter.clone()));
        counter.inc();
        let config = MetricsConfig::default().validate("metrics").unwrap();
        let mut request = Request::get("/metrics");
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        let response = router(registry, None, &config)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (content_type, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn renders_openmetrics_when_asked() {
        let (content_type, text) = scrape(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        ))
        .await;
        assert!(content_type.starts_with("application/openmetrics-text"));
        assert!(text.contains("gateway_demo_total 1"), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }

    #[tokio::test]
    async fn bearer_token_is_required_when_configured_and_refusals_are_counted() {
        let path = std::env::temp_dir().join(format!("metrics-tokens-{}", std::process::id()));
        let digest = edge::security::tokens::token_digest("scraper-token");
        std::fs::write(&path, format!("prometheus:sha256:{digest}\n")).unwrap();
        let text = format!(
            "[http.auth]\ntokens_file = {:?}",
            path.display().to_string()
        );
        let config: MetricsConfig = toml::from_str(&text).unwrap();
        let config = config.validate("metrics").unwrap();
        let _ = std::fs::remove_file(&path);
        let router = router(MetricsRegistry::new(), None, &config);
        let send = |token: Option<&str>| {
            let mut request = Request::get("/metrics");
            if let Some(token) = token {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            router.clone().oneshot(request.body(Body::empty()).unwrap())
        };
        let refused = send(None).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="kafka-gateway""#
        );
        assert_eq!(
            send(Some("wrong")).await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        let served = send(Some("scraper-token")).await.unwrap();
        assert_eq!(served.status(), StatusCode::OK);
        let body = served.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains(r#"service="metrics",method="GET",route="/metrics",status="401"} 2"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn renders_prometheus_text_by_default() {
        let (content_type, text) = scrape(None).await;
        assert_eq!(content_type, prometheus_text::CONTENT_TYPE);
        assert!(text.contains("# TYPE gateway_demo_total counter"), "{text}");
        assert!(text.contains("gateway_demo_total 1"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
    }
}
