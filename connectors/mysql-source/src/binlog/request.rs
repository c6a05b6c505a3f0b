//! What the binlog dump command asks for: COM_BINLOG_DUMP from a file and position, or
//! (MySQL) COM_BINLOG_DUMP_GTID with the executed GTID set, after which the server sends
//! every transaction outside that set. MariaDB resumes by GTID with `@slave_connect_state`
//! and a plain dump instead (see [`crate::binlog::reader`]).

use mysql_async::{BinlogStreamRequest, Sid};

use crate::SourceError;
use crate::binlog::mysql_gtid::MySqlGtidSet;
use crate::position::{BinlogPosition, GtidSyntax};

/// A dump request, kept as data so it can be checked without a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpRequest {
    File { file: String, position: u64 },
    Gtid { sids: Vec<Sid<'static>> },
}

impl DumpRequest {
    /// The request for a MySQL server starting at `start`.
    pub fn mysql(start: &BinlogPosition) -> Result<Self, SourceError> {
        match GtidSyntax::of(&start.gtids) {
            GtidSyntax::None => Ok(Self::file(start)),
            GtidSyntax::MySql => {
                let set = MySqlGtidSet::parse(&start.gtids)
                    .map_err(|e| SourceError::definite(e.to_string()))?;
                let sids = set
                    .to_sids()
                    .map_err(|e| SourceError::definite(e.to_string()))?;
                Ok(Self::Gtid { sids })
            }
            GtidSyntax::MariaDb | GtidSyntax::Unknown => Err(SourceError::definite(format!(
                "the stored offset's gtids '{}' is not a MySQL GTID set",
                start.gtids
            ))),
        }
    }

    pub fn file(start: &BinlogPosition) -> Self {
        Self::File {
            file: start.file.clone(),
            position: start.pos.max(4),
        }
    }

    pub fn to_stream_request(&self, server_id: u32) -> BinlogStreamRequest<'_> {
        match self {
            Self::File { file, position } => BinlogStreamRequest::new(server_id)
                .with_filename(file.as_bytes())
                .with_pos(*position),
            // The set alone names the start; MySQL ignores file and position here.
            Self::Gtid { sids } => BinlogStreamRequest::new(server_id)
                .with_gtid()
                .with_gtid_set(sids.iter().cloned())
                .with_pos(4_u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mysql_set_becomes_a_gtid_dump_with_exclusive_interval_ends() {
        let start = BinlogPosition {
            gtids: "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,\n\
                    7c1de3f2-3fd2-11e6-9cdc-42010af000bc:5-41"
                .into(),
            file: "binlog.000003".into(),
            pos: 900,
            skip_events: 1,
            skip_rows: 0,
        };
        let DumpRequest::Gtid { sids } = DumpRequest::mysql(&start).unwrap() else {
            panic!("not a GTID dump");
        };
        assert_eq!(sids.len(), 2);
        assert_eq!(
            sids[0].uuid(),
            [
                0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
                0x95, 0x62
            ]
        );
        let intervals: Vec<(u64, u64)> = sids[0]
            .intervals()
            .iter()
            .map(|i| (i.start(), i.end()))
            .collect();
        assert_eq!(intervals, vec![(1, 6), (7, 8)]);
        assert_eq!(
            sids[1].to_string(),
            "7c1de3f2-3fd2-11e6-9cdc-42010af000bc:5-41"
        );
        // Builds the driver's request without panicking.
        let _ = DumpRequest::Gtid { sids }.to_stream_request(5400);
    }

    #[test]
    fn no_gtids_is_a_file_dump_and_a_mariadb_list_is_refused() {
        let start = BinlogPosition {
            file: "binlog.000001".into(),
            pos: 0,
            ..Default::default()
        };
        assert_eq!(
            DumpRequest::mysql(&start).unwrap(),
            DumpRequest::File {
                file: "binlog.000001".into(),
                position: 4
            }
        );
        let mariadb = BinlogPosition {
            gtids: "0-1-42".into(),
            ..start
        };
        let error = DumpRequest::mysql(&mariadb).unwrap_err().to_string();
        assert!(error.contains("not a MySQL GTID set"), "{error}");
    }
}
