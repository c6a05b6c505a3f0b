//! `kafka-gateway mirror translate --group G`: where a source group would resume on the
//! target, per partition, from the dense offset map.

use std::time::Duration;

use broker_core::KafkaClients;
use broker_core::metadata::ClusterInspector;

use crate::config::ValidatedMirror;
use crate::error::MirrorError;
use crate::groups::committed_offsets;
use crate::offsets::load_offset_map;
use crate::offsets::map::Translated;

/// One partition of a translated group position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslatedOffset {
    /// `A->B`.
    pub flow: String,
    pub source_topic: String,
    pub target_topic: String,
    pub partition: i32,
    /// The group's committed position on the source (next record to read).
    pub source_offset: i64,
    /// Where to resume on the target; `None` when nothing of the partition was copied yet.
    pub target_offset: Option<i64>,
    /// Records a consumer resuming at `target_offset` would read again (0 when exact; the
    /// group is ahead of the mirror otherwise).
    pub re_read: i64,
    /// The group's committed offset on the target today (e.g. from `sync.group.offsets`).
    pub target_committed: Option<i64>,
}

/// Translates `group`'s committed source offsets through every enabled flow.
pub async fn translate(
    config: &ValidatedMirror,
    group: &str,
) -> Result<Vec<TranslatedOffset>, MirrorError> {
    let mut rows = Vec::new();
    for flow in &config.flows {
        let source = KafkaClients::new(config.cluster(&flow.source).cluster.clone());
        let target = KafkaClients::new(config.cluster(&flow.target).cluster.clone());
        let timeout = flow.admin_timeout.min(Duration::from_secs(30));
        let metadata = ClusterInspector::new(&source, timeout)?
            .metadata(None)
            .await?;
        let partitions: Vec<(String, i32)> = metadata
            .topics
            .iter()
            .filter(|t| t.error.is_none() && flow.replicates_topic(&t.name))
            .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), p.id)))
            .collect();
        let map_topic = flow.policy.offset_map_topic(&flow.source);
        let group_name = group.to_owned();
        let flow_copy = flow.clone();
        let rows_of_flow = broker_core::task::spawn_blocking(
            "mirror-offset-translate",
            move || -> Result<Vec<TranslatedOffset>, MirrorError> {
                let committed = committed_offsets(&source, &group_name, &partitions, timeout)?;
                if committed.is_empty() {
                    return Ok(Vec::new());
                }
                let map = load_offset_map(&target, &map_topic, timeout)?;
                let remote: Vec<(String, i32)> = committed
                    .keys()
                    .map(|(t, p)| (flow_copy.policy.remote_topic(&flow_copy.source, t), *p))
                    .collect();
                let on_target = committed_offsets(&target, &group_name, &remote, timeout)?;
                Ok(committed
                    .iter()
                    .map(|((topic, partition), &offset)| {
                        let target_topic = flow_copy.policy.remote_topic(&flow_copy.source, topic);
                        let translated = map.translate(topic, *partition, offset);
                        TranslatedOffset {
                            flow: flow_copy.name(),
                            source_topic: topic.clone(),
                            partition: *partition,
                            source_offset: offset,
                            target_offset: translated.target_offset(),
                            re_read: match translated {
                                Translated::Behind { unreplicated, .. } => unreplicated,
                                _ => 0,
                            },
                            target_committed: on_target
                                .get(&(target_topic.clone(), *partition))
                                .copied(),
                            target_topic,
                        }
                    })
                    .collect())
            },
        )
        .await
        .map_err(|e| MirrorError::Task {
            task: "translate".to_owned(),
            reason: e.to_string(),
        })??;
        rows.extend(rows_of_flow);
    }
    if rows.is_empty() {
        return Err(MirrorError::UnknownGroup {
            group: group.to_owned(),
        });
    }
    Ok(rows)
}

/// The rows as an aligned text table, for the CLI.
pub fn render_table(rows: &[TranslatedOffset]) -> String {
    let mut out = format!(
        "{:<8} {:<32} {:<32} {:>9} {:>14} {:>14} {:>8} {:>16}\n",
        "FLOW",
        "SOURCE TOPIC",
        "TARGET TOPIC",
        "PARTITION",
        "SOURCE OFFSET",
        "TARGET OFFSET",
        "RE-READ",
        "TARGET COMMITTED"
    );
    for row in rows {
        let show = |value: Option<i64>| value.map_or_else(|| "-".to_owned(), |v| v.to_string());
        out.push_str(&format!(
            "{:<8} {:<32} {:<32} {:>9} {:>14} {:>14} {:>8} {:>16}\n",
            row.flow,
            row.source_topic,
            row.target_topic,
            row.partition,
            row.source_offset,
            show(row.target_offset),
            row.re_read,
            show(row.target_committed)
        ));
    }
    out
}
