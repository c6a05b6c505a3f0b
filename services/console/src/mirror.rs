//! `/api/mirror`: the mirror's lag per flow and topic and its checkpoint ages, read from the
//! Prometheus text of this gateway's metrics listener, where the mirror registers its
//! series (`kafka_gateway_mirror_*`, docs/mirror.md). The console does not depend on the
//! mirror crate: the series names and labels are the mirror's public interface.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::error::ApiError;
use crate::samples::LagSample;
use crate::state::ConsoleState;

const RECORD_LAG: &str = "kafka_gateway_mirror_record_lag";
const RECORD_LAG_SECONDS: &str = "kafka_gateway_mirror_record_lag_seconds";
const CHECKPOINT_AGE: &str = "kafka_gateway_mirror_checkpoint_age_seconds";

/// One sample line: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// The sample lines of a Prometheus text exposition whose name is one of `names`.
pub(crate) fn parse(text: &str, names: &[&str]) -> Vec<Series> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (head, value) = line.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match head.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}')?),
                None => (head, ""),
            };
            if !names.contains(&name) {
                return None;
            }
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (key, value) = pair.split_once("=\"")?;
                    Some((key.to_owned(), value.trim_end_matches('"').to_owned()))
                })
                .collect();
            Some(Series {
                name: name.to_owned(),
                labels,
                value,
            })
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub(crate) struct MirrorView {
    /// False when this gateway serves no metrics listener to read from.
    available: bool,
    topics: Vec<TopicLag>,
    checkpoints: Vec<CheckpointAge>,
    /// Per flow: total lag in records and the largest lag in seconds, sampled.
    history: BTreeMap<String, Vec<LagSample>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TopicLag {
    pub(crate) flow: String,
    pub(crate) topic: String,
    pub(crate) lag: f64,
    pub(crate) lag_seconds: f64,
}

#[derive(Debug, Serialize)]
struct CheckpointAge {
    flow: String,
    group: String,
    age_seconds: f64,
}

/// The current lag series, or `None` without a metrics listener.
pub(crate) async fn read_series(state: &ConsoleState) -> Result<Option<Vec<Series>>, ApiError> {
    let Some(base) = &state.inner.config.upstreams.metrics else {
        return Ok(None);
    };
    let text = state
        .inner
        .http
        .get(format!("{}/metrics", base.trim_end_matches('/')))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| ApiError::Upstream {
            service: "metrics",
            message: error.to_string(),
        })?
        .text()
        .await
        .map_err(|error| ApiError::Upstream {
            service: "metrics",
            message: error.to_string(),
        })?;
    Ok(Some(parse(
        &text,
        &[RECORD_LAG, RECORD_LAG_SECONDS, CHECKPOINT_AGE],
    )))
}

/// Per (flow, topic): lag summed over partitions, the oldest partition's seconds.
pub(crate) fn topic_lags(series: &[Series]) -> Vec<TopicLag> {
    let mut topics: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for one in series {
        let (Some(flow), Some(topic)) = (one.labels.get("flow"), one.labels.get("topic")) else {
            continue;
        };
        let entry = topics.entry((flow.clone(), topic.clone())).or_default();
        if one.name == RECORD_LAG {
            entry.0 += one.value;
        } else if one.name == RECORD_LAG_SECONDS {
            entry.1 = entry.1.max(one.value);
        }
    }
    topics
        .into_iter()
        .map(|((flow, topic), (lag, lag_seconds))| TopicLag {
            flow,
            topic,
            lag,
            lag_seconds,
        })
        .collect()
}

pub(crate) async fn mirror(
    State(state): State<ConsoleState>,
) -> Result<Json<MirrorView>, ApiError> {
    let Some(series) = read_series(&state).await? else {
        return Ok(Json(MirrorView {
            available: false,
            topics: Vec::new(),
            checkpoints: Vec::new(),
            history: BTreeMap::new(),
        }));
    };
    let checkpoints = series
        .iter()
        .filter(|one| one.name == CHECKPOINT_AGE)
        .map(|one| CheckpointAge {
            flow: one.labels.get("flow").cloned().unwrap_or_default(),
            group: one.labels.get("group").cloned().unwrap_or_default(),
            age_seconds: one.value,
        })
        .collect();
    Ok(Json(MirrorView {
        available: true,
        topics: topic_lags(&series),
        checkpoints,
        history: state.inner.samples.mirror_history(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_mirror_series_and_sums_per_topic() {
        let text = "# HELP kafka_gateway_mirror_record_lag Records\n\
            kafka_gateway_mirror_record_lag{flow=\"a->b\",topic=\"t\",partition=\"0\"} 3\n\
            kafka_gateway_mirror_record_lag{flow=\"a->b\",topic=\"t\",partition=\"1\"} 4\n\
            kafka_gateway_mirror_record_lag_seconds{flow=\"a->b\",topic=\"t\",partition=\"1\"} 2.5\n\
            kafka_gateway_mirror_records_total{flow=\"a->b\",topic=\"t\",partition=\"1\"} 9\n";
        let series = parse(text, &[RECORD_LAG, RECORD_LAG_SECONDS]);
        assert_eq!(series.len(), 3);
        assert_eq!(series[0].labels["flow"], "a->b");
        let lags = topic_lags(&series);
        assert_eq!(lags.len(), 1);
        assert!((lags[0].lag - 7.0).abs() < f64::EPSILON);
        assert!((lags[0].lag_seconds - 2.5).abs() < f64::EPSILON);
    }
}
