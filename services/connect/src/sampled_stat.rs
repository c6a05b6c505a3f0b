//! Average and maximum over a sliding window, the way Kafka's `SampledStat` computes
//! `*-avg` and `*-max` metrics: two samples of `metrics.sample.window.ms` (30 s) each, so a
//! reading covers the last 30 to 60 seconds, and is NaN when nothing was recorded in that
//! time (as Kafka's `Avg` and `Max` are).
//!
//! Recorded once per batch or commit, never per record, so a short lock is fine.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Kafka's `metrics.sample.window.ms` default.
const SAMPLE_WINDOW: Duration = Duration::from_secs(30);
/// Kafka's `metrics.num.samples` default.
const SAMPLES: usize = 2;

#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    start: Option<Instant>,
    count: u64,
    sum: f64,
    max: f64,
}

#[derive(Debug, Default)]
struct Samples {
    samples: [Sample; SAMPLES],
    current: usize,
}

#[derive(Debug, Default)]
pub(crate) struct SampledStat {
    inner: Mutex<Samples>,
}

impl SampledStat {
    pub(crate) fn record(&self, value: f64) {
        self.record_at(value, Instant::now());
    }

    fn record_at(&self, value: f64, now: Instant) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let current = inner.current;
        match inner.samples[current].start {
            None => inner.samples[current].start = Some(now),
            Some(start) if now.saturating_duration_since(start) >= SAMPLE_WINDOW => {
                let next = (current + 1) % SAMPLES;
                inner.current = next;
                inner.samples[next] = Sample {
                    start: Some(now),
                    ..Sample::default()
                };
            }
            Some(_) => {}
        }
        let current = inner.current;
        let sample = &mut inner.samples[current];
        sample.max = if sample.count == 0 {
            value
        } else {
            sample.max.max(value)
        };
        sample.count += 1;
        sample.sum += value;
    }

    /// (average, maximum) of the samples still in the window.
    pub(crate) fn read(&self) -> (f64, f64) {
        self.read_at(Instant::now())
    }

    fn read_at(&self, now: Instant) -> (f64, f64) {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let live = inner.samples.iter().filter(|s| {
            s.count > 0
                && s.start.is_some_and(|start| {
                    now.saturating_duration_since(start) < SAMPLE_WINDOW * SAMPLES as u32
                })
        });
        let (count, sum, max) = live.fold((0_u64, 0.0_f64, f64::NAN), |(c, s, m), sample| {
            (c + sample.count, s + sample.sum, m.max(sample.max))
        });
        if count == 0 {
            (f64::NAN, f64::NAN)
        } else {
            (sum / count as f64, max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_and_maximum_of_the_window() {
        let stat = SampledStat::default();
        let (avg, max) = stat.read();
        assert!(avg.is_nan() && max.is_nan(), "nothing recorded yet");
        let start = Instant::now();
        stat.record_at(10.0, start);
        stat.record_at(30.0, start + Duration::from_secs(1));
        assert_eq!(stat.read_at(start + Duration::from_secs(2)), (20.0, 30.0));
    }

    #[test]
    fn old_samples_leave_the_window() {
        let stat = SampledStat::default();
        let start = Instant::now();
        stat.record_at(100.0, start);
        stat.record_at(2.0, start + Duration::from_secs(31));
        assert_eq!(
            stat.read_at(start + Duration::from_secs(32)),
            (51.0, 100.0),
            "both samples are within two windows"
        );
        assert_eq!(stat.read_at(start + Duration::from_secs(61)), (2.0, 2.0));
        let (avg, _) = stat.read_at(start + Duration::from_secs(200));
        assert!(avg.is_nan());
    }
}
