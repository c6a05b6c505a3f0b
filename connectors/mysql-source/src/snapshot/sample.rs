//! The dry run: the first rows of the captured tables, read with a plain `SELECT … LIMIT`
//! on one connection (no snapshot transaction, no lock, no binlog client, nothing written),
//! turned into the `r` events the snapshot would emit for them, with the same decoding,
//! envelope and offsets. The binlog position in `source` is the current one, as a snapshot
//! started now would show.

use std::sync::Arc;

use connect_api::{SourceSample, TaskProgress};
use mysql_async::Row;
use mysql_async::prelude::Queryable;

use super::chunks::{SnapshotJob, chunk_sql, decode_row, read_event};
use crate::SourceError;
use crate::config::CdcConfig;
use crate::envelope;
use crate::position::{self, SnapshotProgress, StoredOffset};
use crate::preflight;
use crate::schema;

/// At most `limit` rows, table after table in `db.table` order, each with its records.
pub async fn sample(
    config: &CdcConfig,
    connector: &'static str,
    limit: usize,
) -> Result<Vec<SourceSample>, SourceError> {
    let mut conn = preflight::connect(&config.connection)
        .await
        .map_err(|problem| {
            SourceError::definite(format!("{}: {}", problem.key, problem.message))
        })?;
    let flavor = preflight::flavor(&mut conn).await;
    let start = super::start::current_position(config, flavor).await?;
    let job = SnapshotJob {
        config: Arc::new(config.clone()),
        connector,
        partition: position::partition(&config.topic_prefix),
        start,
        resume: None,
        progress: TaskProgress::default(),
    };
    let mut samples = Vec::new();
    for (database, table) in schema::captured_tables(&mut conn, &config.filters).await? {
        let wanted = limit.saturating_sub(samples.len());
        if wanted == 0 {
            break;
        }
        let Some(table) = schema::load(
            &mut conn,
            &config.topic_prefix,
            &database,
            &table,
            &config.filters,
            &config.modes,
        )
        .await?
        else {
            continue;
        };
        let envelope_schema = envelope::envelope_schema(&table, connector);
        let rows: Vec<Row> = conn
            .query(chunk_sql(&table, None, 0, wanted))
            .await
            .map_err(|e| SourceError::from_mysql(&format!("cannot read {}", table.id()), &e))?;
        for (done, row) in rows.into_iter().enumerate() {
            let decoded = decode_row(&table, config, &row.unwrap_raw())?;
            let input = table.row(decoded.values.clone());
            let offset = StoredOffset::Snapshot {
                start: job.start.clone(),
                progress: SnapshotProgress {
                    table: table.id(),
                    last_key: (!decoded.key_literals.is_empty()).then_some(decoded.key_literals),
                    rows: done as u64 + 1,
                },
            };
            let records = read_event(
                &job,
                &table,
                &envelope_schema,
                decoded.values,
                "true",
                &offset,
            );
            samples.push(SourceSample { input, records });
        }
    }
    let _ = conn.disconnect().await;
    Ok(samples)
}
