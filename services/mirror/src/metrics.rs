//! Prometheus metrics of the mirror, registered once in the process registry.
//!
//! Per flow and partition: records and bytes copied (rates come from `rate()`), replication
//! latency (now − source record timestamp at target acknowledgement, as MM2's
//! `replication-latency-ms`), record lag (source high watermark − next record to copy) and
//! the recovery point objective: records and seconds that a failover right now would lose.
//! Per flow and offset pass: its duration and the groups it covered; per group, the age of
//! its checkpoints on the target (how stale a failover's starting positions would be) and
//! its translation lag (records its source commits are ahead of its checkpoints).
//!
//! The lag series (records, seconds, offset-sync age) are measured by [`crate::lag`] for
//! every partition of the flow's topic plan, whether or not this process copies it, and
//! are removed when the partition leaves the plan.

use broker_core::telemetry::MetricsRegistry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

/// `flow`, `topic` (source name), `partition`.
pub(crate) type PartitionLabels = Vec<(&'static str, String)>;

#[derive(Clone)]
pub struct MirrorMetrics {
    pub(crate) records: Family<PartitionLabels, Counter>,
    pub(crate) bytes: Family<PartitionLabels, Counter>,
    pub(crate) latency: Family<Vec<(&'static str, String)>, Histogram>,
    pub(crate) record_lag: Family<PartitionLabels, Gauge>,
    pub(crate) rpo_seconds: Family<PartitionLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Age of the oldest source record not yet copied (see [`crate::lag`]).
    pub(crate) record_lag_seconds:
        Family<PartitionLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Time since the last acknowledged MM2 offset sync of the partition.
    pub(crate) offset_sync_age_seconds:
        Family<PartitionLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    pub(crate) restarts: Family<Vec<(&'static str, String)>, Counter>,
    pub(crate) checkpoints: Family<Vec<(&'static str, String)>, Counter>,
    pub(crate) acls_created: Family<Vec<(&'static str, String)>, Counter>,
    /// `flow`, `pass` (`checkpoint` or `sync`).
    pub(crate) offset_pass_seconds: Family<Vec<(&'static str, String)>, Histogram>,
    pub(crate) offset_pass_groups: Family<Vec<(&'static str, String)>, Gauge>,
    /// `flow`, `group`.
    pub(crate) checkpoint_age_seconds:
        Family<Vec<(&'static str, String)>, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// `flow`, `task`: 1 while this process runs the exactly-once task.
    pub(crate) tasks_owned: Family<Vec<(&'static str, String)>, Gauge>,
    /// `flow`, `group`: records the group's source commits are ahead of its checkpoints.
    pub(crate) group_translation_lag: Family<Vec<(&'static str, String)>, Gauge>,
}

impl std::fmt::Debug for MirrorMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirrorMetrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ])
}

fn pass_histogram() -> Histogram {
    Histogram::new([
        0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    ])
}

impl MirrorMetrics {
    /// The mirror's families in `registry`, registered on the first call only (a mirror
    /// restarted in the same process counts on).
    pub fn new(registry: &MetricsRegistry) -> Self {
        broker_core::produce::register_metrics(registry);
        registry.register_once("kafka_gateway_mirror", Self::register)
    }

    fn register(r: &mut prometheus_client::registry::Registry) -> Self {
        let metrics = Self {
            records: Family::default(),
            bytes: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            record_lag: Family::default(),
            rpo_seconds: Family::default(),
            record_lag_seconds: Family::default(),
            offset_sync_age_seconds: Family::default(),
            restarts: Family::default(),
            checkpoints: Family::default(),
            acls_created: Family::default(),
            offset_pass_seconds: Family::new_with_constructor(pass_histogram),
            offset_pass_groups: Family::default(),
            checkpoint_age_seconds: Family::default(),
            tasks_owned: Family::default(),
            group_translation_lag: Family::default(),
        };
        let r = r.sub_registry_with_prefix("kafka_gateway_mirror");
        r.register(
            "records",
            "Records copied to the target and acknowledged",
            metrics.records.clone(),
        );
        r.register(
            "bytes",
            "Key and value bytes copied to the target and acknowledged",
            metrics.bytes.clone(),
        );
        r.register(
            "replication_latency_seconds",
            "Time from the source record timestamp to the target acknowledgement",
            metrics.latency.clone(),
        );
        r.register(
            "record_lag",
            "Records on the source not yet acknowledged by the target",
            metrics.record_lag.clone(),
        );
        r.register(
            "rpo_seconds",
            "Age of the oldest source record not yet on the target (0 when caught up); same value as record_lag_seconds",
            metrics.rpo_seconds.clone(),
        );
        r.register(
            "record_lag_seconds",
            "Age of the oldest source record not yet on the target (0 when caught up)",
            metrics.record_lag_seconds.clone(),
        );
        r.register(
            "offset_sync_age_seconds",
            "Time since the last offset sync of the partition was acknowledged",
            metrics.offset_sync_age_seconds.clone(),
        );
        r.register(
            "restarts",
            "Flow restarts after a retriable error",
            metrics.restarts.clone(),
        );
        r.register(
            "checkpoints",
            "MM2-format checkpoints written to the target",
            metrics.checkpoints.clone(),
        );
        r.register(
            "acls_created",
            "Topic ACL bindings created on the target by ACL sync",
            metrics.acls_created.clone(),
        );
        r.register(
            "offset_pass_duration_seconds",
            "Duration of a checkpoint or group-sync pass over the flow's consumer groups",
            metrics.offset_pass_seconds.clone(),
        );
        r.register(
            "offset_pass_groups",
            "Consumer groups the flow's group filter selected in the last pass",
            metrics.offset_pass_groups.clone(),
        );
        r.register(
            "checkpoint_age_seconds",
            "Time since the group's checkpoints on the target last matched its source commits, at the last pass",
            metrics.checkpoint_age_seconds.clone(),
        );
        r.register(
            "task_owned",
            "1 while this process runs the flow's exactly-once task (the task group assigned it here), 0 once it left",
            metrics.tasks_owned.clone(),
        );
        r.register(
            "group_translation_lag",
            "Records the group committed on the source beyond what its checkpoints on the target stand for, summed over its partitions",
            metrics.group_translation_lag.clone(),
        );
        metrics
    }

    /// Every per-partition series of a partition that left the flow.
    pub(crate) fn remove_partition(&self, labels: &PartitionLabels) {
        self.records.remove(labels);
        self.bytes.remove(labels);
        self.record_lag.remove(labels);
        self.rpo_seconds.remove(labels);
        self.record_lag_seconds.remove(labels);
        self.offset_sync_age_seconds.remove(labels);
    }

    pub(crate) fn labels(flow: &str, topic: &str, partition: i32) -> PartitionLabels {
        vec![
            ("flow", flow.to_owned()),
            ("topic", topic.to_owned()),
            ("partition", partition.to_string()),
        ]
    }
}
