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
//! - committed offsets of every listed group: one FindCoordinator for all of them and one
//!   OffsetFetch per group coordinator carrying all of its groups (`batched_offsets`,
//!   through broker-core's native client, because rust-rdkafka 0.39 has no
//!   ListConsumerGroupOffsets nor multi-group OffsetFetch). Clusters whose settings the
//!   native client cannot honour (GSSAPI, OAUTHBEARER, JKS stores) fall back to one
//!   librdkafka handle per group (`group_handles`), with a warning at start;
//! - two ListOffsets batches, latest and earliest, through `offsets_for_times` with the
//!   special timestamps -1 and -2: librdkafka sends one ListOffsets request per partition
//!   leader carrying all of that leader's partitions, instead of kafka_exporter's one
//!   request per partition under a global lock. If a batch fails as a whole, the partitions
//!   are asked one by one (bounded by `workers`) so one bad leader cannot hide the rest.

mod batched_offsets;
mod group_handles;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::clients::create;
use broker_core::wire::{WireClient, WireError};
use broker_core::{BrokerError, ErrorKind, KafkaClients};
use futures::stream::{self, StreamExt};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use self::group_handles::GroupHandles;
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

/// Reads the cluster; cheap to clone, keeps its connections between scrapes.
#[derive(Clone)]
pub(crate) struct ClusterReader {
    clients: KafkaClients,
    client: Arc<BaseConsumer>,
    offsets: OffsetReader,
    settings: ValidatedClusterMetrics,
}

/// How committed offsets are read (see the module docs).
#[derive(Clone)]
enum OffsetReader {
    Batched(Arc<WireClient>),
    PerGroupHandles(GroupHandles),
}

/// Names the path only: the client's settings may hold inline key material.
impl std::fmt::Debug for OffsetReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Batched(_) => "Batched",
            Self::PerGroupHandles(_) => "PerGroupHandles",
        })
    }
}

impl std::fmt::Debug for ClusterReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterReader")
            .field("cluster", self.clients.cluster())
            .field("offsets", &self.offsets)
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
        // Each request is bounded by the scrape's deadline too; this only caps a single one.
        let offsets = match WireClient::new(clients.cluster(), settings.scrape_timeout) {
            Ok(wire) => OffsetReader::Batched(Arc::new(wire)),
            Err(error @ WireError::Unsupported { .. }) => {
                tracing::warn!(
                    %error,
                    "the native kafka client cannot use this cluster's settings; reading \
                     committed offsets with one librdkafka handle per consumer group instead"
                );
                OffsetReader::PerGroupHandles(GroupHandles::new(clients.clone(), settings.workers))
            }
            Err(other) => return Err(other.into()),
        };
        Ok(Self {
            clients,
            client: Arc::new(client),
            offsets,
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

        let groups = match &self.offsets {
            OffsetReader::Batched(wire) => {
                batched_offsets::read_groups(wire, &topics, group_list, deadline).await
            }
            OffsetReader::PerGroupHandles(handles) => {
                handles.read_groups(&topics, group_list, deadline).await
            }
        };
        self.read_watermarks(&mut topics, deadline).await;
        Ok(ClusterRead {
            brokers,
            topics,
            groups,
        })
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
    broker_core::task::spawn_blocking(operation, call)
        .await
        .map_err(|join_error| BrokerError::Other {
            kind: ErrorKind::Internal,
            message: format!("{operation} task failed: {join_error}"),
        })?
}
