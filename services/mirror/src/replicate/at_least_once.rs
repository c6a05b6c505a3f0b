//! At-least-once replication: the flow's tasks share the source partitions through a
//! consumer group (several processes with the same config split the work) as static
//! members (see [`crate::config::InstanceId`]), and a source
//! offset is committed only once (1) the target acknowledged every record before it and
//! (2) the offset-map runs covering those records were acknowledged too.
//!
//! Commits are pipelined: at each `offset.flush.interval.ms` the runs acknowledged so far
//! are written to the map, and the positions they cover are committed at the next tick
//! once the map records are acknowledged, so the data path never waits for a flush. On
//! revocation and shutdown the task drains: flush, write the last runs, flush, commit
//! synchronously.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::{BatchAck, Pipeline, TaskContext, consumer_config, create_producer};
use crate::error::MirrorError;

const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

struct RebalanceContext {
    pipeline: Arc<Pipeline>,
    /// A drain that failed during a revocation, reported by the loop.
    failure: std::sync::Mutex<Option<MirrorError>>,
    /// Set on revocation: a pending commit may name partitions another member owns now.
    revoked: std::sync::atomic::AtomicBool,
}

impl ClientContext for RebalanceContext {}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(revoked) = rebalance {
            let partitions: Vec<(String, i32)> = revoked
                .elements()
                .iter()
                .map(|e| (e.topic().to_owned(), e.partition()))
                .collect();
            tracing::info!(flow = %self.pipeline.flow_name(), partitions = partitions.len(), "partitions revoked, draining");
            if let Err(error) = drain(&self.pipeline, consumer) {
                tracing::warn!(flow = %self.pipeline.flow_name(), %error, "drain on revocation failed");
                *self
                    .failure
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
            }
            self.pipeline.remove_slots(&partitions);
            self.revoked.store(true, Ordering::Release);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(assigned) => {
                tracing::info!(flow = %self.pipeline.flow_name(), partitions = assigned.count(), "partitions assigned");
            }
            Rebalance::Revoke(_) => {
                tracing::debug!(flow = %self.pipeline.flow_name(), "partitions released");
            }
            Rebalance::Error(error) => {
                tracing::warn!(flow = %self.pipeline.flow_name(), %error, "rebalance failed");
            }
        }
    }
}

type SourceConsumer = BaseConsumer<RebalanceContext>;

fn positions_list(positions: &[(String, i32, i64)]) -> Result<TopicPartitionList, MirrorError> {
    let mut list = TopicPartitionList::new();
    for (topic, partition, offset) in positions {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|e| MirrorError::kafka(topic, "commit", e))?;
    }
    Ok(list)
}

/// Flush, write the last runs, wait for them, commit synchronously.
fn drain(pipeline: &Pipeline, consumer: &SourceConsumer) -> Result<(), MirrorError> {
    pipeline.flush(DRAIN_TIMEOUT)?;
    pipeline.check_failures()?;
    let batch = Arc::new(BatchAck::default());
    let positions = pipeline.write_runs(Some(&batch))?;
    pipeline.flush(DRAIN_TIMEOUT)?;
    if !batch.done() || batch.failed() {
        return Err(MirrorError::Task {
            task: pipeline.flow_name(),
            reason: "offset map records were not acknowledged; positions not committed".to_owned(),
        });
    }
    if !positions.is_empty() {
        consumer
            .commit(&positions_list(&positions)?, CommitMode::Sync)
            .map_err(|e| MirrorError::kafka(&pipeline.flow_name(), "commit", e))?;
    }
    tracing::debug!(flow = %pipeline.flow_name(), positions = positions.len(), "drained");
    Ok(())
}

struct PendingCommit {
    batch: Arc<BatchAck>,
    positions: Vec<(String, i32, i64)>,
}

/// The task's KIP-345 static member id: a restart under the same instance id gets the
/// partitions back from the coordinator at once instead of after the session timeout.
fn static_member(context: &TaskContext) -> String {
    let member = context.config.instance_id().member(
        &context.flow.source,
        &context.flow.target,
        context.task,
    );
    tracing::info!(flow = %context.flow.name(), task = context.task, %member, "joining the source group as a static member");
    member
}

/// librdkafka reports a fenced static member as a fatal consumer error.
fn is_fenced(consumer: &SourceConsumer, error: &KafkaError) -> bool {
    error.rdkafka_error_code() == Some(RDKafkaErrorCode::FencedInstanceId)
        || consumer
            .client()
            .fatal_error()
            .is_some_and(|(code, _)| code == RDKafkaErrorCode::FencedInstanceId)
}

pub(crate) fn run(context: &TaskContext) -> Result<(), MirrorError> {
    let flow = context.flow.name();
    let producer = create_producer(context, &context.flow.target, None)?;
    let pipeline = Arc::new(Pipeline::new(context.clone(), producer)?);
    let member = static_member(context);
    let mut config = consumer_config(context);
    config.set("group.instance.id", &member);
    let consumer: SourceConsumer = config
        .create_with_context(RebalanceContext {
            pipeline: Arc::clone(&pipeline),
            failure: std::sync::Mutex::new(None),
            revoked: std::sync::atomic::AtomicBool::new(false),
        })
        .map_err(|e| MirrorError::kafka(&flow, "consumer creation", e))?;
    let mut plan_receiver = context.plan.clone();
    let mut subscribed: Vec<String> = Vec::new();
    let mut pending: Option<PendingCommit> = None;
    let mut next_commit = Instant::now() + context.flow.commit_interval;
    let poll_timeout = context.flow.poll_timeout.min(Duration::from_millis(100));

    loop {
        if context.abandoned() {
            return Ok(());
        }
        if context.stop.load(Ordering::Relaxed) {
            break;
        }
        if plan_receiver.has_changed().unwrap_or(false) || subscribed.is_empty() {
            let plan = plan_receiver.borrow_and_update().clone();
            pipeline.set_plan(Arc::clone(&plan));
            let topics: Vec<String> = plan.keys().cloned().collect();
            if topics != subscribed && !topics.is_empty() {
                let names: Vec<&str> = topics.iter().map(String::as_str).collect();
                consumer
                    .subscribe(&names)
                    .map_err(|e| MirrorError::kafka(&flow, "subscribe", e))?;
                tracing::info!(%flow, task = context.task, topics = topics.len(), "subscribed");
                subscribed = topics;
            } else if topics.is_empty() {
                #[allow(
                    clippy::disallowed_methods,
                    reason = "a replication thread of its own, not a runtime thread"
                )]
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        }
        match consumer.poll(poll_timeout) {
            Some(Ok(message)) => pipeline.forward(&message)?,
            Some(Err(error)) if is_fenced(&consumer, &error) => {
                return Err(MirrorError::InstanceFenced { flow, member });
            }
            Some(Err(error)) => {
                if crate::error::is_retriable_kafka(&error) {
                    tracing::debug!(%flow, %error, "transient consumer error");
                } else {
                    return Err(MirrorError::kafka(&flow, "consume", error));
                }
            }
            None => {}
        }
        pipeline.poll_producers();
        if let Some(error) = consumer
            .context()
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            return Err(error);
        }
        if consumer.context().revoked.swap(false, Ordering::AcqRel) {
            // The drain committed everything acknowledged; older positions are stale.
            pending = None;
        }
        if Instant::now() >= next_commit {
            next_commit = Instant::now() + context.flow.commit_interval;
            pipeline.check_failures()?;
            if let Some(commit) = &pending {
                if commit.batch.failed() {
                    return Err(MirrorError::Task {
                        task: flow,
                        reason: "offset map records were refused by the target".to_owned(),
                    });
                }
                if commit.batch.done() {
                    if !commit.positions.is_empty() {
                        consumer
                            .commit(&positions_list(&commit.positions)?, CommitMode::Async)
                            .map_err(|e| MirrorError::kafka(&flow, "commit", e))?;
                    }
                    pending = None;
                }
            }
            if pending.is_none() {
                let batch = Arc::new(BatchAck::default());
                let positions = pipeline.write_runs(Some(&batch))?;
                pending = Some(PendingCommit { batch, positions });
            }
        }
    }
    tracing::info!(%flow, task = context.task, "stopping, draining");
    drain(&pipeline, &consumer)?;
    consumer.unsubscribe();
    Ok(())
}
