//! Helpers for the mirror tests: an `mm2.properties` for clusters A and B, running the
//! mirror in the background, producing numbered records and reading them back on B.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use broker_core::metadata::ClusterInspector;
use broker_core::telemetry::MetricsRegistry;
use broker_core::{KafkaClients, Shutdown};
use mirror::ValidatedMirror;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tests::Services;
use tests::process::GatewayProcess;

/// Properties of an A->B flow copying `topics`, tuned for tests (RF 1, fast intervals).
pub(crate) fn properties(topics: &str, extra: &str) -> ValidatedMirror {
    let mirror = mirror::parse_properties(&properties_text(topics, extra))
        .expect("test properties are valid");
    assert!(mirror.warnings.is_empty(), "{:?}", mirror.warnings);
    mirror
}

/// The `mm2.properties` text behind [`properties`], for a mirror run as its own process.
pub(crate) fn properties_text(topics: &str, extra: &str) -> String {
    let services = Services::from_env();
    // Tests run side by side, each its own deployment; a restart with the same (unique)
    // topics is the same deployment again.
    let group = replication_group(topics);
    format!(
        "clusters = A, B\nA.bootstrap.servers = {}\nB.bootstrap.servers = {}\n\
         A->B.enabled = true\nA->B.topics = {topics}\nreplication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\nrefresh.topics.interval.seconds = 1\n\
         offset.flush.interval.ms = 200\nemit.checkpoints.interval.seconds = 1\n\
         replication.group.id = {group}\n{extra}\n",
        services.kafka_bootstrap, services.kafka_b_bootstrap,
    )
}

/// The consumer group (and `replication.group.id`) that [`properties_text`] gives the flow.
pub(crate) fn replication_group(topics: &str) -> String {
    format!(
        "__mirror_test.{}",
        topics.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    )
}

/// `kafka-gateway mirror --config <file>` as its own process, as operators run it.
pub(crate) struct MirrorProcess {
    process: GatewayProcess,
}

impl MirrorProcess {
    pub(crate) fn start(properties: &str) -> Self {
        Self::start_with(properties, &[])
    }

    /// One of several processes of a flow, each with its own `--instance-id`.
    pub(crate) fn start_as(properties: &str, instance_id: &str) -> Self {
        Self::start_with(properties, &["--instance-id", instance_id])
    }

    fn start_with(properties: &str, args: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(tests::unique_name("mirror-process"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("mm2.properties");
        std::fs::write(&path, properties).expect("properties file");
        let config = path.to_string_lossy().into_owned();
        let mut all = vec!["mirror", "--config", &config];
        all.extend_from_slice(args);
        let process = GatewayProcess::spawn(
            &all,
            &[("RUST_LOG", "info,mirror=debug,librdkafka=info")],
            dir.join("mirror.log"),
        );
        Self { process }
    }

    /// Everything the process logged so far.
    pub(crate) fn log(&self) -> String {
        self.process.log()
    }

    /// SIGKILL: nothing is flushed, committed or aborted.
    pub(crate) fn kill(mut self) {
        self.process.child.0.kill().expect("SIGKILL");
        self.process.child.0.wait().expect("reaped");
    }

    /// SIGTERM, and a clean exit within 60 s.
    pub(crate) async fn stop(mut self) {
        let status = self.process.child.terminate(Duration::from_secs(60)).await;
        assert!(
            status.success(),
            "mirror exit status {status} after SIGTERM; log:\n{}",
            self.process.log()
        );
    }
}

/// The offsets `group` committed on `topic`, per partition (absent when none).
pub(crate) fn committed_offsets(
    clients: &KafkaClients,
    group: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = clients
        .consumer_config(group)
        .create()
        .expect("offsets reader");
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed offsets");
    committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) => Some((e.partition(), offset)),
            _ => None,
        })
        .collect()
}

/// A mirror running in the background. `stop` drains gracefully; `crash` drops it.
pub(crate) struct RunningMirror {
    shutdown: Shutdown,
    handle: tokio::task::JoinHandle<Result<(), mirror::MirrorError>>,
}

impl RunningMirror {
    pub(crate) fn start(config: ValidatedMirror) -> Self {
        Self::start_with_metrics(config, MetricsRegistry::new())
    }

    /// Starts the mirror registering its metrics in `registry`, for tests that read them.
    pub(crate) fn start_with_metrics(config: ValidatedMirror, registry: MetricsRegistry) -> Self {
        let shutdown = Shutdown::new();
        let handle = tokio::spawn(mirror::run(config, registry, shutdown.clone()));
        Self { shutdown, handle }
    }

    pub(crate) async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(60), self.handle)
            .await
            .expect("mirror drains within 60 s")
            .expect("mirror task")
            .expect("mirror stops cleanly");
    }

    /// Drops the mirror mid-stream: nothing is flushed or committed any more.
    pub(crate) async fn crash(self) {
        self.handle.abort();
        let _ = self.handle.await;
        // The replication threads notice within one poll.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The explicit timestamp of record `id`: an hour before this test process started, plus
/// `id` ms. Recent on purpose: records older than the brokers' `retention.ms` (7 days) are
/// deleted by the retention check that runs every 5 minutes, whole segments at once, so a
/// fixed timestamp from 2020 made the crash drill lose the source records (the restarted
/// mirror had nothing to copy) or the copies (the reader read 0) whenever that check ran
/// during a run.
pub(crate) fn numbered_timestamp(id: u32) -> i64 {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970");
        i64::try_from(now.as_millis()).expect("millis fit i64") - 3_600_000
    });
    base + i64::from(id)
}

/// Record `id` as key `id`, value `value-<id>`, a header and an explicit timestamp
/// ([`numbered_timestamp`]).
pub(crate) async fn produce_numbered(
    producer: &FutureProducer,
    topic: &str,
    ids: std::ops::Range<u32>,
    partitions: i32,
) {
    let mut pending = Vec::new();
    for id in ids {
        let key = format!("{id:08}");
        let value = format!("value-{id}");
        let header = format!("h-{id}");
        let partition = i32::try_from(id).unwrap() % partitions;
        let record = FutureRecord::to(topic)
            .key(&key)
            .payload(&value)
            .partition(partition)
            .timestamp(numbered_timestamp(id))
            .headers(OwnedHeaders::new().insert(Header {
                key: "trace",
                value: Some(header.as_bytes()),
            }));
        pending.push(producer.send_result(record).expect("enqueued"));
        if pending.len() >= 5000 {
            for delivery in pending.drain(..) {
                delivery.await.expect("delivered").expect("acknowledged");
            }
        }
    }
    for delivery in pending {
        delivery.await.expect("delivered").expect("acknowledged");
    }
}

/// A record as read on the target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Seen {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) partition: i32,
    pub(crate) timestamp: Option<i64>,
    pub(crate) headers: Vec<(String, String)>,
}

/// Reads `topic` on `clients` from the beginning until `expected` records or `timeout`.
pub(crate) fn read_all(
    clients: &KafkaClients,
    topic: &str,
    expected: usize,
    timeout: Duration,
    read_committed: bool,
) -> Vec<Seen> {
    read_until(
        clients,
        topic,
        Enough::Records(expected),
        timeout,
        read_committed,
    )
}

/// Reads `topic` until `expected` distinct keys or `timeout`: with duplicates on the
/// target, a record count says nothing about whether every record arrived.
pub(crate) fn read_distinct_keys(
    clients: &KafkaClients,
    topic: &str,
    expected: usize,
    timeout: Duration,
    read_committed: bool,
) -> Vec<Seen> {
    read_until(
        clients,
        topic,
        Enough::Keys(expected),
        timeout,
        read_committed,
    )
}

#[derive(Clone, Copy)]
enum Enough {
    Records(usize),
    Keys(usize),
}

/// Reads from the beginning until `enough`, then until the topic is quiet for a moment, so
/// that duplicates beyond it are seen too.
fn read_until(
    clients: &KafkaClients,
    topic: &str,
    enough: Enough,
    timeout: Duration,
    read_committed: bool,
) -> Vec<Seen> {
    let mut config = clients.consumer_config(&tests::unique_name("mirror_reader"));
    config.set("enable.auto.commit", "false").set(
        "isolation.level",
        if read_committed {
            "read_committed"
        } else {
            "read_uncommitted"
        },
    );
    let consumer: BaseConsumer = config.create().expect("reader");
    let deadline = Instant::now() + timeout;
    // Assigned, not subscribed: a group rebalance on a loaded machine would rewind an
    // uncommitted reader to the start and count records twice.
    let partitions = loop {
        let count = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|metadata| {
                metadata
                    .topics()
                    .first()
                    .filter(|t| t.error().is_none())
                    .map(|t| t.partitions().len())
            })
            .unwrap_or(0);
        if count > 0 || Instant::now() >= deadline {
            break count;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut assignment = TopicPartitionList::new();
    for partition in 0..i32::try_from(partitions).unwrap() {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    let mut seen = Vec::new();
    let mut keys = std::collections::HashSet::new();
    let mut last_record = Instant::now();
    let short = |seen: &Vec<Seen>, keys: &std::collections::HashSet<Vec<u8>>| match enough {
        Enough::Records(expected) => seen.len() < expected,
        Enough::Keys(expected) => keys.len() < expected,
    };
    while Instant::now() < deadline
        && (short(&seen, &keys) || last_record.elapsed() < Duration::from_secs(2))
    {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                last_record = Instant::now();
                keys.insert(message.key().unwrap_or_default().to_vec());
                seen.push(Seen {
                    key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                    value: String::from_utf8_lossy(message.payload().unwrap_or_default())
                        .into_owned(),
                    partition: message.partition(),
                    timestamp: message.timestamp().to_millis(),
                    headers: message
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|header| {
                                    (
                                        header.key.to_owned(),
                                        String::from_utf8_lossy(header.value.unwrap_or_default())
                                            .into_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            Some(Err(error)) => eprintln!("reader: {error}"),
            None => {}
        }
    }
    seen
}

/// Waits until `topic` exists on the cluster; returns its partition count.
pub(crate) async fn wait_for_topic(
    clients: &KafkaClients,
    topic: &str,
    timeout: Duration,
) -> usize {
    let inspector = ClusterInspector::new(clients, Duration::from_secs(5)).expect("inspector");
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(info) = inspector.topic(topic).await {
            return info.partitions.len();
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} did not appear within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sum of high watermarks of `topic` (records written, markers included).
/// Waits (at most 120 s) until more than `at_least` records are on the target `remote`.
pub(crate) async fn wait_for_copied(b: &KafkaClients, remote: &str, at_least: i64) {
    let started = Instant::now();
    loop {
        let copied: i64 = high_watermarks(b, remote).await.values().sum();
        if copied > at_least {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the mirror copied {copied} records in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn high_watermarks(clients: &KafkaClients, topic: &str) -> BTreeMap<i32, i64> {
    let inspector = ClusterInspector::new(clients, Duration::from_secs(5)).expect("inspector");
    let mut marks = BTreeMap::new();
    if let Ok(info) = inspector.topic(topic).await {
        for partition in info.partitions {
            marks.insert(
                partition.id,
                high_watermark(&inspector, topic, partition.id).await,
            );
        }
    }
    marks
}

/// A fresh or busy partition can briefly answer "not leader"; that is retriable.
async fn high_watermark(inspector: &ClusterInspector, topic: &str, partition: i32) -> i64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match inspector.watermarks(topic, partition).await {
            Ok(watermarks) => return watermarks.high,
            Err(error) if error.is_retriable() && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("watermarks of {topic}/{partition}: {error}"),
        }
    }
}
