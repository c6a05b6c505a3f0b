//! The record the async path sends.

use std::sync::Arc;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;

/// One record header; `None` is a null value (not an empty one).
pub type RecordHeader = (String, Option<Vec<u8>>);

/// A record ready for a `FutureProducer`, owning its bytes so that decoded data moves in
/// without a copy. The topic is shared: records of one request or batch point at one
/// name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRecord {
    pub topic: Arc<str>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<RecordHeader>,
    /// `None`: the producer's partitioner chooses.
    pub partition: Option<i32>,
    /// Milliseconds since the epoch; `None`: the producer's clock.
    pub timestamp: Option<i64>,
}

impl OutgoingRecord {
    /// A record with neither key, value nor headers.
    pub fn to_topic(topic: Arc<str>) -> Self {
        Self {
            topic,
            key: None,
            value: None,
            headers: Vec::new(),
            partition: None,
            timestamp: None,
        }
    }

    /// The rdkafka record borrowing this one's bytes (headers are copied, as librdkafka
    /// copies everything when the record is queued).
    pub(super) fn to_future_record(&self) -> FutureRecord<'_, [u8], [u8]> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic);
        if let Some(key) = &self.key {
            record = record.key(key.as_slice());
        }
        if let Some(value) = &self.value {
            record = record.payload(value.as_slice());
        }
        if let Some(partition) = self.partition {
            record = record.partition(partition);
        }
        if let Some(timestamp) = self.timestamp {
            record = record.timestamp(timestamp);
        }
        if !self.headers.is_empty() {
            let headers = self.headers.iter().fold(
                OwnedHeaders::new_with_capacity(self.headers.len()),
                |headers, (key, value)| {
                    headers.insert(Header {
                        key,
                        value: value.as_deref(),
                    })
                },
            );
            record = record.headers(headers);
        }
        record
    }
}
