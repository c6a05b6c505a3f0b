//! Streaming the binlog: a reader task turns replication events into change records, in
//! commit order, and hands them to the task in batches over a bounded channel.
//!
//! - [`gtid`]: MariaDB's own GTID events (0xa2), which `mysql_common` does not decode:
//!   parsed from the raw event bytes. They are sent only after
//!   `SET @mariadb_slave_capability=4`; without it MariaDB downgrades them to `BEGIN`.
//! - [`mysql_gtid`]: Oracle MySQL GTIDs and GTID sets (`uuid:1-5,…`), decoded by
//!   `mysql_common` from GTID_LOG_EVENT (33) and PREVIOUS_GTIDS_LOG_EVENT (35).
//! - [`transaction`]: the current transaction, its GTID and the executed GTIDs before it.
//! - [`request`]: COM_BINLOG_DUMP (file+position) or COM_BINLOG_DUMP_GTID (MySQL set).
//! - [`reader`]: connection (resume by GTID with `SET @slave_connect_state`, or by
//!   file+position), table map tracking, row decoding, DDL → schema history.
//!
//! Resume and the offset: see [`crate::position`]. A purged resume point (server error
//! 1236) is a definite error whose message says how to recover; it is never skipped.

pub mod gtid;
pub mod image;
pub mod mysql_gtid;
pub mod reader;
pub mod request;
pub mod transaction;

pub use reader::{StreamItem, StreamJob, spawn};
