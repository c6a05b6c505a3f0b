//! The initial snapshot: every captured row once, consistent with the binlog position the
//! stream starts from.
//!
//! How the snapshot stays consistent with the binlog ([`start`]):
//! - **MariaDB**: `START TRANSACTION WITH CONSISTENT SNAPSHOT` under REPEATABLE READ; MariaDB
//!   reports the binlog file and position that snapshot corresponds to in the session
//!   status `binlog_snapshot_file`/`binlog_snapshot_position` (taken atomically with the
//!   read view, so no lock is needed), and `BINLOG_GTID_POS()` turns it into a GTID state.
//! - **MySQL**: `FLUSH TABLES WITH READ LOCK`, then the transaction, then `SHOW MASTER
//!   STATUS`, then `UNLOCK TABLES`: writes are blocked only for those statements.
//!
//! Every row is read inside that one transaction, so it shows exactly the commits before
//! the position P0, and streaming starts at P0: each change is either in the snapshot or in
//! the stream, never both, never neither.
//!
//! Chunks ([`chunks`]): each table is read in primary-key order, `fetch.size` rows at a
//! time (`WHERE (pk) > (last) ORDER BY pk LIMIT n`), by a reader task that runs one chunk
//! ahead of the runtime's delivery. Every record's offset carries P0 plus the table and key
//! it reached, so a task that dies mid-snapshot resumes after the last delivered key, with a
//! new read view; it then still streams from P0, replaying whatever changed in between
//! (at-least-once: rows can repeat, none is missed, the final state is right).
//!
//! [`sample`]: the dry run's first rows, read the same way without a snapshot.

pub mod chunks;
pub mod sample;
pub mod start;

pub use chunks::{SnapshotItem, spawn_reader};
pub use start::begin;
