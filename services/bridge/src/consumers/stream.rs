//! `GET .../records` with `Accept: text/event-stream` or `application/x-ndjson`: records
//! pushed as they arrive, one Server-Sent Event (`id:` topic/partition/offset) or one JSON
//! line per record, each in the shape a records response gives it.
//!
//! Backpressure is pull-based: the response body asks a per-stream pump task for the next
//! batch only when hyper wants the next chunk, i.e. once the client has read the previous
//! one (beyond the sockets' buffers). The hand-off is a capacity-1 request channel and a
//! oneshot reply, so at most one rendered batch exists per stream, and a batch only takes,
//! after its first record, what librdkafka has already fetched: memory per stream is
//! bounded by the consumer's own pre-fetch bounds.
//!
//! Invariants:
//! - Records are marked handed out (the empty-body commit and auto-commit cover them) only
//!   after the body took the batch. A batch the body can no longer take (the client left)
//!   goes back to `pending` in order, so the next read of the instance returns it.
//! - The instance's lock is held only while one batch is rendered (at most [`BATCH_WAIT`]),
//!   never while waiting for the client: commits, seeks and the other calls on the instance
//!   work while it streams.
//! - A client that stops reading does not get the consumer kicked out of its group: after
//!   [`KEEP_ALIVE`] without a request the pump pauses the assignment and keeps polling
//!   (which serves rebalances and resets `max.poll.interval.ms`); the next request resumes
//!   it, from the position after the last record polled. A record a keep-alive poll still
//!   returns goes to `pending`.
//! - Ends when the instance leaves the registry (deleted, expired, gateway shutdown), after
//!   an error event, or when the client goes away. A running stream counts as use of the
//!   instance (its idle timer is reset at every batch and keep-alive).
//!
//! `Last-Event-ID: topic/partition/offset` on a new stream seeks that partition to
//! `offset + 1` and marks `offset` handed out; other partitions are untouched and continue
//! after the last record the instance handed out, whichever connection got it. An id naming
//! a partition the instance is not assigned (any more) is ignored: that partition's records
//! come to whichever member owns it, from the group's committed offset.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderMap};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{FutureExt as _, StreamExt as _};
use rdkafka::Offset;
use rdkafka::consumer::Consumer as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::instance::{ConsumerInstance, InstanceState, Mode};
use super::records::{self, FetchLimits, Framing, Overflow, RenderedRecords};
use crate::error::ApiError;
use crate::state::BridgeState;

pub(crate) const EVENT_STREAM: &str = "text/event-stream";
pub(crate) const NDJSON: &str = "application/x-ndjson";

/// Longest a batch waits for its first record while holding the instance's lock.
const BATCH_WAIT: Duration = Duration::from_millis(250);
/// Most records in one batch: what one Kafka poll returns (`max.poll.records`).
const BATCH_RECORDS: usize = 500;
/// An idle stream writes a comment (SSE) or an empty line (NDJSON) this often, so that
/// proxies keep it open and a client that went away is noticed.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// Without a request for this long the client is not reading: pause and keep polling.
const KEEP_ALIVE: Duration = Duration::from_secs(2);

/// The streaming framing the request's `Accept` asks for, if any.
pub(crate) fn requested_framing(headers: &HeaderMap) -> Option<Framing> {
    let accept = headers.get(ACCEPT)?.to_str().ok()?;
    accept.split(',').find_map(|part| {
        let media_type = part.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case(EVENT_STREAM) {
            Some(Framing::ServerSentEvents)
        } else if media_type.eq_ignore_ascii_case(NDJSON) {
            Some(Framing::NdJson)
        } else {
            None
        }
    })
}

/// `topic/partition/offset` of an event id.
fn parse_event_id(text: &str) -> Option<(String, i32, i64)> {
    let mut parts = text.trim().rsplitn(3, '/');
    let offset = parts.next()?.parse::<i64>().ok().filter(|o| *o >= 0)?;
    let partition = parts.next()?.parse::<i32>().ok().filter(|p| *p >= 0)?;
    let topic = parts.next().filter(|t| !t.is_empty())?;
    Some((topic.to_owned(), partition, offset))
}

/// One stream per instance: a new stream ends the one before (a client reconnecting must
/// not wait for the bridge to notice that its old connection is gone) and takes over once
/// it stopped between two batches, so no batch is lost in the hand-over.
#[derive(Debug)]
pub(crate) struct StreamSlot {
    permit: Arc<Semaphore>,
    current: Mutex<CancellationToken>,
}

impl Default for StreamSlot {
    fn default() -> Self {
        Self {
            permit: Arc::new(Semaphore::new(1)),
            current: Mutex::new(CancellationToken::new()),
        }
    }
}

/// Longest a new stream waits for the one before to stop.
const TAKE_OVER: Duration = Duration::from_secs(5);

impl StreamSlot {
    /// Ends the current stream and waits for its slot; the token ends the new one.
    async fn take_over(
        &self,
        closed: &CancellationToken,
    ) -> Result<(OwnedSemaphorePermit, CancellationToken), ApiError> {
        let token = closed.child_token();
        std::mem::replace(
            &mut *self.current.lock().unwrap_or_else(PoisonError::into_inner),
            token.clone(),
        )
        .cancel();
        match tokio::time::timeout(TAKE_OVER, Arc::clone(&self.permit).acquire_owned()).await {
            Ok(Ok(permit)) => Ok((permit, token)),
            _ => Err(ApiError::illegal_state(
                "Another stream still reads this consumer instance; retry.",
            )),
        }
    }
}

/// Starts a stream of `instance`'s records in `framing`.
pub(crate) async fn open(
    state: &BridgeState,
    instance: Arc<ConsumerInstance>,
    framing: Framing,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let last_seen = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(parse_event_id)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "Last-Event-ID must be topic/partition/offset, as the stream's event ids.",
                    )
                })?,
        ),
    };
    let (claim, stop) = instance.stream.take_over(&instance.closed).await?;
    {
        let mut guard = instance.state.lock().await;
        if guard.mode == Mode::Idle {
            return Err(ApiError::illegal_state(
                "The consumer is neither subscribed nor assigned to any partition.",
            ));
        }
        if let Some(last_seen) = last_seen {
            resume_after(&instance, &mut guard, last_seen).await?;
        }
    }
    let limits = state.consumers().limits();
    let pump = Pump {
        state: state.clone(),
        instance,
        framing,
        limits: FetchLimits {
            wait: BATCH_WAIT,
            max_bytes: limits.request_max_bytes,
            max_records: BATCH_RECORDS,
            min_bytes: 0,
            overflow: Overflow::Truncate,
        },
        paused: false,
        stop,
        claim,
    };
    let (requests, pending_requests) = mpsc::channel::<oneshot::Sender<Vec<Bytes>>>(1);
    broker_core::task::spawn("bridge-consumer-stream", pump.run(pending_requests));
    let body = futures::stream::unfold(requests, |requests| async move {
        let (reply, chunks) = oneshot::channel();
        requests.send(reply).await.ok()?;
        let chunks = chunks.await.ok()?;
        Some((chunks, requests))
    })
    .flat_map(|chunks| futures::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>)));
    let mut response = axum::body::Body::from_stream(body).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(match framing {
            Framing::NdJson => NDJSON,
            Framing::ServerSentEvents | Framing::Array => EVENT_STREAM,
        }),
    );
    response_headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // nginx would otherwise buffer the stream.
    response_headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// Seeks the partition of the last event the client saw past it.
async fn resume_after(
    instance: &ConsumerInstance,
    state: &mut InstanceState,
    (topic, partition, offset): (String, i32, i64),
) -> Result<(), ApiError> {
    let assigned = instance.assignment()?;
    if !assigned.iter().any(|(t, p)| *t == topic && *p == partition) {
        tracing::info!(group = %instance.group, instance = %instance.name, %topic, partition,
            "last-event-id names a partition not assigned to the instance; ignored");
        return Ok(());
    }
    let next = offset.saturating_add(1);
    instance
        .seek(
            state,
            vec![(topic.clone(), partition, Offset::Offset(next))],
        )
        .await?;
    instance.mark_handed_out(state, topic, partition, offset);
    Ok(())
}

/// Polls the instance for one stream and hands batches to the response body on request.
struct Pump {
    state: BridgeState,
    instance: Arc<ConsumerInstance>,
    framing: Framing,
    limits: FetchLimits,
    /// Whether the pump paused the assignment because the client is not reading.
    paused: bool,
    /// Cancelled by a newer stream of the instance, or when the instance closes.
    stop: CancellationToken,
    claim: OwnedSemaphorePermit,
}

/// What became of one request of the body.
enum Served {
    /// The body took a batch or a heartbeat.
    Delivered,
    /// The stream is over (the client left, an error event was sent, the instance closed).
    Ended,
}

impl Pump {
    async fn run(mut self, mut requests: mpsc::Receiver<oneshot::Sender<Vec<Bytes>>>) {
        let closed = self.instance.closed.clone();
        let stop = self.stop.clone();
        loop {
            let reply = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                request = requests.recv() => match request {
                    Some(reply) => reply,
                    None => break,
                },
                () = tokio::time::sleep(KEEP_ALIVE) => {
                    self.keep_membership().await;
                    continue;
                }
            };
            // Only a closing instance interrupts a batch (its records go nowhere else
            // anyway); a newer stream waits for the batch to end, see `serve`.
            let served = tokio::select! {
                biased;
                () = closed.cancelled() => Served::Ended,
                served = self.serve(reply) => served,
            };
            if matches!(served, Served::Ended) {
                break;
            }
        }
        if self.paused {
            self.set_paused(false);
        }
        tracing::debug!(group = %self.instance.group, instance = %self.instance.name, "stream ended");
        // The last reference of an instance deleted while streaming: closing the consumer
        // waits for the broker, off the runtime.
        let Self {
            instance, claim, ..
        } = self;
        drop(claim);
        if let Some(last) = Arc::into_inner(instance) {
            broker_core::task::spawn_blocking("bridge-consumers-close", move || drop(last));
        }
    }

    /// Renders batches until one has records (or a heartbeat is due) and hands it over.
    async fn serve(&mut self, reply: oneshot::Sender<Vec<Bytes>>) -> Served {
        if self.paused {
            self.set_paused(false);
        }
        let idle_since = Instant::now();
        loop {
            self.instance.touch();
            if reply.is_closed() || self.stop.is_cancelled() {
                return Served::Ended;
            }
            let mut guard = self.instance.state.lock().await;
            if guard.mode == Mode::Idle {
                let error = ApiError::illegal_state(
                    "The consumer is neither subscribed nor assigned to any partition.",
                );
                let _ = reply.send(vec![self.error_event(&error)]);
                return Served::Ended;
            }
            let rendered = records::render(
                &self.instance,
                &mut guard,
                self.limits,
                self.state.schemas(),
                self.framing,
                true,
            )
            .await;
            match rendered {
                Ok(batch) if batch.last_offsets.is_empty() => {
                    drop(guard);
                    if idle_since.elapsed() >= HEARTBEAT {
                        return match reply.send(vec![self.heartbeat()]) {
                            Ok(()) => Served::Delivered,
                            Err(_) => Served::Ended,
                        };
                    }
                }
                Ok(batch) => return self.deliver(&mut guard, batch, reply),
                Err(error) => {
                    tracing::debug!(%error, group = %self.instance.group, "stream ends with an error event");
                    let _ = reply.send(vec![self.error_event(&error)]);
                    return Served::Ended;
                }
            }
        }
    }

    /// Hands `batch` to the body: marks it handed out, or gives it back when the body is
    /// gone.
    fn deliver(
        &self,
        state: &mut InstanceState,
        batch: RenderedRecords,
        reply: oneshot::Sender<Vec<Bytes>>,
    ) -> Served {
        let RenderedRecords {
            body,
            per_topic,
            last_offsets,
            held,
        } = batch;
        if reply.send(body.into_chunks()).is_err() {
            for message in held.into_iter().rev() {
                state.pending.push_front(message);
            }
            return Served::Ended;
        }
        for (topic, partition, offset) in last_offsets {
            self.instance
                .mark_handed_out(state, topic, partition, offset);
        }
        for (topic, count) in &per_topic {
            self.state.metrics().consumed(topic, *count);
        }
        Served::Delivered
    }

    /// The client is not reading: keep the group membership without fetching ahead.
    async fn keep_membership(&mut self) {
        self.instance.touch();
        let instance = Arc::clone(&self.instance);
        let mut guard = instance.state.lock().await;
        if !self.paused {
            self.set_paused(true);
        }
        // Serves rebalances and counts as a poll for `max.poll.interval.ms`; a paused
        // partition returns nothing, one assigned since the pause may return a record.
        if let Some(received) = instance.consumer.recv().now_or_never() {
            match received {
                Ok(message) => {
                    guard.pending.push_back(message.detach());
                    self.set_paused(true);
                }
                Err(error) => {
                    tracing::debug!(%error, group = %self.instance.group, "keep-alive poll error");
                }
            }
        }
    }

    /// Pauses or resumes every partition currently assigned.
    fn set_paused(&mut self, paused: bool) {
        let consumer = &self.instance.consumer;
        let result = consumer.assignment().and_then(|assignment| {
            if paused {
                consumer.pause(&assignment)
            } else {
                consumer.resume(&assignment)
            }
        });
        match result {
            Ok(()) => self.paused = paused,
            Err(error) => {
                tracing::warn!(%error, paused, group = %self.instance.group, "stream pause or resume failed");
            }
        }
    }

    fn heartbeat(&self) -> Bytes {
        Bytes::from_static(match self.framing {
            Framing::NdJson => b"\n",
            Framing::ServerSentEvents | Framing::Array => b": keep-alive\n\n",
        })
    }

    /// The error a records response would have answered, as the stream's last event.
    fn error_event(&self, error: &ApiError) -> Bytes {
        let body = serde_json::to_string(&error.body(self.state.config().flavor))
            .unwrap_or_else(|_| "{}".to_owned());
        Bytes::from(match self.framing {
            Framing::NdJson => format!("{body}\n"),
            Framing::ServerSentEvents | Framing::Array => format!("event: error\ndata: {body}\n\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_parse_back() {
        assert_eq!(
            parse_event_id("orders.v1/3/42"),
            Some(("orders.v1".to_owned(), 3, 42))
        );
        for bad in ["", "t/1", "t/x/1", "/1/2", "t/-1/2", "t/1/-2", "t/1/2x"] {
            assert_eq!(parse_event_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn accept_names_the_framing() {
        let accept = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, HeaderValue::from_str(value).unwrap());
            requested_framing(&headers)
        };
        assert_eq!(accept("text/event-stream"), Some(Framing::ServerSentEvents));
        assert_eq!(
            accept("application/vnd.kafka.binary.v2+json, application/x-ndjson; q=0.9"),
            Some(Framing::NdJson)
        );
        assert_eq!(accept("application/vnd.kafka.binary.v2+json"), None);
        assert_eq!(requested_framing(&HeaderMap::new()), None);
    }
}
