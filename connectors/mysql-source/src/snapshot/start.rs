//! Opening the snapshot transaction and reading the binlog position it corresponds to.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::SourceError;
use crate::config::{CdcConfig, LockingMode};
use crate::position::BinlogPosition;
use crate::preflight::{self, Flavor};

/// MySQL's executed GTID set, one line (the server separates items with `,\n`).
async fn executed_gtids(conn: &mut Conn) -> Result<String, SourceError> {
    let gtids: Option<String> = conn
        .query_first("SELECT @@GLOBAL.gtid_executed")
        .await
        .map_err(sql("cannot read gtid_executed"))?;
    Ok(gtids.unwrap_or_default().replace(['\n', '\r'], ""))
}

fn sql(context: &'static str) -> impl Fn(mysql_async::Error) -> SourceError {
    move |e| SourceError::from_mysql(context, &e)
}

/// Opens a connection with a consistent-snapshot transaction; returns it with the binlog
/// position of its read view.
pub async fn begin(
    config: &CdcConfig,
    flavor: Flavor,
) -> Result<(Conn, BinlogPosition), SourceError> {
    let mut conn = Conn::new(config.connection.opts())
        .await
        .map_err(sql("cannot connect for the snapshot"))?;
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await
        .map_err(sql("cannot set the isolation level"))?;
    let position = match flavor {
        Flavor::MariaDb => {
            conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                .await
                .map_err(sql("cannot start the snapshot transaction"))?;
            let status: Vec<(String, String)> = conn
                .query("SHOW STATUS LIKE 'binlog_snapshot_%'")
                .await
                .map_err(sql("cannot read the snapshot's binlog position"))?;
            let get = |name: &str| {
                status
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let file = get("binlog_snapshot_file");
            let pos: u64 = get("binlog_snapshot_position").parse().unwrap_or(4);
            let gtids: Option<String> = conn
                .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file.as_str(), pos))
                .await
                .map_err(sql("cannot map the binlog position to a GTID state"))?;
            BinlogPosition {
                gtids: gtids.unwrap_or_default(),
                file,
                pos,
                skip_events: 0,
                skip_rows: 0,
            }
        }
        Flavor::MySql => {
            let gtid_mode = preflight::mysql_gtid_mode(&mut conn).await;
            let lock = config.locking_mode == LockingMode::Minimal;
            if lock {
                conn.query_drop("FLUSH TABLES WITH READ LOCK")
                    .await
                    .map_err(sql("cannot take the global read lock (needs RELOAD; or set snapshot.locking.mode=none)"))?;
            }
            conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                .await
                .map_err(sql("cannot start the snapshot transaction"))?;
            // Under the lock (or, without it, before the position: a transaction committed
            // in between is then streamed again rather than lost).
            let gtids = if gtid_mode {
                executed_gtids(&mut conn).await?
            } else {
                String::new()
            };
            let status: Option<mysql_async::Row> = conn
                .query_first("SHOW MASTER STATUS")
                .await
                .map_err(sql("cannot read the binlog position"))?;
            if lock {
                conn.query_drop("UNLOCK TABLES")
                    .await
                    .map_err(sql("cannot release the global read lock"))?;
            }
            let status = status.ok_or_else(|| SourceError::definite("the binary log is off"))?;
            BinlogPosition {
                gtids,
                file: status.get::<String, _>(0).unwrap_or_default(),
                pos: status.get::<u64, _>(1).unwrap_or(4),
                skip_events: 0,
                skip_rows: 0,
            }
        }
    };
    tracing::info!(
        file = position.file,
        pos = position.pos,
        gtids = position.gtids,
        "snapshot read view opened"
    );
    Ok((conn, position))
}

/// The current end of the binlog, for streaming without a snapshot.
pub async fn current_position(
    config: &CdcConfig,
    flavor: Flavor,
) -> Result<BinlogPosition, SourceError> {
    let mut conn = Conn::new(config.connection.opts())
        .await
        .map_err(sql("cannot connect"))?;
    // MySQL: the GTID set before the position, so a transaction committed in between is
    // streamed rather than skipped.
    let mysql_gtids = if flavor == Flavor::MySql && preflight::mysql_gtid_mode(&mut conn).await {
        executed_gtids(&mut conn).await?
    } else {
        String::new()
    };
    let status: Option<mysql_async::Row> = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .map_err(sql("cannot read the binlog position"))?;
    let status = status.ok_or_else(|| SourceError::definite("the binary log is off"))?;
    let file = status.get::<String, _>(0).unwrap_or_default();
    let pos = status.get::<u64, _>(1).unwrap_or(4);
    let gtids = if flavor == Flavor::MariaDb {
        conn.query_first::<Option<String>, _>("SELECT @@gtid_binlog_pos")
            .await
            .map_err(sql("cannot read gtid_binlog_pos"))?
            .flatten()
            .unwrap_or_default()
    } else {
        mysql_gtids
    };
    let _ = conn.disconnect().await;
    Ok(BinlogPosition {
        gtids,
        file,
        pos,
        skip_events: 0,
        skip_rows: 0,
    })
}
