//! Exactly-once replication (`exactly.once.support=enabled`).
//!
//! Each task owns a fixed share of the source partitions (round-robin over the sorted
//! partition list, like MM2's `taskConfigs`) and a transactional producer with the id
//! `<replication.group.id>.<task>`. Every `offset.flush.interval.ms` it
//! flushes the records of the open transaction, adds the offset-map runs they form to the
//! *same* transaction and commits. The map is therefore the source position: on start the
//! task initialises transactions (fencing a zombie and aborting its open transaction),
//! reads the committed map and resumes each partition right after its last copied record.
//! A crash at any point leaves every record exactly once for `read_committed` readers.
//!
//! Source records are read `read_committed` (as MM2 requires for EOS). A second process
//! with the same config fences the first: run one active process per flow.

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

fn owned_partitions(
    context: &TaskContext,
    plan: &crate::topics::TopicPlan,
) -> BTreeSet<(String, i32)> {
    let mut all: Vec<(String, i32)> = plan
        .iter()
        .flat_map(|(topic, mirrored)| (0..mirrored.partitions).map(move |p| (topic.clone(), p)))
        .collect();
    all.sort();
    all.into_iter()
        .enumerate()
        .filter(|(index, _)| index % context.flow.tasks == context.task)
        .map(|(_, partition)| partition)
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
                    pipeline.set_plan(Arc::clone(&plan));
                    let wanted = owned_partitions(context, &plan);
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
    match result {
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
    }
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
