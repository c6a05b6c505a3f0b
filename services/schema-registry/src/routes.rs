//! Route table of the registry. Every handler is registered through `utoipa_axum::routes!`,
//! so the OpenAPI document is generated from the table that serves requests.
//!
//! Layers, outermost first: the edge (limits, auth, TLS, CORS), authorization (an ACL role:
//! `read_only` may only read, including lookups and compatibility checks; `admin` may
//! write), then forwarding of writes to the primary.

pub(crate) mod body;
mod compatibility;
mod root;
mod schemas;
mod settings;
mod subjects;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gateway_edge::{Principal, Role};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, method_not_allowed, route_not_found};
use crate::forward::{Forwarder, forward_writes};
use crate::openapi::ApiDoc;
use crate::registry::Registry;

/// Every documented route, with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<Arc<Registry>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(root::root))
        .routes(routes!(root::metadata_id))
        .routes(routes!(root::metadata_version))
        .routes(routes!(root::contexts))
        .routes(routes!(root::schema_types))
        .routes(routes!(schemas::get_schema))
        .routes(routes!(schemas::get_schema_text))
        .routes(routes!(schemas::get_schema_subjects))
        .routes(routes!(schemas::get_schema_versions))
        .routes(routes!(subjects::list_subjects))
        .routes(routes!(subjects::lookup, subjects::delete_subject))
        .routes(routes!(subjects::list_versions, subjects::register))
        .routes(routes!(subjects::get_version, subjects::delete_version))
        .routes(routes!(subjects::get_version_schema))
        .routes(routes!(subjects::referenced_by))
        .routes(routes!(
            settings::get_global_config,
            settings::put_global_config,
            settings::delete_global_config
        ))
        .routes(routes!(
            settings::get_subject_config,
            settings::put_subject_config,
            settings::delete_subject_config
        ))
        .routes(routes!(
            settings::get_global_mode,
            settings::put_global_mode,
            settings::delete_global_mode
        ))
        .routes(routes!(
            settings::get_subject_mode,
            settings::put_subject_mode,
            settings::delete_subject_mode
        ))
        .routes(routes!(compatibility::check_version))
        .routes(routes!(compatibility::check_all))
}

/// The registry's HTTP service: every route, `/openapi.json`, Swagger UI at `/swagger-ui`,
/// Confluent's error bodies, forwarding and the edge limits.
pub fn router(registry: Arc<Registry>) -> Router {
    let listener = registry.config().listener.clone();
    let forwarder = Forwarder::new(Arc::clone(&registry));
    let (routes, openapi) = api_router().split_for_parts();
    let routes = routes
        .merge(SwaggerUi::new("/swagger-ui").url("/openapi.json", openapi))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            forwarder,
            forward_writes,
        ))
        .layer(axum::middleware::from_fn(authorize))
        .with_state(registry);
    gateway_edge::apply_limits(routes, &listener, ApiError::from_edge)
}

/// Reads: GET/HEAD, lookups (`POST /subjects/{s}`) and compatibility checks.
fn is_read(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => true,
        Method::POST => {
            path.starts_with("/compatibility/")
                || (path.starts_with("/subjects/") && !path.ends_with("/versions"))
        }
        _ => false,
    }
}

async fn authorize(request: Request, next: Next) -> Response {
    if let Some(principal) = request.extensions().get::<Principal>() {
        let allowed = match principal.grants.role() {
            Some(Role::Admin) => true,
            Some(Role::ReadOnly) => is_read(request.method(), request.uri().path()),
            None => false,
        };
        if !allowed {
            tracing::info!(principal = principal.name, method = %request.method(), path = request.uri().path(), "request refused by acl");
            return ApiError::new(
                StatusCode::FORBIDDEN,
                40301,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_may_look_up_and_check_but_not_register() {
        assert!(is_read(&Method::GET, "/subjects/a/versions"));
        assert!(is_read(&Method::POST, "/subjects/a"));
        assert!(is_read(
            &Method::POST,
            "/compatibility/subjects/a/versions/latest"
        ));
        assert!(!is_read(&Method::POST, "/subjects/a/versions"));
        assert!(!is_read(&Method::PUT, "/config"));
        assert!(!is_read(&Method::DELETE, "/subjects/a"));
    }
}
