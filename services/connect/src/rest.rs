//! The REST API, one module per resource. Every error is Kafka Connect's
//! `{"error_code":…,"message":…}`, including malformed JSON and edge refusals.

pub mod connectors;
pub mod dry_run;
pub mod entities;
pub mod lifecycle;
pub mod loggers;
pub mod offsets;
pub mod plugins;
pub mod root;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use edge::{EdgeRejection, ValidatedListener};
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::RestError;
use crate::runtime::Runtime;

pub type AppState = Arc<Runtime>;

/// `Json<T>` whose rejections use Kafka's error body.
#[derive(Debug)]
pub struct KafkaJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for KafkaJson<T> {
    type Rejection = RestError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => RestError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "HTTP 415 Unsupported Media Type",
                ),
                other => RestError::bad_request(other.body_text()),
            }),
        }
    }
}

/// The routes with their OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(root::server_info))
        .routes(routes!(root::health))
        .routes(routes!(
            connectors::list_connectors,
            connectors::create_connector
        ))
        .routes(routes!(
            connectors::get_connector,
            connectors::delete_connector
        ))
        .routes(routes!(
            connectors::get_config,
            connectors::put_config,
            connectors::patch_config
        ))
        .routes(routes!(connectors::get_status))
        .routes(routes!(connectors::get_tasks))
        .routes(routes!(connectors::get_task_status))
        .routes(routes!(connectors::get_topics))
        .routes(routes!(connectors::reset_topics))
        .routes(routes!(lifecycle::restart_connector))
        .routes(routes!(lifecycle::restart_task))
        .routes(routes!(lifecycle::pause))
        .routes(routes!(lifecycle::resume))
        .routes(routes!(lifecycle::stop))
        .routes(routes!(
            offsets::get_offsets,
            offsets::alter_offsets,
            offsets::reset_offsets
        ))
        .routes(routes!(plugins::list_plugins))
        .routes(routes!(plugins::plugin_config))
        .routes(routes!(plugins::validate_config))
        .routes(routes!(dry_run::plugin_dry_run))
        .routes(routes!(dry_run::connector_dry_run))
        .routes(routes!(loggers::list_loggers))
        .routes(routes!(loggers::get_logger, loggers::set_logger))
}

fn reject(rejection: EdgeRejection) -> Response {
    use axum::response::IntoResponse;
    match rejection {
        EdgeRejection::Overloaded => RestError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The worker is overloaded; retry later",
        )
        .into_response(),
        EdgeRejection::TimedOut => {
            RestError::new(StatusCode::INTERNAL_SERVER_ERROR, "Request timed out").into_response()
        }
        EdgeRejection::Unauthenticated => RestError::new(
            StatusCode::UNAUTHORIZED,
            "Authentication failed: missing or invalid credentials",
        )
        .into_response(),
        EdgeRejection::Forbidden => {
            RestError::new(StatusCode::FORBIDDEN, "Forbidden").into_response()
        }
    }
}

/// With `[connect.http.auth]`: a `read_only` principal may only read (`GET`, `HEAD`), an
/// `admin` may do anything, a principal with neither role nothing. Without authentication
/// no principal is present and everything is allowed.
async fn authorize(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::response::IntoResponse;
    use edge::{Principal, Role};
    if let Some(principal) = request.extensions().get::<Principal>() {
        let reading = matches!(
            *request.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        );
        let allowed = match principal.grants.role() {
            Some(Role::Admin) => true,
            Some(Role::ReadOnly) => reading,
            None => false,
        };
        if !allowed {
            tracing::info!(principal = principal.name, method = %request.method(), path = request.uri().path(), "request refused by acl");
            return RestError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "Principal {} is not authorized to {} {}",
                    principal.name,
                    request.method(),
                    request.uri().path()
                ),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// The router with the edge limits of `listener`.
pub fn router(runtime: Arc<Runtime>, listener: &ValidatedListener) -> Router {
    let (router, _) = api_router().split_for_parts();
    let router = router
        .route("/openapi.json", axum::routing::get(openapi_document))
        .fallback(|| async { RestError::not_found("HTTP 404 Not Found") })
        .layer(axum::middleware::from_fn(authorize));
    edge::apply_limits(router, listener, reject).with_state(runtime)
}

/// `GET /openapi.json`: the committed document (not part of Kafka's API).
async fn openapi_document() -> Response {
    use axum::response::IntoResponse;
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(crate::openapi::openapi_json).clone();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
