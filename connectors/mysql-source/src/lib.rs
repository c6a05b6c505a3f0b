//! MySQL / MariaDB source connector: binlog CDC in Debezium's event format and query modes
//! compatible with Confluent's JDBC source.
//!
//! Two plugins, selected by class name (see [`connector`]):
//!
//! - [`MySqlCdcSource`] (`io.debezium.connector.mysql.MySqlConnector`,
//!   `io.debezium.connector.mariadb.MariaDbConnector`, `MySqlCdc`): a consistent, chunked,
//!   resumable initial snapshot ([`snapshot`]) followed by the binlog stream ([`binlog`]),
//!   every row in Debezium's envelope ([`envelope`]) with Debezium's type mapping ([`types`]).
//! - [`JdbcQuerySource`] (`io.confluent.connect.jdbc.JdbcSourceConnector`, `MySqlQuery`):
//!   polling with `bulk`, `incrementing`, `timestamp`, `timestamp+incrementing` ([`query`]).
//!
//! Roles, one file each: [`config`] (Connect string map → typed, validated config),
//! [`preflight`] (server settings and privileges, checked before anything runs),
//! [`schema`] (table metadata from `information_schema`), [`types`] (MySQL value → Connect
//! value), [`envelope`] (key and change-event structs), [`position`] (source partition and
//! offsets), [`history`] (the schema history topic, written through the runtime's
//! side-topic clients), [`task`] (the CDC task: snapshot, then stream). Record topics are
//! created by the runtime (KIP-158 `topic.creation.*`), never by this crate.
//!
//! Errors follow the runtime's classes: [`SourceError::Transient`] (connection lost, server
//! busy: the runtime retries with backoff) and [`SourceError::Definite`] (purged binlog,
//! missing privilege, undecodable row: the task goes FAILED with a message that says what to
//! do). Delivery is at-least-once: a record's offset is stored by the runtime only after
//! Kafka acknowledged it, and every offset this crate emits is a point from which a restart
//! re-reads nothing it has not already handed out except, at most, the records of one batch.

pub mod binlog;
pub mod config;
pub mod connector;
pub mod envelope;
pub mod history;
mod metrics;
pub mod position;
pub mod preflight;
pub mod query;
pub mod schema;
pub mod snapshot;
pub mod task;
pub mod types;

pub use connector::{JdbcQuerySource, MySqlCdcSource};

use connect_api::ConnectError;

/// The version `GET /connector-plugins` reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What went wrong, sorted by what the caller must do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Retry with backoff: the connection dropped, the server is restarting.
    #[error("{0}")]
    Transient(String),
    /// Stop and surface in the task status: retrying cannot help.
    #[error("{0}")]
    Definite(String),
}

impl SourceError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient(message.into())
    }

    pub fn definite(message: impl Into<String>) -> Self {
        Self::Definite(message.into())
    }

    /// Sorts a driver error: network and server-availability errors are transient, SQL
    /// errors (privileges, unknown tables, purged binlog) definite.
    pub fn from_mysql(context: &str, error: &mysql_async::Error) -> Self {
        match error {
            mysql_async::Error::Io(_) => Self::transient(format!("{context}: {error}")),
            mysql_async::Error::Server(server) => match server.code {
                // ER_MASTER_FATAL_ERROR_READING_BINLOG: the position is gone.
                1236 => Self::definite(format!("{context}: {error}")),
                // Too many connections, server shutdown in progress, lock wait timeout,
                // deadlock, query interrupted.
                1040 | 1053 | 1205 | 1213 | 1317 | 2006 | 2013 => {
                    Self::transient(format!("{context}: {error}"))
                }
                _ => Self::definite(format!("{context}: {error}")),
            },
            _ => Self::transient(format!("{context}: {error}")),
        }
    }
}

impl From<SourceError> for ConnectError {
    fn from(error: SourceError) -> Self {
        match error {
            SourceError::Transient(message) => ConnectError::retriable(message),
            SourceError::Definite(message) => ConnectError::definite(message),
        }
    }
}
