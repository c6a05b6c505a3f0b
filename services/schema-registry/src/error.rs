//! The registry's one error type, rendered as Confluent renders it:
//! `{"error_code": <int>, "message": "..."}` with the HTTP status as the first three digits.
//!
//! Codes (Confluent `rest/exceptions/Errors.java`): 40401 subject, 40402 version, 40403
//! schema; 40404–40407 soft-delete order; 40408/40409 no subject-level config/mode; 409
//! incompatible (the code Confluent used up to 8.0.3 / 8.1.1 and that kafka-ui still
//! matches; 8.0.4+ answers 40901); 42201 invalid schema, 42202 invalid version, 42203
//! invalid compatibility level, 42204 invalid mode, 42205 operation not permitted, 42206
//! reference exists; 50001 store, 50002 timeout, 50003 forwarding, 50004 unknown primary.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use broker_core::{BrokerError, ErrorKind};
use edge::EdgeRejection;
use serde::Serialize;

/// Content type of every JSON answer, as Confluent's default.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error_code: u32,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} ({error_code}): {message}")]
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

    pub fn subject_not_found(subject: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40401,
            format!("Subject '{subject}' not found."),
        )
    }

    pub fn version_not_found(version: i32) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40402,
            format!("Version {version} not found."),
        )
    }

    pub fn schema_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 40403, "Schema not found")
    }

    pub fn schema_id_not_found(id: i32) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40403,
            format!("Schema {id} not found"),
        )
    }

    pub fn subject_soft_deleted(subject: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40404,
            format!(
                "Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
            ),
        )
    }

    pub fn subject_not_soft_deleted(subject: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40405,
            format!("Subject '{subject}' was not deleted first before being permanently deleted"),
        )
    }

    pub fn version_soft_deleted(subject: &str, version: i32) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40406,
            format!(
                "Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently"
            ),
        )
    }

    pub fn version_not_soft_deleted(subject: &str, version: i32) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40407,
            format!(
                "Subject '{subject}' Version {version} was not deleted first before being permanently deleted"
            ),
        )
    }

    pub fn subject_config_not_found(subject: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40408,
            format!("Subject '{subject}' does not have subject-level compatibility configured"),
        )
    }

    pub fn subject_mode_not_found(subject: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            40409,
            format!("Subject '{subject}' does not have subject-level mode configured"),
        )
    }

    pub fn incompatible(subject: &str, messages: &[String]) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            409,
            format!(
                "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                messages.join(", ")
            ),
        )
    }

    pub fn invalid_schema(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, 42201, message)
    }

    pub fn invalid_version(text: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42202,
            format!(
                "The specified version '{text}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
            ),
        )
    }

    pub fn invalid_compatibility_level(text: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42203,
            format!(
                "Invalid compatibility level '{text}'. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"
            ),
        )
    }

    pub fn invalid_mode(text: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42204,
            format!(
                "Invalid mode '{text}'. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT"
            ),
        )
    }

    pub fn not_permitted(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, 42205, message)
    }

    pub fn reference_exists(subject: &str, version: i32) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42206,
            format!(
                "One or more references exist to the schema {{subject={subject},version={version}}}"
            ),
        )
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, 422, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 400, message)
    }

    pub fn store(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 50001, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 50002, message)
    }

    pub fn forwarding(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 50003, message)
    }

    pub fn unknown_leader() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            50004,
            "Unknown leader: no primary schema registry instance is elected yet",
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error_code: self.error_code,
            message: self.message.clone(),
        }
    }

    /// The edge's refusals in the registry's shape.
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
            EdgeRejection::Unauthenticated => Self::new(
                StatusCode::UNAUTHORIZED,
                40101,
                "Authentication failed: missing or invalid credentials.",
            ),
            EdgeRejection::Forbidden => Self::new(StatusCode::FORBIDDEN, 40301, "Forbidden."),
        }
        .into_response()
    }
}

impl From<BrokerError> for ApiError {
    fn from(error: BrokerError) -> Self {
        tracing::warn!(%error, "schema store error");
        match error.kind() {
            ErrorKind::Timeout => {
                Self::timeout(format!("Timed out while writing to the store: {error}"))
            }
            _ => Self::store(format!("Error while writing to the store: {error}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

/// 404 for unknown routes, in the error body (rest-utils uses the status as the code).
pub(crate) async fn route_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found")
}

/// 405 for a known route with another method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        405,
        "HTTP 405 Method Not Allowed",
    )
}
