//! Reads one cluster for one scrape, in as few broker round-trips as librdkafka's safe API
//! allows.
//!
//! Order matters for correctness: committed offsets are read **before** the high
//! watermarks, so a commit can never be newer than the watermark it is compared with (the
//! cause of kafka_exporter's negative lag, which reads the watermark first).
//!
//! Requests per scrape:
//! - one Metadata request (brokers, topics, partitions, leaders, replicas, ISR);
//! - ListGroups on every broker plus DescribeGroups (`fetch_group_list`);
//! - one OffsetFetch per consumer group, run on `workers` blocking threads at once. A group
//!   with members, a group not seen before, and every group every
//!   [`FULL_FETCH_EVERY`]th scrape ask for every partition of every reported topic
//!   (kafka_exporter's `--offset.show-all` behaviour); a group without members asks only
//!   for the topics it had commits on at its last full fetch. On a cluster with thousands
//!   of topics and hundreds of idle groups this turns groups × partitions entries per
//!   scrape into a few; the price is that a memberless client (one that commits with
//!   `assign`) starting on a *new* topic shows up within that many scrapes. rust-rdkafka 0.39 exposes neither ListConsumerGroupOffsets nor a multi-group
//!   OffsetFetch, and `rd_kafka_committed` uses the client's own `group.id`, so each group
//!   gets a consumer handle (never subscribed, so it never joins the group) that is kept
//!   between scrapes and dropped when the group disappears;
//! - two ListOffsets batches, latest and earliest, through `offsets_for_times` with the
//!   special timestamps -1 and -2: librdkafka sends one ListOffsets request per partition
//!   leader carrying all of that leader's partitions, instead of kafka_exporter's one
//!   request per partition under a global lock. If a batch fails as a whole, the partitions
//!   are asked one by one (bounded by `workers`) so one bad leader cannot hide the rest.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use broker_core::clients::create;
use broker_core::{BrokerError, ErrorKind, KafkaClients};
use futures::stream::{self, StreamExt};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::ValidatedClusterMetrics;

/// One broker as the metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokerRead {
    pub(crate) id: i32,
    pub(crate) address: String,
}

/// One partition with its replica state and watermarks (`None` when ListOffsets failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionRead {
    pub(crate) id: i32,
    pub(crate) leader: i32,
    pub(crate) replicas: Vec<i32>,
    pub(crate) in_sync_replicas: Vec<i32>,
    pub(crate) oldest: Option<i64>,
    pub(crate) newest: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicRead {
    pub(crate) name: String,
    pub(crate) partitions: Vec<PartitionRead>,
}

/// A committed offset of one group on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommittedOffset {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupRead {
    pub(crate) name: String,
    pub(crate) members: usize,
    /// Partitions without a committed offset are left out. `Err` when the OffsetFetch
    /// failed; the reason is logged, the group status becomes ERR.
    pub(crate) committed: Result<Vec<CommittedOffset>, String>,
}

/// Everything one scrape learned about the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ClusterRead {
    pub(crate) brokers: Vec<BrokerRead>,
    pub(crate) topics: Vec<TopicRead>,
    pub(crate) groups: Vec<GroupRead>,
}

/// Reads the cluster; cheap to clone, keeps its librdkafka handles between scrapes.
#[derive(Clone)]
pub(crate) struct ClusterReader {
    clients: KafkaClients,
    client: Arc<BaseConsumer>,
    group_clients: Arc<Mutex<HashMap<String, Arc<BaseConsumer>>>>,
    group_topics: Arc<Mutex<HashMap<String, KnownTopics>>>,
    settings: ValidatedClusterMetrics,
}

/// Per group: the topics of its last full OffsetFetch, and scrapes since then.
type KnownTopics = (BTreeSet<String>, u32);

/// How often a group without members is asked for every partition again.
const FULL_FETCH_EVERY: u32 = 10;

impl std::fmt::Debug for ClusterReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterReader")
            .field("cluster", self.clients.cluster())
            .finish_non_exhaustive()
    }
}

/// Properties of every handle the reader creates: watermarks are the high watermark that
/// kafka_exporter reports (not the last stable offset), and nothing is ever committed.
const READER_PROPERTIES: &[(&str, &str)] = &[
    ("isolation.level", "read_uncommitted"),
    ("enable.auto.commit", "false"),
    ("allow.auto.create.topics", "false"),
];

impl ClusterReader {
    pub(crate) fn new(
        clients: KafkaClients,
        settings: ValidatedClusterMetrics,
    ) -> Result<Self, BrokerError> {
        let client = create(&reader_config(&clients, None), "metrics client creation")?;
        Ok(Self {
            clients,
            client: Arc::new(client),
            group_clients: Arc::default(),
            group_topics: Arc::default(),
            settings,
        })
    }

    /// One full read, finished by `deadline` or failed.
    pub(crate) async fn read(&self, deadline: Instant) -> Result<ClusterRead, BrokerError> {
        let metadata = blocking("metadata request", {
            let client = Arc::clone(&self.client);
            move || {
                let timeout = remaining(deadline, "metadata request")?;
                client
                    .fetch_metadata(None, timeout)
                    .map_err(|e| BrokerError::kafka("metadata request", e))
                    .map(|metadata| {
                        let brokers = metadata
                            .brokers()
                            .iter()
                            .map(|b| BrokerRead {
                                id: b.id(),
                                address: format!("{}:{}", b.host(), b.port()),
                            })
                            .collect::<Vec<_>>();
                        let topics = metadata
                            .topics()
                            .iter()
                            .filter(|t| t.error().is_none())
                            .map(|t| TopicRead {
                                name: t.name().to_owned(),
                                partitions: t
                                    .partitions()
                                    .iter()
                                    .map(|p| PartitionRead {
                                        id: p.id(),
                                        leader: p.leader(),
                                        replicas: p.replicas().to_vec(),
                                        in_sync_replicas: p.isr().to_vec(),
                                        oldest: None,
                                        newest: None,
                                    })
                                    .collect(),
                            })
                            .collect::<Vec<_>>();
                        (brokers, topics)
                    })
            }
        });
        let group_list = blocking("group list request", {
            let client = Arc::clone(&self.client);
            move || {
                let timeout = remaining(deadline, "group list request")?;
                let list = client
                    .fetch_group_list(None, timeout)
                    .map_err(|e| BrokerError::kafka("group list request", e))?;
                Ok(list
                    .groups()
                    .iter()
                    .map(|g| (g.name().to_owned(), g.members().len()))
                    .collect::<Vec<_>>())
            }
        });
        let (metadata, group_list) = tokio::join!(metadata, group_list);
        let (brokers, mut topics) = metadata?;
        topics.retain(|t| self.settings.topics.matches(&t.name));
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let mut group_list = group_list?;
        group_list.retain(|(name, _)| self.settings.groups.matches(name));
        group_list.sort();

        let groups = self.read_groups(&topics, group_list, deadline).await;
        self.read_watermarks(&mut topics, deadline).await;
        Ok(ClusterRead {
            brokers,
            topics,
            groups,
        })
    }

    async fn read_groups(
        &self,
        topics: &[TopicRead],
        groups: Vec<(String, usize)>,
        deadline: Instant,
    ) -> Vec<GroupRead> {
        let partitions = Arc::new(partition_list(topics, Offset::Invalid, false));
        self.forget_groups_except(&groups);
        stream::iter(groups)
            .map(|(name, members)| {
                let reader = self.clone();
                let all = Arc::clone(&partitions);
                async move {
                    let known = reader.known_topics(&name, members);
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
                    let committed = reader
                        .committed(&name, &request, deadline)
                        .await
                        .map_err(|error| {
                            tracing::warn!(group = %name, %error, "reading committed offsets failed");
                            error.to_string()
                        });
                    if let Ok(committed) = &committed {
                        reader.remember_topics(&name, known.is_none(), committed);
                    }
                    GroupRead {
                        name,
                        members,
                        committed,
                    }
                }
            })
            .buffered(self.settings.workers)
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

    async fn read_watermarks(&self, topics: &mut [TopicRead], deadline: Instant) {
        let newest = self.list_offsets(topics, Offset::End, deadline);
        let oldest = self.list_offsets(topics, Offset::Beginning, deadline);
        let (newest, oldest) = tokio::join!(newest, oldest);
        for topic in topics.iter_mut() {
            for partition in &mut topic.partitions {
                let key = (topic.name.clone(), partition.id);
                partition.newest = newest.get(&key).copied();
                partition.oldest = oldest.get(&key).copied();
            }
        }
    }

    /// Offsets at `which` (`End` = latest, `Beginning` = earliest) of every partition, batched
    /// per leader; per partition when the batch fails as a whole.
    async fn list_offsets(
        &self,
        topics: &[TopicRead],
        which: Offset,
        deadline: Instant,
    ) -> HashMap<(String, i32), i64> {
        // A partition without a leader would hold the whole batch until the deadline.
        let request = partition_list(topics, which, true);
        if request.count() == 0 {
            return HashMap::new();
        }
        let client = Arc::clone(&self.client);
        let batch = blocking("list offsets", move || {
            let timeout = remaining(deadline, "list offsets")?;
            client
                .offsets_for_times(request, timeout)
                .map_err(|e| BrokerError::kafka("list offsets", e))
                .map(|answer| offsets_of(&answer))
        })
        .await;
        match batch {
            Ok(offsets) => offsets,
            Err(error) => {
                tracing::warn!(%error, "batched list offsets failed, asking partition by partition");
                self.list_offsets_one_by_one(topics, which, deadline).await
            }
        }
    }

    async fn list_offsets_one_by_one(
        &self,
        topics: &[TopicRead],
        which: Offset,
        deadline: Instant,
    ) -> HashMap<(String, i32), i64> {
        let partitions: Vec<(String, i32)> = topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .filter(|p| p.leader >= 0)
                    .map(|p| (t.name.clone(), p.id))
            })
            .collect();
        stream::iter(partitions)
            .map(|(topic, partition)| {
                let client = Arc::clone(&self.client);
                blocking("watermark request", move || {
                    let timeout = remaining(deadline, "watermark request")?;
                    let (low, high) = client
                        .fetch_watermarks(&topic, partition, timeout)
                        .map_err(|e| BrokerError::kafka("watermark request", e))?;
                    let offset = if which == Offset::Beginning {
                        low
                    } else {
                        high
                    };
                    Ok(((topic, partition), offset))
                })
            })
            .buffer_unordered(self.settings.workers)
            .filter_map(|answer| async move { answer.ok() })
            .collect()
            .await
    }
}

fn reader_config(clients: &KafkaClients, group: Option<&str>) -> rdkafka::ClientConfig {
    let mut config = clients.base_config();
    for (key, value) in READER_PROPERTIES {
        config.set(*key, *value);
    }
    if let Some(group) = group {
        config.set("group.id", group);
    }
    config
}

fn partition_list(topics: &[TopicRead], offset: Offset, led_only: bool) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for topic in topics {
        for partition in &topic.partitions {
            if led_only && partition.leader < 0 {
                continue;
            }
            // Only fails for offsets librdkafka cannot represent; ours are all special values.
            let _ = list.add_partition_offset(&topic.name, partition.id, offset);
        }
    }
    list
}

fn offsets_of(list: &TopicPartitionList) -> HashMap<(String, i32), i64> {
    list.elements()
        .iter()
        .filter(|e| e.error().is_ok())
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) => Some(((e.topic().to_owned(), e.partition()), offset)),
            _ => None,
        })
        .collect()
}

/// Time left until `deadline`, or a timeout error naming the step that had none left.
fn remaining(deadline: Instant, operation: &'static str) -> Result<Duration, BrokerError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(BrokerError::Timeout {
            operation,
            timeout: Duration::ZERO,
        })
    } else {
        Ok(left)
    }
}

/// Runs a blocking librdkafka call on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    operation: &'static str,
    call: impl FnOnce() -> Result<T, BrokerError> + Send + 'static,
) -> Result<T, BrokerError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|join_error| BrokerError::Other {
            kind: ErrorKind::Internal,
            message: format!("{operation} task failed: {join_error}"),
        })?
}
