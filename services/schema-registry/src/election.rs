//! Electing the one primary among the instances of a registry, through Kafka.
//!
//! Scheme: every leader-eligible instance joins the consumer group `group_id` subscribed to
//! the schemas topic, with `client.id` = `schema-registry|<advertised url>`. The topic has
//! one partition, so the group's assignor gives it to exactly one member per generation:
//! that member is the primary. librdkafka's default (eager) protocol revokes every
//! partition before a new assignment, so two live members never hold it at once; a
//! crashed primary keeps it until its session times out (`election_session_timeout_ms`).
//! Every instance learns the primary's URL by describing the group (`fetch_group_list`)
//! and decoding the member assignments (Kafka's consumer protocol, version 0+).
//!
//! Confluent elects with its own group protocol type `sr` on the same group id; a
//! Confluent registry and ours therefore cannot share one group (the broker refuses the
//! mixed protocol), but they can share the topic with different group ids, which is how a
//! migration runs them side by side. The elected instance only starts taking writes after
//! [`crate::store::kafka::KafkaStore::sync`] (see `registry.rs`), so an id is never
//! chosen before every record of the previous primary is applied.

use std::sync::Arc;
use std::time::Duration;

use broker_core::{BrokerError, KafkaClients, Shutdown};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use tokio::sync::watch;
use tracing::Instrument;

/// `client.id` prefix that marks a member of our election and carries its URL.
const CLIENT_ID_PREFIX: &str = "schema-registry|";
/// Least time between two warnings about the election group.
const WARNING_INTERVAL: Duration = Duration::from_secs(30);
/// How often the group is described to learn the primary.
const REFRESH: Duration = Duration::from_millis(500);

/// What this instance knows about the primary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaderView {
    /// This instance holds the partition.
    pub is_leader: bool,
    /// The primary's URL, when known (this instance's own when it is the primary).
    pub leader_url: Option<String>,
    /// Counts this instance's leadership terms: a new term needs a new store sync.
    pub term: u64,
}

/// Starts the election task; its view changes as members come and go.
pub fn start(
    clients: &KafkaClients,
    topic: &str,
    group_id: &str,
    advertised_url: &str,
    eligible: bool,
    session_timeout: Duration,
    shutdown: Shutdown,
) -> Result<watch::Receiver<LeaderView>, BrokerError> {
    let (view_tx, view) = watch::channel(LeaderView::default());
    let mut observer_config = clients.base_config();
    observer_config.set("group.id", group_id);
    let observer: BaseConsumer =
        broker_core::clients::create(&observer_config, "schema registry election observer")?;
    let member = if eligible {
        let mut config = clients.consumer_config(group_id);
        config
            .set("client.id", format!("{CLIENT_ID_PREFIX}{advertised_url}"))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "latest")
            .set(
                "session.timeout.ms",
                session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                (session_timeout.as_millis() / 5).max(500).to_string(),
            )
            .set("partition.assignment.strategy", "range");
        let consumer: StreamConsumer =
            broker_core::clients::create(&config, "schema registry election member")?;
        consumer
            .subscribe(&[topic])
            .map_err(|source| BrokerError::kafka("schema registry election join", source))?;
        Some(consumer)
    } else {
        None
    };
    let election = Election {
        topic: topic.to_owned(),
        group_id: group_id.to_owned(),
        own_url: advertised_url.to_owned(),
        observer: Arc::new(observer),
        member,
        view: view_tx,
    };
    let span = tracing::info_span!("schema-registry-election", group_id);
    broker_core::task::spawn(
        "schema-registry-election",
        election.run(shutdown).instrument(span),
    );
    Ok(view)
}

struct Election {
    topic: String,
    group_id: String,
    own_url: String,
    observer: Arc<BaseConsumer>,
    member: Option<StreamConsumer>,
    view: watch::Sender<LeaderView>,
}

impl Election {
    async fn run(self, shutdown: Shutdown) {
        let mut last_warning = None;
        let mut refresh = tokio::time::interval(REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.wait() => break,
                // Polling the member serves its rebalances; the records are not needed.
                received = recv(self.member.as_ref()) => {
                    if let Err(error) = received {
                        // E.g. a Confluent registry using the same group id (protocol
                        // type `sr`): the broker refuses our join, we never lead.
                        if last_warning.is_none_or(|at: tokio::time::Instant| at.elapsed() > WARNING_INTERVAL) {
                            tracing::warn!(%error, group_id = %self.group_id, "the schema registry election group reports an error");
                            last_warning = Some(tokio::time::Instant::now());
                        }
                    }
                }
                _ = refresh.tick() => self.refresh().await,
            }
        }
        if let Some(member) = &self.member {
            member.unsubscribe();
        }
    }

    async fn refresh(&self) {
        let holds_partition = self.member.as_ref().is_some_and(|member| {
            member.assignment().is_ok_and(|assignment| {
                assignment
                    .elements_for_topic(&self.topic)
                    .iter()
                    .any(|element| element.partition() == 0)
            })
        });
        let leader_url = if holds_partition {
            Some(self.own_url.clone())
        } else {
            let observer = Arc::clone(&self.observer);
            let group = self.group_id.clone();
            let topic = self.topic.clone();
            broker_core::task::spawn_blocking("schema-registry-leader", move || {
                describe_leader(&observer, &group, &topic)
            })
            .await
            .ok()
            .flatten()
            // The group already shows us as the holder while our own consumer has not
            // applied the assignment yet: unknown for a moment, not "forward to self".
            .filter(|url| *url != self.own_url || self.member.is_none())
        };
        self.view.send_if_modified(|current| {
            let term = if holds_partition && !current.is_leader {
                current.term + 1
            } else {
                current.term
            };
            let view = LeaderView {
                is_leader: holds_partition,
                leader_url,
                term,
            };
            if *current == view {
                return false;
            }
            tracing::info!(is_leader = view.is_leader, leader = ?view.leader_url, "schema registry primary changed");
            *current = view;
            true
        });
    }
}

async fn recv(member: Option<&StreamConsumer>) -> Result<(), rdkafka::error::KafkaError> {
    match member {
        Some(member) => member.recv().await.map(|_| ()),
        None => std::future::pending().await,
    }
}

/// The URL of the member whose assignment holds partition 0 of `topic`.
fn describe_leader(observer: &BaseConsumer, group: &str, topic: &str) -> Option<String> {
    let groups = observer
        .fetch_group_list(Some(group), Duration::from_secs(5))
        .ok()?;
    let group = groups.groups().iter().find(|g| g.name() == group)?;
    group.members().iter().find_map(|member| {
        let url = member.client_id().strip_prefix(CLIENT_ID_PREFIX)?;
        let assignment = member.assignment()?;
        assignment_holds(assignment, topic, 0).then(|| url.to_owned())
    })
}

/// Whether a consumer-protocol assignment (`version: i16`, `[topic: string, [partition:
/// i32]]`, `user_data: bytes`) holds `partition` of `topic`.
fn assignment_holds(bytes: &[u8], topic: &str, partition: i32) -> bool {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Some(head)
    }
    fn int16(bytes: &mut &[u8]) -> Option<i16> {
        take(bytes, 2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }
    fn int32(bytes: &mut &[u8]) -> Option<i32> {
        take(bytes, 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    let parse = |mut bytes: &[u8]| -> Option<bool> {
        let _version = int16(&mut bytes)?;
        let topics = int32(&mut bytes)?;
        for _ in 0..topics.max(0) {
            let length = usize::try_from(int16(&mut bytes)?).ok()?;
            let name = take(&mut bytes, length)?;
            let count = int32(&mut bytes)?;
            for _ in 0..count.max(0) {
                let assigned = int32(&mut bytes)?;
                if name == topic.as_bytes() && assigned == partition {
                    return Some(true);
                }
            }
        }
        Some(false)
    };
    parse(bytes).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(topic: &str, partitions: &[i32]) -> Vec<u8> {
        let mut bytes = vec![0, 1, 0, 0, 0, 1];
        bytes.extend_from_slice(&i16::try_from(topic.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(topic.as_bytes());
        bytes.extend_from_slice(&i32::try_from(partitions.len()).unwrap().to_be_bytes());
        for partition in partitions {
            bytes.extend_from_slice(&partition.to_be_bytes());
        }
        bytes.extend_from_slice(&(-1i32).to_be_bytes());
        bytes
    }

    #[test]
    fn decodes_the_consumer_protocol_assignment() {
        assert!(assignment_holds(
            &assignment("_schemas", &[0]),
            "_schemas",
            0
        ));
        assert!(!assignment_holds(
            &assignment("_schemas", &[]),
            "_schemas",
            0
        ));
        assert!(!assignment_holds(&assignment("other", &[0]), "_schemas", 0));
        assert!(!assignment_holds(&[0, 1, 0], "_schemas", 0));
    }
}
