//! Offsets in commit and seek bodies, checked before librdkafka sees them.
//!
//! librdkafka refuses a negative offset locally with "invalid argument", which named
//! neither the entry nor the rule, and Confluent's `offset + 1` overflowed on `i64::MAX`.
//! The ranges are those of the shared OpenAPI document: a commit's `offset` is -1 to
//! `i64::MAX - 1` (the Confluent flavor commits `offset + 1`, so -1 commits position 0; the
//! Strimzi flavor commits the offset as sent, which must be a position, so at least 0), a
//! seek's is at least 0 on both flavors.
//!
//! A partition named twice in one seek goes where its last entry says, as Java's
//! `KafkaConsumer.seek` called once per entry leaves it (and as `offsetsForTimes`' map
//! keeps it). A timestamp lookup that named a partition twice failed as a whole (librdkafka:
//! "UnsupportedVersion"), a 400 for a valid request.

use crate::config::Flavor;
use crate::error::ApiError;

/// The highest offset a commit may name: Confluent's `offset + 1` must still be an offset.
pub(crate) const MAX_COMMIT_OFFSET: i64 = i64::MAX - 1;

/// The position a commit of `offset` stores: `offset + 1` (Confluent: the client names the
/// last record it processed) or `offset` (Strimzi: the next offset to read); 422 outside
/// the flavor's range.
pub(crate) fn committed_position(
    flavor: Flavor,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<i64, ApiError> {
    let (lowest, position) = match flavor {
        Flavor::Confluent => (-1, offset.checked_add(1)),
        Flavor::Strimzi => (0, Some(offset)),
    };
    match position {
        Some(position) if (lowest..=MAX_COMMIT_OFFSET).contains(&offset) => Ok(position),
        _ => Err(ApiError::unprocessable(
            422,
            format!(
                "Invalid offset {offset} for {topic}-{partition}: a commit names an offset from \
                 {lowest} to {MAX_COMMIT_OFFSET}{}.",
                match flavor {
                    Flavor::Confluent => " (the position committed is offset + 1)",
                    Flavor::Strimzi => " (the next offset to read)",
                }
            ),
        )),
    }
}

/// 422 for a negative seek offset.
pub(crate) fn require_seek_offset(
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<(), ApiError> {
    if offset < 0 {
        return Err(ApiError::unprocessable(
            422,
            format!(
                "Invalid offset {offset} for {topic}-{partition}: a seek offset is at least 0."
            ),
        ));
    }
    Ok(())
}

/// `targets` with one entry per partition, the last one given, in the order partitions
/// were first named.
pub(crate) fn last_per_partition<T>(targets: Vec<(String, i32, T)>) -> Vec<(String, i32, T)> {
    let mut kept: Vec<(String, i32, T)> = Vec::with_capacity(targets.len());
    for (topic, partition, target) in targets {
        match kept
            .iter_mut()
            .find(|(t, p, _)| *t == topic && *p == partition)
        {
            Some(entry) => entry.2 = target,
            None => kept.push((topic, partition, target)),
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confluent_commits_the_next_offset_from_minus_one_to_one_below_the_maximum() {
        assert_eq!(
            committed_position(Flavor::Confluent, "t", 0, -1).unwrap(),
            0
        );
        assert_eq!(
            committed_position(Flavor::Confluent, "t", 0, 41).unwrap(),
            42
        );
        assert_eq!(
            committed_position(Flavor::Confluent, "t", 0, MAX_COMMIT_OFFSET).unwrap(),
            i64::MAX
        );
        for refused in [-2, i64::MIN, i64::MAX] {
            let error = committed_position(Flavor::Confluent, "t", 3, refused).unwrap_err();
            assert_eq!(error.status.as_u16(), 422, "{refused}");
            assert!(
                error.message.contains(&format!("{refused} for t-3")),
                "{error}"
            );
        }
    }

    #[test]
    fn strimzi_commits_the_offset_as_sent_from_zero() {
        assert_eq!(committed_position(Flavor::Strimzi, "t", 0, 0).unwrap(), 0);
        assert_eq!(committed_position(Flavor::Strimzi, "t", 0, 41).unwrap(), 41);
        for refused in [-1, i64::MIN, i64::MAX] {
            let error = committed_position(Flavor::Strimzi, "t", 0, refused).unwrap_err();
            assert_eq!(error.status.as_u16(), 422, "{refused}");
        }
    }

    #[test]
    fn seek_offsets_are_not_negative() {
        assert!(require_seek_offset("t", 0, 0).is_ok());
        assert!(require_seek_offset("t", 0, i64::MAX).is_ok());
        assert_eq!(
            require_seek_offset("t", 0, -1).unwrap_err().status.as_u16(),
            422
        );
    }

    #[test]
    fn the_last_entry_of_a_partition_wins_in_first_seen_order() {
        let kept = last_per_partition(vec![
            ("a".to_owned(), 0, 1),
            ("b".to_owned(), 0, 2),
            ("a".to_owned(), 0, 3),
            ("a".to_owned(), 1, 4),
        ]);
        assert_eq!(
            kept,
            vec![
                ("a".to_owned(), 0, 3),
                ("b".to_owned(), 0, 2),
                ("a".to_owned(), 1, 4)
            ]
        );
    }
}
