//! The source task loop.
//!
//! poll → SMTs → converters → produce every record; the next poll does not wait for the
//! acknowledgements (up to [`MAX_BATCHES_IN_FLIGHT`] batches are in flight). Batches are
//! reaped in order as Kafka acknowledges them, and the last offset per source partition of
//! what is acknowledged is stored in the offsets topic every `offset.flush.interval.ms`,
//! when the source goes idle, and before a pause or stop → `commit()`. Offsets are written
//! only after Kafka acknowledged every record before them, so a crash at any point replays
//! (duplicates) but never skips. Backpressure is explicit: when librdkafka's queue is full
//! (broker-core's produce path: short backoff, counted, bounded; see [`send`]) or too many
//! batches are in flight, the loop waits for acknowledgements.
//!
//! With exactly-once sources the batches go into transactions with their offsets instead,
//! ended at the connector's `transaction.boundary` ([`super::source_transaction`]); the
//! offsets live where `offsets.storage.topic` says ([`super::source_offsets`]).
//!
//! A connector with `producer.override.*` gets its own producer per task (client id
//! `connector-producer-<connector>-<task>`, as Kafka names it); the others share the
//! worker's. Topics missing with `topic.creation.*` set are created before the first
//! record goes to them (see [`crate::worker::topics`]).

use std::sync::Arc;
use std::time::Duration;

use broker_core::Shutdown;
use broker_core::produce::{EnqueueError, OutgoingRecord};
use connect_api::{
    ConfigMap, ConnectError, DynSourceConnector, DynSourceTask, SourceRecord, SourceTaskContext,
    StoredOffsets, TaskProgress,
};
use rdkafka::producer::{DeliveryFuture, FutureProducer};
use serde_json::Value;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::client_overrides::{self, PRODUCER_PREFIX};
use crate::connector_config::ConnectorSettings;
use crate::converters::{ConversionError, header_to_bytes};
use crate::error_handling::Stage;
use crate::runtime::Runtime;
use crate::storage::config_store::TargetState;
use crate::storage::offset_store::OffsetWrite;
use crate::storage::status_store::State;
use crate::transforms::{Direction, TransformChain};
use crate::worker::side_topics::RuntimeSideTopics;
use crate::worker::sink::within_budget;
use crate::worker::source_batch::Batch;
use crate::worker::source_offsets::SourceOffsets;
use crate::worker::source_transaction::{CommitContext, TransactionalSource};
use crate::worker::task_metrics::TaskMetricGroups;
use crate::worker::topics::TaskTopics;
use crate::worker::trace_of;
use crate::worker::transactions::Transactions;

/// Batches produced but not yet acknowledged before the loop waits for the oldest.
const MAX_BATCHES_IN_FLIGHT: usize = 8;

/// Everything a task runner needs.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub connector: String,
    pub task: u32,
    pub connector_config: ConfigMap,
    pub task_config: ConfigMap,
    pub settings: ConnectorSettings,
    /// This run's metric groups (fresh at every start).
    pub metrics: Arc<TaskMetricGroups>,
}

/// Runs until `stop` fires or the task fails; statuses are written on the way.
pub async fn run(
    runtime: Arc<Runtime>,
    plugin: Arc<dyn DynSourceConnector>,
    spec: TaskSpec,
    mut control: watch::Receiver<TargetState>,
    stop: Shutdown,
) {
    let (name, id) = (spec.connector.clone(), spec.task);
    if let Err(error) = run_inner(&runtime, plugin.as_ref(), &spec, &mut control, &stop).await {
        tracing::warn!(connector = name, task = id, %error, "source task failed");
        runtime
            .report_task(&name, id, State::Failed, Some(trace_of(&error)))
            .await;
    }
}

async fn run_inner(
    runtime: &Runtime,
    plugin: &dyn DynSourceConnector,
    spec: &TaskSpec,
    control: &mut watch::Receiver<TargetState>,
    stop: &Shutdown,
) -> Result<(), ConnectError> {
    let mut run = SourceRun::open(runtime, plugin, spec).await?;
    let result = run.drive(control, stop).await;
    run.close(result).await
}

/// One run of a source task: what it opened and where its records are.
struct SourceRun<'a> {
    runtime: &'a Runtime,
    spec: &'a TaskSpec,
    chain: TransformChain,
    progress: TaskProgress,
    offsets: SourceOffsets,
    task: Box<dyn DynSourceTask>,
    /// `Some` on an exactly-once worker: batches join transactions instead of the pipeline.
    transactional: Option<TransactionalSource>,
    own_producer: Option<FutureProducer>,
    topics: TaskTopics,
    pipeline: Pipeline,
    published: ProgressPublisher,
}

/// What one poll gave.
enum Polled {
    Records(Vec<SourceRecord>),
    /// A retriable failure, already backed off.
    Retry,
    Stopped,
}

impl<'a> SourceRun<'a> {
    /// Transforms, offsets store, the task itself, then its producer and topics.
    async fn open(
        runtime: &'a Runtime,
        plugin: &dyn DynSourceConnector,
        spec: &'a TaskSpec,
    ) -> Result<Self, ConnectError> {
        let name = spec.connector.as_str();
        let settings = &spec.settings;
        let chain = TransformChain::from_config(&spec.connector_config, Direction::Source)
            .map_err(|issues| {
                let first = issues.into_iter().next();
                first.map_or_else(
                    || ConnectError::definite("invalid transforms"),
                    |i| ConnectError::config(i.key, i.message),
                )
            })?;
        let progress = TaskProgress::default();
        let offsets =
            SourceOffsets::open(runtime, settings.transactions.offsets_topic.as_deref()).await?;
        let context = SourceTaskContext {
            connector: name.to_owned(),
            task: spec.task,
            offsets: offsets.stored(runtime, name),
            progress: progress.clone(),
            metrics: spec.metrics.plugin.clone(),
            side_topics: Some(Arc::new(RuntimeSideTopics::new(
                runtime.clients.clone(),
                runtime.policies.override_policy,
                name,
                spec.task,
            ))),
        };
        let task = plugin.create_task(&spec.task_config, context).await?;
        let transactional = transactional_source(runtime, spec, &offsets).await?;
        // The transactional producer already carries the overrides.
        let own_producer = match transactional {
            Some(_) => None,
            None => own_producer(runtime, spec)?,
        };
        let topics = TaskTopics::new(
            runtime,
            name,
            settings.topic_creation.clone(),
            &spec.connector_config,
        )?;
        Ok(Self {
            runtime,
            spec,
            chain,
            progress,
            offsets,
            task,
            transactional,
            own_producer,
            topics,
            pipeline: Pipeline::new(runtime.offset_flush_interval, Arc::clone(&spec.metrics)),
            published: ProgressPublisher::default(),
        })
    }

    /// Polls and delivers until `stop` fires or the task fails, following the target state.
    async fn drive(
        &mut self,
        control: &mut watch::Receiver<TargetState>,
        stop: &Shutdown,
    ) -> Result<(), ConnectError> {
        let mut attempt = 0_u32;
        let mut reported: Option<TargetState> = None;
        loop {
            if stop.is_triggered() {
                return Ok(());
            }
            if reported == Some(TargetState::Started) {
                let (runtime, spec) = (self.runtime, self.spec);
                self.published
                    .publish(runtime, &spec.connector, spec.task, &self.progress)
                    .await;
            }
            let target = *control.borrow_and_update();
            if reported != Some(target) {
                self.enter(target).await?;
                reported = Some(target);
            }
            if target != TargetState::Started {
                tokio::select! {
                    () = stop.wait() => return Ok(()),
                    _ = control.changed() => continue,
                }
            }
            match self.poll(stop, &mut attempt).await? {
                Polled::Records(records) => self.deliver(records).await?,
                Polled::Retry => {}
                Polled::Stopped => return Ok(()),
            }
        }
    }

    /// A paused or stopped task first makes what Kafka acknowledged durable.
    async fn enter(&mut self, target: TargetState) -> Result<(), ConnectError> {
        let (runtime, spec) = (self.runtime, self.spec);
        if target != TargetState::Started {
            match &mut self.transactional {
                Some(transactional) => {
                    let context = commit_context(runtime, spec, &self.offsets);
                    transactional.commit(&context, self.task.as_mut()).await?;
                }
                None => {
                    self.pipeline
                        .store_all(runtime, &self.offsets, &spec.connector, self.task.as_mut())
                        .await?;
                }
            }
        }
        let state = if target == TargetState::Paused {
            State::Paused
        } else {
            State::Running
        };
        runtime
            .report_task(&spec.connector, spec.task, state, None)
            .await;
        Ok(())
    }

    async fn poll(&mut self, stop: &Shutdown, attempt: &mut u32) -> Result<Polled, ConnectError> {
        let (name, metrics) = (self.spec.connector.as_str(), &self.spec.metrics);
        let poll_started = std::time::Instant::now();
        let span = super::task_trace::poll_span(name, self.spec.task);
        let polled = tokio::select! {
            () = stop.wait() => return Ok(Polled::Stopped),
            polled = self.task.poll().instrument(span.clone()) => polled,
        };
        if let Ok(records) = &polled {
            span.record("messaging.batch.message_count", records.len());
        }
        match polled {
            Ok(records) => {
                *attempt = 0;
                // Kafka records only polls that returned records (a Java task returns null
                // when it has nothing; ours return an empty batch).
                if !records.is_empty() {
                    let count = records.len() as u64;
                    metrics.source.record_poll.add(count);
                    metrics.source.record_active.add(count_i64(count));
                    metrics
                        .source
                        .poll_batch_time_ms
                        .record(poll_started.elapsed().as_secs_f64() * 1000.0);
                    metrics.common.batch_size.record(count as f64);
                }
                Ok(Polled::Records(records))
            }
            Err(error) if error.is_retriable() => {
                metrics.errors.operation_failed(true);
                // Kafka logs every failed poll at WARN; here the first one and then one per
                // 10 attempts, so an outage is visible without flooding the log.
                let attempt_now = *attempt;
                if attempt_now.is_multiple_of(10) {
                    tracing::warn!(connector = name, attempt = attempt_now, %error, "poll failed; will retry");
                } else {
                    tracing::debug!(connector = name, attempt = attempt_now, %error, "poll failed; will retry");
                }
                tokio::time::sleep(self.spec.settings.errors.backoff(attempt_now)).await;
                *attempt = attempt_now.saturating_add(1);
                Ok(Polled::Retry)
            }
            Err(error) => Err(error),
        }
    }

    async fn deliver(&mut self, records: Vec<SourceRecord>) -> Result<(), ConnectError> {
        if self.transactional.is_some() {
            self.deliver_exactly_once(records).await
        } else {
            self.deliver_at_least_once(records).await
        }
    }

    /// Batches go into the pipeline; offsets are stored as Kafka acknowledges them.
    async fn deliver_at_least_once(
        &mut self,
        records: Vec<SourceRecord>,
    ) -> Result<(), ConnectError> {
        let (runtime, spec) = (self.runtime, self.spec);
        let (name, settings) = (spec.connector.as_str(), &spec.settings);
        if records.is_empty() {
            // Idle: nothing to pipeline, so store what is acknowledged now.
            return self
                .pipeline
                .store_all(runtime, &self.offsets, name, self.task.as_mut())
                .await;
        }
        let producer = self.own_producer.as_ref().unwrap_or(&runtime.producer);
        let batch = enqueue(
            runtime,
            producer,
            settings,
            &self.chain,
            spec,
            records,
            &mut self.topics,
        )
        .await?;
        self.pipeline
            .push(runtime, &self.offsets, name, self.task.as_mut(), batch)
            .await?;
        if self.task.store_offsets_now() {
            // A resume point the task wants stored now (a finished snapshot chunk): a crash
            // then replays at most what was polled after it.
            self.pipeline
                .store_all(runtime, &self.offsets, name, self.task.as_mut())
                .await?;
        }
        Ok(())
    }

    /// Batches join the open transaction, which commits at its boundary.
    async fn deliver_exactly_once(
        &mut self,
        records: Vec<SourceRecord>,
    ) -> Result<(), ConnectError> {
        let (runtime, spec) = (self.runtime, self.spec);
        let settings = &spec.settings;
        let Some(transactional) = &mut self.transactional else {
            return Ok(());
        };
        if !records.is_empty() {
            transactional.begin()?;
            let producer = transactional.producer().clone();
            match enqueue(
                runtime,
                &producer,
                settings,
                &self.chain,
                spec,
                records,
                &mut self.topics,
            )
            .await
            {
                Ok(batch) => transactional.add(batch),
                Err(error) => {
                    transactional.abort().await;
                    return Err(error);
                }
            }
        }
        let context = commit_context(runtime, spec, &self.offsets);
        transactional
            .commit_if_due(&context, self.task.as_mut())
            .await
    }

    /// Whatever Kafka acknowledged is stored, also when the task fails: those records are
    /// in Kafka, and storing their offsets only shrinks the replay. An exactly-once task
    /// commits its open transaction on a clean stop and aborts it after a failure.
    async fn close(mut self, result: Result<(), ConnectError>) -> Result<(), ConnectError> {
        let (runtime, spec) = (self.runtime, self.spec);
        let stored = match (&mut self.transactional, &result) {
            (Some(transactional), Ok(())) => {
                let context = commit_context(runtime, spec, &self.offsets);
                transactional.commit(&context, self.task.as_mut()).await
            }
            (Some(transactional), Err(_)) => {
                transactional.abort().await;
                Ok(())
            }
            (None, _) => {
                self.pipeline
                    .store_all(runtime, &self.offsets, &spec.connector, self.task.as_mut())
                    .await
            }
        };
        self.task.stop().await;
        result.and(stored)
    }
}

/// `exactly.once.support` only decides validation: with `requested` on an at-least-once
/// worker the task simply runs without transactions.
async fn transactional_source(
    runtime: &Runtime,
    spec: &TaskSpec,
    offsets: &SourceOffsets,
) -> Result<Option<TransactionalSource>, ConnectError> {
    if !runtime.exactly_once_source {
        return Ok(None);
    }
    let transactions = Transactions::create(
        runtime,
        &spec.connector,
        spec.task,
        &spec.connector_config,
        offsets.primary_topic(runtime),
    )
    .await?;
    Ok(Some(TransactionalSource::new(
        transactions,
        spec.settings.transactions.boundary,
        runtime.offset_flush_interval,
    )))
}

fn commit_context<'c>(
    runtime: &'c Runtime,
    spec: &'c TaskSpec,
    offsets: &'c SourceOffsets,
) -> CommitContext<'c> {
    CommitContext {
        runtime,
        connector: &spec.connector,
        offsets,
        metrics: &spec.metrics,
    }
}

/// How often a task's changed progress report is written to the status topic.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);

/// Writes the task's progress report to its status when it changed, at most every
/// [`PROGRESS_INTERVAL`].
#[derive(Default)]
struct ProgressPublisher {
    version: u64,
    last: Option<tokio::time::Instant>,
}

impl ProgressPublisher {
    async fn publish(&mut self, runtime: &Runtime, name: &str, task: u32, progress: &TaskProgress) {
        if self.last.is_some_and(|at| at.elapsed() < PROGRESS_INTERVAL) {
            return;
        }
        let (version, value) = progress.read();
        if version == self.version {
            return;
        }
        self.version = version;
        self.last = Some(tokio::time::Instant::now());
        if let Some(value) = value {
            runtime.report_task_progress(name, task, value).await;
        }
    }
}

/// Batches in flight, oldest first, and the offsets of the acknowledged ones not stored yet.
struct Pipeline {
    in_flight: std::collections::VecDeque<Batch>,
    /// Source partition (as JSON text) → its offset after the last acknowledged record.
    acknowledged: StoredOffsets,
    flush_interval: Duration,
    next_store: tokio::time::Instant,
    metrics: Arc<TaskMetricGroups>,
}

fn count_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

impl Pipeline {
    fn new(flush_interval: Duration, metrics: Arc<TaskMetricGroups>) -> Self {
        Self {
            in_flight: std::collections::VecDeque::new(),
            acknowledged: StoredOffsets::new(),
            flush_interval,
            next_store: tokio::time::Instant::now() + flush_interval,
            metrics,
        }
    }

    /// A batch Kafka acknowledged entirely.
    fn acknowledge(&mut self, batch: Batch) {
        let source = &self.metrics.source;
        source.record_write.add(batch.deliveries.len() as u64);
        source.record_active.add(-count_i64(batch.polled));
        self.acknowledged.extend(batch.offsets);
    }

    /// Adds a produced batch, reaps the acknowledged ones (waiting for the oldest while too
    /// many are in flight) and stores offsets when the flush interval is due.
    async fn push(
        &mut self,
        runtime: &Runtime,
        offsets: &SourceOffsets,
        connector: &str,
        task: &mut dyn connect_api::DynSourceTask,
        batch: Batch,
    ) -> Result<(), ConnectError> {
        self.in_flight.push_back(batch);
        loop {
            let too_many = self.in_flight.len() > MAX_BATCHES_IN_FLIGHT;
            let Some(front) = self.in_flight.front_mut() else {
                break;
            };
            let done = if too_many {
                front.wait().await?;
                true
            } else {
                front.poll_done()?
            };
            if !done {
                break;
            }
            if let Some(batch) = self.in_flight.pop_front() {
                self.acknowledge(batch);
            }
        }
        if tokio::time::Instant::now() >= self.next_store {
            self.store_all(runtime, offsets, connector, task).await?;
        }
        Ok(())
    }

    /// Waits for every batch in flight, stores the offsets, lets the task commit.
    async fn store_all(
        &mut self,
        runtime: &Runtime,
        stores: &SourceOffsets,
        connector: &str,
        task: &mut dyn connect_api::DynSourceTask,
    ) -> Result<(), ConnectError> {
        self.next_store = tokio::time::Instant::now() + self.flush_interval;
        let mut failure = None;
        while let Some(mut batch) = self.in_flight.pop_front() {
            match batch.wait().await {
                Ok(()) => self.acknowledge(batch),
                Err(error) => {
                    // Nothing after a refused record may be stored.
                    self.in_flight.clear();
                    failure = Some(error);
                }
            }
        }
        if !self.acknowledged.is_empty() {
            let offsets: Vec<OffsetWrite> = std::mem::take(&mut self.acknowledged)
                .into_values()
                .map(|(partition, offset)| (partition, Some(offset)))
                .collect();
            let started = std::time::Instant::now();
            let stored = store_offsets(runtime, stores, connector, offsets).await;
            self.metrics.common.offset_commit(stored.is_ok(), started);
            stored?;
            if failure.is_none() {
                task.commit().await?;
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Converts and produces one batch without waiting for the acknowledgements.
async fn enqueue(
    runtime: &Runtime,
    producer: &FutureProducer,
    settings: &ConnectorSettings,
    chain: &TransformChain,
    spec: &TaskSpec,
    records: Vec<SourceRecord>,
    topics: &mut TaskTopics,
) -> Result<Batch, ConnectError> {
    let mut offsets: StoredOffsets = StoredOffsets::new();
    let mut in_flight = Vec::new();
    let polled = records.len() as u64;
    for source in records {
        let partition_key = Value::Object(source.source_partition.clone()).to_string();
        offsets.insert(
            partition_key,
            (
                source.source_partition.clone(),
                source.source_offset.clone(),
            ),
        );
        let produced = match convert_with_retries(spec, chain, source).await {
            Ok(Some(produced)) => produced,
            Ok(None) => continue,
            Err((stage, error)) if error.retriable => {
                // An outage that outlasted the retry budget fails the task: tolerating it
                // would skip records that are fine.
                return Err(ConnectError::retriable(format!(
                    "{} failed for longer than the retry budget: {error}",
                    stage.name()
                )));
            }
            Err((stage, error)) => {
                let message = error.message;
                runtime.metrics.failed_records.inc();
                spec.metrics
                    .errors
                    .record_failed(settings.errors.tolerate_all, settings.errors.log);
                if settings.errors.log {
                    tracing::warn!(
                        connector = spec.connector,
                        stage = stage.name(),
                        message,
                        "record failed"
                    );
                }
                if settings.errors.tolerate_all {
                    continue;
                }
                return Err(ConnectError::definite(format!(
                    "Tolerance exceeded in error handler ({}): {message}",
                    stage.name()
                )));
            }
        };
        topics
            .before_send(runtime, &spec.connector, spec.task, &produced.topic)
            .await?;
        in_flight.push(send(runtime, producer, &produced).await?);
        runtime.metrics.source_records.inc();
    }
    Ok(Batch {
        deliveries: in_flight,
        done: 0,
        offsets,
        polled,
    })
}

/// A producer of the task's own when the connector has `producer.override.*` keys.
fn own_producer(
    runtime: &Runtime,
    spec: &TaskSpec,
) -> Result<Option<FutureProducer>, ConnectError> {
    if client_overrides::overrides(&spec.connector_config, PRODUCER_PREFIX).is_empty() {
        return Ok(None);
    }
    let mut config = runtime.clients.producer_config();
    config.set(
        "client.id",
        format!("connector-producer-{}-{}", spec.connector, spec.task),
    );
    client_overrides::apply(&mut config, &spec.connector_config, PRODUCER_PREFIX);
    broker_core::clients::create(&config, "source producer")
        .map(Some)
        .map_err(|error| ConnectError::definite(error.to_string()))
}

/// Enqueues one record through broker-core's produce path: waits while librdkafka's queue
/// is full, up to the policy's default bound (120 s, Kafka's `delivery.timeout.ms`). A
/// queue that stayed full fails the task with a retriable error (Kafka's producer throws
/// its retriable `TimeoutException` after `max.block.ms`); any other refusal, as before,
/// with a definite one.
async fn send(
    runtime: &Runtime,
    producer: &FutureProducer,
    produced: &OutgoingRecord,
) -> Result<DeliveryFuture, ConnectError> {
    runtime
        .enqueuer
        .enqueue(producer, produced)
        .await
        .map_err(|error| match error {
            EnqueueError::QueueStayedFull { .. } => {
                ConnectError::retriable(format!("cannot produce to {}: {error}", produced.topic))
            }
            EnqueueError::Refused { source } => {
                ConnectError::definite(format!("cannot produce to {}: {source}", produced.topic))
            }
        })
}

/// Transforms and converts one record. A retriable converter failure (a schema registry
/// that is down) is tried again after a backoff, within the retry budget: nothing after
/// it is produced meanwhile and no offset moves past it.
async fn convert_with_retries(
    spec: &TaskSpec,
    chain: &TransformChain,
    source: SourceRecord,
) -> Result<Option<OutgoingRecord>, (Stage, ConversionError)> {
    let Some(record) = chain
        .apply(source.record)
        .map_err(|m| (Stage::Transformation, ConversionError::definite(m)))?
    else {
        return Ok(None);
    };
    let started = tokio::time::Instant::now();
    let mut attempt = 0_u32;
    loop {
        match convert(&spec.settings, &record).await {
            Err((_, error)) if error.retriable && within_budget(spec, started) => {
                spec.metrics.errors.operation_failed(true);
                if attempt.is_multiple_of(10) {
                    tracing::warn!(connector = spec.connector, attempt, %error, "conversion failed; will retry");
                }
                tokio::time::sleep(spec.settings.errors.backoff(attempt)).await;
                attempt = attempt.saturating_add(1);
            }
            other => return other,
        }
    }
}

/// Converts one transformed record into what is produced, as every source task and the dry
/// run do.
pub(crate) async fn convert(
    settings: &ConnectorSettings,
    record: &connect_api::ConnectRecord,
) -> Result<Option<OutgoingRecord>, (Stage, ConversionError)> {
    let key = settings
        .key_converter
        .from_connect(&record.topic, record.key_schema.as_deref(), &record.key)
        .await
        .map_err(|e| (Stage::KeyConverter, e))?;
    let value = settings
        .value_converter
        .from_connect(&record.topic, record.value_schema.as_deref(), &record.value)
        .await
        .map_err(|e| (Stage::ValueConverter, e))?;
    Ok(Some(OutgoingRecord {
        topic: Arc::from(record.topic.as_str()),
        key,
        value,
        headers: record
            .headers
            .iter()
            .map(|h| (h.key.clone(), header_to_bytes(&h.value)))
            .collect(),
        partition: record.kafka_partition,
        timestamp: record.timestamp,
    }))
}

/// Stores offsets, retrying transient failures for a while: until they are stored the
/// batch counts as not delivered.
async fn store_offsets(
    runtime: &Runtime,
    stores: &SourceOffsets,
    connector: &str,
    offsets: Vec<OffsetWrite>,
) -> Result<(), ConnectError> {
    let mut attempt = 0;
    loop {
        match stores.write(runtime, connector, &offsets).await {
            Ok(()) => return Ok(()),
            Err(error) if error.is_retriable() && attempt < 10 => {
                attempt += 1;
                tracing::warn!(%error, connector, attempt, "offset write failed, retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => {
                return Err(ConnectError::definite(format!(
                    "cannot store source offsets: {error}"
                )));
            }
        }
    }
}
