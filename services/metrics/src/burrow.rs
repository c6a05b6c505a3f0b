//! A Burrow-style health status per consumer group, from the offsets seen at each scrape.
//!
//! Burrow (linkedin/Burrow, `core/internal/evaluator/caching.go`) keeps a window of the
//! last commits per partition; we keep a window of the last `status_window` scrapes, each
//! sample holding the committed offset and the lag at that scrape. A partition's status:
//!
//! 1. **OK** when the latest lag is at most `status_allowed_lag`: caught up, nothing else
//!    matters.
//! 2. **ERR** (Burrow's REWIND) when the committed offset went backwards inside the window
//!    and has not come back: someone reset the group, records are being read twice.
//! 3. **OK** while the window is not full yet: too little history to judge.
//! 4. With lag above the allowance in every sample and the committed offset unchanged
//!    across the window:
//!    - **STOP** when the group has no members: nothing is consuming;
//!    - **STALL** when it has members: consumers are connected but do not advance
//!      (stuck on a record, paused, or committing the same offset).
//!
//!    Burrow tells the two apart by commit timestamps, which OffsetFetch does not return;
//!    group membership is what we can observe instead.
//! 5. **WARN** when the lag is above the allowance in every sample, never decreases from one
//!    sample to the next and ended higher than it started, while the offset moves: the
//!    group consumes, but slower than producers write.
//! 6. **OK** otherwise.
//!
//! The group status is its worst partition (OK < WARN < STALL < STOP < ERR). A group whose
//! OffsetFetch failed is ERR. Unlike Burrow, STOP and STALL are kept at group level rather
//! than folded into ERR, so an alert can tell "consumer down" from "consumer stuck".
//!
//! The gauge value is Burrow's status code (NOTFOUND=0, OK=1, WARN=2, ERR=3, STOP=4,
//! STALL=5), familiar to users of burrow_exporter; the `status` label carries the name.

use std::collections::{HashMap, VecDeque};

/// A group or partition status, in Burrow's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupStatus {
    Ok,
    Warn,
    Stall,
    Stop,
    Err,
}

impl GroupStatus {
    /// Burrow's numeric status code.
    pub fn code(self) -> i64 {
        match self {
            Self::Ok => 1,
            Self::Warn => 2,
            Self::Err => 3,
            Self::Stop => 4,
            Self::Stall => 5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warn => "WARN",
            Self::Stall => "STALL",
            Self::Stop => "STOP",
            Self::Err => "ERR",
        }
    }

    fn severity(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warn => 1,
            Self::Stall => 2,
            Self::Stop => 3,
            Self::Err => 4,
        }
    }

    fn worst(self, other: Self) -> Self {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

/// What one scrape saw of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupObservation {
    pub(crate) group: String,
    pub(crate) members: usize,
    /// `(topic, partition, committed offset, lag)`; `None` when the OffsetFetch failed.
    pub(crate) partitions: Option<Vec<(String, i32, i64, i64)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    offset: i64,
    lag: i64,
}

type Windows = HashMap<(String, i32), VecDeque<Sample>>;

/// Remembers the last `window` samples of every partition of every group.
#[derive(Debug)]
pub(crate) struct StatusTracker {
    window: usize,
    allowed_lag: i64,
    groups: HashMap<String, Windows>,
}

impl StatusTracker {
    pub(crate) fn new(window: usize, allowed_lag: i64) -> Self {
        Self {
            window: window.max(2),
            allowed_lag,
            groups: HashMap::new(),
        }
    }

    /// Records one scrape and returns each observed group's status. Groups and partitions
    /// not seen in this scrape are forgotten.
    pub(crate) fn observe(
        &mut self,
        observations: &[GroupObservation],
    ) -> Vec<(String, GroupStatus)> {
        self.groups
            .retain(|group, _| observations.iter().any(|o| &o.group == group));
        observations
            .iter()
            .map(|observation| {
                let status = self.observe_group(observation);
                (observation.group.clone(), status)
            })
            .collect()
    }

    fn observe_group(&mut self, observation: &GroupObservation) -> GroupStatus {
        let Some(partitions) = &observation.partitions else {
            // Keep the history: one failed fetch should not restart the window.
            return GroupStatus::Err;
        };
        let windows = self.groups.entry(observation.group.clone()).or_default();
        windows.retain(|key, _| {
            partitions
                .iter()
                .any(|(topic, partition, _, _)| (topic, partition) == (&key.0, &key.1))
        });
        let mut status = GroupStatus::Ok;
        for (topic, partition, offset, lag) in partitions {
            let samples = windows.entry((topic.clone(), *partition)).or_default();
            samples.push_back(Sample {
                offset: *offset,
                lag: *lag,
            });
            while samples.len() > self.window {
                samples.pop_front();
            }
            let partition_status =
                evaluate(samples, self.window, self.allowed_lag, observation.members);
            status = status.worst(partition_status);
        }
        status
    }
}

fn evaluate(
    samples: &VecDeque<Sample>,
    window: usize,
    allowed_lag: i64,
    members: usize,
) -> GroupStatus {
    let Some(latest) = samples.back() else {
        return GroupStatus::Ok;
    };
    if latest.lag <= allowed_lag {
        return GroupStatus::Ok;
    }
    let highest = samples
        .iter()
        .map(|s| s.offset)
        .max()
        .unwrap_or(latest.offset);
    if latest.offset < highest {
        return GroupStatus::Err;
    }
    if samples.len() < window {
        return GroupStatus::Ok;
    }
    let always_lagging = samples.iter().all(|s| s.lag > allowed_lag);
    if !always_lagging {
        return GroupStatus::Ok;
    }
    let first = samples.front().copied().unwrap_or(*latest);
    if samples.iter().all(|s| s.offset == first.offset) {
        return if members == 0 {
            GroupStatus::Stop
        } else {
            GroupStatus::Stall
        };
    }
    let never_decreasing = samples
        .iter()
        .zip(samples.iter().skip(1))
        .all(|(earlier, later)| later.lag >= earlier.lag);
    if never_decreasing && latest.lag > first.lag {
        return GroupStatus::Warn;
    }
    GroupStatus::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(members: usize, offset: i64, lag: i64) -> GroupObservation {
        GroupObservation {
            group: "g".to_owned(),
            members,
            partitions: Some(vec![("t".to_owned(), 0, offset, lag)]),
        }
    }

    /// Feeds `(offset, lag)` samples and returns the status after the last one.
    fn status_after(members: usize, samples: &[(i64, i64)]) -> GroupStatus {
        let mut tracker = StatusTracker::new(3, 0);
        let mut last = GroupStatus::Ok;
        for (offset, lag) in samples {
            last = tracker.observe(&[observation(members, *offset, *lag)])[0].1;
        }
        last
    }

    #[test]
    fn caught_up_group_is_ok() {
        assert_eq!(status_after(1, &[(5, 0), (5, 0), (5, 0)]), GroupStatus::Ok);
    }

    #[test]
    fn too_little_history_is_ok() {
        assert_eq!(status_after(0, &[(5, 9), (5, 9)]), GroupStatus::Ok);
    }

    #[test]
    fn unchanged_offset_without_members_is_stop() {
        assert_eq!(
            status_after(0, &[(5, 9), (5, 9), (5, 12)]),
            GroupStatus::Stop
        );
    }

    #[test]
    fn unchanged_offset_with_members_is_stall() {
        assert_eq!(
            status_after(2, &[(5, 9), (5, 9), (5, 9)]),
            GroupStatus::Stall
        );
    }

    #[test]
    fn growing_lag_while_consuming_is_warn() {
        assert_eq!(
            status_after(1, &[(5, 3), (8, 3), (10, 6)]),
            GroupStatus::Warn
        );
    }

    #[test]
    fn shrinking_lag_is_ok() {
        assert_eq!(status_after(1, &[(5, 9), (8, 6), (10, 4)]), GroupStatus::Ok);
    }

    #[test]
    fn lag_that_touched_zero_is_ok() {
        assert_eq!(status_after(1, &[(5, 0), (5, 3), (5, 4)]), GroupStatus::Ok);
    }

    #[test]
    fn rewound_offset_is_err_at_once() {
        assert_eq!(status_after(1, &[(50, 1), (10, 41)]), GroupStatus::Err);
    }

    #[test]
    fn failed_fetch_is_err_and_group_is_worst_partition() {
        let mut tracker = StatusTracker::new(2, 0);
        let failed = GroupObservation {
            group: "bad".to_owned(),
            members: 1,
            partitions: None,
        };
        let mixed = |stalled_offset| GroupObservation {
            group: "mixed".to_owned(),
            members: 1,
            partitions: Some(vec![
                ("t".to_owned(), 0, 5, 0),
                ("t".to_owned(), 1, stalled_offset, 7),
            ]),
        };
        tracker.observe(&[failed.clone(), mixed(3)]);
        let statuses: HashMap<_, _> = tracker.observe(&[failed, mixed(3)]).into_iter().collect();
        assert_eq!(statuses["bad"], GroupStatus::Err);
        assert_eq!(statuses["mixed"], GroupStatus::Stall);
    }

    #[test]
    fn allowed_lag_counts_as_caught_up() {
        let mut tracker = StatusTracker::new(2, 10);
        for _ in 0..3 {
            let status = tracker.observe(&[observation(0, 5, 10)])[0].1;
            assert_eq!(status, GroupStatus::Ok);
        }
    }

    #[test]
    fn codes_follow_burrow() {
        let codes: Vec<_> = [
            GroupStatus::Ok,
            GroupStatus::Warn,
            GroupStatus::Err,
            GroupStatus::Stop,
            GroupStatus::Stall,
        ]
        .iter()
        .map(|s| s.code())
        .collect();
        assert_eq!(codes, vec![1, 2, 3, 4, 5]);
    }
}
