//! One decision per group, the catch-up state and the RPO window, from what the clusters
//! hold. Pure: unit-tested below.

use std::collections::BTreeMap;

use super::gather::Facts;
use super::inverse::inverse;
use super::{
    CatchUpRow, FailbackGroup, FailbackOptions, FailbackReport, FailbackRow, GroupOutcome,
    RowOrigin, RpoWindowRow,
};
use crate::config::Flow;
use crate::offsets::map::Translated;

pub(super) fn plan(back: &Flow, options: &FailbackOptions, facts: &Facts) -> FailbackReport {
    let catch_up = catch_up_rows(facts);
    let caught_up = catch_up.iter().all(|row| row.behind == 0);
    let groups = facts
        .b_committed
        .keys()
        .map(|group| plan_group(back, options, facts, group, caught_up))
        .collect();
    FailbackReport {
        flow: back.name(),
        dry_run: options.dry_run,
        caught_up,
        catch_up,
        groups,
        rpo_window: rpo_window(facts),
        took_ms: 0,
    }
}

fn catch_up_rows(facts: &Facts) -> Vec<CatchUpRow> {
    facts
        .back_ends
        .iter()
        .map(|((topic, partition), &end)| {
            let replicated_end = facts.back_map.replicated_end(topic, *partition);
            CatchUpRow {
                topic: topic.clone(),
                partition: *partition,
                source_end: end,
                replicated_end,
                behind: (end - replicated_end.unwrap_or(0)).max(0),
            }
        })
        .collect()
}

fn plan_group(
    back: &Flow,
    options: &FailbackOptions,
    facts: &Facts,
    group: &str,
    caught_up: bool,
) -> FailbackGroup {
    let upstream: BTreeMap<&str, &str> = facts
        .out_remote
        .iter()
        .map(|(topic, remote)| (remote.as_str(), topic.as_str()))
        .collect();
    let empty = BTreeMap::new();
    let on_b = facts.b_committed.get(group).unwrap_or(&empty);
    let on_a = facts.a_committed.get(group).unwrap_or(&empty);
    let partitions: Vec<FailbackRow> = on_b
        .iter()
        .map(|((from_topic, partition), &from_offset)| {
            let row = match upstream.get(from_topic.as_str()) {
                Some(topic) => original_row(facts, topic, from_topic, *partition, from_offset),
                None => written_on_b_row(back, facts, from_topic, *partition, from_offset),
            };
            finish(row, on_a, facts)
        })
        .collect();
    let reason = refusal(back, options, facts, group, caught_up, &partitions);
    FailbackGroup {
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

/// `A.orders` on B → `orders` on A, through the inverse of A → B's map.
fn original_row(
    facts: &Facts,
    topic: &str,
    from_topic: &str,
    partition: i32,
    from_offset: i64,
) -> FailbackRow {
    let unmapped = facts
        .unmapped
        .get(&(topic.to_owned(), partition))
        .map_or(&[][..], Vec::as_slice);
    let inverse = inverse(
        &facts.out_map.runs_of(topic, partition),
        unmapped,
        from_offset,
    );
    FailbackRow {
        origin: RowOrigin::Original,
        from_topic: from_topic.to_owned(),
        to_topic: topic.to_owned(),
        partition,
        from_offset,
        to_offset: inverse.map(|i| i.source),
        to_committed_before: None,
        exact: inverse.is_some_and(|i| i.re_read == 0),
        re_read: inverse.map_or(0, |i| i.re_read),
        skip: 0,
    }
}

/// `orders` on B → `B.orders` on A, through B → A's map.
fn written_on_b_row(
    back: &Flow,
    facts: &Facts,
    from_topic: &str,
    partition: i32,
    from_offset: i64,
) -> FailbackRow {
    let translated = facts.back_map.translate(from_topic, partition, from_offset);
    FailbackRow {
        origin: RowOrigin::WrittenOnB,
        from_topic: from_topic.to_owned(),
        to_topic: back.policy.remote_topic(&back.source, from_topic),
        partition,
        from_offset,
        to_offset: translated.target_offset(),
        to_committed_before: None,
        exact: matches!(translated, Translated::Exact(_)),
        // Read on B, not on A yet: read again when B → A copies them.
        re_read: match translated {
            Translated::Behind { unreplicated, .. } => unreplicated,
            _ => 0,
        },
        skip: 0,
    }
}

/// A's current commit and log start: a later commit on A stays (the group read further on
/// A before the disaster; offsets only move forward), and records of A the group has not
/// read but A no longer holds are counted as skipped.
fn finish(mut row: FailbackRow, on_a: &BTreeMap<(String, i32), i64>, facts: &Facts) -> FailbackRow {
    let key = (row.to_topic.clone(), row.partition);
    row.to_committed_before = on_a.get(&key).copied();
    if let (Some(before), Some(to)) = (row.to_committed_before, row.to_offset)
        && before > to
    {
        row.to_offset = Some(before);
        row.re_read = 0;
        row.exact = false;
    }
    row.skip = match (row.to_offset, facts.a_starts.get(&key)) {
        (Some(to), Some(&start)) => (start - to).max(0),
        _ => 0,
    };
    row
}

fn refusal(
    back: &Flow,
    options: &FailbackOptions,
    facts: &Facts,
    group: &str,
    caught_up: bool,
    partitions: &[FailbackRow],
) -> Option<String> {
    let a = &back.target;
    let b = &back.source;
    if let Some((_, members)) = facts.a_groups.get(group).filter(|(_, m)| *m > 0) {
        return Some(format!(
            "{members} active member(s) on {a}: stop them first (Kafka refuses commits for a \
             group with active members)"
        ));
    }
    let skipped: i64 = partitions.iter().map(|p| p.skip).sum();
    if skipped > 0 {
        return Some(format!(
            "{skipped} record(s) this group has not read are no longer on {a}: moving it \
             would skip them"
        ));
    }
    if let Some(p) = partitions.iter().find(|p| p.to_offset.is_none()) {
        return Some(format!(
            "nothing of {}[{}] was copied to {a}: no position to translate to",
            p.from_topic, p.partition
        ));
    }
    if options.force {
        return None;
    }
    if let Some((_, members)) = facts.b_groups.get(group).filter(|(_, m)| *m > 0) {
        return Some(format!(
            "still {members} active member(s) on {b}: stop them first, or --force"
        ));
    }
    if !caught_up {
        let behind: i64 = catch_up_rows(facts).iter().map(|r| r.behind).sum();
        return Some(format!(
            "{}->{a} has not copied everything yet ({behind} record(s) of {b} not on {a}): \
             stop the producers on {b} and wait, or --force",
            b
        ));
    }
    None
}

fn rpo_window(facts: &Facts) -> Vec<RpoWindowRow> {
    facts
        .out_remote
        .keys()
        .flat_map(|topic| {
            facts
                .a_ends
                .range((topic.clone(), i32::MIN)..=(topic.clone(), i32::MAX))
        })
        .filter_map(|((topic, partition), &end)| {
            let key = (topic.clone(), *partition);
            let from = facts.out_map.replicated_end(topic, *partition)?;
            let seen = facts.seen_ends.get(&key);
            let copied_unmapped = facts.unmapped.get(&key).map_or(0, |offsets| {
                i64::try_from(offsets.len()).unwrap_or(i64::MAX)
            });
            Some(RpoWindowRow {
                topic: topic.clone(),
                partition: *partition,
                from_offset: from,
                to_offset: end.max(from),
                records: (end - from).max(0),
                copied_unmapped,
                first_timestamp_ms: facts.window_first.get(&key).copied(),
                last_timestamp_ms: facts.window_last.get(&key).copied(),
                end_seen_before: seen.map(|(end, _)| *end),
                end_seen_ms: seen.map(|(_, at)| *at),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::format::{MapRecord, Run};

    fn back() -> Flow {
        crate::parse_properties(
            "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\n\
             B->A.enabled = true\nB->A.topics = orders\n",
        )
        .expect("valid")
        .flows
        .remove(0)
    }

    fn options() -> FailbackOptions {
        FailbackOptions {
            from: "B".to_owned(),
            to: "A".to_owned(),
            groups: None,
            dry_run: true,
            force: false,
        }
    }

    fn run(map: &mut crate::offsets::map::OffsetMap, topic: &str, s: i64, t: i64, n: i64) {
        map.apply(&MapRecord {
            topic: topic.to_owned(),
            partition: 0,
            run: Run {
                source_start: s,
                target_start: t,
                count: n,
            },
        });
    }

    /// A's `orders`[0]: 0..100 copied to `A.orders` 0..100 on B, A's end 120 (20 lost).
    /// B's `orders`[0]: 30 records written during the outage, copied to `B.orders` 0..30 on
    /// A. Group `g` at 100 on `A.orders` and 12 on `orders` on B.
    fn facts() -> Facts {
        let mut facts = Facts::default();
        run(&mut facts.out_map, "orders", 0, 0, 100);
        run(&mut facts.back_map, "orders", 0, 0, 30);
        facts
            .out_remote
            .insert("orders".to_owned(), "A.orders".to_owned());
        facts.back_ends.insert(("orders".to_owned(), 0), 30);
        facts.a_ends.insert(("orders".to_owned(), 0), 120);
        facts.a_starts.insert(("orders".to_owned(), 0), 0);
        facts.a_starts.insert(("B.orders".to_owned(), 0), 0);
        facts.seen_ends.insert(("orders".to_owned(), 0), (110, 5));
        facts.b_committed.insert(
            "g".to_owned(),
            BTreeMap::from([
                (("A.orders".to_owned(), 0), 100),
                (("orders".to_owned(), 0), 12),
            ]),
        );
        facts
    }

    #[test]
    fn both_kinds_of_topic_translate_exactly_and_the_window_is_what_b_lacked() {
        let report = plan(&back(), &options(), &facts());
        assert!(report.caught_up);
        let group = &report.groups[0];
        assert_eq!(group.outcome, GroupOutcome::WouldCommit, "{group:?}");
        let positions: Vec<(&str, i64, bool)> = group
            .partitions
            .iter()
            .map(|p| (p.to_topic.as_str(), p.to_offset.unwrap_or(-1), p.exact))
            .collect();
        assert_eq!(
            positions,
            vec![("orders", 100, true), ("B.orders", 12, true)]
        );
        assert_eq!(report.rpo_window.len(), 1);
        let window = &report.rpo_window[0];
        assert_eq!(
            (window.from_offset, window.to_offset, window.records),
            (100, 120, 20)
        );
        assert_eq!(window.end_seen_before, Some(110));
        assert_eq!(report.lost(), 20);
    }

    #[test]
    fn refuses_until_b_to_a_caught_up_unless_forced() {
        let mut facts = facts();
        facts.back_ends.insert(("orders".to_owned(), 0), 35);
        let report = plan(&back(), &options(), &facts);
        assert!(!report.caught_up);
        assert_eq!(report.refused(), 1);
        assert!(
            report.groups[0]
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains("5 record(s) of B not on A")
        );
        let mut forced = options();
        forced.force = true;
        assert_eq!(plan(&back(), &forced, &facts).refused(), 0);
    }

    #[test]
    fn a_later_commit_on_a_stays_and_active_members_on_a_refuse() {
        let mut facts = facts();
        facts.a_committed.insert(
            "g".to_owned(),
            BTreeMap::from([(("orders".to_owned(), 0), 110)]),
        );
        let report = plan(&back(), &options(), &facts);
        let row = &report.groups[0].partitions[0];
        assert_eq!(
            (row.to_offset, row.to_committed_before),
            (Some(110), Some(110))
        );
        assert_eq!(report.refused(), 0);

        facts
            .a_groups
            .insert("g".to_owned(), ("Stable".to_owned(), 1));
        let mut forced = options();
        forced.force = true;
        assert_eq!(plan(&back(), &forced, &facts).refused(), 1);
    }

    #[test]
    fn records_gone_from_a_count_as_skipped() {
        let mut facts = facts();
        facts.a_starts.insert(("B.orders".to_owned(), 0), 20);
        let report = plan(&back(), &options(), &facts);
        assert_eq!(report.skipped(), 8);
        assert_eq!(report.refused(), 1);
    }
}
