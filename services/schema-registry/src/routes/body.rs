//! Request and response plumbing shared by the handlers: JSON bodies accepted under any of
//! Confluent's media types (and none), answers in `application/vnd.schemaregistry.v1+json`,
//! lenient query flags (the Java client sends `normalize=false`, `deleted=false`,
//! `fetchMaxId=false`; unknown parameters are ignored).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
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
        // Integral floats (`3.0`) are taken for integer fields, as Confluent's Jackson does.
        edge::json::from_slice_integral_floats(&bytes)
            .map(Self)
            .map_err(|error| {
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

/// Query parameters. Unknown ones are ignored; the boolean flags must be `true` or `false`
/// (any case): Confluent's Jersey reads any other value as `false`, which hides a typo, so
/// we refuse it (400, Confluent's error body).
pub(crate) type Params = HashMap<String, String>;

/// The boolean query parameters of the API.
const FLAGS: &[&str] = &[
    "deleted",
    "deletedOnly",
    "permanent",
    "normalize",
    "defaultToGlobal",
    "force",
    "verbose",
    "fetchMaxId",
];

/// The query parameters, with every boolean flag checked.
#[derive(Debug)]
pub(crate) struct QueryParams(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(params) = Query::<Params>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        check_flags(&params)?;
        Ok(Self(params))
    }
}

fn check_flags(params: &Params) -> Result<(), ApiError> {
    for name in FLAGS {
        if let Some(value) = params.get(*name)
            && !value.eq_ignore_ascii_case("true")
            && !value.eq_ignore_ascii_case("false")
        {
            return Err(ApiError::bad_request(format!(
                "Query parameter {name} must be true or false, not {value:?}"
            )));
        }
    }
    Ok(())
}

/// `true` when the parameter is `true` (any case).
pub(crate) fn flag(params: &Params, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn flags_are_true_or_false_in_any_case() {
        assert!(check_flags(&params(&[("deleted", "TRUE"), ("permanent", "false")])).is_ok());
        assert!(check_flags(&params(&[("subjectPrefix", "x"), ("unknown", "1")])).is_ok());
    }

    #[test]
    fn a_flag_of_another_value_is_refused() {
        for value in ["", "1", "yes", "null"] {
            let error = check_flags(&params(&[("deleted", value)])).unwrap_err();
            assert_eq!(
                (error.status.as_u16(), error.error_code),
                (400, 400),
                "{value:?}"
            );
            assert!(error.message.contains("deleted"), "{}", error.message);
        }
    }
}
