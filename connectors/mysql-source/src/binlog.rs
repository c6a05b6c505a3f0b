//! Streaming the binlog: a reader task turns replication events into change records, in
//! commit order, and hands them to the task in batches over a bounded channel.
//!
//! - [`gtid`]: MariaDB's own GTID events (0xa2), which `mysql_common` does not decode:
//!   parsed from the raw event bytes. They are sent only after
//!   `SET @mariadb_slave_capability=4`; without it MariaDB downgrades them to `BEGIN`.
//! - [`reader`]: connection (resume by GTID with `SET @slave_connect_state`, or by
//!   file+position), table map tracking, row decoding, DDL → schema history.
//!
//! Resume and the offset: see [`crate::position`]. A purged resume point (server error
//! 1236) is a definite error whose message says how to recover; it is never skipped.

pub mod gtid;
pub mod image;
pub mod reader;

pub use reader::{StreamItem, StreamJob, spawn};
