//! Restarts the FAILED connectors and tasks this worker runs, on the schedule of
//! [`crate::auto_restart`].
//!
//! The supervisor calls [`AutoRestarter::due`] once per pass with the units assigned here;
//! it answers which ones to restart now and records, for each, the count, the next attempt
//! and the last failure on the runtime's board, which every status write of the unit
//! carries, so `/status` on any worker shows them. Before a restart the unit's status
//! becomes RESTARTING (the status log reads its own writes), so a FAILED status seen
//! afterwards is always a new failure.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use connect_api::ConfigMap;

use crate::auto_restart::{AutoRestartPolicy, AutoRestartStatus, definite_cause, rfc3339};
use crate::runtime::Runtime;
use crate::storage::status_store::{State, Status};
use crate::worker::now_ms;

/// A connector (`None`) or one of its tasks.
pub(crate) type UnitKey = (String, Option<u32>);

#[derive(Debug, Default)]
struct Entry {
    /// Restarts made since the last healthy period.
    count: u32,
    /// When the next restart is due, once a failure was seen.
    due: Option<(Instant, i64)>,
    /// Since when the unit has been RUNNING after a restart.
    running_since: Option<Instant>,
    last_failure: Option<String>,
    gave_up: Option<String>,
}

impl Entry {
    fn shown(&self, policy: &AutoRestartPolicy) -> AutoRestartStatus {
        AutoRestartStatus {
            count: self.count,
            max_attempts: policy.max_attempts,
            next_attempt: self.due.map(|(_, at)| rfc3339(at)),
            last_failure: self.last_failure.clone(),
            gave_up: self.gave_up.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct AutoRestarter {
    entries: HashMap<UnitKey, Entry>,
}

fn labels(key: &UnitKey) -> Vec<(&'static str, String)> {
    vec![
        ("connector", key.0.clone()),
        ("task", key.1.map(|t| t.to_string()).unwrap_or_default()),
    ]
}

impl AutoRestarter {
    /// Forgets every unit of `connector`: a manual restart or a deletion starts over.
    pub(crate) fn forget(&mut self, runtime: &Runtime, connector: &str) {
        let keys: Vec<UnitKey> = self
            .entries
            .keys()
            .filter(|(name, _)| name == connector)
            .cloned()
            .collect();
        for key in keys {
            self.remove(runtime, &key);
        }
    }

    fn remove(&mut self, runtime: &Runtime, key: &UnitKey) {
        self.entries.remove(key);
        runtime.auto_restarts.set(&key.0, key.1, None);
        runtime
            .metrics
            .auto_restart_next_attempt
            .remove(&labels(key));
    }

    /// Which of `units` (assigned here) to restart now. Each returned unit's status is
    /// already RESTARTING.
    pub(crate) async fn due(
        &mut self,
        runtime: &Runtime,
        units: &[UnitKey],
        configs: &BTreeMap<String, ConfigMap>,
    ) -> Vec<UnitKey> {
        let gone: Vec<UnitKey> = self
            .entries
            .keys()
            .filter(|key| !units.contains(key))
            .cloned()
            .collect();
        for key in &gone {
            self.remove(runtime, key);
        }
        let mut restart = Vec::new();
        for key in units {
            let policy = configs
                .get(&key.0)
                .and_then(|c| {
                    AutoRestartPolicy::for_connector(c, &runtime.policies.auto_restart).ok()
                })
                .unwrap_or_default();
            if !policy.enabled {
                if self.entries.contains_key(key) {
                    self.remove(runtime, key);
                }
                continue;
            }
            let status = match key.1 {
                None => runtime.statuses.connector(&key.0),
                Some(task) => runtime.statuses.task(&key.0, task),
            };
            let Some(status) = status.filter(|s| s.worker_id == runtime.worker_id) else {
                continue;
            };
            let due_now = match status.state {
                State::Failed => self.on_failed(runtime, key, &policy, &status).await,
                State::Running => {
                    self.on_running(runtime, key, &policy).await;
                    false
                }
                _ => false,
            };
            if due_now {
                restart.push(key.clone());
            }
        }
        restart
    }

    /// Plans the restart of a new failure, or says the planned one is due.
    async fn on_failed(
        &mut self,
        runtime: &Runtime,
        key: &UnitKey,
        policy: &AutoRestartPolicy,
        status: &Status,
    ) -> bool {
        let entry = self.entries.entry(key.clone()).or_default();
        entry.running_since = None;
        if entry.gave_up.is_some() {
            return false;
        }
        if let Some((at, _)) = entry.due {
            if Instant::now() < at {
                return false;
            }
            entry.count = entry.count.saturating_add(1);
            entry.due = None;
            let shown = entry.shown(policy);
            runtime.auto_restarts.set(&key.0, key.1, Some(shown));
            runtime
                .metrics
                .auto_restarts
                .get_or_create(&labels(key))
                .inc();
            runtime
                .metrics
                .auto_restart_next_attempt
                .remove(&labels(key));
            tracing::info!(connector = %key.0, task = ?key.1, count = entry.count, "auto-restarting a failed unit");
            report(runtime, key, State::Restarting, None).await;
            return true;
        }
        let trace = status.trace.clone().unwrap_or_default();
        entry.last_failure = trace.lines().next().map(str::to_owned);
        let mut annotated = None;
        if let Some(cause) = definite_cause(&trace) {
            let reason = format!("not retried: {cause} (the same start fails again)");
            annotated = Some(format!("{trace}\nauto-restart {reason}"));
            entry.gave_up = Some(reason);
        } else if policy.max_attempts.is_some_and(|max| entry.count >= max) {
            let reason = format!("gave up after {} restarts", entry.count);
            annotated = Some(format!("{trace}\nauto-restart {reason}"));
            entry.gave_up = Some(reason);
        } else {
            let delay = policy.delay(entry.count);
            let at_ms =
                now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
            entry.due = Some((Instant::now() + delay, at_ms));
            runtime
                .metrics
                .auto_restart_next_attempt
                .get_or_create(&labels(key))
                .set(at_ms / 1000);
        }
        let shown = entry.shown(policy);
        runtime.auto_restarts.set(&key.0, key.1, Some(shown));
        // The FAILED status again, now with the plan (and the reason when there is none).
        report(
            runtime,
            key,
            State::Failed,
            annotated.or(status.trace.clone()),
        )
        .await;
        false
    }

    /// Forgets the count once the unit ran for the healthy period.
    async fn on_running(&mut self, runtime: &Runtime, key: &UnitKey, policy: &AutoRestartPolicy) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let since = *entry.running_since.get_or_insert_with(Instant::now);
        if entry.gave_up.is_none() && since.elapsed() < policy.healthy_period() {
            return;
        }
        self.remove(runtime, key);
        report(runtime, key, State::Running, None).await;
    }
}

async fn report(runtime: &Runtime, key: &UnitKey, state: State, trace: Option<String>) {
    match key.1 {
        None => runtime.report_connector(&key.0, state, trace).await,
        Some(task) => runtime.report_task(&key.0, task, state, trace).await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_second_unit_gives_strimzis_schedule_in_seconds() {
        let policy = AutoRestartPolicy {
            enabled: true,
            max_attempts: None,
            backoff_unit: Duration::from_secs(1),
        };
        let waits: Vec<Duration> = (0..4).map(|n| policy.delay(n)).collect();
        assert_eq!(waits, [0, 2, 6, 12].map(Duration::from_secs));
        assert_eq!(policy.healthy_period(), Duration::from_secs(10));
    }
}
