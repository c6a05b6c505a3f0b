//! Principal propagation: which Kafka identity a request runs with, and one producer per
//! propagated principal.
//!
//! A principal with an entry in `[bridge.kafka_identities.principals]` produces through a
//! producer of its own (created on first use, closed after `idle_timeout_ms` unused) and
//! its consumer instances connect with its credentials, so Kafka's ACLs decide what it may
//! do: a refused record gets 40301 in its `offsets[]` entry. Metadata reads (partition
//! counts, topic descriptions) keep the gateway's identity.
//!
//! Depends on `caller` (whose principal) and on the config; `state` holds the producers
//! and nothing here imports `state` or `authz` (dependencies run `authz` → `state` →
//! `identity` → `caller`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use rdkafka::config::ClientConfig;
use rdkafka::producer::FutureProducer;

use crate::caller::Caller;
use crate::config::{Unmapped, ValidatedBridge};
use crate::error::ApiError;

/// Producers of propagated principals, by principal name.
#[derive(Default)]
pub(crate) struct PrincipalProducers {
    producers: Mutex<HashMap<String, (Arc<FutureProducer>, Instant)>>,
}

impl std::fmt::Debug for PrincipalProducers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrincipalProducers").finish_non_exhaustive()
    }
}

/// A principal's name and its Kafka properties.
pub(crate) type Identity<'a> = (&'a str, &'a BTreeMap<String, String>);

/// The Kafka properties of the caller's own identity; `None` = the gateway's identity.
pub(crate) fn properties_of<'a>(
    config: &'a ValidatedBridge,
    caller: &Caller,
) -> Result<Option<Identity<'a>>, ApiError> {
    let Some(principal) = &caller.0 else {
        return Ok(None);
    };
    let identities = &config.identities;
    match identities.principals.get_key_value(&principal.name) {
        Some((name, properties)) => Ok(Some((name.as_str(), properties))),
        None if identities.unmapped == Unmapped::Refuse => Err(ApiError::forbidden(format!(
            "Principal {} has no Kafka identity (bridge.kafka_identities.principals) and \
             unmapped principals are refused.",
            principal.name
        ))),
        None => Ok(None),
    }
}

/// Layers a principal's identity over a client config of the gateway's.
pub(crate) fn apply(
    config: &mut ClientConfig,
    principal: &str,
    properties: &BTreeMap<String, String>,
) {
    for (name, value) in properties {
        config.set(name, value.trim());
    }
    // Brokers log and quota by client id: name the principal.
    let base = config
        .get("client.id")
        .unwrap_or("kafka-gateway")
        .to_owned();
    config.set("client.id", format!("{base}-{principal}"));
}

impl PrincipalProducers {
    /// The principal's producer, created from `make` on first use. Producers idle longer
    /// than the configured timeout, with no request using them, are closed here.
    pub(crate) fn get_or_create(
        &self,
        config: &ValidatedBridge,
        principal: &str,
        make: impl FnOnce() -> Result<FutureProducer, ApiError>,
    ) -> Result<Arc<FutureProducer>, ApiError> {
        let idle = config.identities.idle_timeout;
        let mut producers = self
            .producers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let expired: Vec<String> = producers
            .iter()
            .filter(|(_, (producer, used))| {
                Arc::strong_count(producer) == 1 && used.elapsed() >= idle
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in expired {
            if let Some((producer, _)) = producers.remove(&name) {
                tracing::info!(principal = %name, "closing the idle producer of a principal");
                // Strimzi's async=true records may still be queued: flush before the drop,
                // off the async threads.
                broker_core::task::spawn_blocking("bridge-principal-producer-close", move || {
                    let _ = rdkafka::producer::Producer::flush(
                        producer.as_ref(),
                        std::time::Duration::from_secs(30),
                    );
                });
            }
        }
        if let Some((producer, used)) = producers.get_mut(principal) {
            *used = Instant::now();
            return Ok(Arc::clone(producer));
        }
        let producer = Arc::new(make()?);
        tracing::info!(
            principal,
            "producer created with the principal's Kafka identity"
        );
        producers.insert(
            principal.to_owned(),
            (Arc::clone(&producer), Instant::now()),
        );
        Ok(producer)
    }

    /// Every principal producer, to flush on shutdown.
    pub(crate) fn all(&self) -> Vec<Arc<FutureProducer>> {
        self.producers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|(producer, _)| Arc::clone(producer))
            .collect()
    }
}
