//! Source partition and offsets: where a restart resumes.
//!
//! The partition is Debezium's `{"server": <topic.prefix>}`. The offset keeps Debezium's key
//! names (`file`, `pos`, `gtids`, `event`, `row`, `snapshot`, `ts_sec`) and adds the snapshot
//! progress (`snapshot_table`, `snapshot_key`, `snapshot_rows`).
//!
//! Invariants:
//! - `gtids` (MariaDB `domain-server-seq` list, or MySQL executed set `uuid:1-5,…`; the
//!   syntax tells them apart, [`GtidSyntax`]) / `file`+`pos` name the state **before** the
//!   transaction the record belongs to; `event` counts the records of that transaction that
//!   were already handed out, and a resumed stream skips exactly that many. So a restart
//!   neither loses nor repeats rows of a half-delivered transaction.
//! - While `snapshot` is true the binlog fields hold the position the snapshot started at,
//!   and `snapshot_table`/`snapshot_key` the last row handed out; tables sorted before
//!   `snapshot_table` are complete. Streaming always starts from the snapshot's start
//!   position, so rows changed after a resumed snapshot re-read them are replayed from the
//!   binlog (at-least-once, the final state is right).

use serde_json::{Map, Value};

use crate::preflight::Flavor;

/// A place in the binlog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinlogPosition {
    /// MariaDB GTID state (`0-1-42,1-1-7`) or MySQL executed GTID set (`uuid:1-5,…`);
    /// empty when the server has none (or, on MySQL, when it is not known yet).
    pub gtids: String,
    pub file: String,
    pub pos: u64,
    /// Debezium's `event`: events of the transaction after this position already handled
    /// (counted on our stream, which has no ANNOTATE_ROWS events, so never more than
    /// Debezium counts for the same point: Debezium resuming from it may repeat, never skip).
    pub skip_events: u64,
    /// Debezium's `row`: rows of the rows event after those `skip_events` already delivered.
    pub skip_rows: u64,
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
        if position.skip_rows > 0 {
            map.insert("row".to_owned(), Value::from(position.skip_rows));
        }
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
        // Debezium (which writes `server_id`, we do not) counts the ANNOTATE_ROWS events our
        // stream does not receive: its `event` may be more than ours for the same point, so
        // only its `row` count is kept, applied to the transaction's first rows event: rows
        // it certainly delivered. A resume may repeat rows, never skip one.
        let written_by_debezium = map.contains_key("server_id");
        let position = BinlogPosition {
            gtids: text("gtids"),
            file: text("file"),
            pos: number("pos"),
            skip_events: if written_by_debezium {
                0
            } else {
                number("event")
            },
            skip_rows: number("row"),
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

/// Which server flavour wrote a stored `gtids` value, told by its syntax: MySQL sets
/// always contain `uuid:` items, MariaDB lists `domain-server-seq` numbers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GtidSyntax {
    None,
    MariaDb,
    MySql,
    Unknown,
}

impl GtidSyntax {
    pub fn of(gtids: &str) -> Self {
        let items: Vec<&str> = gtids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Self::None;
        }
        let mariadb = |item: &&str| {
            let parts: Vec<&str> = item.split('-').collect();
            parts.len() == 3 && parts.iter().all(|p| p.parse::<u64>().is_ok())
        };
        if items.iter().all(mariadb) {
            Self::MariaDb
        } else if items.iter().all(|item| item.contains(':')) {
            Self::MySql
        } else {
            Self::Unknown
        }
    }
}

impl StoredOffset {
    pub fn position(&self) -> &BinlogPosition {
        match self {
            Self::Snapshot { start, .. } | Self::Streaming(start) => start,
        }
    }
}

/// Refuses an offset this server cannot resume from, rather than resuming at a wrong place:
/// GTIDs of the other flavour (the offset comes from another server, e.g. after a
/// migration), or a MySQL set on a server whose `gtid_mode` is no longer ON.
pub fn check_resumable(
    offset: &StoredOffset,
    flavor: Flavor,
    mysql_gtid_mode: bool,
) -> Result<(), String> {
    let gtids = &offset.position().gtids;
    let advice = "to start over, stop the connector, delete its offsets \
                  (DELETE /connectors/<name>/offsets) and resume it: it takes a new snapshot";
    let other = |written: &str, server: &str| {
        format!(
            "the stored offset's gtids '{gtids}' were written for a {written} server, but this \
             server is {server}: the offset comes from another server and cannot be resumed \
             here; {advice}"
        )
    };
    match (GtidSyntax::of(gtids), flavor) {
        (GtidSyntax::None, _)
        | (GtidSyntax::MariaDb, Flavor::MariaDb)
        | (GtidSyntax::MySql, Flavor::MySql) => {}
        (GtidSyntax::MySql, Flavor::MariaDb) => return Err(other("MySQL", "MariaDB")),
        (GtidSyntax::MariaDb, Flavor::MySql) => return Err(other("MariaDB", "MySQL")),
        (GtidSyntax::Unknown, _) => {
            return Err(format!(
                "the stored offset's gtids '{gtids}' is neither a MariaDB GTID list \
                 (domain-server-seq) nor a MySQL GTID set (uuid:1-5); {advice}"
            ));
        }
    }
    if GtidSyntax::of(gtids) == GtidSyntax::MySql && !mysql_gtid_mode {
        return Err(format!(
            "the stored offset resumes from the GTID set '{gtids}' but gtid_mode is not ON on \
             this server; set gtid_mode=ON (with enforce_gtid_consistency=ON) again, or {advice}"
        ));
    }
    Ok(())
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
            skip_rows: 0,
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
    fn gtid_syntax_tells_the_flavours_apart() {
        assert_eq!(GtidSyntax::of(""), GtidSyntax::None);
        assert_eq!(GtidSyntax::of("0-1-42,1-2-7"), GtidSyntax::MariaDb);
        assert_eq!(
            GtidSyntax::of(
                "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,\n7c1de3f2-3fd2-11e6-9cdc-42010af000bc:5-41"
            ),
            GtidSyntax::MySql
        );
        assert_eq!(GtidSyntax::of("garbage"), GtidSyntax::Unknown);
    }

    #[test]
    fn mysql_offsets_round_trip_with_debezium_keys() {
        let streaming = StoredOffset::Streaming(BinlogPosition {
            gtids: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7".into(),
            file: "binlog.000002".into(),
            pos: 157,
            skip_events: 1,
            skip_rows: 0,
        });
        let map = streaming.to_map(1);
        for key in ["gtids", "file", "pos", "event", "ts_sec"] {
            assert!(map.contains_key(key), "{key} missing from {map:?}");
        }
        assert_eq!(StoredOffset::from_map(&map), Some(streaming));
        // Debezium's own MySQL offset (with its extra keys) reads back.
        let debezium: Map<String, Value> = serde_json::from_str(
            r#"{"ts_sec":1700000000,"file":"mysql-bin.000003","pos":154,"row":1,"server_id":223344,
                "event":2,"gtids":"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"}"#,
        )
        .unwrap();
        let Some(StoredOffset::Streaming(position)) = StoredOffset::from_map(&debezium) else {
            panic!("not a streaming offset");
        };
        assert_eq!(position.gtids, "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5");
        // Its `event` counts ANNOTATE_ROWS events we never see: only its `row` is kept.
        assert_eq!((position.skip_events, position.skip_rows), (0, 1));
        assert_eq!(GtidSyntax::of(&position.gtids), GtidSyntax::MySql);
    }

    #[test]
    fn an_offset_of_the_other_flavour_is_refused() {
        let offset = |gtids: &str| {
            StoredOffset::Streaming(BinlogPosition {
                gtids: gtids.into(),
                file: "bin.000001".into(),
                pos: 4,
                skip_events: 0,
                skip_rows: 0,
            })
        };
        let mysql = offset("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5");
        let mariadb = offset("0-1-42");
        assert!(check_resumable(&mysql, Flavor::MySql, true).is_ok());
        assert!(check_resumable(&mariadb, Flavor::MariaDb, false).is_ok());
        assert!(check_resumable(&offset(""), Flavor::MySql, false).is_ok());
        let error = check_resumable(&mysql, Flavor::MariaDb, false).unwrap_err();
        assert!(error.contains("written for a MySQL server"), "{error}");
        assert!(
            error.contains("DELETE /connectors/<name>/offsets"),
            "{error}"
        );
        let error = check_resumable(&mariadb, Flavor::MySql, true).unwrap_err();
        assert!(error.contains("written for a MariaDB server"), "{error}");
        let error = check_resumable(&mysql, Flavor::MySql, false).unwrap_err();
        assert!(error.contains("gtid_mode is not ON"), "{error}");
        assert!(check_resumable(&offset("nonsense"), Flavor::MySql, true).is_err());
    }

    #[test]
    fn gtid_state_keeps_the_last_sequence_per_domain() {
        let mut state = GtidState::parse("0-1-5, 2-3-9");
        state.apply(0, 1, 6);
        state.apply(1, 1, 1);
        assert_eq!(state.to_string(), "0-1-6,1-1-1,2-3-9");
    }
}
