//! Request and response plumbing shared by the handlers: JSON bodies accepted under any of
//! Confluent's media types (and none), answers in `application/vnd.schemaregistry.v1+json`,
//! lenient query flags (the Java client sends `normalize=false`, `deleted=false`,
//! `fetchMaxId=false`; unknown parameters are ignored).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, CONTENT_TYPE};

/// A JSON body whatever its `Content-Type`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        serde_json::from_slice(&bytes).map(Self).map_err(|error| {
            if error.is_data() {
                ApiError::unprocessable(format!("Unrecognized request body: {error}"))
            } else {
                ApiError::bad_request(format!("Malformed JSON body: {error}"))
            }
        })
    }
}

/// 200 with `value` as the registry's JSON.
pub(crate) fn ok<T: Serialize>(value: &T) -> Response {
    let mut response = Json(value).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// Query parameters, read leniently.
pub(crate) type Params = HashMap<String, String>;

/// `true` when the parameter is `true` (any case).
pub(crate) fn flag(params: &Params, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
}
