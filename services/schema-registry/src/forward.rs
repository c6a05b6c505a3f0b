//! Forwarding writes from a secondary to the primary over HTTP, as Confluent's followers
//! do (`registerOrForward` and friends). Reads are always served locally.
//!
//! The request goes out as it came in (method, path, query, body, `Content-Type`,
//! `Accept`, `Authorization`), so the primary authenticates and authorizes it again; a
//! client certificate (mTLS) cannot travel this way, so such a deployment needs the
//! primary to accept the secondaries' forwarded requests by another credential. A request
//! that was already forwarded is never forwarded again: an instance that receives one
//! without being the primary answers 50004 (the election is moving).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::registry::Registry;

/// Marks a forwarded request.
pub const FORWARDED_HEADER: &str = "x-schema-registry-forwarded";
/// Longest wait for the primary's answer.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// The registry and the HTTP client forwarding uses.
#[derive(Debug, Clone)]
pub struct Forwarder {
    pub registry: Arc<Registry>,
    pub client: reqwest::Client,
}

impl Forwarder {
    pub fn new(registry: Arc<Registry>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(FORWARD_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self { registry, client }
    }
}

/// Writes change `_schemas`; lookups and compatibility checks are POSTs that only read.
fn is_write(method: &Method, path: &str) -> bool {
    match *method {
        Method::PUT | Method::DELETE => true,
        Method::POST => path.starts_with("/subjects/") && path.ends_with("/versions"),
        _ => false,
    }
}

/// Middleware: a write on a secondary goes to the primary.
pub(crate) async fn forward_writes(
    State(forwarder): State<Forwarder>,
    request: Request,
    next: Next,
) -> Response {
    if !is_write(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let view = forwarder.registry.known_leader().await;
    if view.is_leader {
        return next.run(request).await;
    }
    if request.headers().contains_key(FORWARDED_HEADER) {
        return ApiError::unknown_leader().into_response();
    }
    let Some(leader) = view.leader_url else {
        return ApiError::unknown_leader().into_response();
    };
    match forward(&forwarder.client, &leader, request).await {
        Ok(response) => response,
        Err(message) => {
            tracing::warn!(%leader, %message, "forwarding a write to the primary failed");
            ApiError::forwarding(format!(
                "Error while forwarding the request to the primary {leader}: {message}"
            ))
            .into_response()
        }
    }
}

async fn forward(
    client: &reqwest::Client,
    leader: &str,
    request: Request,
) -> Result<Response, String> {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    // The edge limits the body size before this layer runs.
    let body = to_bytes(body, usize::MAX)
        .await
        .map_err(|error| error.to_string())?;
    let mut outgoing = client
        .request(parts.method.clone(), format!("{leader}{path}"))
        .header(FORWARDED_HEADER, "1")
        .body(body);
    for name in [header::CONTENT_TYPE, header::ACCEPT, header::AUTHORIZATION] {
        if let Some(value) = parts.headers.get(&name) {
            outgoing = outgoing.header(name, value.clone());
        }
    }
    let answer = outgoing.send().await.map_err(|error| error.to_string())?;
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = answer.bytes().await.map_err(|error| error.to_string())?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(HeaderName::from_static("content-type"), content_type);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_writes_are_forwarded() {
        assert!(is_write(&Method::POST, "/subjects/a/versions"));
        assert!(!is_write(&Method::POST, "/subjects/a"));
        assert!(!is_write(
            &Method::POST,
            "/compatibility/subjects/a/versions"
        ));
        assert!(!is_write(
            &Method::POST,
            "/compatibility/subjects/a/versions/latest"
        ));
        assert!(is_write(&Method::PUT, "/config"));
        assert!(is_write(&Method::DELETE, "/subjects/a"));
        assert!(!is_write(&Method::GET, "/subjects"));
    }
}
