//! Worker membership through Kafka's group coordinator.
//!
//! Each worker joins the consumer group `group.id`, subscribed to the config topic, with
//! its worker id as `client.id`. The coordinator drops a worker that stops heartbeating
//! after `session.timeout.ms` (10 s by default), so a `kill -9` is noticed without any
//! other coordinator. Once a second the worker describes the group and publishes the sorted
//! client ids of a *stable* group; while the group rebalances the last stable list is kept.
//!
//! The membership consumer never commits and discards what it reads (the config topic is
//! read separately from the beginning); it is polled continuously, so
//! `max.poll.interval.ms` is never exceeded.

use std::sync::Arc;
use std::time::Duration;

use broker_core::{BrokerError, KafkaClients, Shutdown};
use rdkafka::consumer::{Consumer, StreamConsumer};
use tokio::sync::watch;
use tracing::Instrument;

const DESCRIBE_INTERVAL: Duration = Duration::from_secs(1);

/// Joins the group and returns the live member list (sorted worker ids).
pub fn start(
    clients: &KafkaClients,
    group_id: &str,
    worker_id: &str,
    session_timeout: Duration,
    config_topic: &str,
    shutdown: Shutdown,
) -> Result<watch::Receiver<Vec<String>>, BrokerError> {
    let mut config = clients.consumer_config(group_id);
    let session_ms = session_timeout.as_millis().to_string();
    let heartbeat_ms = (session_timeout.as_millis() / 3).max(100).to_string();
    config
        .set("client.id", worker_id)
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", &session_ms)
        .set("heartbeat.interval.ms", &heartbeat_ms)
        .set("auto.offset.reset", "latest");
    let consumer: StreamConsumer =
        broker_core::clients::create(&config, "worker membership consumer")?;
    consumer
        .subscribe(&[config_topic])
        .map_err(|source| BrokerError::kafka("worker group join", source))?;
    let consumer = Arc::new(consumer);
    let (members_tx, members) = watch::channel(Vec::new());
    let group = group_id.to_owned();
    let span = tracing::info_span!("connect-membership", group = group_id);
    broker_core::task::spawn(
        "connect-membership",
        async move {
            let mut tick = tokio::time::interval(DESCRIBE_INTERVAL);
            loop {
                tokio::select! {
                    () = shutdown.wait() => break,
                    _ = consumer.recv() => {}
                    _ = tick.tick() => {
                        let describe = Arc::clone(&consumer);
                        let group = group.clone();
                        let described = broker_core::task::spawn_blocking("connect-membership-describe", move || {
                            describe.fetch_group_list(Some(&group), Duration::from_secs(5)).map(|list| {
                                list.groups().first().map(|info| {
                                    let ids: Vec<String> = info.members().iter().map(|m| m.client_id().to_owned()).collect();
                                    (info.state().to_owned(), ids)
                                })
                            })
                        })
                        .await;
                        match described {
                            Ok(Ok(described)) => {
                                if let Some((state, mut ids)) = described
                                    && state == "Stable" {
                                        ids.sort();
                                        ids.dedup();
                                        members_tx.send_if_modified(|current| {
                                            if *current == ids { false } else {
                                                tracing::info!(members = ?ids, "worker group membership changed");
                                                *current = ids;
                                                true
                                            }
                                        });
                                    }
                            }
                            Ok(Err(error)) => tracing::warn!(%error, "describing the worker group failed"),
                            Err(error) => tracing::warn!(%error, "describing the worker group panicked"),
                        }
                    }
                }
            }
            // Leaving the group now lets the others take over at once instead of after
            // the session timeout.
            consumer.unsubscribe();
        }
        .instrument(span),
    );
    Ok(members)
}
