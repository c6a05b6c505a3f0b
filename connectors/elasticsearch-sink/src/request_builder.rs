//! Groups encoded actions into NDJSON `_bulk` bodies, limited by `batch.size` (actions) and
//! `bulk.size.bytes` (body bytes). An action larger than the byte limit still goes out, alone:
//! refusing it would stall the partition forever; Elasticsearch answers for it item by item.

use bytes::{Bytes, BytesMut};

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
    pub body: Bytes,
}

impl BulkRequest {
    pub fn new(actions: Vec<EncodedAction>) -> Self {
        let size = actions.iter().map(|a| a.lines.len()).sum();
        let mut body = BytesMut::with_capacity(size);
        for action in &actions {
            body.extend_from_slice(&action.lines);
        }
        Self {
            actions,
            body: body.freeze(),
        }
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
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
            record: None,
        }
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
        let request = BulkRequest::new(vec![action(3), action(4)]);
        assert_eq!(request.body.len(), 7);
        assert_eq!(request.len(), 2);
    }
}
