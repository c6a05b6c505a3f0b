//! One consumer instance: a librdkafka consumer plus the state the HTTP API needs on top
//! of it.
//!
//! Records are polled into `pending` before they are handed out, so a record that does not
//! fit a response (`max_bytes`, `max_records`) is kept for the next request instead of
//! being lost. `handed_out` remembers, per partition, the offset after the last record a
//! client received: an empty-body commit commits exactly that, never a record still
//! pending. With auto-commit on, the same offsets are stored for librdkafka's auto-commit
//! (`enable.auto.offset.store=false`), so auto-commit too covers only handed-out records.
//!
//! The consumer is polled only while a client asks for records. librdkafka keeps the group
//! membership alive with its own heartbeat thread, but `max.poll.interval.ms` (300 s by
//! default) still applies: an instance not asked for records within it leaves the group
//! and rejoins on the next request. The idle timeout defaults to the same 300 s.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use broker_core::BrokerError;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::error::ApiError;
use crate::media::EmbeddedFormat;

/// Blocking librdkafka calls (commit, committed offsets, seek) give up after this long.
pub(crate) const KAFKA_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings fixed when the instance is created.
#[derive(Debug, Clone)]
pub(crate) struct InstanceSettings {
    pub format: EmbeddedFormat,
    pub auto_commit: bool,
    /// Confluent `fetch.min.bytes`: bytes the bridge accumulates before answering.
    pub response_min_bytes: Option<usize>,
    /// Confluent `consumer.request.timeout.ms` of this instance.
    pub request_timeout: Option<Duration>,
}

/// How the instance gets its partitions; the two are mutually exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Mode {
    #[default]
    Idle,
    Subscribed {
        topics: Vec<String>,
        pattern: Option<String>,
    },
    Assigned(Vec<(String, i32)>),
}

#[derive(Debug, Default)]
pub(crate) struct InstanceState {
    pub mode: Mode,
    pub pending: VecDeque<OwnedMessage>,
    pub handed_out: HashMap<(String, i32), i64>,
    /// Positions asked for on manually assigned partitions, until fetching reports its
    /// own position: a second seek must not undo a first one that fetching has not
    /// reached yet.
    pub requested_positions: HashMap<(String, i32), Offset>,
}

pub(crate) struct ConsumerInstance {
    pub group: String,
    pub name: String,
    pub settings: InstanceSettings,
    /// The authenticated principal that created the instance; only it may use it.
    pub owner: Option<String>,
    pub consumer: Arc<StreamConsumer>,
    /// Held for the whole of each request: calls on one instance are serialized.
    pub state: tokio::sync::Mutex<InstanceState>,
    last_used: Mutex<Instant>,
    /// Cancelled when the instance leaves the registry (deleted, expired, gateway
    /// shutdown): a stream reading it ends.
    pub closed: tokio_util::sync::CancellationToken,
    /// The stream reading the instance, if any; one at a time.
    pub stream: super::stream::StreamSlot,
}

impl std::fmt::Debug for ConsumerInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerInstance")
            .field("group", &self.group)
            .field("name", &self.name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn kafka(operation: &'static str) -> impl FnOnce(rdkafka::error::KafkaError) -> ApiError {
    move |error| ApiError::from(BrokerError::kafka(operation, error))
}

impl ConsumerInstance {
    pub(crate) fn new(
        group: String,
        name: String,
        settings: InstanceSettings,
        owner: Option<String>,
        consumer: StreamConsumer,
    ) -> Self {
        Self {
            group,
            name,
            settings,
            owner,
            consumer: Arc::new(consumer),
            state: tokio::sync::Mutex::new(InstanceState::default()),
            last_used: Mutex::new(Instant::now()),
            closed: tokio_util::sync::CancellationToken::new(),
            stream: super::stream::StreamSlot::default(),
        }
    }

    pub(crate) fn touch(&self) {
        *self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    pub(crate) fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }

    /// Runs a blocking librdkafka call on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&StreamConsumer) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let consumer = Arc::clone(&self.consumer);
        broker_core::task::spawn_blocking("bridge-consumer-call", move || call(&consumer))
            .await
            .map_err(|error| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    50002,
                    format!("consumer task failed: {error}"),
                )
            })?
    }

    pub(crate) fn subscribe(
        &self,
        state: &mut InstanceState,
        topics: Vec<String>,
        pattern: Option<String>,
    ) -> Result<(), ApiError> {
        if matches!(state.mode, Mode::Assigned(_)) {
            return Err(ApiError::illegal_state(
                "Subscription to topics, partitions and pattern are mutually exclusive.",
            ));
        }
        let subscription: Vec<String> = match &pattern {
            // librdkafka treats a leading `^` as a regex; anchor the end too so that the
            // pattern must match the whole name, as Java's `Pattern.matcher().matches()`.
            Some(pattern) => {
                let body = pattern.trim_start_matches('^').trim_end_matches('$');
                vec![format!("^{body}$")]
            }
            None => topics.clone(),
        };
        let names: Vec<&str> = subscription.iter().map(String::as_str).collect();
        self.consumer
            .subscribe(&names)
            .map_err(kafka("subscribe"))?;
        state.pending.clear();
        state.mode = Mode::Subscribed { topics, pattern };
        Ok(())
    }

    pub(crate) fn unsubscribe(&self, state: &mut InstanceState) {
        self.consumer.unsubscribe();
        state.pending.clear();
        state.handed_out.clear();
        state.mode = Mode::Idle;
    }

    pub(crate) fn assign(
        &self,
        state: &mut InstanceState,
        partitions: Vec<(String, i32)>,
    ) -> Result<(), ApiError> {
        if matches!(state.mode, Mode::Subscribed { .. }) {
            return Err(ApiError::illegal_state(
                "Subscription to topics, partitions and pattern are mutually exclusive.",
            ));
        }
        let mut list = TopicPartitionList::new();
        for (topic, partition) in &partitions {
            list.add_partition(topic, *partition);
        }
        self.consumer.assign(&list).map_err(kafka("assign"))?;
        state.pending.clear();
        state.requested_positions.clear();
        state.mode = if partitions.is_empty() {
            Mode::Idle
        } else {
            Mode::Assigned(partitions)
        };
        Ok(())
    }

    pub(crate) fn assignment(&self) -> Result<Vec<(String, i32)>, ApiError> {
        let list = self.consumer.assignment().map_err(kafka("assignment"))?;
        Ok(list
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect())
    }

    /// Moves the position of each partition; 40903 when one is not assigned.
    pub(crate) async fn seek(
        &self,
        state: &mut InstanceState,
        targets: Vec<(String, i32, Offset)>,
    ) -> Result<(), ApiError> {
        let assigned = self.assignment()?;
        for (topic, partition, _) in &targets {
            if !assigned.iter().any(|(t, p)| t == topic && p == partition) {
                return Err(ApiError::illegal_state(format!(
                    "No current assignment for partition {topic}-{partition}."
                )));
            }
        }
        state.pending.retain(|m| {
            !targets
                .iter()
                .any(|(t, p, _)| t == m.topic() && *p == m.partition())
        });
        match state.mode.clone() {
            Mode::Assigned(partitions) => {
                // Re-assigning with explicit offsets works whether or not fetching has
                // started; untouched partitions resume where they are.
                let positions = self.consumer.position().map_err(kafka("position"))?;
                let mut list = TopicPartitionList::new();
                for (topic, partition) in &partitions {
                    let target = targets
                        .iter()
                        .find(|(t, p, _)| t == topic && p == partition)
                        .map(|(_, _, offset)| *offset);
                    let offset = match target {
                        Some(offset) => offset,
                        None => match positions
                            .find_partition(topic, *partition)
                            .map(|e| e.offset())
                        {
                            Some(Offset::Offset(next)) => Offset::Offset(next),
                            _ => state
                                .requested_positions
                                .get(&(topic.clone(), *partition))
                                .copied()
                                .unwrap_or(Offset::Stored),
                        },
                    };
                    state
                        .requested_positions
                        .insert((topic.clone(), *partition), offset);
                    list.add_partition_offset(topic, *partition, offset)
                        .map_err(kafka("seek"))?;
                }
                self.consumer.assign(&list).map_err(kafka("seek"))
            }
            _ => {
                self.blocking(move |consumer| {
                    for (topic, partition, offset) in targets {
                        consumer
                            .seek(&topic, partition, offset, KAFKA_CALL_TIMEOUT)
                            .map_err(kafka("seek"))?;
                    }
                    Ok(())
                })
                .await
            }
        }
    }

    /// The offsets of the first records at or after each timestamp (ms).
    pub(crate) async fn offsets_for_times(
        &self,
        targets: Vec<(String, i32, i64)>,
    ) -> Result<Vec<(String, i32, Offset)>, ApiError> {
        self.blocking(move |consumer| {
            let mut list = TopicPartitionList::new();
            for (topic, partition, timestamp) in &targets {
                list.add_partition_offset(topic, *partition, Offset::Offset(*timestamp))
                    .map_err(kafka("offsets for times"))?;
            }
            let found = consumer
                .offsets_for_times(list, KAFKA_CALL_TIMEOUT)
                .map_err(kafka("offsets for times"))?;
            Ok(found
                .elements()
                .iter()
                .map(|e| {
                    let offset = match e.offset() {
                        Offset::Offset(o) => Offset::Offset(o),
                        _ => Offset::End,
                    };
                    (e.topic().to_owned(), e.partition(), offset)
                })
                .collect())
        })
        .await
    }

    /// Commits `offsets` (the next offsets to read) synchronously.
    pub(crate) async fn commit(
        &self,
        offsets: Vec<(String, i32, i64, String)>,
    ) -> Result<(), ApiError> {
        if offsets.is_empty() {
            return Ok(());
        }
        self.blocking(move |consumer| {
            let mut list = TopicPartitionList::new();
            for (topic, partition, offset, metadata) in &offsets {
                let mut element = list.add_partition(topic, *partition);
                element
                    .set_offset(Offset::Offset(*offset))
                    .map_err(kafka("commit"))?;
                element.set_metadata(metadata.clone());
            }
            consumer
                .commit(&list, CommitMode::Sync)
                .map_err(kafka("commit"))
        })
        .await
    }

    /// The group's committed offsets of `partitions`: `(topic, partition, offset, metadata)`,
    /// offset -1 when nothing was committed.
    pub(crate) async fn committed(
        &self,
        partitions: Vec<(String, i32)>,
    ) -> Result<Vec<(String, i32, i64, String)>, ApiError> {
        self.blocking(move |consumer| {
            let mut list = TopicPartitionList::new();
            for (topic, partition) in &partitions {
                list.add_partition(topic, *partition);
            }
            let committed = consumer
                .committed_offsets(list, KAFKA_CALL_TIMEOUT)
                .map_err(kafka("committed offsets"))?;
            Ok(committed
                .elements()
                .iter()
                .map(|e| {
                    let offset = match e.offset() {
                        Offset::Offset(o) => o,
                        _ => -1,
                    };
                    (
                        e.topic().to_owned(),
                        e.partition(),
                        offset,
                        e.metadata().to_owned(),
                    )
                })
                .collect())
        })
        .await
    }

    /// Records that the client received the record at `offset` of `topic`/`partition`
    /// (and everything before it that the same response carried).
    pub(crate) fn mark_handed_out(
        &self,
        state: &mut InstanceState,
        topic: String,
        partition: i32,
        offset: i64,
    ) {
        if self.settings.auto_commit {
            // Stores offset + 1, which auto-commit then commits.
            if let Err(error) = self.consumer.store_offset(&topic, partition, offset) {
                tracing::debug!(%error, "offset store after hand-out failed");
            }
        }
        state.handed_out.insert((topic, partition), offset + 1);
    }
}
