//! Taking over the instance of a dead node: claim it in the directory, learn from the
//! topic's order whether the claim won, recreate the consumer as its create request and
//! its last recorded subscription or assignment describe it.
//!
//! The new consumer joins the same group. With a subscription, the group hands it the
//! partitions once the dead member's session timed out (or at once after a graceful stop,
//! which leaves the group); an assignment starts at the group's committed offsets. Either
//! way positions are the last commit: records handed out and not committed come again.

use super::ClusterNode;
use super::record::{InstanceKey, InstanceRecord, ModeRecord};
use crate::caller::Caller;
use crate::consumers::create;
use crate::consumers::instance::ConsumerInstance;
use crate::error::ApiError;
use crate::state::BridgeState;

/// What became of a takeover.
#[derive(Debug)]
pub(crate) enum Takeover {
    /// The instance now lives here.
    Done,
    /// Another node's claim came first: it owns the instance now.
    Lost(InstanceRecord),
    /// Unknown, or expired while its owner was dead (a tombstone was written): 40403.
    Gone,
}

impl ClusterNode {
    /// Takes `key` over from its dead owner for a request of `caller`.
    pub(crate) async fn take_over(
        &self,
        state: &BridgeState,
        caller: &Caller,
        key: &InstanceKey,
    ) -> Result<Takeover, ApiError> {
        let _one_at_a_time = self.takeover_lock.lock().await;
        if state.consumers().contains(&key.0, &key.1) {
            return Ok(Takeover::Done);
        }
        // The claim copies the latest subscription or assignment and continues its epoch.
        self.catch_up().await?;
        let Some(record) = self.lookup(key) else {
            return Ok(Takeover::Gone);
        };
        // The recorded last use lags the real one by up to the refresh resolution and a
        // heartbeat period: only an instance unused for longer than all that has expired.
        let instance_timeout = state.consumers().limits().instance_timeout;
        let slack = super::heartbeat::last_use_resolution(instance_timeout) + self.settings.lease;
        let timeout = i64::try_from((instance_timeout + slack).as_millis()).unwrap_or(i64::MAX);
        if super::now_ms().saturating_sub(record.last_used_ms) > timeout {
            tracing::info!(group = %key.0, instance = %key.1, owner = %record.owner, "consumer instance of a dead node expired");
            self.write_tombstone(&key.0, &key.1).await?;
            return Ok(Takeover::Gone);
        }
        let principal = caller.0.as_ref().map(|p| p.name.clone());
        if record.principal.is_some() && record.principal != principal {
            return Err(caller.forbidden(&format!(
                "use consumer instance {} of group {}, which another principal created",
                key.1, key.0
            )));
        }
        self.mark_in_flight(key);
        let result = self.claim_and_recreate(state, caller, key, record).await;
        self.clear_in_flight(key);
        result
    }

    async fn claim_and_recreate(
        &self,
        state: &BridgeState,
        caller: &Caller,
        key: &InstanceKey,
        record: InstanceRecord,
    ) -> Result<Takeover, ApiError> {
        let request = create::parse(state.config().flavor, record.create_body.clone())?;
        let mut config = state.consumer_config_for(caller, &key.0)?;
        for (name, value) in &request.properties {
            config.set(*name, value);
        }
        let previous_owner = record.owner.clone();
        let claim = InstanceRecord {
            owner: self.node_id.clone(),
            epoch: record.epoch + 1,
            last_used_ms: super::now_ms(),
            ..record
        };
        self.write_instance(&claim).await?;
        match self.lookup(key) {
            Some(now) if now.owner == self.node_id && now.epoch == claim.epoch => {}
            Some(winner) => return Ok(Takeover::Lost(winner)),
            None => return Ok(Takeover::Gone),
        }
        let consumer = broker_core::clients::create(&config, "consumer takeover")?;
        let instance = ConsumerInstance::new(
            key.0.clone(),
            key.1.clone(),
            request.settings,
            claim.principal.clone(),
            consumer,
        );
        {
            let mut guard = instance.state.lock().await;
            match &claim.mode {
                ModeRecord::Idle => {}
                ModeRecord::Subscribed { topics, pattern } => {
                    instance.subscribe(&mut guard, topics.clone(), pattern.clone())?;
                }
                ModeRecord::Assigned { partitions } => {
                    instance.assign(&mut guard, partitions.clone())?;
                }
            }
        }
        state.consumers().insert(instance)?;
        tracing::info!(group = %key.0, instance = %key.1, %previous_owner, epoch = claim.epoch, "consumer instance taken over");
        Ok(Takeover::Done)
    }
}
