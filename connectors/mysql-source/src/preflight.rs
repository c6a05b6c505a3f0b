//! Checks run before a CDC connector is accepted (`validate`) and again when its task
//! starts: the server is reachable with these credentials, the binlog is on, in ROW format
//! with FULL row images, and the user holds the privileges the snapshot and the binlog
//! stream need. Each problem names the config key to fix and says how.
//!
//! The runtime's `validate` is synchronous, so [`check_blocking`] runs the async checks on
//! a thread of its own with a short timeout instead of blocking the caller's runtime.

use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::config::{Connection, HOSTNAME, PASSWORD, USER};

/// One failed check: the key to fix and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: &'static str,
    pub message: String,
}

impl Problem {
    fn new(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }
}

/// The server flavour, which decides how GTIDs and the snapshot lock work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MariaDb,
    MySql,
}

impl Flavor {
    /// MariaDB always names itself in `VERSION()` (`10.11.6-MariaDB-0+deb12u1`); Oracle
    /// MySQL and its compatible builds (Percona, RDS) do not.
    pub fn from_version(version: &str) -> Self {
        if version.to_ascii_lowercase().contains("mariadb") {
            Self::MariaDb
        } else {
            Self::MySql
        }
    }
}

pub async fn flavor(conn: &mut Conn) -> Flavor {
    let version: Option<String> = conn.query_first("SELECT VERSION()").await.ok().flatten();
    Flavor::from_version(&version.unwrap_or_default())
}

/// Whether a MySQL server writes GTIDs for every transaction (`gtid_mode=ON`). Servers
/// without the variable (before 5.6) have none.
pub async fn mysql_gtid_mode(conn: &mut Conn) -> bool {
    let mode: Option<String> = conn
        .query_first("SELECT @@GLOBAL.gtid_mode")
        .await
        .ok()
        .flatten();
    mode.is_some_and(|m| m.eq_ignore_ascii_case("ON"))
}

/// MySQL GTID settings: with `gtid_mode=ON` the connector resumes by GTID set, which is
/// only safe when every transaction is GTID-safe (`enforce_gtid_consistency=ON`).
pub fn gtid_problem(gtid_mode: &str, enforce_gtid_consistency: &str) -> Option<Problem> {
    let on = |v: &str| v.eq_ignore_ascii_case("ON") || v == "1";
    (on(gtid_mode) && !on(enforce_gtid_consistency)).then(|| {
        Problem::new(
            HOSTNAME,
            format!(
                "gtid_mode is ON but enforce_gtid_consistency is {enforce_gtid_consistency}; \
                 CDC by GTID needs enforce_gtid_consistency=ON \
                 (SET GLOBAL enforce_gtid_consistency=ON, and in the server config)"
            ),
        )
    })
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// Connects, classifying failures by the key that fixes them.
pub async fn connect(connection: &Connection) -> Result<Conn, Problem> {
    match tokio::time::timeout(TIMEOUT, Conn::new(connection.opts())).await {
        Err(_) => Err(Problem::new(
            HOSTNAME,
            format!(
                "no answer from {}:{} within {TIMEOUT:?}; check database.hostname and database.port",
                connection.hostname, connection.port
            ),
        )),
        Ok(Err(mysql_async::Error::Server(error))) if error.code == 1045 => Err(Problem::new(
            PASSWORD,
            format!(
                "access denied for user '{}': check database.user and database.password ({})",
                connection.user, error.message
            ),
        )),
        Ok(Err(mysql_async::Error::Server(error))) => Err(Problem::new(
            USER,
            format!("the server refused the connection: {}", error.message),
        )),
        Ok(Err(error)) => Err(Problem::new(
            HOSTNAME,
            format!(
                "cannot connect to {}:{}: {error}; check database.hostname and database.port",
                connection.hostname, connection.port
            ),
        )),
        Ok(Ok(conn)) => Ok(conn),
    }
}

/// All checks; an empty list means the server is ready for CDC.
pub async fn check(connection: &Connection) -> Vec<Problem> {
    let mut conn = match connect(connection).await {
        Ok(conn) => conn,
        Err(problem) => return vec![problem],
    };
    let mut problems = Vec::new();
    let settings: Result<Option<(String, String, String)>, _> = conn
        .query_first("SELECT @@log_bin, @@binlog_format, @@binlog_row_image")
        .await;
    match settings {
        Ok(Some((log_bin, format, image))) => {
            if log_bin != "1" && !log_bin.eq_ignore_ascii_case("ON") {
                problems.push(Problem::new(
                    HOSTNAME,
                    "the binary log is off on this server; start it with --log-bin",
                ));
            }
            if !format.eq_ignore_ascii_case("ROW") {
                problems.push(Problem::new(
                    HOSTNAME,
                    format!("binlog_format is {format}; CDC needs ROW (SET GLOBAL binlog_format=ROW, and in the server config)"),
                ));
            }
            if !image.eq_ignore_ascii_case("FULL") {
                problems.push(Problem::new(
                    HOSTNAME,
                    format!("binlog_row_image is {image}; CDC needs FULL (SET GLOBAL binlog_row_image=FULL, and in the server config)"),
                ));
            }
        }
        Ok(None) => {}
        Err(error) => problems.push(Problem::new(
            HOSTNAME,
            format!("cannot read the binlog settings: {error}"),
        )),
    }
    if flavor(&mut conn).await == Flavor::MySql {
        let gtid: Result<Option<(String, String)>, _> = conn
            .query_first("SELECT @@GLOBAL.gtid_mode, @@GLOBAL.enforce_gtid_consistency")
            .await;
        // Before MySQL 5.6 neither variable exists: no GTIDs, nothing to check.
        if let Ok(Some((mode, consistency))) = gtid
            && let Some(problem) = gtid_problem(&mode, &consistency)
        {
            problems.push(problem);
        }
    }
    let grants: Vec<String> = match conn.query("SHOW GRANTS FOR CURRENT_USER()").await {
        Ok(grants) => grants,
        Err(error) => {
            problems.push(Problem::new(
                USER,
                format!("cannot read the user's grants: {error}"),
            ));
            Vec::new()
        }
    };
    let missing = missing_privileges(&grants);
    if !missing.is_empty() {
        problems.push(Problem::new(
            USER,
            format!(
                "user '{}' lacks the privileges {}; grant them with GRANT {} ON *.* TO '{}'",
                connection.user,
                missing.join(", "),
                missing.join(", "),
                connection.user
            ),
        ));
    }
    let _ = conn.disconnect().await;
    problems
}

/// What the snapshot and the binlog stream need that `SHOW GRANTS` does not show.
pub fn missing_privileges(grants: &[String]) -> Vec<&'static str> {
    let global: Vec<String> = grants
        .iter()
        .filter(|g| g.contains(" ON *.* "))
        .map(|g| g.to_ascii_uppercase())
        .collect();
    if global.iter().any(|g| g.contains("ALL PRIVILEGES")) {
        return Vec::new();
    }
    let has = |privilege: &str| global.iter().any(|g| g.contains(privilege));
    let mut missing = Vec::new();
    let any_select = grants
        .iter()
        .any(|g| g.to_ascii_uppercase().contains("SELECT") || g.contains("ALL PRIVILEGES"));
    if !any_select {
        missing.push("SELECT");
    }
    if !has("REPLICATION SLAVE") {
        missing.push("REPLICATION SLAVE");
    }
    // MariaDB 10.5 renamed REPLICATION CLIENT to BINLOG MONITOR (the old name still works).
    if !has("REPLICATION CLIENT") && !has("BINLOG MONITOR") {
        missing.push("REPLICATION CLIENT");
    }
    missing
}

/// [`check`] from synchronous code, on its own thread and runtime.
pub fn check_blocking(connection: &Connection) -> Vec<Problem> {
    let connection = connection.clone();
    let handle = connect_api::task::spawn_thread("mysql-preflight", move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match runtime {
            Ok(runtime) => runtime.block_on(check(&connection)),
            Err(error) => vec![Problem::new(
                HOSTNAME,
                format!("cannot run the checks: {error}"),
            )],
        }
    });
    match handle.map(std::thread::JoinHandle::join) {
        Ok(Ok(problems)) => problems,
        _ => vec![Problem::new(HOSTNAME, "the server checks did not complete")],
    }
}

/// Warns when row images lack column names: the stream then decodes old rows with today's
/// columns, which is wrong across a DDL that did more than append columns (see
/// [`crate::binlog::image`]). Servers without the variable (MySQL < 8.0.1, MariaDB < 10.5)
/// stay silent.
pub async fn advise_row_metadata(conn: &mut Conn) {
    let metadata: Option<String> = conn
        .query_first("SELECT @@binlog_row_metadata")
        .await
        .ok()
        .flatten();
    if let Some(value) = metadata
        && !value.eq_ignore_ascii_case("FULL")
    {
        tracing::warn!(
            binlog_row_metadata = value,
            "binlog_row_metadata is not FULL: rows read from before a DDL that dropped, \
             reordered or renamed columns would be decoded with the current columns; \
             SET GLOBAL binlog_row_metadata=FULL (and in the server config)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_comes_from_the_version_string() {
        assert_eq!(
            Flavor::from_version("10.11.6-MariaDB-0+deb12u1-log"),
            Flavor::MariaDb
        );
        assert_eq!(Flavor::from_version("8.0.36"), Flavor::MySql);
        assert_eq!(Flavor::from_version("5.7.44-log"), Flavor::MySql);
        assert_eq!(Flavor::from_version("8.0.35-27 Percona"), Flavor::MySql);
    }

    #[test]
    fn gtid_mode_on_needs_enforce_gtid_consistency() {
        assert_eq!(gtid_problem("ON", "ON"), None);
        assert_eq!(gtid_problem("OFF", "OFF"), None);
        assert_eq!(gtid_problem("OFF_PERMISSIVE", "WARN"), None);
        let problem = gtid_problem("ON", "WARN").unwrap();
        assert_eq!(problem.key, HOSTNAME);
        assert!(
            problem
                .message
                .contains("SET GLOBAL enforce_gtid_consistency=ON"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn all_privileges_is_enough() {
        let grants =
            vec!["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION".to_owned()];
        assert!(missing_privileges(&grants).is_empty());
    }

    #[test]
    fn select_only_user_lacks_replication() {
        let grants = vec![
            "GRANT USAGE ON *.* TO `cdc`@`%`".to_owned(),
            "GRANT SELECT ON `shop`.* TO `cdc`@`%`".to_owned(),
        ];
        assert_eq!(
            missing_privileges(&grants),
            vec!["REPLICATION SLAVE", "REPLICATION CLIENT"]
        );
    }

    #[test]
    fn mariadb_binlog_monitor_counts_as_replication_client() {
        let grants =
            vec!["GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cdc`@`%`".to_owned()];
        assert!(missing_privileges(&grants).is_empty());
    }
}
