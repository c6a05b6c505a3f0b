//! What a checkpoint or group-sync pass knows about the source's consumer groups, and the
//! batched reads that keep a pass's cost independent of the groups the flow leaves out.
//!
//! A pass lists the source's groups (one ListGroups per broker, cheap whatever the number
//! of groups), keeps those the flow's `groups` / `groups.exclude` select, and only then
//! reads committed offsets: one OffsetFetch per group coordinator carrying all of its
//! selected groups, coordinators asked concurrently, each request with the pass's deadline
//! on its own ([`broker_core::wire::WireClient::committed_offsets`]). A group whose
//! coordinator is slow or failing keeps its last checkpoint and is asked again at the next
//! pass; the other groups are not held up.
//!
//! `refresh.groups.interval.seconds` is when the directory is rebuilt from a listing,
//! which forgets deleted groups (their emitted-checkpoint cache and metric series). Groups
//! created in between are added by the next pass's listing, so a new group is seen within
//! one pass interval rather than MM2's refresh interval (10 minutes by default).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use broker_core::wire::{CommittedOffset, GroupOffsets};

use super::map::{OffsetMap, Translated};
use crate::config::Flow;

/// Per group: source partition → (committed offset on the source, translated target offset).
pub(crate) type TranslatedGroups = BTreeMap<String, BTreeMap<(String, i32), (i64, i64)>>;

/// The source groups the offset passes know, rebuilt every `refresh.groups.interval.seconds`.
#[derive(Debug)]
pub(crate) struct GroupDirectory {
    refresh: Option<Duration>,
    known: BTreeSet<String>,
    rebuilt_at: Option<Instant>,
}

impl GroupDirectory {
    /// `refresh`: `None` (`refresh.groups.enabled = false`) never forgets a group.
    pub(crate) fn new(refresh: Option<Duration>) -> Self {
        Self {
            refresh,
            known: BTreeSet::new(),
            rebuilt_at: None,
        }
    }

    /// Takes in this pass's listing: new groups are added at once; when a refresh is due
    /// the directory becomes the listing. Returns the groups that refresh forgot.
    pub(crate) fn update(&mut self, listed: BTreeSet<String>, now: Instant) -> Vec<String> {
        let due = match (self.rebuilt_at, self.refresh) {
            (None, _) => true,
            (Some(at), Some(every)) => now.saturating_duration_since(at) >= every,
            (Some(_), None) => false,
        };
        if !due {
            self.known.extend(listed);
            return Vec::new();
        }
        let gone = self.known.difference(&listed).cloned().collect();
        self.known = listed;
        self.rebuilt_at = Some(now);
        gone
    }

    /// The groups whose offsets the flow mirrors: its filter, never its own replication
    /// group.
    pub(crate) fn selected(&self, flow: &Flow) -> Vec<String> {
        let own = flow.replication_group();
        self.known
            .iter()
            .filter(|group| **group != own && flow.groups.matches(group))
            .cloned()
            .collect()
    }
}

/// The deadline of one pass's requests: its interval (a pass later than that is late
/// anyway), at most the flow's admin timeout and at least a second.
pub(crate) fn pass_deadline(flow: &Flow, interval: Option<Duration>) -> Instant {
    let budget = interval
        .unwrap_or(flow.admin_timeout)
        .min(flow.admin_timeout)
        .max(Duration::from_secs(1));
    Instant::now() + budget
}

/// Per group: source partition → (committed offset on the source, first source offset the
/// offset map holds for the partition), on the mirrored topics, translatable or not.
pub(crate) type CommittedGroups = BTreeMap<String, BTreeMap<(String, i32), (i64, Option<i64>)>>;

/// Exact translations of the answered groups, on the mirrored topics only, and all their
/// commits on those topics (for the translation lag); groups whose fetch failed are
/// returned apart (logged by the caller, asked again next pass).
pub(crate) fn translate(
    answers: GroupOffsets,
    mirrored: &BTreeSet<String>,
    map: &OffsetMap,
) -> (TranslatedGroups, CommittedGroups, Vec<(String, String)>) {
    let mut translated = TranslatedGroups::new();
    let mut committed = CommittedGroups::new();
    let mut failed = Vec::new();
    for (group, answer) in answers {
        let offsets: Vec<CommittedOffset> = match answer {
            Ok(offsets) => offsets,
            Err(error) => {
                failed.push((group, error.to_string()));
                continue;
            }
        };
        let commits: BTreeMap<(String, i32), (i64, Option<i64>)> = offsets
            .iter()
            .filter(|c| mirrored.contains(&c.topic))
            .map(|c| {
                let start = map.replicated_start(&c.topic, c.partition);
                ((c.topic.clone(), c.partition), (c.offset, start))
            })
            .collect();
        if !commits.is_empty() {
            committed.insert(group.clone(), commits);
        }
        let positions: BTreeMap<(String, i32), (i64, i64)> = offsets
            .into_iter()
            .filter(|c| mirrored.contains(&c.topic))
            .filter_map(|c| {
                // Only exact translations are checkpointed: never a position past the
                // group's.
                match map.translate(&c.topic, c.partition, c.offset) {
                    Translated::Exact(target) => Some(((c.topic, c.partition), (c.offset, target))),
                    _ => None,
                }
            })
            .collect();
        if !positions.is_empty() {
            translated.insert(group, positions);
        }
    }
    (translated, committed, failed)
}

/// Of the translated positions (already named on the target), those ahead of the
/// target's commits: offsets only move forward.
pub(crate) fn forward_of(
    wanted: BTreeMap<(String, i32), i64>,
    current: &[CommittedOffset],
) -> BTreeMap<(String, i32), i64> {
    let current: BTreeMap<(&str, i32), i64> = current
        .iter()
        .map(|c| ((c.topic.as_str(), c.partition), c.offset))
        .collect();
    wanted
        .into_iter()
        .filter(|((topic, partition), offset)| {
            current
                .get(&(topic.as_str(), *partition))
                .is_none_or(|c| offset > c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn new_groups_join_every_pass_and_a_refresh_forgets_deleted_ones() {
        let start = Instant::now();
        let mut directory = GroupDirectory::new(Some(Duration::from_secs(600)));
        assert!(directory.update(names(&["a", "b"]), start).is_empty());
        // Between refreshes: "c" is picked up, "a" (gone from the listing) is kept.
        let later = start + Duration::from_secs(5);
        assert!(directory.update(names(&["b", "c"]), later).is_empty());
        assert_eq!(directory.known, names(&["a", "b", "c"]));
        let refresh = start + Duration::from_secs(600);
        assert_eq!(directory.update(names(&["b", "c"]), refresh), vec!["a"]);
        assert_eq!(directory.known, names(&["b", "c"]));
    }

    #[test]
    fn without_refresh_groups_are_never_forgotten() {
        let start = Instant::now();
        let mut directory = GroupDirectory::new(None);
        directory.update(names(&["a"]), start);
        let much_later = start + Duration::from_secs(100_000);
        assert!(directory.update(names(&["b"]), much_later).is_empty());
        assert_eq!(directory.known, names(&["a", "b"]));
    }

    fn committed(topic: &str, partition: i32, offset: i64) -> CommittedOffset {
        CommittedOffset {
            topic: topic.to_owned(),
            partition,
            offset,
            metadata: None,
        }
    }

    #[test]
    fn only_forward_moves_are_committed_on_the_target() {
        let wanted = BTreeMap::from([
            (("A.t".to_owned(), 0), 10),
            (("A.t".to_owned(), 1), 5),
            (("A.t".to_owned(), 2), 7),
        ]);
        let current = [committed("A.t", 0, 12), committed("A.t", 1, 3)];
        let forward = forward_of(wanted, &current);
        assert_eq!(
            forward,
            BTreeMap::from([(("A.t".to_owned(), 1), 5), (("A.t".to_owned(), 2), 7)])
        );
    }

    #[test]
    fn failed_groups_are_kept_apart_and_unmirrored_topics_left_out() {
        let mut answers = GroupOffsets::new();
        answers.insert(
            "ok".to_owned(),
            Ok(vec![committed("t", 0, 3), committed("other", 0, 9)]),
        );
        answers.insert(
            "slow".to_owned(),
            Err(broker_core::wire::WireError::Timeout {
                broker: "node 1".to_owned(),
                operation: "OffsetFetch",
                timeout: Duration::from_secs(2),
            }),
        );
        let (translated, committed, failed) =
            translate(answers, &names(&["t"]), &OffsetMap::default());
        // No map entry yet: nothing exact to checkpoint, and no error either.
        assert!(translated.is_empty());
        assert_eq!(
            committed["ok"],
            BTreeMap::from([(("t".to_owned(), 0), (3, None))])
        );
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, "slow");
    }
}
