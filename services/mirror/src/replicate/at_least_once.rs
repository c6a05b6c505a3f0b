//! At-least-once replication: the flow's tasks share the source partitions through a
//! consumer group (several processes with the same config split the work) as static
//! members (see [`crate::config::InstanceId`]), and a source
//! offset is committed only once (1) the target acknowledged every record before it and
//! (2) the offset-map runs covering those records were acknowledged too.
//!
//! Commits are pipelined: at each `offset.flush.interval.ms` the runs acknowledged so far
//! are written to the map, and the positions they cover are committed as soon as the map
//! records are acknowledged, so the data path never waits for a flush and a crash re-copies
//! at most one interval (plus the map's acknowledgement time). On
//! revocation and shutdown the task drains: flush, write the last runs, flush, commit
//! synchronously.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::Producer;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::{BatchAck, Cadence, Pipeline, TaskContext, consumer_config, create_producer};
use crate::error::MirrorError;

const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

struct RebalanceContext {
    pipeline: Arc<Pipeline>,
    /// This task's `group.instance.id`.
    member: String,
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
            // Lost (the session expired, e.g. while the coordinator was down): another
            // member may own them already, and a commit under the old member id would fence
            // this static member. What was copied and not committed is copied again.
            let lost = consumer.assignment_lost();
            tracing::info!(flow = %self.pipeline.flow_name(), partitions = partitions.len(), lost, "partitions revoked, draining");
            if let Err(error) = drain(&self.pipeline, consumer, !lost) {
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

/// Flush, write the last runs, wait for them, commit synchronously (unless `commit` is
/// false: the partitions are lost).
fn drain(pipeline: &Pipeline, consumer: &SourceConsumer, commit: bool) -> Result<(), MirrorError> {
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
    if commit && !positions.is_empty() {
        consumer
            .commit(&positions_list(&positions)?, CommitMode::Sync)
            .map_err(|e| consumer_failure(consumer, &pipeline.flow_name(), "commit", e))?;
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

/// A consumer error, sorted by what the supervisor must do. A fatal error leaves the
/// consumer unusable: the task is restarted with a new one. A fenced static member is
/// [`MirrorError::InstanceFenced`]: a librdkafka consumer can fence itself after its session
/// expired (its old member id is stale), so the supervisor restarts it once, and stops only
/// when it is fenced again soon after (another process has the same instance id).
fn consumer_failure(
    consumer: &SourceConsumer,
    flow: &str,
    operation: &'static str,
    error: KafkaError,
) -> MirrorError {
    let fatal = consumer.client().fatal_error();
    let fenced = error.rdkafka_error_code() == Some(RDKafkaErrorCode::FencedInstanceId)
        || fatal
            .as_ref()
            .is_some_and(|(code, _)| *code == RDKafkaErrorCode::FencedInstanceId);
    match fatal {
        _ if fenced => MirrorError::InstanceFenced {
            flow: flow.to_owned(),
            member: consumer.context().member.clone(),
        },
        Some((code, reason)) => MirrorError::Task {
            task: flow.to_owned(),
            reason: format!("the source consumer failed ({code:?}: {reason}) during {operation}"),
        },
        None => MirrorError::kafka(flow, operation, error),
    }
}

/// A task that holds partitions and receives nothing says so, with what librdkafka knows
/// (assignment, fetch positions, records waiting for the target), so a stalled flow can be
/// told from an idle one in the log.
struct StallReport {
    /// When a record was last seen at a check; `received` says whether one came since.
    last_record: Instant,
    received: bool,
    last_report: Instant,
}

impl StallReport {
    const AFTER: Duration = Duration::from_secs(30);

    fn new() -> Self {
        Self {
            last_record: Instant::now(),
            received: false,
            last_report: Instant::now(),
        }
    }

    /// Per record: no clock read, the next check dates it.
    fn progressed(&mut self) {
        self.received = true;
    }

    fn report_if_due(&mut self, consumer: &SourceConsumer, pipeline: &Pipeline) {
        if std::mem::take(&mut self.received) {
            self.last_record = Instant::now();
            return;
        }
        if self.last_record.elapsed() < Self::AFTER || self.last_report.elapsed() < Self::AFTER {
            return;
        }
        self.last_report = Instant::now();
        let Ok(assignment) = consumer.assignment() else {
            return;
        };
        if assignment.count() == 0 {
            return;
        }
        let positions: Vec<String> = consumer
            .position()
            .map(|list| {
                list.elements()
                    .iter()
                    .map(|e| format!("{}[{}]@{:?}", e.topic(), e.partition(), e.offset()))
                    .collect()
            })
            .unwrap_or_default();
        tracing::info!(
            flow = %pipeline.flow_name(),
            idle_seconds = self.last_record.elapsed().as_secs(),
            partitions = assignment.count(),
            ?positions,
            waiting_for_target = pipeline.producer.in_flight_count(),
            "no source record received"
        );
    }
}

pub(crate) fn run(context: &TaskContext) -> Result<(), MirrorError> {
    let flow = context.flow.name();
    let producer = create_producer(context, &context.flow.target, None)?;
    let pipeline = Arc::new(Pipeline::new(context.clone(), producer)?);
    let member = static_member(context);
    let mut config = consumer_config(context);
    config.set("group.instance.id", &member);
    // DescribeGroups shows the client id, not the instance id: `mirror status` names the
    // process and task by it unless the properties chose one.
    if !context
        .config
        .cluster(&context.flow.source)
        .consumer
        .contains_key("client.id")
    {
        config.set("client.id", &member);
    }
    let consumer: SourceConsumer = config
        .create_with_context(RebalanceContext {
            pipeline: Arc::clone(&pipeline),
            member: member.clone(),
            failure: std::sync::Mutex::new(None),
            revoked: std::sync::atomic::AtomicBool::new(false),
        })
        .map_err(|e| MirrorError::kafka(&flow, "consumer creation", e))?;
    let mut plan_receiver = context.plan.clone();
    let mut subscribed: Vec<String> = Vec::new();
    let mut pending: Option<PendingCommit> = None;
    let mut next_commit = Instant::now() + context.flow.commit_interval;
    let poll_timeout = context.flow.poll_timeout.min(Duration::from_millis(100));
    let mut stall = StallReport::new();
    let mut cadence = Cadence::default();

    loop {
        if cadence.due() {
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
                    cadence.idle();
                    continue;
                }
            }
            pipeline.poll_producers();
            stall.report_if_due(&consumer, &pipeline);
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
            // Committed as soon as the map records are acknowledged (not at the next tick),
            // so a crash re-copies at most one interval of records.
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
                            .map_err(|e| consumer_failure(&consumer, &flow, "commit", e))?;
                    }
                    pending = None;
                }
            }
            if Instant::now() >= next_commit {
                next_commit = Instant::now() + context.flow.commit_interval;
                pipeline.check_failures()?;
                if pending.is_none() {
                    let batch = Arc::new(BatchAck::default());
                    let positions = pipeline.write_runs(Some(&batch))?;
                    pending = Some(PendingCommit { batch, positions });
                }
            }
        }
        match consumer.poll(poll_timeout) {
            Some(Ok(message)) => {
                stall.progressed();
                pipeline.forward(&message)?;
                cadence.copied();
            }
            Some(Err(error)) => {
                if crate::error::is_retriable_kafka(&error)
                    && consumer.client().fatal_error().is_none()
                {
                    tracing::debug!(%flow, %error, "transient consumer error");
                } else {
                    return Err(consumer_failure(&consumer, &flow, "consume", error));
                }
                cadence.idle();
            }
            None => cadence.idle(),
        }
        // A rebalance (served inside `poll`) must be acted on before the next commit.
        if consumer.context().revoked.load(Ordering::Acquire) {
            cadence.idle();
        }
    }
    tracing::info!(%flow, task = context.task, "stopping, draining");
    drain(&pipeline, &consumer, true)?;
    consumer.unsubscribe();
    Ok(())
}
