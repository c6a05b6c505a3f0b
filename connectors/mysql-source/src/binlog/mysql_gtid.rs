//! Oracle MySQL GTIDs (`<server_uuid>:<gno>`) and GTID sets, in MySQL's text form.
//!
//! A set is what `@@gtid_executed` prints and what Debezium stores in the offset's `gtids`:
//! `3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,…`, intervals inclusive. MySQL 8.4 tagged
//! GTIDs (`uuid:tag:gno`) are grouped under their uuid as MySQL prints them
//! (`uuid:1-5:tag:1-3`). Uuids are kept lower-case with dashes, as MySQL prints them, so a
//! set formats the same whatever case it was parsed from.
//!
//! The set's syntax (a `:` in every item) is what tells it apart from a MariaDB GTID list
//! (`domain-server-seq`); see [`crate::position::GtidSyntax`].

use std::collections::BTreeMap;
use std::fmt;

use mysql_async::Sid;
use mysql_async::binlog::events::{GtidEvent, PreviousGtidsEvent};

/// MySQL's `GNO_END`: transaction numbers are below `i64::MAX`.
const MAX_GNO: u64 = i64::MAX as u64;

/// A text GTID set that is not MySQL's syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MySQL GTID set '{text}': {reason}")]
pub struct GtidSetError {
    pub text: String,
    pub reason: String,
}

/// The source of a transaction: the server uuid (lower-case, dashed) and an optional tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GtidSource {
    pub uuid: String,
    pub tag: Option<String>,
}

/// One MySQL transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MySqlGtid {
    pub source: GtidSource,
    pub gno: u64,
}

impl MySqlGtid {
    pub fn from_event(event: &GtidEvent) -> Self {
        Self {
            source: GtidSource {
                uuid: format_uuid(&event.sid()),
                tag: event.tag().map(ToString::to_string),
            },
            gno: event.gno(),
        }
    }
}

impl fmt::Display for MySqlGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source.tag {
            Some(tag) => write!(f, "{}:{tag}:{}", self.source.uuid, self.gno),
            None => write!(f, "{}:{}", self.source.uuid, self.gno),
        }
    }
}

/// Inclusive intervals per source, sorted, disjoint and not adjacent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MySqlGtidSet {
    sources: BTreeMap<GtidSource, Vec<(u64, u64)>>,
}

impl MySqlGtidSet {
    pub fn parse(text: &str) -> Result<Self, GtidSetError> {
        let error = |reason: String| GtidSetError {
            text: text.to_owned(),
            reason,
        };
        let mut set = Self::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut parts = item.split(':').map(str::trim);
            let uuid = parts.next().unwrap_or_default();
            let uuid = parse_uuid(uuid).ok_or_else(|| error(format!("'{uuid}' is not a uuid")))?;
            let mut source = GtidSource {
                uuid: format_uuid(&uuid),
                tag: None,
            };
            // Intervals read since the uuid or the last tag: a tag needs at least one, and
            // so does the item.
            let mut intervals = 0;
            for part in parts {
                if part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    if source.tag.is_some() && intervals == 0 {
                        return Err(error(format!("'{item}' has a tag without interval")));
                    }
                    source.tag = Some(part.to_ascii_lowercase());
                    intervals = 0;
                    continue;
                }
                let (start, end) = match part.split_once('-') {
                    Some((start, end)) => (start, end),
                    None => (part, part),
                };
                let (Ok(start), Ok(end)) = (start.parse::<u64>(), end.parse::<u64>()) else {
                    return Err(error(format!("'{part}' is not an interval")));
                };
                if start == 0 || end < start || end >= MAX_GNO {
                    return Err(error(format!("'{part}' is not an interval")));
                }
                set.add_interval(&source, start, end);
                intervals += 1;
            }
            if intervals == 0 {
                return Err(error(format!(
                    "'{item}' has a uuid or tag without interval"
                )));
            }
        }
        Ok(set)
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    pub fn add(&mut self, gtid: &MySqlGtid) {
        self.add_interval(&gtid.source, gtid.gno, gtid.gno);
    }

    pub fn contains(&self, gtid: &MySqlGtid) -> bool {
        self.sources.get(&gtid.source).is_some_and(|intervals| {
            intervals
                .iter()
                .any(|&(start, end)| start <= gtid.gno && gtid.gno <= end)
        })
    }

    /// The set a `PREVIOUS_GTIDS_LOG_EVENT` names (every GTID before its binlog file).
    pub fn from_previous(event: &PreviousGtidsEvent<'_>) -> Self {
        let mut set = Self::default();
        for sid in event.sids() {
            let source = GtidSource {
                uuid: format_uuid(&sid.uuid()),
                tag: sid.tag().map(ToString::to_string),
            };
            // On the wire the interval end is exclusive.
            for interval in sid.intervals() {
                if interval.start() > 0 && interval.end() > interval.start() {
                    set.add_interval(&source, interval.start(), interval.end() - 1);
                }
            }
        }
        set
    }

    /// The set as COM_BINLOG_DUMP_GTID's SID block wants it.
    pub fn to_sids(&self) -> Result<Vec<Sid<'static>>, GtidSetError> {
        self.sources
            .iter()
            .map(|(source, intervals)| {
                let text = format_source(source, intervals);
                // The wire form's exclusive end must not overflow.
                if intervals.iter().any(|&(_, end)| end >= MAX_GNO) {
                    return Err(GtidSetError {
                        text,
                        reason: "transaction number out of range".to_owned(),
                    });
                }
                text.parse::<Sid<'static>>().map_err(|e| GtidSetError {
                    text: text.clone(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    fn add_interval(&mut self, source: &GtidSource, start: u64, end: u64) {
        let intervals = self.sources.entry(source.clone()).or_default();
        intervals.push((start, end));
        intervals.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
        for &(start, end) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        *intervals = merged;
    }
}

fn format_source(source: &GtidSource, intervals: &[(u64, u64)]) -> String {
    let mut text = source.uuid.clone();
    if let Some(tag) = &source.tag {
        text.push(':');
        text.push_str(tag);
    }
    for &(start, end) in intervals {
        if start == end {
            text.push_str(&format!(":{start}"));
        } else {
            text.push_str(&format!(":{start}-{end}"));
        }
    }
    text
}

impl fmt::Display for MySqlGtidSet {
    /// MySQL's grouping: one item per uuid, its untagged intervals first, then each tag.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous_uuid: Option<&str> = None;
        for (source, intervals) in &self.sources {
            let same_uuid = previous_uuid == Some(source.uuid.as_str());
            let text = format_source(source, intervals);
            if same_uuid {
                // Drop the repeated uuid, keep `:tag:intervals`.
                f.write_str(&text[source.uuid.len()..])?;
            } else {
                if previous_uuid.is_some() {
                    f.write_str(",")?;
                }
                f.write_str(&text)?;
            }
            previous_uuid = Some(source.uuid.as_str());
        }
        Ok(())
    }
}

fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text.bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 || text.len() != 36 {
        return None;
    }
    let mut uuid = [0_u8; 16];
    for (index, pair) in hex.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        uuid[index] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(uuid)
}

fn format_uuid(bytes: &[u8; 16]) -> String {
    let mut text = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

#[cfg(test)]
#[path = "mysql_gtid/tests.rs"]
mod tests;
