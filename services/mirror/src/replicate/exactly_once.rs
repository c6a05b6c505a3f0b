//! Exactly-once replication (`exactly.once.support=enabled`).
//!
//! Each task owns a fixed share of the source partitions (see [`task_of`]) and a
//! transactional producer with the id `<replication.group.id>.<task>`. Every `offset.flush.interval.ms` it
//! flushes the records of the open transaction, adds the offset-map runs they form to the
//! *same* transaction and commits. The map is therefore the source position: on start the
//! task initialises transactions (fencing a zombie and aborting its open transaction),
//! reads the committed map and resumes each partition right after its last copied record.
//! A crash at any point leaves every record exactly once for `read_committed` readers.
//!
//! Source records are read `read_committed` (as MM2 requires for EOS). Which process runs
//! which task is decided by [`super::leases`]: several processes share a flow's tasks, and
//! a task's new owner fences its old one through the transactional id.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};

use super::{Cadence, Pipeline, TaskContext, consumer_config, create_producer};
use crate::error::MirrorError;
use crate::offsets::load_offset_map;
use crate::offsets::map::OffsetMap;

const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn transactional_id(context: &TaskContext) -> String {
    format!("{}.{}", context.flow.group_id, context.task)
}

/// The task that copies `topic[partition]` among `tasks`: the topic's partitions
/// round-robin from a start that depends on the topic name alone. A partition's task must
/// not change when other topics come or go (every process computes it from its own view of
/// the topic list, and two tasks copying one partition would copy it twice), and many
/// small topics must not all start at task 0. The name hash is FNV-1a, written out here
/// because it must give the same value in every process and release (std's hashers do not
/// promise that).
pub(crate) fn task_of(topic: &str, partition: i32, tasks: usize) -> usize {
    let hash = topic.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    let start = usize::try_from(hash).unwrap_or_default();
    let partition = usize::try_from(partition).unwrap_or_default();
    start.wrapping_add(partition) % tasks.max(1)
}

fn owned_partitions(
    context: &TaskContext,
    plan: &crate::topics::TopicPlan,
) -> BTreeSet<(String, i32)> {
    plan.iter()
        .flat_map(|(topic, mirrored)| (0..mirrored.partitions).map(move |p| (topic.clone(), p)))
        .filter(|(topic, partition)| task_of(topic, *partition, context.flow.tasks) == context.task)
        .collect()
}

pub(crate) fn run(context: &TaskContext) -> Result<(), MirrorError> {
    let flow = context.flow.name();
    let producer = create_producer(
        context,
        &context.flow.target,
        Some(&transactional_id(context)),
    )?;
    producer
        .init_transactions(TRANSACTION_TIMEOUT)
        .map_err(|e| MirrorError::kafka(&flow, "init transactions", e))?;
    let pipeline = Pipeline::new(context.clone(), producer)?;
    let target = broker_core::KafkaClients::new(
        context.config.cluster(&context.flow.target).cluster.clone(),
    );
    let map: OffsetMap =
        load_offset_map(&target, &context.map_topic(), context.flow.admin_timeout)?;

    let mut config = consumer_config(context);
    config.set("isolation.level", "read_committed");
    let consumer: BaseConsumer = config
        .create()
        .map_err(|e| MirrorError::kafka(&flow, "consumer creation", e))?;
    let mut plan_receiver = context.plan.clone();
    let mut assigned: BTreeSet<(String, i32)> = BTreeSet::new();
    let poll_timeout = context.flow.poll_timeout.min(Duration::from_millis(100));
    let mut in_transaction = false;
    let mut next_commit = Instant::now() + context.flow.commit_interval;

    let mut cadence = Cadence::default();

    let result = (|| -> Result<(), MirrorError> {
        loop {
            if cadence.due() {
                if context.abandoned() {
                    // A crash: leave the transaction open; the next start fences and aborts it.
                    in_transaction = false;
                    return Ok(());
                }
                if context.stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if plan_receiver.has_changed().unwrap_or(false) || assigned.is_empty() {
                    let plan = plan_receiver.borrow_and_update().clone();
                    let wanted = owned_partitions(context, &plan);
                    let gone: Vec<(String, i32)> = assigned.difference(&wanted).cloned().collect();
                    if !gone.is_empty() {
                        // A topic left the flow: what was read of it is committed with the
                        // open transaction, then nothing more is read.
                        if in_transaction {
                            commit(&pipeline)?;
                            in_transaction = false;
                        }
                        release(&consumer, &gone)
                            .map_err(|e| MirrorError::kafka(&flow, "unassign", e))?;
                        pipeline.remove_slots(&gone);
                        for partition in &gone {
                            assigned.remove(partition);
                        }
                    }
                    pipeline.set_plan(Arc::clone(&plan));
                    let mut added = TopicPartitionList::new();
                    for (topic, partition) in wanted.difference(&assigned) {
                        let end = map.replicated_end(topic, *partition);
                        if let Some(end) = end {
                            // Nothing is committed on the source in this mode: the lag
                            // measurement starts from what the map says was copied.
                            pipeline.seed_position(topic, *partition, end);
                        }
                        let offset = end.map_or(Offset::Beginning, Offset::Offset);
                        added
                            .add_partition_offset(topic, *partition, offset)
                            .map_err(|e| MirrorError::kafka(&flow, "assign", e))?;
                    }
                    if added.count() > 0 {
                        consumer
                            .incremental_assign(&added)
                            .map_err(|e| MirrorError::kafka(&flow, "assign", e))?;
                        tracing::info!(%flow, task = context.task, partitions = added.count(), "assigned partitions");
                        assigned.extend(wanted);
                    }
                    if assigned.is_empty() {
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
                if in_transaction && Instant::now() >= next_commit {
                    commit(&pipeline)?;
                    in_transaction = false;
                    next_commit = Instant::now() + context.flow.commit_interval;
                }
            }
            match consumer.poll(poll_timeout) {
                Some(Ok(message)) => {
                    if !in_transaction {
                        pipeline
                            .producer
                            .begin_transaction()
                            .map_err(|e| MirrorError::kafka(&flow, "begin transaction", e))?;
                        in_transaction = true;
                    }
                    pipeline.forward(&message)?;
                    cadence.copied();
                }
                Some(Err(error)) => {
                    if crate::error::is_retriable_kafka(&error) {
                        tracing::debug!(%flow, %error, "transient consumer error");
                    } else {
                        return Err(MirrorError::kafka(&flow, "consume", error));
                    }
                    cadence.idle();
                }
                None => cadence.idle(),
            }
        }
    })();
    let owned: Vec<(String, i32)> = assigned.into_iter().collect();
    let outcome = match result {
        Ok(()) if in_transaction => commit(&pipeline),
        Ok(()) => Ok(()),
        Err(error) => {
            if in_transaction
                && let Err(abort) = pipeline.producer.abort_transaction(TRANSACTION_TIMEOUT)
            {
                tracing::warn!(%flow, error = %abort, "abort failed; the next start fences it");
            }
            Err(error)
        }
    };
    // The task may move to another process: its partitions' lag is no longer ours to report.
    pipeline.remove_slots(&owned);
    outcome
}

fn release(
    consumer: &BaseConsumer,
    partitions: &[(String, i32)],
) -> rdkafka::error::KafkaResult<()> {
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    consumer.incremental_unassign(&list)
}

/// Flushes the transaction's records, adds their offset-map runs, commits.
fn commit(pipeline: &Pipeline) -> Result<(), MirrorError> {
    let flow = pipeline.flow_name();
    pipeline.flush(TRANSACTION_TIMEOUT)?;
    pipeline.check_failures()?;
    pipeline.write_runs(None)?;
    pipeline
        .producer
        .commit_transaction(TRANSACTION_TIMEOUT)
        .map_err(|e| MirrorError::kafka(&flow, "commit transaction", e))
}

#[cfg(test)]
mod tests {
    use super::task_of;

    #[test]
    fn a_topics_partitions_spread_evenly_and_never_depend_on_other_topics() {
        let mut per_task = [0; 12];
        for partition in 0..12 {
            per_task[task_of("orders", partition, 12)] += 1;
        }
        assert_eq!(per_task, [1; 12]);
        // The same answer whatever else is mirrored, in every process and release.
        assert_eq!(task_of("orders", 5, 12), task_of("orders", 5, 12));
        assert_eq!(task_of("orders", 0, 4), 0x325e_96ec_usize % 4);
        assert_eq!(task_of("anything", 3, 1), 0);
    }

    #[test]
    fn single_partition_topics_do_not_all_land_on_task_zero() {
        let tasks: std::collections::BTreeSet<usize> = (0..40)
            .map(|i| task_of(&format!("topic-{i}"), 0, 4))
            .collect();
        assert_eq!(tasks.len(), 4);
    }
}
