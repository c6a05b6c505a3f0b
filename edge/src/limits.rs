use std::convert::Infallible;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;

use crate::config::ValidatedListener;
use crate::security::auth::{AuthState, authenticate};

/// Why the edge refused a request before (or while) a handler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeRejection {
    /// More requests in flight than `max_concurrent_requests`: retry later (503).
    Overloaded,
    /// The request ran longer than `request_timeout_ms` (504 or the API's equivalent).
    TimedOut,
    /// Missing or wrong credentials (401); the edge adds `WWW-Authenticate`.
    Unauthenticated,
    /// The principal may not do this (403); raised by services that authorize with
    /// [`crate::Principal`]'s grants.
    Forbidden,
}

/// Wraps `router` with the listener's body limit, authentication, concurrency limit with load
/// shedding, request timeout and CORS. `reject` renders a refusal in the service's own
/// error shape.
///
/// The body limit is enforced by axum's extractors (`Json`, `Bytes`, ...), whose rejection
/// each service already maps; requests past the concurrency limit are refused at once rather
/// than queued, so memory stays bounded under a flood. `Router::layer` wraps every route on
/// its own, so the limit uses one semaphore shared by all routes: `max_concurrent_requests`
/// bounds the whole listener, not each route.
///
/// Authentication runs inside the concurrency limit, because a password check is costly and
/// must not be a way around the limit; CORS runs outside everything, so that preflight
/// requests (sent by browsers without credentials) are answered without authentication.
pub fn apply_limits<S, R>(router: Router<S>, listener: &ValidatedListener, reject: R) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    R: Fn(EdgeRejection) -> Response + Clone + Send + Sync + 'static,
{
    let mut router = router.layer(DefaultBodyLimit::max(listener.max_body_bytes));
    if let Some(authenticator) = &listener.security.auth {
        router = router.layer(axum::middleware::from_fn_with_state(
            AuthState {
                authenticator: std::sync::Arc::clone(authenticator),
                reject: reject.clone(),
            },
            authenticate::<R>,
        ));
    }
    let router = router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(move |error: tower::BoxError| {
                let reject = reject.clone();
                async move {
                    let rejection = if error.is::<tower::timeout::error::Elapsed>() {
                        EdgeRejection::TimedOut
                    } else {
                        EdgeRejection::Overloaded
                    };
                    Ok::<_, Infallible>(reject(rejection))
                }
            }))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(
                listener.max_concurrent_requests,
            ))
            .layer(TimeoutLayer::new(listener.request_timeout)),
    );
    match &listener.security.cors {
        Some(cors) => router.layer(cors.clone()),
        None => router,
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, reason = "test tasks need no names")]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::ListenerConfig;

    fn reject(rejection: EdgeRejection) -> Response {
        let status = match rejection {
            EdgeRejection::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            EdgeRejection::TimedOut => StatusCode::GATEWAY_TIMEOUT,
            EdgeRejection::Unauthenticated => StatusCode::UNAUTHORIZED,
            EdgeRejection::Forbidden => StatusCode::FORBIDDEN,
        };
        (status, format!("{rejection:?}")).into_response()
    }

    fn listener(timeout_ms: u64, max_body_bytes: usize) -> ValidatedListener {
        ListenerConfig {
            request_timeout_ms: timeout_ms,
            max_body_bytes,
            ..ListenerConfig::default()
        }
        .validate("test", ([127, 0, 0, 1], 0).into())
        .unwrap()
    }

    #[tokio::test]
    async fn slow_handler_is_cut_off_in_the_service_shape() {
        let router: Router = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
        let router = apply_limits(router, &listener(50, 1024), reject);
        let response = router
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"TimedOut");
    }

    #[tokio::test]
    async fn concurrency_limit_is_shared_by_every_route() {
        let (entered_tx, mut entered_rx) = tokio::sync::mpsc::channel::<()>(1);
        let release = std::sync::Arc::new(tokio::sync::Notify::new());
        let held = std::sync::Arc::clone(&release);
        let router: Router = Router::new()
            .route(
                "/hold",
                get(move || {
                    let entered = entered_tx.clone();
                    let held = std::sync::Arc::clone(&held);
                    async move {
                        let _ = entered.send(()).await;
                        held.notified().await;
                        "held"
                    }
                }),
            )
            .route("/other", get(|| async { "other" }));
        let listener = ListenerConfig {
            max_concurrent_requests: 1,
            ..ListenerConfig::default()
        }
        .validate("test", ([127, 0, 0, 1], 0).into())
        .unwrap();
        let router = apply_limits(router, &listener, reject);

        let first = tokio::spawn(
            router
                .clone()
                .oneshot(Request::get("/hold").body(Body::empty()).unwrap()),
        );
        entered_rx
            .recv()
            .await
            .expect("the first request is in its handler");
        let refused = router
            .clone()
            .oneshot(Request::get("/other").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);

        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        let served = router
            .oneshot(Request::get("/other").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(served.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn oversized_body_is_refused() {
        let router: Router =
            Router::new().route("/echo", post(|body: axum::body::Bytes| async move { body }));
        let router = apply_limits(router, &listener(1000, 8), reject);
        let response = router
            .oneshot(
                Request::post("/echo")
                    .body(Body::from(vec![b'x'; 64]))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
