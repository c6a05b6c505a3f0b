//! The schemas of a v2 produce request in a schema-registry format
//! (`application/vnd.kafka.{avro,jsonschema,protobuf}.v2+json`), as REST Proxy reads
//! them: `key_schema` / `value_schema` (a schema text, registered under `<topic>-key` /
//! `<topic>-value`) or `key_schema_id` / `value_schema_id`. They are resolved once per
//! request, before any record is sent; a record whose key or value does not match then
//! fails alone (42203) while the others are produced.

use std::sync::Arc;

use broker_core::produce::OutgoingRecord;
use serde_json::Value;

use crate::error::ApiError;
use crate::media::EmbeddedFormat;
use crate::produce::{ProduceRecord, ProduceRequest, outgoing_record};
use crate::schema::ReadySchema;
use crate::schema::strategy::{self, SchemaChoice, SubjectNameStrategy};
use crate::state::BridgeState;

/// The key and value schemas of one request.
#[derive(Debug)]
pub(crate) struct RequestSchemas {
    key: Option<Arc<ReadySchema>>,
    value: Option<Arc<ReadySchema>>,
}

impl RequestSchemas {
    /// `None` for the schemaless formats (which take no schema fields).
    pub(crate) async fn resolve(
        state: &BridgeState,
        topic: &str,
        format: EmbeddedFormat,
        request: &ProduceRequest,
    ) -> Result<Option<Self>, ApiError> {
        let Some(format) = format.schema_format() else {
            if request.key_schema.is_some()
                || request.key_schema_id.is_some()
                || request.value_schema.is_some()
                || request.value_schema_id.is_some()
            {
                return Err(ApiError::unprocessable(
                    42205,
                    format!(
                        "Schemas are read only with the avro, jsonschema and protobuf \
                         formats, not with {}.",
                        format.name()
                    ),
                ));
            }
            return Ok(None);
        };
        let codecs = state
            .schemas()
            .ok_or_else(|| crate::media::schema_format_refused(format))?;
        let has_keys = request.records.iter().any(|r| present(r.key.as_ref()));
        let has_values = request.records.iter().any(|r| present(r.value.as_ref()));
        let key_choice = choice(&request.key_schema, &request.key_schema_id, "key")?;
        let value_choice = choice(&request.value_schema, &request.value_schema_id, "value")?;
        if has_keys && key_choice.is_none() {
            return Err(ApiError::unprocessable(
                42201,
                "Request includes keys but does not include key schema",
            ));
        }
        if has_values && value_choice.is_none() {
            return Err(ApiError::unprocessable(
                42202,
                "Request includes values but does not include value schema",
            ));
        }
        let resolve = |is_key: bool, choice: Option<SchemaChoice>| async move {
            match choice {
                None => Ok(None),
                Some(choice) => strategy::choose(
                    codecs,
                    topic,
                    is_key,
                    format,
                    choice,
                    None,
                    SubjectNameStrategy::TopicName,
                )
                .await
                .map(|chosen| Some(chosen.schema))
                .map_err(crate::schema::SchemaError::into_api),
            }
        };
        Ok(Some(Self {
            key: resolve(true, key_choice).await?,
            value: resolve(false, value_choice).await?,
        }))
    }

    /// The ids the answer carries as `key_schema_id` / `value_schema_id`.
    pub(crate) fn ids(&self) -> (Option<i32>, Option<i32>) {
        (
            self.key.as_ref().map(|s| s.id),
            self.value.as_ref().map(|s| s.id),
        )
    }

    /// One record written with the request's schemas; a mismatch is this record's 42203.
    pub(crate) fn encode_record(
        &self,
        topic: &Arc<str>,
        record: ProduceRecord,
        index: usize,
    ) -> Result<OutgoingRecord, ApiError> {
        let encode = |schema: &Option<Arc<ReadySchema>>, json: Option<Value>, field: &str| match (
            schema, json,
        ) {
            (_, None | Some(Value::Null)) => Ok(None),
            (Some(schema), Some(json)) => schema.encode(&json).map(Some).map_err(|error| {
                let mut api = error.into_api();
                api.message = format!("records[{index}].{field}: {}", api.message);
                api
            }),
            (None, Some(_)) => Err(ApiError::unprocessable(
                42203,
                format!("records[{index}].{field} has no schema"),
            )),
        };
        let key = encode(&self.key, record.key, "key")?;
        let value = encode(&self.value, record.value, "value")?;
        outgoing_record(topic, key, value, record.headers, record.timestamp, index)
    }
}

fn present(value: Option<&Value>) -> bool {
    value.is_some_and(|v| !v.is_null())
}

/// What the request says about one side's schema; a text wins over an id, as REST Proxy's
/// `SchemaManagerImpl` looks at the text first.
fn choice(
    text: &Option<Value>,
    id: &Option<Value>,
    side: &str,
) -> Result<Option<SchemaChoice>, ApiError> {
    // An id is checked even beside a text (which wins), as Confluent's typed request reads
    // it: 2^31 is not a schema id.
    let id = match id {
        Some(Value::Number(number)) => Some(
            number
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| {
                    ApiError::unprocessable(42205, format!("{side}_schema_id must be a schema id"))
                })?,
        ),
        Some(Value::Null) | None => None,
        Some(other) => {
            return Err(ApiError::unprocessable(
                42205,
                format!("{side}_schema_id must be a schema id, not {other}"),
            ));
        }
    };
    match (text, id) {
        (Some(Value::String(text)), _) => Ok(Some(SchemaChoice::Text(text.clone()))),
        // A schema given as a JSON document rather than a string is taken as its text.
        (Some(object @ (Value::Object(_) | Value::Array(_))), _) => {
            Ok(Some(SchemaChoice::Text(object.to_string())))
        }
        (Some(Value::Null) | None, Some(id)) => Ok(Some(SchemaChoice::Id(id))),
        (Some(Value::Null) | None, None) => Ok(None),
        (Some(other), _) => Err(ApiError::unprocessable(
            42205,
            format!("{side}_schema must be the schema's text, not {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SchemaFormat;
    use serde_json::json;

    #[test]
    fn a_side_names_its_schema_by_text_or_id() {
        assert!(matches!(
            choice(&Some(json!("\"string\"")), &None, "key").unwrap(),
            Some(SchemaChoice::Text(text)) if text == "\"string\""
        ));
        assert!(matches!(
            choice(&None, &Some(json!(7)), "value").unwrap(),
            Some(SchemaChoice::Id(7))
        ));
        assert!(choice(&None, &None, "value").unwrap().is_none());
        let error = choice(&None, &Some(json!("7")), "value").unwrap_err();
        assert_eq!(error.error_code, 42205);
        assert!(choice(&Some(json!(5)), &None, "key").is_err());
    }

    #[test]
    fn an_id_out_of_range_is_refused_even_beside_a_text() {
        let error = choice(&Some(json!("")), &Some(json!(2_147_483_648_i64)), "value").unwrap_err();
        assert_eq!(error.error_code, 42205);
    }

    #[test]
    fn the_format_names_are_rest_proxy_s() {
        assert_eq!(SchemaFormat::from_name("AVRO"), Some(SchemaFormat::Avro));
        assert_eq!(SchemaFormat::JsonSchema.v3_type(), "JSONSCHEMA");
    }
}
