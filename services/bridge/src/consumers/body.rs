//! The body of a records response, written in chunks.
//!
//! A response can be many megabytes. One growing `String` would copy itself at every
//! doubling and touch fresh pages each time; fixed-size chunks are written once, handed to
//! hyper as they are, and the allocator reuses them for the next response.

use bytes::Bytes;

/// Size at which a chunk is sealed. Records are never split: a chunk ends after the record
/// that crosses this size, so a record can always be rolled back within the open chunk.
const CHUNK_BYTES: usize = 256 * 1024;
/// Room for the record that crosses [`CHUNK_BYTES`] without a reallocation, in most cases.
const CHUNK_SLACK: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkedBody {
    sealed: Vec<Bytes>,
    sealed_len: usize,
    open: String,
}

impl ChunkedBody {
    /// A body expected to hold about `expected` bytes.
    pub(crate) fn new(expected: usize) -> Self {
        Self {
            sealed: Vec::new(),
            sealed_len: 0,
            open: String::with_capacity(expected.min(CHUNK_BYTES) + CHUNK_SLACK),
        }
    }

    /// The chunk being written.
    pub(crate) fn open(&mut self) -> &mut String {
        &mut self.open
    }

    pub(crate) fn len(&self) -> usize {
        self.sealed_len + self.open.len()
    }

    /// Where the next record starts, to roll it back.
    pub(crate) fn mark(&self) -> usize {
        self.open.len()
    }

    pub(crate) fn rollback(&mut self, mark: usize) {
        self.open.truncate(mark);
    }

    /// Seals the open chunk once it is full; call between records.
    pub(crate) fn seal_if_full(&mut self) {
        if self.open.len() >= CHUNK_BYTES {
            let full = std::mem::replace(
                &mut self.open,
                String::with_capacity(CHUNK_BYTES + CHUNK_SLACK),
            );
            self.sealed_len += full.len();
            self.sealed.push(Bytes::from(full));
        }
    }

    pub(crate) fn into_chunks(mut self) -> Vec<Bytes> {
        if !self.open.is_empty() {
            self.sealed.push(Bytes::from(self.open));
        }
        self.sealed
    }

    #[cfg(test)]
    pub(crate) fn text(&self) -> String {
        let mut text = String::with_capacity(self.len());
        for chunk in &self.sealed {
            text.push_str(std::str::from_utf8(chunk).unwrap());
        }
        text.push_str(&self.open);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_sealed_between_records_and_rollback_stays_in_the_open_chunk() {
        let mut body = ChunkedBody::new(10);
        let record = "x".repeat(100_000);
        for _ in 0..5 {
            let mark = body.mark();
            body.open().push_str(&record);
            body.open().push_str("oops");
            body.rollback(mark + record.len());
            body.seal_if_full();
        }
        assert_eq!(body.len(), 500_000);
        assert_eq!(body.text(), record.repeat(5));
        let chunks = body.into_chunks();
        assert_eq!(
            chunks.len(),
            2,
            "sealed after the 3rd record, then the rest"
        );
        assert_eq!(chunks.iter().map(Bytes::len).sum::<usize>(), 500_000);
    }
}
