//! The bridge's one error type and its wire shapes.
//!
//! Confluent REST Proxy answers `{"error_code": <int>, "message": "..."}` with 5-digit codes
//! whose first three digits are the HTTP status (40401 unknown topic, 50003 retriable Kafka
//! error, ...); plain 3-digit codes equal to the status are used for generic failures.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use broker_core::{BrokerError, ErrorKind};
use gateway_edge::EdgeRejection;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub error_code: u32,
    pub message: String,
}

/// An error a handler returns; rendered as the Confluent error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_code: u32,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            message: message.into(),
        }
    }

    pub fn topic_not_found(topic: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40401,
            format!("Topic {topic} not found."),
        )
    }

    pub fn partition_not_found(topic: &str, partition: i32) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40402,
            format!("Partition {partition} of topic {topic} not found."),
        )
    }

    /// Maps a broker-core error, keeping Confluent's split between retriable (50003) and
    /// other (50002) Kafka errors. Internals are logged by the caller, not echoed.
    pub fn from_broker(error: &BrokerError) -> Self {
        let message = error.to_string();
        match error.kind() {
            ErrorKind::NotFound => Self::new(StatusCode::NOT_FOUND, 40403, message),
            ErrorKind::Unauthenticated => Self::new(StatusCode::UNAUTHORIZED, 40101, message),
            ErrorKind::Forbidden => Self::new(StatusCode::FORBIDDEN, 40301, message),
            ErrorKind::InvalidInput | ErrorKind::Conflict => {
                Self::new(StatusCode::BAD_REQUEST, 40002, message)
            }
            ErrorKind::PayloadTooLarge => Self::new(StatusCode::PAYLOAD_TOO_LARGE, 413, message),
            ErrorKind::Unavailable | ErrorKind::Timeout => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, 50003, message)
            }
            ErrorKind::Internal => Self::new(StatusCode::INTERNAL_SERVER_ERROR, 50002, message),
        }
    }

    /// The edge's refusals in the same shape.
    pub fn from_edge(rejection: EdgeRejection) -> Response {
        match rejection {
            EdgeRejection::Overloaded => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                503,
                "Too many concurrent requests, retry later.",
            ),
            EdgeRejection::TimedOut => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                504,
                "The request did not finish in time.",
            ),
        }
        .into_response()
    }
}

impl From<BrokerError> for ApiError {
    fn from(error: BrokerError) -> Self {
        if !error.kind().is_retriable() && error.kind() == ErrorKind::Internal {
            tracing::error!(%error, "unexpected kafka error");
        }
        Self::from_broker(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error_code: self.error_code,
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
