//! The per-task metrics of [`crate::worker::task_metrics`] as Prometheus series, named as
//! the common JMX-exporter rules (Strimzi's `kafka-connect-metrics.yaml`, after the
//! jmx_exporter `kafka-connect.yml` example) name Kafka Connect's MBeans
//! `kafka.connect:type=<group>-metrics,connector=…,task=…`: `kafka_connect_<group>_<attribute>`
//! with `-` → `_`, labels `connector` and `task`; `*-total` attributes are counters, the
//! others gauges, as in those rules. Then every plugin metric, with the same two labels.
//!
//! Series exist only while the task is registered, so a stopped or deleted task leaves no
//! stale series behind.

use std::collections::BTreeMap;

use connect_api::metrics::{MetricKind, MetricSample};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::worker::task_metrics::{TaskKind, TaskMetricGroups, TaskMetricsRegistry};

#[derive(Debug)]
pub(crate) struct TaskMetricsCollector {
    pub(crate) registry: TaskMetricsRegistry,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Reading {
    Count(u64),
    Int(i64),
    Float(f64),
}

/// One MBean attribute of a task metric group.
struct Attribute {
    /// The MBean `type`, e.g. `source-task-metrics`.
    group: &'static str,
    /// The attribute, e.g. `source-record-poll-total`.
    name: &'static str,
    help: &'static str,
    /// `None`: every task; else only tasks of that kind.
    kind: Option<TaskKind>,
    read: fn(&TaskMetricGroups) -> Reading,
}

/// `kafka.connect:type=source-task-metrics` + `source-record-poll-total` →
/// `kafka_connect_source_task_source_record_poll_total`.
pub(crate) fn prometheus_name(group: &str, attribute: &str) -> String {
    let group = group.strip_suffix("-metrics").unwrap_or(group);
    format!("kafka_connect_{group}_{attribute}")
        .replace('-', "_")
        .to_ascii_lowercase()
}

const SOURCE: Option<TaskKind> = Some(TaskKind::Source);
const SINK: Option<TaskKind> = Some(TaskKind::Sink);

static ATTRIBUTES: &[Attribute] = &[
    Attribute {
        group: "source-task-metrics",
        name: "source-record-poll-total",
        help: "Records produced or polled by the task, before transformations",
        kind: SOURCE,
        read: |g| Reading::Count(g.source.record_poll.get()),
    },
    Attribute {
        group: "source-task-metrics",
        name: "source-record-write-total",
        help: "Records output from the transformations and acknowledged by Kafka",
        kind: SOURCE,
        read: |g| Reading::Count(g.source.record_write.get()),
    },
    Attribute {
        group: "source-task-metrics",
        name: "source-record-active-count",
        help: "Records polled but not yet acknowledged by Kafka",
        kind: SOURCE,
        read: |g| Reading::Int(g.source.record_active.get()),
    },
    Attribute {
        group: "source-task-metrics",
        name: "poll-batch-avg-time-ms",
        help: "Average time to poll a non-empty batch (last 30-60 s)",
        kind: SOURCE,
        read: |g| Reading::Float(g.source.poll_batch_time_ms.read().0),
    },
    Attribute {
        group: "source-task-metrics",
        name: "poll-batch-max-time-ms",
        help: "Longest time to poll a non-empty batch (last 30-60 s)",
        kind: SOURCE,
        read: |g| Reading::Float(g.source.poll_batch_time_ms.read().1),
    },
    Attribute {
        group: "sink-task-metrics",
        name: "sink-record-read-total",
        help: "Records read from Kafka, before converters and transformations",
        kind: SINK,
        read: |g| Reading::Count(g.sink.record_read.get()),
    },
    Attribute {
        group: "sink-task-metrics",
        name: "sink-record-send-total",
        help: "Records output from the transformations and put to the task",
        kind: SINK,
        read: |g| Reading::Count(g.sink.record_send.get()),
    },
    Attribute {
        group: "sink-task-metrics",
        name: "sink-record-active-count",
        help: "Records read from Kafka whose offsets are not committed yet",
        kind: SINK,
        read: |g| Reading::Int(g.sink.record_active.get()),
    },
    Attribute {
        group: "sink-task-metrics",
        name: "offset-commit-completion-total",
        help: "Offset commits that completed",
        kind: SINK,
        read: |g| Reading::Count(g.sink.offset_commit_completion.get()),
    },
    Attribute {
        group: "sink-task-metrics",
        name: "offset-commit-skip-total",
        help: "Offset commits that failed after a rebalance and were skipped",
        kind: SINK,
        read: |g| Reading::Count(g.sink.offset_commit_skip.get()),
    },
    Attribute {
        group: "sink-task-metrics",
        name: "partition-count",
        help: "Topic partitions assigned to the task",
        kind: SINK,
        read: |g| Reading::Int(g.sink.partition_count.get()),
    },
    Attribute {
        group: "sink-task-metrics",
        name: "put-batch-avg-time-ms",
        help: "Average time of a successful put (last 30-60 s)",
        kind: SINK,
        read: |g| Reading::Float(g.sink.put_batch_time_ms.read().0),
    },
    Attribute {
        group: "sink-task-metrics",
        name: "put-batch-max-time-ms",
        help: "Longest time of a successful put (last 30-60 s)",
        kind: SINK,
        read: |g| Reading::Float(g.sink.put_batch_time_ms.read().1),
    },
    Attribute {
        group: "task-error-metrics",
        name: "total-record-failures",
        help: "Failed attempts (records and retriable operations)",
        kind: None,
        read: |g| Reading::Int(count(g.errors.record_failures.get())),
    },
    Attribute {
        group: "task-error-metrics",
        name: "total-record-errors",
        help: "Records that failed for good",
        kind: None,
        read: |g| Reading::Int(count(g.errors.record_errors.get())),
    },
    Attribute {
        group: "task-error-metrics",
        name: "total-records-skipped",
        help: "Records skipped under errors.tolerance=all",
        kind: None,
        read: |g| Reading::Int(count(g.errors.records_skipped.get())),
    },
    Attribute {
        group: "task-error-metrics",
        name: "total-retries",
        help: "Operations retried",
        kind: None,
        read: |g| Reading::Int(count(g.errors.retries.get())),
    },
    Attribute {
        group: "task-error-metrics",
        name: "total-errors-logged",
        help: "Errors logged (errors.log.enable=true)",
        kind: None,
        read: |g| Reading::Int(count(g.errors.errors_logged.get())),
    },
    Attribute {
        group: "task-error-metrics",
        name: "deadletterqueue-produce-requests",
        help: "Records written to the dead letter queue",
        kind: None,
        read: |g| Reading::Int(count(g.errors.dead_letter_queue_requests.get())),
    },
    Attribute {
        group: "task-error-metrics",
        name: "deadletterqueue-produce-failures",
        help: "Failed writes to the dead letter queue",
        kind: None,
        read: |g| Reading::Int(count(g.errors.dead_letter_queue_failures.get())),
    },
    Attribute {
        group: "task-error-metrics",
        name: "last-error-timestamp",
        help: "Epoch milliseconds of the last error, 0 before the first",
        kind: None,
        read: |g| Reading::Int(g.errors.last_error_timestamp.get()),
    },
    Attribute {
        group: "connector-task-metrics",
        name: "offset-commit-success-percentage",
        help: "Fraction of offset commits that succeeded (last 30-60 s)",
        kind: None,
        read: |g| Reading::Float(g.common.offset_commit_outcome.read().0),
    },
    Attribute {
        group: "connector-task-metrics",
        name: "offset-commit-failure-percentage",
        help: "Fraction of offset commits that failed (last 30-60 s)",
        kind: None,
        read: |g| Reading::Float(1.0 - g.common.offset_commit_outcome.read().0),
    },
    Attribute {
        group: "connector-task-metrics",
        name: "offset-commit-avg-time-ms",
        help: "Average time of a successful offset commit (last 30-60 s)",
        kind: None,
        read: |g| Reading::Float(g.common.offset_commit_time_ms.read().0),
    },
    Attribute {
        group: "connector-task-metrics",
        name: "offset-commit-max-time-ms",
        help: "Longest time of a successful offset commit (last 30-60 s)",
        kind: None,
        read: |g| Reading::Float(g.common.offset_commit_time_ms.read().1),
    },
    Attribute {
        group: "connector-task-metrics",
        name: "batch-size-avg",
        help: "Average records per polled or put batch (last 30-60 s)",
        kind: None,
        read: |g| Reading::Float(g.common.batch_size.read().0),
    },
    Attribute {
        group: "connector-task-metrics",
        name: "batch-size-max",
        help: "Largest polled or put batch (last 30-60 s)",
        kind: None,
        read: |g| Reading::Float(g.common.batch_size.read().1),
    },
];

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

type Labels = Vec<(String, String)>;
/// A plugin metric family: help, kind and one reading per label set.
type Family = (String, MetricKind, Vec<(Labels, Reading)>);

fn task_labels(groups: &TaskMetricGroups) -> Labels {
    vec![
        ("connector".to_owned(), groups.connector.clone()),
        ("task".to_owned(), groups.task.to_string()),
    ]
}

fn encode_series(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    counter: bool,
    series: &[(Labels, Reading)],
) -> Result<(), std::fmt::Error> {
    // A counter family's name has no `_total`: the encoder appends it to the samples.
    let (family, metric_type) = if counter {
        (
            name.strip_suffix("_total").unwrap_or(name),
            MetricType::Counter,
        )
    } else {
        (name, MetricType::Gauge)
    };
    let mut metric = encoder.encode_descriptor(family, help, None, metric_type)?;
    for (labels, reading) in series {
        let encoder = metric.encode_family(labels)?;
        match *reading {
            Reading::Count(value) => ConstCounter::new(value).encode(encoder)?,
            Reading::Int(value) => ConstGauge::new(value).encode(encoder)?,
            Reading::Float(value) => ConstGauge::new(value).encode(encoder)?,
        }
    }
    Ok(())
}

/// Plugin samples of every task, grouped into families by name.
fn plugin_families(tasks: &[std::sync::Arc<TaskMetricGroups>]) -> BTreeMap<String, Family> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for groups in tasks {
        for MetricSample {
            name,
            help,
            kind,
            labels,
            value,
        } in groups.plugin.samples()
        {
            let family = families
                .entry(name)
                .or_insert_with(|| (help, kind, Vec::new()));
            if family.1 != kind {
                continue;
            }
            let mut all = task_labels(groups);
            all.extend(labels);
            let reading = match kind {
                MetricKind::Counter => Reading::Count(value.unsigned_abs()),
                MetricKind::Gauge => Reading::Int(value),
            };
            family.2.push((all, reading));
        }
    }
    families
}

impl Collector for TaskMetricsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let tasks = self.registry.tasks();
        for attribute in ATTRIBUTES {
            let series: Vec<(Labels, Reading)> = tasks
                .iter()
                .filter(|g| attribute.kind.is_none_or(|kind| kind == g.kind))
                .map(|g| (task_labels(g), (attribute.read)(g)))
                .collect();
            if series.is_empty() {
                continue;
            }
            let name = prometheus_name(attribute.group, attribute.name);
            let counter = attribute.name.ends_with("-total");
            encode_series(&mut encoder, &name, attribute.help, counter, &series)?;
        }
        for (name, (help, kind, series)) in plugin_families(&tasks) {
            let counter = kind == MetricKind::Counter;
            encode_series(&mut encoder, &name, &help, counter, &series)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_list_every_task_series() {
        let docs = include_str!("../../../docs/metrics.md");
        for attribute in ATTRIBUTES {
            let name = prometheus_name(attribute.group, attribute.name);
            assert!(
                docs.contains(&format!("`{name}`")),
                "docs/metrics.md lacks {name}"
            );
            assert!(
                docs.contains(attribute.name),
                "docs/metrics.md lacks the JMX attribute {}",
                attribute.name
            );
        }
    }

    #[test]
    fn names_follow_the_jmx_exporter_rules() {
        assert_eq!(
            prometheus_name("source-task-metrics", "source-record-poll-total"),
            "kafka_connect_source_task_source_record_poll_total"
        );
        assert_eq!(
            prometheus_name("task-error-metrics", "deadletterqueue-produce-requests"),
            "kafka_connect_task_error_deadletterqueue_produce_requests"
        );
        assert_eq!(
            prometheus_name("connector-task-metrics", "offset-commit-success-percentage"),
            "kafka_connect_connector_task_offset_commit_success_percentage"
        );
    }

    #[test]
    fn a_task_renders_its_groups_and_plugin_metrics_and_vanishes_when_dropped() {
        let registry = TaskMetricsRegistry::default();
        let registration = registry.register("files", 3, TaskKind::Source);
        let groups = registration.groups();
        groups.source.record_poll.add(50);
        groups.errors.dead_letter_queue_requests.add(2);
        groups
            .plugin
            .counter_with_labels("elasticsearch_sink_documents", "docs", &[("index", "i")])
            .add(7);
        let mut prometheus = prometheus_client::registry::Registry::default();
        prometheus.register_collector(Box::new(TaskMetricsCollector {
            registry: registry.clone(),
        }));
        let render = |prometheus: &prometheus_client::registry::Registry| {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, prometheus).unwrap();
            text
        };
        let text = render(&prometheus);
        for line in [
            "# TYPE kafka_connect_source_task_source_record_poll counter",
            r#"kafka_connect_source_task_source_record_poll_total{connector="files",task="3"} 50"#,
            r#"kafka_connect_task_error_deadletterqueue_produce_requests{connector="files",task="3"} 2"#,
            r#"elasticsearch_sink_documents_total{connector="files",task="3",index="i"} 7"#,
            r#"kafka_connect_source_task_poll_batch_avg_time_ms{connector="files",task="3"} NaN"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(
            !text.contains("sink_task"),
            "a source task has no sink group:\n{text}"
        );
        drop(registration);
        let text = render(&prometheus);
        assert!(!text.contains("files"), "no stale series:\n{text}");
    }
}
