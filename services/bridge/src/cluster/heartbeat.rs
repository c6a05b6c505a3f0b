//! The owner's periodic duties, every third of the lease: its heartbeat, the last use of
//! its instances, tombstones for the instances it expired, re-assertion of contested
//! records, and closing the instances the directory gives to another node.

use std::sync::Arc;
use std::time::Duration;

use broker_core::Shutdown;

use super::ClusterNode;
use super::record::{InstanceKey, InstanceRecord, instance_key};
use crate::state::BridgeState;

pub(super) fn spawn(node: Arc<ClusterNode>, state: BridgeState, shutdown: Shutdown) {
    let period = node.settings.lease / 3;
    broker_core::task::spawn("bridge-cluster-heartbeat", async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.wait() => return,
                _ = ticker.tick() => {}
            }
            if let Err(error) = node.write_heartbeat(false).await {
                tracing::warn!(%error, "bridge node heartbeat write failed; retrying next period");
                continue;
            }
            node.tend_instances(&state).await;
        }
    });
}

impl ClusterNode {
    async fn tend_instances(&self, state: &BridgeState) {
        let resolution = i64::try_from(
            last_use_resolution(state.consumers().limits().instance_timeout).as_millis(),
        )
        .unwrap_or(i64::MAX);
        // Read and written under the owner's write lock: a subscription change or a
        // deletion made meanwhile is not overwritten by a refresh of an older copy.
        let writes = self.write_lock.lock().await;
        let (owned, contested) = self.log.read(|directory| {
            let owned: Vec<(InstanceKey, InstanceRecord)> = directory
                .instances
                .iter()
                .filter(|(_, record)| record.owner == self.node_id)
                .map(|(key, record)| (key.clone(), record.clone()))
                .collect();
            (owned, directory.contested.clone())
        });
        self.log.update(|directory| directory.contested.clear());
        let mut batch: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for (key, record) in owned {
            if self.is_in_flight(&key) {
                continue;
            }
            let Some(instance) = state.consumers().peek(&key.0, &key.1) else {
                tracing::info!(group = %key.0, instance = %key.1, "consumer instance gone here (expired), removing it from the directory");
                batch.push((instance_key(&key.0, &key.1), None));
                continue;
            };
            let idle = i64::try_from(instance.idle_for().as_millis()).unwrap_or(i64::MAX);
            let last_used_ms = super::now_ms().saturating_sub(idle);
            let moved = last_used_ms - record.last_used_ms >= resolution;
            if moved || contested.contains(&key) {
                let refreshed = InstanceRecord {
                    last_used_ms: record.last_used_ms.max(last_used_ms),
                    ..record
                };
                let value = serde_json::to_vec(&refreshed).unwrap_or_default();
                batch.push((instance_key(&key.0, &key.1), Some(value)));
            }
        }
        // One batch, one read-back: a node owning thousands of instances still writes its
        // next heartbeat on time.
        if !batch.is_empty()
            && let Err(error) = self.log.write_all(&batch).await
        {
            tracing::warn!(%error, "instance directory refresh failed; retrying next period");
        }
        drop(writes);
        let creating = self.creations.load(std::sync::atomic::Ordering::SeqCst) > 0;
        for key in state.consumers().keys() {
            let elsewhere = match self.lookup(&key) {
                Some(record) => record.owner != self.node_id,
                None => !creating && !self.is_in_flight(&key),
            };
            if elsewhere {
                super::route::fence(state, &key);
            }
        }
    }
}

/// How far the recorded last use of an instance may lag behind the real one: a tenth of
/// the instance timeout, between 1 s and 60 s, so that busy instances cost a directory
/// record now and then, not at every heartbeat.
pub(super) fn last_use_resolution(instance_timeout: Duration) -> Duration {
    (instance_timeout / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_use_resolution_is_a_tenth_of_the_timeout_within_bounds() {
        assert_eq!(
            last_use_resolution(Duration::from_secs(300)),
            Duration::from_secs(30)
        );
        assert_eq!(
            last_use_resolution(Duration::from_secs(4)),
            Duration::from_secs(1)
        );
        assert_eq!(
            last_use_resolution(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
    }
}
