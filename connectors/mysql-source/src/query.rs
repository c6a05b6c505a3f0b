//! Query modes, compatible with Confluent's JDBC source: `bulk`, `incrementing`,
//! `timestamp`, `timestamp+incrementing`, over sqlx.
//!
//! What polling cannot see — use the CDC connector when any of it matters:
//! - **deletes**, in every mode;
//! - **updates** in `incrementing` mode (the id does not change);
//! - **out-of-order commits**: a row whose id or timestamp was assigned before, but which
//!   committed after, a row already read is skipped forever. `timestamp.delay.interval.ms`
//!   narrows the window (rows younger than the delay are left for the next poll) at the cost
//!   of latency; nothing closes it;
//! - intermediate states between two polls (only the latest version of a row is read).
//!
//! Offsets: partition `{"table": <name>}` (or `{"query": "query"}`), offset
//! `{"incrementing": N, "timestamp": ms, "timestamp_nanos": ns}` as Confluent stores them.
//! Values are read with the text protocol and mapped with [`crate::types`].

pub mod config;
pub mod poller;

pub use poller::QueryTask;
