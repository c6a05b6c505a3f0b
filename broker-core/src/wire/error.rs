//! Errors of the native protocol client, sorted like [`crate::error::ErrorKind`]: what the
//! caller must do. A broker error code keeps its number and gets Kafka's own name
//! (`SECURITY_DISABLED`, `TOPIC_AUTHORIZATION_FAILED`), so log lines match broker docs.

use std::fmt;
use std::time::Duration;

use kafka_protocol::ResponseError;

use crate::error::ErrorKind;

/// A Kafka protocol error code as the broker sent it (never `0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaCode(pub i16);

/// Kafka's error codes that callers of this client branch on.
impl KafkaCode {
    pub const CLUSTER_AUTHORIZATION_FAILED: Self = Self(31);
    pub const SECURITY_DISABLED: Self = Self(54);
    pub const SASL_AUTHENTICATION_FAILED: Self = Self(58);
    pub const UNSUPPORTED_VERSION: Self = Self(35);
    pub const UNKNOWN_TOPIC_OR_PARTITION: Self = Self(3);
    pub const COORDINATOR_LOAD_IN_PROGRESS: Self = Self(14);
    pub const COORDINATOR_NOT_AVAILABLE: Self = Self(15);
    pub const NOT_COORDINATOR: Self = Self(16);
    pub const INVALID_CONFIG: Self = Self(40);
    pub const INVALID_REQUEST: Self = Self(42);
    pub const POLICY_VIOLATION: Self = Self(44);
    pub const GROUP_ID_NOT_FOUND: Self = Self(69);

    /// `None` for `0` (no error).
    pub fn from_code(code: i16) -> Option<Self> {
        (code != 0).then_some(Self(code))
    }

    /// Kafka's name for the code, as in `Errors.java` (`SECURITY_DISABLED`).
    pub fn name(self) -> String {
        match ResponseError::try_from_code(self.0) {
            Some(ResponseError::Unknown(_)) | None => format!("UNKNOWN_ERROR_CODE_{}", self.0),
            Some(known) => screaming_snake(&format!("{known:?}")),
        }
    }

    /// Whether the protocol marks the code retriable; our classification builds on it.
    pub fn kind(self) -> ErrorKind {
        let Some(error) = ResponseError::try_from_code(self.0) else {
            return ErrorKind::Internal;
        };
        use ResponseError as E;
        match error {
            E::UnknownTopicOrPartition | E::UnknownTopicId | E::GroupIdNotFound => {
                ErrorKind::NotFound
            }
            E::TopicAuthorizationFailed
            | E::GroupAuthorizationFailed
            | E::ClusterAuthorizationFailed
            | E::TransactionalIdAuthorizationFailed
            | E::DelegationTokenAuthorizationFailed => ErrorKind::Forbidden,
            E::SaslAuthenticationFailed | E::UnsupportedSaslMechanism | E::IllegalSaslState => {
                ErrorKind::Unauthenticated
            }
            E::TopicAlreadyExists => ErrorKind::Conflict,
            E::RequestTimedOut => ErrorKind::Timeout,
            E::SecurityDisabled
            | E::InvalidRequest
            | E::UnsupportedVersion
            | E::InvalidConfig
            | E::InvalidTopicException
            | E::PolicyViolation => ErrorKind::InvalidInput,
            E::MessageTooLarge | E::RecordListTooLarge => ErrorKind::PayloadTooLarge,
            other if other.is_retriable() => ErrorKind::Unavailable,
            E::BrokerNotAvailable | E::NotController | E::ThrottlingQuotaExceeded => {
                ErrorKind::Unavailable
            }
            _ => ErrorKind::Internal,
        }
    }
}

impl fmt::Display for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (index, character) in camel.chars().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(character.to_ascii_uppercase());
    }
    out
}

/// An error of the native protocol client.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// A setting this client cannot honour (GSSAPI, OAUTHBEARER, a JKS keystore...). The
    /// key is the property as the user wrote it.
    #[error("`{key}`: {reason}")]
    Unsupported { key: String, reason: String },
    #[error("cannot connect to or talk with broker {broker}: {source}")]
    Io {
        broker: String,
        #[source]
        source: std::io::Error,
    },
    #[error("tls with broker {broker} failed: {reason}")]
    Tls { broker: String, reason: String },
    /// The broker rejected the credentials. Not retriable: `sasl.*` must change.
    #[error("sasl {mechanism} authentication to broker {broker} failed: {reason}")]
    Authentication {
        broker: String,
        mechanism: &'static str,
        reason: String,
    },
    #[error("kafka {operation} to broker {broker} did not finish within {timeout:?}")]
    Timeout {
        broker: String,
        operation: &'static str,
        timeout: Duration,
    },
    /// The broker is too old (or too new) for a request we know how to send.
    #[error("broker {broker} supports no version of {api} that this client speaks ({ours})")]
    UnsupportedVersion {
        broker: String,
        api: &'static str,
        ours: String,
    },
    /// The bytes on the wire made no sense: a bug here or a broker we do not understand.
    #[error("unexpected answer from broker {broker}: {reason}")]
    Protocol { broker: String, reason: String },
    #[error("kafka {operation} failed: {code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        operation: &'static str,
        code: KafkaCode,
        message: Option<String>,
    },
    #[error("no broker of `{bootstrap}` could be reached: {last}")]
    NoBrokerReachable {
        bootstrap: String,
        #[source]
        last: Box<WireError>,
    },
}

impl WireError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Unsupported { .. } | Self::UnsupportedVersion { .. } => ErrorKind::InvalidInput,
            Self::Io { .. } => ErrorKind::Unavailable,
            Self::Timeout { .. } => ErrorKind::Timeout,
            // Internal like `BrokerError::Authentication`: the operator must fix our own
            // credentials or trust store; no caller of ours sent anything wrong.
            Self::Tls { .. } | Self::Authentication { .. } => ErrorKind::Internal,
            Self::Protocol { .. } => ErrorKind::Internal,
            Self::Broker { code, .. } => code.kind(),
            Self::NoBrokerReachable { last, .. } => last.kind(),
        }
    }

    pub fn is_retriable(&self) -> bool {
        self.kind().is_retriable()
    }

    /// The broker's error code, when the broker answered with one.
    pub fn code(&self) -> Option<KafkaCode> {
        match self {
            Self::Broker { code, .. } => Some(*code),
            Self::NoBrokerReachable { last, .. } => last.code(),
            _ => None,
        }
    }

    /// The same error again, for when one failure (a coordinator's connection) is the
    /// answer for many items (its groups). An I/O error keeps its kind and text.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::Unsupported { key, reason } => Self::Unsupported {
                key: key.clone(),
                reason: reason.clone(),
            },
            Self::Io { broker, source } => Self::Io {
                broker: broker.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Self::Tls { broker, reason } => Self::Tls {
                broker: broker.clone(),
                reason: reason.clone(),
            },
            Self::Authentication {
                broker,
                mechanism,
                reason,
            } => Self::Authentication {
                broker: broker.clone(),
                mechanism,
                reason: reason.clone(),
            },
            Self::Timeout {
                broker,
                operation,
                timeout,
            } => Self::Timeout {
                broker: broker.clone(),
                operation,
                timeout: *timeout,
            },
            Self::UnsupportedVersion { broker, api, ours } => Self::UnsupportedVersion {
                broker: broker.clone(),
                api,
                ours: ours.clone(),
            },
            Self::Protocol { broker, reason } => Self::Protocol {
                broker: broker.clone(),
                reason: reason.clone(),
            },
            Self::Broker {
                operation,
                code,
                message,
            } => Self::Broker {
                operation,
                code: *code,
                message: message.clone(),
            },
            Self::NoBrokerReachable { bootstrap, last } => Self::NoBrokerReachable {
                bootstrap: bootstrap.clone(),
                last: Box::new(last.duplicate()),
            },
        }
    }

    /// Whether the connection this error came from must be dropped: anything but a broker
    /// answer that was read completely.
    pub(crate) fn breaks_connection(&self) -> bool {
        !matches!(self, Self::Broker { .. })
    }

    pub(crate) fn broker(
        operation: &'static str,
        code: i16,
        message: Option<String>,
    ) -> Option<Self> {
        KafkaCode::from_code(code).map(|code| Self::Broker {
            operation,
            code,
            message: message.filter(|m| !m.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_kafka_names_and_classes() {
        assert_eq!(KafkaCode::SECURITY_DISABLED.name(), "SECURITY_DISABLED");
        assert_eq!(KafkaCode(29).name(), "TOPIC_AUTHORIZATION_FAILED");
        assert_eq!(KafkaCode(30000).name(), "UNKNOWN_ERROR_CODE_30000");
        assert_eq!(KafkaCode(29).kind(), ErrorKind::Forbidden);
        assert_eq!(KafkaCode(6).kind(), ErrorKind::Unavailable);
        assert_eq!(KafkaCode::SECURITY_DISABLED.kind(), ErrorKind::InvalidInput);
        assert!(WireError::broker("describe acls", 0, None).is_none());
        let error = WireError::broker("describe acls", 54, Some("No Authorizer".into()));
        let error = error.expect("an error");
        assert_eq!(
            error.to_string(),
            "kafka describe acls failed: SECURITY_DISABLED (54): No Authorizer"
        );
        assert!(!error.is_retriable());
    }
}
