//! Extractors whose rejections are [`ApiError`]s, so that a malformed path, query or body
//! gets the same error body as every other failure.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::config::Flavor;
use crate::error::ApiError;
use crate::media;
use crate::state::BridgeState;

/// `axum::extract::Path` with the bridge's error body.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct ApiPath<T>(pub T);

/// `axum::extract::Query` with the bridge's error body.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct ApiQuery<T>(pub T);

/// Reads the whole body within the listener's `max_body_bytes`.
pub(crate) async fn body_bytes(request: Request, state: &BridgeState) -> Result<Bytes, ApiError> {
    let limit = state.config().listener.max_body_bytes;
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(limit)
            } else {
                ApiError::bad_request(format!("Cannot read the request body: {rejection}"))
            }
        })
}

/// Parses a JSON body: a syntax error is a 400; a well-formed body of the wrong shape is a
/// 422 (Confluent) or a 400 (Strimzi, whose OpenAPI validation answers 400).
pub(crate) fn parse_json<T: DeserializeOwned>(flavor: Flavor, bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| json_error(flavor, &error))
}

/// [`parse_json`] for control bodies (no records in them): integral floats (`3.0`) are
/// also taken for integer fields, as Confluent's Jackson takes them.
pub(crate) fn parse_control_json<T: DeserializeOwned>(
    flavor: Flavor,
    bytes: &[u8],
) -> Result<T, ApiError> {
    edge::json::from_slice_integral_floats(bytes).map_err(|error| json_error(flavor, &error))
}

fn json_error(flavor: Flavor, error: &serde_json::Error) -> ApiError {
    let message = format!("Invalid JSON body: {error}");
    match (error.classify(), flavor) {
        (serde_json::error::Category::Data, Flavor::Confluent) => {
            ApiError::unprocessable(422, message)
        }
        _ => ApiError::bad_request(message),
    }
}

/// A consumer-control body: `Content-Type` must be a v2 type when a body is present; an
/// empty body is `None` (several calls allow it).
#[derive(Debug)]
pub(crate) struct ControlJson<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<BridgeState> for ControlJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &BridgeState) -> Result<Self, ApiError> {
        let headers = request.headers().clone();
        let bytes = body_bytes(request, state).await?;
        if is_no_body(&bytes) {
            return Ok(Self(None));
        }
        media::check_control_content_type(&headers)?;
        parse_control_json(state.config().flavor, &bytes).map(|value| Self(Some(value)))
    }
}

/// An empty body, or a JSON `null`: Confluent's Jackson reads `null` as no body, so a
/// commit with `null` commits everything fetched and a create with `null` takes every
/// default, as with an empty body.
fn is_no_body(bytes: &[u8]) -> bool {
    let text = bytes.trim_ascii();
    text.is_empty() || text == b"null"
}

/// A v3 body: `Content-Type: application/json`.
#[derive(Debug)]
pub(crate) struct V3Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<BridgeState> for V3Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &BridgeState) -> Result<Self, ApiError> {
        check_v3_content_type(request.headers())?;
        let bytes = body_bytes(request, state).await?;
        parse_control_json(Flavor::Confluent, &bytes).map(Self)
    }
}

pub(crate) fn check_v3_content_type(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(format!(
            "Content-Type `{content_type}` is not supported; use application/json."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_body_or_null_is_no_body() {
        for body in [&b""[..], b"  \n", b"null", b" null\n"] {
            assert!(is_no_body(body), "{body:?}");
        }
        for body in [&b"{}"[..], b"[]", b"nul", b"\"null\""] {
            assert!(!is_no_body(body), "{body:?}");
        }
    }
}
