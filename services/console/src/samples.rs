//! Bounded in-memory history for the charts: every `sample_interval` the sampler records
//! each topic's summed high watermark (records/s is the delta of two samples) and each
//! group's total lag in records and its largest lag in seconds. Each ring keeps
//! `samples_kept` entries; a topic or group that disappears is dropped at the next sample,
//! so memory is bounded by what the cluster holds now.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use broker_core::Shutdown;
use serde::Serialize;

use crate::cluster::topic_watermarks;
use crate::groups::{committed_lag, fill_lag_seconds, list_groups, now_millis};
use crate::state::ConsoleState;

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct LagSample {
    /// Milliseconds since the epoch.
    pub(crate) at: i64,
    pub(crate) lag: i64,
    pub(crate) lag_seconds: Option<f64>,
}

#[derive(Debug, Default)]
struct Rings {
    topics: BTreeMap<String, VecDeque<(i64, i64)>>,
    groups: BTreeMap<String, VecDeque<LagSample>>,
    mirror_flows: BTreeMap<String, VecDeque<LagSample>>,
}

#[derive(Debug)]
pub(crate) struct Samples {
    kept: usize,
    rings: Mutex<Rings>,
    /// Groups whose page was opened, and when: lag in seconds costs a fetch per lagging
    /// partition, so it is sampled only for these (for as long as a chart spans).
    watched: Mutex<BTreeMap<String, std::time::Instant>>,
    window: std::time::Duration,
}

fn push<T>(ring: &mut VecDeque<T>, kept: usize, sample: T) {
    if ring.len() >= kept {
        ring.pop_front();
    }
    ring.push_back(sample);
}

impl Samples {
    pub(crate) fn new(kept: usize, interval: std::time::Duration) -> Self {
        Self {
            kept,
            rings: Mutex::default(),
            watched: Mutex::default(),
            window: interval.saturating_mul(u32::try_from(kept).unwrap_or(u32::MAX)),
        }
    }

    /// Someone looks at `group`: sample its lag in seconds too.
    pub(crate) fn watch(&self, group: &str) {
        self.watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(group.to_owned(), std::time::Instant::now());
    }

    fn is_watched(&self, group: &str) -> bool {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        watched.retain(|_, since| since.elapsed() < self.window);
        watched.contains_key(group)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rings> {
        self.rings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records appended per second between the last two samples of `topic`.
    pub(crate) fn topic_rate(&self, topic: &str) -> Option<f64> {
        let rings = self.lock();
        let ring = rings.topics.get(topic)?;
        let (last_at, last) = *ring.back()?;
        let (before_at, before) = *ring.get(ring.len().checked_sub(2)?)?;
        let seconds = (last_at - before_at) as f64 / 1000.0;
        (seconds > 0.0).then(|| (last - before).max(0) as f64 / seconds)
    }

    pub(crate) fn group_history(&self, group: &str) -> Vec<LagSample> {
        self.lock()
            .groups
            .get(group)
            .map(|ring| ring.iter().copied().collect())
            .unwrap_or_default()
    }

    pub(crate) fn mirror_history(&self) -> BTreeMap<String, Vec<LagSample>> {
        self.lock()
            .mirror_flows
            .iter()
            .map(|(flow, ring)| (flow.clone(), ring.iter().copied().collect()))
            .collect()
    }

    fn record_mirror(&self, samples: BTreeMap<String, LagSample>) {
        let mut rings = self.lock();
        rings
            .mirror_flows
            .retain(|flow, _| samples.contains_key(flow));
        for (flow, sample) in samples {
            let ring = rings.mirror_flows.entry(flow).or_default();
            push(ring, self.kept, sample);
        }
    }

    fn record_topics(&self, at: i64, highs: BTreeMap<String, i64>) {
        let mut rings = self.lock();
        rings.topics.retain(|topic, _| highs.contains_key(topic));
        for (topic, high) in highs {
            let ring = rings.topics.entry(topic).or_default();
            push(ring, self.kept, (at, high));
        }
    }

    fn record_groups(&self, samples: BTreeMap<String, LagSample>) {
        let mut rings = self.lock();
        rings.groups.retain(|group, _| samples.contains_key(group));
        for (group, sample) in samples {
            let ring = rings.groups.entry(group).or_default();
            push(ring, self.kept, sample);
        }
    }
}

/// Samples until `shutdown`; a failed round is logged and the next one tried on time.
pub(crate) async fn run_sampler(state: ConsoleState, shutdown: Shutdown) {
    let mut ticks = tokio::time::interval(state.inner.config.sample_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.wait() => return,
            _ = ticks.tick() => {}
        }
        if let Err(error) = sample_once(&state).await {
            tracing::debug!(%error, "console sample failed");
        }
    }
}

async fn sample_once(state: &ConsoleState) -> Result<(), crate::error::ApiError> {
    let at = now_millis();
    let metadata = state.inner.inspector.metadata(None).await?;
    let watermarks = topic_watermarks(state, &metadata.topics).await;
    let highs = metadata
        .topics
        .iter()
        .zip(watermarks)
        .map(|(topic, marks)| {
            (
                topic.name.clone(),
                marks.iter().flatten().map(|m| m.high).sum(),
            )
        })
        .collect();
    state.inner.samples.record_topics(at, highs);

    let groups: Vec<String> = list_groups(state)
        .await?
        .into_iter()
        .map(|g| g.group)
        .collect();
    let mut lags = committed_lag(state, &groups).await?;
    let mut samples = BTreeMap::new();
    for group in groups {
        let mut partitions = lags.remove(&group).unwrap_or_default();
        if state.inner.samples.is_watched(&group) {
            fill_lag_seconds(state, &group, &mut partitions).await;
        }
        let lag = partitions.iter().filter_map(|p| p.lag).sum();
        let lag_seconds = partitions
            .iter()
            .filter_map(|p| p.lag_seconds)
            .fold(None, |max: Option<f64>, s| {
                Some(max.map_or(s, |m| m.max(s)))
            });
        samples.insert(
            group,
            LagSample {
                at,
                lag,
                lag_seconds,
            },
        );
    }
    state.inner.samples.record_groups(samples);

    if let Some(series) = crate::mirror::read_series(state).await? {
        let mut flows: BTreeMap<String, LagSample> = BTreeMap::new();
        for topic in crate::mirror::topic_lags(&series) {
            let sample = flows.entry(topic.flow).or_insert(LagSample {
                at,
                lag: 0,
                lag_seconds: Some(0.0),
            });
            sample.lag += topic.lag as i64;
            sample.lag_seconds = sample.lag_seconds.map(|s| s.max(topic.lag_seconds));
        }
        state.inner.samples.record_mirror(flows);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_are_bounded_and_rates_come_from_the_last_two_samples() {
        let samples = Samples::new(3, std::time::Duration::from_secs(1));
        for (at, high) in [(0, 0), (1_000, 10), (2_000, 30), (3_000, 60)] {
            samples.record_topics(at, BTreeMap::from([("t".to_owned(), high)]));
        }
        assert_eq!(samples.lock().topics["t"].len(), 3);
        assert_eq!(samples.topic_rate("t"), Some(30.0));
        samples.record_topics(4_000, BTreeMap::new());
        assert_eq!(samples.topic_rate("t"), None);
    }
}
