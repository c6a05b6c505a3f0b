//! The status topic: `status-connector-<name>` and `status-task-<name>-<n>` with
//! `{"state","trace","worker_id","generation"}`, and topic tracking records
//! `status-topic-<topic>:connector-<name>` (KIP-558).

use std::collections::{BTreeMap, BTreeSet};

use broker_core::{BrokerError, KafkaClients, Shutdown};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::log::{KafkaLog, LogState};

/// Connector and task states as Kafka's `AbstractStatus.State` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Failed,
    Restarting,
    Stopped,
    Destroyed,
}

/// One status record's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    #[serde(default)]
    pub trace: Option<String>,
    pub worker_id: String,
    #[serde(default)]
    pub generation: i64,
    /// Ours: the task's own progress report (Kafka's readers ignore unknown fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<serde_json::Value>,
    /// Ours: the auto-restart count and next attempt of this connector or task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<crate::auto_restart::AutoRestartStatus>,
}

#[derive(Debug, Default)]
pub struct StatusState {
    pub connectors: BTreeMap<String, Status>,
    pub tasks: BTreeMap<(String, u32), Status>,
    pub topics: BTreeMap<String, BTreeSet<String>>,
}

impl LogState for StatusState {
    fn apply(&mut self, key: &[u8], value: Option<&[u8]>, _offset: i64) {
        let Ok(key) = std::str::from_utf8(key) else {
            return;
        };
        if let Some(rest) = key.strip_prefix("status-topic-") {
            if let Some((topic, connector)) = rest.rsplit_once(":connector-") {
                if value.is_some() {
                    self.topics
                        .entry(connector.to_owned())
                        .or_default()
                        .insert(topic.to_owned());
                } else if let Some(topics) = self.topics.get_mut(connector) {
                    topics.remove(topic);
                }
            }
            return;
        }
        let status: Option<Status> = value.and_then(|v| serde_json::from_slice(v).ok());
        if let Some(name) = key.strip_prefix("status-connector-") {
            match status {
                Some(status) => {
                    self.connectors.insert(name.to_owned(), status);
                }
                None => {
                    self.connectors.remove(name);
                }
            }
        } else if let Some(rest) = key.strip_prefix("status-task-") {
            let Some((name, index)) = rest
                .rsplit_once('-')
                .and_then(|(n, i)| Some((n, i.parse::<u32>().ok()?)))
            else {
                return;
            };
            match status {
                Some(status) => {
                    self.tasks.insert((name.to_owned(), index), status);
                }
                None => {
                    self.tasks.remove(&(name.to_owned(), index));
                }
            }
        }
    }
}

#[derive(Debug)]
pub struct StatusStore {
    pub log: KafkaLog<StatusState>,
}

impl StatusStore {
    pub async fn start(
        clients: &KafkaClients,
        topic: &str,
        shutdown: Shutdown,
    ) -> Result<Self, BrokerError> {
        let log = KafkaLog::start(clients, topic, StatusState::default(), shutdown).await?;
        log.read_to_end().await?;
        Ok(Self { log })
    }

    pub fn connector(&self, name: &str) -> Option<Status> {
        self.log.read(|s| s.connectors.get(name).cloned())
    }

    pub fn task(&self, name: &str, task: u32) -> Option<Status> {
        self.log
            .read(|s| s.tasks.get(&(name.to_owned(), task)).cloned())
    }

    pub fn tasks(&self, name: &str) -> Vec<(u32, Status)> {
        self.log.read(|s| {
            s.tasks
                .iter()
                .filter(|((n, _), _)| n == name)
                .map(|((_, i), status)| (*i, status.clone()))
                .collect()
        })
    }

    pub fn topics(&self, name: &str) -> BTreeSet<String> {
        self.log
            .read(|s| s.topics.get(name).cloned().unwrap_or_default())
    }

    fn encode(status: &Status) -> Vec<u8> {
        serde_json::to_vec(status).unwrap_or_default()
    }

    pub async fn put_connector(&self, name: &str, status: &Status) -> Result<(), BrokerError> {
        self.log
            .write(
                format!("status-connector-{name}").as_bytes(),
                Some(&Self::encode(status)),
            )
            .await
    }

    pub async fn put_task(
        &self,
        name: &str,
        task: u32,
        status: &Status,
    ) -> Result<(), BrokerError> {
        self.log
            .write(
                format!("status-task-{name}-{task}").as_bytes(),
                Some(&Self::encode(status)),
            )
            .await
    }

    /// Tombstones for the connector's and its tasks' statuses.
    pub async fn delete(&self, name: &str, task_count: u32) -> Result<(), BrokerError> {
        let known: Vec<u32> = self.tasks(name).into_iter().map(|(i, _)| i).collect();
        let mut records = vec![(format!("status-connector-{name}").into_bytes(), None)];
        for task in (0..task_count).chain(known) {
            records.push((format!("status-task-{name}-{task}").into_bytes(), None));
        }
        self.log.write_all(&records).await
    }

    /// Records that the connector used `topic` (once per topic).
    pub async fn put_topic(
        &self,
        name: &str,
        task: u32,
        topic: &str,
        now_ms: i64,
    ) -> Result<(), BrokerError> {
        if self.topics(name).contains(topic) {
            return Ok(());
        }
        let value = json!({"topic": {"name": topic, "connector": name, "task": task, "discoverTimestamp": now_ms}});
        self.log
            .write(
                format!("status-topic-{topic}:connector-{name}").as_bytes(),
                Some(value.to_string().as_bytes()),
            )
            .await
    }

    pub async fn reset_topics(&self, name: &str) -> Result<(), BrokerError> {
        let records: Vec<(Vec<u8>, Option<Vec<u8>>)> = self
            .topics(name)
            .into_iter()
            .map(|topic| {
                (
                    format!("status-topic-{topic}:connector-{name}").into_bytes(),
                    None,
                )
            })
            .collect();
        self.log.write_all(&records).await
    }
}
