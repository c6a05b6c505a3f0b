//! `POST /v3/clusters/{cluster_id}/topics/{topic}/records`, single and streaming.
//!
//! The body is read as a stream of concatenated JSON records. Each record is handed to
//! the shared producer as soon as it is parsed, and its delivery future goes into an
//! ordered, bounded queue; a writer task awaits them in order and writes one delivery
//! report per record into the chunked response. The bound (`IN_FLIGHT`) is the
//! backpressure: a client that sends faster than Kafka acknowledges is read more slowly.
//! A body with one record and no chunked encoding gets one report whose HTTP status is its
//! `error_code`, as Confluent answers a single produce.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, TRANSFER_ENCODING};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use broker_core::produce::OutgoingRecord;
use futures::StreamExt as _;
use rdkafka::producer::DeliveryFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracing::Instrument as _;

use super::check_cluster;
use crate::error::ApiError;
use crate::extract::{ApiPath, check_v3_content_type};
use crate::produce::{self, RecordFailure};
use crate::schema::SchemaFormat;
use crate::state::BridgeState;

/// Records produced but not yet reported, per request.
const IN_FLIGHT: usize = 1024;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct V3Data {
    /// BINARY (base64 `data`), JSON (any `data`), STRING, or with a schema registry AVRO
    /// (Avro's JSON encoding), JSONSCHEMA, PROTOBUF (proto3 JSON). Without a type, a
    /// `schema_id`, `schema_version` or `subject` names a registered schema of any type.
    #[serde(default, rename = "type")]
    pub data_type: Option<String>,
    #[schema(value_type = Object)]
    #[serde(default)]
    pub data: Value,
    /// The subject of `schema_version` / the latest version / a registered `schema`,
    /// instead of the one `subject_name_strategy` gives.
    #[serde(default)]
    pub subject: Option<String>,
    /// TOPIC_NAME (default), RECORD_NAME or TOPIC_RECORD_NAME.
    #[serde(default)]
    pub subject_name_strategy: Option<String>,
    /// A registered schema's id.
    #[serde(default)]
    pub schema_id: Option<i32>,
    /// A version of the subject.
    #[serde(default)]
    pub schema_version: Option<i32>,
    /// A schema text, registered under the subject (if new) and used.
    #[serde(default)]
    pub schema: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct V3Header {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct V3Record {
    #[serde(default)]
    pub partition_id: Option<i32>,
    #[serde(default)]
    pub headers: Vec<V3Header>,
    #[serde(default)]
    pub key: Option<V3Data>,
    #[serde(default)]
    pub value: Option<V3Data>,
    /// RFC 3339.
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// What a delivery report says about a key or value.
#[derive(Debug, Clone)]
pub(crate) struct DataInfo {
    pub data_type: String,
    pub size: usize,
    /// Schema formats only: the subject, id and version of the schema used.
    pub schema: Option<(Option<String>, i32, Option<i32>)>,
}

impl DataInfo {
    fn to_json(&self) -> Value {
        match &self.schema {
            None => json!({"type": self.data_type, "size": self.size}),
            Some((subject, id, version)) => json!({
                "type": self.data_type,
                "subject": subject,
                "schema_id": id,
                "schema_version": version,
                "size": self.size,
            }),
        }
    }
}

/// A record ready to send, with what the report says of its key and value.
type Prepared = (OutgoingRecord, Option<DataInfo>, Option<DataInfo>);

struct Context {
    cluster_id: String,
    topic: std::sync::Arc<str>,
    partitions: i32,
    /// The caller's producer (its own under principal propagation).
    producer: std::sync::Arc<rdkafka::producer::FutureProducer>,
    /// The producer span of the request (or stream); ends when the last report is written.
    span: tracing::Span,
}

enum Pending {
    Sent {
        delivery: DeliveryFuture,
        key: Option<DataInfo>,
        value: Option<DataInfo>,
    },
    Failed(RecordFailure),
}

pub(crate) fn failure(status: StatusCode, message: String) -> RecordFailure {
    RecordFailure {
        error_code: u32::from(status.as_u16()),
        http_status: status.as_u16(),
        message,
    }
}

async fn data_bytes(
    state: &BridgeState,
    topic: &str,
    data: Option<V3Data>,
    field: &str,
) -> Result<Option<(DataInfo, Vec<u8>)>, RecordFailure> {
    let Some(data) = data else {
        return Ok(None);
    };
    let data_type = data
        .data_type
        .clone()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let names_schema = data.schema_id.is_some()
        || data.schema_version.is_some()
        || data.subject.is_some()
        || data.schema.is_some();
    let schema_format = match data_type.as_str() {
        "AVRO" => Some(Some(SchemaFormat::Avro)),
        "JSONSCHEMA" => Some(Some(SchemaFormat::JsonSchema)),
        "PROTOBUF" => Some(Some(SchemaFormat::Protobuf)),
        // REST Proxy: no type, but a schema named: the registered schema's own type.
        "" if names_schema => Some(None),
        _ => None,
    };
    if let Some(format) = schema_format {
        return crate::v3::schema_data::encode(state, topic, field, format, data)
            .await
            .map(Some);
    }
    let bytes = match (data_type.as_str(), data.data) {
        (_, Value::Null) => return Ok(None),
        ("BINARY", Value::String(text)) => BASE64.decode(text.as_bytes()).map_err(|_| {
            failure(
                StatusCode::BAD_REQUEST,
                format!("Bad Request: {field} data={text} is not a base64 string."),
            )
        })?,
        ("STRING", Value::String(text)) => text.into_bytes(),
        ("JSON", value) => value.to_string().into_bytes(),
        ("", _) => {
            return Err(failure(
                StatusCode::BAD_REQUEST,
                format!(
                    "Bad Request: {field} needs a type (BINARY, JSON, STRING, AVRO, JSONSCHEMA or PROTOBUF) or a schema_id, schema_version or subject."
                ),
            ));
        }
        (other, value) => {
            return Err(failure(
                StatusCode::BAD_REQUEST,
                format!("Bad Request: {field} of type {other} cannot hold {value}."),
            ));
        }
    };
    let info = DataInfo {
        data_type,
        size: bytes.len(),
        schema: None,
    };
    Ok(Some((info, bytes)))
}

async fn prepare(
    state: &BridgeState,
    context: &Context,
    record: V3Record,
) -> Result<Prepared, RecordFailure> {
    if let Some(partition) = record.partition_id
        && (partition < 0 || partition >= context.partitions)
    {
        return Err(failure(
            StatusCode::NOT_FOUND,
            format!(
                "This server does not host this topic-partition: {}-{partition}.",
                context.topic
            ),
        ));
    }
    let key = data_bytes(state, &context.topic, record.key, "key").await?;
    let value = data_bytes(state, &context.topic, record.value, "value").await?;
    let timestamp = match record.timestamp {
        None => None,
        Some(text) => Some(crate::time::parse_rfc3339(&text).ok_or_else(|| {
            failure(
                StatusCode::BAD_REQUEST,
                format!("Bad Request: timestamp {text} is not RFC 3339."),
            )
        })?),
    };
    let mut headers = Vec::new();
    for header in record.headers {
        let value = match header.value {
            None => None,
            Some(text) => Some(BASE64.decode(text.as_bytes()).map_err(|_| {
                failure(
                    StatusCode::BAD_REQUEST,
                    format!("Bad Request: header {} is not base64.", header.name),
                )
            })?),
        };
        headers.push((header.name, value));
    }
    let key_info = key.as_ref().map(|(info, _)| info.clone());
    let value_info = value.as_ref().map(|(info, _)| info.clone());
    Ok((
        OutgoingRecord {
            partition: record.partition_id,
            key: key.map(|(_, b)| b),
            value: value.map(|(_, b)| b),
            headers,
            timestamp,
            ..OutgoingRecord::to_topic(std::sync::Arc::clone(&context.topic))
        },
        key_info,
        value_info,
    ))
}

async fn start(
    state: &BridgeState,
    context: &Context,
    record: Result<V3Record, RecordFailure>,
) -> Pending {
    let prepared = match record {
        Ok(record) => prepare(state, context, record).await,
        Err(failure) => Err(failure),
    };
    match prepared {
        Ok((mut outgoing, key, value)) => {
            crate::record_trace::trace_record(&context.span, &mut outgoing);
            let enqueued = produce::enqueue(state, &context.producer, &outgoing)
                .instrument(context.span.clone())
                .await;
            match enqueued {
                Ok(delivery) => Pending::Sent {
                    delivery,
                    key,
                    value,
                },
                Err(error) => Pending::Failed(RecordFailure::from_enqueue(&error)),
            }
        }
        Err(failure) => Pending::Failed(failure),
    }
}

async fn report(state: &BridgeState, context: &Context, pending: Pending) -> (StatusCode, Value) {
    let (status, body) = outcome(context, pending).await;
    let ok = u64::from(status == StatusCode::OK);
    state.metrics().produced(&context.topic, ok, 1 - ok);
    (status, body)
}

async fn outcome(context: &Context, pending: Pending) -> (StatusCode, Value) {
    let (delivery, key, value) = match pending {
        Pending::Sent {
            delivery,
            key,
            value,
        } => (delivery, key, value),
        Pending::Failed(failure) => return failed(&failure),
    };
    match produce::delivered(delivery).await {
        Ok(delivered) => {
            let size = |info: Option<DataInfo>| info.map_or(Value::Null, |info| info.to_json());
            (
                StatusCode::OK,
                json!({
                    "error_code": 200,
                    "cluster_id": context.cluster_id,
                    "topic_name": &*context.topic,
                    "partition_id": delivered.partition,
                    "offset": delivered.offset,
                    "timestamp": delivered.timestamp.map(crate::time::format_rfc3339),
                    "key": size(key),
                    "value": size(value),
                }),
            )
        }
        Err(error) => failed(&RecordFailure::from_kafka(&error)),
    }
}

fn failed(failure: &RecordFailure) -> (StatusCode, Value) {
    let status =
        StatusCode::from_u16(failure.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        json!({"error_code": status.as_u16(), "message": failure.message}),
    )
}

/// Splits complete JSON values off the front of `buffer`.
fn take_values(buffer: &mut Vec<u8>) -> Result<Vec<Value>, String> {
    let mut values = Vec::new();
    let mut consumed = 0;
    {
        let mut stream = serde_json::Deserializer::from_slice(buffer).into_iter::<Value>();
        loop {
            match stream.next() {
                Some(Ok(value)) => {
                    values.push(value);
                    consumed = stream.byte_offset();
                }
                Some(Err(error)) if error.is_eof() => break,
                Some(Err(error)) => return Err(error.to_string()),
                None => {
                    consumed = buffer.len();
                    break;
                }
            }
        }
    }
    buffer.drain(..consumed);
    Ok(values)
}

fn to_record(value: Value) -> Result<V3Record, RecordFailure> {
    serde_json::from_value(value)
        .map_err(|error| failure(StatusCode::BAD_REQUEST, format!("Bad Request: {error}")))
}

/// Produce records (one JSON record, or a chunked stream of concatenated records).
#[utoipa::path(post, path = "/v3/clusters/{cluster_id}/topics/{topic}/records", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path)),
    request_body(content = V3Record, content_type = "application/json",
        description = "One record, or with Transfer-Encoding: chunked any number of concatenated records"),
    responses((status = 200, description = "One delivery report per record, in order", body = Value),
        (status = 400, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody),
        (status = 415, body = crate::ErrorBody)))]
pub(crate) async fn produce_records(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic)): ApiPath<(String, String)>,
    caller: crate::caller::Caller,
    request: Request,
) -> Result<Response, ApiError> {
    check_v3_content_type(request.headers())?;
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let partitions = state
        .partition_count(&topic)
        .await
        .map_err(|e| ApiError::plain(e.status, e.message))?;
    let context = Context {
        cluster_id,
        span: crate::record_trace::produce_span(&topic, None),
        topic: std::sync::Arc::from(topic),
        partitions,
        producer: state.producer_for(&caller)?,
    };
    let streaming = request
        .headers()
        .get(TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let max_record_bytes = state.config().listener.max_body_bytes;
    if !streaming {
        let bytes = crate::extract::body_bytes(request, &state).await?;
        let mut buffer = bytes.to_vec();
        let values = take_values(&mut buffer)
            .map_err(|error| ApiError::bad_request(format!("Invalid JSON body: {error}")))?;
        if !buffer.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "Invalid JSON body: truncated record.",
            ));
        }
        if values.len() == 1 {
            let value = values.into_iter().next().unwrap_or_default();
            let pending = start(&state, &context, to_record(value)).await;
            let (status, body) = report(&state, &context, pending).await;
            return Ok((status, axum::Json(body)).into_response());
        }
        let body = futures::stream::iter(values.into_iter().map(Ok::<_, String>));
        return Ok(stream_response(
            &state,
            context,
            body.boxed(),
            max_record_bytes,
        ));
    }
    let chunks = request
        .into_body()
        .into_data_stream()
        .map(|chunk| chunk.map_err(|e| e.to_string()));
    let values = parse_stream(chunks, max_record_bytes);
    Ok(stream_response(&state, context, values, max_record_bytes))
}

/// Turns a byte stream into a stream of JSON values (or one final error).
fn parse_stream(
    chunks: impl futures::Stream<Item = Result<Bytes, String>> + Send + 'static,
    max_record_bytes: usize,
) -> futures::stream::BoxStream<'static, Result<Value, String>> {
    let state = (
        Box::pin(chunks),
        Vec::<u8>::new(),
        std::collections::VecDeque::<Value>::new(),
        false,
    );
    futures::stream::unfold(
        state,
        move |(mut chunks, mut buffer, mut ready, mut done)| async move {
            loop {
                if let Some(value) = ready.pop_front() {
                    return Some((Ok(value), (chunks, buffer, ready, done)));
                }
                if done {
                    return None;
                }
                match chunks.next().await {
                    Some(Ok(chunk)) => {
                        buffer.extend_from_slice(&chunk);
                        match take_values(&mut buffer) {
                            Ok(values) => ready.extend(values),
                            Err(error) => {
                                done = true;
                                return Some((
                                    Err(format!("Invalid JSON: {error}")),
                                    (chunks, buffer, ready, done),
                                ));
                            }
                        }
                        if buffer.len() > max_record_bytes {
                            done = true;
                            return Some((
                                Err(format!(
                                    "A record is larger than the limit of {max_record_bytes} bytes."
                                )),
                                (chunks, buffer, ready, done),
                            ));
                        }
                    }
                    Some(Err(error)) => {
                        done = true;
                        return Some((
                            Err(format!("Reading the request failed: {error}")),
                            (chunks, buffer, ready, done),
                        ));
                    }
                    None => {
                        done = true;
                        if !buffer.iter().all(u8::is_ascii_whitespace) {
                            return Some((
                                Err("Invalid JSON: truncated record.".to_owned()),
                                (chunks, buffer, ready, done),
                            ));
                        }
                    }
                }
            }
        },
    )
    .boxed()
}

fn stream_response(
    state: &BridgeState,
    context: Context,
    mut values: futures::stream::BoxStream<'static, Result<Value, String>>,
    _max_record_bytes: usize,
) -> Response {
    let (pending_tx, mut pending_rx) = mpsc::channel::<Pending>(IN_FLIGHT);
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(64);
    let context = std::sync::Arc::new(context);
    let reader_context = std::sync::Arc::clone(&context);
    let report_state = state.clone();
    let reader_state = state.clone();
    broker_core::task::spawn("bridge-v3-produce-reader", async move {
        while let Some(item) = values.next().await {
            let pending = match item {
                Ok(value) => start(&reader_state, &reader_context, to_record(value)).await,
                Err(message) => Pending::Failed(failure(StatusCode::BAD_REQUEST, message)),
            };
            if pending_tx.send(pending).await.is_err() {
                return;
            }
        }
    });
    broker_core::task::spawn("bridge-v3-produce-reporter", async move {
        while let Some(pending) = pending_rx.recv().await {
            let (_, body) = report(&report_state, &context, pending).await;
            let mut line = body.to_string().into_bytes();
            line.push(b'\n');
            if out_tx.send(Bytes::from(line)).await.is_err() {
                return;
            }
        }
    });
    let body = futures::stream::poll_fn(move |cx| out_rx.poll_recv(cx)).map(Ok::<_, Infallible>);
    let mut response = Response::new(Body::from_stream(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Most entries of one `records:batch` request (Confluent's
/// `api.v3.produce.batch.maximum.entries` default).
const BATCH_MAX_ENTRIES: usize = 10;

/// `POST …/records:batch`: entries with ids, each produced like a single record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct BatchRequest {
    /// Each entry is a record (as for `/records`) with an `id` of 1 to 80 characters; an
    /// entry that is not a JSON object fails the whole request (400), as in Confluent,
    /// whose entries are typed.
    #[schema(value_type = Vec<Object>, min_items = 1, max_items = 10)]
    pub entries: Vec<serde_json::Map<String, Value>>,
}

/// The entry's id, or why it has none usable.
fn entry_id(entry: &Value) -> Result<String, (Value, String)> {
    match entry.get("id") {
        Some(Value::String(id)) if (1..=80).contains(&id.chars().count()) => Ok(id.clone()),
        Some(other) => Err((
            other.clone(),
            "Bad Request: id must be a string of 1 to 80 characters.".to_owned(),
        )),
        None => Err((Value::Null, "Bad Request: id is required.".to_owned())),
    }
}

/// Produce a batch of records; one success or failure per entry, by id.
#[utoipa::path(post, path = "/v3/clusters/{cluster_id}/topics/{topic}/records:batch", tag = "v3",
    params(("cluster_id" = String, Path), ("topic" = String, Path)),
    request_body(content = BatchRequest, content_type = "application/json"),
    responses((status = 207, description = "`{\"successes\":[{id,…delivery report}],\"failures\":[{id,error_code,message}]}`", body = Value),
        (status = 400, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody),
        (status = 415, body = crate::ErrorBody)))]
pub(crate) async fn produce_batch(
    State(state): State<BridgeState>,
    ApiPath((cluster_id, topic)): ApiPath<(String, String)>,
    caller: crate::caller::Caller,
    request: Request,
) -> Result<Response, ApiError> {
    check_v3_content_type(request.headers())?;
    let cluster_id = check_cluster(&state, &cluster_id).await?;
    let bytes = crate::extract::body_bytes(request, &state).await?;
    let batch: BatchRequest = serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::bad_request(format!("Invalid JSON body: {error}")))?;
    if batch.entries.is_empty() || batch.entries.len() > BATCH_MAX_ENTRIES {
        return Err(ApiError::bad_request(format!(
            "A batch holds 1 to {BATCH_MAX_ENTRIES} entries; this one has {}.",
            batch.entries.len()
        )));
    }
    let partitions = state
        .partition_count(&topic)
        .await
        .map_err(|e| ApiError::plain(e.status, e.message))?;
    let context = Context {
        cluster_id,
        span: crate::record_trace::produce_span(&topic, Some(batch.entries.len())),
        topic: std::sync::Arc::from(topic),
        partitions,
        producer: state.producer_for(&caller)?,
    };
    // Every entry is handed to the producer before the first report is awaited, so the
    // batch costs one round trip, not one per entry.
    let mut started = Vec::with_capacity(batch.entries.len());
    let mut seen = std::collections::HashSet::new();
    for entry in batch.entries {
        let entry = Value::Object(entry);
        let pending = match entry_id(&entry) {
            Ok(id) if !seen.insert(id.clone()) => Err((
                Value::String(id),
                "Bad Request: the id is used twice in this batch.".to_owned(),
            )),
            Ok(id) => Ok((id, start(&state, &context, to_record(entry)).await)),
            Err(refused) => Err(refused),
        };
        started.push(pending);
    }
    let (mut successes, mut failures) = (Vec::new(), Vec::new());
    for pending in started {
        match pending {
            Ok((id, pending)) => {
                let (status, mut body) = report(&state, &context, pending).await;
                if let Some(object) = body.as_object_mut() {
                    object.insert("id".to_owned(), Value::String(id));
                }
                if status == StatusCode::OK {
                    successes.push(body);
                } else {
                    failures.push(body);
                }
            }
            Err((id, message)) => {
                failures.push(json!({"id": id, "error_code": 400, "message": message}));
            }
        }
    }
    Ok((
        StatusCode::MULTI_STATUS,
        axum::Json(json!({"successes": successes, "failures": failures})),
    )
        .into_response())
}
