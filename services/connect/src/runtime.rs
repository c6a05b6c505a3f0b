//! What every part of one worker shares: its identity, the plugin registry, the three
//! stores and a producer for source records and the DLQ.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use broker_core::KafkaClients;
use broker_core::produce::Enqueuer;
use prometheus_client::metrics::counter::Counter;
use rdkafka::producer::FutureProducer;
use serde_json::Value;

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
        }
    }

    /// Writes a RUNNING task status that carries the task's progress report.
    pub async fn report_task_progress(&self, connector: &str, task: u32, progress: Value) {
        let status = Status {
            progress: Some(progress),
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
            .put_task(connector, task, &self.status(state, trace))
            .await
        {
            tracing::warn!(%error, connector, task, "cannot write task status");
        }
    }

    pub async fn report_connector(&self, connector: &str, state: State, trace: Option<String>) {
        if let Err(error) = self
            .statuses
            .put_connector(connector, &self.status(state, trace))
            .await
        {
            tracing::warn!(%error, connector, "cannot write connector status");
        }
    }
}
