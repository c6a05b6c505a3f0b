//! The `QueueFull` policy (bound and backoff) and the error at its bound.

use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::error::ErrorKind;

/// How long a record may wait for room in a full producer queue; the backoff between
/// attempts is the same for every caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFullPolicy {
    bound: Duration,
}

impl QueueFullPolicy {
    /// Kafka's default `delivery.timeout.ms`: as long as a queued record is given before
    /// it fails, a record that is not even queued yet may wait for room.
    pub const DEFAULT_BOUND: Duration = Duration::from_secs(120);
    /// The first wait after a `QueueFull`.
    pub const BACKOFF_START: Duration = Duration::from_millis(2);
    /// Waits double up to this; short, so that room is used soon after it opens.
    pub const BACKOFF_MAX: Duration = Duration::from_millis(50);

    /// Gives up after `bound` without room.
    pub fn with_bound(bound: Duration) -> Self {
        Self { bound }
    }

    pub fn bound(self) -> Duration {
        self.bound
    }
}

impl Default for QueueFullPolicy {
    fn default() -> Self {
        Self::with_bound(Self::DEFAULT_BOUND)
    }
}

/// Why a record was not handed to the producer, sorted by what the caller must do.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The producer's queue stayed full for the policy's whole bound: the cluster has
    /// acknowledged nothing for that long. The record was not enqueued; retry later (after
    /// backoff), or fail the work and surface it.
    #[error(
        "the producer queue stayed full for {} ms, so the cluster is not taking records; retry later",
        .waited.as_millis()
    )]
    QueueStayedFull { waited: Duration },
    /// librdkafka refused the record for another reason; classify `source`
    /// ([`ErrorKind::from_kafka_error`]).
    #[error("the producer refused the record: {source}")]
    Refused {
        #[source]
        source: KafkaError,
    },
}

impl EnqueueError {
    /// What the caller must do about it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::QueueStayedFull { .. } => ErrorKind::Unavailable,
            Self::Refused { source } => ErrorKind::from_kafka_error(source),
        }
    }

    pub fn is_retriable(&self) -> bool {
        self.kind().is_retriable()
    }

    /// The librdkafka error this stands for (`QueueFull` at the bound), for error types
    /// that carry one.
    pub fn into_kafka_error(self) -> KafkaError {
        match self {
            Self::QueueStayedFull { .. } => {
                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
            }
            Self::Refused { source } => source,
        }
    }
}

/// One record's wait for room: the next pause, or the error once the bound is reached.
///
/// The clock starts at the first refusal, not at construction: a `Waiting` is made for
/// every record and almost all of them never wait, and a clock read per record was a
/// visible share of the mirror's copy thread (`perf`, docs/benchmarks.md).
#[derive(Debug)]
pub(super) struct Waiting {
    policy: QueueFullPolicy,
    started: Option<Instant>,
    backoff: Duration,
}

impl Waiting {
    pub(super) fn new(policy: QueueFullPolicy) -> Self {
        Self {
            policy,
            started: None,
            backoff: QueueFullPolicy::BACKOFF_START,
        }
    }

    /// How long to wait before the next attempt; never past the bound.
    pub(super) fn next_pause(&mut self) -> Result<Duration, EnqueueError> {
        let waited = self.started.get_or_insert_with(Instant::now).elapsed();
        let Some(left) = self
            .policy
            .bound
            .checked_sub(waited)
            .filter(|d| !d.is_zero())
        else {
            return Err(EnqueueError::QueueStayedFull { waited });
        };
        let pause = self.backoff.min(left);
        self.backoff = (self.backoff * 2).min(QueueFullPolicy::BACKOFF_MAX);
        Ok(pause)
    }
}
