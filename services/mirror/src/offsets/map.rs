//! The dense source→target offset map.
//!
//! MM2 keeps at most 64 sparse offset syncs per partition and rounds a group's position
//! down to the nearest one, so a failover re-reads records. Here every acknowledged record
//! belongs to a [`Run`]: a stretch whose source and target offsets both advance by one.
//! Runs break only where offsets are not contiguous (compaction gaps or transaction markers
//! on the source, a transaction marker on the target, a restart that copies records again),
//! so the map stays small while describing every record exactly.
//!
//! Invariant: a run record is written to the map topic, and acknowledged, *before* the
//! source offsets it covers are committed (at-least-once) or in the same transaction
//! (exactly-once). Any committed group position therefore lies inside the map.

use std::collections::{BTreeMap, HashMap};

use super::format::{MapRecord, Run};

/// Where a source position lands on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translated {
    /// The target offset at which a consumer reads exactly the record the source group
    /// would read next.
    Exact(i64),
    /// The group is ahead of the mirror: `unreplicated` records it already consumed are not
    /// on the target yet; reading from `target` re-reads them once they arrive.
    Behind { target: i64, unreplicated: i64 },
    /// Nothing of this partition was replicated yet.
    Unknown,
}

impl Translated {
    pub fn target_offset(self) -> Option<i64> {
        match self {
            Self::Exact(target) | Self::Behind { target, .. } => Some(target),
            Self::Unknown => None,
        }
    }
}

/// All runs of one flow, per source topic-partition.
#[derive(Debug, Default, Clone)]
pub struct OffsetMap {
    /// (source topic, partition) → (source start, target start) → count.
    partitions: HashMap<(String, i32), BTreeMap<(i64, i64), i64>>,
}

impl OffsetMap {
    /// Adds a run record; a longer record of the same run replaces a shorter one.
    pub fn apply(&mut self, record: &MapRecord) {
        let runs = self
            .partitions
            .entry((record.topic.clone(), record.partition))
            .or_default();
        let count = runs
            .entry((record.run.source_start, record.run.target_start))
            .or_insert(0);
        *count = (*count).max(record.run.count);
    }

    fn runs(&self, topic: &str, partition: i32) -> impl Iterator<Item = Run> + '_ {
        self.partitions
            .get(&(topic.to_owned(), partition))
            .into_iter()
            .flat_map(|runs| {
                runs.iter()
                    .map(|(&(source_start, target_start), &count)| Run {
                        source_start,
                        target_start,
                        count,
                    })
            })
    }

    /// The runs of one source partition, in (source start, target start) order.
    pub fn runs_of(&self, topic: &str, partition: i32) -> Vec<Run> {
        self.runs(topic, partition).collect()
    }

    /// Every source (topic, partition) with at least one run, sorted.
    pub fn partitions(&self) -> Vec<(String, i32)> {
        let mut all: Vec<(String, i32)> = self.partitions.keys().cloned().collect();
        all.sort();
        all
    }

    /// The first source offset replicated (the start of the lowest run).
    pub fn replicated_start(&self, topic: &str, partition: i32) -> Option<i64> {
        self.runs(topic, partition).map(|r| r.source_start).min()
    }

    /// The next source offset not yet replicated (the end of the highest run).
    pub fn replicated_end(&self, topic: &str, partition: i32) -> Option<i64> {
        self.runs(topic, partition).map(|r| r.source_end()).max()
    }

    /// Translates a committed source position (the offset of the next record to read).
    ///
    /// The answer is the target offset of the *latest* copy of the first replicated source
    /// record at or after `position`: after that copy, every later source record follows
    /// (a copy made after a restart is always followed by the rest of the stream), so a
    /// consumer starting there re-reads nothing and skips nothing.
    pub fn translate(&self, topic: &str, partition: i32, position: i64) -> Translated {
        let mut first_at_or_after: Option<(i64, i64)> = None; // (source offset, target)
        let mut highest_end: Option<Run> = None;
        for run in self.runs(topic, partition) {
            if run.count <= 0 {
                continue;
            }
            if run.source_end() > position {
                let source = run.source_start.max(position);
                let target = run.target_start + (source - run.source_start);
                let better = match first_at_or_after {
                    None => true,
                    Some((best_source, best_target)) => {
                        source < best_source || (source == best_source && target > best_target)
                    }
                };
                if better {
                    first_at_or_after = Some((source, target));
                }
            }
            let is_higher = highest_end.is_none_or(|best| {
                (run.source_end(), run.target_end()) > (best.source_end(), best.target_end())
            });
            if is_higher {
                highest_end = Some(run);
            }
        }
        match (first_at_or_after, highest_end) {
            (Some((_, target)), _) => Translated::Exact(target),
            (None, Some(last)) if last.source_end() == position => {
                Translated::Exact(last.target_end())
            }
            (None, Some(last)) => Translated::Behind {
                target: last.target_end(),
                unreplicated: position - last.source_end(),
            },
            (None, None) => Translated::Unknown,
        }
    }
}

/// Builds runs from the acknowledgements of one source partition, in delivery order.
#[derive(Debug, Default)]
pub struct RunTracker {
    current: Option<Run>,
    /// Runs finished since the last [`RunTracker::drain`].
    finished: Vec<Run>,
    /// Whether `current` grew since the last drain.
    current_dirty: bool,
}

impl RunTracker {
    pub fn acknowledged(&mut self, source: i64, target: i64) {
        match &mut self.current {
            Some(run) if run.source_end() == source && run.target_end() == target => {
                run.count += 1;
            }
            slot => {
                if let Some(done) = slot.take()
                    && self.current_dirty
                {
                    self.finished.push(done);
                }
                *slot = Some(Run {
                    source_start: source,
                    target_start: target,
                    count: 1,
                });
            }
        }
        self.current_dirty = true;
    }

    /// Runs to write since the last call: finished ones and the current one if it grew.
    pub fn drain(&mut self) -> Vec<Run> {
        let mut runs = std::mem::take(&mut self.finished);
        if self.current_dirty
            && let Some(current) = self.current
        {
            runs.push(current);
        }
        self.current_dirty = false;
        runs
    }

    /// Forgets the current run, so that the next record starts a new one (used after an
    /// aborted transaction, whose records are not readable on the target).
    pub fn reset(&mut self) {
        self.current = None;
        self.finished.clear();
        self.current_dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(runs: &[(i64, i64, i64)]) -> OffsetMap {
        let mut map = OffsetMap::default();
        for &(source_start, target_start, count) in runs {
            map.apply(&MapRecord {
                topic: "t".into(),
                partition: 0,
                run: Run {
                    source_start,
                    target_start,
                    count,
                },
            });
        }
        map
    }

    #[test]
    fn translates_inside_a_run_exactly() {
        let map = map(&[(0, 100, 50)]);
        assert_eq!(map.translate("t", 0, 0), Translated::Exact(100));
        assert_eq!(map.translate("t", 0, 17), Translated::Exact(117));
        assert_eq!(
            map.translate("t", 0, 50),
            Translated::Exact(150),
            "caught up"
        );
        assert_eq!(
            map.translate("t", 0, 60),
            Translated::Behind {
                target: 150,
                unreplicated: 10
            }
        );
        assert_eq!(map.translate("t", 1, 0), Translated::Unknown);
    }

    #[test]
    fn a_copy_after_restart_wins() {
        // 0..10 copied to 0..10, restart from 5: 5..15 copied to 10..20.
        let map = map(&[(0, 0, 10), (5, 10, 10)]);
        assert_eq!(map.translate("t", 0, 3), Translated::Exact(3));
        assert_eq!(map.translate("t", 0, 7), Translated::Exact(12));
        assert_eq!(map.translate("t", 0, 15), Translated::Exact(20));
    }

    #[test]
    fn source_gaps_and_transaction_markers_map_to_the_next_record() {
        // Source 0..5 then a gap (compaction) to 8..10; target has a marker at 5.
        let map = map(&[(0, 0, 5), (8, 6, 2)]);
        assert_eq!(map.translate("t", 0, 5), Translated::Exact(6));
        assert_eq!(map.translate("t", 0, 6), Translated::Exact(6));
        assert_eq!(map.translate("t", 0, 10), Translated::Exact(8));
    }

    #[test]
    fn a_growing_run_replaces_its_shorter_record() {
        let map = map(&[(0, 0, 5), (0, 0, 9), (0, 0, 7)]);
        assert_eq!(map.replicated_end("t", 0), Some(9));
    }

    #[test]
    fn tracker_splits_runs_where_offsets_jump() {
        let mut tracker = RunTracker::default();
        for (s, t) in [(0, 10), (1, 11), (2, 12), (5, 13), (6, 15)] {
            tracker.acknowledged(s, t);
        }
        let runs = tracker.drain();
        assert_eq!(
            runs,
            vec![
                Run {
                    source_start: 0,
                    target_start: 10,
                    count: 3
                },
                Run {
                    source_start: 5,
                    target_start: 13,
                    count: 1
                },
                Run {
                    source_start: 6,
                    target_start: 15,
                    count: 1
                },
            ]
        );
        assert!(tracker.drain().is_empty(), "nothing new");
        tracker.acknowledged(7, 16);
        assert_eq!(
            tracker.drain(),
            vec![Run {
                source_start: 6,
                target_start: 15,
                count: 2
            }]
        );
    }
}
