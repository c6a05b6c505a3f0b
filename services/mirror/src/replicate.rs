//! Consume → produce with headers, timestamps and partitions preserved.
//!
//! One replication task = one source consumer + one target producer on a dedicated, named
//! OS thread: librdkafka's poll calls block, so they never run on the async runtime. The
//! thread polls the consumer, hands each record to the producer and serves the producer's
//! delivery callbacks in the same loop, so acknowledgements need no channel.
//!
//! Backpressure: records go through broker-core's produce path (the blocking twin), so when
//! the producer queue is full the thread stops consuming and serves delivery reports until
//! there is room, counted in `kafka_gateway_producer_queue_full_waits_total{client="mirror"}`.
//! A target that accepts nothing for the policy's bound (120 s, below the default
//! `max.poll.interval.ms` of 300 s) fails the task with a retriable
//! [`MirrorError::QueueStayedFull`], and the supervisor restarts the flow from its last
//! committed position (nothing lost). With a shorter `max.poll.interval.ms` the task is
//! kicked out of the source group first, with the same outcome.
//!
//! Delivery guarantees live in [`at_least_once`] and [`exactly_once`]; both record every
//! acknowledged (source offset, target offset) pair in a [`RunTracker`] per partition and
//! write the resulting runs to the dense offset map before (or atomically with) the source
//! position.

pub(crate) mod at_least_once;
mod copy_trace;
pub(crate) mod exactly_once;
pub(crate) mod leases;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use broker_core::produce::{BlockingProducer, EnqueueError, Enqueuer, OnRefused, SendAttempt};
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use tokio::sync::{Notify, watch};

use crate::config::{Flow, OffsetSyncsLocation, ValidatedMirror};
use crate::error::MirrorError;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

use crate::metrics::MirrorMetrics;
use crate::offsets::format::{MapRecord, OffsetSync};
use crate::offsets::map::RunTracker;
use crate::offsets::syncs::SyncEmitter;
use crate::topics::TopicPlan;

/// Everything a replication task needs; cheap to clone for a restart.
#[derive(Clone)]
pub(crate) struct TaskContext {
    pub(crate) config: Arc<ValidatedMirror>,
    pub(crate) flow: Arc<Flow>,
    pub(crate) task: usize,
    pub(crate) plan: watch::Receiver<TopicPlan>,
    pub(crate) wake_topics: Arc<Notify>,
    pub(crate) metrics: MirrorMetrics,
    pub(crate) slots: SlotRegistry,
    /// Set on shutdown: finish the current batch, drain, commit, return.
    pub(crate) stop: Arc<AtomicBool>,
    /// Set when the mirror is dropped: return at once, commit nothing more (a crash).
    pub(crate) abandon: Arc<AtomicBool>,
}

impl std::fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext")
            .field("flow", &self.flow.name())
            .field("task", &self.task)
            .finish_non_exhaustive()
    }
}

impl TaskContext {
    pub(crate) fn map_topic(&self) -> String {
        self.flow.policy.offset_map_topic(&self.flow.source)
    }

    pub(crate) fn syncs_topic(&self) -> Option<(OffsetSyncsLocation, String)> {
        let syncs = self.flow.offset_syncs.as_ref()?;
        let alias = match syncs.location {
            OffsetSyncsLocation::Source => &self.flow.target,
            OffsetSyncsLocation::Target => &self.flow.source,
        };
        Some((syncs.location, self.flow.policy.offset_syncs_topic(alias)))
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.abandoned()
    }

    pub(crate) fn abandoned(&self) -> bool {
        self.abandon.load(Ordering::Relaxed)
    }
}

/// Replication state of one source partition, shared with the metrics task.
pub(crate) struct Slot {
    pub(crate) source_topic: String,
    pub(crate) partition: i32,
    pub(crate) target_topic: String,
    /// Metric handles resolved once: a label lookup per record would cost more than the
    /// copy itself.
    records: Counter,
    bytes: Counter,
    latency: Histogram,
    /// Wall clock (ms) when the target (or source) last acknowledged an offset sync of this
    /// partition; 0 before the first. Outside `state`: the delivery callback of a sync
    /// must not wait for the copy thread's lock.
    pub(crate) last_sync_ms: AtomicI64,
    pub(crate) state: Mutex<SlotState>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Slot({}[{}])", self.source_topic, self.partition)
    }
}

#[derive(Debug)]
pub(crate) struct SlotState {
    pub(crate) tracker: RunTracker,
    syncs: SyncEmitter,
    /// The source offset after the last acknowledged record: the position to commit.
    pub(crate) acknowledged_next: Option<i64>,
    /// Source timestamp of the last acknowledged record (for RPO in seconds).
    pub(crate) acknowledged_timestamp_ms: Option<i64>,
    /// The first record the target refused; nothing at or after it is committed.
    failure: Option<(i64, KafkaError)>,
}

impl Slot {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every slot of every task of the process, for the metrics task.
pub(crate) type SlotRegistry = Arc<Mutex<HashMap<(String, String, i32), Arc<Slot>>>>;

/// Acknowledgement of a batch of internal records (offset-map runs).
#[derive(Debug, Default)]
pub(crate) struct BatchAck {
    remaining: AtomicUsize,
    failed: AtomicBool,
}

impl BatchAck {
    fn done(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0
    }
    fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }
}

pub(crate) enum Token {
    Record {
        slot: Arc<Slot>,
        offset: i64,
        bytes: u64,
        timestamp_ms: Option<i64>,
    },
    Internal(Option<Arc<BatchAck>>),
    /// An MM2 offset sync of the slot's partition (its age is a metric).
    Sync(Arc<Slot>),
}

pub(crate) struct AckContext {
    flow: String,
    /// Wall clock in ms, read once per producer poll rather than once per delivery report
    /// (a clock read per record showed in the copy thread's profile); the replication
    /// latency it feeds is therefore late by at most one poll's wait.
    now_ms: AtomicI64,
}

impl AckContext {
    fn refresh_clock(&self) {
        self.now_ms
            .store(crate::offsets::now_millis(), Ordering::Relaxed);
    }
}

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = Box<Token>;

    fn delivery(&self, result: &DeliveryResult<'_>, token: Self::DeliveryOpaque) {
        match *token {
            Token::Record {
                slot,
                offset,
                bytes,
                timestamp_ms,
            } => {
                let mut state = slot.lock();
                if state.failure.is_some() {
                    return;
                }
                match result {
                    Ok(delivered) => {
                        state.tracker.acknowledged(offset, delivered.offset());
                        state.acknowledged_next = Some(offset + 1);
                        state.acknowledged_timestamp_ms = timestamp_ms;
                        drop(state);
                        slot.records.inc();
                        slot.bytes.inc_by(bytes);
                        if let Some(timestamp) = timestamp_ms {
                            let age = self
                                .now_ms
                                .load(Ordering::Relaxed)
                                .saturating_sub(timestamp);
                            slot.latency.observe(age.max(0) as f64 / 1000.0);
                        }
                    }
                    Err((error, _)) => state.failure = Some((offset, error.clone())),
                }
            }
            Token::Sync(slot) => match result {
                // A few syncs per commit interval: a clock read each costs nothing here.
                Ok(_) => slot
                    .last_sync_ms
                    .store(crate::offsets::now_millis(), Ordering::Relaxed),
                Err((error, message)) => {
                    tracing::warn!(flow = %self.flow, topic = message.topic(), %error, "offset sync not written");
                }
            },
            Token::Internal(batch) => {
                if let Some(batch) = batch {
                    if result.is_err() {
                        batch.failed.store(true, Ordering::Release);
                    }
                    batch.remaining.fetch_sub(1, Ordering::AcqRel);
                } else if let Err((error, message)) = result {
                    tracing::warn!(flow = %self.flow, topic = message.topic(), %error, "internal record not written");
                }
            }
        }
    }
}

pub(crate) type TargetProducer = BaseProducer<AckContext>;

pub(crate) fn create_producer(
    context: &TaskContext,
    alias: &str,
    transactional_id: Option<&str>,
) -> Result<TargetProducer, MirrorError> {
    let settings = context.config.cluster(alias);
    let clients = broker_core::KafkaClients::new(settings.cluster.clone());
    let mut config = clients.producer_config();
    for (key, value) in &settings.producer {
        config.set(key, value);
    }
    // Ordered, duplicate-free delivery reports per partition are what the run tracker
    // relies on.
    config.set("enable.idempotence", "true");
    if let Some(id) = transactional_id {
        config.set("transactional.id", id);
    }
    config
        .create_with_context(AckContext {
            flow: context.flow.name(),
            now_ms: AtomicI64::new(crate::offsets::now_millis()),
        })
        .map_err(|e| MirrorError::kafka(&context.flow.name(), "producer creation", e))
}

/// What the task loops share: slot lookup, forwarding and internal records.
pub(crate) struct Pipeline {
    pub(crate) context: TaskContext,
    pub(crate) producer: TargetProducer,
    /// The produce path for both producers (its `QueueFull` policy).
    enqueuer: Enqueuer,
    /// Producer for offset syncs kept on the source cluster.
    sync_producer: Option<TargetProducer>,
    slots: Mutex<HashMap<String, Vec<Option<Arc<Slot>>>>>,
    /// The slot of the previous record: librdkafka hands out a fetched batch of one
    /// partition at a time, so this answers almost every lookup without hashing the topic.
    last_slot: Mutex<Option<Arc<Slot>>>,
    plan: Mutex<TopicPlan>,
}

impl Pipeline {
    pub(crate) fn new(context: TaskContext, producer: TargetProducer) -> Result<Self, MirrorError> {
        let sync_producer = match context.syncs_topic() {
            Some((OffsetSyncsLocation::Source, _)) => {
                Some(create_producer(&context, &context.flow.source, None)?)
            }
            _ => None,
        };
        let plan = context.plan.borrow().clone();
        Ok(Self {
            context,
            producer,
            enqueuer: Enqueuer::new("mirror"),
            sync_producer,
            slots: Mutex::new(HashMap::new()),
            last_slot: Mutex::new(None),
            plan: Mutex::new(plan),
        })
    }

    pub(crate) fn flow_name(&self) -> String {
        self.context.flow.name()
    }

    pub(crate) fn set_plan(&self, plan: TopicPlan) {
        *self.plan.lock().unwrap_or_else(PoisonError::into_inner) = plan;
    }

    fn slot(&self, topic: &str, partition: i32) -> Option<Arc<Slot>> {
        let mut last = self
            .last_slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = last.as_ref()
            && slot.partition == partition
            && slot.source_topic == topic
        {
            return Some(Arc::clone(slot));
        }
        let slot = self.find_slot(topic, partition)?;
        *last = Some(Arc::clone(&slot));
        Some(slot)
    }

    fn find_slot(&self, topic: &str, partition: i32) -> Option<Arc<Slot>> {
        let index = usize::try_from(partition).ok()?;
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(Some(slot)) = slots.get(topic).and_then(|v| v.get(index)) {
            return Some(Arc::clone(slot));
        }
        let target_topic = self
            .plan
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)?
            .target
            .clone();
        let flow = self.flow_name();
        let lag_max = self
            .context
            .flow
            .offset_syncs
            .as_ref()
            .map_or(i64::MAX / 4, |s| s.lag_max);
        let labels = MirrorMetrics::labels(&flow, topic, partition);
        let slot = Arc::new(Slot {
            source_topic: topic.to_owned(),
            partition,
            target_topic,
            records: self.context.metrics.records.get_or_create(&labels).clone(),
            bytes: self.context.metrics.bytes.get_or_create(&labels).clone(),
            latency: self
                .context
                .metrics
                .latency
                .get_or_create(&vec![("flow", flow.clone())])
                .clone(),
            last_sync_ms: AtomicI64::new(0),
            state: Mutex::new(SlotState {
                tracker: RunTracker::default(),
                syncs: SyncEmitter::new(lag_max),
                acknowledged_next: None,
                acknowledged_timestamp_ms: None,
                failure: None,
            }),
        });
        let row = slots.entry(topic.to_owned()).or_default();
        if row.len() <= index {
            row.resize(index + 1, None);
        }
        row[index] = Some(Arc::clone(&slot));
        tracing::debug!(%flow, topic, partition, target = %slot.target_topic, "replicating partition");
        self.context
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((flow, topic.to_owned(), partition), Arc::clone(&slot));
        Some(slot)
    }

    /// The position a partition resumes from, for the lag measurement until its first
    /// record is acknowledged.
    pub(crate) fn seed_position(&self, topic: &str, partition: i32, next: i64) {
        if let Some(slot) = self.find_slot(topic, partition) {
            slot.lock().acknowledged_next.get_or_insert(next);
        }
    }

    /// Forgets partitions this task no longer owns.
    pub(crate) fn remove_slots(&self, partitions: &[(String, i32)]) {
        *self
            .last_slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mut registry = self
            .context
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (topic, partition) in partitions {
            if let Some(slot) = slots
                .get_mut(topic)
                .and_then(|row| row.get_mut(usize::try_from(*partition).unwrap_or(usize::MAX)))
            {
                *slot = None;
            }
            registry.remove(&(self.flow_name(), topic.clone(), *partition));
        }
    }

    fn all_slots(&self) -> Vec<Arc<Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .flatten()
            .flatten()
            .cloned()
            .collect()
    }

    /// Serves delivery callbacks of both producers without waiting.
    pub(crate) fn poll_producers(&self) {
        Clocked(&self.producer).serve_deliveries(Duration::ZERO);
        if let Some(sync) = &self.sync_producer {
            Clocked(sync).serve_deliveries(Duration::ZERO);
        }
    }

    /// Sends one source record to its remote topic, same partition, key, value, headers
    /// and timestamp. Waits (serving delivery reports) while the producer queue is full, up
    /// to the produce path's bound, and while the target lacks the partition, up to the
    /// flow's `admin_timeout`.
    pub(crate) fn forward(&self, message: &BorrowedMessage<'_>) -> Result<(), MirrorError> {
        let topic = message.topic();
        let partition = message.partition();
        let Some(slot) = self.slot(topic, partition) else {
            // Not (or no longer) mirrored: skip; the subscription follows the plan.
            return Ok(());
        };
        let span = copy_trace::copy_span(|| self.flow_name(), message, &slot.target_topic);
        let _copying = span.enter();
        let headers = message
            .headers()
            .map(rdkafka::message::BorrowedHeaders::detach);
        let bytes = (message.key().map_or(0, <[u8]>::len)
            + message.payload().map_or(0, <[u8]>::len)) as u64;
        let timestamp_ms = message.timestamp().to_millis();
        let mut record: BaseRecord<'_, [u8], [u8], Box<Token>> = BaseRecord::with_opaque_to(
            &slot.target_topic,
            Box::new(Token::Record {
                slot: Arc::clone(&slot),
                offset: message.offset(),
                bytes,
                timestamp_ms,
            }),
        )
        .partition(partition);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        if let Some(timestamp) = timestamp_ms {
            record = record.timestamp(timestamp);
        }
        if let Some(headers) = headers {
            record = record.headers(headers);
        }
        let mut unknown_since: Option<Instant> = None;
        let sent = self
            .enqueuer
            .send_blocking_with(&Clocked(&self.producer), record, |error| {
                if !matches!(
                    error,
                    KafkaError::MessageProduction(RDKafkaErrorCode::UnknownPartition)
                ) {
                    return OnRefused::Fail;
                }
                // The source grew before the target: have the topic task grow it now.
                let since = *unknown_since.get_or_insert_with(Instant::now);
                if since.elapsed() > self.context.flow.admin_timeout || self.context.stopping() {
                    return OnRefused::Fail;
                }
                self.context.wake_topics.notify_one();
                OnRefused::RetryAfter(Duration::from_millis(100))
            });
        sent.map_err(|error| match error {
            EnqueueError::Refused { source } => MirrorError::Delivery {
                topic: topic.to_owned(),
                partition,
                offset: message.offset(),
                source,
            },
            stayed_full @ EnqueueError::QueueStayedFull { .. } => MirrorError::QueueStayedFull {
                flow: self.flow_name(),
                source: stayed_full,
            },
        })
    }

    /// The first refused record of any partition, as an error.
    pub(crate) fn check_failures(&self) -> Result<(), MirrorError> {
        for slot in self.all_slots() {
            if let Some((offset, error)) = &slot.lock().failure {
                return Err(MirrorError::Delivery {
                    topic: slot.source_topic.clone(),
                    partition: slot.partition,
                    offset: *offset,
                    source: error.clone(),
                });
            }
        }
        Ok(())
    }

    /// Writes the runs acknowledged since the last call to the offset map (and the MM2
    /// offset syncs they call for) and returns the source positions they cover.
    pub(crate) fn write_runs(
        &self,
        batch: Option<&Arc<BatchAck>>,
    ) -> Result<Vec<(String, i32, i64)>, MirrorError> {
        let map_topic = self.context.map_topic();
        let syncs_topic = self.context.syncs_topic();
        let mut positions = Vec::new();
        for slot in self.all_slots() {
            let (runs, syncs, next) = {
                let mut state = slot.lock();
                let runs = state.tracker.drain();
                let syncs = if syncs_topic.is_some() {
                    state.syncs.syncs_for(&runs)
                } else {
                    Vec::new()
                };
                (runs, syncs, state.acknowledged_next)
            };
            for run in runs {
                let record = MapRecord {
                    topic: slot.source_topic.clone(),
                    partition: slot.partition,
                    run,
                };
                if let Some(batch) = batch {
                    batch.remaining.fetch_add(1, Ordering::AcqRel);
                }
                self.send_internal(
                    &self.producer,
                    &map_topic,
                    &record.key(),
                    &record.value(),
                    batch.cloned(),
                )?;
            }
            if let Some((location, topic)) = &syncs_topic {
                let producer = match location {
                    OffsetSyncsLocation::Source => {
                        self.sync_producer.as_ref().unwrap_or(&self.producer)
                    }
                    OffsetSyncsLocation::Target => &self.producer,
                };
                for point in syncs {
                    let sync = OffsetSync {
                        topic: slot.source_topic.clone(),
                        partition: slot.partition,
                        upstream: point.upstream,
                        downstream: point.downstream,
                    };
                    self.send_token(
                        producer,
                        topic,
                        &sync.key(),
                        &sync.value(),
                        Token::Sync(Arc::clone(&slot)),
                    )?;
                }
            }
            if let Some(next) = next {
                positions.push((slot.source_topic.clone(), slot.partition, next));
            }
        }
        Ok(positions)
    }

    fn send_internal(
        &self,
        producer: &TargetProducer,
        topic: &str,
        key: &[u8],
        value: &[u8],
        batch: Option<Arc<BatchAck>>,
    ) -> Result<(), MirrorError> {
        self.send_token(producer, topic, key, value, Token::Internal(batch))
    }

    fn send_token(
        &self,
        producer: &TargetProducer,
        topic: &str,
        key: &[u8],
        value: &[u8],
        token: Token,
    ) -> Result<(), MirrorError> {
        let record: BaseRecord<'_, [u8], [u8], Box<Token>> =
            BaseRecord::with_opaque_to(topic, Box::new(token))
                .partition(0)
                .key(key)
                .payload(value);
        self.enqueuer
            .send_blocking(&Clocked(producer), record)
            .map_err(|error| match error {
                EnqueueError::Refused { source } => {
                    MirrorError::kafka(&self.flow_name(), "write internal record", source)
                }
                stayed_full @ EnqueueError::QueueStayedFull { .. } => {
                    MirrorError::QueueStayedFull {
                        flow: self.flow_name(),
                        source: stayed_full,
                    }
                }
            })
    }

    /// Flushes both producers, serving every delivery report.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), MirrorError> {
        Clocked(&self.producer)
            .flush(timeout)
            .map_err(|e| MirrorError::kafka(&self.flow_name(), "flush", e))?;
        if let Some(sync) = &self.sync_producer
            && let Err(error) = sync.flush(timeout)
        {
            tracing::warn!(flow = %self.flow_name(), %error, "offset syncs not flushed");
        }
        Ok(())
    }
}

/// When the checks around the copy run. Per record the task thread only polls and
/// forwards; the rest (stop flags, plan changes, delivery reports, commit timer, rebalance
/// outcomes) runs every [`Self::EVERY`] records and whenever a poll brings nothing. Each of
/// those reads a clock or takes a lock, and together they were a third of the copy thread's
/// samples in a profile (docs/benchmarks.md, Mirror).
#[derive(Debug)]
pub(crate) struct Cadence {
    since_checks: u32,
}

impl Default for Cadence {
    /// Due at once: the first pass subscribes.
    fn default() -> Self {
        Self {
            since_checks: Self::EVERY,
        }
    }
}

impl Cadence {
    const EVERY: u32 = 64;

    /// Whether the checks run now (and the count restarts).
    pub(crate) fn due(&mut self) -> bool {
        if self.since_checks < Self::EVERY {
            return false;
        }
        self.since_checks = 0;
        true
    }

    pub(crate) fn copied(&mut self) {
        self.since_checks += 1;
    }

    /// Nothing came (or something needs attention): check at the next turn.
    pub(crate) fn idle(&mut self) {
        self.since_checks = Self::EVERY;
    }
}

/// A target producer whose delivery reports see a fresh clock: every poll, including the
/// waits of the produce path on a full queue, reads the clock once before serving them.
struct Clocked<'a>(&'a TargetProducer);

impl BlockingProducer for Clocked<'_> {
    type Opaque = Box<Token>;

    fn try_send<'a, K, P>(
        &self,
        record: BaseRecord<'a, K, P, Box<Token>>,
    ) -> SendAttempt<'a, K, P, Box<Token>>
    where
        K: rdkafka::message::ToBytes + ?Sized,
        P: rdkafka::message::ToBytes + ?Sized,
    {
        self.0.send(record)
    }

    fn serve_deliveries(&self, wait: Duration) {
        self.0.context().refresh_clock();
        self.0.poll(wait);
    }
}

impl Clocked<'_> {
    /// The clock's refresh granularity while flushing.
    const FLUSH_STEP: Duration = Duration::from_millis(50);

    /// `flush` in steps of [`Self::FLUSH_STEP`], so the reports served by a long flush are
    /// not measured against the clock of its start.
    fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.0.context().refresh_clock();
            let step = Self::FLUSH_STEP.min(deadline.saturating_duration_since(Instant::now()));
            match self.0.flush(step) {
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut))
                    if Instant::now() < deadline => {}
                outcome => return outcome,
            }
        }
    }
}

/// Runs task `context.task` of a flow on a named thread until it stops or fails.
pub(crate) async fn run_task(context: TaskContext) -> Result<(), MirrorError> {
    let name = format!("mirror-{}-{}", context.flow.name(), context.task);
    let (done, result) = tokio::sync::oneshot::channel();
    let exactly_once = context.flow.delivery == crate::config::Delivery::ExactlyOnce;
    broker_core::task::spawn_thread(&name, move || {
        let outcome = if exactly_once {
            exactly_once::run(&context)
        } else {
            at_least_once::run(&context)
        };
        let _ = done.send(outcome);
    })
    .map_err(|error| MirrorError::Task {
        task: name.clone(),
        reason: error.to_string(),
    })?;
    result.await.unwrap_or_else(|_| {
        Err(MirrorError::Task {
            task: name,
            reason: "the replication thread panicked".to_owned(),
        })
    })
}

/// Source consumer configuration shared by both modes.
/// The mirror's consumer session timeout unless the properties set one (see
/// [`consumer_config`]).
pub(crate) const MIRROR_SESSION_TIMEOUT_MS: &str = "10000";
pub(crate) const MIRROR_HEARTBEAT_INTERVAL_MS: &str = "3000";

pub(crate) fn consumer_config(context: &TaskContext) -> rdkafka::ClientConfig {
    let settings = context.config.cluster(&context.flow.source);
    let clients = broker_core::KafkaClients::new(settings.cluster.clone());
    let mut config = clients.consumer_config(&context.flow.replication_group());
    // A process killed with -9 keeps its partitions until the group coordinator expires its
    // session; Kafka's 45 s default would stall the flow that long after every crash. 10 s
    // (heartbeats every 3 s) bounds that, and `<alias>.consumer.session.timeout.ms`
    // still overrides it as in MirrorMaker 2.
    config
        .set("session.timeout.ms", MIRROR_SESSION_TIMEOUT_MS)
        .set("heartbeat.interval.ms", MIRROR_HEARTBEAT_INTERVAL_MS);
    for (key, value) in &settings.consumer {
        config.set(key, value);
    }
    let refresh = context
        .flow
        .refresh_topics
        .map_or(300_000, |d| d.as_millis())
        .clamp(1000, 300_000);
    config
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", refresh.to_string());
    config
}
