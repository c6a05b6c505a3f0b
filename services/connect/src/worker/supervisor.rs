//! Keeps what runs on this worker equal to what the assignment says.
//!
//! Woken by every config-topic record, every membership change and once a second, it:
//! 1. acts on restart requests newer than the ones it has seen;
//! 2. reconciles each connector instance assigned here (task configs written to the config
//!    topic when they changed, connector status written);
//! 3. starts, stops, pauses and resumes the tasks assigned here.
//!
//! Shutdown stops every task with a bounded drain: each task flushes and commits what was
//! acknowledged before it returns.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use broker_core::Shutdown;
use connect_api::{ConfigMap, ConnectorPlugin};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config_providers::resolve;
use crate::connector_config::ConnectorSettings;
use crate::runtime::Runtime;
use crate::storage::config_store::{RestartRequest, TargetState};
use crate::storage::status_store::State;
use crate::worker::assignment::{Unit, assign};
use crate::worker::auto_restarter::{AutoRestarter, UnitKey};
use crate::worker::source::TaskSpec;
use crate::worker::task_metrics::{Registration, TaskKind};
use crate::worker::{sink, source};

/// How long a stopping task gets to flush and commit.
const TASK_DRAIN_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct RunningTask {
    fingerprint: String,
    control: watch::Sender<TargetState>,
    stop: Shutdown,
    handle: JoinHandle<()>,
    /// Dropped once the task stopped, which removes its metrics.
    metrics: Registration,
}

#[derive(Debug)]
struct Supervisor {
    runtime: Arc<Runtime>,
    tasks: HashMap<(String, u32), RunningTask>,
    /// Connector instance → fingerprint of the config and target state last reconciled.
    connectors: HashMap<String, String>,
    last_restart: i64,
    shutdown: Shutdown,
    auto_restarter: AutoRestarter,
}

/// Runs until `shutdown` fires.
pub async fn run(
    runtime: Arc<Runtime>,
    mut members: watch::Receiver<Vec<String>>,
    shutdown: Shutdown,
) {
    let last_restart = runtime
        .configs
        .log
        .read(|s| s.restarts.last().map_or(-1, |r| r.offset));
    let mut changes = runtime.configs.log.changes();
    let mut supervisor = Supervisor {
        runtime,
        tasks: HashMap::new(),
        connectors: HashMap::new(),
        last_restart,
        shutdown: shutdown.clone(),
        auto_restarter: AutoRestarter::default(),
    };
    loop {
        let current = members.borrow_and_update().clone();
        supervisor.reconcile(&current).await;
        tokio::select! {
            () = shutdown.wait() => break,
            _ = changes.changed() => {}
            _ = members.changed() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    let running: Vec<_> = supervisor.tasks.drain().collect();
    futures::future::join_all(running.into_iter().map(|(_, task)| stop_task(task))).await;
}

async fn stop_task(task: RunningTask) {
    task.stop.trigger();
    let mut handle = task.handle;
    if tokio::time::timeout(TASK_DRAIN_DEADLINE, &mut handle)
        .await
        .is_err()
    {
        tracing::warn!("task did not stop within the drain deadline, aborting it");
        handle.abort();
    }
    drop(task.metrics);
}

/// A task that cannot even start is FAILED with the reason as its trace.
async fn fail_task(runtime: &Runtime, name: &str, index: u32, error: &connect_api::ConnectError) {
    runtime
        .report_task(
            name,
            index,
            State::Failed,
            Some(crate::worker::trace_of(error)),
        )
        .await;
}

fn fingerprint(parts: &[&ConfigMap], target: TargetState) -> String {
    json!({ "configs": parts, "target": format!("{target:?}") }).to_string()
}

impl Supervisor {
    async fn reconcile(&mut self, members: &[String]) {
        let (connectors, tasks, targets, restarts) = self.runtime.configs.log.read(|s| {
            (
                s.connectors.clone(),
                s.tasks.clone(),
                s.target_states.clone(),
                s.restarts.clone(),
            )
        });
        let mine = assign(members, &self.runtime.worker_id, &connectors, &tasks);
        let target_of = |name: &str| targets.get(name).copied().unwrap_or_default();

        let last_restart = self.last_restart;
        for request in restarts.into_iter().filter(|r| r.offset > last_restart) {
            self.last_restart = request.offset;
            self.auto_restarter
                .forget(&self.runtime, &request.connector);
            self.restart(&request, &mine).await;
        }
        self.auto_restart(&mine, &connectors).await;

        self.connectors
            .retain(|name, _| mine.contains(&Unit::Connector(name.clone())));
        for unit in &mine {
            let Unit::Connector(name) = unit else {
                continue;
            };
            let Some(config) = connectors.get(name) else {
                continue;
            };
            let target = target_of(name);
            let print = fingerprint(&[config], target);
            if self.connectors.get(name) != Some(&print) {
                self.reconcile_connector(name, config, target, tasks.get(name))
                    .await;
                self.connectors.insert(name.clone(), print);
            }
        }

        let mut desired: BTreeMap<(String, u32), (String, TargetState)> = BTreeMap::new();
        for unit in &mine {
            let Unit::Task(name, index) = unit else {
                continue;
            };
            let (Some(config), Some(task_config)) = (
                connectors.get(name),
                tasks.get(name).and_then(|t| t.get(*index as usize)),
            ) else {
                continue;
            };
            let target = target_of(name);
            if target != TargetState::Stopped {
                desired.insert(
                    (name.clone(), *index),
                    (
                        fingerprint(&[config, task_config], TargetState::Started),
                        target,
                    ),
                );
            }
        }
        let obsolete: Vec<(String, u32)> = self
            .tasks
            .iter()
            .filter(|(id, running)| {
                desired
                    .get(*id)
                    .is_none_or(|(print, _)| *print != running.fingerprint)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in obsolete {
            if let Some(task) = self.tasks.remove(&id) {
                tracing::info!(connector = id.0, task = id.1, "stopping task");
                stop_task(task).await;
            }
        }
        for ((name, index), (print, target)) in desired {
            match self.tasks.get(&(name.clone(), index)) {
                Some(running) => {
                    running.control.send_if_modified(|current| {
                        let changed = *current != target;
                        *current = target;
                        changed
                    });
                }
                None => {
                    let (Some(config), Some(task_config)) = (
                        connectors.get(&name),
                        tasks.get(&name).and_then(|t| t.get(index as usize)),
                    ) else {
                        continue;
                    };
                    if let Some(task) = self
                        .start_task(&name, index, config, task_config, target, print)
                        .await
                    {
                        self.tasks.insert((name, index), task);
                    }
                }
            }
        }
    }

    /// Restarts the FAILED units auto-restart says are due, as a restart request would.
    async fn auto_restart(&mut self, mine: &[Unit], connectors: &BTreeMap<String, ConfigMap>) {
        let units: Vec<UnitKey> = mine
            .iter()
            .map(|unit| match unit {
                Unit::Connector(name) => (name.clone(), None),
                Unit::Task(name, index) => (name.clone(), Some(*index)),
            })
            .collect();
        let due = self
            .auto_restarter
            .due(&self.runtime, &units, connectors)
            .await;
        for (name, task) in due {
            match task {
                None => {
                    self.connectors.remove(&name);
                }
                Some(index) => {
                    if let Some(task) = self.tasks.remove(&(name, index)) {
                        stop_task(task).await;
                    }
                }
            }
        }
    }

    async fn restart(&mut self, request: &RestartRequest, mine: &[Unit]) {
        let name = &request.connector;
        let statuses = &self.runtime.statuses;
        let failed = |state: Option<State>| state == Some(State::Failed);
        match request.task {
            Some(index) => {
                if mine.contains(&Unit::Task(name.clone(), index))
                    && let Some(task) = self.tasks.remove(&(name.clone(), index))
                {
                    self.runtime
                        .report_task(name, index, State::Restarting, None)
                        .await;
                    stop_task(task).await;
                }
            }
            None => {
                let connector_failed = failed(statuses.connector(name).map(|s| s.state));
                if mine.contains(&Unit::Connector(name.clone()))
                    && (!request.only_failed || connector_failed)
                {
                    self.connectors.remove(name);
                }
                if request.include_tasks {
                    let ids: Vec<(String, u32)> = self
                        .tasks
                        .keys()
                        .filter(|(n, _)| n == name)
                        .cloned()
                        .collect();
                    for id in ids {
                        if request.only_failed
                            && !failed(statuses.task(name, id.1).map(|s| s.state))
                        {
                            continue;
                        }
                        if let Some(task) = self.tasks.remove(&id) {
                            stop_task(task).await;
                        }
                    }
                }
            }
        }
    }

    async fn reconcile_connector(
        &self,
        name: &str,
        config: &ConfigMap,
        target: TargetState,
        current_tasks: Option<&Vec<ConfigMap>>,
    ) {
        let runtime = &self.runtime;
        let class = config.get("connector.class").map_or("", String::as_str);
        let Some(plugin) = runtime.plugins.find(class).cloned() else {
            let trace = format!(
                "org.apache.kafka.connect.errors.ConnectException: Failed to find any class that implements Connector and which name matches {class}"
            );
            runtime
                .report_connector(name, State::Failed, Some(trace))
                .await;
            return;
        };
        if target == TargetState::Stopped {
            if current_tasks.is_some_and(|t| !t.is_empty())
                && let Err(error) = runtime.configs.put_task_configs(name, &[]).await
            {
                tracing::warn!(%error, connector = name, "cannot empty task configs of a stopped connector");
            }
            runtime.report_connector(name, State::Stopped, None).await;
            return;
        }
        let resolved = match resolve(config) {
            Ok(resolved) => resolved,
            Err(error) => {
                runtime
                    .report_connector(name, State::Failed, Some(crate::worker::trace_of(&error)))
                    .await;
                return;
            }
        };
        let mut max_tasks = 1;
        let generated = ConnectorSettings::parse(&plugin, &resolved, &runtime.policies)
            .map_err(|issue| connect_api::ConnectError::config(issue.key, issue.message))
            .and_then(|settings| {
                max_tasks = settings.tasks_max;
                plugin.task_configs(&resolved, settings.tasks_max)
            });
        let generated = match generated {
            Ok(configs) if configs.len() > max_tasks => {
                let trace = format!(
                    "org.apache.kafka.connect.errors.ConnectException: The connector {name} has generated {} tasks, which is greater than {max_tasks}, the maximum number of tasks it is configured to create",
                    configs.len()
                );
                runtime
                    .report_connector(name, State::Failed, Some(trace))
                    .await;
                return;
            }
            Ok(configs) => configs,
            Err(error) => {
                runtime
                    .report_connector(name, State::Failed, Some(crate::worker::trace_of(&error)))
                    .await;
                return;
            }
        };
        // Secrets stay references: a value the provider resolved is written back raw.
        let unresolved: Vec<ConfigMap> = generated
            .into_iter()
            .map(|task| {
                task.into_iter()
                    .map(
                        |(key, value)| match (config.get(&key), resolved.get(&key)) {
                            (Some(raw), Some(done)) if *done == value => (key, raw.clone()),
                            _ => (key, value),
                        },
                    )
                    .collect()
            })
            .collect();
        if current_tasks != Some(&unresolved)
            && let Err(error) = runtime.configs.put_task_configs(name, &unresolved).await
        {
            tracing::warn!(%error, connector = name, "cannot write task configs");
        }
        let state = if target == TargetState::Paused {
            State::Paused
        } else {
            State::Running
        };
        runtime.report_connector(name, state, None).await;
    }

    async fn start_task(
        &self,
        name: &str,
        index: u32,
        config: &ConfigMap,
        task_config: &ConfigMap,
        target: TargetState,
        print: String,
    ) -> Option<RunningTask> {
        let runtime = Arc::clone(&self.runtime);
        let class = config.get("connector.class").map_or("", String::as_str);
        let plugin = runtime.plugins.find(class).cloned()?;
        let (resolved, task_config) =
            match resolve(config).and_then(|c| Ok((c, resolve(task_config)?))) {
                Ok(both) => both,
                Err(error) => {
                    fail_task(&runtime, name, index, &error).await;
                    return None;
                }
            };
        let settings = match ConnectorSettings::parse(&plugin, &resolved, &runtime.policies) {
            Ok(settings) => settings,
            Err(issue) => {
                let error = connect_api::ConnectError::config(issue.key, issue.message);
                fail_task(&runtime, name, index, &error).await;
                return None;
            }
        };
        let kind = match plugin {
            ConnectorPlugin::Source(_) => TaskKind::Source,
            ConnectorPlugin::Sink(_) => TaskKind::Sink,
        };
        let registration = runtime.task_metrics.register(name, index, kind);
        let spec = TaskSpec {
            connector: name.to_owned(),
            task: index,
            connector_config: resolved,
            task_config,
            settings,
            metrics: registration.groups(),
        };
        tracing::info!(connector = name, task = index, "starting task");
        let (control, control_rx) = watch::channel(target);
        let stop = self.shutdown.child();
        let task_stop = stop.clone();
        let span = tracing::info_span!("connect-task", connector = name, task = index);
        let handle = match plugin {
            ConnectorPlugin::Source(connector) => broker_core::task::spawn(
                "connect-source-task",
                source::run(runtime, connector, spec, control_rx, task_stop).instrument(span),
            ),
            ConnectorPlugin::Sink(connector) => broker_core::task::spawn(
                "connect-sink-task",
                sink::run(runtime, connector, spec, control_rx, task_stop).instrument(span),
            ),
        };
        Some(RunningTask {
            fingerprint: print,
            control,
            stop,
            handle,
            metrics: registration,
        })
    }
}
