//! What every part of one worker shares: its identity, the plugin registry, the three
//! stores and a producer for source records and the DLQ.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use broker_core::KafkaClients;
use broker_core::produce::Enqueuer;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use rdkafka::producer::FutureProducer;
use serde_json::Value;

use crate::auto_restart::AutoRestartStatus;
use crate::connector_config::WorkerPolicies;
use crate::plugin::PluginRegistry;
use crate::storage::config_store::ConfigStore;
use crate::storage::offset_store::OffsetStore;
use crate::storage::status_store::{State, Status, StatusStore};
use crate::storage::topics::OffsetsTopicLayout;
use crate::worker::task_metrics::TaskMetricsRegistry;

/// Counters exported on the shared registry.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub source_records: Counter,
    pub sink_records: Counter,
    pub failed_records: Counter,
    /// Auto-restarts made, per connector and task (`task` empty for the connector).
    pub auto_restarts: Family<Vec<(&'static str, String)>, Counter>,
    /// When the next auto-restart is due (Unix seconds), while one is planned.
    pub auto_restart_next_attempt: Family<Vec<(&'static str, String)>, Gauge>,
}

/// The auto-restart state of the connectors and tasks this worker runs, keyed by
/// (connector, task; `None` for the connector itself). Every status write of the unit
/// carries it, so a RUNNING report after a restart still shows the count.
#[derive(Debug, Default)]
pub struct AutoRestartBoard(Mutex<HashMap<(String, Option<u32>), AutoRestartStatus>>);

impl AutoRestartBoard {
    pub fn get(&self, connector: &str, task: Option<u32>) -> Option<AutoRestartStatus> {
        self.lock().get(&(connector.to_owned(), task)).cloned()
    }

    pub fn set(&self, connector: &str, task: Option<u32>, status: Option<AutoRestartStatus>) {
        let key = (connector.to_owned(), task);
        match status {
            Some(status) => self.lock().insert(key, status),
            None => self.lock().remove(&key),
        };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Option<u32>), AutoRestartStatus>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub struct Runtime {
    pub worker_id: String,
    pub cluster_id: String,
    pub group_id: String,
    pub plugins: PluginRegistry,
    pub clients: KafkaClients,
    pub configs: ConfigStore,
    pub offsets: OffsetStore,
    pub statuses: StatusStore,
    pub producer: FutureProducer,
    /// The produce path source tasks send through, whichever producer they use (its
    /// `QueueFull` policy, waits counted under `client="connect"`).
    pub enqueuer: Enqueuer,
    pub metrics: Metrics,
    /// Per-task metric groups of the tasks running here, exported on `/metrics`.
    pub task_metrics: TaskMetricsRegistry,
    /// Source tasks write records and offsets in one transaction.
    pub exactly_once_source: bool,
    /// `topic.creation.enable` and the client override policy.
    pub policies: WorkerPolicies,
    /// How often sink tasks flush and commit (`offset.flush.interval.ms`).
    pub offset_flush_interval: Duration,
    /// What a connector's own offsets topic is created with.
    pub offsets_topic_layout: OffsetsTopicLayout,
    /// What the auto-restart of each connector and task here shows in its status records.
    pub auto_restarts: AutoRestartBoard,
    started: AtomicBool,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("worker_id", &self.worker_id)
            .field("group_id", &self.group_id)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        worker_id: String,
        cluster_id: String,
        group_id: String,
        plugins: PluginRegistry,
        clients: KafkaClients,
        stores: (ConfigStore, OffsetStore, StatusStore),
        producer: FutureProducer,
        metrics: Metrics,
        policies: WorkerPolicies,
        offset_flush_interval: Duration,
        offsets_topic_layout: OffsetsTopicLayout,
    ) -> Self {
        let (configs, offsets, statuses) = stores;
        Self {
            worker_id,
            cluster_id,
            group_id,
            plugins,
            clients,
            configs,
            offsets,
            statuses,
            producer,
            enqueuer: Enqueuer::new("connect"),
            metrics,
            task_metrics: TaskMetricsRegistry::default(),
            exactly_once_source: policies.exactly_once_source,
            policies,
            offset_flush_interval,
            offsets_topic_layout,
            auto_restarts: AutoRestartBoard::default(),
            started: AtomicBool::new(false),
        }
    }

    pub fn mark_started(&self) {
        self.started.store(true, Ordering::Release);
    }

    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    pub fn status(&self, state: State, trace: Option<String>) -> Status {
        Status {
            state,
            trace,
            worker_id: self.worker_id.clone(),
            generation: 0,
            progress: None,
            auto_restart: None,
        }
    }

    /// Writes a RUNNING task status that carries the task's progress report.
    pub async fn report_task_progress(&self, connector: &str, task: u32, progress: Value) {
        let status = Status {
            progress: Some(progress),
            auto_restart: self.auto_restarts.get(connector, Some(task)),
            ..self.status(State::Running, None)
        };
        if let Err(error) = self.statuses.put_task(connector, task, &status).await {
            tracing::debug!(%error, connector, task, "cannot write task progress");
        }
    }

    /// Writes a task status; a failure to write is logged, the task carries on.
    pub async fn report_task(
        &self,
        connector: &str,
        task: u32,
        state: State,
        trace: Option<String>,
    ) {
        if let Err(error) = self
            .statuses
            .put_task(
                connector,
                task,
                &Status {
                    auto_restart: self.auto_restarts.get(connector, Some(task)),
                    ..self.status(state, trace)
                },
            )
            .await
        {
            tracing::warn!(%error, connector, task, "cannot write task status");
        }
    }

    pub async fn report_connector(&self, connector: &str, state: State, trace: Option<String>) {
        if let Err(error) = self
            .statuses
            .put_connector(
                connector,
                &Status {
                    auto_restart: self.auto_restarts.get(connector, None),
                    ..self.status(state, trace)
                },
            )
            .await
        {
            tracing::warn!(%error, connector, "cannot write connector status");
        }
    }
}
