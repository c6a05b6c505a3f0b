//! Consumer lag from committed offsets and high watermarks: pure arithmetic, no I/O.
//!
//! Lag of a group on a partition is `high watermark − committed offset`, clamped at 0. The
//! watermark is read after the commit (see `cluster.rs`), so a negative difference can only
//! come from a truncated log (unclean leader election, `DeleteRecords` past the commit on a
//! compacted topic...); it is reported as 0 rather than as a negative number that breaks
//! autoscalers summing lag. A partition the group never committed on has no series at all
//! (kafka_exporter reports -1 there), and a partition whose watermark could not be read has
//! its committed offset but no lag.

use std::collections::{BTreeMap, HashMap};

use crate::cluster::CommittedOffset;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionLag {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) committed: i64,
    /// `None` when the partition's high watermark is unknown this scrape.
    pub(crate) lag: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicLag {
    pub(crate) topic: String,
    pub(crate) committed_sum: i64,
    pub(crate) lag_sum: i64,
}

/// The lag of one group, per partition and summed per topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct GroupLag {
    pub(crate) partitions: Vec<PartitionLag>,
    pub(crate) topics: Vec<TopicLag>,
}

/// Never negative.
pub(crate) fn lag(high_watermark: i64, committed: i64) -> i64 {
    high_watermark.saturating_sub(committed).max(0)
}

pub(crate) fn group_lag(
    committed: &[CommittedOffset],
    high_watermarks: &HashMap<(String, i32), i64>,
) -> GroupLag {
    let mut partitions: Vec<PartitionLag> = committed
        .iter()
        .map(|c| PartitionLag {
            topic: c.topic.clone(),
            partition: c.partition,
            committed: c.offset,
            lag: high_watermarks
                .get(&(c.topic.clone(), c.partition))
                .map(|high| lag(*high, c.offset)),
        })
        .collect();
    partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    let mut sums: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for partition in &partitions {
        let sum = sums.entry(partition.topic.as_str()).or_default();
        sum.0 = sum.0.saturating_add(partition.committed);
        sum.1 = sum.1.saturating_add(partition.lag.unwrap_or(0));
    }
    let topics = sums
        .into_iter()
        .map(|(topic, (committed_sum, lag_sum))| TopicLag {
            topic: topic.to_owned(),
            committed_sum,
            lag_sum,
        })
        .collect();
    GroupLag { partitions, topics }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(topic: &str, partition: i32, offset: i64) -> CommittedOffset {
        CommittedOffset {
            topic: topic.to_owned(),
            partition,
            offset,
        }
    }

    fn watermarks(entries: &[(&str, i32, i64)]) -> HashMap<(String, i32), i64> {
        entries
            .iter()
            .map(|(t, p, o)| (((*t).to_owned(), *p), *o))
            .collect()
    }

    #[test]
    fn lag_is_watermark_minus_commit() {
        assert_eq!(lag(10, 7), 3);
        assert_eq!(lag(10, 10), 0);
    }

    #[test]
    fn lag_is_never_negative() {
        assert_eq!(lag(5, 9), 0);
        assert_eq!(lag(i64::MIN, i64::MAX), 0);
    }

    #[test]
    fn sums_are_per_topic_and_skip_unknown_watermarks() {
        let lag = group_lag(
            &[
                committed("b", 0, 4),
                committed("a", 1, 2),
                committed("a", 0, 5),
                committed("c", 0, 1),
            ],
            &watermarks(&[("a", 0, 10), ("a", 1, 2), ("b", 0, 3)]),
        );
        let order: Vec<_> = lag
            .partitions
            .iter()
            .map(|p| (p.topic.as_str(), p.partition, p.lag))
            .collect();
        assert_eq!(
            order,
            vec![
                ("a", 0, Some(5)),
                ("a", 1, Some(0)),
                ("b", 0, Some(0)),
                ("c", 0, None)
            ]
        );
        assert_eq!(
            lag.topics,
            vec![
                TopicLag {
                    topic: "a".into(),
                    committed_sum: 7,
                    lag_sum: 5
                },
                TopicLag {
                    topic: "b".into(),
                    committed_sum: 4,
                    lag_sum: 0
                },
                TopicLag {
                    topic: "c".into(),
                    committed_sum: 1,
                    lag_sum: 0
                },
            ]
        );
    }
}
