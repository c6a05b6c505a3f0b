//! Starting a worker: internal topics, stores read to the end, group membership, the
//! supervisor, then the REST listener. Shutdown stops the listener (bounded drain), then
//! the supervisor stops every task (each flushes and commits what Kafka acknowledged).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use broker_core::metadata::ClusterInspector;
use broker_core::telemetry::MetricsRegistry;
use broker_core::{KafkaClients, Shutdown};
use edge::http_metrics::HttpMetricsLayer;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::ValidatedConnect;
use crate::connector_config::WorkerPolicies;
use crate::error::WorkerError;
use crate::plugin::PluginRegistry;
use crate::runtime::{Metrics, Runtime};
use crate::status_metrics::StatusCollector;
use crate::storage::config_store::ConfigStore;
use crate::storage::offset_store::OffsetStore;
use crate::storage::status_store::StatusStore;
use crate::storage::topics::{OffsetsTopicLayout, ensure_internal_topics};
use crate::task_metrics_collector::TaskMetricsCollector;
use crate::worker::{membership, supervisor};

/// A started worker: the runtime, its bound listener and its supervisor.
#[derive(Debug)]
pub struct Worker {
    pub runtime: Arc<Runtime>,
    pub tcp: TcpListener,
    config: ValidatedConnect,
    supervisor: JoinHandle<()>,
    shutdown: Shutdown,
    background: BackgroundStop,
    http_metrics: HttpMetricsLayer,
}

/// Stops the internal-topic readers and the group membership. They must outlive the
/// tasks: a draining source task still stores offsets (read back through the offset
/// store), and leaving the group first would hand the tasks to another worker while this
/// one is still committing. Fires on drop, so a worker that is never served stops too.
#[derive(Debug)]
struct BackgroundStop(Shutdown);

impl Drop for BackgroundStop {
    fn drop(&mut self) {
        self.0.trigger();
    }
}

fn worker_id(config: &ValidatedConnect, tcp: &TcpListener) -> String {
    if let Some(address) = &config.advertised_address {
        return address.clone();
    }
    let port = tcp
        .local_addr()
        .map_or(config.listener.listen.port(), |a| a.port());
    let ip = config.listener.listen.ip();
    let host = if ip.is_unspecified() {
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
            })
            .unwrap_or_else(|| "127.0.0.1".to_owned())
    } else {
        ip.to_string()
    };
    format!("{host}:{port}")
}

impl Worker {
    /// Does everything but serving HTTP; the listener is bound so the worker id is known.
    pub async fn start(
        config: ValidatedConnect,
        clients: KafkaClients,
        plugins: PluginRegistry,
        registry: &MetricsRegistry,
        shutdown: Shutdown,
    ) -> Result<Self, WorkerError> {
        ensure_internal_topics(&config, &clients).await?;
        let tcp = edge::bind("connect", &config.listener).await?;
        let worker_id = worker_id(&config, &tcp);
        let cluster_id = ClusterInspector::new(&clients, Duration::from_secs(10))?
            .cluster_id()
            .await?;
        let background = BackgroundStop(Shutdown::new());
        let (configs, offsets, statuses) = tokio::try_join!(
            ConfigStore::start(&clients, &config.config_storage_topic, background.0.clone()),
            OffsetStore::start(&clients, &config.offset_storage_topic, background.0.clone()),
            StatusStore::start(&clients, &config.status_storage_topic, background.0.clone()),
        )?;
        // Once per registry: a worker restarted in the same process counts on.
        let metrics = registry.register_once("kafka_gateway_connect", |r| {
            let metrics = Metrics::default();
            let r = r.sub_registry_with_prefix("kafka_gateway_connect");
            r.register(
                "source_records",
                "Records produced by source tasks",
                metrics.source_records.clone(),
            );
            r.register(
                "sink_records",
                "Records delivered by sink tasks",
                metrics.sink_records.clone(),
            );
            r.register(
                "failed_records",
                "Records that failed conversion, an SMT or delivery",
                metrics.failed_records.clone(),
            );
            r.register(
                "auto_restarts",
                "Restarts of FAILED connectors (task=\"\") and tasks made by auto-restart",
                metrics.auto_restarts.clone(),
            );
            r.register(
                "auto_restart_next_attempt_timestamp_seconds",
                "When the next auto-restart of a FAILED connector (task=\"\") or task is due, in Unix seconds",
                metrics.auto_restart_next_attempt.clone(),
            );
            metrics
        });
        let runtime = Arc::new(Runtime::new(
            worker_id.clone(),
            cluster_id,
            config.group_id.clone(),
            plugins,
            clients.clone(),
            (configs, offsets, statuses),
            clients.producer()?,
            metrics,
            WorkerPolicies {
                topic_creation_enable: config.topic_creation_enable,
                override_policy: config.override_policy,
                exactly_once_source: config.exactly_once_source,
                converter_defaults: Arc::new(config.converter_defaults.clone()),
                auto_restart: config.auto_restart,
            },
            config.offset_flush_interval,
            OffsetsTopicLayout {
                partitions: config.offset_storage_partitions,
                replication_factor: config.replication_factor,
            },
        ));
        let members = membership::start(
            &clients,
            &config.group_id,
            &worker_id,
            config.session_timeout,
            &config.config_storage_topic,
            background.0.clone(),
        )?;
        let span = tracing::info_span!("connect-supervisor", worker = worker_id);
        let supervisor = broker_core::task::spawn(
            "connect-supervisor",
            supervisor::run(Arc::clone(&runtime), members, shutdown.clone()).instrument(span),
        );
        broker_core::produce::register_metrics(registry);
        registry.with_registry(|r| {
            r.register_collector(Box::new(StatusCollector {
                runtime: Arc::clone(&runtime),
            }));
            r.register_collector(Box::new(TaskMetricsCollector {
                registry: runtime.task_metrics.clone(),
            }));
        });
        config
            .listener
            .security
            .register_metrics(registry, "connect");
        runtime.mark_started();
        tracing::info!(
            worker = worker_id,
            group = config.group_id,
            "connect worker started"
        );
        Ok(Self {
            runtime,
            tcp,
            config,
            supervisor,
            shutdown,
            background,
            http_metrics: HttpMetricsLayer::new(registry, "connect"),
        })
    }

    pub fn router(&self) -> Router {
        crate::rest::router(Arc::clone(&self.runtime), &self.config.listener)
    }

    /// Serves until shutdown, then waits for the tasks to drain.
    pub async fn serve(self) -> Result<(), WorkerError> {
        let router = self.router().layer(self.http_metrics.clone());
        let served = edge::serve(
            "connect",
            self.tcp,
            router,
            &self.config.listener,
            self.shutdown.clone(),
        )
        .await;
        self.shutdown.trigger();
        if let Err(error) = self.supervisor.await {
            tracing::warn!(%error, "connect supervisor ended abnormally");
        }
        drop(self.background);
        served.map_err(WorkerError::from)
    }
}
