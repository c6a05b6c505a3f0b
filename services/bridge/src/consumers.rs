//! v2 consumer instances (Confluent and Strimzi): create, delete, subscription,
//! assignments, positions, records and offsets.
//!
//! Where the products differ the listener's flavor decides: commits are `offset + 1`
//! (Confluent: the client sends the last record it processed) or as sent (Strimzi: the
//! next offset to read); a commit answers 200 `[]` or 204; the subscription shows
//! partitions on Strimzi; records wait up to 1 s (Confluent's cap) or 100 ms by default.

pub(crate) mod body;
pub(crate) mod create;
pub(crate) mod instance;
pub(crate) mod offsets;
pub(crate) mod records;
pub(crate) mod registry;
pub(crate) mod requests;
pub(crate) mod stream;

use std::time::Duration;

use axum::extract::State;
use axum::http::header::{HOST, HeaderMap};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use broker_core::BrokerError;
use edge::TopicOperation;
use rand::Rng as _;
use rdkafka::Offset;
use serde::Serialize;
use serde_json::{Value, json};
use tracing::Instrument as _;

use self::instance::ConsumerInstance;
use self::records::{ConsumedRecord, FetchLimits, Overflow};
use self::requests::{
    OffsetsRequest, PartitionsRequest, PositionsBody, PositionsRequest, RecordsQuery,
    SeekPartitionsRequest, SubscriptionBody, SubscriptionRequest, TopicPartition,
};
use crate::caller::Caller;
use crate::config::Flavor;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, ControlJson};
use crate::media::{self, KafkaJson};
use crate::state::BridgeState;

/// Most records in a Strimzi response without `max_records`: what one Kafka poll returns
/// (`max.poll.records`), so that `max_bytes` bounds a poll's worth as in Strimzi.
const STRIMZI_MAX_RECORDS: usize = 500;

/// Strimzi's default wait of a records request.
const STRIMZI_DEFAULT_WAIT: Duration = Duration::from_millis(100);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedInstance {
    pub instance_id: String,
    pub base_uri: String,
}

type InstancePath = ApiPath<(String, String)>;

fn base_uri(state: &BridgeState, headers: &HeaderMap, group: &str, name: &str) -> String {
    let base = state.config().advertised_url.clone().unwrap_or_else(|| {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let proto = header("x-forwarded-proto").unwrap_or_else(|| "http".to_owned());
        let host = header("x-forwarded-host")
            .or_else(|| {
                headers
                    .get(HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| state.config().listener.listen.to_string());
        format!("{proto}://{host}")
    });
    format!("{base}/consumers/{group}/instances/{name}")
}

/// Create a consumer instance in a group.
#[utoipa::path(post, path = "/consumers/{group}", tag = "v2 consumers",
    params(("group" = String, Path, description = "Consumer group id")),
    request_body(content = Option<create::CreateConsumerRequest>, content_type = "application/vnd.kafka.v2+json",
        description = "Optional: an empty body (or `null`) takes every default"),
    responses(
        (status = 200, body = CreatedInstance),
        (status = 400, description = "Malformed JSON body; Strimzi flavor: also an invalid \
            consumer configuration (an unknown field, a value of the wrong type)", body = crate::ErrorBody),
        (status = 409, description = "40902 name taken", body = crate::ErrorBody),
        (status = 422, description = "Invalid consumer configuration (Confluent 42204); an \
            unknown `format`, or avro, jsonschema or protobuf without a schema registry or on \
            the Strimzi flavor", body = crate::ErrorBody),
        (status = 429, description = "Instance limit reached", body = crate::ErrorBody)))]
pub(crate) async fn create_consumer(
    State(state): State<BridgeState>,
    ApiPath(group): ApiPath<String>,
    headers: HeaderMap,
    caller: crate::caller::Caller,
    ControlJson(body): ControlJson<Value>,
) -> Result<KafkaJson<CreatedInstance>, ApiError> {
    let flavor = state.config().flavor;
    let request = create::parse(flavor, body)?;
    if let Some(format) = request.settings.format.schema_format()
        && (state.schemas().is_none() || flavor == Flavor::Strimzi)
    {
        return Err(ApiError::unprocessable(
            422,
            format!(
                "Invalid format type {:?}: it needs a schema registry; set `[bridge] \
                 schema_registry_url` or enable `[schema_registry]` in the same gateway \
                 (Confluent flavor only).",
                format.name()
            ),
        ));
    }
    let name = request.name.clone().unwrap_or_else(|| {
        let suffix: u128 = rand::rng().random();
        format!("rest-consumer-{suffix:032x}")
    });
    if state.consumers().contains(&group, &name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            40902,
            format!(
                "Consumer instance with the specified name {name} already exists in group {group}."
            ),
        ));
    }
    let mut config = state.consumer_config_for(&caller, &group)?;
    state.config().consumer.apply(&mut config);
    for (key, value) in &request.properties {
        config.set(*key, value);
    }
    let consumer = broker_core::clients::create(&config, "consumer creation").map_err(
        |error: BrokerError| {
            ApiError::unprocessable(42204, format!("Invalid consumer configuration: {error}"))
        },
    )?;
    let owner = caller.0.map(|principal| principal.name);
    let instance = ConsumerInstance::new(
        group.clone(),
        name.clone(),
        request.settings,
        owner,
        consumer,
    );
    state.consumers().insert(instance)?;
    tracing::info!(%group, instance = %name, "consumer instance created");
    Ok(KafkaJson::v2(CreatedInstance {
        base_uri: base_uri(&state, &headers, &group, &name),
        instance_id: name,
    }))
}

/// Delete a consumer instance (it leaves the group).
#[utoipa::path(delete, path = "/consumers/{group}/instances/{instance}", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    responses((status = 204), (status = 404, description = "40403", body = crate::ErrorBody)))]
pub(crate) async fn delete_consumer(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
) -> Result<StatusCode, ApiError> {
    state.consumers().remove(&group, &name)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Subscribe to topics or a pattern.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/subscription", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content = SubscriptionBody, content_type = "application/vnd.kafka.v2+json"),
    responses((status = 204), (status = 404, description = "40403", body = crate::ErrorBody),
        (status = 409, description = "40903", body = crate::ErrorBody)))]
pub(crate) async fn subscribe(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
    caller: Caller,
    ControlJson(body): ControlJson<SubscriptionRequest>,
) -> Result<StatusCode, ApiError> {
    let instance = state.consumers().get(&group, &name)?;
    let body = body.ok_or_else(|| {
        ApiError::unprocessable(422, "A subscription needs `topics` or `topic_pattern`.")
    })?;
    let topics = body.topics.unwrap_or_default();
    require_legal_topic_names(topics.iter().map(String::as_str))?;
    for topic in &topics {
        caller.require_topic(TopicOperation::Consume, topic)?;
    }
    if body.topic_pattern.is_some() {
        // The topics a pattern will match are not known yet.
        caller.require_every_topic(TopicOperation::Consume)?;
    }
    match (&body.topic_pattern, topics.is_empty()) {
        (Some(_), false) => {
            return Err(ApiError::illegal_state(
                "Subscription to topics, partitions and pattern are mutually exclusive.",
            ));
        }
        (None, true) => {
            return Err(ApiError::unprocessable(
                422,
                "A subscription needs `topics` or `topic_pattern`.",
            ));
        }
        _ => {}
    }
    let mut guard = instance.state.lock().await;
    instance.subscribe(&mut guard, topics, body.topic_pattern)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The current subscription.
#[utoipa::path(get, path = "/consumers/{group}/instances/{instance}/subscription", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = Value), (status = 404, description = "40403", body = crate::ErrorBody)))]
pub(crate) async fn get_subscription(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
) -> Result<KafkaJson<Value>, ApiError> {
    let instance = state.consumers().get(&group, &name)?;
    let guard = instance.state.lock().await;
    let topics = match &guard.mode {
        instance::Mode::Subscribed { topics, pattern } => match pattern {
            Some(pattern) => vec![pattern.clone()],
            None => topics.clone(),
        },
        _ => Vec::new(),
    };
    if state.config().flavor == Flavor::Confluent {
        return Ok(KafkaJson::v2(json!({ "topics": topics })));
    }
    let mut by_topic: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
    for (topic, partition) in instance.assignment()? {
        by_topic.entry(topic).or_default().push(partition);
    }
    let partitions: Vec<Value> = by_topic
        .into_iter()
        .map(|(topic, partitions)| json!({ topic: partitions }))
        .collect();
    Ok(KafkaJson::v2(
        json!({ "topics": topics, "partitions": partitions }),
    ))
}

/// Unsubscribe from everything.
#[utoipa::path(delete, path = "/consumers/{group}/instances/{instance}/subscription", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    responses((status = 204), (status = 404, description = "40403", body = crate::ErrorBody)))]
pub(crate) async fn unsubscribe(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
) -> Result<StatusCode, ApiError> {
    let instance = state.consumers().get(&group, &name)?;
    let mut guard = instance.state.lock().await;
    instance.unsubscribe(&mut guard);
    Ok(StatusCode::NO_CONTENT)
}

/// 422 for a name no topic can have, before anything asks Kafka (or librdkafka, which
/// answers some with a 500-worthy "invalid argument").
fn require_legal_topic_names<'a>(
    mut topics: impl Iterator<Item = &'a str>,
) -> Result<(), ApiError> {
    match topics.find(|topic| !is_legal_topic_name(topic)) {
        Some(illegal) => Err(ApiError::unprocessable(
            422,
            format!(
                "Invalid topic name {illegal:?}: Kafka topic names are 1 to 249 of a-z, A-Z, \
                 0-9, `.`, `_` and `-`."
            ),
        )),
        None => Ok(()),
    }
}

/// Kafka's rule for topic names (`org.apache.kafka.common.internals.Topic::validate`).
fn is_legal_topic_name(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

async fn check_partitions(
    state: &BridgeState,
    partitions: &[(String, i32)],
) -> Result<(), ApiError> {
    for (topic, partition) in partitions {
        let count = state.partition_count(topic).await?;
        if *partition < 0 || *partition >= count {
            return Err(ApiError::partition_not_found(topic, *partition));
        }
    }
    Ok(())
}

/// Assign partitions manually.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/assignments", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content = PartitionsRequest, content_type = "application/vnd.kafka.v2+json"),
    responses((status = 204), (status = 404, description = "40401/40402/40403", body = crate::ErrorBody),
        (status = 409, description = "40903", body = crate::ErrorBody)))]
pub(crate) async fn assign(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
    caller: Caller,
    ControlJson(body): ControlJson<PartitionsRequest>,
) -> Result<StatusCode, ApiError> {
    let instance = state.consumers().get(&group, &name)?;
    let partitions: Vec<(String, i32)> = body
        .map(|b| b.partitions)
        .unwrap_or_default()
        .into_iter()
        .map(|tp| (tp.topic, tp.partition))
        .collect();
    for (topic, _) in &partitions {
        caller.require_topic(TopicOperation::Consume, topic)?;
    }
    check_partitions(&state, &partitions).await?;
    let mut guard = instance.state.lock().await;
    instance.assign(&mut guard, partitions)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The partitions currently assigned (by subscription or manually).
#[utoipa::path(get, path = "/consumers/{group}/instances/{instance}/assignments", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = Value), (status = 404, description = "40403", body = crate::ErrorBody)))]
pub(crate) async fn get_assignments(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
) -> Result<KafkaJson<Value>, ApiError> {
    let instance = state.consumers().get(&group, &name)?;
    let _guard = instance.state.lock().await;
    let partitions: Vec<TopicPartition> = instance
        .assignment()?
        .into_iter()
        .map(|(topic, partition)| TopicPartition { topic, partition })
        .collect();
    Ok(KafkaJson::v2(json!({ "partitions": partitions })))
}

/// Seek to offsets or timestamps.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/positions", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content = PositionsBody, content_type = "application/vnd.kafka.v2+json"),
    responses((status = 204), (status = 404, description = "40403", body = crate::ErrorBody),
        (status = 409, description = "40903 partition not assigned", body = crate::ErrorBody),
        (status = 422, description = "A negative offset, a timestamp that is not an instant, or \
            neither offsets nor timestamps", body = crate::ErrorBody)))]
pub(crate) async fn seek(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
    ControlJson(body): ControlJson<PositionsRequest>,
) -> Result<StatusCode, ApiError> {
    let instance = state.consumers().get(&group, &name)?;
    let body =
        body.ok_or_else(|| ApiError::unprocessable(422, "`offsets` or `timestamps` is required."))?;
    let mut guard = instance.state.lock().await;
    let mut targets: Vec<(String, i32, Offset)> = Vec::new();
    for o in body.offsets.unwrap_or_default() {
        offsets::require_seek_offset(&o.topic, o.partition, o.offset)?;
        targets.push((o.topic, o.partition, Offset::Offset(o.offset)));
    }
    let mut times = Vec::new();
    for entry in body.timestamps.unwrap_or_default() {
        let millis = match &entry.timestamp {
            Value::Number(n) => n.as_i64(),
            Value::String(text) => crate::time::parse_rfc3339(text),
            _ => None,
        }
        .ok_or_else(|| {
            ApiError::unprocessable(
                422,
                format!(
                    "timestamp {} of {}-{} is not an RFC 3339 instant",
                    entry.timestamp, entry.topic, entry.partition
                ),
            )
        })?;
        times.push((entry.topic, entry.partition, millis));
    }
    if !times.is_empty() {
        let times = offsets::last_per_partition(times);
        // An unknown topic or partition would make librdkafka wait for metadata until its
        // timeout (a 500); answer 404 like the other partition operations instead.
        let partitions: Vec<(String, i32)> =
            times.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
        check_partitions(&state, &partitions).await?;
        targets.extend(instance.offsets_for_times(times).await?);
    }
    if targets.is_empty() {
        return Err(ApiError::unprocessable(
            422,
            "`offsets` or `timestamps` is required.",
        ));
    }
    instance
        .seek(&mut guard, offsets::last_per_partition(targets))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn seek_to(
    state: BridgeState,
    group: String,
    name: String,
    body: Option<PartitionsRequest>,
    offset: Offset,
) -> Result<StatusCode, ApiError> {
    let instance = state.consumers().get(&group, &name)?;
    let partitions = body.map(|b| b.partitions).unwrap_or_default();
    if partitions.is_empty() {
        return Err(ApiError::unprocessable(
            422,
            "`partitions` may not be empty.",
        ));
    }
    let mut guard = instance.state.lock().await;
    let targets = partitions
        .into_iter()
        .map(|tp| (tp.topic, tp.partition, offset))
        .collect();
    instance.seek(&mut guard, targets).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Seek to the first offset of partitions.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/positions/beginning", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content = SeekPartitionsRequest, content_type = "application/vnd.kafka.v2+json"),
    responses((status = 204), (status = 404, description = "40403 unknown instance", body = crate::ErrorBody),
        (status = 409, description = "40903 partition not assigned", body = crate::ErrorBody),
        (status = 422, description = "`partitions` empty", body = crate::ErrorBody)))]
pub(crate) async fn seek_beginning(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
    ControlJson(body): ControlJson<PartitionsRequest>,
) -> Result<StatusCode, ApiError> {
    seek_to(state, group, name, body, Offset::Beginning).await
}

/// Seek past the last offset of partitions.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/positions/end", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content = SeekPartitionsRequest, content_type = "application/vnd.kafka.v2+json"),
    responses((status = 204), (status = 404, description = "40403 unknown instance", body = crate::ErrorBody),
        (status = 409, description = "40903 partition not assigned", body = crate::ErrorBody),
        (status = 422, description = "`partitions` empty", body = crate::ErrorBody)))]
pub(crate) async fn seek_end(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
    ControlJson(body): ControlJson<PartitionsRequest>,
) -> Result<StatusCode, ApiError> {
    seek_to(state, group, name, body, Offset::End).await
}

/// Fetch records, or stream them.
///
/// With `Accept: text/event-stream` the response is a stream of Server-Sent Events as
/// records arrive: per record `id: topic/partition/offset` and `data:` the record as a
/// records response renders it in the consumer's format (`event: error` with an error
/// body ends a stream on a record that cannot be rendered; `: keep-alive` comments every
/// 15 s when idle). A reconnect with `Last-Event-ID` resumes that partition after that
/// offset; other partitions continue after the last record the instance handed out. With
/// `Accept: application/x-ndjson` one record per line (empty lines when idle). The stream
/// follows the client's reading speed, counts as use of the instance and ends when the
/// instance is deleted or expires; commits and other calls on the instance work meanwhile.
/// A new stream on an instance ends the one before; the query parameters do not apply to
/// streams.
#[utoipa::path(get, path = "/consumers/{group}/instances/{instance}/records", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path), RecordsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Streams: `topic/partition/offset` of the last event received; that partition resumes after it")),
    responses(
        (status = 200, description = "In the media type of the consumer's format, or a stream \
            (`text/event-stream`, `application/x-ndjson`) of records in that format", content(
            (Vec<ConsumedRecord> = "application/vnd.kafka.binary.v2+json"),
            (Vec<ConsumedRecord> = "application/vnd.kafka.json.v2+json"),
            (Vec<ConsumedRecord> = "application/vnd.kafka.text.v2+json"),
            (Vec<ConsumedRecord> = "application/vnd.kafka.avro.v2+json"),
            (Vec<ConsumedRecord> = "application/vnd.kafka.jsonschema.v2+json"),
            (Vec<ConsumedRecord> = "application/vnd.kafka.protobuf.v2+json"),
            (String = "text/event-stream", example = json!("id: orders/0/42\ndata: {\"topic\":\"orders\",\"key\":null,\"value\":\"aGVsbG8=\",\"partition\":0,\"offset\":42,\"timestamp\":1700000000000}\n\n")),
            (ConsumedRecord = "application/x-ndjson"))),
        (status = 400, description = "A Last-Event-ID that is not topic/partition/offset", body = crate::ErrorBody),
        (status = 404, description = "40403", body = crate::ErrorBody),
        (status = 409, description = "40903: neither subscribed nor assigned, or the instance's previous stream did not stop within 5 s", body = crate::ErrorBody),
        (status = 406, description = "Accept does not name the consumer's format (40601). \
            Strimzi flavor: Accept must be exactly the format's media type, a missing Accept \
            included, as Strimzi requires", body = crate::ErrorBody),
        (status = 422, description = "A record is larger than max_bytes (Strimzi: the records at hand do not fit max_bytes)", body = crate::ErrorBody)))]
pub(crate) async fn get_records(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
    ApiQuery(query): ApiQuery<RecordsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let flavor = state.config().flavor;
    let instance = state.consumers().get(&group, &name)?;
    if let Some(framing) = stream::requested_framing(&headers) {
        return stream::open(&state, instance, framing, &headers).await;
    }
    media::negotiate_records(flavor, &headers, instance.settings.format)?;
    let limits = state.consumers().limits();
    let cap = instance
        .settings
        .request_timeout
        .unwrap_or(limits.request_timeout);
    let requested = query
        .timeout
        .filter(|t| *t > 0)
        .map(|t| Duration::from_millis(t.unsigned_abs()));
    // Leave the edge's request timeout room to answer.
    let ceiling = state
        .config()
        .listener
        .request_timeout
        .saturating_sub(Duration::from_secs(1))
        .max(Duration::from_millis(100));
    let wait = match flavor {
        Flavor::Confluent => requested.map_or(cap, |r| r.min(cap)),
        Flavor::Strimzi => requested
            .or(instance.settings.request_timeout)
            .unwrap_or(STRIMZI_DEFAULT_WAIT),
    }
    .min(ceiling);
    let max_bytes = query
        .max_bytes
        .filter(|b| *b > 0)
        .and_then(|b| usize::try_from(b).ok())
        .map_or(limits.request_max_bytes, |b| {
            b.min(limits.request_max_bytes)
        });
    let max_records = match query.max_records {
        None if flavor == Flavor::Strimzi => STRIMZI_MAX_RECORDS,
        None => usize::MAX,
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(n) => {
            return Err(ApiError::unprocessable(
                422,
                format!("max_records must be greater than 0, not {n}"),
            ));
        }
    };
    let fetch_limits = FetchLimits {
        wait,
        max_bytes,
        max_records,
        min_bytes: instance.settings.response_min_bytes.unwrap_or(0),
        overflow: match flavor {
            Flavor::Confluent => Overflow::Truncate,
            Flavor::Strimzi => Overflow::Refuse,
        },
    };
    let mut guard = instance.state.lock().await;
    if guard.mode == instance::Mode::Idle {
        return Err(ApiError::illegal_state(
            "The consumer is neither subscribed nor assigned to any partition.",
        ));
    }
    let span = crate::record_trace::consume_span(&group);
    let result = records::fetch(&instance, &mut guard, fetch_limits, state.schemas())
        .instrument(span.clone())
        .await;
    drop(guard);
    instance.touch();
    let records = result?;
    crate::record_trace::record_count(&span, records.per_topic.iter().map(|(_, n)| *n).sum());
    for (topic, count) in &records.per_topic {
        state.metrics().consumed(topic, *count);
    }
    let length = records.body.len();
    let chunks = records.body.into_chunks();
    let body = axum::body::Body::from_stream(futures::stream::iter(
        chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
    ));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(instance.settings.format.media_type()),
    );
    // Known up front: the client gets a Content-Length, not a chunked transfer.
    headers.insert(
        axum::http::header::CONTENT_LENGTH,
        HeaderValue::from(length),
    );
    Ok(response)
}

/// Commit offsets (or, with an empty body, everything handed out).
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/offsets", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content = Option<OffsetsRequest>, content_type = "application/vnd.kafka.v2+json"),
    responses((status = 200, description = "Confluent: `[]`", body = Vec<Value>),
        (status = 204, description = "Strimzi"),
        (status = 404, description = "40403", body = crate::ErrorBody),
        (status = 422, description = "An illegal topic name, or an offset outside the flavor's \
            range (Confluent -1, Strimzi 0, to 2^63 - 2)", body = crate::ErrorBody)))]
pub(crate) async fn commit_offsets(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
    caller: Caller,
    ControlJson(body): ControlJson<OffsetsRequest>,
) -> Result<Response, ApiError> {
    let flavor = state.config().flavor;
    let instance = state.consumers().get(&group, &name)?;
    require_legal_topic_names(
        body.iter()
            .flat_map(|request| &request.offsets)
            .map(|offset| offset.topic.as_str()),
    )?;
    // Committing for a topic is a consumer's act on it, as Kafka's READ on the topic.
    for offset in body.iter().flat_map(|request| &request.offsets) {
        caller.require_topic(TopicOperation::Consume, &offset.topic)?;
    }
    let requested: Option<Vec<(String, i32, i64, String)>> = body
        .map(|request| {
            request
                .offsets
                .into_iter()
                .map(|o| {
                    let next =
                        offsets::committed_position(flavor, &o.topic, o.partition, o.offset)?;
                    Ok((o.topic, o.partition, next, o.metadata.unwrap_or_default()))
                })
                .collect::<Result<_, ApiError>>()
        })
        .transpose()?;
    let guard = instance.state.lock().await;
    let positions = requested.unwrap_or_else(|| {
        guard
            .handed_out
            .iter()
            .map(|((topic, partition), next)| (topic.clone(), *partition, *next, String::new()))
            .collect()
    });
    instance.commit(positions).await?;
    drop(guard);
    Ok(match flavor {
        Flavor::Confluent => KafkaJson::v2(json!([])).into_response(),
        Flavor::Strimzi => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Committed offsets of partitions (a GET with a JSON body, as Confluent defines it).
#[utoipa::path(get, path = "/consumers/{group}/instances/{instance}/offsets", tag = "v2 consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content = PartitionsRequest, content_type = "application/vnd.kafka.v2+json"),
    responses((status = 200, body = Value),
        (status = 404, description = "40402 no body, 40403 unknown instance", body = crate::ErrorBody),
        (status = 422, description = "An illegal topic name", body = crate::ErrorBody)))]
pub(crate) async fn get_offsets(
    State(state): State<BridgeState>,
    ApiPath((group, name)): InstancePath,
    ControlJson(body): ControlJson<PartitionsRequest>,
) -> Result<KafkaJson<Value>, ApiError> {
    let instance = state.consumers().get(&group, &name)?;
    let body = body.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            40402,
            "The request needs a body {\"partitions\":[{\"topic\",\"partition\"}]}.",
        )
    })?;
    require_legal_topic_names(body.partitions.iter().map(|tp| tp.topic.as_str()))?;
    let partitions: Vec<(String, i32)> = body
        .partitions
        .into_iter()
        .map(|tp| (tp.topic, tp.partition))
        .collect();
    let committed = instance.committed(partitions).await?;
    let offsets: Vec<Value> = committed
        .into_iter()
        .map(|(topic, partition, offset, metadata)| {
            json!({"topic": topic, "partition": partition, "offset": offset, "metadata": metadata})
        })
        .collect();
    Ok(KafkaJson::v2(json!({ "offsets": offsets })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_topic_names_follow_kafka() {
        for legal in ["a", "orders.v1", "_x-y", &"t".repeat(249)] {
            assert!(is_legal_topic_name(legal), "{legal}");
        }
        for illegal in ["", ".", "..", "a b", "é", &"t".repeat(250)] {
            assert!(!is_legal_topic_name(illegal), "{illegal}");
        }
    }
}
