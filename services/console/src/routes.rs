//! The console's router: the embedded pages (served without credentials: they hold no
//! data, and the login form must load) and `/api`, behind the listener's edge layers
//! (limits, authentication) and the console's role check.
//!
//! `/api` is internal to the pages (not a public, versioned API): no OpenAPI document is
//! published for it (docs/console.md).

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{any, get};
use edge::{Principal, Role};

use crate::state::ConsoleState;
use crate::{assets, cluster, error, groups, mirror, records, upstream};

pub(crate) fn router(state: ConsoleState) -> Router {
    let listener = state.inner.config.listener.clone();
    let api = Router::new()
        .route("/api/overview", get(cluster::overview))
        .route("/api/topics", get(cluster::topics))
        .route("/api/topics/{topic}", get(cluster::topic))
        .route(
            "/api/topics/{topic}/records",
            get(records::browse).post(records::produce),
        )
        .route("/api/groups", get(groups::groups))
        .route("/api/groups/{group}", get(groups::group))
        .route("/api/mirror", get(mirror::mirror))
        .route("/api/connect/{*path}", any(upstream::connect))
        .route("/api/schemas/{*path}", any(upstream::schemas))
        .fallback(|| async { error::body(StatusCode::NOT_FOUND, "no such console api".to_owned()) })
        .layer(axum::middleware::from_fn(authorize))
        .with_state(state);
    let api = edge::apply_limits(api, &listener, error::reject)
        .layer(axum::middleware::from_fn(no_browser_prompt));
    api.merge(assets::router())
}

/// A `read_only` principal may only read; changing anything (produce, connector actions)
/// needs `admin`. Without authentication everything is allowed.
async fn authorize(request: Request, next: Next) -> Response {
    if let Some(principal) = request.extensions().get::<Principal>() {
        let reading = matches!(*request.method(), Method::GET | Method::HEAD);
        let allowed = match principal.grants.role() {
            Some(Role::Admin) => true,
            Some(Role::ReadOnly) => reading,
            None => false,
        };
        if !allowed {
            tracing::info!(principal = principal.name, method = %request.method(), path = request.uri().path(), "console request refused by acl");
            return error::body(
                StatusCode::FORBIDDEN,
                format!(
                    "principal {} is not allowed to {} {} (needs the admin role)",
                    principal.name,
                    request.method(),
                    request.uri().path()
                ),
            );
        }
    }
    next.run(request).await
}

/// The pages log in with their own form; a `WWW-Authenticate` challenge on an API answer
/// would make the browser open its native dialog on top of it.
async fn no_browser_prompt(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().remove(header::WWW_AUTHENTICATE);
    response
}
