//! The config topic: connector configs, task configs, target states, restart requests.
//!
//! Task configs follow Kafka's two-phase scheme: `task-<name>-<n>` records are buffered and
//! only applied when `commit-<name>` `{"tasks":N}` arrives, so a reader never sees half of a
//! task set. `restart-task-<name>-<n>` is ours (Kafka forwards task restarts over HTTP);
//! Kafka workers sharing the topic would log and ignore it.

use std::collections::BTreeMap;

use broker_core::{BrokerError, KafkaClients, Shutdown};
use connect_api::ConfigMap;
use serde_json::{Value, json};

use super::log::{KafkaLog, LogState};

/// The state a connector should be in (`target-state-<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetState {
    #[default]
    Started,
    Paused,
    Stopped,
}

impl TargetState {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "STARTED" | "RUNNING" => Some(Self::Started),
            "PAUSED" => Some(Self::Paused),
            "STOPPED" => Some(Self::Stopped),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Started => "STARTED",
            Self::Paused => "PAUSED",
            Self::Stopped => "STOPPED",
        }
    }
}

/// A restart asked for through the REST API, in config-topic order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRequest {
    pub offset: i64,
    pub connector: String,
    /// `None`: the connector (and, per the flags, its tasks); `Some(n)`: task `n` only.
    pub task: Option<u32>,
    pub include_tasks: bool,
    pub only_failed: bool,
}

/// Everything the config topic says, folded.
#[derive(Debug, Default)]
pub struct ConfigState {
    pub connectors: BTreeMap<String, ConfigMap>,
    pub tasks: BTreeMap<String, Vec<ConfigMap>>,
    pending_tasks: BTreeMap<String, BTreeMap<u32, ConfigMap>>,
    pub target_states: BTreeMap<String, TargetState>,
    /// The most recent restart requests (bounded).
    pub restarts: Vec<RestartRequest>,
    /// Whether `logger-cluster-*` records are applied: only those written after this
    /// worker read the topic at start, as in Kafka (KIP-976), so a restart does not replay
    /// old levels.
    pub apply_logger_levels: bool,
}

const MAX_REMEMBERED_RESTARTS: usize = 1024;

fn properties(value: &[u8]) -> Option<ConfigMap> {
    let parsed: Value = serde_json::from_slice(value).ok()?;
    let map = parsed.get("properties")?.as_object()?;
    Some(
        map.iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Null => None,
                other => Some((k.clone(), other.to_string())),
            })
            .collect(),
    )
}

/// `<name>-<n>` → (name, n).
fn split_task(rest: &str) -> Option<(&str, u32)> {
    let (name, index) = rest.rsplit_once('-')?;
    Some((name, index.parse().ok()?))
}

impl ConfigState {
    pub fn target_state(&self, connector: &str) -> TargetState {
        self.target_states
            .get(connector)
            .copied()
            .unwrap_or_default()
    }

    fn remember_restart(&mut self, request: RestartRequest) {
        self.restarts.push(request);
        if self.restarts.len() > MAX_REMEMBERED_RESTARTS {
            self.restarts.remove(0);
        }
    }
}

impl LogState for ConfigState {
    fn apply(&mut self, key: &[u8], value: Option<&[u8]>, offset: i64) {
        let Ok(key) = std::str::from_utf8(key) else {
            return;
        };
        if let Some(name) = key.strip_prefix("connector-") {
            match value.and_then(properties) {
                Some(config) => {
                    self.connectors.insert(name.to_owned(), config);
                }
                None => {
                    self.connectors.remove(name);
                    self.tasks.remove(name);
                    self.pending_tasks.remove(name);
                    self.target_states.remove(name);
                }
            }
        } else if let Some(name) = key.strip_prefix("target-state-") {
            let parsed: Option<Value> = value.and_then(|v| serde_json::from_slice(v).ok());
            let state = parsed.as_ref().and_then(|v| {
                v.get("state.v2")
                    .or_else(|| v.get("state"))
                    .and_then(Value::as_str)
                    .and_then(TargetState::parse)
            });
            match state {
                Some(state) => {
                    self.target_states.insert(name.to_owned(), state);
                }
                None => {
                    self.target_states.remove(name);
                }
            }
        } else if let Some(rest) = key.strip_prefix("task-") {
            if let (Some((name, index)), Some(config)) =
                (split_task(rest), value.and_then(properties))
            {
                self.pending_tasks
                    .entry(name.to_owned())
                    .or_default()
                    .insert(index, config);
            }
        } else if let Some(name) = key.strip_prefix("commit-") {
            let count = value
                .and_then(|v| serde_json::from_slice::<Value>(v).ok())
                .and_then(|v| v.get("tasks").and_then(Value::as_u64))
                .unwrap_or(0);
            let mut pending = self.pending_tasks.remove(name).unwrap_or_default();
            let tasks: Option<Vec<ConfigMap>> = (0..u32::try_from(count).unwrap_or(0))
                .map(|i| pending.remove(&i))
                .collect();
            match tasks {
                Some(tasks) => {
                    self.tasks.insert(name.to_owned(), tasks);
                }
                None => tracing::warn!(
                    connector = name,
                    "task commit without all task configs, ignored"
                ),
            }
        } else if let Some(name) = key.strip_prefix("restart-connector-") {
            let parsed: Value = value
                .and_then(|v| serde_json::from_slice(v).ok())
                .unwrap_or(Value::Null);
            self.remember_restart(RestartRequest {
                offset,
                connector: name.to_owned(),
                task: None,
                include_tasks: parsed
                    .get("include-tasks")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                only_failed: parsed
                    .get("only-failed")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            });
        } else if let Some(namespace) = key.strip_prefix("logger-cluster-") {
            let level = value
                .and_then(|v| serde_json::from_slice::<Value>(v).ok())
                .and_then(|v| v.get("level").and_then(Value::as_str).map(str::to_owned));
            match level {
                Some(level) if self.apply_logger_levels => {
                    match broker_core::log_levels::set(namespace, &level, crate::worker::now_ms()) {
                        Ok(()) => tracing::info!(
                            logger = namespace,
                            level,
                            "cluster-wide log level applied"
                        ),
                        Err(error) => {
                            tracing::warn!(logger = namespace, level, %error, "cluster-wide log level refused")
                        }
                    }
                }
                Some(_) => {
                    tracing::debug!(
                        logger = namespace,
                        "log level written before this worker started; not applied"
                    );
                }
                None => {}
            }
        } else if let Some(rest) = key.strip_prefix("restart-task-")
            && let Some((name, index)) = split_task(rest)
        {
            self.remember_restart(RestartRequest {
                offset,
                connector: name.to_owned(),
                task: Some(index),
                include_tasks: false,
                only_failed: false,
            });
        }
    }
}

fn encode(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// Reads and writes the config topic.
#[derive(Debug)]
pub struct ConfigStore {
    pub log: KafkaLog<ConfigState>,
}

impl ConfigStore {
    pub async fn start(
        clients: &KafkaClients,
        topic: &str,
        shutdown: Shutdown,
    ) -> Result<Self, BrokerError> {
        let log = KafkaLog::start(clients, topic, ConfigState::default(), shutdown).await?;
        log.read_to_end().await?;
        log.update(|state| state.apply_logger_levels = true);
        Ok(Self { log })
    }

    /// Target state first (as Kafka does for `initial_state`), then the config.
    pub async fn put_connector(
        &self,
        name: &str,
        config: &ConfigMap,
        initial: Option<TargetState>,
    ) -> Result<(), BrokerError> {
        if let Some(state) = initial {
            self.put_target_state(name, state).await?;
        }
        let value = json!({ "properties": config });
        self.log
            .write(
                format!("connector-{name}").as_bytes(),
                Some(&encode(&value)),
            )
            .await
    }

    pub async fn delete_connector(&self, name: &str) -> Result<(), BrokerError> {
        self.log
            .write_all(&[
                (format!("connector-{name}").into_bytes(), None),
                (format!("target-state-{name}").into_bytes(), None),
            ])
            .await
    }

    pub async fn put_target_state(
        &self,
        name: &str,
        state: TargetState,
    ) -> Result<(), BrokerError> {
        // `state` is what pre-3.5 workers read: they know no STOPPED and get PAUSED.
        let legacy = if state == TargetState::Stopped {
            TargetState::Paused
        } else {
            state
        };
        let value = json!({ "state": legacy.name(), "state.v2": state.name() });
        self.log
            .write(
                format!("target-state-{name}").as_bytes(),
                Some(&encode(&value)),
            )
            .await
    }

    /// `task-<name>-<n>` for each config, then `commit-<name>`.
    pub async fn put_task_configs(
        &self,
        name: &str,
        tasks: &[ConfigMap],
    ) -> Result<(), BrokerError> {
        let mut records: Vec<(Vec<u8>, Option<Vec<u8>>)> = tasks
            .iter()
            .enumerate()
            .map(|(i, config)| {
                (
                    format!("task-{name}-{i}").into_bytes(),
                    Some(encode(&json!({ "properties": config }))),
                )
            })
            .collect();
        records.push((
            format!("commit-{name}").into_bytes(),
            Some(encode(&json!({ "tasks": tasks.len() }))),
        ));
        self.log.write_all(&records).await
    }

    /// A log level for every worker of the group (KIP-976): each applies it when it reads
    /// the record.
    pub async fn put_logger_level(&self, namespace: &str, level: &str) -> Result<(), BrokerError> {
        let value = json!({ "level": level });
        self.log
            .write(
                format!("logger-cluster-{namespace}").as_bytes(),
                Some(&encode(&value)),
            )
            .await
    }

    pub async fn request_restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<(), BrokerError> {
        let value = json!({ "include-tasks": include_tasks, "only-failed": only_failed });
        self.log
            .write(
                format!("restart-connector-{name}").as_bytes(),
                Some(&encode(&value)),
            )
            .await
    }

    pub async fn request_task_restart(&self, name: &str, task: u32) -> Result<(), BrokerError> {
        self.log
            .write(
                format!("restart-task-{name}-{task}").as_bytes(),
                Some(b"{}"),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_configs_apply_only_on_commit() {
        let mut state = ConfigState::default();
        state.apply(
            b"connector-my-conn",
            Some(br#"{"properties":{"a":"1"}}"#),
            0,
        );
        state.apply(b"task-my-conn-0", Some(br#"{"properties":{"t":"0"}}"#), 1);
        assert!(!state.tasks.contains_key("my-conn"));
        state.apply(b"commit-my-conn", Some(br#"{"tasks":1}"#), 2);
        assert_eq!(state.tasks["my-conn"][0]["t"], "0");
        state.apply(
            b"target-state-my-conn",
            Some(br#"{"state":"PAUSED","state.v2":"STOPPED"}"#),
            3,
        );
        assert_eq!(state.target_state("my-conn"), TargetState::Stopped);
        state.apply(b"connector-my-conn", None, 4);
        assert!(state.connectors.is_empty() && state.tasks.is_empty());
        assert_eq!(state.target_state("my-conn"), TargetState::Started);
    }
}
