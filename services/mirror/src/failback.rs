//! `kafka-gateway mirror failback --from B --to A`: after A returns, moves the groups that
//! failed over to B back to A, checks that what producers wrote on B reached A, and reports
//! the disaster's RPO window (records A holds that never reached B).
//!
//! The copy B → A is the running mirror's `B->A` flow, not this command: a copy is a
//! long-running task with its own delivery guarantees (exactly-once or at-least-once),
//! restarts, offset map and metrics, and a one-shot command doing it would duplicate all of
//! that and still race with producers that have not stopped. The command checks that an
//! enabled `B->A` flow exists and that it has copied everything B holds of its topics (B's
//! log end = the flow's replicated end on A, per partition); until then every group is
//! refused (`--force` moves them anyway: positions stay exact, the rest is read on A when
//! it arrives).
//!
//! Positions on A, per group committed on B:
//! - on a remote topic of A → B (`A.orders`): the inverse of A → B's dense map
//!   ([`inverse`]), round down where records were copied twice (re-read, never skip);
//!   when A holds a later commit of the group (it read further on A before the disaster)
//!   that one stays: offsets only move forward;
//! - on a topic written on B (`orders`, copied by B → A to `B.orders`): B → A's dense map,
//!   the same exact forward translation as a failover.
//!
//! The RPO window per partition of A → B's topics: from the flow's replicated end (the
//! first record B never got) to A's log end now, with the first and last record times, and
//! A's log end as the A → B mirror last recorded it on B before the disaster. The A → B
//! flow must stay stopped until the failback is done: once it runs again it copies the
//! window to B and the window can no longer be told apart.

mod gather;
mod inverse;
mod plan;
mod render;

use broker_core::wire::offset_commit::GroupCommits;
use serde::Serialize;

use crate::config::ValidatedMirror;
use crate::error::MirrorError;
pub use crate::failover::GroupOutcome;

pub use render::render_table;

/// What to move back and how.
#[derive(Debug, Clone)]
pub struct FailbackOptions {
    /// Alias of the cluster the groups leave (`B`).
    pub from: String,
    /// Alias of the cluster they return to (`A`).
    pub to: String,
    /// Groups to move; default: every group with commits on B on the flows' topics.
    pub groups: Option<regex::Regex>,
    /// Report only; commit nothing.
    pub dry_run: bool,
    /// Move groups while B → A has not caught up, or whose consumers are still active on B.
    pub force: bool,
}

/// The outcome of one failback (or its dry run).
#[derive(Debug, Clone, Serialize)]
pub struct FailbackReport {
    /// `B->A`: the flow that copies back.
    pub flow: String,
    pub dry_run: bool,
    /// Whether B → A has copied everything B holds of its topics.
    pub caught_up: bool,
    /// Per partition of B → A's topics on B.
    pub catch_up: Vec<CatchUpRow>,
    pub groups: Vec<FailbackGroup>,
    /// Per partition of A → B's topics: what A holds that never reached B.
    pub rpo_window: Vec<RpoWindowRow>,
    /// Wall time of the command, ms.
    pub took_ms: u64,
}

impl FailbackReport {
    /// Records the failback would skip (must be 0).
    pub fn skipped(&self) -> i64 {
        self.groups
            .iter()
            .flat_map(|g| &g.partitions)
            .map(|p| p.skip)
            .sum()
    }

    /// Groups not moved, with a reason.
    pub fn refused(&self) -> usize {
        self.groups
            .iter()
            .filter(|g| g.outcome == GroupOutcome::Refused)
            .count()
    }

    /// Records of the RPO window, all partitions.
    pub fn lost(&self) -> i64 {
        self.rpo_window.iter().map(|r| r.records).sum()
    }
}

/// How far B → A has copied one partition of B.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatchUpRow {
    /// The topic on B (`orders`).
    pub topic: String,
    pub partition: i32,
    /// B's log end.
    pub source_end: i64,
    /// The next offset of B not yet on A; `None` when nothing was copied.
    pub replicated_end: Option<i64>,
    /// Records of B not on A yet.
    pub behind: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailbackGroup {
    pub group: String,
    pub outcome: GroupOutcome,
    pub reason: Option<String>,
    pub partitions: Vec<FailbackRow>,
}

/// Which translation a row went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowOrigin {
    /// A remote topic of A → B (`A.orders` on B → `orders` on A): the inverse translation.
    Original,
    /// A topic written on B (`orders` on B → `B.orders` on A): B → A's translation.
    WrittenOnB,
}

/// One partition of a group's move back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailbackRow {
    pub origin: RowOrigin,
    /// The topic the group consumed on B.
    pub from_topic: String,
    /// The topic it resumes on A.
    pub to_topic: String,
    pub partition: i32,
    /// The group's committed offset on B.
    pub from_offset: i64,
    /// The offset committed (or to commit) on A; `None` when it cannot be placed.
    pub to_offset: Option<i64>,
    /// The group's committed offset on A before the failback.
    pub to_committed_before: Option<i64>,
    /// Whether `to_offset` is exactly where the group stopped on B.
    pub exact: bool,
    /// Records the group reads again on A that it had read on B.
    pub re_read: i64,
    /// Records on A the group has not read and would never read (must be 0).
    pub skip: i64,
}

/// Records of one partition of A that never reached B: the offsets `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpoWindowRow {
    /// The topic on A (`orders`).
    pub topic: String,
    pub partition: i32,
    /// The first offset B never got (A → B's replicated end).
    pub from_offset: i64,
    /// A's log end now (exclusive).
    pub to_offset: i64,
    pub records: i64,
    /// Records on B past the last copy A -> B's map describes (the mirror stopped between
    /// writing them and their run): copies of the window's first records, so the window
    /// lost up to this many fewer. 0 normally.
    pub copied_unmapped: i64,
    pub first_timestamp_ms: Option<i64>,
    pub last_timestamp_ms: Option<i64>,
    /// A's log end as the A → B mirror last recorded it on B, and when.
    pub end_seen_before: Option<i64>,
    pub end_seen_ms: Option<i64>,
}

/// Plans the failback from what both clusters hold and, unless a dry run, commits it.
pub async fn failback(
    config: &ValidatedMirror,
    options: &FailbackOptions,
) -> Result<FailbackReport, MirrorError> {
    let started = std::time::Instant::now();
    let back = crate::failover::flow_between(config, &options.from, &options.to)?;
    let config = config.clone();
    let options = options.clone();
    broker_core::task::spawn_blocking("mirror-failback", move || {
        let facts = gather::gather(&config, &back, &options)?;
        let mut report = plan::plan(&back, &options, &facts);
        if !options.dry_run {
            apply(&config, &back, &mut report)?;
        }
        report.took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(report)
    })
    .await
    .map_err(|e| MirrorError::Task {
        task: "failback".to_owned(),
        reason: e.to_string(),
    })?
}

/// Commits the planned groups' offsets on A: memberless commits (refused by the broker for
/// a group with active members), one connection per coordinator.
fn apply(
    config: &ValidatedMirror,
    back: &crate::config::Flow,
    report: &mut FailbackReport,
) -> Result<(), MirrorError> {
    let commits: GroupCommits = report
        .groups
        .iter()
        .filter(|group| group.outcome == GroupOutcome::WouldCommit)
        .map(|group| {
            let offsets = group
                .partitions
                .iter()
                .filter_map(|p| Some(((p.to_topic.clone(), p.partition), p.to_offset?)))
                .collect();
            (group.group.clone(), offsets)
        })
        .collect();
    let answers = crate::failover::commit_planned(config, back, &commits)?;
    for group in &mut report.groups {
        if let Some(answer) = answers.get(&group.group) {
            crate::failover::record_answer(&mut group.outcome, &mut group.reason, answer);
        }
    }
    Ok(())
}
