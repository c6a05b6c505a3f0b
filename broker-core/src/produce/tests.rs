//! The policy against real librdkafka producers whose queue really fills: the broker
//! address is unreachable (nothing listens on port 1), so nothing queued ever leaves, and
//! the queue holds one record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, FutureProducer};

use super::*;
use crate::ErrorKind;
use crate::telemetry::MetricsRegistry;

fn unreachable_config() -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", "127.0.0.1:1")
        .set("queue.buffering.max.messages", "1")
        .set("message.timeout.ms", "600000")
        .set("log_level", "0");
    config
}

fn record(topic: &str) -> OutgoingRecord {
    OutgoingRecord {
        key: Some(b"key".to_vec()),
        value: Some(b"value".to_vec()),
        headers: vec![
            ("h".to_owned(), Some(b"1".to_vec())),
            ("n".to_owned(), None),
        ],
        ..OutgoingRecord::to_topic(Arc::from(topic))
    }
}

fn waits_rendered(registry: &MetricsRegistry, client: &str) -> u64 {
    let text = registry.render().expect("render");
    let prefix = format!("kafka_gateway_producer_queue_full_waits_total{{client=\"{client}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series for {client} in:\n{text}"))
}

#[tokio::test]
async fn a_full_queue_is_waited_on_counted_and_given_up_at_the_bound() {
    let registry = MetricsRegistry::new();
    register_metrics(&registry);
    register_metrics(&registry);
    let producer: FutureProducer = unreachable_config().create().expect("producer");
    let bound = Duration::from_millis(300);
    let enqueuer = Enqueuer::new("test-async-bound").with_bound(bound);
    let _first = enqueuer
        .enqueue(&producer, &record("produce-path-test"))
        .await
        .expect("the first record fits");
    let started = Instant::now();
    let Err(error) = enqueuer
        .enqueue(&producer, &record("produce-path-test"))
        .await
    else {
        panic!("the queue holds one record");
    };
    let waited = started.elapsed();
    assert!(
        matches!(error, EnqueueError::QueueStayedFull { waited } if waited >= bound),
        "{error:?}"
    );
    // The last pause is cut to what is left of the bound: no long overshoot.
    assert!(
        waited >= bound && waited < bound + Duration::from_secs(2),
        "{waited:?}"
    );
    assert!(error.is_retriable());
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.to_string().contains("stayed full"), "{error}");
    assert_eq!(
        error.into_kafka_error(),
        KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
    );
    // Backoff 2, 4, … 50 ms: a handful of waits in 300 ms, not a busy loop.
    let waits = waits_rendered(&registry, "test-async-bound");
    assert!((2..=30).contains(&waits), "{waits} waits");
    // Registered once although asked twice.
    let text = registry.render().expect("render");
    assert_eq!(
        text.matches("# TYPE kafka_gateway_producer_queue_full_waits counter")
            .count(),
        1,
        "{text}"
    );
}

#[tokio::test]
async fn a_record_gets_in_when_room_opens_within_the_bound() {
    let mut config = unreachable_config();
    // The queued record expires (MessageTimedOut) and frees the queue.
    config.set("message.timeout.ms", "200");
    let producer: FutureProducer = config.create().expect("producer");
    let enqueuer = Enqueuer::new("test-async-room").with_bound(Duration::from_secs(20));
    let first = enqueuer
        .enqueue(&producer, &record("produce-path-test"))
        .await
        .expect("the first record fits");
    let _second = enqueuer
        .enqueue(&producer, &record("produce-path-test"))
        .await
        .expect("room opens when the first record times out");
    let expired = first.await.expect("delivery report");
    assert!(
        matches!(
            expired,
            Err((
                KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut),
                _
            ))
        ),
        "{expired:?}"
    );
    let registry = MetricsRegistry::new();
    register_metrics(&registry);
    assert!(waits_rendered(&registry, "test-async-room") > 0);
}

#[test]
fn the_blocking_twin_polls_while_full_and_gives_up_at_the_bound() {
    let producer: BaseProducer = unreachable_config().create().expect("producer");
    let bound = Duration::from_millis(200);
    let enqueuer = Enqueuer::new("test-blocking").with_bound(bound);
    let first: BaseRecord<'_, [u8], [u8]> = BaseRecord::to("produce-path-test")
        .key(&b"k"[..])
        .payload(&b"v"[..]);
    enqueuer
        .send_blocking(&producer, first)
        .expect("the first record fits");
    let started = Instant::now();
    let second: BaseRecord<'_, [u8], [u8]> = BaseRecord::to("produce-path-test").payload(&b"v"[..]);
    let error = enqueuer
        .send_blocking(&producer, second)
        .expect_err("the queue holds one record");
    assert!(
        matches!(error, EnqueueError::QueueStayedFull { .. }),
        "{error:?}"
    );
    assert!(started.elapsed() >= bound, "{:?}", started.elapsed());
}

#[test]
fn the_blocking_twin_puts_other_refusals_to_the_hook() {
    let mut config = unreachable_config();
    config.set("message.max.bytes", "1000");
    let producer: BaseProducer = config.create().expect("producer");
    let enqueuer = Enqueuer::new("test-blocking-hook");
    let large = vec![0_u8; 4096];
    let mut seen = Vec::new();
    let record: BaseRecord<'_, [u8], [u8]> =
        BaseRecord::to("produce-path-test").payload(&large[..]);
    let error = enqueuer
        .send_blocking_with(&producer, record, |error| {
            seen.push(error.rdkafka_error_code());
            if seen.len() < 3 {
                OnRefused::RetryAfter(Duration::from_millis(1))
            } else {
                OnRefused::Fail
            }
        })
        .expect_err("too large for message.max.bytes");
    assert_eq!(seen, vec![Some(RDKafkaErrorCode::MessageSizeTooLarge); 3]);
    assert!(
        matches!(&error, EnqueueError::Refused { source } if source.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge)),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::PayloadTooLarge);
    assert!(!error.is_retriable());
}

#[test]
fn backoff_doubles_to_its_cap_and_never_passes_the_bound() {
    let mut waiting = policy::Waiting::new(QueueFullPolicy::with_bound(Duration::from_secs(60)));
    let pauses: Vec<Duration> = (0..7)
        .map(|_| waiting.next_pause().expect("within bound"))
        .collect();
    let millis: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
    assert_eq!(millis, [2, 4, 8, 16, 32, 50, 50]);
    let mut over = policy::Waiting::new(QueueFullPolicy::with_bound(Duration::ZERO));
    assert!(matches!(
        over.next_pause(),
        Err(EnqueueError::QueueStayedFull { .. })
    ));
}
