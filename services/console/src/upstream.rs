//! Forwarding to this gateway's own services for what only they know: the Connect REST API
//! (`/api/connect/…`) and the Schema Registry (`/api/schemas/…`). The console depends on no
//! other service crate (docs/architecture.md); it speaks their public HTTP APIs like any
//! client, at the addresses the gateway's validated config gives.
//!
//! The caller's `Authorization` header travels along, so each service applies its own
//! authentication and roles on top of the console's: the console never widens what a
//! principal may do. Answers (status, content type, body) come back unchanged; both
//! services already answer errors as `{"error_code","message"}`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::ConsoleState;

pub(crate) async fn connect(
    State(state): State<ConsoleState>,
    method: Method,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let base = state
        .inner
        .config
        .upstreams
        .connect
        .clone()
        .ok_or_else(|| ApiError::NotFound("connect is not enabled in this gateway".to_owned()))?;
    forward(
        &state, "connect", &base, method, &path, query, &headers, body,
    )
    .await
}

pub(crate) async fn schemas(
    State(state): State<ConsoleState>,
    method: Method,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let base = state
        .inner
        .config
        .upstreams
        .schema_registry
        .clone()
        .ok_or_else(|| {
            ApiError::NotFound("the schema registry is not enabled in this gateway".to_owned())
        })?;
    forward(
        &state,
        "schema registry",
        &base,
        method,
        &path,
        query,
        &headers,
        body,
    )
    .await
}

#[allow(clippy::too_many_arguments)] // one request's parts, forwarded as they are
async fn forward(
    state: &ConsoleState,
    service: &'static str,
    base: &str,
    method: Method,
    path: &str,
    query: Option<String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut url = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    if let Some(query) = query {
        url.push('?');
        url.push_str(&query);
    }
    let mut request = state.inner.http.request(method, &url);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    let answer = request
        .body(body)
        .send()
        .await
        .map_err(|error| ApiError::Upstream {
            service,
            message: error.to_string(),
        })?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = answer.bytes().await.map_err(|error| ApiError::Upstream {
        service,
        message: error.to_string(),
    })?;
    let mut response = (status, Body::from(bytes)).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    Ok(response)
}
