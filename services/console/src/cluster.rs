//! `/api/overview` and `/api/topics…`: the cluster read through broker-core (metadata,
//! cluster id, watermarks) and this process's readiness report.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use broker_core::metadata::{TopicInfo, Watermarks};
use broker_core::{BrokerError, task};
use edge::{Principal, Role};
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::ConsoleState;

#[derive(Debug, Serialize)]
pub(crate) struct Overview {
    cluster_id: Option<String>,
    cluster_id_error: Option<String>,
    bootstrap_servers: String,
    /// Brokers with the address each advertises (what clients connect to after bootstrap).
    brokers: Vec<BrokerRow>,
    topics: usize,
    readiness: edge::health::ReadinessReport,
    /// Which of this gateway's services the console can reach.
    services: ServicesReachable,
    /// The caller, when the listener authenticates.
    principal: Option<String>,
    /// `admin` or `read_only`: what the pages offer.
    role: &'static str,
}

#[derive(Debug, Serialize)]
struct BrokerRow {
    id: i32,
    advertised: String,
}

#[derive(Debug, Serialize)]
struct ServicesReachable {
    connect: bool,
    schema_registry: bool,
    metrics: bool,
}

/// The caller's role: everything without authentication, else the ACL's role.
pub(crate) fn role_of(principal: Option<&Principal>) -> Option<Role> {
    match principal {
        None => Some(Role::Admin),
        Some(principal) => principal.grants.role(),
    }
}

pub(crate) async fn overview(
    State(state): State<ConsoleState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<Overview>, ApiError> {
    let inner = &state.inner;
    let metadata = inner.inspector.metadata(None).await?;
    let (cluster_id, cluster_id_error) = match inner.inspector.cluster_id().await {
        Ok(id) => (Some(id), None),
        Err(error) => (None, Some(error.to_string())),
    };
    let upstreams = &inner.config.upstreams;
    let principal = principal.map(|Extension(principal)| principal);
    Ok(Json(Overview {
        cluster_id,
        cluster_id_error,
        bootstrap_servers: inner.clients.cluster().bootstrap_servers().to_owned(),
        brokers: metadata
            .brokers
            .iter()
            .map(|broker| BrokerRow {
                id: broker.id,
                advertised: format!("{}:{}", broker.host, broker.port),
            })
            .collect(),
        topics: metadata.topics.iter().filter(|t| !t.is_internal()).count(),
        readiness: inner.health.report().await,
        services: ServicesReachable {
            connect: upstreams.connect.is_some(),
            schema_registry: upstreams.schema_registry.is_some(),
            metrics: upstreams.metrics.is_some(),
        },
        role: match role_of(principal.as_ref()) {
            Some(Role::Admin) => "admin",
            Some(Role::ReadOnly) => "read_only",
            None => "none",
        },
        principal: principal.map(|principal| principal.name),
    }))
}

#[derive(Debug, Serialize)]
pub(crate) struct TopicRow {
    name: String,
    partitions: usize,
    replication_factor: usize,
    /// Records currently stored: the sum of high − low watermarks.
    records: i64,
    /// Records appended per second between the last two samples; `None` until two exist.
    records_per_second: Option<f64>,
    internal: bool,
}

pub(crate) async fn topics(
    State(state): State<ConsoleState>,
) -> Result<Json<Vec<TopicRow>>, ApiError> {
    let metadata = state.inner.inspector.metadata(None).await?;
    let mut topics: Vec<TopicInfo> = metadata.topics;
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let watermarks = topic_watermarks(&state, &topics).await;
    let rows = topics
        .iter()
        .zip(watermarks)
        .map(|(topic, marks)| TopicRow {
            name: topic.name.clone(),
            partitions: topic.partitions.len(),
            replication_factor: topic.partitions.first().map_or(0, |p| p.replicas.len()),
            records: marks.iter().flatten().map(|m| m.high - m.low).sum(),
            records_per_second: state.inner.samples.topic_rate(&topic.name),
            internal: topic.is_internal(),
        })
        .collect();
    Ok(Json(rows))
}

/// Watermarks of every partition of `topics`, in order; a failed partition is `None`.
pub(crate) async fn topic_watermarks(
    state: &ConsoleState,
    topics: &[TopicInfo],
) -> Vec<Vec<Option<Watermarks>>> {
    let partitions: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|topic| {
            topic
                .partitions
                .iter()
                .filter(|p| p.leader >= 0)
                .map(move |p| (topic.name.clone(), p.id))
        })
        .collect();
    let found = watermarks(state, partitions).await;
    topics
        .iter()
        .map(|topic| {
            topic
                .partitions
                .iter()
                .map(|p| found.get(&(topic.name.clone(), p.id)).copied())
                .collect()
        })
        .collect()
}

/// Low and high watermarks of `partitions` in two batched ListOffsets rounds (earliest and
/// latest: librdkafka's `offsets_for_times` with the special timestamps -2 and -1 sends one
/// request per leader carrying all its partitions, where `fetch_watermarks` sends one per
/// partition: seconds instead of minutes on a cluster with thousands of partitions). A
/// partition whose leader failed is left out.
pub(crate) async fn watermarks(
    state: &ConsoleState,
    partitions: Vec<(String, i32)>,
) -> HashMap<(String, i32), Watermarks> {
    if partitions.is_empty() {
        return HashMap::new();
    }
    let client = Arc::clone(&state.inner.groups_client);
    let timeout = state.inner.config.kafka_timeout;
    let read = task::spawn_blocking("console-list-offsets", move || {
        let list = |which: Offset| -> Result<HashMap<(String, i32), i64>, BrokerError> {
            let mut request = TopicPartitionList::new();
            for (topic, partition) in &partitions {
                request
                    .add_partition_offset(topic, *partition, which)
                    .map_err(|e| BrokerError::kafka("list offsets", e))?;
            }
            let answer = client
                .offsets_for_times(request, timeout)
                .map_err(|e| BrokerError::kafka("list offsets", e))?;
            Ok(answer
                .elements()
                .iter()
                .filter(|e| e.error().is_ok())
                .filter_map(|e| match e.offset() {
                    Offset::Offset(offset) => Some(((e.topic().to_owned(), e.partition()), offset)),
                    _ => None,
                })
                .collect())
        };
        let lows = list(Offset::Beginning)?;
        let highs = list(Offset::End)?;
        Ok::<_, BrokerError>(
            highs
                .into_iter()
                .filter_map(|(key, high)| {
                    let low = *lows.get(&key)?;
                    Some((key, Watermarks { low, high }))
                })
                .collect(),
        )
    })
    .await;
    match read {
        Ok(Ok(found)) => found,
        Ok(Err(error)) => {
            tracing::debug!(%error, "console watermark read failed");
            HashMap::new()
        }
        Err(error) => {
            tracing::debug!(%error, "console watermark task failed");
            HashMap::new()
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct TopicDetail {
    name: String,
    partitions: Vec<PartitionRow>,
}

#[derive(Debug, Serialize)]
struct PartitionRow {
    partition: i32,
    leader: i32,
    replicas: Vec<i32>,
    in_sync_replicas: Vec<i32>,
    low: Option<i64>,
    high: Option<i64>,
}

pub(crate) async fn topic(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
) -> Result<Json<TopicDetail>, ApiError> {
    let mut topic = state.inner.inspector.topic(&name).await?;
    topic.partitions.sort_by_key(|p| p.id);
    let watermarks = topic_watermarks(&state, std::slice::from_ref(&topic)).await;
    let marks = watermarks.into_iter().next().unwrap_or_default();
    Ok(Json(TopicDetail {
        name: topic.name.clone(),
        partitions: topic
            .partitions
            .iter()
            .zip(marks)
            .map(|(p, m)| PartitionRow {
                partition: p.id,
                leader: p.leader,
                replicas: p.replicas.clone(),
                in_sync_replicas: p.in_sync_replicas.clone(),
                low: m.map(|m| m.low),
                high: m.map(|m| m.high),
            })
            .collect(),
    }))
}
