//! The console API's error body, the Confluent / Connect shape the gateway's other APIs use:
//! `{"error_code": <http status>, "message": "..."}`, on every path including the edge's
//! refusals.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use broker_core::{BrokerError, ErrorKind};
use edge::EdgeRejection;
use serde::Serialize;

#[derive(Debug, Serialize)]
struct ErrorBody {
    error_code: u16,
    message: String,
}

/// What an `/api` call answers when it fails.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("kafka: {0}")]
    Kafka(#[from] BrokerError),
    #[error("{service} answered: {message}")]
    Upstream {
        service: &'static str,
        message: String,
    },
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Self::Kafka(error) => match error.kind() {
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
                ErrorKind::Forbidden => StatusCode::FORBIDDEN,
                ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "console api call failed");
        }
        body(status, self.to_string())
    }
}

pub(crate) fn body(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(ErrorBody {
            error_code: status.as_u16(),
            message,
        }),
    )
        .into_response()
}

/// The edge's refusals in the same body.
pub(crate) fn reject(rejection: EdgeRejection) -> Response {
    match rejection {
        EdgeRejection::Overloaded => body(
            StatusCode::SERVICE_UNAVAILABLE,
            "the console is overloaded; retry later".to_owned(),
        ),
        EdgeRejection::TimedOut => body(
            StatusCode::GATEWAY_TIMEOUT,
            "the request timed out".to_owned(),
        ),
        EdgeRejection::Unauthenticated => body(
            StatusCode::UNAUTHORIZED,
            "authentication failed: missing or invalid credentials".to_owned(),
        ),
        EdgeRejection::Forbidden => body(StatusCode::FORBIDDEN, "forbidden".to_owned()),
    }
}
