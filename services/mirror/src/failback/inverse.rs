//! From a group's position on a remote partition back to the source partition it was
//! copied from: where a group that consumed `A.orders` on B resumes on `orders` of A.
//!
//! The group has read every target record below its position `t`. On the source it
//! resumes at the smallest source offset that has a copy at or after `t`: every source
//! record below that has all its copies below `t` (read), so nothing is skipped. When no
//! copy lies at or after `t` the group read everything copied, and it resumes at the
//! source's replicated end: the records past it never reached the target (the RPO window)
//! and the group reads them on the source, never skips them.
//!
//! A restart of the mirror copies some records twice; a group past the first copy but not
//! the second reads, on the source, records it already read once on the target. Those are
//! counted (`re_read`) and the position is then not exact; it is never rounded up. So are
//! records past the map's last copy (copied, but the mirror stopped before writing their
//! run): the group resumes at the replicated end and reads them again. Only records count
//! there: with exactly-once the offsets past the last copy are transaction markers and
//! aborted copies, which the group never read.

use crate::offsets::format::Run;

/// Where a target position lands on the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Inverse {
    /// The source offset to resume at.
    pub(super) source: i64,
    /// Records the group read on the target that it reads again from `source` (0: exact).
    pub(super) re_read: i64,
}

/// `None` when nothing of the partition was copied (no basis for a position). `unmapped`:
/// the offsets of the records on the target past the map's last copy.
pub(super) fn inverse(runs: &[Run], unmapped: &[i64], target: i64) -> Option<Inverse> {
    let runs: Vec<&Run> = runs.iter().filter(|r| r.count > 0).collect();
    let replicated_end = runs.iter().map(|r| r.source_end()).max()?;
    let source = runs
        .iter()
        .filter(|r| r.target_end() > target)
        .map(|r| r.source_start + (r.target_start.max(target) - r.target_start))
        .min()
        .unwrap_or(replicated_end);
    // Copies below `target` (read) of source records at or after `source` (read again).
    let mapped: i64 = runs
        .iter()
        .filter(|r| r.target_start < target)
        .map(|r| {
            let read_end = r.source_start + (target - r.target_start).min(r.count);
            (read_end - r.source_start.max(source)).max(0)
        })
        .sum();
    // Past the map's last copy: records on the target the map does not describe yet (the
    // mirror stopped between writing them and writing their run). They follow the last
    // run, so they are copies of the records from the replicated end on: read again.
    let target_end = runs.iter().map(|r| r.target_end()).max()?;
    let unmapped = unmapped
        .iter()
        .filter(|offset| (target_end..target).contains(*offset))
        .count();
    let unmapped = i64::try_from(unmapped).unwrap_or(i64::MAX);
    Some(Inverse {
        source,
        re_read: mapped + unmapped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source_start: i64, target_start: i64, count: i64) -> Run {
        Run {
            source_start,
            target_start,
            count,
        }
    }

    #[test]
    fn a_single_run_inverts_exactly_and_the_end_maps_to_the_replicated_end() {
        let runs = [run(0, 10, 100)];
        assert_eq!(
            inverse(&runs, &[], 10),
            Some(Inverse {
                source: 0,
                re_read: 0
            })
        );
        assert_eq!(
            inverse(&runs, &[], 57),
            Some(Inverse {
                source: 47,
                re_read: 0
            })
        );
        // Caught up on the target: resume at the replicated end (records past it never
        // reached the target and are read on the source).
        assert_eq!(
            inverse(&runs, &[], 110),
            Some(Inverse {
                source: 100,
                re_read: 0
            })
        );
        assert_eq!(inverse(&[], &[], 5), None);
        // Three copies past the map's end were read: read again, not exact.
        assert_eq!(
            inverse(&runs, &[110, 111, 112], 113),
            Some(Inverse {
                source: 100,
                re_read: 3
            })
        );
        // Two of them were read, the third not yet.
        assert_eq!(
            inverse(&runs, &[110, 111, 112], 112).map(|i| i.re_read),
            Some(2)
        );
        // Exactly-once: the offsets past the last copy are markers, no record was re-read.
        assert_eq!(
            inverse(&runs, &[], 112),
            Some(Inverse {
                source: 100,
                re_read: 0
            })
        );
    }

    #[test]
    fn transaction_markers_between_runs_land_on_the_next_record() {
        // Exactly-once: a marker at target 5 between two runs.
        let runs = [run(0, 0, 5), run(5, 6, 5)];
        assert_eq!(inverse(&runs, &[], 5).map(|i| i.source), Some(5));
        assert_eq!(inverse(&runs, &[], 6).map(|i| i.source), Some(5));
        assert_eq!(
            inverse(&runs, &[], 8).map(|i| (i.source, i.re_read)),
            Some((7, 0))
        );
    }

    #[test]
    fn records_copied_twice_are_re_read_never_skipped() {
        // Source 0..10 copied to 0..10; a restart copied source 6..10 again to 10..14, then
        // 10..20 to 14..24.
        let runs = [run(0, 0, 10), run(6, 10, 4), run(10, 14, 10)];
        // Read target 0..8 (source 0..8): resumes at 6 (the second copy of 6 is unread),
        // re-reading 6 and 7.
        assert_eq!(
            inverse(&runs, &[], 8),
            Some(Inverse {
                source: 6,
                re_read: 2
            })
        );
        // Past the duplicates: exact again.
        assert_eq!(
            inverse(&runs, &[], 16),
            Some(Inverse {
                source: 12,
                re_read: 0
            })
        );
    }
}
