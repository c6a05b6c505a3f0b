//! The one produce path every service uses: a record type, an async enqueue for
//! `FutureProducer`, a blocking twin for `BaseProducer` / `ThreadedProducer`, and one policy
//! for a full producer queue.
//!
//! Handing a record to librdkafka only puts it in the producer's local queue; the broker's
//! acknowledgement comes later (a `DeliveryFuture`, or a delivery callback with the
//! record's opaque). When the queue is full (`queue.buffering.max.messages` /
//! `queue.buffering.max.kbytes`), librdkafka refuses the record with `QueueFull`. That is
//! backpressure, not failure: the caller waits for room, which opens as the broker
//! acknowledges what is queued. The policy ([`QueueFullPolicy`]) is the same everywhere:
//!
//! - **Short backoff.** The caller waits [`QueueFullPolicy::BACKOFF_START`], doubling up to
//!   [`QueueFullPolicy::BACKOFF_MAX`], then offers the record again. The async path sleeps
//!   on tokio's timer, so no runtime thread is held; the blocking path spends the wait in
//!   `producer.poll(..)`, so the delivery callbacks that free the queue are served by the
//!   very thread that is waiting (a `BaseProducer` has nobody else to serve them).
//! - **Counted.** Every wait increments
//!   `kafka_gateway_producer_queue_full_waits_total{client}` ([`register_metrics`]), so a
//!   slow or unreachable cluster shows as a rising rate before anything fails.
//! - **Bounded.** After [`QueueFullPolicy::bound`] without room, the record is given up with
//!   [`EnqueueError::QueueStayedFull`]: retriable (`ErrorKind::Unavailable`), never enqueued,
//!   so the caller decides (answer 503, fail the task, restart the flow). A queue that does
//!   not move for that long means the cluster takes nothing; waiting forever would hide it.
//!   The default bound, [`QueueFullPolicy::DEFAULT_BOUND`] (120 s), is Kafka's default
//!   `delivery.timeout.ms`: the time a record already in the queue is given before it fails
//!   with `MessageTimedOut`. A caller with a tighter budget sets its own with
//!   [`Enqueuer::with_bound`] (the bridge answers an HTTP request: 30 s).
//!
//! Any other refusal is returned at once as [`EnqueueError::Refused`] with librdkafka's
//! error, for the caller to classify ([`crate::ErrorKind::from_kafka_error`]). The blocking
//! twin takes a hook that may ask to retry such a refusal after serving deliveries for a
//! while (the mirror waits for its topic task to grow a target topic on
//! `UnknownPartition`).
//!
//! The records themselves are borrowed for every attempt and copied once, by librdkafka,
//! into its queue: [`OutgoingRecord`] owns its bytes so that the bridge's and connect's
//! decoded records move into it without a copy, and the blocking twin takes a
//! `BaseRecord`, so the mirror's key and payload stay borrowed from the consumed message
//! and its delivery opaque travels with the record.

mod blocking;
mod metrics;
mod policy;
mod record;
#[cfg(test)]
mod tests;

use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer};
use rdkafka::util::AsyncRuntime;

pub use blocking::{BlockingProducer, OnRefused, SendAttempt};
pub use metrics::register_metrics;
pub use policy::{EnqueueError, QueueFullPolicy};
pub use record::{OutgoingRecord, RecordHeader};

use policy::Waiting;

/// The produce path of one client (a service): its [`QueueFullPolicy`] and its series of
/// the wait counter. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Enqueuer {
    policy: QueueFullPolicy,
    waits: prometheus_client::metrics::counter::Counter,
}

impl Enqueuer {
    /// The default policy; waits are counted under `client` (`bridge`, `connect`,
    /// `mirror`).
    pub fn new(client: &str) -> Self {
        Self::with_policy(client, QueueFullPolicy::default())
    }

    pub fn with_policy(client: &str, policy: QueueFullPolicy) -> Self {
        Self {
            policy,
            waits: metrics::waits_of(client),
        }
    }

    /// The same policy with another bound (a caller with a tighter time budget).
    #[must_use]
    pub fn with_bound(self, bound: std::time::Duration) -> Self {
        Self {
            policy: QueueFullPolicy::with_bound(bound),
            ..self
        }
    }

    pub fn policy(&self) -> QueueFullPolicy {
        self.policy
    }

    /// Hands `record` to `producer`, waiting (tokio sleeps) while its queue is full, up to
    /// the policy's bound. The returned future resolves with the broker's acknowledgement.
    pub async fn enqueue<C, R>(
        &self,
        producer: &FutureProducer<C, R>,
        record: &OutgoingRecord,
    ) -> Result<DeliveryFuture, EnqueueError>
    where
        C: ClientContext + 'static,
        R: AsyncRuntime,
    {
        let mut waiting = Waiting::new(self.policy);
        let mut future_record = record.to_future_record();
        loop {
            match producer.send_result(future_record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    future_record = back;
                    let pause = waiting.next_pause()?;
                    self.waits.inc();
                    tokio::time::sleep(pause).await;
                }
                Err((source, _)) => return Err(EnqueueError::Refused { source }),
            }
        }
    }
}
