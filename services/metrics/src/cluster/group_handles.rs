//! The fallback for clusters whose settings the native client cannot honour (GSSAPI,
//! OAUTHBEARER, JKS stores...): committed offsets through librdkafka, one consumer handle
//! per group.
//!
//! rust-rdkafka 0.39 exposes neither ListConsumerGroupOffsets nor a multi-group OffsetFetch,
//! and `rd_kafka_committed` uses the client's own `group.id`, so each group gets a handle
//! (never subscribed, so it never joins the group) that is kept between scrapes and dropped
//! when the group disappears. Each handle costs librdkafka's threads (about four, plus one
//! per broker) and its buffers, which is why this is only the fallback.
//!
//! A group with members, a group not seen before, and every group every
//! [`FULL_FETCH_EVERY`]th scrape ask for every partition of every reported topic
//! (kafka_exporter's `--offset.show-all` behaviour); a group without members asks only for
//! the topics it had commits on at its last full fetch. On a cluster with thousands of
//! topics and hundreds of idle groups this turns groups × partitions entries per scrape
//! into a few; the price is that a memberless client (one that commits with `assign`)
//! starting on a *new* topic shows up within that many scrapes.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use broker_core::clients::create;
use broker_core::{BrokerError, KafkaClients};
use futures::stream::{self, StreamExt};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::{
    CommittedOffset, GroupRead, TopicRead, blocking, partition_list, reader_config, remaining,
};

/// Per group: the topics of its last full OffsetFetch, and scrapes since then.
type KnownTopics = (BTreeSet<String>, u32);

/// How often a group without members is asked for every partition again.
const FULL_FETCH_EVERY: u32 = 10;

/// The per-group librdkafka handles; cheap to clone.
#[derive(Clone)]
pub(super) struct GroupHandles {
    clients: KafkaClients,
    workers: usize,
    group_clients: Arc<Mutex<HashMap<String, Arc<BaseConsumer>>>>,
    group_topics: Arc<Mutex<HashMap<String, KnownTopics>>>,
}

impl std::fmt::Debug for GroupHandles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupHandles")
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl GroupHandles {
    pub(super) fn new(clients: KafkaClients, workers: usize) -> Self {
        Self {
            clients,
            workers,
            group_clients: Arc::default(),
            group_topics: Arc::default(),
        }
    }

    pub(super) async fn read_groups(
        &self,
        topics: &[TopicRead],
        groups: Vec<(String, usize)>,
        deadline: Instant,
    ) -> Vec<GroupRead> {
        let partitions = Arc::new(partition_list(topics, Offset::Invalid, false));
        self.forget_groups_except(&groups);
        stream::iter(groups)
            .map(|(name, members)| {
                let handles = self.clone();
                let all = Arc::clone(&partitions);
                async move {
                    let known = handles.known_topics(&name, members);
                    let request = match &known {
                        None => all,
                        Some(known) => Arc::new(partition_list(
                            &topics
                                .iter()
                                .filter(|t| known.contains(&t.name))
                                .cloned()
                                .collect::<Vec<_>>(),
                            Offset::Invalid,
                            false,
                        )),
                    };
                    let committed = handles
                        .committed(&name, &request, deadline)
                        .await
                        .map_err(|error| {
                            tracing::warn!(group = %name, %error, "reading committed offsets failed");
                            error.to_string()
                        });
                    if let Ok(committed) = &committed {
                        handles.remember_topics(&name, known.is_none(), committed);
                    }
                    GroupRead {
                        name,
                        members,
                        committed,
                    }
                }
            })
            .buffered(self.workers)
            .collect()
            .await
    }

    /// `None`: ask for every partition (see the module docs); else the topics to ask for.
    fn known_topics(&self, group: &str, members: usize) -> Option<BTreeSet<String>> {
        if members > 0 {
            return None;
        }
        let memory = self
            .group_topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        memory
            .get(group)
            .filter(|(_, scrapes)| *scrapes < FULL_FETCH_EVERY)
            .map(|(topics, _)| topics.clone())
    }

    fn remember_topics(&self, group: &str, full: bool, committed: &[CommittedOffset]) {
        let mut memory = self
            .group_topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if full {
            let topics = committed.iter().map(|c| c.topic.clone()).collect();
            memory.insert(group.to_owned(), (topics, 0));
        } else if let Some((_, scrapes)) = memory.get_mut(group) {
            *scrapes += 1;
        }
    }

    async fn committed(
        &self,
        group: &str,
        partitions: &TopicPartitionList,
        deadline: Instant,
    ) -> Result<Vec<CommittedOffset>, BrokerError> {
        if partitions.count() == 0 {
            return Ok(Vec::new());
        }
        let client = self.group_client(group)?;
        let request = partitions.clone();
        blocking("offset fetch", move || {
            let timeout = remaining(deadline, "offset fetch")?;
            let answer = client
                .committed_offsets(request, timeout)
                .map_err(|e| BrokerError::kafka("offset fetch", e));
            // Serve queued events (errors, statistics) so they cannot pile up in a handle
            // that is never otherwise polled.
            let _ = client.poll(Duration::ZERO);
            Ok(answer?
                .elements()
                .iter()
                .filter(|e| e.error().is_ok())
                .filter_map(|e| match e.offset() {
                    Offset::Offset(offset) => Some(CommittedOffset {
                        topic: e.topic().to_owned(),
                        partition: e.partition(),
                        offset,
                    }),
                    _ => None,
                })
                .collect())
        })
        .await
    }

    fn group_client(&self, group: &str) -> Result<Arc<BaseConsumer>, BrokerError> {
        let mut clients = self
            .group_clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(group) {
            return Ok(Arc::clone(client));
        }
        let client: BaseConsumer = create(
            &reader_config(&self.clients, Some(group)),
            "metrics group client creation",
        )?;
        let client = Arc::new(client);
        clients.insert(group.to_owned(), Arc::clone(&client));
        Ok(client)
    }

    fn forget_groups_except(&self, groups: &[(String, usize)]) {
        let mut clients = self
            .group_clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        clients.retain(|name, _| groups.iter().any(|(kept, _)| kept == name));
        drop(clients);
        self.group_topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|name, _| groups.iter().any(|(kept, _)| kept == name));
    }
}
