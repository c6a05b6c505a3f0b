//! MariaDB GTID events, from their raw bytes.
//!
//! `GTID_EVENT` (0xa2) body: sequence number (u64 LE), domain id (u32 LE), flags (u8); the
//! server id is in the common header. Flag `FL_STANDALONE` (1) marks a transaction without
//! `XID` (DDL): it ends with its single query event.

pub const MARIADB_ANNOTATE_ROWS: u8 = 0xa0;
pub const MARIADB_BINLOG_CHECKPOINT: u8 = 0xa1;
pub const MARIADB_GTID: u8 = 0xa2;
pub const MARIADB_GTID_LIST: u8 = 0xa3;

const FL_STANDALONE: u8 = 1;

/// One MariaDB GTID (`domain-server-sequence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariaGtid {
    pub domain: u32,
    pub server: u32,
    pub sequence: u64,
    pub standalone: bool,
}

impl MariaGtid {
    pub fn parse(data: &[u8], server: u32) -> Option<Self> {
        let sequence = u64::from_le_bytes(data.get(0..8)?.try_into().ok()?);
        let domain = u32::from_le_bytes(data.get(8..12)?.try_into().ok()?);
        let flags = *data.get(12)?;
        Some(Self {
            domain,
            server,
            sequence,
            standalone: flags & FL_STANDALONE != 0,
        })
    }
}

impl std::fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_raw_event_body() {
        let mut data = 42_u64.to_le_bytes().to_vec();
        data.extend(3_u32.to_le_bytes());
        data.push(1);
        let gtid = MariaGtid::parse(&data, 7).unwrap();
        assert_eq!(gtid.to_string(), "3-7-42");
        assert!(gtid.standalone);
        assert!(MariaGtid::parse(&data[..5], 7).is_none());
    }
}
