//! Produce: the v2 handlers (`POST /topics/{t}`, `POST /topics/{t}/partitions/{p}`) and
//! the send path they share with v3.
//!
//! Every record of a request goes to the one shared producer (`acks=all`, idempotent), in
//! request order, before any delivery is awaited; a 200 is sent only once each record was
//! acknowledged or failed, so a success in the response means the broker has the record.
//! Records go through broker-core's produce path ([`broker_core::produce`]): a full local
//! queue is backpressure, and the handler waits for room instead of failing, at most
//! [`QUEUE_FULL_WAIT`]; a record that did not get in by then fails alone (503, 50003).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use broker_core::ErrorKind;
use broker_core::produce::{EnqueueError, OutgoingRecord};
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryFuture, FutureProducer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument as _;

use crate::authz::Caller;
use crate::config::Flavor;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, body_bytes, parse_json};
use crate::media::{self, EmbeddedFormat, KafkaJson};
use crate::state::BridgeState;

/// Longest a request waits for room in a full producer queue: the bound of broker-core's
/// `QueueFull` policy for the bridge, shorter than its default because an HTTP client is
/// waiting for the answer (a 503 with 50003 for each record that did not get in).
pub(crate) const QUEUE_FULL_WAIT: Duration = Duration::from_secs(30);

/// A v2 produce body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ProduceRequest {
    #[serde(default, deserialize_with = "records_as_objects")]
    #[schema(min_items = 1)]
    pub records: Vec<ProduceRecord>,
    /// avro, jsonschema, protobuf: the key schema's text, registered under
    /// `<topic>-key` (TopicNameStrategy).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub key_schema: Option<Value>,
    /// avro, jsonschema, protobuf: the id of a registered key schema.
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub key_schema_id: Option<Value>,
    /// avro, jsonschema, protobuf: the value schema's text, registered under
    /// `<topic>-value`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub value_schema: Option<Value>,
    /// avro, jsonschema, protobuf: the id of a registered value schema.
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub value_schema_id: Option<Value>,
}

/// Each record must be a JSON object: serde's derived structs also take an array of the
/// fields in order (`[key, value]`), which Confluent's Jackson refuses.
fn records_as_objects<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ProduceRecord>, D::Error> {
    let objects: Vec<serde_json::Map<String, Value>> = Deserialize::deserialize(deserializer)?;
    objects
        .into_iter()
        .map(|object| {
            serde_json::from_value(Value::Object(object)).map_err(serde::de::Error::custom)
        })
        .collect()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ProduceRecord {
    /// binary: base64 string; json: any JSON; text: a string; avro: Avro's JSON encoding
    /// (unions wrapped as `{"type": value}`); jsonschema: JSON valid for the schema;
    /// protobuf: proto3 JSON of the schema's first message.
    #[serde(default)]
    pub key: Option<Value>,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub partition: Option<i32>,
    /// Strimzi-style record headers, values base64.
    #[serde(default)]
    pub headers: Option<Vec<RecordHeader>>,
    /// Record timestamp, milliseconds since the epoch.
    #[serde(default)]
    pub timestamp: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct RecordHeader {
    pub key: String,
    /// Base64 of the header value; absent or null for a null value.
    #[serde(default)]
    pub value: Option<String>,
}

/// Where one record landed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivered {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
}

/// Hands `record` to the producer through the shared produce path, waiting (at most
/// [`QUEUE_FULL_WAIT`]) while its queue is full.
pub(crate) async fn enqueue(
    state: &BridgeState,
    producer: &FutureProducer,
    record: &OutgoingRecord,
) -> Result<DeliveryFuture, EnqueueError> {
    state.enqueuer().enqueue(producer, record).await
}

/// Waits for the broker's acknowledgement of one enqueued record.
pub(crate) async fn delivered(delivery: DeliveryFuture) -> Result<Delivered, KafkaError> {
    match delivery.await {
        Ok(Ok(delivery)) => Ok(Delivered {
            partition: delivery.partition,
            offset: delivery.offset,
            timestamp: delivery.timestamp.to_millis(),
        }),
        Ok(Err((error, _))) => Err(error),
        Err(_canceled) => Err(KafkaError::Canceled),
    }
}

/// Sends every record in order, then awaits every acknowledgement.
pub(crate) async fn send_all(
    state: &BridgeState,
    producer: &FutureProducer,
    topic: &str,
    records: Vec<Result<OutgoingRecord, ApiError>>,
) -> Vec<Result<Delivered, RecordFailure>> {
    let mut pending = Vec::with_capacity(records.len());
    for record in records {
        pending.push(match record {
            Ok(record) => enqueue(state, producer, &record)
                .await
                .map_err(|e| RecordFailure::from_enqueue(&e)),
            Err(error) => Err(RecordFailure::from_api(error)),
        });
    }
    let mut results = Vec::with_capacity(pending.len());
    for entry in pending {
        results.push(match entry {
            Ok(delivery) => delivered(delivery)
                .await
                .map_err(|e| RecordFailure::from_kafka(&e)),
            Err(failure) => Err(failure),
        });
    }
    let failed = results.iter().filter(|r| r.is_err()).count();
    state.metrics().produced(
        topic,
        u64::try_from(results.len() - failed).unwrap_or(u64::MAX),
        u64::try_from(failed).unwrap_or(u64::MAX),
    );
    results
}

/// Why one record of a request failed, with its Confluent code.
#[derive(Debug, Clone)]
pub(crate) struct RecordFailure {
    pub error_code: u32,
    pub http_status: u16,
    pub message: String,
}

impl RecordFailure {
    pub(crate) fn from_kafka(error: &KafkaError) -> Self {
        Self::classified(ErrorKind::from_kafka_error(error), error.to_string())
    }

    /// A record the producer did not take: librdkafka's refusal as [`Self::from_kafka`];
    /// a queue that stayed full is retriable (503, 50003), as `QueueFull` always was.
    pub(crate) fn from_enqueue(error: &EnqueueError) -> Self {
        match error {
            EnqueueError::Refused { source } => Self::from_kafka(source),
            EnqueueError::QueueStayedFull { .. } => {
                Self::classified(error.kind(), error.to_string())
            }
        }
    }

    fn classified(kind: ErrorKind, message: String) -> Self {
        let error_code = match kind {
            ErrorKind::Unauthenticated => 40101,
            ErrorKind::Forbidden => 40301,
            kind if kind.is_retriable() => 50003,
            _ => 50002,
        };
        Self {
            error_code,
            http_status: kind.http_status(),
            message,
        }
    }

    fn from_api(error: ApiError) -> Self {
        Self {
            error_code: error.error_code,
            http_status: error.status.as_u16(),
            message: error.message,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
// Query parameters: without this utoipa documents them as path parameters that the path
// template does not have (found by schemathesis).
#[into_params(parameter_in = Query)]
pub(crate) struct ProduceQuery {
    /// Strimzi: `true` answers 204 at once without waiting for acknowledgements.
    #[serde(default, rename = "async")]
    pub asynchronous: Option<bool>,
}

/// A parsed v2 produce request: the embedded format from `Content-Type` and the body.
#[derive(Debug)]
pub(crate) struct ProduceBody {
    format: EmbeddedFormat,
    request: ProduceRequest,
}

impl FromRequest<BridgeState> for ProduceBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &BridgeState) -> Result<Self, ApiError> {
        let flavor = state.config().flavor;
        let format = media::produce_format(flavor, state.schemas().is_some(), request.headers())?;
        let bytes = body_bytes(request, state).await?;
        let request: ProduceRequest = parse_json(flavor, &bytes)?;
        Ok(Self { format, request })
    }
}

/// Produce records to a topic.
#[utoipa::path(
    post, path = "/topics/{topic}", tag = "v2 produce",
    params(("topic" = String, Path, description = "Topic name"), ProduceQuery),
    request_body(content(
        (ProduceRequest = "application/vnd.kafka.binary.v2+json"),
        (ProduceRequest = "application/vnd.kafka.json.v2+json"),
        (ProduceRequest = "application/vnd.kafka.text.v2+json"),
        (ProduceRequest = "application/vnd.kafka.avro.v2+json"),
        (ProduceRequest = "application/vnd.kafka.jsonschema.v2+json"),
        (ProduceRequest = "application/vnd.kafka.protobuf.v2+json")),
        description = "Embedded format binary, json or text; avro, jsonschema and protobuf \
            with a schema registry on the Confluent flavor (else 415)"),
    responses(
        (status = 200, description = "Every record acknowledged or failed", body = Value),
        (status = 204, description = "Strimzi `async=true`: accepted, not awaited"),
        (status = 404, description = "Unknown topic (40401)", body = crate::ErrorBody),
        (status = 415, description = "Unsupported Content-Type; avro, jsonschema and protobuf \
            only on the Confluent flavor with a schema registry", body = crate::ErrorBody),
        (status = 422, description = "Invalid records: 42201/42202 key/value schema missing, \
            42205 invalid schema, 42207 registry refusal; a record that does not match its \
            schema answers 422 with its own 42203 entry in `offsets` (the produce response, \
            in the v2 media type)", content(
            (crate::ErrorBody = "application/json"),
            (Value = "application/vnd.kafka.v2+json"))),
        (status = 503, description = "Schema registry unreachable (50003)", body = crate::ErrorBody))
)]
pub(crate) async fn produce_to_topic(
    State(state): State<BridgeState>,
    ApiPath(topic): ApiPath<String>,
    ApiQuery(query): ApiQuery<ProduceQuery>,
    caller: Caller,
    body: ProduceBody,
) -> Result<Response, ApiError> {
    produce(state, topic, None, query, &caller, body).await
}

/// Produce records to one partition of a topic.
#[utoipa::path(
    post, path = "/topics/{topic}/partitions/{partition}", tag = "v2 produce",
    params(
        ("topic" = String, Path, description = "Topic name"),
        ("partition" = i32, Path, description = "Partition id"),
        ProduceQuery),
    request_body(content(
        (ProduceRequest = "application/vnd.kafka.binary.v2+json"),
        (ProduceRequest = "application/vnd.kafka.json.v2+json"),
        (ProduceRequest = "application/vnd.kafka.text.v2+json"),
        (ProduceRequest = "application/vnd.kafka.avro.v2+json"),
        (ProduceRequest = "application/vnd.kafka.jsonschema.v2+json"),
        (ProduceRequest = "application/vnd.kafka.protobuf.v2+json")),
        description = "Embedded format binary, json or text; avro, jsonschema and protobuf \
            with a schema registry on the Confluent flavor (else 415)"),
    responses(
        (status = 200, description = "Every record acknowledged or failed", body = Value),
        (status = 204, description = "Strimzi `async=true`: accepted, not awaited"),
        (status = 404, description = "Unknown topic (40401) or partition (40402)", body = crate::ErrorBody),
        (status = 415, description = "Unsupported Content-Type; avro, jsonschema and protobuf \
            only on the Confluent flavor with a schema registry", body = crate::ErrorBody),
        (status = 422, description = "Invalid records: 42201/42202 key/value schema missing, \
            42205 invalid schema, 42207 registry refusal; a record that does not match its \
            schema answers 422 with its own 42203 entry in `offsets` (the produce response, \
            in the v2 media type)", content(
            (crate::ErrorBody = "application/json"),
            (Value = "application/vnd.kafka.v2+json"))),
        (status = 503, description = "Schema registry unreachable (50003)", body = crate::ErrorBody))
)]
pub(crate) async fn produce_to_partition(
    State(state): State<BridgeState>,
    ApiPath((topic, partition)): ApiPath<(String, i32)>,
    ApiQuery(query): ApiQuery<ProduceQuery>,
    caller: Caller,
    body: ProduceBody,
) -> Result<Response, ApiError> {
    produce(state, topic, Some(partition), query, &caller, body).await
}

async fn produce(
    state: BridgeState,
    topic: String,
    path_partition: Option<i32>,
    query: ProduceQuery,
    caller: &Caller,
    body: ProduceBody,
) -> Result<Response, ApiError> {
    let flavor = state.config().flavor;
    // Before any work: an unmapped principal may be refused outright.
    let producer = state.producer_for(caller)?;
    let ProduceBody { format, request } = body;
    if request.records.is_empty() {
        return Err(ApiError::unprocessable(422, "records may not be empty"));
    }
    let partitions = state.partition_count(&topic).await?;
    let schemas =
        crate::produce_schema::RequestSchemas::resolve(&state, &topic, format, &request).await?;
    if let Some(partition) = path_partition
        && (partition < 0 || partition >= partitions)
    {
        return Err(ApiError::partition_not_found(&topic, partition));
    }
    let topic_name: Arc<str> = Arc::from(topic.as_str());
    let mut outgoing = Vec::with_capacity(request.records.len());
    for (index, record) in request.records.into_iter().enumerate() {
        let partition = match (record.partition, path_partition, flavor) {
            (Some(_), Some(_), Flavor::Strimzi) => {
                return Err(ApiError::unprocessable(
                    422,
                    format!("records[{index}]: partition is set both in the path and the record"),
                ));
            }
            (Some(own), _, _) => Some(own),
            (None, path, _) => path,
        };
        let decoded = match &schemas {
            // A value that does not match its schema fails alone, as a Kafka error would.
            Some(schemas) => match schemas.encode_record(&topic_name, record, index) {
                Ok(decoded) => decoded,
                Err(error) => {
                    outgoing.push(Err(error));
                    continue;
                }
            },
            None => decode_record(&topic_name, format, record, index)?,
        };
        outgoing.push(match partition {
            Some(p) if p < 0 || p >= partitions => Err(ApiError::partition_not_found(&topic, p)),
            _ => Ok(OutgoingRecord {
                partition,
                ..decoded
            }),
        });
    }
    let span = crate::record_trace::produce_span(&topic, Some(outgoing.len()));
    for record in outgoing.iter_mut().flatten() {
        crate::record_trace::trace_record(&span, record);
    }
    if flavor == Flavor::Strimzi && query.asynchronous == Some(true) {
        let producer_state = state.clone();
        broker_core::task::spawn("bridge-async-produce", async move {
            let results = send_all(&producer_state, &producer, &topic, outgoing)
                .instrument(span)
                .await;
            let failed = results.iter().filter(|r| r.is_err()).count();
            if failed > 0 {
                tracing::warn!(topic, failed, "asynchronous produce had failed records");
            }
        });
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let results = send_all(&state, &producer, &topic, outgoing)
        .instrument(span)
        .await;
    let ids = schemas.as_ref().map(|s| s.ids()).unwrap_or_default();
    Ok(render_v2_results(flavor, &results, ids))
}

/// Turns one request record into bytes for the embedded format.
pub(crate) fn decode_record(
    topic: &Arc<str>,
    format: EmbeddedFormat,
    record: ProduceRecord,
    index: usize,
) -> Result<OutgoingRecord, ApiError> {
    let key = embedded_bytes(format, record.key, index, "key")?;
    let value = embedded_bytes(format, record.value, index, "value")?;
    outgoing_record(topic, key, value, record.headers, record.timestamp, index)
}

/// A record of the produce path from its bytes and request fields.
pub(crate) fn outgoing_record(
    topic: &Arc<str>,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    request_headers: Option<Vec<RecordHeader>>,
    timestamp: Option<i64>,
    index: usize,
) -> Result<OutgoingRecord, ApiError> {
    let mut headers = Vec::new();
    for header in request_headers.unwrap_or_default() {
        let value = match header.value {
            None => None,
            Some(text) => Some(BASE64.decode(text.as_bytes()).map_err(|error| {
                ApiError::unprocessable(
                    42203,
                    format!(
                        "records[{index}].headers `{}`: value is not base64 ({error})",
                        header.key
                    ),
                )
            })?),
        };
        headers.push((header.key, value));
    }
    Ok(OutgoingRecord {
        key,
        value,
        headers,
        timestamp,
        ..OutgoingRecord::to_topic(Arc::clone(topic))
    })
}

fn embedded_bytes(
    format: EmbeddedFormat,
    value: Option<Value>,
    index: usize,
    field: &str,
) -> Result<Option<Vec<u8>>, ApiError> {
    let value = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => value,
    };
    match (format, value) {
        (EmbeddedFormat::Json, value) => Ok(Some(value.to_string().into_bytes())),
        (EmbeddedFormat::Binary, Value::String(text)) => {
            BASE64.decode(text.as_bytes()).map(Some).map_err(|error| {
                ApiError::unprocessable(
                    42203,
                    format!("records[{index}].{field} is not a base64 string ({error})"),
                )
            })
        }
        (EmbeddedFormat::Text, Value::String(text)) => Ok(Some(text.into_bytes())),
        (format, _) => Err(ApiError::unprocessable(
            42203,
            format!(
                "records[{index}].{field} must be a string in the {} format",
                format.name()
            ),
        )),
    }
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum V2Offset {
    Confluent {
        partition: Option<i32>,
        offset: Option<i64>,
        error_code: Option<u32>,
        error: Option<String>,
    },
    StrimziSuccess {
        partition: i32,
        offset: i64,
    },
    StrimziFailure {
        error_code: u16,
        message: String,
    },
}

fn render_v2_results(
    flavor: Flavor,
    results: &[Result<Delivered, RecordFailure>],
    (key_schema_id, value_schema_id): (Option<i32>, Option<i32>),
) -> Response {
    let offsets: Vec<V2Offset> = results
        .iter()
        .map(|result| match (flavor, result) {
            (Flavor::Confluent, Ok(d)) => V2Offset::Confluent {
                partition: Some(d.partition),
                offset: Some(d.offset),
                error_code: None,
                error: None,
            },
            (Flavor::Confluent, Err(f)) => V2Offset::Confluent {
                partition: None,
                offset: None,
                error_code: Some(f.error_code),
                error: Some(f.message.clone()),
            },
            (Flavor::Strimzi, Ok(d)) => V2Offset::StrimziSuccess {
                partition: d.partition,
                offset: d.offset,
            },
            (Flavor::Strimzi, Err(f)) => V2Offset::StrimziFailure {
                error_code: f.http_status,
                message: f.message.clone(),
            },
        })
        .collect();
    // Confluent answers 401/403 when a record failed on credentials, and 422 here when a
    // record did not match its schema; otherwise 200 even when some records failed.
    let status = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .find_map(|f| match f.error_code {
            40101 => Some(StatusCode::UNAUTHORIZED),
            40301 => Some(StatusCode::FORBIDDEN),
            42203 => Some(StatusCode::UNPROCESSABLE_ENTITY),
            _ => None,
        })
        .filter(|_| flavor == Flavor::Confluent)
        .unwrap_or(StatusCode::OK);
    let body = match flavor {
        Flavor::Confluent => serde_json::json!({
            "offsets": offsets,
            "key_schema_id": key_schema_id,
            "value_schema_id": value_schema_id,
        }),
        Flavor::Strimzi => serde_json::json!({ "offsets": offsets }),
    };
    (status, KafkaJson::v2(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn topic() -> Arc<str> {
        Arc::from("t")
    }

    #[test]
    fn a_record_is_an_object_not_an_array() {
        let parsed: ProduceRequest =
            serde_json::from_value(json!({"records": [{"value": "v"}]})).unwrap();
        assert_eq!(parsed.records[0].value, Some(json!("v")));
        let refused = serde_json::from_value::<ProduceRequest>(json!({"records": [[null, null]]}));
        assert!(refused.is_err());
    }

    fn record(key: Value, value: Value) -> ProduceRecord {
        ProduceRecord {
            key: Some(key),
            value: Some(value),
            partition: None,
            headers: None,
            timestamp: None,
        }
    }

    #[test]
    fn binary_records_are_base64() {
        let decoded = decode_record(
            &topic(),
            EmbeddedFormat::Binary,
            record(json!("a2V5"), json!(null)),
            0,
        )
        .unwrap();
        assert_eq!(decoded.key.as_deref(), Some(&b"key"[..]));
        assert_eq!(decoded.value, None);
        let error = decode_record(
            &topic(),
            EmbeddedFormat::Binary,
            record(json!("%%%"), json!("")),
            3,
        )
        .unwrap_err();
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            error.message.contains("records[3].key"),
            "{}",
            error.message
        );
    }

    #[test]
    fn json_records_keep_any_value_and_text_needs_strings() {
        let decoded = decode_record(
            &topic(),
            EmbeddedFormat::Json,
            record(json!(1), json!({"a": [1]})),
            0,
        )
        .unwrap();
        assert_eq!(decoded.value.as_deref(), Some(&br#"{"a":[1]}"#[..]));
        assert!(
            decode_record(
                &topic(),
                EmbeddedFormat::Text,
                record(json!("k"), json!(5)),
                0
            )
            .is_err()
        );
    }
}
