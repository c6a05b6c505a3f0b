//! One decision per group from what the clusters hold. Pure: unit-tested below.

use std::collections::{BTreeMap, BTreeSet};

use super::gather::{CheckpointSeen, Facts, PerPartition, selected_groups};
use super::{FailoverOptions, FailoverReport, GroupOutcome, GroupReport, PartitionRow, RpoRow};
use crate::config::Flow;
use crate::offsets::map::Translated;

pub(super) fn plan(flow: &Flow, options: &FailoverOptions, facts: &Facts) -> FailoverReport {
    let source = facts.source.as_ref().ok();
    let groups = selected_groups(flow, options, &facts.checkpoints, source)
        .into_iter()
        .map(|group| plan_group(flow, options, facts, &group))
        .collect();
    FailoverReport {
        flow: flow.name(),
        dry_run: options.dry_run,
        source_reachable: source.is_some(),
        source_error: facts.source.as_ref().err().cloned(),
        groups,
        rpo: rpo_rows(flow, facts),
        took_ms: 0,
    }
}

/// Remote topic → source topic, from every source topic the facts name.
fn upstream_names(flow: &Flow, facts: &Facts) -> BTreeMap<String, String> {
    let source_topics: BTreeSet<String> = facts
        .map
        .partitions()
        .into_iter()
        .map(|(topic, _)| topic)
        .chain(
            facts
                .source
                .iter()
                .flat_map(|s| s.ends.keys().map(|(topic, _)| topic.clone())),
        )
        .collect();
    source_topics
        .into_iter()
        .map(|topic| (flow.policy.remote_topic(&flow.source, &topic), topic))
        .collect()
}

fn plan_group(flow: &Flow, options: &FailoverOptions, facts: &Facts, group: &str) -> GroupReport {
    let names = upstream_names(flow, facts);
    let upstream = |remote: &str| {
        names.get(remote).cloned().unwrap_or_else(|| {
            flow.policy
                .upstream_topic(remote)
                .unwrap_or(remote)
                .to_owned()
        })
    };
    let empty = PerPartition::<CheckpointSeen>::new();
    let checkpoints = facts.checkpoints.get(group).unwrap_or(&empty);
    let on_source = facts
        .source
        .as_ref()
        .ok()
        .and_then(|s| s.committed.get(group));
    let on_target = facts.target_committed.get(group);

    // Every partition the group has a checkpoint or an offset on A for, keyed remote-side.
    let mut keys: BTreeSet<(String, String, i32)> = checkpoints
        .keys()
        .map(|(remote, p)| (upstream(remote), remote.clone(), *p))
        .collect();
    if let Some(committed) = on_source {
        keys.extend(committed.keys().map(|(topic, p)| {
            (
                topic.clone(),
                flow.policy.remote_topic(&flow.source, topic),
                *p,
            )
        }));
    }
    let partitions: Vec<PartitionRow> = keys
        .into_iter()
        .map(|(source_topic, target_topic, partition)| {
            let remote_key = (target_topic.clone(), partition);
            let checkpoint = checkpoints.get(&remote_key).copied();
            let source_offset = on_source
                .and_then(|c| c.get(&(source_topic.clone(), partition)))
                .copied();
            let basis = source_offset.or(checkpoint.map(|c| c.upstream));
            let target_offset =
                match basis.map(|b| facts.map.translate(&source_topic, partition, b)) {
                    Some(Translated::Exact(t) | Translated::Behind { target: t, .. }) => Some(t),
                    _ => checkpoint.map(|c| c.downstream),
                };
            let re_read_at_most = match (source_offset, checkpoint) {
                (None, Some(c)) => facts
                    .map
                    .replicated_end(&source_topic, partition)
                    .map_or(0, |end| (end - c.upstream).max(0)),
                _ => 0,
            };
            let skip = target_offset
                .and_then(|t| {
                    facts
                        .target_log_start
                        .get(&remote_key)
                        .map(|&low| (low - t).max(0))
                })
                .unwrap_or(0);
            PartitionRow {
                source_topic,
                partition,
                source_offset,
                checkpoint_offset: checkpoint.map(|c| c.upstream),
                checkpoint_time_ms: checkpoint.and_then(|c| c.time_ms),
                target_offset,
                target_committed_before: on_target.and_then(|c| c.get(&remote_key)).copied(),
                re_read: 0,
                re_read_at_most,
                skip,
                target_topic,
            }
        })
        .collect();
    let reason = refusal(flow, options, facts, group, checkpoints, &partitions);
    GroupReport {
        group: group.to_owned(),
        outcome: if reason.is_some() {
            GroupOutcome::Refused
        } else {
            GroupOutcome::WouldCommit
        },
        reason,
        partitions,
    }
}

/// Why a group must not be moved, if it must not.
fn refusal(
    flow: &Flow,
    options: &FailoverOptions,
    facts: &Facts,
    group: &str,
    checkpoints: &PerPartition<CheckpointSeen>,
    partitions: &[PartitionRow],
) -> Option<String> {
    let target = &flow.target;
    let source = &flow.source;
    if checkpoints.is_empty() {
        return Some(format!(
            "{target} holds no checkpoints for this group: the mirror never translated it \
             (check `groups` and `emit.checkpoints.interval.seconds`)"
        ));
    }
    if let Some((_, members)) = facts.target_groups.get(group).filter(|(_, m)| *m > 0) {
        return Some(format!(
            "{members} active member(s) on {target}: stop them first (Kafka refuses commits \
             for a group with active members)"
        ));
    }
    let skipped: i64 = partitions.iter().map(|p| p.skip).sum();
    if skipped > 0 {
        return Some(format!(
            "{skipped} record(s) this group has not read are no longer on {target} \
             (deleted by retention?): moving it would skip them"
        ));
    }
    if !options.force
        && let Some((_, members)) = facts
            .source
            .as_ref()
            .ok()
            .and_then(|s| s.groups.get(group))
            .filter(|(_, m)| *m > 0)
    {
        return Some(format!(
            "still {members} active member(s) on {source}: stop them first, or --force"
        ));
    }
    if !options.force
        && let Some(p) = partitions.iter().find(|p| {
            matches!((p.target_committed_before, p.target_offset), (Some(before), Some(to)) if before > to)
        })
    {
        return Some(format!(
            "{target} already has a later position for {}[{}] ({} > {}): --force moves it back",
            p.target_topic,
            p.partition,
            p.target_committed_before.unwrap_or_default(),
            p.target_offset.unwrap_or_default()
        ));
    }
    if partitions.iter().all(|p| p.target_offset.is_none()) {
        return Some(format!(
            "nothing of its partitions was copied to {target} yet"
        ));
    }
    None
}

/// Per source partition of this flow's topics (the map and the source-ends topic are per
/// source alias, so other deployments' topics may be in them).
fn rpo_rows(flow: &Flow, facts: &Facts) -> Vec<RpoRow> {
    let source = facts.source.as_ref().ok();
    let partitions: BTreeSet<(String, i32)> = facts
        .map
        .partitions()
        .into_iter()
        .chain(source.into_iter().flat_map(|s| s.ends.keys().cloned()))
        .chain(facts.last_seen_ends.keys().cloned())
        .filter(|(topic, _)| flow.replicates_topic(topic))
        .collect();
    partitions
        .into_iter()
        .map(|(topic, partition)| {
            let replicated_end = facts.map.replicated_end(&topic, partition);
            let key = (topic.clone(), partition);
            let source_end = source.and_then(|s| s.ends.get(&key)).copied();
            let seen = facts
                .last_seen_ends
                .get(&key)
                .copied()
                .filter(|_| source.is_none());
            RpoRow {
                missing: source_end.map(|end| (end - replicated_end.unwrap_or(0)).max(0)),
                missing_at_least: seen.map(|(end, _)| (end - replicated_end.unwrap_or(0)).max(0)),
                source_end_seen_ms: seen.map(|(_, at)| at),
                oldest_missing_timestamp_ms: source
                    .and_then(|s| s.oldest_missing.get(&key))
                    .copied(),
                source_topic: topic,
                partition,
                replicated_end,
                source_end,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::gather::SourceFacts;
    use crate::offsets::format::{MapRecord, Run};

    fn flow() -> Flow {
        crate::parse_properties(
            "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\n\
             A->B.enabled = true\nA->B.topics = .*\n",
        )
        .expect("valid")
        .flows
        .remove(0)
    }

    fn options() -> FailoverOptions {
        FailoverOptions {
            from: "A".to_owned(),
            to: "B".to_owned(),
            groups: None,
            dry_run: true,
            force: false,
            source_timeout: std::time::Duration::from_secs(1),
        }
    }

    /// `orders`[0]: source 0..100 copied to target 10..110 (a restart left 10 duplicates
    /// before), A's log end 120; group `g` committed 60 on A and was checkpointed at 40.
    fn facts(source_reachable: bool) -> Facts {
        let mut facts = Facts::default();
        facts.map.apply(&MapRecord {
            topic: "orders".to_owned(),
            partition: 0,
            run: Run {
                source_start: 0,
                target_start: 10,
                count: 100,
            },
        });
        facts.checkpoints.entry("g".to_owned()).or_default().insert(
            ("A.orders".to_owned(), 0),
            CheckpointSeen {
                upstream: 40,
                downstream: 50,
                time_ms: Some(1_000),
            },
        );
        facts.target_log_start.insert(("A.orders".to_owned(), 0), 0);
        facts.source = if source_reachable {
            let mut source = SourceFacts::default();
            source
                .committed
                .entry("g".to_owned())
                .or_default()
                .insert(("orders".to_owned(), 0), 60);
            source.ends.insert(("orders".to_owned(), 0), 120);
            source
                .oldest_missing
                .insert(("orders".to_owned(), 0), 5_000);
            Ok(source)
        } else {
            Err("A: timed out".to_owned())
        };
        facts
    }

    #[test]
    fn reachable_source_translates_the_committed_offset_exactly() {
        let report = plan(&flow(), &options(), &facts(true));
        let group = &report.groups[0];
        assert_eq!(group.outcome, GroupOutcome::WouldCommit, "{group:?}");
        let row = &group.partitions[0];
        assert_eq!((row.source_offset, row.target_offset), (Some(60), Some(70)));
        assert_eq!((row.re_read, row.re_read_at_most, row.skip), (0, 0, 0));
        assert_eq!(report.rpo[0].missing, Some(20));
        assert_eq!(report.rpo[0].oldest_missing_timestamp_ms, Some(5_000));
    }

    #[test]
    fn unreachable_source_uses_the_checkpoint_and_bounds_the_re_read() {
        let report = plan(&flow(), &options(), &facts(false));
        assert!(!report.source_reachable);
        let row = &report.groups[0].partitions[0];
        assert_eq!((row.source_offset, row.target_offset), (None, Some(50)));
        assert_eq!(row.checkpoint_time_ms, Some(1_000));
        // 100 records copied, the checkpoint said 40: at most 60 were read on A since.
        assert_eq!(row.re_read_at_most, 60);
        assert_eq!(report.rpo[0].missing, None);
        assert_eq!(report.rpo[0].missing_at_least, None);

        // What the running mirror last saw of A's log end bounds the RPO from below.
        let mut facts = facts(false);
        facts
            .last_seen_ends
            .insert(("orders".to_owned(), 0), (112, 2_000));
        let report = plan(&flow(), &options(), &facts);
        assert_eq!(report.rpo[0].missing_at_least, Some(12));
        assert_eq!(report.rpo[0].source_end_seen_ms, Some(2_000));
    }

    #[test]
    fn refuses_a_group_active_on_the_target_or_without_checkpoints() {
        let mut facts = facts(true);
        facts
            .target_groups
            .insert("g".to_owned(), ("Stable".to_owned(), 2));
        let report = plan(&flow(), &options(), &facts);
        assert_eq!(report.groups[0].outcome, GroupOutcome::Refused);
        assert!(
            report.groups[0]
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains("2 active member(s) on B")
        );

        let mut facts = self::facts(true);
        facts.checkpoints.clear();
        if let Ok(source) = facts.source.as_mut() {
            source.committed.insert(
                "fresh".to_owned(),
                BTreeMap::from([(("orders".to_owned(), 0), 3)]),
            );
        }
        let mut named = options();
        named.groups = Some(regex::Regex::new("^fresh$").expect("regex"));
        let report = plan(&flow(), &named, &facts);
        assert_eq!(report.groups.len(), 1);
        assert!(
            report.groups[0]
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains("no checkpoints")
        );
    }

    #[test]
    fn records_deleted_on_the_target_count_as_skipped_and_refuse_the_group() {
        let mut facts = facts(true);
        facts
            .target_log_start
            .insert(("A.orders".to_owned(), 0), 75);
        let report = plan(&flow(), &options(), &facts);
        assert_eq!(report.skipped(), 5);
        assert_eq!(report.refused(), 1);
    }

    #[test]
    fn a_later_position_on_the_target_needs_force() {
        let mut facts = facts(true);
        facts
            .target_committed
            .entry("g".to_owned())
            .or_default()
            .insert(("A.orders".to_owned(), 0), 90);
        assert_eq!(plan(&flow(), &options(), &facts).refused(), 1);
        let mut forced = options();
        forced.force = true;
        assert_eq!(plan(&flow(), &forced, &facts).refused(), 0);
    }
}
