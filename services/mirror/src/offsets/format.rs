//! Binary layouts of the internal topics, byte for byte as MM2 writes them (Kafka protocol
//! primitives: STRING = INT16 length + UTF-8, integers big-endian), so that MM2 tooling
//! (`RemoteClusterUtils`, `MirrorClient`) reads what this mirror writes.
//!
//! | record | key | value |
//! |---|---|---|
//! | offset sync | topic STRING, partition INT32 | upstream INT64, downstream INT64 (no version) |
//! | checkpoint | group STRING, topic STRING, partition INT32 | version INT16=0, upstream INT64, downstream INT64, metadata STRING |
//! | heartbeat | source alias STRING, target alias STRING | version INT16=0, timestamp INT64 |
//! | dense map run (ours) | topic STRING, partition INT32, source start INT64, target start INT64 | version INT16=0, count INT64 |
//! | source end (ours) | topic STRING, partition INT32 | version INT16=0, log end INT64, seen at INT64 (ms) |

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSync {
    pub topic: String,
    pub partition: i32,
    pub upstream: i64,
    pub downstream: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub group: String,
    /// The topic name on the target (`A.orders`).
    pub topic: String,
    pub partition: i32,
    pub upstream: i64,
    pub downstream: i64,
    pub metadata: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub source: String,
    pub target: String,
    pub timestamp_ms: i64,
}

/// A run of records whose source offsets `source_start..source_start+count` were written
/// at target offsets `target_start..target_start+count`, in order and without gaps.
/// A source partition's log end as the running mirror last saw it, kept on the target so
/// that a failover while the source is unreachable still knows what the target lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEnd {
    pub topic: String,
    pub partition: i32,
    pub end: i64,
    pub seen_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Run {
    pub source_start: i64,
    pub target_start: i64,
    pub count: i64,
}

impl Run {
    pub fn source_end(&self) -> i64 {
        self.source_start + self.count
    }

    pub fn target_end(&self) -> i64 {
        self.target_start + self.count
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRecord {
    pub topic: String,
    pub partition: i32,
    pub run: Run,
}

const VERSION: i16 = 0;

#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn string(mut self, value: &str) -> Self {
        let bytes = value.as_bytes();
        let length = i16::try_from(bytes.len()).unwrap_or(i16::MAX);
        self.0.extend_from_slice(&length.to_be_bytes());
        self.0
            .extend_from_slice(&bytes[..usize::try_from(length).unwrap_or_default()]);
        self
    }
    fn i16(mut self, value: i16) -> Self {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn i32(mut self, value: i32) -> Self {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn i64(mut self, value: i64) -> Self {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
    }
    fn i16(&mut self) -> Option<i16> {
        self.take::<2>().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take::<4>().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take::<8>().map(i64::from_be_bytes)
    }
    fn string(&mut self) -> Option<String> {
        let length = usize::try_from(self.i16()?).ok()?;
        let (head, rest) = self.0.split_at_checked(length)?;
        self.0 = rest;
        String::from_utf8(head.to_vec()).ok()
    }
}

impl OffsetSync {
    pub fn key(&self) -> Vec<u8> {
        Writer::default().string(&self.topic).i32(self.partition).0
    }
    pub fn value(&self) -> Vec<u8> {
        Writer::default().i64(self.upstream).i64(self.downstream).0
    }
    pub fn decode(key: &[u8], value: &[u8]) -> Option<Self> {
        let mut k = Reader(key);
        let mut v = Reader(value);
        Some(Self {
            topic: k.string()?,
            partition: k.i32()?,
            upstream: v.i64()?,
            downstream: v.i64()?,
        })
    }
}

impl Checkpoint {
    pub fn key(&self) -> Vec<u8> {
        Writer::default()
            .string(&self.group)
            .string(&self.topic)
            .i32(self.partition)
            .0
    }
    pub fn value(&self) -> Vec<u8> {
        Writer::default()
            .i16(VERSION)
            .i64(self.upstream)
            .i64(self.downstream)
            .string(&self.metadata)
            .0
    }
    pub fn decode(key: &[u8], value: &[u8]) -> Option<Self> {
        let mut k = Reader(key);
        let mut v = Reader(value);
        let (group, topic, partition) = (k.string()?, k.string()?, k.i32()?);
        let _version = v.i16()?;
        Some(Self {
            group,
            topic,
            partition,
            upstream: v.i64()?,
            downstream: v.i64()?,
            metadata: v.string()?,
        })
    }
}

impl Heartbeat {
    pub fn key(&self) -> Vec<u8> {
        Writer::default()
            .string(&self.source)
            .string(&self.target)
            .0
    }
    pub fn value(&self) -> Vec<u8> {
        Writer::default().i16(VERSION).i64(self.timestamp_ms).0
    }
    pub fn decode(key: &[u8], value: &[u8]) -> Option<Self> {
        let mut k = Reader(key);
        let mut v = Reader(value);
        let (source, target) = (k.string()?, k.string()?);
        let _version = v.i16()?;
        Some(Self {
            source,
            target,
            timestamp_ms: v.i64()?,
        })
    }
}

impl MapRecord {
    /// Keyed by run start on both sides, so a growing run overwrites its own record under
    /// compaction while a second copy of the same source offsets keeps its own record.
    pub fn key(&self) -> Vec<u8> {
        Writer::default()
            .string(&self.topic)
            .i32(self.partition)
            .i64(self.run.source_start)
            .i64(self.run.target_start)
            .0
    }
    pub fn value(&self) -> Vec<u8> {
        Writer::default().i16(VERSION).i64(self.run.count).0
    }
    pub fn decode(key: &[u8], value: &[u8]) -> Option<Self> {
        let mut k = Reader(key);
        let mut v = Reader(value);
        let (topic, partition, source_start, target_start) =
            (k.string()?, k.i32()?, k.i64()?, k.i64()?);
        let _version = v.i16()?;
        Some(Self {
            topic,
            partition,
            run: Run {
                source_start,
                target_start,
                count: v.i64()?,
            },
        })
    }
}

impl SourceEnd {
    pub fn key(&self) -> Vec<u8> {
        Writer::default().string(&self.topic).i32(self.partition).0
    }
    pub fn value(&self) -> Vec<u8> {
        Writer::default()
            .i16(VERSION)
            .i64(self.end)
            .i64(self.seen_ms)
            .0
    }
    pub fn decode(key: &[u8], value: &[u8]) -> Option<Self> {
        let mut k = Reader(key);
        let mut v = Reader(value);
        let (topic, partition) = (k.string()?, k.i32()?);
        let _version = v.i16()?;
        Some(Self {
            topic,
            partition,
            end: v.i64()?,
            seen_ms: v.i64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_end_round_trips() {
        let end = SourceEnd {
            topic: "orders".into(),
            partition: 2,
            end: 1_050,
            seen_ms: 7,
        };
        assert_eq!(
            end.key(),
            [0, 6, b'o', b'r', b'd', b'e', b'r', b's', 0, 0, 0, 2]
        );
        assert_eq!(SourceEnd::decode(&end.key(), &end.value()), Some(end));
    }

    #[test]
    fn offset_sync_layout_matches_mm2() {
        let sync = OffsetSync {
            topic: "ab".into(),
            partition: 3,
            upstream: 7,
            downstream: 5,
        };
        assert_eq!(sync.key(), [0, 2, b'a', b'b', 0, 0, 0, 3]);
        assert_eq!(
            sync.value(),
            [0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 5]
        );
        assert_eq!(OffsetSync::decode(&sync.key(), &sync.value()), Some(sync));
    }

    #[test]
    fn checkpoint_layout_matches_mm2() {
        let checkpoint = Checkpoint {
            group: "g".into(),
            topic: "A.t".into(),
            partition: 1,
            upstream: 2,
            downstream: 3,
            metadata: String::new(),
        };
        assert_eq!(
            checkpoint.key(),
            [0, 1, b'g', 0, 3, b'A', b'.', b't', 0, 0, 0, 1]
        );
        let value = checkpoint.value();
        assert_eq!(&value[..2], &[0, 0], "version 0 first");
        assert_eq!(value.len(), 2 + 8 + 8 + 2);
        assert_eq!(
            Checkpoint::decode(&checkpoint.key(), &value),
            Some(checkpoint)
        );
    }

    #[test]
    fn heartbeat_layout_matches_mm2() {
        let heartbeat = Heartbeat {
            source: "A".into(),
            target: "B".into(),
            timestamp_ms: 1,
        };
        assert_eq!(heartbeat.key(), [0, 1, b'A', 0, 1, b'B']);
        assert_eq!(heartbeat.value(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            Heartbeat::decode(&heartbeat.key(), &heartbeat.value()),
            Some(heartbeat)
        );
    }

    #[test]
    fn truncated_records_do_not_decode() {
        assert_eq!(OffsetSync::decode(&[0, 5, b'a'], &[]), None);
    }
}
