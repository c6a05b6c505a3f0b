//! When to emit an MM2 offset sync, following `OffsetSyncWriter` / `PartitionState.update`:
//! a sync is due for the first record of a partition, when the downstream offset moved
//! `offset.lag.max` past the last sync, when upstream or downstream offsets are not
//! contiguous, and (delayed) for the latest record at every commit, so that quiet
//! partitions converge to their end. Input is the runs of [`super::map::RunTracker`],
//! which already split at every discontinuity.

use super::format::Run;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPoint {
    pub upstream: i64,
    pub downstream: i64,
}

/// Sync state of one source partition.
#[derive(Debug)]
pub struct SyncEmitter {
    lag_max: i64,
    last_sync: Option<SyncPoint>,
    /// The last record covered by the runs seen so far.
    latest: Option<SyncPoint>,
}

impl SyncEmitter {
    pub fn new(lag_max: i64) -> Self {
        Self {
            lag_max,
            last_sync: None,
            latest: None,
        }
    }

    /// The syncs due for `runs` (in acknowledgement order, possibly re-sending a grown run),
    /// then the delayed sync of the latest record.
    pub fn syncs_for(&mut self, runs: &[Run]) -> Vec<SyncPoint> {
        let mut due = Vec::new();
        for run in runs {
            // The part of this run not seen before.
            let upstream;
            if let Some(latest) = self.latest
                && latest.upstream >= run.source_start
                && latest.upstream < run.source_end()
                && latest.downstream == run.target_start + (latest.upstream - run.source_start)
            {
                upstream = latest.upstream + 1;
            } else {
                // A new run: not contiguous with the previous record, sync its first record.
                let first = SyncPoint {
                    upstream: run.source_start,
                    downstream: run.target_start,
                };
                due.push(first);
                self.last_sync = Some(first);
                upstream = run.source_start + 1;
            }
            // Within the run, every `lag_max + 1` downstream records.
            if let Some(last) = self.last_sync {
                let mut next_downstream = last.downstream + 1 + self.lag_max;
                while next_downstream < run.target_end() {
                    let point = SyncPoint {
                        upstream: run.source_start + (next_downstream - run.target_start),
                        downstream: next_downstream,
                    };
                    if point.upstream >= upstream {
                        due.push(point);
                        self.last_sync = Some(point);
                    }
                    next_downstream = point.downstream + 1 + self.lag_max;
                }
            }
            self.latest = Some(SyncPoint {
                upstream: run.source_end() - 1,
                downstream: run.target_end() - 1,
            });
        }
        if let Some(latest) = self.latest
            && self.last_sync != Some(latest)
        {
            due.push(latest);
            self.last_sync = Some(latest);
        }
        due
    }
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
    fn first_record_lag_max_and_latest_are_synced() {
        let mut emitter = SyncEmitter::new(100);
        let syncs = emitter.syncs_for(&[run(0, 0, 250)]);
        let upstreams: Vec<i64> = syncs.iter().map(|s| s.upstream).collect();
        assert_eq!(upstreams, [0, 101, 202, 249]);
        // The same run grown by 10: only the new latest record.
        let syncs = emitter.syncs_for(&[run(0, 0, 260)]);
        assert_eq!(
            syncs,
            [SyncPoint {
                upstream: 259,
                downstream: 259
            }]
        );
        assert!(emitter.syncs_for(&[]).is_empty());
    }

    #[test]
    fn discontinuity_starts_with_a_sync() {
        let mut emitter = SyncEmitter::new(100);
        emitter.syncs_for(&[run(0, 0, 5)]);
        let syncs = emitter.syncs_for(&[run(8, 6, 2)]);
        assert_eq!(
            syncs,
            [
                SyncPoint {
                    upstream: 8,
                    downstream: 6
                },
                SyncPoint {
                    upstream: 9,
                    downstream: 7
                }
            ]
        );
    }
}
