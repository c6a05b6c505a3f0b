//! Errors a plugin returns, sorted by what the runtime must do about them.

/// What went wrong in a connector or task.
///
/// - [`ConnectError::Retriable`]: the runtime retries the same call with backoff, within
///   `errors.retry.timeout`; the task stays RUNNING.
/// - [`ConnectError::Definite`]: the task goes FAILED with the message as its `trace`.
/// - [`ConnectError::Config`]: a config key is wrong; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("{message}")]
    Retriable { message: String },
    #[error("{message}")]
    Definite { message: String },
    #[error("invalid value for configuration {key}: {message}")]
    Config { key: String, message: String },
}

impl ConnectError {
    pub fn retriable(message: impl Into<String>) -> Self {
        Self::Retriable {
            message: message.into(),
        }
    }

    pub fn definite(message: impl Into<String>) -> Self {
        Self::Definite {
            message: message.into(),
        }
    }

    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Retriable { .. })
    }

    /// The Java exception class Kafka Connect would show for this error in a `trace`.
    pub fn exception_class(&self) -> &'static str {
        match self {
            Self::Retriable { .. } => "org.apache.kafka.connect.errors.RetriableException",
            Self::Definite { .. } => "org.apache.kafka.connect.errors.ConnectException",
            Self::Config { .. } => "org.apache.kafka.common.config.ConfigException",
        }
    }
}
