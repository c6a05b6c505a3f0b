//! Source partition and offsets: where a restart resumes.
//!
//! The partition is Debezium's `{"server": <topic.prefix>}`. The offset keeps Debezium's key
//! names (`file`, `pos`, `gtids`, `event`, `row`, `snapshot`, `ts_sec`) and adds the snapshot
//! progress (`snapshot_table`, `snapshot_key`, `snapshot_rows`).
//!
//! Invariants:
//! - `gtids` (MariaDB `domain-server-seq` list) / `file`+`pos` name the state **before** the
//!   transaction the record belongs to; `event` counts the records of that transaction that
//!   were already handed out, and a resumed stream skips exactly that many. So a restart
//!   neither loses nor repeats rows of a half-delivered transaction.
//! - While `snapshot` is true the binlog fields hold the position the snapshot started at,
//!   and `snapshot_table`/`snapshot_key` the last row handed out; tables sorted before
//!   `snapshot_table` are complete. Streaming always starts from the snapshot's start
//!   position, so rows changed after a resumed snapshot re-read them are replayed from the
//!   binlog (at-least-once, the final state is right).

use serde_json::{Map, Value};

/// A place in the binlog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinlogPosition {
    /// MariaDB GTID state (`0-1-42,1-1-7`); empty when the server has none.
    pub gtids: String,
    pub file: String,
    pub pos: u64,
    /// Records of the transaction after this position already delivered.
    pub skip_events: u64,
}

/// How far an interrupted snapshot got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotProgress {
    /// `db.table` being read; earlier tables (in sorted order) are done.
    pub table: String,
    /// The last primary key handed out, as SQL literals (one per key column).
    pub last_key: Option<Vec<String>>,
    /// Rows of `table` handed out (keyless tables resume by count).
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredOffset {
    Snapshot {
        start: BinlogPosition,
        progress: SnapshotProgress,
    },
    Streaming(BinlogPosition),
}

pub fn partition(topic_prefix: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("server".to_owned(), Value::String(topic_prefix.to_owned()));
    map
}

impl StoredOffset {
    pub fn to_map(&self, ts_sec: i64) -> Map<String, Value> {
        let mut map = Map::new();
        let position = match self {
            Self::Snapshot { start, progress } => {
                map.insert("snapshot".to_owned(), Value::Bool(true));
                map.insert(
                    "snapshot_table".to_owned(),
                    Value::String(progress.table.clone()),
                );
                if let Some(key) = &progress.last_key {
                    map.insert(
                        "snapshot_key".to_owned(),
                        Value::Array(key.iter().cloned().map(Value::String).collect()),
                    );
                }
                map.insert("snapshot_rows".to_owned(), Value::from(progress.rows));
                start
            }
            Self::Streaming(position) => position,
        };
        map.insert("ts_sec".to_owned(), Value::from(ts_sec));
        map.insert("file".to_owned(), Value::String(position.file.clone()));
        map.insert("pos".to_owned(), Value::from(position.pos));
        if !position.gtids.is_empty() {
            map.insert("gtids".to_owned(), Value::String(position.gtids.clone()));
        }
        map.insert("event".to_owned(), Value::from(position.skip_events));
        map
    }

    pub fn from_map(map: &Map<String, Value>) -> Option<Self> {
        let text = |k: &str| {
            map.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let number = |k: &str| map.get(k).and_then(Value::as_u64).unwrap_or(0);
        let position = BinlogPosition {
            gtids: text("gtids"),
            file: text("file"),
            pos: number("pos"),
            skip_events: number("event"),
        };
        if position.file.is_empty() && position.gtids.is_empty() {
            return None;
        }
        if map.get("snapshot").and_then(Value::as_bool) == Some(true) {
            let last_key = map.get("snapshot_key").and_then(Value::as_array).map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect()
            });
            return Some(Self::Snapshot {
                start: position,
                progress: SnapshotProgress {
                    table: text("snapshot_table"),
                    last_key,
                    rows: number("snapshot_rows"),
                },
            });
        }
        Some(Self::Streaming(position))
    }
}

/// MariaDB GTID state: the last sequence number per replication domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidState {
    domains: std::collections::BTreeMap<u32, (u32, u64)>,
}

impl GtidState {
    pub fn parse(text: &str) -> Self {
        let mut state = Self::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut parts = item.split('-');
            if let (Some(d), Some(s), Some(n)) = (parts.next(), parts.next(), parts.next())
                && let (Ok(d), Ok(s), Ok(n)) = (d.parse(), s.parse(), n.parse())
            {
                state.domains.insert(d, (s, n));
            }
        }
        state
    }

    pub fn apply(&mut self, domain: u32, server: u32, sequence: u64) {
        self.domains.insert(domain, (server, sequence));
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}

impl std::fmt::Display for GtidState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items: Vec<String> = self
            .domains
            .iter()
            .map(|(d, (s, n))| format!("{d}-{s}-{n}"))
            .collect();
        f.write_str(&items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip() {
        let streaming = StoredOffset::Streaming(BinlogPosition {
            gtids: "0-1-42".into(),
            file: "bin.000003".into(),
            pos: 1234,
            skip_events: 2,
        });
        assert_eq!(
            StoredOffset::from_map(&streaming.to_map(1)),
            Some(streaming)
        );
        let snapshot = StoredOffset::Snapshot {
            start: BinlogPosition {
                file: "bin.000001".into(),
                pos: 4,
                ..Default::default()
            },
            progress: SnapshotProgress {
                table: "db.t".into(),
                last_key: Some(vec!["7".into()]),
                rows: 7,
            },
        };
        assert_eq!(StoredOffset::from_map(&snapshot.to_map(1)), Some(snapshot));
        assert_eq!(StoredOffset::from_map(&Map::new()), None);
    }

    #[test]
    fn gtid_state_keeps_the_last_sequence_per_domain() {
        let mut state = GtidState::parse("0-1-5, 2-3-9");
        state.apply(0, 1, 6);
        state.apply(1, 1, 1);
        assert_eq!(state.to_string(), "0-1-6,1-1-1,2-3-9");
    }
}
