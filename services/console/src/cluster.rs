//! `/api/overview` and `/api/topics…`: the cluster read through broker-core (metadata,
//! cluster id, watermarks) and this process's readiness report.

use axum::Json;
use axum::extract::{Extension, Path, State};
use broker_core::metadata::{TopicInfo, Watermarks};
use edge::{Principal, Role};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::ConsoleState;

/// Watermark requests in flight at once when a page lists many partitions.
const WATERMARK_CONCURRENCY: usize = 16;

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

pub(crate) async fn topics(State(state): State<ConsoleState>) -> Result<Json<Vec<TopicRow>>, ApiError> {
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
    let requests: Vec<(usize, String, i32)> = topics
        .iter()
        .enumerate()
        .flat_map(|(index, topic)| {
            topic
                .partitions
                .iter()
                .map(move |p| (index, topic.name.clone(), p.id))
        })
        .collect();
    let answers: Vec<(usize, Option<Watermarks>)> = stream::iter(requests)
        .map(|(index, topic, partition)| async move {
            (
                index,
                state
                    .inner
                    .inspector
                    .watermarks(&topic, partition)
                    .await
                    .ok(),
            )
        })
        .buffered(WATERMARK_CONCURRENCY)
        .collect()
        .await;
    let mut grouped: Vec<Vec<Option<Watermarks>>> = vec![Vec::new(); topics.len()];
    for (index, marks) in answers {
        grouped[index].push(marks);
    }
    grouped
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
