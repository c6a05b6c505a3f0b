//! The owner's periodic duties, every third of the lease: its heartbeat, the last use of
//! its instances, tombstones for the instances it expired, re-assertion of contested
//! records, and closing the instances the directory gives to another node.

use std::collections::HashMap;
use std::sync::Arc;

use broker_core::Shutdown;

use super::ClusterNode;
use super::record::InstanceKey;
use crate::state::BridgeState;

/// A last use that moved by less than this is not written again.
const LAST_USE_RESOLUTION_MS: i64 = 1000;

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
        let (owned, contested) = self.log.read(|directory| {
            let owned: HashMap<InstanceKey, super::record::InstanceRecord> = directory
                .instances
                .iter()
                .filter(|(_, record)| record.owner == self.node_id)
                .map(|(key, record)| (key.clone(), record.clone()))
                .collect();
            (owned, directory.contested.clone())
        });
        self.log.update(|directory| directory.contested.clear());
        for (key, record) in &owned {
            if self.is_in_flight(key) {
                continue;
            }
            let Some(instance) = state.consumers().peek(&key.0, &key.1) else {
                tracing::info!(group = %key.0, instance = %key.1, "consumer instance gone here (expired), removing it from the directory");
                if let Err(error) = self.write_tombstone(&key.0, &key.1).await {
                    tracing::warn!(error = %error.message, "tombstone write failed; retrying next period");
                }
                continue;
            };
            let idle = i64::try_from(instance.idle_for().as_millis()).unwrap_or(i64::MAX);
            let last_used_ms = super::now_ms().saturating_sub(idle);
            let moved = last_used_ms - record.last_used_ms >= LAST_USE_RESOLUTION_MS;
            if moved || contested.contains(key) {
                let mut refreshed = record.clone();
                refreshed.last_used_ms = refreshed.last_used_ms.max(last_used_ms);
                if let Err(error) = self.write_instance(&refreshed).await {
                    tracing::warn!(error = %error.message, "instance refresh failed; retrying next period");
                }
            }
        }
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
