//! Groups encoded actions into NDJSON `_bulk` bodies, limited by `batch.size` (actions) and
//! `bulk.size.bytes` (body bytes). An action larger than the byte limit still goes out, alone:
//! refusing it would stall the partition forever; Elasticsearch answers for it item by item.
//!
//! With `connection.compression` the body is gzipped here, once per request: a request that
//! is resent whole (transport error, 429, 5xx) goes out with the same bytes. The byte limit
//! applies to the uncompressed NDJSON, as in Confluent.

use std::io::Write;

use bytes::{Bytes, BytesMut};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::encoder::EncodedAction;

/// The limits of one bulk request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_actions: usize,
    /// `None` = unlimited (`bulk.size.bytes=-1`).
    pub max_bytes: Option<usize>,
}

impl BatchLimits {
    /// Whether a batch of `actions` actions and `bytes` bytes can take one more action of
    /// `next` bytes. An empty batch always can.
    pub fn admits(&self, actions: usize, bytes: usize, next: usize) -> bool {
        if actions == 0 {
            return true;
        }
        actions < self.max_actions && self.max_bytes.is_none_or(|max| bytes + next <= max)
    }
}

/// A `_bulk` body and the actions in it, in order: item `i` of the response answers
/// `actions[i]`.
#[derive(Debug, Clone)]
pub struct BulkRequest {
    pub actions: Vec<EncodedAction>,
    pub body: BulkBody,
}

/// The bytes of a `_bulk` request as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkBody {
    pub bytes: Bytes,
    /// `Content-Encoding: gzip`.
    pub gzipped: bool,
}

impl BulkRequest {
    pub fn new(actions: Vec<EncodedAction>, compression: bool) -> Self {
        let size = actions.iter().map(|a| a.lines.len()).sum();
        let mut body = BytesMut::with_capacity(size);
        for action in &actions {
            body.extend_from_slice(&action.lines);
        }
        let plain = body.freeze();
        let body = match compression.then(|| gzip(&plain)).flatten() {
            Some(bytes) => BulkBody {
                bytes,
                gzipped: true,
            },
            None => BulkBody {
                bytes: plain,
                gzipped: false,
            },
        };
        Self { actions, body }
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// The records in this request, for a task trace: `topic-partition@offset` of the first
    /// few, then how many more.
    pub fn records(&self) -> String {
        const SHOWN: usize = 5;
        let shown: Vec<String> = self
            .actions
            .iter()
            .take(SHOWN)
            .map(|action| action.coordinates.to_string())
            .collect();
        let more = self.actions.len().saturating_sub(SHOWN);
        let noun = if self.actions.len() == 1 {
            "record"
        } else {
            "records"
        };
        if more == 0 {
            format!("{noun} {}", shown.join(", "))
        } else {
            format!("{noun} {} and {more} more", shown.join(", "))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// `None` only if the encoder failed, which writing into a `Vec` cannot make it do; the
/// caller then sends the plain body, which the cluster accepts as well.
fn gzip(plain: &[u8]) -> Option<Bytes> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(plain.len() / 4), Compression::fast());
    encoder.write_all(plain).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

/// Takes from the front of `pending` as many actions as `limits` admit.
pub fn take_batch(
    pending: &mut std::collections::VecDeque<EncodedAction>,
    limits: BatchLimits,
) -> Vec<EncodedAction> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some(next) = pending.front() {
        let size = next.lines.len();
        if !limits.admits(batch.len(), bytes, size) {
            break;
        }
        bytes += size;
        if let Some(action) = pending.pop_front() {
            batch.push(action);
        }
    }
    batch
}

/// Whether `pending` holds at least one full batch.
pub fn has_full_batch(
    pending: &std::collections::VecDeque<EncodedAction>,
    pending_bytes: usize,
    limits: BatchLimits,
) -> bool {
    pending.len() >= limits.max_actions || limits.max_bytes.is_some_and(|max| pending_bytes >= max)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::encoder::{Operation, RecordCoordinates};

    fn action(size: usize) -> EncodedAction {
        EncodedAction {
            index: "i".to_owned(),
            id: "x".to_owned(),
            operation: Operation::Index,
            lines: Bytes::from(vec![b'x'; size]),
            coordinates: RecordCoordinates {
                topic: "t".to_owned(),
                partition: 0,
                offset: 0,
            },
            external_version: None,
            record: None,
        }
    }

    #[test]
    fn a_request_names_its_first_records() {
        let one = BulkRequest::new(vec![action(1)], false);
        assert_eq!(one.records(), "record t-0@0");
        let many: Vec<_> = (0..7)
            .map(|offset| {
                let mut action = action(1);
                action.coordinates.offset = offset;
                action
            })
            .collect();
        assert_eq!(
            BulkRequest::new(many, false).records(),
            "records t-0@0, t-0@1, t-0@2, t-0@3, t-0@4 and 2 more"
        );
    }

    #[test]
    fn batches_by_count() {
        let mut pending: VecDeque<_> = (0..5).map(|_| action(10)).collect();
        let limits = BatchLimits {
            max_actions: 2,
            max_bytes: None,
        };
        assert_eq!(take_batch(&mut pending, limits).len(), 2);
        assert_eq!(take_batch(&mut pending, limits).len(), 2);
        assert_eq!(take_batch(&mut pending, limits).len(), 1);
    }

    #[test]
    fn batches_by_bytes_and_lets_a_large_action_go_alone() {
        let mut pending: VecDeque<_> = [10, 10, 10, 100, 5].into_iter().map(action).collect();
        let limits = BatchLimits {
            max_actions: 100,
            max_bytes: Some(25),
        };
        assert_eq!(take_batch(&mut pending, limits).len(), 2);
        assert_eq!(take_batch(&mut pending, limits).len(), 1);
        assert_eq!(take_batch(&mut pending, limits).len(), 1);
        assert_eq!(take_batch(&mut pending, limits).len(), 1);
    }

    #[test]
    fn body_concatenates_lines_in_order() {
        let request = BulkRequest::new(vec![action(3), action(4)], false);
        assert_eq!(request.body.bytes.len(), 7);
        assert!(!request.body.gzipped);
        assert_eq!(request.len(), 2);
    }

    #[test]
    fn compressed_body_inflates_to_the_lines() {
        use std::io::Read;
        let request = BulkRequest::new(vec![action(300), action(400)], true);
        assert!(request.body.gzipped);
        assert!(request.body.bytes.len() < 700);
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&request.body.bytes[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, vec![b'x'; 700]);
    }
}
