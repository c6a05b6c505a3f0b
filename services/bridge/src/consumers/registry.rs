//! Live consumer instances by `(group, name)`, with idle expiry.
//!
//! An instance unused for `consumer_instance_timeout_ms` is removed by a sweeper task (and,
//! should the sweeper lag, on the next lookup) and closed on the blocking pool: closing a
//! librdkafka consumer leaves the group and waits for the broker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::http::StatusCode;

use super::instance::ConsumerInstance;
use crate::config::ConsumerLimits;
use crate::error::ApiError;

type Key = (String, String);

#[derive(Debug)]
pub(crate) struct ConsumerRegistry {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    limits: ConsumerLimits,
    instances: Mutex<HashMap<Key, Arc<ConsumerInstance>>>,
    /// Parent of every instance's `closed` token: cancelled at shutdown so that streams end
    /// before the listener's drain deadline.
    streams: tokio_util::sync::CancellationToken,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<ConsumerInstance>>> {
        self.instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes instances idle past the timeout and not serving a request.
    fn expire(&self) -> Vec<Arc<ConsumerInstance>> {
        let timeout = self.limits.instance_timeout;
        let mut instances = self.lock();
        let expired: Vec<Key> = instances
            .iter()
            .filter(|(_, instance)| {
                instance.idle_for() > timeout && instance.state.try_lock().is_ok()
            })
            .map(|(key, _)| key.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|key| instances.remove(&key))
            .collect()
    }
}

/// Closes instances off the async runtime.
fn close(instances: Vec<Arc<ConsumerInstance>>) {
    if instances.is_empty() {
        return;
    }
    for instance in &instances {
        tracing::info!(group = %instance.group, instance = %instance.name, "closing consumer instance");
        instance.closed.cancel();
    }
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            broker_core::task::spawn_blocking_on(&handle, "bridge-consumers-close", move || {
                drop(instances);
            });
        }
        Err(_) => drop(instances),
    }
}

impl ConsumerRegistry {
    /// Starts the expiry sweeper when called inside a tokio runtime; it stops once the
    /// registry is dropped.
    pub(crate) fn new(limits: ConsumerLimits) -> Self {
        let inner = Arc::new(Shared {
            limits,
            instances: Mutex::new(HashMap::new()),
            streams: tokio_util::sync::CancellationToken::new(),
        });
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&inner);
            let period = (inner.limits.instance_timeout / 4)
                .clamp(Duration::from_millis(100), Duration::from_secs(5));
            broker_core::task::spawn_on(&handle, "bridge-consumer-sweeper", sweep(weak, period));
        }
        Self { inner }
    }

    pub(crate) fn limits(&self) -> &ConsumerLimits {
        &self.inner.limits
    }

    /// Registers a new instance: 40902 when the name is taken in the group, 429 at the
    /// instance limit.
    pub(crate) fn insert(
        &self,
        mut instance: ConsumerInstance,
    ) -> Result<Arc<ConsumerInstance>, ApiError> {
        instance.closed = self.inner.streams.child_token();
        close(self.inner.expire());
        let key = (instance.group.clone(), instance.name.clone());
        let mut instances = self.inner.lock();
        if instances.contains_key(&key) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                40902,
                format!(
                    "Consumer instance with the specified name {} already exists in group {}.",
                    key.1, key.0
                ),
            ));
        }
        if instances.len() >= self.inner.limits.max_instances {
            return Err(ApiError::plain(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "The bridge already runs the maximum of {} consumer instances; delete \
                     unused ones or raise `max_consumer_instances`.",
                    self.inner.limits.max_instances
                ),
            ));
        }
        let instance = Arc::new(instance);
        instances.insert(key, Arc::clone(&instance));
        Ok(instance)
    }

    pub(crate) fn contains(&self, group: &str, name: &str) -> bool {
        self.inner
            .lock()
            .contains_key(&(group.to_owned(), name.to_owned()))
    }

    /// The principal that created the instance: `None` when the instance is unknown,
    /// `Some(None)` when it was created without authentication.
    pub(crate) fn owner(&self, group: &str, name: &str) -> Option<Option<String>> {
        self.inner
            .lock()
            .get(&(group.to_owned(), name.to_owned()))
            .map(|instance| instance.owner.clone())
    }

    /// The live instance, marked as used; 40403 when unknown or expired.
    pub(crate) fn get(&self, group: &str, name: &str) -> Result<Arc<ConsumerInstance>, ApiError> {
        close(self.inner.expire());
        let instance = self
            .inner
            .lock()
            .get(&(group.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| ApiError::instance_not_found(group, name))?;
        instance.touch();
        Ok(instance)
    }

    /// The live instance without marking it used (for the cluster's bookkeeping).
    pub(crate) fn peek(&self, group: &str, name: &str) -> Option<Arc<ConsumerInstance>> {
        self.inner
            .lock()
            .get(&(group.to_owned(), name.to_owned()))
            .cloned()
    }

    /// `(group, name)` of every live instance.
    pub(crate) fn keys(&self) -> Vec<(String, String)> {
        self.inner.lock().keys().cloned().collect()
    }

    pub(crate) fn remove(&self, group: &str, name: &str) -> Result<(), ApiError> {
        let removed = self
            .inner
            .lock()
            .remove(&(group.to_owned(), name.to_owned()))
            .ok_or_else(|| ApiError::instance_not_found(group, name))?;
        close(vec![removed]);
        Ok(())
    }

    /// Ends every stream (the instances stay until [`Self::close_all`]).
    pub(crate) fn end_streams(&self) {
        self.inner.streams.cancel();
    }

    /// Closes every instance and waits for the consumers to leave their groups.
    pub(crate) async fn close_all(&self) {
        self.end_streams();
        let all: Vec<Arc<ConsumerInstance>> = self.inner.lock().drain().map(|(_, v)| v).collect();
        let count = all.len();
        if broker_core::task::spawn_blocking("bridge-consumers-close", move || drop(all))
            .await
            .is_err()
        {
            tracing::warn!("closing consumer instances failed");
        }
        tracing::info!(count, "consumer instances closed");
    }
}

async fn sweep(registry: Weak<Shared>, period: Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(registry) = registry.upgrade() else {
            return;
        };
        close(registry.expire());
    }
}
