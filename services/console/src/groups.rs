//! `/api/groups…`: consumer groups with their members and their lag per partition, in
//! records (high watermark − committed offset, never negative) and in seconds
//! ([`crate::lag_seconds`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, State};
use broker_core::{BrokerError, ErrorKind, task};
use rdkafka::consumer::BaseConsumer;
use serde::Serialize;

use crate::error::ApiError;
use crate::lag_seconds::{Position, read_timestamps};
use crate::samples::LagSample;
use crate::state::ConsoleState;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct GroupSummary {
    pub(crate) group: String,
    state: String,
    protocol_type: String,
    members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize)]
struct Member {
    id: String,
    client_id: String,
    host: String,
    /// Decoded for `consumer` groups; empty otherwise.
    assignment: Vec<AssignedPartition>,
}

#[derive(Debug, Clone, Serialize)]
struct AssignedPartition {
    topic: String,
    partition: i32,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PartitionLag {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) committed: i64,
    pub(crate) high: Option<i64>,
    pub(crate) lag: Option<i64>,
    pub(crate) lag_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct GroupRow {
    #[serde(flatten)]
    summary: GroupSummary,
    lag: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct GroupDetail {
    #[serde(flatten)]
    summary: GroupSummary,
    partitions: Vec<PartitionLag>,
    /// The last hour of samples (or `samples_kept` × `sample_interval`).
    history: Vec<LagSample>,
}

pub(crate) async fn groups(
    State(state): State<ConsoleState>,
) -> Result<Json<Vec<GroupRow>>, ApiError> {
    let summaries = list_groups(&state).await?;
    let names: Vec<String> = summaries.iter().map(|g| g.group.clone()).collect();
    let lags = committed_lag(&state, &names).await?;
    Ok(Json(
        summaries
            .into_iter()
            .map(|summary| {
                let lag = lags
                    .get(&summary.group)
                    .map_or(0, |parts| parts.iter().filter_map(|p| p.lag).sum());
                GroupRow { summary, lag }
            })
            .collect(),
    ))
}

pub(crate) async fn group(
    State(state): State<ConsoleState>,
    Path(group): Path<String>,
) -> Result<Json<GroupDetail>, ApiError> {
    state.inner.samples.watch(&group);
    let summaries = list_groups(&state).await?;
    let summary = summaries
        .into_iter()
        .find(|g| g.group == group)
        .ok_or_else(|| ApiError::NotFound(format!("consumer group {group} does not exist")))?;
    let mut lags = committed_lag(&state, std::slice::from_ref(&group)).await?;
    let mut partitions = lags.remove(&group).unwrap_or_default();
    fill_lag_seconds(&state, &group, &mut partitions).await;
    let history = state.inner.samples.group_history(&group);
    Ok(Json(GroupDetail {
        summary,
        partitions,
        history,
    }))
}

/// Every group the cluster knows (ListGroups on each broker + DescribeGroups).
pub(crate) async fn list_groups(state: &ConsoleState) -> Result<Vec<GroupSummary>, BrokerError> {
    let client = std::sync::Arc::clone(&state.inner.groups_client);
    let timeout = state.inner.config.kafka_timeout;
    let summaries = task::spawn_blocking("console-group-list", move || {
        let list = rdkafka::consumer::Consumer::fetch_group_list(&*client, None, timeout)
            .map_err(|e| BrokerError::kafka("group list", e))?;
        let mut summaries: Vec<GroupSummary> = list
            .groups()
            .iter()
            .map(|group| GroupSummary {
                group: group.name().to_owned(),
                state: group.state().to_owned(),
                protocol_type: group.protocol_type().to_owned(),
                members: group
                    .members()
                    .iter()
                    .map(|member| Member {
                        id: member.id().to_owned(),
                        client_id: member.client_id().to_owned(),
                        host: member.client_host().to_owned(),
                        assignment: member
                            .assignment()
                            .and_then(broker_core::assignment::decode)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(topic, partition)| AssignedPartition { topic, partition })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        summaries.sort_by(|a, b| a.group.cmp(&b.group));
        Ok::<_, BrokerError>(summaries)
    })
    .await
    .map_err(|error| BrokerError::Other {
        kind: ErrorKind::Internal,
        message: format!("group list task failed: {error}"),
    })??;
    Ok(summaries)
}

/// Committed offsets of `groups` and the lag in records against each partition's high
/// watermark.
pub(crate) async fn committed_lag(
    state: &ConsoleState,
    groups: &[String],
) -> Result<BTreeMap<String, Vec<PartitionLag>>, ApiError> {
    let Some(wire) = &state.inner.wire else {
        return Ok(BTreeMap::new());
    };
    let deadline = Instant::now() + state.inner.config.kafka_timeout;
    let offsets = wire
        .committed_offsets(groups, deadline)
        .await
        .map_err(|error| ApiError::Unavailable(format!("committed offsets: {error}")))?;
    let mut partitions: Vec<(String, i32)> = offsets
        .values()
        .flatten()
        .flatten()
        .map(|committed| (committed.topic.clone(), committed.partition))
        .collect();
    partitions.sort();
    partitions.dedup();
    let marks = crate::cluster::watermarks(state, partitions).await;
    Ok(offsets
        .into_iter()
        .map(|(group, result)| {
            let partitions = result
                .unwrap_or_default()
                .into_iter()
                .map(|committed| {
                    let high = marks
                        .get(&(committed.topic.clone(), committed.partition))
                        .map(|marks| marks.high);
                    PartitionLag {
                        lag: high.map(|high| (high - committed.offset).max(0)),
                        topic: committed.topic,
                        partition: committed.partition,
                        committed: committed.offset,
                        high,
                        lag_seconds: None,
                    }
                })
                .collect();
            (group, partitions)
        })
        .collect())
}

/// Seconds behind for each partition with lag; 0 for a caught-up one.
pub(crate) async fn fill_lag_seconds(
    state: &ConsoleState,
    group: &str,
    partitions: &mut [PartitionLag],
) {
    let cache = &state.inner.lag_seconds;
    let key = |p: &PartitionLag| -> Position {
        (format!("{group}\u{0}{}", p.topic), p.partition, p.committed)
    };
    let missing: Vec<Position> = partitions
        .iter()
        .filter(|p| p.lag.is_some_and(|lag| lag > 0) && cache.get(&key(p)).is_none())
        .map(|p| (p.topic.clone(), p.partition, p.committed))
        .collect();
    if !missing.is_empty() {
        let config = state
            .inner
            .clients
            .consumer_config("kafka-gateway-console-lag");
        let timeout = state.inner.config.kafka_timeout.min(Duration::from_secs(5));
        let read = task::spawn_blocking("console-lag-timestamps", move || {
            let consumer: BaseConsumer =
                broker_core::clients::create(&config, "console lag consumer creation")?;
            read_timestamps(&consumer, &missing, timeout)
        })
        .await;
        match read {
            Ok(Ok(found)) => {
                for ((topic, partition, offset), timestamp) in found {
                    cache.insert(
                        (format!("{group}\u{0}{topic}"), partition, offset),
                        timestamp,
                    );
                }
            }
            Ok(Err(error)) => tracing::debug!(%error, group, "reading lag timestamps failed"),
            Err(error) => tracing::debug!(%error, group, "lag timestamp task failed"),
        }
    }
    let now = now_millis();
    for partition in partitions.iter_mut() {
        partition.lag_seconds = match partition.lag {
            Some(0) => Some(0.0),
            Some(_) => cache
                .get(&key(partition))
                .map(|timestamp| ((now - timestamp).max(0) as f64) / 1000.0),
            None => None,
        };
    }
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
