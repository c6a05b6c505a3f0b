//! One transport-neutral error, sorted by what the caller must do.
//!
//! Every service maps [`ErrorKind`] onto its own wire format (Confluent's 5-digit codes,
//! Kafka Connect's error body, a process exit code); the classification of librdkafka's
//! error codes lives here once so that "retry" and "stop" mean the same thing everywhere.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::config::ConfigError;

/// What went wrong, in terms of what the caller should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request or config is wrong; retrying the same thing fails the same way.
    InvalidInput,
    /// The topic, partition, group or other named thing does not exist.
    NotFound,
    /// The thing already exists or is in a state that forbids the operation.
    Conflict,
    /// Credentials are missing or were rejected.
    Unauthenticated,
    /// The principal may not do this.
    Forbidden,
    /// A record or request is larger than the broker (or we) accept.
    PayloadTooLarge,
    /// The cluster is (perhaps briefly) unable to serve: leader moving, broker down, queue
    /// full. Retry with backoff.
    Unavailable,
    /// The operation did not finish in time; it may or may not have taken effect.
    Timeout,
    /// A bug or an unexpected broker answer. Not retriable.
    Internal,
}

impl ErrorKind {
    /// Whether retrying the same operation later can succeed.
    pub fn is_retriable(self) -> bool {
        matches!(self, Self::Unavailable | Self::Timeout)
    }

    /// The HTTP status a REST surface answers with when it has no more specific mapping.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidInput => 400,
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::Internal => 500,
            Self::Unavailable => 503,
            Self::Timeout => 504,
        }
    }

    /// Classifies a librdkafka error code (local `-1xx` codes and broker codes alike).
    pub fn from_rdkafka_code(code: RDKafkaErrorCode) -> Self {
        use RDKafkaErrorCode as C;
        match code {
            C::UnknownTopicOrPartition
            | C::UnknownTopic
            | C::UnknownPartition
            | C::GroupIdNotFound
            | C::UnknownGroup => Self::NotFound,
            C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed
            | C::DelegationTokenAuthorizationFailed => Self::Forbidden,
            C::SaslAuthenticationFailed
            | C::Authentication
            | C::UnsupportedSASLMechanism
            | C::IllegalSASLState => Self::Unauthenticated,
            C::MessageSizeTooLarge | C::InvalidMessageSize | C::MessageBatchTooLarge => {
                Self::PayloadTooLarge
            }
            C::TopicAlreadyExists | C::Conflict | C::ExistingSubscription => Self::Conflict,
            C::InvalidPartitions
            | C::InvalidReplicationFactor
            | C::InvalidReplicaAssignment
            | C::InvalidConfig
            | C::InvalidTopic
            | C::PolicyViolation
            | C::InvalidRequest
            | C::InvalidArgument
            | C::InvalidTimestamp
            | C::InvalidRequiredAcks
            | C::InvalidGroupId
            | C::InvalidSessionTimeout
            | C::OffsetOutOfRange
            | C::UnsupportedVersion
            | C::UnsupportedFeature
            | C::UnsupportedForMessageFormat
            | C::UnsupportedCompressionType
            | C::TopicDeletionDisabled
            | C::SecurityDisabled => Self::InvalidInput,
            C::MessageTimedOut | C::RequestTimedOut | C::OperationTimedOut | C::TimedOutQueue => {
                Self::Timeout
            }
            C::QueueFull
            | C::NotLeaderForPartition
            | C::LeaderNotAvailable
            | C::NotEnoughReplicas
            | C::NotEnoughReplicasAfterAppend
            | C::NetworkException
            | C::BrokerNotAvailable
            | C::ReplicaNotAvailable
            | C::AllBrokersDown
            | C::BrokerTransportFailure
            | C::Resolve
            | C::CoordinatorLoadInProgress
            | C::CoordinatorNotAvailable
            | C::NotCoordinator
            | C::NotController
            | C::RebalanceInProgress
            | C::KafkaStorageError
            | C::ISRInsufficient
            | C::FencedLeaderEpoch
            | C::UnknownLeaderEpoch
            | C::OffsetNotAvailable
            | C::PreferredLeaderNotAvailable
            | C::Retry
            | C::InProgress
            | C::PreviousInProgress
            | C::ConcurrentTransactions
            | C::UnstableOffsetCommit
            | C::ThrottlingQuotaExceeded => Self::Unavailable,
            _ => Self::Internal,
        }
    }

    /// Classifies any error rdkafka can return.
    pub fn from_kafka_error(error: &KafkaError) -> Self {
        match error {
            // librdkafka refuses admin arguments (partition counts, replication factors)
            // before sending anything: the request is wrong, not the cluster.
            // A NUL byte in a topic name or config value cannot cross into C.
            KafkaError::ClientConfig(..) | KafkaError::AdminOpCreation(_) | KafkaError::Nul(_) => {
                Self::InvalidInput
            }
            KafkaError::Canceled => Self::Unavailable,
            KafkaError::NoMessageReceived => Self::Timeout,
            other => other
                .rdkafka_error_code()
                .map_or(Self::Internal, Self::from_rdkafka_code),
        }
    }
}

/// An error from the broker core, carrying its cause.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("kafka {operation} failed: {source}")]
    Kafka {
        operation: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("kafka {operation} for `{resource}` failed: {code}")]
    Resource {
        operation: &'static str,
        resource: String,
        code: RDKafkaErrorCode,
    },
    #[error("kafka {operation} did not finish within {timeout:?}")]
    Timeout {
        operation: &'static str,
        timeout: Duration,
    },
    /// The brokers rejected the configured credentials (or the TLS handshake failed). Not
    /// retriable: the gateway's `sasl.*` / `ssl.*` settings must change.
    #[error("kafka {operation} failed: authentication to the brokers failed: {reason}")]
    Authentication {
        operation: &'static str,
        reason: String,
    },
    /// From the native protocol client ([`crate::wire`]).
    #[error(transparent)]
    Wire(#[from] crate::wire::WireError),
    #[error("{message}")]
    Other { kind: ErrorKind, message: String },
}

impl BrokerError {
    pub fn kafka(operation: &'static str, source: KafkaError) -> Self {
        Self::Kafka { operation, source }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Config(_) => ErrorKind::InvalidInput,
            Self::Kafka { source, .. } => ErrorKind::from_kafka_error(source),
            Self::Resource { code, .. } => ErrorKind::from_rdkafka_code(*code),
            Self::Timeout { .. } => ErrorKind::Timeout,
            // Internal, not Unauthenticated: the HTTP caller's credentials are fine, it is
            // the gateway's own login to Kafka that the operator must fix.
            Self::Authentication { .. } => ErrorKind::Internal,
            Self::Wire(error) => error.kind(),
            Self::Other { kind, .. } => *kind,
        }
    }

    /// The operation named in the message, `request` when there is none.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Kafka { operation, .. }
            | Self::Resource { operation, .. }
            | Self::Timeout { operation, .. }
            | Self::Authentication { operation, .. } => operation,
            Self::Config(_) | Self::Wire(_) | Self::Other { .. } => "request",
        }
    }

    pub fn is_retriable(&self) -> bool {
        self.kind().is_retriable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_broker_codes_are_retriable() {
        for code in [
            RDKafkaErrorCode::NotLeaderForPartition,
            RDKafkaErrorCode::QueueFull,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::MessageTimedOut,
        ] {
            assert!(
                ErrorKind::from_rdkafka_code(code).is_retriable(),
                "{code:?}"
            );
        }
    }

    #[test]
    fn definite_codes_are_not_retriable() {
        assert_eq!(
            ErrorKind::from_rdkafka_code(RDKafkaErrorCode::UnknownTopicOrPartition),
            ErrorKind::NotFound
        );
        assert_eq!(
            ErrorKind::from_rdkafka_code(RDKafkaErrorCode::TopicAuthorizationFailed),
            ErrorKind::Forbidden
        );
        assert_eq!(
            ErrorKind::from_rdkafka_code(RDKafkaErrorCode::MessageSizeTooLarge),
            ErrorKind::PayloadTooLarge
        );
        assert!(!ErrorKind::InvalidInput.is_retriable());
    }

    #[test]
    fn arguments_librdkafka_refuses_locally_are_invalid_input() {
        let nul = std::ffi::CString::new("a\0b").unwrap_err();
        for error in [
            KafkaError::Nul(nul),
            KafkaError::AdminOpCreation("num_partitions out of expected range".to_owned()),
        ] {
            assert_eq!(ErrorKind::from_kafka_error(&error), ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn message_production_error_classifies_by_code() {
        let error = BrokerError::kafka(
            "produce",
            KafkaError::MessageProduction(RDKafkaErrorCode::NotEnoughReplicas),
        );
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert_eq!(error.kind().http_status(), 503);
        assert!(error.to_string().starts_with("kafka produce failed"));
    }
}
