//! Route table of the registry. Every handler is registered through `utoipa_axum::routes!`,
//! so the OpenAPI document is generated from the table that serves requests.
//!
//! Layers, outermost first: the edge (limits, auth, TLS, CORS), authorization, then
//! forwarding of writes to the primary.
//!
//! Authorization, with ACL rules on the listener: a request on one subject (`/subjects/{s}…`,
//! `/config/{s}`, `/mode/{s}`, `/compatibility/subjects/{s}…`) needs the principal's role on
//! that subject (`Grants::subject_role`: rules with `subjects`, or without for the whole
//! registry); other requests need the whole-registry role to write, and any role to read.
//! `read_only` reads, including lookups and compatibility checks; `admin` also writes.
//! Listings and schemas by id show only what the principal may read ([`Visibility`]).

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
use edge::{Grants, Principal, Role};
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
    let (routes, mut openapi) = api_router().split_for_parts();
    crate::openapi::complete(&mut openapi);
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
    edge::apply_limits(routes, &listener, ApiError::from_edge)
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

/// What a request touches: one subject, or the registry as a whole.
#[derive(Debug, PartialEq, Eq)]
enum Scope {
    Subject(String),
    Registry,
}

fn scope(path: &str) -> Scope {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["subjects", subject, ..]
        | ["config" | "mode", subject]
        | ["compatibility", "subjects", subject, ..] => Scope::Subject(percent_decode(subject)),
        _ => Scope::Registry,
    }
}

/// `%XX` sequences decoded, as the path extractor decodes them.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).copied().and_then(hex),
                bytes.get(index + 2).copied().and_then(hex),
            )
        {
            out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn authorize(request: Request, next: Next) -> Response {
    if let Some(principal) = request.extensions().get::<Principal>() {
        let path = request.uri().path();
        let reading = is_read(request.method(), path);
        let needed = if reading { Role::ReadOnly } else { Role::Admin };
        let allowed = match scope(path) {
            Scope::Subject(subject) => principal
                .grants
                .subject_role(&subject)
                .is_some_and(|role| role >= needed),
            Scope::Registry if reading => principal.grants.has_any_role(),
            Scope::Registry => principal.grants.role() == Some(Role::Admin),
        };
        if !allowed {
            tracing::info!(principal = principal.name, method = %request.method(), path, "request refused by acl");
            return ApiError::new(
                StatusCode::FORBIDDEN,
                40301,
                format!(
                    "Principal {} is not authorized to {} {}",
                    principal.name,
                    request.method(),
                    path
                ),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Which subjects the caller may read: all without authentication, without ACL rules, or
/// with a whole-registry role; otherwise those its subject rules name.
#[derive(Debug, Clone)]
pub(crate) struct Visibility(Option<Arc<Grants>>);

impl Visibility {
    pub(crate) fn sees(&self, subject: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|grants| grants.subject_role(subject).is_some())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Visibility {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let grants = parts
            .extensions
            .get::<Principal>()
            .map(|principal| Arc::clone(&principal.grants))
            .filter(|grants| grants.role().is_none());
        Ok(Self(grants))
    }
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

    #[test]
    fn scope_names_the_subject_of_a_path() {
        assert_eq!(
            scope("/subjects/a%2Fb/versions/1"),
            Scope::Subject("a/b".into())
        );
        assert_eq!(scope("/subjects/a"), Scope::Subject("a".into()));
        assert_eq!(scope("/config/a"), Scope::Subject("a".into()));
        assert_eq!(scope("/mode/a"), Scope::Subject("a".into()));
        assert_eq!(
            scope("/compatibility/subjects/a/versions/latest"),
            Scope::Subject("a".into())
        );
        assert_eq!(scope("/config"), Scope::Registry);
        assert_eq!(scope("/subjects"), Scope::Registry);
        assert_eq!(scope("/schemas/ids/1"), Scope::Registry);
    }
}
