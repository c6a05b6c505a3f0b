//! Errors of the runtime.
//!
//! - [`ConfigIssue`]: one config key is wrong; collected per key for `/config/validate`.
//! - [`RestError`]: what a handler answers, always as Kafka Connect's
//!   `{"error_code":…,"message":…}` body.
//! - [`WorkerError`]: why [`crate::run`] stopped.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use broker_core::{BrokerError, ErrorKind};
use serde::Serialize;

/// One wrong config key and the reason, in Kafka's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: String,
    pub message: String,
}

impl ConfigIssue {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Why the connector runtime stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Serve(#[from] edge::ServeError),
    #[error("internal topic {topic} is unusable: {reason}")]
    InternalTopic { topic: String, reason: String },
}

/// Kafka Connect's error body.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error_code: u16,
    pub message: String,
}

/// An error a REST handler answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RestError {
    pub status: StatusCode,
    pub message: String,
}

impl RestError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn connector_not_found(name: &str) -> Self {
        Self::not_found(format!("Connector {name} not found"))
    }

    /// A broker failure: retriable ones are 409 as during a rebalance in Kafka (clients
    /// retry those), the rest are 500 with the detail logged, not returned.
    pub fn broker(error: &BrokerError) -> Self {
        tracing::warn!(%error, "kafka operation behind a REST request failed");
        match error.kind() {
            ErrorKind::Unavailable => Self::conflict(
                "Cannot complete request because of a conflicting operation (e.g. worker rebalance)",
            ),
            ErrorKind::Timeout => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Request timed out"),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Kafka refused the operation; see the worker log",
            ),
        }
    }
}

impl From<BrokerError> for RestError {
    fn from(error: BrokerError) -> Self {
        Self::broker(&error)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error_code: self.status.as_u16(),
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
