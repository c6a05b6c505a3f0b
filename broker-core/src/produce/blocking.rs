//! The blocking twin: for producers polled by the caller's own thread (the mirror's
//! replication threads), generic over the producer context so that delivery opaques stay
//! the caller's.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseProducer, BaseRecord, Partitioner, ProducerContext, ThreadedProducer};
use rdkafka::util::IntoOpaque;

use super::Enqueuer;
use super::policy::{EnqueueError, Waiting};

/// One attempt's outcome: on refusal, the record comes back with the error (rdkafka's own
/// shape, so a retry needs no copy).
pub type SendAttempt<'a, K, P, O> = Result<(), (KafkaError, BaseRecord<'a, K, P, O>)>;

/// A producer whose queue a thread may wait on: `send` a `BaseRecord`, `poll` for
/// delivery callbacks.
pub trait BlockingProducer {
    /// The context's delivery opaque, carried by every record.
    type Opaque: IntoOpaque;

    /// One attempt; the record comes back with the error.
    #[allow(clippy::result_large_err)] // rdkafka's `send` returns the same
    fn try_send<'a, K, P>(
        &self,
        record: BaseRecord<'a, K, P, Self::Opaque>,
    ) -> SendAttempt<'a, K, P, Self::Opaque>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized;

    /// Serves delivery callbacks for `wait`.
    fn serve_deliveries(&self, wait: Duration);
}

impl<C, Part> BlockingProducer for BaseProducer<C, Part>
where
    Part: Partitioner,
    C: ProducerContext<Part>,
{
    type Opaque = C::DeliveryOpaque;

    fn try_send<'a, K, P>(
        &self,
        record: BaseRecord<'a, K, P, Self::Opaque>,
    ) -> SendAttempt<'a, K, P, Self::Opaque>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        self.send(record)
    }

    fn serve_deliveries(&self, wait: Duration) {
        self.poll(wait);
    }
}

impl<C, Part> BlockingProducer for ThreadedProducer<C, Part>
where
    Part: Partitioner,
    C: ProducerContext<Part> + 'static,
{
    type Opaque = C::DeliveryOpaque;

    fn try_send<'a, K, P>(
        &self,
        record: BaseRecord<'a, K, P, Self::Opaque>,
    ) -> SendAttempt<'a, K, P, Self::Opaque>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        self.send(record)
    }

    fn serve_deliveries(&self, wait: Duration) {
        self.poll(wait);
    }
}

/// What the blocking twin does with a refusal other than `QueueFull`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRefused {
    /// Serve delivery callbacks for this long, then offer the record again.
    RetryAfter(Duration),
    /// Give the record up with [`EnqueueError::Refused`].
    Fail,
}

impl Enqueuer {
    /// Hands `record` to `producer`, serving delivery callbacks (`poll`) while its queue is
    /// full, up to the policy's bound. Any other refusal fails at once.
    pub fn send_blocking<'a, B, K, P>(
        &self,
        producer: &B,
        record: BaseRecord<'a, K, P, B::Opaque>,
    ) -> Result<(), EnqueueError>
    where
        B: BlockingProducer,
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        self.send_blocking_with(producer, record, |_| OnRefused::Fail)
    }

    /// [`Self::send_blocking`] with `on_refused` deciding about every refusal other than
    /// `QueueFull`. Retries it asks for are not counted as queue waits, and each refusal
    /// is put to the hook anew, so the hook owns its own deadline.
    pub fn send_blocking_with<'a, B, K, P>(
        &self,
        producer: &B,
        mut record: BaseRecord<'a, K, P, B::Opaque>,
        mut on_refused: impl FnMut(&KafkaError) -> OnRefused,
    ) -> Result<(), EnqueueError>
    where
        B: BlockingProducer,
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let mut waiting = Waiting::new(self.policy);
        loop {
            match producer.try_send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    let pause = waiting.next_pause()?;
                    self.waits.inc();
                    producer.serve_deliveries(pause);
                }
                Err((source, back)) => match on_refused(&source) {
                    OnRefused::RetryAfter(wait) => {
                        record = back;
                        producer.serve_deliveries(wait);
                    }
                    OnRefused::Fail => return Err(EnqueueError::Refused { source }),
                },
            }
        }
    }
}
