//! `GET .../records`: waits for records within the time, byte and count limits and renders
//! them in the instance's embedded format.
//!
//! Unlike Confluent, a response goes out as soon as records are there (and the
//! instance's `fetch.min.bytes`, if any, is met) instead of always waiting the full timeout.
//! A record larger than `max_bytes` on its own is answered with 422 naming the record and
//! its size, instead of an empty 200 forever; it stays pending, so a retry with a larger
//! `max_bytes` returns it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::FutureExt as _;
use rdkafka::Message;
use rdkafka::message::{Headers, OwnedMessage};
use serde::Serialize;
use serde_json::Value;

use super::instance::{ConsumerInstance, InstanceState};
use crate::error::ApiError;
use crate::media::EmbeddedFormat;

/// One record as both flavors return it (Strimzi's fields; Confluent's are a subset).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ConsumedRecord {
    pub topic: String,
    pub key: Value,
    pub value: Value,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<crate::produce::RecordHeader>>,
}

/// Limits of one records request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchLimits {
    pub wait: Duration,
    pub max_bytes: usize,
    pub max_records: usize,
    pub min_bytes: usize,
}

fn record_size(message: &OwnedMessage) -> usize {
    message.key().map_or(0, <[u8]>::len) + message.payload().map_or(0, <[u8]>::len)
}

fn embedded(format: EmbeddedFormat, bytes: Option<&[u8]>) -> Result<Value, String> {
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    match format {
        EmbeddedFormat::Binary => Ok(Value::String(BASE64.encode(bytes))),
        EmbeddedFormat::Json => {
            serde_json::from_slice(bytes).map_err(|error| format!("is not JSON ({error})"))
        }
        EmbeddedFormat::Text => std::str::from_utf8(bytes)
            .map(|text| Value::String(text.to_owned()))
            .map_err(|error| format!("is not UTF-8 text ({error})")),
    }
}

/// Renders one record, or explains why it cannot be shown in `format`.
pub(crate) fn render(
    format: EmbeddedFormat,
    message: &OwnedMessage,
) -> Result<ConsumedRecord, ApiError> {
    let describe = |field: &str, reason: String| {
        ApiError::unprocessable(
            42207,
            format!(
                "The {field} of the record at {}-{} offset {} {reason}; the consumer's format \
                 is {}. Seek past it or use a consumer with another format.",
                message.topic(),
                message.partition(),
                message.offset(),
                format.name()
            ),
        )
    };
    let key = embedded(format, message.key()).map_err(|reason| describe("key", reason))?;
    let value = embedded(format, message.payload()).map_err(|reason| describe("value", reason))?;
    let headers = message.headers().map(|headers| {
        headers
            .iter()
            .map(|header| crate::produce::RecordHeader {
                key: header.key.to_owned(),
                value: header.value.map(|v| BASE64.encode(v)),
            })
            .collect()
    });
    Ok(ConsumedRecord {
        topic: message.topic().to_owned(),
        key,
        value,
        partition: message.partition(),
        offset: message.offset(),
        timestamp: message.timestamp().to_millis(),
        headers,
    })
}

/// Takes records from the pending queue and the consumer until a limit is reached.
pub(crate) async fn fetch(
    instance: &ConsumerInstance,
    state: &mut InstanceState,
    limits: FetchLimits,
) -> Result<Vec<ConsumedRecord>, ApiError> {
    let deadline = tokio::time::Instant::now() + limits.wait;
    let format = instance.settings.format;
    let mut records = Vec::new();
    let mut bytes = 0usize;
    while records.len() < limits.max_records {
        let message = match state.pending.pop_front() {
            Some(message) => message,
            None => {
                let satisfied = !records.is_empty() && bytes >= limits.min_bytes;
                let received = if satisfied {
                    // Only what is already there; never wait once the answer is ready.
                    match instance.consumer.recv().now_or_never() {
                        Some(result) => result.map(|m| m.detach()),
                        None => break,
                    }
                } else {
                    match tokio::time::timeout_at(deadline, instance.consumer.recv()).await {
                        Ok(result) => result.map(|m| m.detach()),
                        Err(_elapsed) => break,
                    }
                };
                match received {
                    Ok(message) => message,
                    Err(error) => {
                        tracing::debug!(%error, group = %instance.group, "consumer poll error");
                        if tokio::time::Instant::now() >= deadline {
                            break;
                        }
                        continue;
                    }
                }
            }
        };
        let size = record_size(&message);
        if bytes + size > limits.max_bytes {
            let first = records.is_empty();
            let description = format!(
                "The record at {}-{} offset {} is {size} bytes, larger than max_bytes {}; \
                 retry with a larger max_bytes.",
                message.topic(),
                message.partition(),
                message.offset(),
                limits.max_bytes
            );
            state.pending.push_front(message);
            if first {
                return Err(ApiError::unprocessable(42206, description));
            }
            break;
        }
        match render(format, &message) {
            Ok(record) => {
                instance.mark_handed_out(state, &message);
                records.push(record);
                bytes += size;
            }
            Err(error) => {
                state.pending.push_front(message);
                if records.is_empty() {
                    return Err(error);
                }
                break;
            }
        }
    }
    Ok(records)
}
