//! v3 keys and values of type AVRO, JSONSCHEMA and PROTOBUF, with the schema named as
//! REST Proxy's `SchemaManagerImpl` accepts: `schema_id` alone; `schema_version` with a
//! `subject` or a `subject_name_strategy`; a `schema` text (registered under the subject
//! if new); or nothing, for the subject's latest version. Errors are the record's own
//! report: 400 for a request that names no usable schema or a value that does not match,
//! 503 for a registry that cannot be reached.

use axum::http::StatusCode;

use super::records::{DataInfo, V3Data, failure};
use crate::produce::RecordFailure;
use crate::schema::strategy::{self, SchemaChoice, SubjectNameStrategy};
use crate::schema::{SchemaError, SchemaFormat};
use crate::state::BridgeState;

/// The framed bytes of `data` and what its report says; `format` is `None` when the
/// request gave no type and the registered schema's type is used.
pub(crate) async fn encode(
    state: &BridgeState,
    topic: &str,
    field: &str,
    format: Option<SchemaFormat>,
    data: V3Data,
) -> Result<(DataInfo, Vec<u8>), RecordFailure> {
    let bad = |message: String| failure(StatusCode::BAD_REQUEST, format!("Bad Request: {message}"));
    let Some(codecs) = state.schemas() else {
        return Err(bad(format!(
            "{field} needs a schema registry: set `[bridge] schema_registry_url` or enable \
             `[schema_registry]` in the same gateway."
        )));
    };
    let strategy = match data.subject_name_strategy.as_deref() {
        None => SubjectNameStrategy::TopicName,
        Some(text) => SubjectNameStrategy::parse(text).ok_or_else(|| {
            bad(format!(
                "{field} subject_name_strategy {text} is not TOPIC_NAME, RECORD_NAME or \
                 TOPIC_RECORD_NAME."
            ))
        })?,
    };
    let choice = match (data.schema_id, data.schema_version, data.schema) {
        (Some(id), None, None) => SchemaChoice::Id(id),
        (None, Some(version), None) => SchemaChoice::Version(version),
        (None, None, Some(text)) => SchemaChoice::Text(text),
        (None, None, None) => SchemaChoice::Latest,
        _ => {
            return Err(bad(format!(
                "{field} names its schema more than one way; use one of schema_id, \
                 schema_version or schema."
            )));
        }
    };
    let is_key = field == "key";
    // Without a type the registered schema decides it: look it up as any format first.
    let format = match format {
        Some(format) => format,
        None => match &choice {
            SchemaChoice::Id(id) => codecs
                .by_id(*id)
                .await
                .map_err(|error| record_failure(&error))?
                .format(),
            SchemaChoice::Text(_) => {
                return Err(bad(format!("{field} with a schema text needs a type.")));
            }
            SchemaChoice::Version(_) | SchemaChoice::Latest => {
                let subject = match data.subject.as_deref() {
                    Some(subject) => subject.to_owned(),
                    None => strategy
                        .subject(topic, is_key, None)
                        .map_err(|error| record_failure(&error))?,
                };
                let registered = match &choice {
                    SchemaChoice::Version(version) => {
                        codecs.client().version(&subject, *version).await
                    }
                    _ => codecs.client().latest(&subject).await,
                };
                let registered =
                    registered.map_err(|error| record_failure(&SchemaError::from_client(error)))?;
                SchemaFormat::of_schema_type(registered.schema_type)
            }
        },
    };
    let chosen = strategy::choose(
        codecs,
        topic,
        is_key,
        format,
        choice,
        data.subject.as_deref(),
        strategy,
    )
    .await
    .map_err(|error| record_failure(&error))?;
    let bytes = chosen
        .schema
        .encode(&data.data)
        .map_err(|error| record_failure(&error))?;
    let info = DataInfo {
        data_type: format.v3_type().to_owned(),
        size: bytes.len(),
        schema: Some((chosen.subject, chosen.schema.id, chosen.version)),
    };
    Ok((info, bytes))
}

/// A schema error as a v3 report: REST Proxy answers 400 for what the request got wrong
/// (its v3 codes are HTTP statuses), 503 when the registry is unreachable.
fn record_failure(error: &SchemaError) -> RecordFailure {
    let status = match error {
        SchemaError::RegistryUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        SchemaError::RegistryRejected { .. }
        | SchemaError::InvalidSchema(_)
        | SchemaError::Conversion { .. }
        | SchemaError::Undecodable(_) => StatusCode::BAD_REQUEST,
    };
    failure(status, error.to_string())
}
