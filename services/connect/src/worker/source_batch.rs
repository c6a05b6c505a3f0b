//! One polled batch in flight: the deliveries of its records and the last offset per
//! source partition it carries. Its offsets may be stored (or committed in a transaction)
//! only once every delivery before them is acknowledged.

use connect_api::{ConnectError, StoredOffsets};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::DeliveryFuture;

/// One polled batch: its deliveries and the last offset per source partition it carries.
pub(super) struct Batch {
    pub(super) deliveries: Vec<DeliveryFuture>,
    /// Deliveries before this index are acknowledged.
    pub(super) done: usize,
    pub(super) offsets: StoredOffsets,
    /// Records the task polled for this batch (filtered and failed ones included).
    pub(super) polled: u64,
}

fn delivery_result(
    result: Result<
        rdkafka::producer::future_producer::OwnedDeliveryResult,
        futures::channel::oneshot::Canceled,
    >,
) -> Result<(), ConnectError> {
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((error, message))) => {
            let topic = rdkafka::Message::topic(&message);
            let hint = match error.rdkafka_error_code() {
                Some(
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic,
                ) => {
                    "; the topic does not exist: create it, or set topic.creation.default.\
                     replication.factor and .partitions on the connector so that it is created"
                }
                _ => "",
            };
            Err(ConnectError::definite(format!(
                "Kafka did not accept a record for topic {topic}: {error}{hint}"
            )))
        }
        Err(_canceled) => Err(ConnectError::definite("the producer dropped a delivery")),
    }
}

impl Batch {
    /// Whether every record is acknowledged, without waiting.
    pub(super) fn poll_done(&mut self) -> Result<bool, ConnectError> {
        while let Some(delivery) = self.deliveries.get_mut(self.done) {
            match futures::FutureExt::now_or_never(delivery) {
                Some(result) => {
                    delivery_result(result)?;
                    self.done += 1;
                }
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Waits until every record is acknowledged.
    pub(super) async fn wait(&mut self) -> Result<(), ConnectError> {
        while let Some(delivery) = self.deliveries.get_mut(self.done) {
            delivery_result(delivery.await)?;
            self.done += 1;
        }
        Ok(())
    }
}
