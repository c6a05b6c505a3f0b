//! The consumer-create body in both products' spellings, parsed into typed settings.
//!
//! Confluent writes `auto.commit.enable` as a string, Strimzi `enable.auto.commit` as a
//! boolean; both names and both types are accepted on either flavor. Unknown fields are
//! refused (Strimzi's schema has `additionalProperties: false`) so that a typo is an
//! error naming the field rather than a silently ignored setting.

use std::time::Duration;

use axum::http::StatusCode;
use edge::json::integral_float_as_integer;
use serde_json::{Map, Value};

use super::instance::InstanceSettings;
use crate::config::Flavor;
use crate::error::ApiError;
use crate::media::EmbeddedFormat;

/// The create body as [`parse`] accepts it (documentation only: the handler reads a JSON
/// object field by field, so that both products' spellings and types are taken).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct CreateConsumerRequest {
    /// The instance name (default `rest-consumer-<random>`): not empty, without `/` or
    /// control characters.
    #[schema(pattern = "^[^/\\u0000-\\u001f\\u007f-\\u009f]+$")]
    name: Option<String>,
    /// Deprecated spelling of `name`, which it overrides.
    #[schema(pattern = "^[^/\\u0000-\\u001f\\u007f-\\u009f]+$")]
    id: Option<String>,
    /// binary (default), json, text (Strimzi), avro, jsonschema, protobuf (with a schema
    /// registry, Confluent flavor); read in any case.
    format: Option<ConsumerFormat>,
    #[serde(rename = "auto.offset.reset")]
    auto_offset_reset: Option<OffsetReset>,
    /// Confluent's spelling: `"true"` or `"false"` (a boolean is also taken).
    #[serde(rename = "auto.commit.enable")]
    auto_commit_enable: Option<Flag>,
    /// Strimzi's spelling: a boolean (`"true"`/`"false"` are also taken).
    #[serde(rename = "enable.auto.commit")]
    enable_auto_commit: Option<Flag>,
    /// Confluent: bytes the bridge accumulates before answering; Strimzi: the consumer's.
    #[serde(rename = "fetch.min.bytes")]
    #[schema(minimum = -1, maximum = 10_000_000)]
    fetch_min_bytes: Option<i64>,
    /// Alias of `fetch.min.bytes`.
    #[serde(rename = "responseMinBytes")]
    #[schema(minimum = -1, maximum = 10_000_000)]
    response_min_bytes: Option<i64>,
    /// Longest wait of a records request, ms.
    #[serde(rename = "consumer.request.timeout.ms")]
    #[schema(minimum = 0)]
    consumer_request_timeout_ms: Option<i64>,
    /// Alias of `consumer.request.timeout.ms`.
    #[serde(rename = "requestWaitMs")]
    #[schema(minimum = 0)]
    request_wait_ms: Option<i64>,
    #[serde(rename = "isolation.level")]
    isolation_level: Option<IsolationLevel>,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum ConsumerFormat {
    Binary,
    Json,
    Text,
    Avro,
    Jsonschema,
    Protobuf,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum OffsetReset {
    Earliest,
    Latest,
    None,
    Smallest,
    Largest,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum IsolationLevel {
    ReadCommitted,
    ReadUncommitted,
}

/// A boolean, or its text.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Flag {
    Boolean(bool),
    Text(FlagText),
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum FlagText {
    True,
    False,
}

/// What a create request asks for.
#[derive(Debug, Clone)]
pub(crate) struct CreateRequest {
    pub name: Option<String>,
    pub settings: InstanceSettings,
    /// Properties handed to librdkafka.
    pub properties: Vec<(&'static str, String)>,
}

const KNOWN_FIELDS: &[&str] = &[
    "name",
    "id",
    "format",
    "auto.offset.reset",
    "auto.commit.enable",
    "enable.auto.commit",
    "fetch.min.bytes",
    "responseMinBytes",
    "consumer.request.timeout.ms",
    "requestWaitMs",
    "isolation.level",
];

fn invalid(flavor: Flavor, message: String) -> ApiError {
    match flavor {
        Flavor::Confluent => ApiError::unprocessable(42204, message),
        Flavor::Strimzi => ApiError::plain(StatusCode::BAD_REQUEST, message),
    }
}

fn string_field(
    flavor: Flavor,
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(invalid(
            flavor,
            format!("Invalid consumer configuration: `{key}` must be a string, not {other}."),
        )),
    }
}

fn bool_field(
    flavor: Flavor,
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(invalid(
            flavor,
            format!("Invalid consumer configuration: `{key}` must be true or false, not {other}."),
        )),
    }
}

fn int_field(
    flavor: Flavor,
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<i64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        // `230.0` is an integer for JSON Schema and for Confluent's Jackson.
        Some(Value::Number(n)) if n.as_f64().and_then(integral_float_as_integer).is_some() => {
            Ok(n.as_f64().and_then(integral_float_as_integer))
        }
        Some(Value::String(text)) => text.trim().parse().map(Some).map_err(|_| {
            invalid(
                flavor,
                format!(
                    "Invalid consumer configuration: `{key}` must be an integer, not {text:?}."
                ),
            )
        }),
        Some(other) => Err(invalid(
            flavor,
            format!("Invalid consumer configuration: `{key}` must be an integer, not {other}."),
        )),
    }
}

/// Parses and validates a create body (`None`: an empty body, all defaults).
pub(crate) fn parse(flavor: Flavor, body: Option<Value>) -> Result<CreateRequest, ApiError> {
    let body = match body {
        None => Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(invalid(
                flavor,
                format!("The consumer configuration must be a JSON object, not {other}."),
            ));
        }
    };
    if let Some(unknown) = body.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(invalid(
            flavor,
            format!(
                "Invalid consumer configuration: unknown field `{unknown}`; known fields are {}.",
                KNOWN_FIELDS.join(", ")
            ),
        ));
    }
    // Both spellings are checked; `id` wins.
    let id = string_field(flavor, &body, "id")?;
    let name = string_field(flavor, &body, "name")?;
    for given in id.iter().chain(name.iter()) {
        if given.is_empty() || given.contains('/') || given.chars().any(char::is_control) {
            return Err(invalid(
                flavor,
                format!("Invalid consumer name {given:?}: must be non-empty without `/`."),
            ));
        }
    }
    let name = id.or(name);
    let format = match string_field(flavor, &body, "format")? {
        None => EmbeddedFormat::Binary,
        Some(text) => EmbeddedFormat::from_name(&text).ok_or_else(|| {
            ApiError::unprocessable(
                422,
                format!(
                    "Invalid format type {text:?}; use binary, json, text, avro, jsonschema \
                     or protobuf."
                ),
            )
        })?,
    };
    let mut properties = Vec::new();
    if let Some(reset) = string_field(flavor, &body, "auto.offset.reset")? {
        let reset = reset.to_ascii_lowercase();
        if !["earliest", "latest", "none", "smallest", "largest"].contains(&reset.as_str()) {
            return Err(invalid(
                flavor,
                format!(
                    "Invalid consumer configuration: `auto.offset.reset` must be earliest, \
                     latest or none, not {reset:?}."
                ),
            ));
        }
        properties.push(("auto.offset.reset", reset));
    }
    if let Some(level) = string_field(flavor, &body, "isolation.level")? {
        if !["read_committed", "read_uncommitted"].contains(&level.as_str()) {
            return Err(invalid(
                flavor,
                format!(
                    "Invalid consumer configuration: `isolation.level` must be read_committed \
                     or read_uncommitted, not {level:?}."
                ),
            ));
        }
        properties.push(("isolation.level", level));
    }
    // Both spellings are checked, Strimzi's wins.
    let strimzi_spelling = bool_field(flavor, &body, "enable.auto.commit")?;
    let confluent_spelling = bool_field(flavor, &body, "auto.commit.enable")?;
    let auto_commit = strimzi_spelling.or(confluent_spelling).unwrap_or(true);
    properties.push(("enable.auto.commit", auto_commit.to_string()));

    // Both spellings are checked, the first one wins.
    let alias = int_field(flavor, &body, "responseMinBytes")?;
    if let Some(alias) = alias
        && !(-1..=10_000_000).contains(&alias)
    {
        return Err(ApiError::unprocessable(
            40001,
            format!("`responseMinBytes` must be from -1 to 10000000, not {alias}."),
        ));
    }
    let min_bytes = int_field(flavor, &body, "fetch.min.bytes")?.or(alias);
    let mut response_min_bytes = None;
    if let Some(min_bytes) = min_bytes {
        if !(-1..=10_000_000).contains(&min_bytes) {
            return Err(ApiError::unprocessable(
                40001,
                format!("`fetch.min.bytes` must be from -1 to 10000000, not {min_bytes}."),
            ));
        }
        match flavor {
            // Confluent: bytes the proxy accumulates before answering.
            Flavor::Confluent => response_min_bytes = usize::try_from(min_bytes).ok(),
            // Strimzi: the Kafka consumer's own setting.
            Flavor::Strimzi if min_bytes >= 1 => {
                properties.push(("fetch.min.bytes", min_bytes.to_string()));
            }
            Flavor::Strimzi => {}
        }
    }
    let alias = int_field(flavor, &body, "requestWaitMs")?;
    if let Some(ms) = alias
        && ms < 0
    {
        return Err(invalid(
            flavor,
            format!("`requestWaitMs` must not be negative, not {ms}."),
        ));
    }
    let request_timeout = int_field(flavor, &body, "consumer.request.timeout.ms")?.or(alias);
    let request_timeout = match request_timeout {
        None => None,
        Some(ms) if ms >= 0 => Some(Duration::from_millis(ms.unsigned_abs())),
        Some(ms) => {
            return Err(invalid(
                flavor,
                format!("`consumer.request.timeout.ms` must not be negative, not {ms}."),
            ));
        }
    };
    Ok(CreateRequest {
        name,
        settings: InstanceSettings {
            format,
            auto_commit,
            response_min_bytes,
            request_timeout,
        },
        properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_auto_commit_spellings_are_accepted() {
        let confluent = parse(
            Flavor::Confluent,
            Some(json!({"auto.commit.enable": "false"})),
        )
        .unwrap();
        assert!(!confluent.settings.auto_commit);
        let strimzi = parse(Flavor::Strimzi, Some(json!({"enable.auto.commit": false}))).unwrap();
        assert!(!strimzi.settings.auto_commit);
        assert!(parse(Flavor::Confluent, None).unwrap().settings.auto_commit);
    }

    #[test]
    fn both_auto_commit_spellings_are_checked_when_both_are_given() {
        for flavor in [Flavor::Confluent, Flavor::Strimzi] {
            let error = parse(
                flavor,
                Some(json!({"enable.auto.commit": "true", "auto.commit.enable": {"x": 1}})),
            )
            .unwrap_err();
            assert!(error.message.contains("auto.commit.enable"), "{error}");
            let request = parse(
                flavor,
                Some(json!({"enable.auto.commit": false, "auto.commit.enable": "true"})),
            )
            .unwrap();
            assert!(!request.settings.auto_commit, "Strimzi's spelling wins");
        }
    }

    #[test]
    fn invalid_settings_are_named() {
        let error = parse(
            Flavor::Confluent,
            Some(json!({"fetch.min.bytes": 20_000_000})),
        )
        .unwrap_err();
        assert_eq!(error.error_code, 40001);
        let error = parse(Flavor::Strimzi, Some(json!({"auto.comit.enable": true}))).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(error.message.contains("auto.comit.enable"));
        let error = parse(Flavor::Confluent, Some(json!({"format": "xml"}))).unwrap_err();
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn an_alias_out_of_range_is_refused_even_beside_the_main_spelling() {
        let error = parse(
            Flavor::Confluent,
            Some(json!({"fetch.min.bytes": 0, "responseMinBytes": -2})),
        )
        .unwrap_err();
        assert_eq!(error.error_code, 40001);
        let error = parse(
            Flavor::Confluent,
            Some(json!({"consumer.request.timeout.ms": 0, "requestWaitMs": -1})),
        )
        .unwrap_err();
        assert!(error.message.contains("requestWaitMs"), "{}", error.message);
    }

    #[test]
    fn an_invalid_name_is_refused_even_beside_an_id() {
        let error = parse(Flavor::Confluent, Some(json!({"id": "0", "name": ""}))).unwrap_err();
        assert_eq!(error.error_code, 42204);
        let request = parse(Flavor::Confluent, Some(json!({"id": "a", "name": "b"}))).unwrap();
        assert_eq!(request.name.as_deref(), Some("a"));
    }

    #[test]
    fn integral_floats_are_integers() {
        let request = parse(
            Flavor::Confluent,
            Some(json!({"responseMinBytes": 230.0, "requestWaitMs": 192})),
        )
        .unwrap();
        assert_eq!(request.settings.response_min_bytes, Some(230));
        assert!(parse(Flavor::Confluent, Some(json!({"fetch.min.bytes": 2.5}))).is_err());
    }

    #[test]
    fn fetch_min_bytes_goes_where_each_product_puts_it() {
        let confluent = parse(Flavor::Confluent, Some(json!({"fetch.min.bytes": 100}))).unwrap();
        assert_eq!(confluent.settings.response_min_bytes, Some(100));
        let strimzi = parse(Flavor::Strimzi, Some(json!({"fetch.min.bytes": 100}))).unwrap();
        assert!(
            strimzi
                .properties
                .contains(&("fetch.min.bytes", "100".to_owned()))
        );
    }
}
