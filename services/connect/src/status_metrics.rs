//! Connector and task states as Prometheus gauges, read from the status topic at scrape
//! time. Named as the usual JMX-exporter rules name Kafka Connect's `status` attributes
//! (`connector-metrics` / `connector-task-metrics`) and the `connect-worker-metrics`
//! counts, so that existing dashboards and alerts keep working: one series per connector
//! or task this worker runs, value 1, the lower-case state in `status`.
//!
//! Like JMX, each worker reports only what it runs (`worker_id` in the status record), so
//! summing over workers counts every connector once.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::runtime::Runtime;
use crate::storage::status_store::{State, Status};

#[derive(Debug)]
pub(crate) struct StatusCollector {
    pub(crate) runtime: Arc<Runtime>,
}

type Labels = Vec<(&'static str, String)>;

fn state_label(state: State) -> String {
    format!("{state:?}").to_ascii_lowercase()
}

impl StatusCollector {
    /// (connector series, task series) of the connectors that exist and run here.
    fn series(&self) -> (Vec<Labels>, Vec<Labels>) {
        let runtime = &self.runtime;
        let existing = runtime
            .configs
            .log
            .read(|s| s.connectors.keys().cloned().collect::<Vec<_>>());
        let mine = |status: &Status| {
            status.worker_id == runtime.worker_id && status.state != State::Destroyed
        };
        runtime.statuses.log.read(|s| {
            let connectors = s
                .connectors
                .iter()
                .filter(|(name, status)| existing.contains(name) && mine(status))
                .map(|(name, status)| {
                    vec![
                        ("connector", name.clone()),
                        ("status", state_label(status.state)),
                    ]
                })
                .collect();
            let tasks = s
                .tasks
                .iter()
                .filter(|((name, _), status)| existing.contains(name) && mine(status))
                .map(|((name, task), status)| {
                    vec![
                        ("connector", name.clone()),
                        ("task", task.to_string()),
                        ("status", state_label(status.state)),
                    ]
                })
                .collect();
            (connectors, tasks)
        })
    }
}

fn encode_ones(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: &[Labels],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for labels in series {
        ConstGauge::new(1_i64).encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

fn encode_count(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    count: usize,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(i64::try_from(count).unwrap_or(i64::MAX)).encode(metric)
}

impl Collector for StatusCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let (connectors, tasks) = self.series();
        encode_ones(
            &mut encoder,
            "kafka_connect_connector_status",
            "State of each connector this worker runs (1 for the state in `status`)",
            &connectors,
        )?;
        encode_ones(
            &mut encoder,
            "kafka_connect_connector_task_status",
            "State of each task this worker runs (1 for the state in `status`)",
            &tasks,
        )?;
        encode_count(
            &mut encoder,
            "kafka_connect_worker_connector_count",
            "Connectors this worker runs",
            connectors.len(),
        )?;
        encode_count(
            &mut encoder,
            "kafka_connect_worker_task_count",
            "Tasks this worker runs",
            tasks.len(),
        )
    }
}
