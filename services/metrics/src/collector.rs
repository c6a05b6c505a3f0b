//! The kafka_exporter-compatible collector: reads the cluster when `/metrics` is scraped and
//! renders the result with kafka_exporter's metric names and labels.
//!
//! prometheus-client asks a [`Collector`] for its series synchronously, with the registry
//! locked, so the cluster is read first ([`ClusterExporter::refresh`], async, bounded by the
//! scrape timeout) and the collector then encodes that snapshot. Scrapes that arrive while a
//! read is running wait for it and share its result (kafka_exporter's default
//! `--concurrent.enable=false`), so a burst of scrapers costs one read. A failed or timed
//! out read leaves no `kafka_*` series at all rather than stale ones;
//! `kafka_gateway_cluster_scrape_success` says which happened.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use broker_core::telemetry::MetricsRegistry;
use broker_core::{BrokerError, KafkaClients};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue};
use prometheus_client::metrics::MetricType;

use crate::burrow::{GroupObservation, GroupStatus, StatusTracker};
use crate::cluster::{ClusterRead, ClusterReader, PartitionRead};
use crate::config::ValidatedClusterMetrics;
use crate::lag::{GroupLag, group_lag};
use crate::lag_seconds::{GroupLagSeconds, LagSecondsReader, PeekBudget};

/// What the last cluster read produced.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) read: ClusterRead,
    pub(crate) lags: Vec<(String, GroupLag)>,
    pub(crate) lag_seconds: Vec<GroupLagSeconds>,
    pub(crate) statuses: Vec<(String, GroupStatus)>,
}

#[derive(Debug, Default)]
struct Latest {
    finished_at: Option<Instant>,
    duration: Duration,
    snapshot: Option<Arc<Snapshot>>,
}

/// Reads the cluster on demand and publishes the result to the registry.
#[derive(Debug)]
pub struct ClusterExporter {
    reader: ClusterReader,
    lag_seconds: LagSecondsReader,
    settings: ValidatedClusterMetrics,
    latest: Arc<Mutex<Latest>>,
    statuses: Mutex<StatusTracker>,
    /// Held while a read runs; later scrapes queue here and reuse the read.
    reading: tokio::sync::Mutex<()>,
}

impl ClusterExporter {
    /// Creates the exporter and registers its collector in `registry`. No connection is
    /// made until the first scrape.
    pub fn register(
        clients: KafkaClients,
        settings: ValidatedClusterMetrics,
        registry: &MetricsRegistry,
    ) -> Result<Self, BrokerError> {
        let lag_seconds = LagSecondsReader::new(
            &clients,
            PeekBudget {
                max_positions: settings.lag_seconds_max_peeks,
                timeout: settings.lag_seconds_peek_timeout,
            },
        )?;
        let reader = ClusterReader::new(clients, settings.clone())?;
        let latest = Arc::new(Mutex::new(Latest::default()));
        registry.with_registry(|r| {
            r.register_collector(Box::new(SnapshotCollector {
                latest: Arc::clone(&latest),
                labels: settings.labels.clone(),
            }));
        });
        Ok(Self {
            reader,
            lag_seconds,
            statuses: Mutex::new(StatusTracker::new(
                settings.status_window,
                settings.status_allowed_lag,
            )),
            settings,
            latest,
            reading: tokio::sync::Mutex::new(()),
        })
    }

    /// Reads the cluster unless a read that finished after this call began can be reused.
    pub async fn refresh(&self) {
        let asked_at = Instant::now();
        let _reading = self.reading.lock().await;
        if self
            .lock_latest()
            .finished_at
            .is_some_and(|finished| finished >= asked_at)
        {
            return;
        }
        let started = Instant::now();
        let deadline = started + self.settings.scrape_timeout;
        // The blocking calls get the time left as their timeout; this outer bound only
        // covers time spent queueing for the blocking pool.
        let read = tokio::time::timeout(
            self.settings.scrape_timeout + Duration::from_millis(500),
            self.reader.read(deadline),
        )
        .await;
        let snapshot = match read {
            Ok(Ok(read)) => {
                let mut snapshot = self.snapshot(read);
                snapshot.lag_seconds = self.lag_seconds.measure(&snapshot.lags, deadline).await;
                Some(Arc::new(snapshot))
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "reading the cluster for /metrics failed");
                None
            }
            Err(_) => {
                tracing::warn!(timeout = ?self.settings.scrape_timeout, "reading the cluster for /metrics timed out");
                None
            }
        };
        let duration = started.elapsed();
        tracing::debug!(?duration, success = snapshot.is_some(), "cluster read");
        *self.lock_latest() = Latest {
            finished_at: Some(Instant::now()),
            duration,
            snapshot,
        };
    }

    fn snapshot(&self, read: ClusterRead) -> Snapshot {
        let newest: HashMap<(String, i32), i64> = read
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .filter_map(|p| p.newest.map(|high| ((t.name.clone(), p.id), high)))
            })
            .collect();
        let mut lags = Vec::new();
        let mut observations = Vec::new();
        for group in &read.groups {
            let lag = group.committed.as_ref().ok().map(|c| group_lag(c, &newest));
            observations.push(GroupObservation {
                group: group.name.clone(),
                members: group.members,
                partitions: lag.as_ref().map(|lag| {
                    lag.partitions
                        .iter()
                        .filter_map(|p| {
                            p.lag
                                .map(|l| (p.topic.clone(), p.partition, p.committed, l))
                        })
                        .collect()
                }),
            });
            if let Some(lag) = lag {
                lags.push((group.name.clone(), lag));
            }
        }
        let statuses = self
            .statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .observe(&observations);
        Snapshot {
            read,
            lags,
            lag_seconds: Vec::new(),
            statuses,
        }
    }

    fn lock_latest(&self) -> std::sync::MutexGuard<'_, Latest> {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
struct SnapshotCollector {
    latest: Arc<Mutex<Latest>>,
    labels: Vec<(String, String)>,
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let (finished, duration, snapshot) = {
            let latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
            (
                latest.finished_at.is_some(),
                latest.duration,
                latest.snapshot.clone(),
            )
        };
        if !finished {
            return Ok(());
        }
        let constant = |series: Vec<(&'static str, String)>| -> Vec<(String, String)> {
            self.labels
                .iter()
                .cloned()
                .chain(series.into_iter().map(|(k, v)| (k.to_owned(), v)))
                .collect()
        };
        gauge(
            &mut encoder,
            "kafka_gateway_cluster_scrape_success",
            "Whether the last read of the cluster for /metrics succeeded (1) or failed or timed out (0)",
            vec![(constant(vec![]), i64::from(snapshot.is_some()))],
        )?;
        {
            let mut metric = encoder.encode_descriptor(
                "kafka_gateway_cluster_scrape_duration_seconds",
                "Time the last read of the cluster for /metrics took",
                None,
                MetricType::Gauge,
            )?;
            metric
                .encode_family(&constant(vec![]))?
                .encode_gauge(&duration.as_secs_f64())?;
        }
        match snapshot {
            Some(snapshot) => encode_snapshot(&mut encoder, &snapshot, &constant),
            None => Ok(()),
        }
    }
}

type Labels = Vec<(String, String)>;
type PartitionValue<'a> = &'a dyn Fn(&PartitionRead) -> Option<i64>;
/// The exporter's own labels followed by a series' labels.
type ConstantLabels<'a> = &'a dyn Fn(Vec<(&'static str, String)>) -> Labels;

/// Families in kafka_exporter's order: cluster, partitions, group lag, group state.
fn encode_snapshot(
    encoder: &mut DescriptorEncoder<'_>,
    snapshot: &Snapshot,
    constant: ConstantLabels<'_>,
) -> Result<(), std::fmt::Error> {
    encode_cluster(encoder, &snapshot.read, constant)?;
    encode_partitions(encoder, &snapshot.read, constant)?;
    encode_group_lags(encoder, &snapshot.lags, constant)?;
    encode_group_lag_seconds(encoder, &snapshot.lag_seconds, constant)?;
    encode_groups(encoder, snapshot, constant)
}

/// Brokers and topics: `kafka_brokers`, `kafka_broker_info`, `kafka_topic_partitions`.
fn encode_cluster(
    encoder: &mut DescriptorEncoder<'_>,
    read: &ClusterRead,
    constant: ConstantLabels<'_>,
) -> Result<(), std::fmt::Error> {
    gauge(
        encoder,
        "kafka_brokers",
        "Number of brokers in the cluster metadata",
        vec![(constant(vec![]), len(read.brokers.len()))],
    )?;
    gauge(
        encoder,
        "kafka_broker_info",
        "Broker id and the address it advertises, value 1",
        read.brokers
            .iter()
            .map(|b| {
                let labels = constant(vec![
                    ("id", b.id.to_string()),
                    ("address", b.address.clone()),
                ]);
                (labels, 1)
            })
            .collect(),
    )?;
    gauge(
        encoder,
        "kafka_topic_partitions",
        "Number of partitions of the topic",
        read.topics
            .iter()
            .map(|t| {
                (
                    constant(vec![("topic", t.name.clone())]),
                    len(t.partitions.len()),
                )
            })
            .collect(),
    )?;
    Ok(())
}

/// One `kafka_topic_partition_*` family per partition property.
fn encode_partitions(
    encoder: &mut DescriptorEncoder<'_>,
    read: &ClusterRead,
    constant: ConstantLabels<'_>,
) -> Result<(), std::fmt::Error> {
    let per_partition = |value: PartitionValue<'_>| {
        read.topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().filter_map(move |p| {
                    value(p).map(|v| {
                        let labels = constant(vec![
                            ("topic", t.name.clone()),
                            ("partition", p.id.to_string()),
                        ]);
                        (labels, v)
                    })
                })
            })
            .collect::<Vec<_>>()
    };
    let partition_families: [(&str, &str, PartitionValue<'_>); 7] = [
        (
            "kafka_topic_partition_current_offset",
            "High watermark of the partition: the offset the next record will get",
            &|p| p.newest,
        ),
        (
            "kafka_topic_partition_oldest_offset",
            "Oldest offset still stored in the partition",
            &|p| p.oldest,
        ),
        (
            "kafka_topic_partition_in_sync_replica",
            "Number of in-sync replicas of the partition",
            &|p| Some(len(p.in_sync_replicas.len())),
        ),
        (
            "kafka_topic_partition_leader",
            "Broker id of the partition leader (-1 when it has none)",
            &|p| Some(i64::from(p.leader)),
        ),
        (
            "kafka_topic_partition_leader_is_preferred",
            "1 if the partition leader is its preferred (first) replica, else 0",
            &|p| Some(i64::from(p.replicas.first() == Some(&p.leader))),
        ),
        (
            "kafka_topic_partition_replicas",
            "Number of replicas of the partition",
            &|p| Some(len(p.replicas.len())),
        ),
        (
            "kafka_topic_partition_under_replicated_partition",
            "1 if the partition has fewer in-sync replicas than replicas, else 0",
            &|p| Some(i64::from(p.in_sync_replicas.len() < p.replicas.len())),
        ),
    ];
    for (name, help, value) in partition_families {
        gauge(encoder, name, help, per_partition(value))?;
    }
    Ok(())
}

/// Committed offsets and lag per group, per partition and summed per topic.
fn encode_group_lags(
    encoder: &mut DescriptorEncoder<'_>,
    lags: &[(String, GroupLag)],
    constant: ConstantLabels<'_>,
) -> Result<(), std::fmt::Error> {
    let group_partitions = |value: &dyn Fn(&crate::lag::PartitionLag) -> Option<i64>| {
        lags.iter()
            .flat_map(|(group, lag)| {
                lag.partitions.iter().filter_map(move |p| {
                    value(p).map(|v| {
                        let labels = constant(vec![
                            ("consumergroup", group.clone()),
                            ("topic", p.topic.clone()),
                            ("partition", p.partition.to_string()),
                        ]);
                        (labels, v)
                    })
                })
            })
            .collect::<Vec<_>>()
    };
    let group_topics = |value: &dyn Fn(&crate::lag::TopicLag) -> i64| {
        lags.iter()
            .flat_map(|(group, lag)| {
                lag.topics.iter().map(move |t| {
                    let labels = constant(vec![
                        ("consumergroup", group.clone()),
                        ("topic", t.topic.clone()),
                    ]);
                    (labels, value(t))
                })
            })
            .collect::<Vec<_>>()
    };
    gauge(
        encoder,
        "kafka_consumergroup_current_offset",
        "Committed offset of the consumer group on the partition",
        group_partitions(&|p| Some(p.committed)),
    )?;
    gauge(
        encoder,
        "kafka_consumergroup_current_offset_sum",
        "Sum of the consumer group's committed offsets over the topic's partitions",
        group_topics(&|t| t.committed_sum),
    )?;
    gauge(
        encoder,
        "kafka_consumergroup_lag",
        "High watermark minus committed offset of the consumer group on the partition, never negative",
        group_partitions(&|p| p.lag),
    )?;
    gauge(
        encoder,
        "kafka_consumergroup_lag_sum",
        "Sum of the consumer group's lag over the topic's partitions",
        group_topics(&|t| t.lag_sum),
    )?;
    Ok(())
}

/// Group membership and the Burrow-style status.
fn encode_groups(
    encoder: &mut DescriptorEncoder<'_>,
    snapshot: &Snapshot,
    constant: ConstantLabels<'_>,
) -> Result<(), std::fmt::Error> {
    let read = &snapshot.read;
    gauge(
        encoder,
        "kafka_consumergroup_members",
        "Number of members of the consumer group",
        read.groups
            .iter()
            .map(|g| {
                (
                    constant(vec![("consumergroup", g.name.clone())]),
                    len(g.members),
                )
            })
            .collect(),
    )?;
    gauge(
        encoder,
        "kafka_consumergroup_status",
        "Burrow-style status of the consumer group as Burrow's code: OK=1, WARN=2, ERR=3, STOP=4, STALL=5; the status label names it",
        snapshot
            .statuses
            .iter()
            .map(|(group, status)| {
                let labels = constant(vec![
                    ("consumergroup", group.clone()),
                    ("status", status.as_str().to_owned()),
                ]);
                (labels, status.code())
            })
            .collect(),
    )?;
    Ok(())
}

/// `kafka_consumergroup_lag_seconds` per partition and its maximum per group (method and
/// error bounds in `lag_seconds.rs`).
fn encode_group_lag_seconds(
    encoder: &mut DescriptorEncoder<'_>,
    lags: &[GroupLagSeconds],
    constant: ConstantLabels<'_>,
) -> Result<(), std::fmt::Error> {
    gauge(
        encoder,
        "kafka_consumergroup_lag_seconds",
        "Age of the next record the group has not consumed (now minus the timestamp of the \
         record at the committed offset), 0 when caught up",
        lags.iter()
            .flat_map(|group| {
                group.partitions.iter().map(|p| {
                    let labels = constant(vec![
                        ("consumergroup", group.group.clone()),
                        ("topic", p.topic.clone()),
                        ("partition", p.partition.to_string()),
                    ]);
                    (labels, p.seconds)
                })
            })
            .collect(),
    )?;
    gauge(
        encoder,
        "kafka_consumergroup_lag_seconds_max",
        "Largest kafka_consumergroup_lag_seconds of the group's partitions",
        lags.iter()
            .filter_map(|group| {
                group
                    .max()
                    .map(|max| (constant(vec![("consumergroup", group.group.clone())]), max))
            })
            .collect(),
    )
}

/// Encodes one gauge family; a family without series is left out entirely.
fn gauge<V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: Vec<(Labels, V)>,
) -> Result<(), std::fmt::Error> {
    if series.is_empty() {
        return Ok(());
    }
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        metric.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

fn len(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
