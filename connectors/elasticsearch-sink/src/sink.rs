//! The sink task: a bounded buffer in front of `max.in.flight.requests` lanes, each sending
//! one bulk request at a time.
//!
//! Invariants:
//! - **Memory is bounded.** `put` takes one permit of a `max.buffered.records` semaphore per
//!   action before handing it to a lane, and waits (backpressure) up to `flush.timeout.ms`
//!   when none is left; a permit comes back only when its record is done (indexed, deleted,
//!   or skipped per `behavior.on.malformed.documents`).
//! - **Per-document order.** A document id always goes to the same lane (hash of index and
//!   id), and a lane finishes a batch — retries included — before it starts the next one. In
//!   a batch that needs a retry, every later action on a retried id is sent again after it,
//!   so an old version never lands over a newer one. No external versioning is needed, so
//!   replays overwrite the same ids and nothing is dropped as a "version conflict" — unless
//!   `external.version.header` asks for it: then a conflict means the index holds an equal
//!   or newer version, and the action is counted and done.
//! - **Exact flush.** `put` counts accepted actions; lanes count finished ones. `flush`
//!   returns `Ok` only when both counts are equal, i.e. every record given to `put` so far is
//!   in the index; the runtime commits consumer offsets only after that. A lane that cannot
//!   finish (cluster down) keeps its records and retries with backoff; `flush` reports a
//!   retriable error (after `max.retries` or `flush.timeout.ms`) so the runtime retries it
//!   within `errors.retry.timeout` and fails the task after that. A definite error (a
//!   malformed document with `fail`, a forbidden index) stops every lane and fails `put` and
//!   `flush` with the cause and the task's counters.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use connect_api::{ConnectError, ErrantRecordReporter, SinkRecord, SinkTask, SinkTaskContext};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::ElasticsearchSinkConfig;
use crate::encoder::{Encoded, EncodedAction, Encoder, Operation, SkipReason};
use crate::mapping::mappings_of;
use crate::metrics::SinkCounters;
use crate::request_builder::{BatchLimits, BulkRequest, has_full_batch, take_batch};
use crate::retry::{BulkResponse, NextAttempt, RetryPolicy};
use crate::service::{ElasticsearchService, ServerInfo};
use crate::settle::{Effects, Settled, settle};

/// State the task and its lanes share.
#[derive(Debug)]
struct Shared {
    service: Arc<ElasticsearchService>,
    config: Arc<ElasticsearchSinkConfig>,
    counters: Arc<SinkCounters>,
    /// Actions finished for good (indexed, deleted, or skipped per config).
    completed: AtomicU64,
    progress: Notify,
    /// A definite failure: the task must fail.
    failure: Mutex<Option<String>>,
    /// Why a lane is still retrying after `max.retries` attempts.
    stalled: Mutex<Option<String>>,
    /// While a flush waits, lanes send partial batches at once instead of lingering.
    flushing: AtomicBool,
    buffer: Arc<Semaphore>,
    /// The runtime's DLQ; malformed documents (with `ignore`/`warn`) and dropped invalid
    /// records are reported to it before they count as done.
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
}

impl Shared {
    fn complete(&self, count: u64) {
        if count == 0 {
            return;
        }
        self.completed.fetch_add(count, Ordering::AcqRel);
        self.buffer
            .add_permits(usize::try_from(count).unwrap_or(usize::MAX));
        self.progress.notify_waiters();
    }

    fn fail(&self, message: String) {
        tracing::error!(error = message, "elasticsearch sink task failing");
        if let Ok(mut failure) = self.failure.lock()
            && failure.is_none()
        {
            *failure = Some(message);
        }
        self.progress.notify_waiters();
    }

    fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    fn stall(&self, reason: String) {
        if let Ok(mut stalled) = self.stalled.lock() {
            *stalled = Some(reason);
        }
        self.progress.notify_waiters();
    }

    fn unstall(&self) {
        if let Ok(mut stalled) = self.stalled.lock() {
            *stalled = None;
        }
    }

    fn stalled(&self) -> Option<String> {
        self.stalled.lock().ok().and_then(|s| s.clone())
    }

    fn effects(&self) -> Effects<'_> {
        Effects {
            counters: &self.counters,
            reporter: self.reporter.as_ref(),
        }
    }

    fn failure_error(&self, message: &str) -> ConnectError {
        ConnectError::definite(format!("{message} [{}]", self.counters.snapshot()))
    }
}

/// The running task.
#[derive(Debug)]
pub struct ElasticsearchSinkTask {
    shared: Arc<Shared>,
    encoder: Encoder,
    lanes: Vec<mpsc::UnboundedSender<EncodedAction>>,
    handles: Vec<JoinHandle<()>>,
    flushes: watch::Sender<u64>,
    accepted: u64,
    known_targets: HashSet<String>,
    server: Option<ServerInfo>,
    connector: String,
    task: u32,
}

impl ElasticsearchSinkTask {
    /// Starts the lanes; no I/O happens before the first `put`.
    pub fn start(
        config: ElasticsearchSinkConfig,
        context: &SinkTaskContext,
    ) -> Result<Self, ConnectError> {
        let (connector, task) = (context.connector.as_str(), context.task);
        let service = Arc::new(ElasticsearchService::new(
            &config.connection,
            config.log_sensitive_data,
        )?);
        let config = Arc::new(config);
        let shared = Arc::new(Shared {
            service,
            counters: Arc::new(SinkCounters::register(&context.metrics)),
            completed: AtomicU64::new(0),
            progress: Notify::new(),
            failure: Mutex::new(None),
            stalled: Mutex::new(None),
            flushing: AtomicBool::new(false),
            buffer: Arc::new(Semaphore::new(config.bulk.max_buffered_records)),
            config: Arc::clone(&config),
            reporter: context.errant_record_reporter.clone(),
        });
        let (flushes, _) = watch::channel(0_u64);
        let mut lanes = Vec::new();
        let mut handles = Vec::new();
        for lane in 0..config.bulk.max_in_flight_requests {
            let (sender, inbox) = mpsc::unbounded_channel();
            let span = tracing::info_span!("elasticsearch_sink_lane", connector, task, lane);
            let future = run_lane(Arc::clone(&shared), inbox, flushes.subscribe());
            handles.push(connect_api::task::spawn(
                "elasticsearch-sink-lane",
                tracing::Instrument::instrument(future, span),
            ));
            lanes.push(sender);
        }
        Ok(Self {
            encoder: Encoder::new((*config).clone()),
            shared,
            lanes,
            handles,
            flushes,
            accepted: 0,
            known_targets: HashSet::new(),
            server: None,
            connector: connector.to_owned(),
            task,
        })
    }

    /// This task's counters.
    pub fn counters(&self) -> crate::metrics::CountersSnapshot {
        self.shared.counters.snapshot()
    }

    fn check_failure(&self) -> Result<(), ConnectError> {
        match self.shared.failure() {
            Some(message) => Err(self.shared.failure_error(&message)),
            None => Ok(()),
        }
    }

    async fn ensure_server(&mut self) -> Result<(), ConnectError> {
        if self.server.is_some() {
            return Ok(());
        }
        let info = self
            .shared
            .service
            .server_info()
            .await
            .map_err(crate::service::ServiceError::into_connect_error)?
            .map_err(ConnectError::definite)?;
        tracing::info!(
            connector = self.connector,
            task = self.task,
            flavour = ?info.flavour,
            version = info.version,
            "connected to the search cluster"
        );
        self.server = Some(info);
        Ok(())
    }

    /// Creates the index (with a mapping from the schema) or data stream the first time the
    /// task writes to it.
    async fn ensure_target(
        &mut self,
        action: &EncodedAction,
        record: &SinkRecord,
    ) -> Result<(), ConnectError> {
        if self.known_targets.contains(&action.index) || action.operation == Operation::Delete {
            return Ok(());
        }
        let service = &self.shared.service;
        let result = if self.shared.config.data_stream.is_some() {
            service.ensure_data_stream(&action.index).await
        } else {
            let mappings =
                if self.shared.config.ignores_schema(&record.record.topic) {
                    None
                } else {
                    record.record.value_schema.as_deref().and_then(|schema| {
                        mappings_of(schema, self.shared.config.compact_map_entries)
                    })
                };
            service.ensure_index(&action.index, mappings).await
        };
        result.map_err(|error| {
            let error = error.into_connect_error();
            match error {
                ConnectError::Definite { message } => {
                    ConnectError::definite(format!("cannot create {}: {message}", action.index))
                }
                other => other,
            }
        })?;
        self.known_targets.insert(action.index.clone());
        Ok(())
    }

    fn lane_of(&self, action: &EncodedAction) -> usize {
        let mut hasher = DefaultHasher::new();
        action.index.hash(&mut hasher);
        action.id.hash(&mut hasher);
        usize::try_from(hasher.finish() % self.lanes.len() as u64).unwrap_or(0)
    }

    /// Hands `actions` to the lanes, waiting for buffer space (backpressure). On a timeout
    /// some actions may already be accepted; the runtime then calls `put` again with the
    /// same records, which is harmless: ids are deterministic and lanes keep per-id order.
    async fn dispatch(&mut self, actions: Vec<EncodedAction>) -> Result<(), ConnectError> {
        let capacity = self.shared.config.bulk.max_buffered_records;
        let mut actions = actions.into_iter().peekable();
        while actions.peek().is_some() {
            let chunk: Vec<EncodedAction> = actions.by_ref().take(capacity).collect();
            let wanted = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            let timeout = self.shared.config.bulk.flush_timeout;
            let permit = tokio::time::timeout(
                timeout,
                Arc::clone(&self.shared.buffer).acquire_many_owned(wanted),
            )
            .await;
            match permit {
                Ok(Ok(permit)) => permit.forget(),
                Ok(Err(_)) => return Err(ConnectError::definite("the sink task is stopping")),
                Err(_) => {
                    self.check_failure()?;
                    return Err(ConnectError::retriable(format!(
                        "buffer full: {capacity} records (max.buffered.records) waited {} ms (flush.timeout.ms) for Elasticsearch{}",
                        timeout.as_millis(),
                        self.shared
                            .stalled()
                            .map(|s| format!("; last error: {s}"))
                            .unwrap_or_default()
                    )));
                }
            }
            for action in chunk {
                let lane = self.lane_of(&action);
                if self.lanes[lane].send(action).is_err() {
                    self.check_failure()?;
                    return Err(ConnectError::definite("a sink lane stopped unexpectedly"));
                }
                self.accepted += 1;
            }
        }
        Ok(())
    }
}

impl Drop for ElasticsearchSinkTask {
    fn drop(&mut self) {
        for handle in &self.handles {
            handle.abort();
        }
    }
}

impl SinkTask for ElasticsearchSinkTask {
    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
        self.check_failure()?;
        if records.is_empty() {
            return Ok(());
        }
        self.ensure_server().await?;
        let counters = Arc::clone(&self.shared.counters);
        let mut actions = Vec::with_capacity(records.len());
        for record in records {
            match self.encoder.encode(record) {
                Ok(Encoded::Action(mut action)) => {
                    self.ensure_target(&action, record).await?;
                    if self.shared.reporter.is_some() {
                        action.record = Some(Arc::new(record.clone()));
                    }
                    actions.push(action);
                }
                Ok(Encoded::Skip(SkipReason::NullValue)) => {
                    SinkCounters::add(&counters.records_skipped_null, 1);
                }
                Ok(Encoded::Skip(SkipReason::InvalidMessage)) => {
                    SinkCounters::add(&counters.records_dropped_invalid, 1);
                    tracing::warn!(
                        topic = record.original_topic,
                        partition = record.kafka_partition,
                        offset = record.kafka_offset,
                        "dropping a record that cannot become a document (drop.invalid.message=true)"
                    );
                    if let Some(reporter) = &self.shared.reporter {
                        let error = ConnectError::definite(
                            "the record cannot become a document (drop.invalid.message=true)",
                        );
                        reporter.report(record, &error).await?;
                    }
                }
                Err(error) => return Err(ConnectError::definite(error.to_string())),
            }
        }
        self.dispatch(actions).await
    }

    async fn flush(&mut self) -> Result<(), ConnectError> {
        self.check_failure()?;
        let shared = Arc::clone(&self.shared);
        shared.flushing.store(true, Ordering::Release);
        self.flushes.send_modify(|epoch| *epoch += 1);
        let result = wait_until_done(&shared, self.accepted).await;
        shared.flushing.store(false, Ordering::Release);
        result
    }

    async fn stop(&mut self) {
        for handle in &self.handles {
            handle.abort();
        }
        tracing::info!(
            connector = self.connector,
            task = self.task,
            counters = %self.shared.counters.snapshot(),
            "elasticsearch sink task stopped"
        );
    }
}

async fn wait_until_done(shared: &Shared, accepted: u64) -> Result<(), ConnectError> {
    let timeout = shared.config.bulk.flush_timeout;
    let deadline = Instant::now() + timeout;
    loop {
        let mut notified = pin!(shared.progress.notified());
        notified.as_mut().enable();
        if let Some(message) = shared.failure() {
            return Err(shared.failure_error(&message));
        }
        let done = shared.completed.load(Ordering::Acquire);
        if done >= accepted {
            return Ok(());
        }
        let missing = accepted - done;
        if let Some(reason) = shared.stalled() {
            return Err(ConnectError::retriable(format!(
                "{missing} records are not in Elasticsearch yet, still retrying after max.retries={}: {reason}",
                shared.config.bulk.max_retries
            )));
        }
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep_until(deadline) => {
                return Err(ConnectError::retriable(format!(
                    "flush timed out after {} ms (flush.timeout.ms) with {missing} records not yet in Elasticsearch",
                    timeout.as_millis()
                )));
            }
        }
    }
}

/// One lane: batches what arrives, sends one bulk request at a time, retries until done.
async fn run_lane(
    shared: Arc<Shared>,
    mut inbox: mpsc::UnboundedReceiver<EncodedAction>,
    mut flushes: watch::Receiver<u64>,
) {
    let bulk = &shared.config.bulk;
    let limits = BatchLimits {
        max_actions: bulk.batch_size,
        max_bytes: bulk.bulk_size_bytes,
    };
    let mut pending: VecDeque<EncodedAction> = VecDeque::new();
    let mut pending_bytes = 0_usize;
    loop {
        if pending.is_empty() {
            let Some(action) = inbox.recv().await else {
                return;
            };
            pending_bytes += action.lines.len();
            pending.push_back(action);
        }
        while let Ok(action) = inbox.try_recv() {
            pending_bytes += action.lines.len();
            pending.push_back(action);
        }
        flushes.borrow_and_update();
        if !has_full_batch(&pending, pending_bytes, limits)
            && !bulk.linger.is_zero()
            && !shared.flushing.load(Ordering::Acquire)
        {
            let deadline = Instant::now() + bulk.linger;
            loop {
                tokio::select! {
                    next = inbox.recv() => match next {
                        Some(action) => {
                            pending_bytes += action.lines.len();
                            pending.push_back(action);
                            if has_full_batch(&pending, pending_bytes, limits) {
                                break;
                            }
                        }
                        None => break,
                    },
                    _ = flushes.changed() => break,
                    () = tokio::time::sleep_until(deadline) => break,
                }
            }
        }
        let batch = take_batch(&mut pending, limits);
        pending_bytes -= batch.iter().map(|a| a.lines.len()).sum::<usize>();
        if !send_until_done(&shared, batch).await {
            return;
        }
    }
}

/// Sends `batch` and retries what needs it until every action is done; `false` when the task
/// failed for good.
///
/// Each round is build request → send → policy decides per item → settle (counters, DLQ)
/// → back off; only the actions the policy sends again make up the next request.
async fn send_until_done(shared: &Shared, batch: Vec<EncodedAction>) -> bool {
    let policy = RetryPolicy::from_config(&shared.config);
    let compression = shared.config.connection.client.compression;
    let mut request = BulkRequest::new(batch, compression);
    let mut attempt = 0_u32;
    while !request.is_empty() {
        if shared.failure().is_some() {
            return false;
        }
        let response = match send_once(shared, &policy, &request, attempt).await {
            Sent::Answered(response) => response,
            Sent::Retry(next) => {
                // The same request, body bytes included, goes out again.
                tokio::time::sleep(next.wait).await;
                attempt = attempt.saturating_add(1);
                continue;
            }
            Sent::Failed => return false,
        };
        let settled = match policy.decide_items(&request.actions, &response, attempt) {
            Ok(decisions) => settle(shared.effects(), request.actions, decisions).await,
            Err(mismatch) => Err(mismatch),
        };
        let settled = match settled {
            Ok(settled) => settled,
            Err(message) => {
                shared.fail(message);
                return false;
            }
        };
        shared.complete(settled.done);
        if settled.retry.is_empty() {
            shared.unstall();
        } else {
            back_off_items(shared, &policy, &settled, attempt).await;
            attempt = attempt.saturating_add(1);
        }
        request = BulkRequest::new(settled.retry, compression);
    }
    shared.unstall();
    true
}

/// What one send of a bulk request came to.
enum Sent {
    Answered(BulkResponse),
    /// No answer, but trying again can help.
    Retry(NextAttempt),
    /// The task failed.
    Failed,
}

async fn send_once(
    shared: &Shared,
    policy: &RetryPolicy,
    request: &BulkRequest,
    attempt: u32,
) -> Sent {
    SinkCounters::add(&shared.counters.bulk_requests, 1);
    let error = match shared.service.bulk(&request.body).await {
        Ok(response) => return Sent::Answered(response),
        Err(error) => error,
    };
    let Some(next) = policy.on_request_error(&error, attempt) else {
        shared.fail(format!(
            "bulk request with {} failed: {error}",
            request.records()
        ));
        return Sent::Failed;
    };
    SinkCounters::add(&shared.counters.requests_retried, 1);
    tracing::warn!(%error, attempt, actions = request.len(), "bulk request failed, retrying");
    if next.stalled {
        shared.stall(error.to_string());
    }
    Sent::Retry(next)
}

/// Waits before the items the policy sends again; past `max.retries` the lane keeps going
/// but `flush` learns why nothing progresses.
async fn back_off_items(shared: &Shared, policy: &RetryPolicy, settled: &Settled, attempt: u32) {
    let reason = &settled.last_reason;
    tracing::debug!(
        items = settled.retry.len(),
        attempt,
        reason,
        "retrying bulk items"
    );
    let next = policy.next_attempt(attempt);
    if next.stalled {
        shared.stall(format!(
            "{} items still failing: {reason}",
            settled.retry.len()
        ));
    }
    tokio::time::sleep(next.wait).await;
}
