//! The sink task loop.
//!
//! consume a batch from group `connect-<name>` → converters → SMTs → `put`; every
//! `offset_flush_interval_ms` (or after `MAX_UNFLUSHED` records, before a pause and at a
//! clean stop) `flush` → commit the positions after everything put so far. Offsets are
//! committed only after `flush` confirmed the data downstream, so a crash replays but never
//! skips; between flushes `put` keeps feeding the task, which can then keep several
//! requests in flight. Records that fail conversion or an
//! SMT go to the DLQ (when `errors.tolerance=all`) and their offsets count as done only
//! after the DLQ acknowledged them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use broker_core::Shutdown;
use connect_api::{
    ConnectError, ConnectRecord, DynSinkConnector, Header, SinkRecord, SinkTaskContext,
};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::client_overrides::{self, CONSUMER_PREFIX};
use crate::connector_config::{ConnectorSettings, SinkTopics};
use crate::converters::{ConversionError, header_from_bytes};
use crate::error_handling::{RecordFailure, Stage, send_to_dead_letter_queue};
use crate::runtime::Runtime;
use crate::storage::config_store::TargetState;
use crate::storage::status_store::State;
use crate::transforms::{Direction, TransformChain};
use crate::worker::source::TaskSpec;
use crate::worker::{errant, now_ms, trace_of};

/// Most records handed to one `put`.
const MAX_BATCH: usize = 500;
/// How long a batch waits for more records after its first one.
const BATCH_LINGER: Duration = Duration::from_millis(100);

/// The consumer group of a sink connector, as Kafka names it.
pub fn group_of(connector: &str) -> String {
    format!("connect-{connector}")
}

pub async fn run(
    runtime: Arc<Runtime>,
    plugin: Arc<dyn DynSinkConnector>,
    spec: TaskSpec,
    mut control: watch::Receiver<TargetState>,
    stop: Shutdown,
) {
    let (name, id) = (spec.connector.clone(), spec.task);
    if let Err(error) = run_inner(&runtime, plugin.as_ref(), &spec, &mut control, &stop).await {
        tracing::warn!(connector = name, task = id, %error, "sink task failed");
        runtime
            .report_task(&name, id, State::Failed, Some(trace_of(&error)))
            .await;
    }
}

fn consumer_for(runtime: &Runtime, spec: &TaskSpec) -> Result<StreamConsumer, ConnectError> {
    let mut config = runtime.clients.consumer_config(&group_of(&spec.connector));
    config
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set(
            "client.id",
            format!("connector-consumer-{}-{}", spec.connector, spec.task),
        );
    client_overrides::apply(&mut config, &spec.connector_config, CONSUMER_PREFIX);
    let consumer: StreamConsumer = broker_core::clients::create(&config, "sink consumer")
        .map_err(|error| ConnectError::definite(error.to_string()))?;
    let subscription = match &spec.settings.sink_topics {
        Some(SinkTopics::List(topics)) => topics.clone(),
        Some(SinkTopics::Regex(regex)) => vec![if regex.starts_with('^') {
            regex.clone()
        } else {
            format!("^{regex}")
        }],
        None => {
            return Err(ConnectError::config(
                "topics",
                "Must configure one of topics or topics.regex",
            ));
        }
    };
    let refs: Vec<&str> = subscription.iter().map(String::as_str).collect();
    consumer
        .subscribe(&refs)
        .map_err(|error| ConnectError::definite(format!("cannot subscribe: {error}")))?;
    Ok(consumer)
}

async fn run_inner(
    runtime: &Arc<Runtime>,
    plugin: &dyn DynSinkConnector,
    spec: &TaskSpec,
    control: &mut watch::Receiver<TargetState>,
    stop: &Shutdown,
) -> Result<(), ConnectError> {
    let name = spec.connector.as_str();
    let chain =
        TransformChain::from_config(&spec.connector_config, Direction::Sink).map_err(|issues| {
            issues.into_iter().next().map_or_else(
                || ConnectError::definite("invalid transforms"),
                |i| ConnectError::config(i.key, i.message),
            )
        })?;
    if let Some(queue) = &spec.settings.errors.dead_letter_queue {
        errant::ensure_dead_letter_topic(runtime, spec, queue).await?;
    }
    let context = SinkTaskContext {
        connector: name.to_owned(),
        task: spec.task,
        errant_record_reporter: errant::reporter_for(runtime, spec),
        metrics: spec.metrics.plugin.clone(),
    };
    let mut task = plugin.create_task(&spec.task_config, context).await?;
    let consumer = Arc::new(consumer_for(runtime, spec)?);
    let mut topics_seen: BTreeSet<String> = runtime.statuses.topics(name);
    let mut reported: Option<TargetState> = None;
    // Records handed to `put` since the last flush, and the positions after them: they are
    // committed only once `flush` confirmed everything up to them downstream.
    let mut unflushed = Unflushed::default();
    let mut next_flush = tokio::time::Instant::now() + runtime.offset_flush_interval;
    loop {
        if let Ok(assignment) = consumer.assignment() {
            let partitions = i64::try_from(assignment.count()).unwrap_or(i64::MAX);
            spec.metrics.sink.partition_count.set(partitions);
        }
        let target = *control.borrow_and_update();
        if reported != Some(target) {
            if target != TargetState::Started {
                unflushed
                    .flush_and_commit(runtime, task.as_mut(), &consumer, spec)
                    .await?;
            }
            let state = if target == TargetState::Paused {
                State::Paused
            } else {
                State::Running
            };
            if let Ok(assignment) = consumer.assignment() {
                let _ = if target == TargetState::Paused {
                    consumer.pause(&assignment)
                } else {
                    consumer.resume(&assignment)
                };
            }
            runtime.report_task(name, spec.task, state, None).await;
            reported = Some(target);
        }
        if target != TargetState::Started {
            // Keep polling while paused so the group does not evict this member.
            tokio::select! {
                () = stop.wait() => break,
                _ = control.changed() => {}
                _ = tokio::time::timeout(Duration::from_millis(500), consumer.recv()) => {}
            }
            continue;
        }
        let mut batch = Vec::new();
        let mut positions: BTreeMap<(String, i32), i64> = BTreeMap::new();
        let mut read = 0_u64;
        tokio::select! {
            () = stop.wait() => break,
            _ = control.changed() => continue,
            () = tokio::time::sleep_until(next_flush), if !unflushed.is_empty() => {
                unflushed.flush_and_commit(runtime, task.as_mut(), &consumer, spec).await?;
                next_flush = tokio::time::Instant::now() + runtime.offset_flush_interval;
                continue;
            }
            first = consumer.recv() => {
                let first = first.map_err(|error| ConnectError::retriable(format!("consume failed: {error}")));
                match first {
                    Ok(message) => {
                        handle(runtime, spec, &chain, &message, &mut batch, &mut topics_seen).await?;
                        read += 1;
                        positions.insert((message.topic().to_owned(), message.partition()), message.offset() + 1);
                    }
                    Err(error) => {
                        tracing::warn!(connector = name, %error, "sink consume error");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                }
                let deadline = tokio::time::Instant::now() + BATCH_LINGER;
                while positions.len() + batch.len() < MAX_BATCH * 2 && batch.len() < MAX_BATCH {
                    let Ok(next) = tokio::time::timeout_at(deadline, consumer.recv()).await else { break };
                    let Ok(message) = next else { break };
                    handle(runtime, spec, &chain, &message, &mut batch, &mut topics_seen).await?;
                    read += 1;
                    positions.insert((message.topic().to_owned(), message.partition()), message.offset() + 1);
                }
            }
        }
        let count = batch.len() as u64;
        let spans = super::task_trace::put_spans(&spec.connector, spec.task, &batch);
        put_with_retries(task.as_mut(), &batch, spec)
            .instrument(spans.batch.clone())
            .await?;
        drop(spans);
        unflushed.add(count, read, positions);
        if tokio::time::Instant::now() >= next_flush || unflushed.records >= MAX_UNFLUSHED {
            unflushed
                .flush_and_commit(runtime, task.as_mut(), &consumer, spec)
                .await?;
            next_flush = tokio::time::Instant::now() + runtime.offset_flush_interval;
        }
    }
    // A clean stop commits what the final flush confirmed, so a restart replays nothing.
    match flush_with_retries(task.as_mut(), spec).await {
        Ok(()) => {
            if let Err(error) = unflushed.commit(&consumer, spec).await {
                tracing::warn!(connector = name, %error, "final commit failed; uncommitted records will be replayed");
            } else {
                runtime.metrics.sink_records.inc_by(unflushed.records);
            }
        }
        Err(error) => {
            tracing::warn!(connector = name, %error, "final flush failed; uncommitted records will be replayed");
        }
    }
    task.stop().await;
    Ok(())
}

/// Flush at the latest after this many records even within the flush interval, so that a
/// crash never replays more than this per task.
const MAX_UNFLUSHED: u64 = 100_000;

/// What was `put` but not yet flushed and committed.
#[derive(Debug, Default)]
struct Unflushed {
    records: u64,
    /// Records consumed (before converters and SMTs) since the last commit.
    read: u64,
    positions: BTreeMap<(String, i32), i64>,
}

impl Unflushed {
    fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    fn add(&mut self, records: u64, read: u64, positions: BTreeMap<(String, i32), i64>) {
        self.records += records;
        self.read += read;
        for (partition, next) in positions {
            let entry = self.positions.entry(partition).or_insert(next);
            *entry = (*entry).max(next);
        }
    }

    async fn flush_and_commit(
        &mut self,
        runtime: &Runtime,
        task: &mut dyn connect_api::DynSinkTask,
        consumer: &Arc<StreamConsumer>,
        spec: &TaskSpec,
    ) -> Result<(), ConnectError> {
        if self.is_empty() {
            return Ok(());
        }
        flush_with_retries(task, spec).await?;
        self.commit(consumer, spec).await?;
        runtime.metrics.sink_records.inc_by(self.records);
        *self = Self::default();
        Ok(())
    }

    /// Commits the positions; the records read up to them are no longer active (a skipped
    /// commit replays them on the partitions' new owner).
    async fn commit(
        &self,
        consumer: &Arc<StreamConsumer>,
        spec: &TaskSpec,
    ) -> Result<(), ConnectError> {
        if self.positions.is_empty() {
            return Ok(());
        }
        let metrics = &spec.metrics;
        let started = std::time::Instant::now();
        let outcome = commit(consumer, &self.positions).await;
        let committed = matches!(outcome, Ok(true));
        metrics.common.offset_commit(committed, started);
        match outcome {
            Ok(true) => metrics.sink.offset_commit_completion.inc(),
            Ok(false) => metrics.sink.offset_commit_skip.inc(),
            Err(_) => {}
        }
        if outcome.is_ok() {
            let read = i64::try_from(self.read).unwrap_or(i64::MAX);
            metrics.sink.record_active.add(-read);
        }
        outcome.map(|_| ())
    }
}

/// Converts and transforms one consumed record into `batch`, or hands it to the error
/// policy.
async fn handle(
    runtime: &Runtime,
    spec: &TaskSpec,
    chain: &TransformChain,
    message: &BorrowedMessage<'_>,
    batch: &mut Vec<SinkRecord>,
    topics_seen: &mut BTreeSet<String>,
) -> Result<(), ConnectError> {
    spec.metrics.sink.record_read.inc();
    spec.metrics.sink.record_active.add(1);
    let topic = message.topic().to_owned();
    if topics_seen.insert(topic.clone())
        && let Err(error) = runtime
            .statuses
            .put_topic(&spec.connector, spec.task, &topic, now_ms())
            .await
    {
        tracing::warn!(%error, "cannot record topic usage");
    }
    match convert_with_retries(spec, chain, message).await {
        Ok(Some(record)) => {
            batch.push(record);
            Ok(())
        }
        Ok(None) => Ok(()),
        Err((stage, _, error)) if error.retriable => {
            // An outage that outlasted the retry budget fails the task rather than
            // tolerating (skipping) records that are fine.
            Err(ConnectError::retriable(format!(
                "{} failed for longer than the retry budget: {error}",
                stage.name()
            )))
        }
        Err((stage, class_name, error)) => {
            let text = error.message;
            runtime.metrics.failed_records.inc();
            let errors = &spec.settings.errors;
            let error_metrics = &spec.metrics.errors;
            error_metrics.record_failed(errors.tolerate_all, errors.log);
            if errors.log {
                tracing::warn!(
                    connector = spec.connector,
                    stage = stage.name(),
                    topic,
                    partition = message.partition(),
                    offset = message.offset(),
                    error = text,
                    "record failed"
                );
            }
            if !errors.tolerate_all {
                return Err(ConnectError::definite(format!(
                    "Tolerance exceeded in error handler ({}): {text}",
                    stage.name()
                )));
            }
            if let Some(queue) = &errors.dead_letter_queue {
                let failure = RecordFailure {
                    connector: &spec.connector,
                    task: spec.task,
                    stage,
                    class_name,
                    message: text,
                    topic: &topic,
                    partition: message.partition(),
                    offset: message.offset(),
                };
                error_metrics.dead_letter_queue_requests.inc();
                send_to_dead_letter_queue(
                    &runtime.producer,
                    queue,
                    &failure,
                    message.key(),
                    message.payload(),
                )
                .await
                .map_err(|error| {
                    error_metrics.dead_letter_queue_failures.inc();
                    ConnectError::retriable(error)
                })?;
            }
            Ok(())
        }
    }
}

/// A failed conversion: the stage, the class that failed (for DLQ headers) and why.
pub(crate) type ConvertFailure = (Stage, &'static str, ConversionError);

/// Converts one record, converting it again after a backoff while the failure is
/// retriable (a schema registry that is down) and within the retry budget: the record
/// is neither skipped nor is its offset committed meanwhile.
async fn convert_with_retries(
    spec: &TaskSpec,
    chain: &TransformChain,
    message: &BorrowedMessage<'_>,
) -> Result<Option<SinkRecord>, ConvertFailure> {
    let started = tokio::time::Instant::now();
    let mut attempt = 0_u32;
    loop {
        match convert(&spec.settings, chain, message).await {
            Err((_, _, error)) if error.retriable && within_budget(spec, started) => {
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

/// Converts and transforms one consumed record, as every sink task and the dry run do.
pub(crate) async fn convert(
    settings: &ConnectorSettings,
    chain: &TransformChain,
    message: &impl Message,
) -> Result<Option<SinkRecord>, ConvertFailure> {
    let topic = message.topic();
    let (key_schema, key) = settings
        .key_converter
        .to_connect(topic, message.key())
        .await
        .map_err(|e| (Stage::KeyConverter, settings.key_converter.class_name(), e))?;
    let (value_schema, value) = settings
        .value_converter
        .to_connect(topic, message.payload())
        .await
        .map_err(|e| {
            (
                Stage::ValueConverter,
                settings.value_converter.class_name(),
                e,
            )
        })?;
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| Header {
                    key: h.key.to_owned(),
                    value: header_from_bytes(h.value),
                })
                .collect()
        })
        .unwrap_or_default();
    let record = ConnectRecord {
        topic: message.topic().to_owned(),
        kafka_partition: Some(message.partition()),
        key_schema: key_schema.map(Arc::new),
        key,
        value_schema: value_schema.map(Arc::new),
        value,
        timestamp: message.timestamp().to_millis(),
        headers,
    };
    let Some(record) = chain.apply(record).map_err(|m| {
        (
            Stage::Transformation,
            "org.apache.kafka.connect.transforms.Transformation",
            ConversionError::definite(m),
        )
    })?
    else {
        return Ok(None);
    };
    Ok(Some(SinkRecord {
        record,
        original_topic: message.topic().to_owned(),
        kafka_partition: message.partition(),
        kafka_offset: message.offset(),
    }))
}

async fn put_with_retries(
    task: &mut dyn connect_api::DynSinkTask,
    batch: &[SinkRecord],
    spec: &TaskSpec,
) -> Result<(), ConnectError> {
    if batch.is_empty() {
        return Ok(());
    }
    let started = tokio::time::Instant::now();
    let metrics = &spec.metrics;
    let mut attempt = 0;
    loop {
        let put_started = std::time::Instant::now();
        // The same borrowed batch goes to every attempt: no copy per retry.
        match task.put(batch).await {
            Ok(()) => {
                let count = batch.len() as u64;
                metrics.sink.record_send.add(count);
                metrics
                    .sink
                    .put_batch_time_ms
                    .record(put_started.elapsed().as_secs_f64() * 1000.0);
                metrics.common.batch_size.record(count as f64);
                return Ok(());
            }
            Err(error) if error.is_retriable() && within_budget(spec, started) => {
                metrics.errors.operation_failed(true);
                tokio::time::sleep(spec.settings.errors.backoff(attempt)).await;
                attempt += 1;
            }
            Err(error) => {
                if error.is_retriable() {
                    metrics.errors.operation_failed(false);
                }
                return Err(error);
            }
        }
    }
}

pub(crate) fn within_budget(spec: &TaskSpec, started: tokio::time::Instant) -> bool {
    // Retriable put/flush errors are retried at least for 5 minutes, as Kafka's
    // WorkerSinkTask retries RetriableException from put indefinitely; a configured
    // errors.retry.timeout extends that budget.
    let budget = spec
        .settings
        .errors
        .retry_timeout
        .map_or(Duration::MAX, |t| t.max(Duration::from_secs(300)));
    started.elapsed() < budget
}

async fn flush_with_retries(
    task: &mut dyn connect_api::DynSinkTask,
    spec: &TaskSpec,
) -> Result<(), ConnectError> {
    let started = tokio::time::Instant::now();
    let mut attempt = 0;
    loop {
        match task.flush().await {
            Ok(()) => return Ok(()),
            Err(error) if error.is_retriable() && within_budget(spec, started) => {
                spec.metrics.errors.operation_failed(true);
                tracing::warn!(connector = spec.connector, %error, "flush failed, retrying");
                tokio::time::sleep(spec.settings.errors.backoff(attempt)).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Commits the positions synchronously, off the runtime threads (the call blocks until
/// the coordinator answered). `Ok(false)`: the commit failed and was skipped.
async fn commit(
    consumer: &Arc<StreamConsumer>,
    positions: &BTreeMap<(String, i32), i64>,
) -> Result<bool, ConnectError> {
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in positions {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|error| ConnectError::definite(error.to_string()))?;
    }
    let consumer = Arc::clone(consumer);
    let committed = broker_core::task::spawn_blocking("connect-sink-commit", move || {
        consumer.commit(&list, CommitMode::Sync)
    })
    .await
    .map_err(|error| ConnectError::definite(format!("offset commit panicked: {error}")))?;
    match committed {
        Ok(()) => Ok(true),
        Err(error) => {
            // After a rebalance the partitions may belong to another task now; the records
            // will be replayed there (at-least-once), so this is not fatal.
            tracing::warn!(%error, "sink offset commit failed");
            Ok(false)
        }
    }
}
