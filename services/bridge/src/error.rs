//! The bridge's one error type and its wire shapes.
//!
//! Confluent REST Proxy answers `{"error_code": <int>, "message": "..."}` with 5-digit codes
//! whose first three digits are the HTTP status (40401 unknown topic, 50003 retriable Kafka
//! error, ...); plain 3-digit codes equal to the status are used for generic failures.
//! The Strimzi bridge uses the same body with `error_code` equal to the HTTP status.
//!
//! Handlers and extractors only ever build an [`ApiError`]; it renders the Confluent body
//! and also travels in the response's extensions, so that [`render_for_flavor`] can rewrite
//! it for a Strimzi listener in one place.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use broker_core::{BrokerError, ErrorKind};
use edge::EdgeRejection;
use serde::Serialize;

use crate::config::Flavor;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Confluent: a 5-digit code whose first three digits are the HTTP status, or the
    /// status itself. Strimzi: always the HTTP status.
    pub error_code: u32,
    pub message: String,
}

/// An error a handler returns; rendered in the listener flavor's error body.
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

    /// A generic failure whose code is the HTTP status itself.
    pub fn plain(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, u32::from(status.as_u16()), message)
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

    pub fn instance_not_found(group: &str, instance: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40403,
            format!("Consumer instance {instance} of group {group} not found."),
        )
    }

    /// 40301: the principal may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, 40301, message)
    }

    /// 40101: missing or wrong credentials.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            40101,
            "Authentication failed: missing or invalid credentials.",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::plain(StatusCode::BAD_REQUEST, message)
    }

    /// 422 with one of Confluent's 422xx codes (or 422 itself).
    pub fn unprocessable(error_code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, error_code, message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, 40601, message)
    }

    /// 40903: subscription, assignment and pattern are mutually exclusive, or a partition
    /// is not assigned.
    pub fn illegal_state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, 40903, message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body is larger than the limit of {limit} bytes."),
        )
    }

    /// Maps a broker-core error, keeping Confluent's split between retriable (50003) and
    /// other (50002) Kafka errors.
    pub fn from_broker(error: &BrokerError) -> Self {
        let message = error.to_string();
        match error.kind() {
            ErrorKind::NotFound => Self::new(StatusCode::NOT_FOUND, 40403, message),
            ErrorKind::Unauthenticated => Self::new(StatusCode::UNAUTHORIZED, 40101, message),
            ErrorKind::Forbidden => Self::new(StatusCode::FORBIDDEN, 40301, message),
            ErrorKind::InvalidInput | ErrorKind::Conflict => {
                Self::new(StatusCode::BAD_REQUEST, 40002, message)
            }
            ErrorKind::PayloadTooLarge => Self::plain(StatusCode::PAYLOAD_TOO_LARGE, message),
            ErrorKind::Unavailable | ErrorKind::Timeout => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, 50003, message)
            }
            ErrorKind::Internal => Self::new(StatusCode::INTERNAL_SERVER_ERROR, 50002, message),
        }
    }

    /// The edge's refusals in the same shape (Confluent codes; see [`Self::render`] for a
    /// listener of another flavor).
    pub fn from_edge(rejection: EdgeRejection) -> Response {
        Self::edge(rejection).into_response()
    }

    /// The edge's refusals rendered in `flavor`'s body: the edge layers run outside the
    /// flavor rewrite of the routes.
    pub fn from_edge_in(flavor: Flavor, rejection: EdgeRejection) -> Response {
        Self::edge(rejection).render(flavor)
    }

    fn edge(rejection: EdgeRejection) -> Self {
        match rejection {
            EdgeRejection::Overloaded => Self::plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many concurrent requests, retry later.",
            ),
            EdgeRejection::TimedOut => Self::plain(
                StatusCode::GATEWAY_TIMEOUT,
                "The request did not finish in time.",
            ),
            EdgeRejection::Unauthenticated => Self::unauthenticated(),
            EdgeRejection::Forbidden => Self::forbidden("Forbidden."),
        }
    }

    /// The response in `flavor`'s body, with the error in its extensions.
    pub fn render(self, flavor: Flavor) -> Response {
        let mut response = (self.status, Json(self.body(flavor))).into_response();
        response.extensions_mut().insert(self);
        response
    }

    /// The body as the listener's flavor writes it.
    pub fn body(&self, flavor: Flavor) -> ErrorBody {
        ErrorBody {
            error_code: match flavor {
                Flavor::Confluent => self.error_code,
                Flavor::Strimzi => u32::from(self.status.as_u16()),
            },
            message: self.message.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.error_code, self.message)
    }
}

impl From<BrokerError> for ApiError {
    fn from(error: BrokerError) -> Self {
        if error.kind() == ErrorKind::Internal {
            tracing::error!(%error, "unexpected kafka error");
        }
        Self::from_broker(&error)
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(error) => {
                Self::plain(StatusCode::NOT_FOUND, format!("Invalid path: {error}"))
            }
            other => Self::plain(StatusCode::NOT_FOUND, other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(format!("Invalid query: {}", rejection.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.render(Flavor::Confluent)
    }
}

/// Rewrites every [`ApiError`] response in the listener's flavor.
pub(crate) async fn render_for_flavor(
    State(flavor): State<Flavor>,
    response: Response,
) -> Response {
    match (flavor, response.extensions().get::<ApiError>()) {
        (Flavor::Strimzi, Some(error)) => error.clone().render(Flavor::Strimzi),
        _ => response,
    }
}

/// 404 for unknown routes, in the error body.
pub(crate) async fn route_not_found() -> ApiError {
    ApiError::plain(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
}

/// 405 for a known route with another method, in the error body.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::plain(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strimzi_body_uses_the_http_status() {
        let error = ApiError::topic_not_found("t");
        assert_eq!(error.body(Flavor::Confluent).error_code, 40401);
        assert_eq!(error.body(Flavor::Strimzi).error_code, 404);
    }

    #[test]
    fn retriable_kafka_errors_are_50003() {
        let error = BrokerError::Timeout {
            operation: "metadata request",
            timeout: std::time::Duration::from_secs(1),
        };
        assert_eq!(ApiError::from(error).error_code, 50003);
    }
}
