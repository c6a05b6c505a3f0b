//! `GET .../records`: waits for records within the time, byte and count limits and renders
//! them in the instance's embedded format.
//!
//! Unlike Confluent, a response goes out as soon as records are there (and the
//! instance's `fetch.min.bytes`, if any, is met) instead of always waiting the full timeout.
//! A record larger than `max_bytes` on its own is answered with 422 naming the record and
//! its size, instead of an empty 200 forever; it stays pending, so a retry with a larger
//! `max_bytes` returns it.
//!
//! Strimzi flavor follows Strimzi instead: `max_bytes` bounds the rendered response, and
//! when the records at hand do not fit, the answer is 422 "Response exceeds the maximum
//! number of bytes the consumer can receive" (Strimzi loses those records; here they stay
//! pending for the next request). A response holds at most 500 records by default, what one
//! Kafka poll returns (`max.poll.records`).
//!
//! This is the consume hot path, so records are written straight into the response body
//! as they are polled: no copy of a polled message unless it has to wait in `pending`, no
//! intermediate `serde_json::Value`, base64 encoded in place, JSON values validated and
//! copied rather than re-serialised, and the offsets handed out recorded once per
//! partition per response rather than per record.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::FutureExt as _;
use rdkafka::Message;
use rdkafka::message::{Headers, OwnedMessage};
use serde::Serialize;
use serde_json::Value;

use super::body::ChunkedBody;
use super::instance::{ConsumerInstance, InstanceState};
use crate::error::ApiError;
use crate::json_text::push_json_string;
use crate::media::EmbeddedFormat;
use crate::schema::{SchemaCodecs, SchemaError};

// The schema of what `RecordsWriter` writes by hand; the unit tests check the two agree.
/// One record as both flavors return it (Strimzi's fields; Confluent's are a subset).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // Built only by the tests: the response is rendered by `RecordsWriter`.
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
    pub overflow: Overflow,
}

/// What `max_bytes` bounds and what happens when the records at hand exceed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Confluent: keys and values count; the response carries fewer records.
    Truncate,
    /// Strimzi: the rendered response counts; 422 when the records do not fit.
    Refuse,
}

/// A streamed batch ends after the record that crosses this size: the client gets records
/// sooner and a stream holds one small batch, while a larger record still goes out whole.
const STREAM_BATCH_BYTES: usize = 256 * 1024;

/// Strimzi's message when the records do not fit `max_bytes`.
pub(crate) const STRIMZI_OVERFLOW: &str =
    "Response exceeds the maximum number of bytes the consumer can receive";

/// How records are laid out in a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// One JSON array: the records response.
    Array,
    /// One Server-Sent Event per record, `id:` topic/partition/offset.
    ServerSentEvents,
    /// One JSON record per line.
    NdJson,
}

/// The rendered records of a response or of one streamed batch.
#[derive(Debug)]
pub(crate) struct RenderedRecords {
    pub body: ChunkedBody,
    /// Records in the body, per topic.
    pub per_topic: Vec<(String, u64)>,
    /// Per partition, the offset of the last record in the body; handed out by [`fetch`],
    /// left to the caller by [`render`].
    pub last_offsets: Vec<(String, i32, i64)>,
    /// The records of the body, kept when the caller may have to give them back.
    pub held: Vec<OwnedMessage>,
}

fn record_size<M: Message>(message: &M) -> usize {
    message.key().map_or(0, <[u8]>::len) + message.payload().map_or(0, <[u8]>::len)
}

/// Why a record was not added to the response.
enum Refusal {
    /// Past `max_bytes` (the description is for a record that is too large on its own).
    TooLarge(String),
    /// Cannot be shown in the consumer's format.
    Unrenderable(ApiError),
}

/// Writes records into the body of one response and remembers the offsets handed out.
struct RecordsWriter {
    format: EmbeddedFormat,
    framing: Framing,
    /// The schemas of the schema formats, compiled before a record is written.
    codecs: Option<SchemaCodecs>,
    max_bytes: usize,
    overflow: Overflow,
    /// With [`Overflow::Refuse`], the records written, to give back if the answer is 422.
    held: Vec<OwnedMessage>,
    body: ChunkedBody,
    count: usize,
    bytes: usize,
    /// Per partition, the offset of the last record written.
    last_offsets: Vec<(String, i32, i64)>,
    per_topic: Vec<(String, u64)>,
}

impl RecordsWriter {
    #[cfg(test)]
    fn new(
        format: EmbeddedFormat,
        codecs: Option<SchemaCodecs>,
        max_bytes: usize,
        overflow: Overflow,
    ) -> Self {
        Self::framed(format, Framing::Array, codecs, max_bytes, overflow)
    }

    fn framed(
        format: EmbeddedFormat,
        framing: Framing,
        codecs: Option<SchemaCodecs>,
        max_bytes: usize,
        overflow: Overflow,
    ) -> Self {
        // Base64 makes 4 bytes of 3; JSON adds a little per record.
        let expected = max_bytes.saturating_mul(4) / 3 + 64;
        let mut body = ChunkedBody::new(expected);
        if framing == Framing::Array {
            body.open().push('[');
        }
        Self {
            format,
            framing,
            codecs,
            max_bytes,
            overflow,
            held: Vec::new(),
            body,
            count: 0,
            bytes: 0,
            last_offsets: Vec::new(),
            per_topic: Vec::new(),
        }
    }

    /// Adds `message` to the response, or says why not (the body is then unchanged).
    fn take<M: Message>(&mut self, message: &M) -> Result<(), Refusal> {
        let size = record_size(message);
        if self.overflow == Overflow::Truncate && self.bytes + size > self.max_bytes {
            return Err(Refusal::TooLarge(format!(
                "The record at {}-{} offset {} is {size} bytes, larger than max_bytes {}; \
                 retry with a larger max_bytes.",
                message.topic(),
                message.partition(),
                message.offset(),
                self.max_bytes
            )));
        }
        let rollback = self.body.mark();
        if let Err(error) = self.write_record(message) {
            self.body.rollback(rollback);
            return Err(Refusal::Unrenderable(error));
        }
        // With the closing bracket.
        if self.overflow == Overflow::Refuse && self.body.len() + 1 > self.max_bytes {
            self.body.rollback(rollback);
            return Err(Refusal::TooLarge(STRIMZI_OVERFLOW.to_owned()));
        }
        self.body.seal_if_full();
        self.count += 1;
        self.bytes += size;
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        match self
            .last_offsets
            .iter_mut()
            .find(|(t, p, _)| *p == partition && t == topic)
        {
            Some(entry) => entry.2 = offset,
            None => self
                .last_offsets
                .push((topic.to_owned(), partition, offset)),
        }
        match self.per_topic.iter_mut().find(|(t, _)| t == topic) {
            Some(entry) => entry.1 += 1,
            None => self.per_topic.push((topic.to_owned(), 1)),
        }
        Ok(())
    }

    fn write_record<M: Message>(&mut self, message: &M) -> Result<(), ApiError> {
        let format = self.format;
        let describe = |field: &str, reason: String| {
            ApiError::unprocessable(
                42207,
                format!(
                    "The {field} of the record at {}-{} offset {} {reason}; the consumer's \
                     format is {}. Seek past it or use a consumer with another format.",
                    message.topic(),
                    message.partition(),
                    message.offset(),
                    format.name()
                ),
            )
        };
        let framing = self.framing;
        let body = self.body.open();
        match framing {
            Framing::Array if self.count > 0 => body.push(','),
            Framing::Array | Framing::NdJson => {}
            Framing::ServerSentEvents => {
                // Topic names are [a-zA-Z0-9._-]: nothing to escape in the id line.
                body.push_str("id: ");
                body.push_str(message.topic());
                body.push('/');
                push_integer(body, message.partition());
                body.push('/');
                push_integer(body, message.offset());
                body.push_str("\ndata: ");
            }
        }
        let record_start = body.len();
        body.push_str("{\"topic\":");
        push_json_string(body, message.topic());
        body.push_str(",\"key\":");
        let codecs = self.codecs.as_ref();
        push_embedded(body, format, codecs, message.key())
            .map_err(|reason| describe("key", reason))?;
        body.push_str(",\"value\":");
        push_embedded(body, format, codecs, message.payload())
            .map_err(|reason| describe("value", reason))?;
        body.push_str(",\"partition\":");
        push_integer(body, message.partition());
        body.push_str(",\"offset\":");
        push_integer(body, message.offset());
        if let Some(timestamp) = message.timestamp().to_millis() {
            body.push_str(",\"timestamp\":");
            push_integer(body, timestamp);
        }
        if let Some(headers) = message.headers() {
            body.push_str(",\"headers\":[");
            for (index, header) in headers.iter().enumerate() {
                if index > 0 {
                    body.push(',');
                }
                body.push_str("{\"key\":");
                push_json_string(body, header.key);
                body.push_str(",\"value\":");
                match header.value {
                    Some(value) => push_base64(body, value),
                    None => body.push_str("null"),
                }
                body.push('}');
            }
            body.push(']');
        }
        body.push('}');
        if framing != Framing::Array {
            // Base64 and escaped strings have no raw line break: only embedded JSON text
            // and schema-decoded values can.
            if !matches!(format, EmbeddedFormat::Binary | EmbeddedFormat::Text) {
                one_line(body, record_start);
            }
            body.push_str(if framing == Framing::NdJson {
                "\n"
            } else {
                "\n\n"
            });
        }
        Ok(())
    }

    /// Closes the array, if any.
    fn finish(mut self) -> RenderedRecords {
        if self.framing == Framing::Array {
            self.body.open().push(']');
        }
        RenderedRecords {
            body: self.body,
            per_topic: self.per_topic,
            last_offsets: self.last_offsets,
            held: self.held,
        }
    }
}

/// Puts the record written from `from` on one line, as an SSE `data:` field or an NDJSON
/// line must be. A raw line break in valid JSON text can only be whitespace between tokens
/// (inside a string it is escaped), so a space replaces it without changing the value.
fn one_line(body: &mut String, from: usize) {
    // Bytes, not chars: a pattern of chars is matched one char at a time.
    if body.as_bytes()[from..]
        .iter()
        .any(|byte| matches!(byte, b'\n' | b'\r'))
    {
        let record = body.split_off(from).replace(['\n', '\r'], " ");
        body.push_str(&record);
    }
}

/// `value` in decimal, without `fmt`'s machinery (three integers per record).
fn push_integer(body: &mut String, value: impl itoa::Integer) {
    body.push_str(itoa::Buffer::new().format(value));
}

fn push_base64(body: &mut String, bytes: &[u8]) {
    body.push('"');
    BASE64.encode_string(bytes, body);
    body.push('"');
}

/// A key or value in the embedded format, or why it cannot be shown in it.
fn push_embedded(
    body: &mut String,
    format: EmbeddedFormat,
    codecs: Option<&SchemaCodecs>,
    bytes: Option<&[u8]>,
) -> Result<(), String> {
    let Some(bytes) = bytes else {
        body.push_str("null");
        return Ok(());
    };
    match format {
        EmbeddedFormat::Binary => push_base64(body, bytes),
        EmbeddedFormat::Json => {
            let text = std::str::from_utf8(bytes)
                .map_err(|error| format!("is not JSON (not UTF-8: {error})"))?;
            serde_json::from_str::<serde::de::IgnoredAny>(text)
                .map_err(|error| format!("is not JSON ({error})"))?;
            body.push_str(text.trim());
        }
        EmbeddedFormat::Text => {
            let text = std::str::from_utf8(bytes)
                .map_err(|error| format!("is not UTF-8 text ({error})"))?;
            push_json_string(body, text);
        }
        EmbeddedFormat::Schema(schema_format) => {
            let codecs = codecs.ok_or_else(|| "needs a schema registry".to_owned())?;
            // Nothing of a record that fails half-way stays in the body.
            let mark = body.len();
            codecs
                .decode_into(schema_format, bytes, body)
                .inspect_err(|_| body.truncate(mark))?;
        }
    }
    Ok(())
}

/// Compiles the schemas a record's key and value name, so that writing it needs no
/// registry call; only an unreachable registry is an error here.
async fn prepare_schemas(
    codecs: Option<&SchemaCodecs>,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<(), SchemaError> {
    let Some(codecs) = codecs else {
        return Ok(());
    };
    codecs.prepare(key).await?;
    codecs.prepare(value).await
}

/// Takes records from the pending queue and the consumer until a limit is reached, and
/// renders them as the JSON array of the response.
///
/// In a schema format, the schemas of each record are compiled before it is written; a
/// registry that cannot be reached ends the response there (the record stays pending), and
/// is a 503 when nothing came before it.
pub(crate) async fn fetch(
    instance: &ConsumerInstance,
    state: &mut InstanceState,
    limits: FetchLimits,
    codecs: Option<&SchemaCodecs>,
) -> Result<RenderedRecords, ApiError> {
    let mut rendered = render(instance, state, limits, codecs, Framing::Array, false).await?;
    for (topic, partition, offset) in std::mem::take(&mut rendered.last_offsets) {
        instance.mark_handed_out(state, topic, partition, offset);
    }
    Ok(rendered)
}

/// [`fetch`] in any framing, without marking the records handed out: the caller does once
/// the client has them. With `keep`, the polled records stay in `held` so that the caller
/// can give them back to `pending` when they could not be delivered.
pub(crate) async fn render(
    instance: &ConsumerInstance,
    state: &mut InstanceState,
    limits: FetchLimits,
    codecs: Option<&SchemaCodecs>,
    framing: Framing,
    keep: bool,
) -> Result<RenderedRecords, ApiError> {
    let deadline = tokio::time::Instant::now() + limits.wait;
    let codecs = codecs.filter(|_| instance.settings.format.schema_format().is_some());
    let mut writer = RecordsWriter::framed(
        instance.settings.format,
        framing,
        codecs.cloned(),
        limits.max_bytes,
        limits.overflow,
    );
    let refuse = limits.overflow == Overflow::Refuse;
    let hold = refuse || keep;
    let refused = loop {
        if writer.count >= limits.max_records
            || (framing != Framing::Array && writer.body.len() >= STREAM_BATCH_BYTES)
        {
            break None;
        }
        if let Some(message) = state.pending.pop_front() {
            if let Err(error) = prepare_schemas(codecs, message.key(), message.payload()).await {
                state.pending.push_front(message);
                break Some(Refusal::Unrenderable(error.into_api()));
            }
            match writer.take(&message) {
                Ok(()) => {
                    if hold {
                        writer.held.push(message);
                    }
                    continue;
                }
                Err(refusal) => {
                    state.pending.push_front(message);
                    break Some(refusal);
                }
            }
        }
        let satisfied = writer.count > 0 && writer.bytes >= limits.min_bytes;
        let received = if satisfied {
            // Only what is already there; never wait once the answer is ready.
            match instance.consumer.recv().now_or_never() {
                Some(result) => result,
                None => break None,
            }
        } else {
            match tokio::time::timeout_at(deadline, instance.consumer.recv()).await {
                Ok(result) => result,
                Err(_elapsed) => break None,
            }
        };
        match received {
            Ok(message) => match prepare_schemas(codecs, message.key(), message.payload())
                .await
                .map_err(|error| Refusal::Unrenderable(error.into_api()))
                .and_then(|()| writer.take(&message))
            {
                Ok(()) if hold => writer.held.push(message.detach()),
                Ok(()) => {}
                Err(refusal) => {
                    state.pending.push_front(message.detach());
                    break Some(refusal);
                }
            },
            Err(error) => {
                // Kafka refusing the instance's identity a topic or the group is an answer,
                // not an empty poll: say so instead of returning empty 200s forever.
                if broker_core::ErrorKind::from_kafka_error(&error)
                    == broker_core::ErrorKind::Forbidden
                {
                    if writer.count == 0 {
                        return Err(ApiError::forbidden(format!(
                            "Kafka refused the consumer instance {} of group {}: {error}",
                            instance.name, instance.group
                        )));
                    }
                    break None;
                }
                tracing::debug!(%error, group = %instance.group, "consumer poll error");
                if tokio::time::Instant::now() >= deadline {
                    break None;
                }
            }
        }
    };
    // Strimzi: records that do not fit are an error, and every record goes back.
    if let Some(Refusal::TooLarge(_)) = &refused
        && refuse
    {
        for message in writer.held.into_iter().rev() {
            state.pending.push_front(message);
        }
        return Err(ApiError::unprocessable(42206, STRIMZI_OVERFLOW));
    }
    // A refused record ends the response; it is an error only when nothing came before it.
    if writer.count == 0 {
        match refused {
            Some(Refusal::TooLarge(description)) => {
                return Err(ApiError::unprocessable(42206, description));
            }
            Some(Refusal::Unrenderable(error)) => return Err(error),
            None => {}
        }
    }
    Ok(writer.finish())
}

#[cfg(test)]
mod tests {
    use rdkafka::Timestamp;
    use rdkafka::message::{Header, OwnedHeaders};

    use super::*;

    fn message(key: Option<&[u8]>, value: Option<&[u8]>, headers: bool) -> OwnedMessage {
        let headers = headers.then(|| {
            OwnedHeaders::new()
                .insert(Header {
                    key: "trace\"id",
                    value: Some(&b"\x00\x01"[..]),
                })
                .insert(Header {
                    key: "empty",
                    value: None::<&[u8]>,
                })
        });
        OwnedMessage::new(
            value.map(<[u8]>::to_vec),
            key.map(<[u8]>::to_vec),
            "topic\n1".to_owned(),
            Timestamp::CreateTime(1_700_000_000_123),
            3,
            42,
            headers,
        )
    }

    /// The same record rendered by serde from a `ConsumedRecord`, as the handler once did.
    fn with_serde(format: EmbeddedFormat, message: &OwnedMessage) -> Value {
        let embedded = |bytes: Option<&[u8]>| match (format, bytes) {
            (_, None) => Value::Null,
            (EmbeddedFormat::Binary, Some(b)) => Value::String(BASE64.encode(b)),
            (EmbeddedFormat::Json, Some(b)) => serde_json::from_slice(b).unwrap(),
            (EmbeddedFormat::Text, Some(b)) => {
                Value::String(String::from_utf8(b.to_vec()).unwrap())
            }
            (EmbeddedFormat::Schema(_), Some(_)) => unreachable!("not rendered by serde"),
        };
        let record = ConsumedRecord {
            topic: message.topic().to_owned(),
            key: embedded(message.key()),
            value: embedded(message.payload()),
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            headers: message.headers().map(|headers| {
                headers
                    .iter()
                    .map(|h| crate::produce::RecordHeader {
                        key: h.key.to_owned(),
                        value: h.value.map(|v| BASE64.encode(v)),
                    })
                    .collect()
            }),
        };
        serde_json::to_value(vec![record]).unwrap()
    }

    fn by_hand(format: EmbeddedFormat, message: &OwnedMessage) -> Result<Value, Refusal> {
        let mut writer = RecordsWriter::new(format, None, 1024, Overflow::Truncate);
        writer.take(message)?;
        writer.body.open().push(']');
        Ok(serde_json::from_str(&writer.body.text()).expect("valid JSON"))
    }

    #[test]
    fn hand_rendering_matches_the_documented_schema() {
        let cases = [
            (
                EmbeddedFormat::Binary,
                message(Some(b"k"), Some(b"\xff\x00v"), true),
            ),
            (EmbeddedFormat::Binary, message(None, None, false)),
            (
                EmbeddedFormat::Json,
                message(
                    Some(b"\"k\""),
                    Some(b" {\"a\": [1, 2.5, \"\\u00e9\"]}\n"),
                    false,
                ),
            ),
            (
                EmbeddedFormat::Text,
                message(Some("cl\u{e9}\t".as_bytes()), Some(b"a\"b\\c\x01"), true),
            ),
        ];
        for (format, message) in cases {
            let Ok(rendered) = by_hand(format, &message) else {
                panic!("{format:?} refused");
            };
            assert_eq!(rendered, with_serde(format, &message), "{format:?}");
        }
    }

    #[test]
    fn unrenderable_record_leaves_the_body_unchanged() {
        let mut writer = RecordsWriter::new(EmbeddedFormat::Json, None, 1024, Overflow::Truncate);
        writer.take(&message(None, Some(b"1"), false)).ok().unwrap();
        let before = writer.body.clone();
        let refusal = writer.take(&message(None, Some(b"{not json"), false));
        assert!(matches!(refusal, Err(Refusal::Unrenderable(_))));
        assert_eq!(writer.body, before);
        let refusal = writer.take(&message(None, Some(b"\"\xff\""), false));
        assert!(matches!(refusal, Err(Refusal::Unrenderable(_))));
        assert_eq!((writer.count, writer.body), (1, before));
    }

    #[test]
    fn records_past_max_bytes_are_refused() {
        let mut writer = RecordsWriter::new(EmbeddedFormat::Binary, None, 10, Overflow::Truncate);
        writer
            .take(&message(Some(b"12345"), Some(b"123"), false))
            .ok()
            .unwrap();
        let refusal = writer.take(&message(None, Some(b"123"), false));
        assert!(matches!(refusal, Err(Refusal::TooLarge(_))));
        assert_eq!(writer.count, 1);
    }

    #[test]
    fn strimzi_bounds_the_rendered_response() {
        let mut writer = RecordsWriter::new(EmbeddedFormat::Binary, None, 200, Overflow::Refuse);
        writer.take(&message(None, Some(b"x"), false)).ok().unwrap();
        let before = writer.body.clone();
        let refusal = writer.take(&message(None, Some(&[b'x'; 40]), false));
        assert!(
            matches!(&refusal, Err(Refusal::TooLarge(m)) if m == STRIMZI_OVERFLOW),
            "the payload is small, the rendered record is not"
        );
        assert_eq!(writer.body, before);
    }

    #[test]
    fn stream_framings_put_each_record_on_its_own_lines() {
        let record = OwnedMessage::new(
            Some(b"{\n \"a\": \"x\\ny\"\r\n}".to_vec()),
            None,
            "orders".to_owned(),
            Timestamp::CreateTime(1),
            3,
            42,
            None,
        );
        let mut sse = RecordsWriter::framed(
            EmbeddedFormat::Json,
            Framing::ServerSentEvents,
            None,
            1024,
            Overflow::Truncate,
        );
        sse.take(&record).ok().unwrap();
        sse.take(&record).ok().unwrap();
        let text = sse.finish().body.text();
        let events: Vec<&str> = text.split_terminator("\n\n").collect();
        assert_eq!(events.len(), 2, "{text}");
        for event in events {
            let (id, data) = event.split_once('\n').unwrap();
            assert_eq!(id, "id: orders/3/42");
            let data = data.strip_prefix("data: ").unwrap();
            assert!(!data.contains(['\n', '\r']), "{data}");
            let value: Value = serde_json::from_str(data).unwrap();
            assert_eq!(value["value"], serde_json::json!({"a": "x\ny"}));
        }
        let mut lines = RecordsWriter::framed(
            EmbeddedFormat::Json,
            Framing::NdJson,
            None,
            1024,
            Overflow::Truncate,
        );
        lines.take(&record).ok().unwrap();
        let text = lines.finish().body.text();
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn binary_and_text_records_stream_on_one_line_without_a_rescan() {
        for format in [EmbeddedFormat::Binary, EmbeddedFormat::Text] {
            let record = message(Some(b"k\n"), Some(b"line 1\r\nline 2\n"), true);
            let mut lines =
                RecordsWriter::framed(format, Framing::NdJson, None, 1024, Overflow::Truncate);
            lines.take(&record).ok().unwrap();
            lines.take(&record).ok().unwrap();
            let text = lines.finish().body.text();
            let parsed: Vec<Value> = text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            assert_eq!(parsed.len(), 2, "{format:?}: {text}");
            assert_eq!(
                Value::Array(parsed[..1].to_vec()),
                with_serde(format, &record),
                "{format:?}"
            );
        }
        let mut sse = RecordsWriter::framed(
            EmbeddedFormat::Binary,
            Framing::ServerSentEvents,
            None,
            1024,
            Overflow::Truncate,
        );
        sse.take(&message(None, Some(b"v"), false)).ok().unwrap();
        assert!(
            sse.finish()
                .body
                .text()
                .starts_with("id: topic\n1/3/42\ndata: {"),
            "the id line holds the topic as it is"
        );
    }

    #[test]
    fn offsets_are_kept_once_per_partition() {
        let mut writer = RecordsWriter::new(EmbeddedFormat::Binary, None, 1024, Overflow::Truncate);
        for _ in 0..3 {
            writer.take(&message(None, Some(b"x"), false)).ok().unwrap();
        }
        assert_eq!(writer.last_offsets, vec![("topic\n1".to_owned(), 3, 42)]);
    }
}
