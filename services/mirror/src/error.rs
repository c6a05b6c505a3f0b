//! Errors of the mirror, sorted by what the supervisor must do: a retriable error restarts
//! the failed flow with backoff from its last committed position (nothing is lost, records
//! after that position may be copied twice in at-least-once mode); a definite error stops
//! the mirror and is surfaced to the operator.

use broker_core::{BrokerError, ConfigError, ErrorKind};
use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("kafka {operation} failed for flow {flow}: {source}")]
    Kafka {
        flow: String,
        operation: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error(
        "record of {topic}[{partition}] at offset {offset} was not acknowledged by the target: {source}"
    )]
    Delivery {
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        source: KafkaError,
    },
    /// The target producer's queue stayed full for broker-core's bound: the target takes
    /// nothing. Retriable: the flow restarts from its last committed position.
    #[error("flow {flow}: {source}")]
    QueueStayedFull {
        flow: String,
        #[source]
        source: broker_core::produce::EnqueueError,
    },
    #[error("malformed record in internal topic {topic}: {reason}")]
    Corrupt { topic: String, reason: String },
    #[error("the source group `{group}` has no committed offsets for mirrored topics")]
    UnknownGroup { group: String },
    #[error("flow {flow} is not enabled in the configuration")]
    UnknownFlow { flow: String },
    #[error("the {task} task stopped unexpectedly: {reason}")]
    Task { task: String, reason: String },
    /// A group's coordinator on `cluster` did not give its committed offsets.
    #[error("committed offsets of group `{group}` on {cluster}: {source}")]
    GroupOffsets {
        cluster: String,
        group: String,
        #[source]
        source: broker_core::wire::WireError,
    },
    /// The source group fenced this task's static member: either the consumer's own
    /// session expired and its stale member id was refused (restarting helps), or another
    /// process joined with the same instance id (restarting would fence it in turn). The
    /// supervisor restarts the task once and stops the mirror when it is fenced again soon
    /// after.
    #[error(
        "flow {flow}: the source group fenced the static member `{member}`; when another \
         process runs with the same instance id, give every mirror process of a flow its own \
         ([mirror] instance_id or --instance-id)"
    )]
    InstanceFenced { flow: String, member: String },
}

impl MirrorError {
    pub(crate) fn kafka(flow: &str, operation: &'static str, source: KafkaError) -> Self {
        Self::Kafka {
            flow: flow.to_owned(),
            operation,
            source,
        }
    }

    /// What the caller must do about this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Config(_) | Self::UnknownFlow { .. } => ErrorKind::InvalidInput,
            Self::Io { .. } => ErrorKind::NotFound,
            Self::Broker(error) => error.kind(),
            Self::Kafka { source, .. } | Self::Delivery { source, .. } => {
                ErrorKind::from_kafka_error(source)
            }
            Self::QueueStayedFull { source, .. } => source.kind(),
            Self::Corrupt { .. } | Self::Task { .. } => ErrorKind::Internal,
            Self::GroupOffsets { source, .. } => source.kind(),
            Self::UnknownGroup { .. } => ErrorKind::NotFound,
            Self::InstanceFenced { .. } => ErrorKind::Conflict,
        }
    }

    /// Whether restarting the flow with backoff can succeed. A fenced transactional
    /// producer (another mirror took over the flow) is definite; so is any config error.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Kafka { source, .. } | Self::Delivery { source, .. } => {
                is_retriable_kafka(source)
            }
            Self::Task { .. } | Self::InstanceFenced { .. } => true,
            other => other.kind().is_retriable(),
        }
    }
}

impl MirrorError {
    /// Whether a transactional producer was fenced: another process initialised the same
    /// transactional id (took the task over).
    pub(crate) fn is_fenced_producer(&self) -> bool {
        use rdkafka::error::RDKafkaErrorCode as C;
        let (Self::Kafka { source, .. } | Self::Delivery { source, .. }) = self else {
            return false;
        };
        let code = match source {
            KafkaError::Transaction(rd) => Some(rd.code()),
            other => other.rdkafka_error_code(),
        };
        matches!(
            code,
            Some(C::Fenced | C::ProducerFenced | C::InvalidProducerEpoch)
        )
    }
}

/// librdkafka marks transaction errors as retriable / abortable / fatal itself; everything
/// else is classified by broker-core's table.
pub(crate) fn is_retriable_kafka(error: &KafkaError) -> bool {
    use rdkafka::error::RDKafkaErrorCode as C;
    if let KafkaError::Transaction(rd) = error {
        return !rd.is_fatal();
    }
    match error.rdkafka_error_code() {
        Some(C::Fenced | C::ProducerFenced | C::InvalidProducerEpoch) => false,
        // An idempotent producer that lost sequence numbers must be recreated: restarting
        // the flow does exactly that.
        Some(C::OutOfOrderSequenceNumber | C::UnknownProducerId | C::InconsistentGroupProtocol) => {
            true
        }
        _ => ErrorKind::from_kafka_error(error).is_retriable(),
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::error::RDKafkaErrorCode;

    use super::*;

    #[test]
    fn leader_moves_are_retriable_and_config_is_not() {
        let moving = MirrorError::Delivery {
            topic: "t".into(),
            partition: 0,
            offset: 1,
            source: KafkaError::MessageProduction(RDKafkaErrorCode::NotLeaderForPartition),
        };
        assert!(moving.is_retriable());
        let config = MirrorError::Config(ConfigError::new("clusters", "is required"));
        assert!(!config.is_retriable());
        let fenced = MirrorError::kafka(
            "A->B",
            "commit",
            KafkaError::MessageProduction(RDKafkaErrorCode::ProducerFenced),
        );
        assert!(!fenced.is_retriable());
        // Restarted once; the supervisor stops on a second fencing (see the runner).
        let fenced_member = MirrorError::InstanceFenced {
            flow: "A->B".into(),
            member: "host.A-B.0".into(),
        };
        assert!(fenced_member.is_retriable());
    }

    #[test]
    fn a_target_queue_that_stayed_full_restarts_the_flow() {
        let error = MirrorError::QueueStayedFull {
            flow: "A->B".into(),
            source: broker_core::produce::EnqueueError::QueueStayedFull {
                waited: std::time::Duration::from_secs(120),
            },
        };
        assert!(error.is_retriable());
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert!(error.to_string().starts_with("flow A->B: "), "{error}");
    }
}
