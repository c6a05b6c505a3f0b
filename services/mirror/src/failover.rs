//! `kafka-gateway mirror failover --from A --to B`: moves consumer groups from cluster A to
//! cluster B at exactly translated positions, and says what B lacks (the RPO).
//!
//! Stages: [`gather`] reads what B holds (the flow's dense offset map, MM2 checkpoints with
//! their times, the groups and their offsets on B) and, when A answers, A's committed
//! offsets and log ends; [`plan`](plan::plan) turns that into one decision per group (pure,
//! unit-tested); [`apply`] commits the decided offsets on B; [`render`] prints the table or
//! JSON.
//!
//! Positions: with A reachable, a group's committed offset on A is translated through the
//! dense map (exact: 0 re-read, 0 skipped). With A unreachable — the disaster case — the
//! group's last checkpoint on B is the basis: its upstream offset translated through the map
//! (the same exact translation, as of the checkpoint). Whatever the group consumed on A after
//! that checkpoint is re-read on B: the report gives the upper bound (records copied to B
//! beyond the checkpoint) and the checkpoint's time.
//!
//! Skips: a record would be skipped only when B no longer holds what the group has not read
//! (the remote partition's log start is past the translated offset, e.g. retention). That
//! is counted per partition, the group is not moved, and the command exits non-zero.

pub(crate) mod gather;
mod plan;
pub(crate) mod render;

use std::time::Duration;

use broker_core::wire::WireClient;
use broker_core::wire::offset_commit::GroupCommits;
use serde::Serialize;

use crate::config::ValidatedMirror;
use crate::error::MirrorError;

pub use render::render_table;

/// What to move and how.
#[derive(Debug, Clone)]
pub struct FailoverOptions {
    /// Alias of the cluster the groups leave (`A`).
    pub from: String,
    /// Alias of the cluster they move to (`B`).
    pub to: String,
    /// Groups to move; default: every group with checkpoints on the target.
    pub groups: Option<regex::Regex>,
    /// Report only; commit nothing.
    pub dry_run: bool,
    /// Move a group whose consumers are still active on the source, or whose position on
    /// the target is already later than the translation.
    pub force: bool,
    /// How long the source gets to answer before it counts as unreachable.
    pub source_timeout: Duration,
}

/// The outcome of one failover (or its dry run).
#[derive(Debug, Clone, Serialize)]
pub struct FailoverReport {
    /// `A->B`.
    pub flow: String,
    pub dry_run: bool,
    /// Whether A answered; when not, positions come from B's checkpoints.
    pub source_reachable: bool,
    /// Why A counted as unreachable.
    pub source_error: Option<String>,
    pub groups: Vec<GroupReport>,
    /// Per mirrored source partition: what B lacks.
    pub rpo: Vec<RpoRow>,
    /// Wall time of the command, ms.
    pub took_ms: u64,
}

impl FailoverReport {
    /// Records the failover would skip (must be 0).
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
}

/// What happened to one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupOutcome {
    /// Offsets committed on the target.
    Committed,
    /// Dry run: these offsets would be committed.
    WouldCommit,
    /// Not moved; see the reason.
    Refused,
}

impl GroupOutcome {
    /// The table's word for it (refusals in capitals, to stand out).
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Committed => "committed",
            Self::WouldCommit => "would commit",
            Self::Refused => "REFUSED",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    pub group: String,
    pub outcome: GroupOutcome,
    pub reason: Option<String>,
    pub partitions: Vec<PartitionRow>,
}

/// One partition of a group's move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionRow {
    pub source_topic: String,
    pub target_topic: String,
    pub partition: i32,
    /// The group's committed offset on A; `None` when A is unreachable.
    pub source_offset: Option<i64>,
    /// The upstream offset of the group's last checkpoint on B, and when it was written.
    pub checkpoint_offset: Option<i64>,
    pub checkpoint_time_ms: Option<i64>,
    /// The offset committed (or to commit) on B; `None` when nothing of the partition was
    /// copied (the partition is left as it is).
    pub target_offset: Option<i64>,
    /// The group's committed offset on B before the failover.
    pub target_committed_before: Option<i64>,
    /// Records the group reads again on B that it had consumed on A: 0 with A reachable.
    pub re_read: i64,
    /// With A unreachable: at most this many (copied to B after the last checkpoint).
    pub re_read_at_most: i64,
    /// Records on B the group has not read and would never read (must be 0).
    pub skip: i64,
}

/// What B lacks of one source partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpoRow {
    pub source_topic: String,
    pub partition: i32,
    /// The next source offset not on B (from the dense map).
    pub replicated_end: Option<i64>,
    /// A's log end; `None` when A is unreachable.
    pub source_end: Option<i64>,
    /// Records on A that never reached B; `None` when A is unreachable.
    pub missing: Option<i64>,
    /// With A unreachable: at least this many, from A's log end as the running mirror last
    /// saw it (`source_end_seen_ms`); more may have been written after.
    pub missing_at_least: Option<i64>,
    pub source_end_seen_ms: Option<i64>,
    /// Timestamp of the oldest of them (ms), when A could be read.
    pub oldest_missing_timestamp_ms: Option<i64>,
}

/// Plans the failover from what the clusters hold and, unless a dry run, commits it.
pub async fn failover(
    config: &ValidatedMirror,
    options: &FailoverOptions,
) -> Result<FailoverReport, MirrorError> {
    let started = std::time::Instant::now();
    let flow = flow_between(config, &options.from, &options.to)?;
    let config = config.clone();
    let options = options.clone();
    broker_core::task::spawn_blocking("mirror-failover", move || {
        let facts = gather::gather(&config, &flow, &options)?;
        let mut report = plan::plan(&flow, &options, &facts);
        if !options.dry_run {
            apply(&config, &flow, &mut report)?;
        }
        report.took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(report)
    })
    .await
    .map_err(|e| MirrorError::Task {
        task: "failover".to_owned(),
        reason: e.to_string(),
    })?
}

/// The enabled flow `from -> to` of the configuration.
pub(crate) fn flow_between(
    config: &ValidatedMirror,
    from: &str,
    to: &str,
) -> Result<crate::config::Flow, MirrorError> {
    config
        .flows
        .iter()
        .find(|f| f.source == from && f.target == to)
        .cloned()
        .ok_or_else(|| MirrorError::UnknownFlow {
            flow: format!("{from}->{to}"),
        })
}

/// Commits the planned groups' offsets on the target: memberless commits, which the broker
/// refuses for a group with active members; one OffsetCommit connection per coordinator,
/// coordinators concurrently, all by the flow's admin timeout.
fn apply(
    config: &ValidatedMirror,
    flow: &crate::config::Flow,
    report: &mut FailoverReport,
) -> Result<(), MirrorError> {
    let commits: GroupCommits = report
        .groups
        .iter()
        .filter(|group| group.outcome == GroupOutcome::WouldCommit)
        .map(|group| {
            let offsets = group
                .partitions
                .iter()
                .filter_map(|p| Some(((p.target_topic.clone(), p.partition), p.target_offset?)))
                .collect();
            (group.group.clone(), offsets)
        })
        .collect();
    let answers = commit_planned(config, flow, &commits)?;
    for group in &mut report.groups {
        if let Some(answer) = answers.get(&group.group) {
            record_answer(&mut group.outcome, &mut group.reason, answer);
        }
    }
    Ok(())
}

/// Commits `commits` on the flow's target, memberless, one connection per coordinator, by
/// the flow's admin timeout (at most 30 s); per group the broker's answer, a group it did
/// not answer for counting as refused. Shared by failover and failback.
pub(crate) fn commit_planned(
    config: &ValidatedMirror,
    flow: &crate::config::Flow,
    commits: &GroupCommits,
) -> Result<std::collections::BTreeMap<String, Result<(), String>>, MirrorError> {
    if commits.is_empty() {
        return Ok(std::collections::BTreeMap::new());
    }
    let timeout = flow.admin_timeout.min(Duration::from_secs(30));
    let wire = WireClient::new(&config.cluster(&flow.target).cluster, timeout)
        .map_err(|error| MirrorError::Broker(error.into()))?;
    let deadline = std::time::Instant::now() + timeout;
    let mut answers = tokio::runtime::Handle::current()
        .block_on(wire.commit_group_offsets(commits, deadline))
        .map_err(|error| MirrorError::Broker(error.into()))?;
    Ok(commits
        .keys()
        .map(|group| {
            let answer = match answers.remove(group) {
                Some(Ok(())) => Ok(()),
                Some(Err(error)) => Err(format!("{} refused the commit: {error}", flow.target)),
                None => Err(format!("{} did not answer the commit", flow.target)),
            };
            (group.clone(), answer)
        })
        .collect())
}

/// A planned group's outcome once its commit was answered.
pub(crate) fn record_answer(
    outcome: &mut GroupOutcome,
    reason: &mut Option<String>,
    answer: &Result<(), String>,
) {
    match answer {
        Ok(()) => *outcome = GroupOutcome::Committed,
        Err(refusal) => {
            *outcome = GroupOutcome::Refused;
            *reason = Some(refusal.clone());
        }
    }
}
