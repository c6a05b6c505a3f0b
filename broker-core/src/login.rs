//! A start-up check that the brokers accept the configured credentials.
//!
//! librdkafka reports a rejected SASL login (or a failed TLS handshake) only through the
//! error callback and then retries forever; every request meanwhile fails with a generic
//! "broker transport failure" or a timeout. [`verify_login`] watches the callback while it
//! asks for metadata, so a wrong password becomes one definite error naming the cause.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, NoCustomPartitioner, Producer, ProducerContext};

use crate::clients::KafkaClients;
use crate::error::BrokerError;

/// Keeps the last authentication failure librdkafka reported.
#[derive(Debug, Default, Clone)]
struct AuthenticationWatch {
    failure: Arc<Mutex<Option<String>>>,
}

impl AuthenticationWatch {
    fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|failure| failure.clone())
    }
}

impl ClientContext for AuthenticationWatch {
    fn error(&self, error: KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        if matches!(
            code,
            Some(
                RDKafkaErrorCode::Authentication
                    | RDKafkaErrorCode::SaslAuthenticationFailed
                    | RDKafkaErrorCode::SSL
            )
        ) {
            if let Ok(mut failure) = self.failure.lock() {
                // librdkafka's reason names the mechanism and the broker's verdict; it
                // never contains the password.
                *failure = Some(reason.to_owned());
            }
        } else {
            tracing::debug!(%error, reason, "kafka client error during the login check");
        }
    }
}

impl ProducerContext<NoCustomPartitioner> for AuthenticationWatch {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// How the login went.
#[derive(Debug)]
pub enum LoginCheck {
    /// A broker answered a metadata request: the credentials work.
    Accepted,
    /// No broker answered within the timeout, and none refused the login either.
    Unreachable(BrokerError),
}

/// Asks the cluster for metadata for at most `timeout`. `Err` only when a broker rejected
/// the login or the TLS handshake: that is the operator's to fix, retrying cannot help.
pub async fn verify_login(
    clients: &KafkaClients,
    timeout: Duration,
) -> Result<LoginCheck, BrokerError> {
    let watch = AuthenticationWatch::default();
    let producer: BaseProducer<AuthenticationWatch> = clients
        .base_config()
        .create_with_context(watch.clone())
        .map_err(|source| BrokerError::kafka("login check client creation", source))?;
    let login = describe_login(clients);
    crate::task::spawn_blocking("kafka-login-check", move || {
        let deadline = Instant::now() + timeout;
        loop {
            // Serves the error callback.
            producer.poll(Duration::from_millis(100));
            if let Some(reason) = watch.failure() {
                return Err(BrokerError::Authentication {
                    operation: "login",
                    reason: format!("{reason} ({login})"),
                });
            }
            let last = match producer
                .client()
                .fetch_metadata(None, Duration::from_millis(500))
            {
                Ok(_) => return Ok(LoginCheck::Accepted),
                Err(error) => error,
            };
            if Instant::now() >= deadline {
                return Ok(LoginCheck::Unreachable(BrokerError::kafka(
                    "metadata request",
                    last,
                )));
            }
        }
    })
    .await
    .map_err(|join_error| BrokerError::Other {
        kind: crate::ErrorKind::Internal,
        message: format!("login check task failed: {join_error}"),
    })?
}

/// The non-secret settings that decide how the gateway logs in.
fn describe_login(clients: &KafkaClients) -> String {
    let cluster = clients.cluster();
    let property = |name: &str| {
        cluster
            .properties()
            .get(name)
            .map_or("(unset)", String::as_str)
            .to_owned()
    };
    format!(
        "bootstrap {}, security.protocol {}, sasl.mechanism {}, sasl.username {}",
        cluster.bootstrap_servers(),
        cluster.security_protocol().to_ascii_uppercase(),
        property("sasl.mechanism"),
        property("sasl.username"),
    )
}
