//! Where the stream is: the current transaction, its GTID, and the executed GTIDs before
//! it, which is what every record's offset names (see [`crate::position`]).
//!
//! MariaDB keeps the last sequence number per domain ([`GtidState`]); MySQL keeps the
//! executed GTID set ([`MySqlGtidSet`]). On MySQL the set is known when the stream started
//! from one (a snapshot under `gtid_mode=ON`, or a stored `gtids`), or from the
//! `PREVIOUS_GTIDS_LOG_EVENT` at the head of a binlog file read from its start. Until then
//! the offset has no `gtids` and a restart resumes by file+position: a partial set would
//! make the server resend (or miss as purged) everything outside it.

use mysql_async::binlog::events::BinlogEventHeader;
use serde_json::{Map, Value};

use crate::SourceError;
use crate::binlog::gtid::MariaGtid;
use crate::binlog::mysql_gtid::{MySqlGtid, MySqlGtidSet};
use crate::envelope::SourceInfo;
use crate::position::{BinlogPosition, GtidState, StoredOffset};
use crate::preflight::Flavor;

#[derive(Debug, Clone)]
enum Executed {
    MariaDb(GtidState),
    MySql(Option<MySqlGtidSet>),
}

impl Executed {
    fn text(&self) -> String {
        match self {
            Self::MariaDb(state) => state.to_string(),
            Self::MySql(set) => set.as_ref().map(ToString::to_string).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone)]
enum TransactionGtid {
    MariaDb(MariaGtid),
    MySql(MySqlGtid),
}

/// The reader's transaction bookkeeping, apart from its I/O so it can be tested on events.
#[derive(Debug, Clone)]
pub struct Transactions {
    executed: Executed,
    file: String,
    /// Position before the current transaction (what a record's offset names).
    start: BinlogPosition,
    gtid: Option<TransactionGtid>,
    /// Events of the current transaction handled so far (Debezium's offset `event`).
    events: u64,
    /// Rows of the current rows event seen so far (Debezium's offset `row`).
    rows_in_event: u64,
    /// Between a transaction's GTID event (or BEGIN) and its commit.
    in_transaction: bool,
    /// The transaction ends with its single statement (MariaDB DDL; MySQL without BEGIN).
    standalone: bool,
    /// A resumed stream skips this many events of its first transaction, then this many
    /// rows of the next rows event, as Debezium does: they were delivered before.
    skip_events: u64,
    skip_rows: u64,
    /// The current file is read from its first event, so its PREVIOUS_GTIDS event holds.
    whole_file: bool,
    /// The current MySQL transaction is already in the executed set: a server that sends
    /// it anyway must not have it delivered twice (nor counted against `skip`).
    already_executed: bool,
}

impl Transactions {
    pub fn new(flavor: Flavor, start: &BinlogPosition) -> Result<Self, SourceError> {
        let executed = match flavor {
            Flavor::MariaDb => Executed::MariaDb(GtidState::parse(&start.gtids)),
            Flavor::MySql if start.gtids.trim().is_empty() => Executed::MySql(None),
            Flavor::MySql => Executed::MySql(Some(
                MySqlGtidSet::parse(&start.gtids)
                    .map_err(|e| SourceError::definite(e.to_string()))?,
            )),
        };
        Ok(Self {
            executed,
            file: start.file.clone(),
            start: BinlogPosition {
                skip_events: 0,
                skip_rows: 0,
                ..start.clone()
            },
            gtid: None,
            events: 0,
            rows_in_event: 0,
            in_transaction: false,
            standalone: false,
            skip_events: start.skip_events,
            skip_rows: start.skip_rows,
            whole_file: start.pos <= 4,
            already_executed: false,
        })
    }

    /// `source.gtid` of the current transaction.
    pub fn gtid(&self) -> Option<String> {
        self.gtid.as_ref().map(|gtid| match gtid {
            TransactionGtid::MariaDb(gtid) => gtid.to_string(),
            TransactionGtid::MySql(gtid) => gtid.to_string(),
        })
    }

    fn begin_transaction(&mut self, start_pos: u64, gtid: TransactionGtid, standalone: bool) {
        self.start = BinlogPosition {
            gtids: self.executed.text(),
            file: self.file.clone(),
            pos: start_pos,
            skip_events: 0,
            skip_rows: 0,
        };
        self.gtid = Some(gtid);
        self.events = 0;
        self.in_transaction = true;
        self.standalone = standalone;
    }

    pub fn on_mariadb_gtid(&mut self, gtid: MariaGtid, start_pos: u64) {
        self.begin_transaction(start_pos, TransactionGtid::MariaDb(gtid), gtid.standalone);
    }

    /// A MySQL transaction is standalone (DDL) until a `BEGIN` says otherwise.
    pub fn on_mysql_gtid(&mut self, gtid: MySqlGtid, start_pos: u64) {
        self.already_executed =
            matches!(&self.executed, Executed::MySql(Some(set)) if set.contains(&gtid));
        self.begin_transaction(start_pos, TransactionGtid::MySql(gtid), true);
    }

    pub fn on_previous_gtids(&mut self, set: MySqlGtidSet) {
        if let Executed::MySql(executed @ None) = &mut self.executed
            && self.whole_file
        {
            tracing::info!(gtids = %set, "executed GTID set known from the binlog file head");
            *executed = Some(set);
            if self.gtid.is_none() {
                self.start.gtids = self.executed.text();
            }
        }
    }

    pub fn on_rotate(&mut self, name: &str, position: u64, fake: bool) {
        self.file = binlog_file_name(name);
        if !fake {
            self.whole_file = position <= 4;
        }
        if !fake || self.start.file.is_empty() {
            self.start.file = self.file.clone();
            self.start.pos = position;
        }
    }

    pub fn on_begin(&mut self) {
        if self.gtid.is_none() {
            self.events = 0;
            self.in_transaction = true;
        }
        if matches!(self.gtid, Some(TransactionGtid::MySql(_))) {
            self.standalone = false;
        }
    }

    /// Whether a DDL statement ends the current transaction.
    pub fn statement_ends_transaction(&self) -> bool {
        self.standalone || self.gtid.is_none()
    }

    pub fn commit(&mut self, end_pos: u64) {
        match (self.gtid.take(), &mut self.executed) {
            (Some(TransactionGtid::MariaDb(gtid)), Executed::MariaDb(state)) => {
                state.apply(gtid.domain, gtid.server, gtid.sequence);
            }
            (Some(TransactionGtid::MySql(gtid)), Executed::MySql(Some(set))) => set.add(&gtid),
            _ => {}
        }
        self.start = BinlogPosition {
            gtids: self.executed.text(),
            file: self.file.clone(),
            pos: end_pos,
            skip_events: 0,
            skip_rows: 0,
        };
        self.events = 0;
        self.in_transaction = false;
        self.standalone = false;
        // The partially delivered transaction is the first one outside the set.
        if !self.already_executed {
            self.skip_events = 0;
            self.skip_rows = 0;
        }
        self.already_executed = false;
    }

    /// Counts a change of the current transaction; false when a resumed stream had already
    /// delivered it.
    pub fn next_change(&mut self) -> bool {
        if self.already_executed {
            return false;
        }
        self.rows_in_event += 1;
        if self.skip_events > 0 {
            return false;
        }
        if self.skip_rows > 0 {
            self.skip_rows -= 1;
            return false;
        }
        true
    }

    /// Counts an event of the current transaction as handled; `rows` for a rows event,
    /// after which a resumed stream's row skip is spent.
    pub fn event_done(&mut self, rows: bool) {
        // Events between transactions (FORMAT_DESCRIPTION, ROTATE, heartbeats) are not
        // part of the partially delivered transaction a skip refers to.
        // Nor are those of a transaction a resumed MySQL stream receives again.
        if !self.in_transaction || self.already_executed {
            return;
        }
        self.events += 1;
        self.rows_in_event = 0;
        if self.skip_events > 0 {
            self.skip_events -= 1;
        } else if rows {
            self.skip_rows = 0;
        }
    }

    /// The `source` block of a change read from `header`'s event.
    pub fn source_info(
        &self,
        connector: &'static str,
        name: &str,
        header: &BinlogEventHeader,
        row: u32,
    ) -> SourceInfo {
        SourceInfo {
            connector,
            name: name.to_owned(),
            ts_ms: i64::from(header.timestamp()) * 1000,
            snapshot: "false",
            server_id: header.server_id(),
            gtid: self.gtid(),
            file: self.file.clone(),
            // Where this event starts, as in Debezium (the offset keeps the transaction's
            // start, where a restart resumes).
            pos: u64::from(header.log_pos()).saturating_sub(u64::from(header.event_size())),
            row,
            thread: None,
        }
    }

    pub fn offset(&self) -> Map<String, Value> {
        let mut position = self.start.clone();
        position.skip_events = self.events;
        position.skip_rows = self.rows_in_event;
        StoredOffset::Streaming(position).to_map(0)
    }
}

/// The binlog file name of a ROTATE event, without what follows its numeric extension.
///
/// The server sends a fake ROTATE before the FORMAT_DESCRIPTION event that announces the
/// checksum algorithm, so the decoder cannot know that this first event carries a CRC32
/// footer and leaves those 4 bytes at the end of the name (`mariadb-bin.000002\u{fffd}mz\u{fffd}`).
/// Binlog files are always named `<base>.<digits>`: everything after the digits is cut.
pub fn binlog_file_name(raw: &str) -> String {
    let Some((base, extension)) = raw.rsplit_once('.') else {
        return raw.to_owned();
    };
    let digits: String = extension.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return raw.to_owned();
    }
    format!("{base}.{digits}")
}

#[cfg(test)]
#[path = "transaction/tests.rs"]
mod tests;

#[cfg(test)]
mod file_name_tests {
    use super::binlog_file_name;

    #[test]
    fn a_checksum_footer_after_the_extension_is_cut() {
        assert_eq!(
            binlog_file_name("mariadb-bin.000002\u{fffd}mz\u{fffd}"),
            "mariadb-bin.000002"
        );
        assert_eq!(binlog_file_name("binlog.000123"), "binlog.000123");
        assert_eq!(binlog_file_name("odd-name"), "odd-name");
    }
}
