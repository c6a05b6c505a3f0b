//! Media types of the v2 API and the negotiation rules of each flavor.
//!
//! Confluent negotiates: a request's `Content-Type` picks the embedded format of a produce
//! body, and a records request's `Accept` must name the consumer's format (a generic
//! `application/vnd.kafka.v2+json`, `*/*` or no `Accept` at all means binary). Strimzi
//! compares strings: `Accept` must be exactly one of the three embedded types.

use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::config::Flavor;
use crate::error::ApiError;
pub use crate::schema::SchemaFormat;

/// The generic v2 media type of metadata and consumer-control bodies.
pub const V2_JSON: &str = "application/vnd.kafka.v2+json";

/// How keys and values are written inside a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmbeddedFormat {
    /// Base64 strings.
    #[default]
    Binary,
    /// Any JSON value.
    Json,
    /// UTF-8 strings (Strimzi's `text`).
    Text,
    /// JSON on the HTTP side, Confluent's wire format with a registered schema in Kafka
    /// (Confluent only, with a schema registry configured).
    Schema(SchemaFormat),
}

impl EmbeddedFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Binary => "binary",
            Self::Json => "json",
            Self::Text => "text",
            Self::Schema(format) => format.name(),
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Binary => "application/vnd.kafka.binary.v2+json",
            Self::Json => "application/vnd.kafka.json.v2+json",
            Self::Text => "application/vnd.kafka.text.v2+json",
            Self::Schema(SchemaFormat::Avro) => "application/vnd.kafka.avro.v2+json",
            Self::Schema(SchemaFormat::JsonSchema) => "application/vnd.kafka.jsonschema.v2+json",
            Self::Schema(SchemaFormat::Protobuf) => "application/vnd.kafka.protobuf.v2+json",
        }
    }

    /// The schema-registry format, if this is one.
    pub fn schema_format(self) -> Option<SchemaFormat> {
        match self {
            Self::Schema(format) => Some(format),
            _ => None,
        }
    }

    /// Parses a `format` field of a consumer-create body (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "binary" => Some(Self::Binary),
            "json" => Some(Self::Json),
            "text" => Some(Self::Text),
            other => SchemaFormat::from_name(other).map(Self::Schema),
        }
    }
}

/// What one media type (parameters stripped) says about the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    /// An embedded format, the schema-registry ones (`avro`, `jsonschema`, `protobuf`)
    /// included.
    Embedded(EmbeddedFormat),
    /// `application/vnd.kafka.v2+json`, `application/vnd.kafka+json`, `application/json`.
    Generic,
    /// `*/*` or `application/*`.
    Wildcard,
    Other(String),
}

pub fn classify(media_type: &str) -> MediaKind {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/vnd.kafka.binary.v2+json" => MediaKind::Embedded(EmbeddedFormat::Binary),
        "application/vnd.kafka.json.v2+json" => MediaKind::Embedded(EmbeddedFormat::Json),
        "application/vnd.kafka.text.v2+json" => MediaKind::Embedded(EmbeddedFormat::Text),
        "application/vnd.kafka.avro.v2+json" => {
            MediaKind::Embedded(EmbeddedFormat::Schema(SchemaFormat::Avro))
        }
        "application/vnd.kafka.jsonschema.v2+json" => {
            MediaKind::Embedded(EmbeddedFormat::Schema(SchemaFormat::JsonSchema))
        }
        "application/vnd.kafka.protobuf.v2+json" => {
            MediaKind::Embedded(EmbeddedFormat::Schema(SchemaFormat::Protobuf))
        }
        V2_JSON | "application/vnd.kafka+json" | "application/json" => MediaKind::Generic,
        "*/*" | "application/*" => MediaKind::Wildcard,
        _ => MediaKind::Other(essence),
    }
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The embedded format of a v2 produce body, from its `Content-Type`; the schema formats
/// only with a registry (`has_registry`) on the Confluent flavor.
pub fn produce_format(
    flavor: Flavor,
    has_registry: bool,
    headers: &HeaderMap,
) -> Result<EmbeddedFormat, ApiError> {
    let Some(content_type) = header(headers, CONTENT_TYPE) else {
        return Err(ApiError::unsupported_media_type(
            "Content-Type is missing; use application/vnd.kafka.{binary,json,text}.v2+json.",
        ));
    };
    match (classify(content_type), flavor) {
        (MediaKind::Embedded(EmbeddedFormat::Schema(format)), flavor)
            if !has_registry || flavor == Flavor::Strimzi =>
        {
            Err(schema_format_refused(format))
        }
        (MediaKind::Embedded(format), _) => Ok(format),
        // The 2019 Confluent docs: a generic type produces binary.
        (MediaKind::Generic, Flavor::Confluent) => Ok(EmbeddedFormat::Binary),
        _ => Err(ApiError::unsupported_media_type(format!(
            "Content-Type {content_type} is not supported; use \
             application/vnd.kafka.{{binary,json,text}}.v2+json."
        ))),
    }
}

/// The 415 of a schema format on a listener without a registry.
pub fn schema_format_refused(format: SchemaFormat) -> ApiError {
    ApiError::unsupported_media_type(format!(
        "Embedded format {} needs a schema registry: set `[bridge] schema_registry_url` \
         or enable `[schema_registry]` in the same gateway (Confluent flavor only).",
        format.name()
    ))
}

/// Checks the `Content-Type` of a consumer-control body: any v2 type (plain or embedded,
/// as Confluent's `@Consumes` lists) or `application/json`.
pub fn check_control_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(content_type) = header(headers, CONTENT_TYPE) else {
        return Err(ApiError::unsupported_media_type(format!(
            "Content-Type is missing; use {V2_JSON}."
        )));
    };
    match classify(content_type) {
        MediaKind::Embedded(_) | MediaKind::Generic => Ok(()),
        _ => Err(ApiError::unsupported_media_type(format!(
            "Content-Type {content_type} is not supported; use {V2_JSON}."
        ))),
    }
}

/// Checks that a records request's `Accept` matches the consumer's `format`.
pub fn negotiate_records(
    flavor: Flavor,
    headers: &HeaderMap,
    format: EmbeddedFormat,
) -> Result<(), ApiError> {
    let accept = header(headers, ACCEPT).unwrap_or_default();
    let mismatch = || {
        ApiError::not_acceptable(format!(
            "The consumer's format is {}; send Accept: {}.",
            format.name(),
            format.media_type()
        ))
    };
    if flavor == Flavor::Strimzi {
        return if accept.trim() == format.media_type() {
            Ok(())
        } else {
            Err(mismatch())
        };
    }
    let kinds: Vec<MediaKind> = accept
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(classify)
        .collect();
    if kinds.contains(&MediaKind::Embedded(format)) {
        return Ok(());
    }
    let names_a_format = kinds.iter().any(|k| matches!(k, MediaKind::Embedded(_)));
    if !names_a_format && format == EmbeddedFormat::Binary {
        return Ok(());
    }
    Err(mismatch())
}

/// A JSON response with a v2 media type.
#[derive(Debug)]
pub struct KafkaJson<T> {
    pub media_type: &'static str,
    pub body: T,
}

impl<T> KafkaJson<T> {
    pub fn v2(body: T) -> Self {
        Self {
            media_type: V2_JSON,
            body,
        }
    }
}

impl<T: Serialize> IntoResponse for KafkaJson<T> {
    fn into_response(self) -> Response {
        let mut response = axum::Json(self.body).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(self.media_type));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn confluent_generic_accept_means_binary() {
        let generic = accept(V2_JSON);
        assert!(negotiate_records(Flavor::Confluent, &generic, EmbeddedFormat::Binary).is_ok());
        let error =
            negotiate_records(Flavor::Confluent, &generic, EmbeddedFormat::Json).unwrap_err();
        assert_eq!(error.error_code, 40601);
        let none = HeaderMap::new();
        assert!(negotiate_records(Flavor::Confluent, &none, EmbeddedFormat::Binary).is_ok());
    }

    #[test]
    fn confluent_accept_list_with_the_format_matches() {
        let list = accept("application/vnd.kafka.json.v2+json; q=0.9, application/json");
        assert!(negotiate_records(Flavor::Confluent, &list, EmbeddedFormat::Json).is_ok());
        assert!(negotiate_records(Flavor::Confluent, &list, EmbeddedFormat::Binary).is_err());
    }

    #[test]
    fn strimzi_accept_must_be_exact() {
        let exact = accept("application/vnd.kafka.text.v2+json");
        assert!(negotiate_records(Flavor::Strimzi, &exact, EmbeddedFormat::Text).is_ok());
        let wildcard = accept("*/*");
        assert!(negotiate_records(Flavor::Strimzi, &wildcard, EmbeddedFormat::Binary).is_err());
    }

    #[test]
    fn produce_content_types_follow_the_flavor() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(
            produce_format(Flavor::Confluent, false, &headers).unwrap(),
            EmbeddedFormat::Binary
        );
        assert_eq!(
            produce_format(Flavor::Strimzi, false, &headers)
                .unwrap_err()
                .status
                .as_u16(),
            415
        );
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.kafka.avro.v2+json"),
        );
        assert!(produce_format(Flavor::Confluent, false, &headers).is_err());
        assert_eq!(
            produce_format(Flavor::Confluent, true, &headers).unwrap(),
            EmbeddedFormat::Schema(SchemaFormat::Avro)
        );
        assert!(produce_format(Flavor::Strimzi, true, &headers).is_err());
    }
}
