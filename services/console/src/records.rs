//! `/api/topics/{topic}/records`: browse a topic from an offset or a time, and produce one
//! record (admin only, checked by the router's role layer).
//!
//! Browsing assigns partitions to a consumer that belongs to no group (`group.id` is set
//! only because librdkafka wants one; nothing is ever committed), so looking at a topic
//! never moves anybody's offsets. The end of each partition is its high watermark read
//! before the first poll: records appended while browsing wait for the next refresh.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Query, State};
use broker_core::produce::OutgoingRecord;
use broker_core::{BrokerError, ErrorKind, task};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::decode::{Decoded, decode};
use crate::error::ApiError;
use crate::state::ConsoleState;

/// Records per page when the caller does not say.
const DEFAULT_LIMIT: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BrowseQuery {
    /// One partition; every partition when absent.
    partition: Option<i32>,
    /// First offset to show in each partition; the oldest one when neither this nor
    /// `timestamp` is given.
    offset: Option<i64>,
    /// Milliseconds since the epoch: start at the first record at or after it.
    timestamp: Option<i64>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub(crate) struct BrowsedRecord {
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<Decoded>,
    value: Option<Decoded>,
    headers: Vec<BrowsedHeader>,
}

#[derive(Debug, Serialize)]
struct BrowsedHeader {
    key: String,
    value: Option<Decoded>,
}

pub(crate) async fn browse(
    State(state): State<ConsoleState>,
    Path(topic): Path<String>,
    Query(query): Query<BrowseQuery>,
) -> Result<Json<Vec<BrowsedRecord>>, ApiError> {
    if query.offset.is_some() && query.timestamp.is_some() {
        return Err(ApiError::BadRequest(
            "give either `offset` or `timestamp`, not both".to_owned(),
        ));
    }
    let limit = query
        .limit
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, state.inner.config.max_browse_records);
    let info = state.inner.inspector.topic(&topic).await?;
    let mut partitions: Vec<i32> = info.partitions.iter().map(|p| p.id).collect();
    partitions.sort_unstable();
    if let Some(wanted) = query.partition {
        if !partitions.contains(&wanted) {
            return Err(ApiError::NotFound(format!(
                "topic {topic} has no partition {wanted}"
            )));
        }
        partitions = vec![wanted];
    }
    let config = state
        .inner
        .clients
        .consumer_config("kafka-gateway-console-browse");
    let timeout = state.inner.config.kafka_timeout;
    let read = task::spawn_blocking("console-browse", move || {
        let consumer: BaseConsumer =
            broker_core::clients::create(&config, "console browse consumer creation")?;
        read_records(&consumer, &topic, &partitions, &query, limit, timeout)
    })
    .await
    .map_err(|error| ApiError::Unavailable(format!("browse task failed: {error}")))??;
    Ok(Json(read))
}

/// Where each partition starts and ends, then polls until every partition reached its end,
/// `limit` records per partition were read or `timeout` passed.
fn read_records(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    query: &BrowseQuery,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<BrowsedRecord>, BrokerError> {
    let mut ends = std::collections::BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    let starts = match query.timestamp {
        Some(timestamp) => {
            let mut wanted = TopicPartitionList::new();
            for partition in partitions {
                wanted
                    .add_partition_offset(topic, *partition, Offset::Offset(timestamp))
                    .map_err(|e| BrokerError::kafka("browse offsets for time", e))?;
            }
            let found = consumer
                .offsets_for_times(wanted, timeout)
                .map_err(|e| BrokerError::kafka("browse offsets for time", e))?;
            partitions
                .iter()
                .map(|partition| {
                    let offset = found
                        .find_partition(topic, *partition)
                        .and_then(|element| element.offset().to_raw());
                    (*partition, offset)
                })
                .collect::<Vec<_>>()
        }
        None => partitions
            .iter()
            .map(|partition| (*partition, query.offset))
            .collect(),
    };
    for (partition, start) in starts {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .map_err(|e| BrokerError::kafka("browse watermark request", e))?;
        // A time past the last record has no offset: nothing to show there.
        let start = match (query.timestamp, start) {
            (Some(_), None) | (Some(_), Some(-1)) => high,
            (_, Some(offset)) => offset.clamp(low, high),
            (None, None) => low,
        };
        if start >= high {
            continue;
        }
        ends.insert(partition, high.min(start.saturating_add(limit as i64)));
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(start))
            .map_err(|e| BrokerError::kafka("browse assignment", e))?;
    }
    let mut records = Vec::new();
    if ends.is_empty() {
        return Ok(records);
    }
    consumer
        .assign(&assignment)
        .map_err(|e| BrokerError::kafka("browse assignment", e))?;
    let deadline = Instant::now() + timeout;
    while !ends.is_empty() && Instant::now() < deadline {
        let Some(polled) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = polled.map_err(|e| BrokerError::kafka("browse fetch", e))?;
        let partition = message.partition();
        let Some(end) = ends.get(&partition).copied() else {
            continue;
        };
        if message.offset() >= end {
            ends.remove(&partition);
            continue;
        }
        records.push(BrowsedRecord {
            partition,
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key().map(decode),
            value: message.payload().map(decode),
            headers: message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|header| BrowsedHeader {
                            key: header.key.to_owned(),
                            value: header.value.map(decode),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
        if message.offset() + 1 >= end {
            ends.remove(&partition);
        }
    }
    if !ends.is_empty() && records.is_empty() {
        return Err(BrokerError::Other {
            kind: ErrorKind::Timeout,
            message: format!("no record of {topic} arrived within {timeout:?}"),
        });
    }
    records.sort_by_key(|r| (r.timestamp, r.partition, r.offset));
    records.truncate(limit);
    Ok(records)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProduceRequest {
    partition: Option<i32>,
    /// UTF-8 text, sent as its bytes; absent: a null key.
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    headers: Vec<ProduceHeader>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProduceHeader {
    key: String,
    value: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Produced {
    partition: i32,
    offset: i64,
}

pub(crate) async fn produce(
    State(state): State<ConsoleState>,
    Path(topic): Path<String>,
    Json(request): Json<ProduceRequest>,
) -> Result<Json<Produced>, ApiError> {
    let record = OutgoingRecord {
        topic: Arc::from(topic.as_str()),
        key: request.key.map(String::into_bytes),
        value: request.value.map(String::into_bytes),
        headers: request
            .headers
            .into_iter()
            .map(|header| (header.key, header.value.map(String::into_bytes)))
            .collect(),
        partition: request.partition,
        timestamp: None,
    };
    // The topic must exist: the console never creates one by producing to it.
    state.inner.inspector.topic(&topic).await?;
    let delivery = state
        .inner
        .enqueuer
        .enqueue(&state.inner.producer, &record)
        .await
        .map_err(|error| ApiError::Unavailable(error.to_string()))?;
    match delivery.await {
        Ok(Ok(delivery)) => Ok(Json(Produced {
            partition: delivery.partition,
            offset: delivery.offset,
        })),
        Ok(Err((error, _))) => Err(BrokerError::kafka("produce", error).into()),
        Err(_canceled) => Err(ApiError::Unavailable(
            "the producer stopped before the broker answered".to_owned(),
        )),
    }
}
