//! The kafka_exporter-compatible `/metrics` against the real cluster: a real consumer group
//! consumes part of a topic, the gateway serves `/metrics` over TCP, the lag it reports is
//! exactly what the consumer left unread, the Burrow-style status follows the group, and
//! `promtool check metrics` accepts the scrape.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use broker_core::telemetry::MetricsRegistry;
use broker_core::{ClusterConfig, KafkaClients, Shutdown};
use futures::StreamExt;
use metrics::{MetricsConfig, ValidatedMetrics};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Message, Offset, TopicPartitionList};
use tests::{Services, create_topic, http_client, kafka_clients, unique_name};

const PARTITIONS: i32 = 3;
const PER_PARTITION: i64 = 10;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// The metrics service, serving on a free port until dropped.
pub(crate) struct MetricsServer {
    url: String,
    shutdown: Shutdown,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub(crate) fn metrics_config(toml_text: &str) -> ValidatedMetrics {
    let port = free_port();
    let text = format!("{toml_text}\n[http]\nlisten = \"127.0.0.1:{port}\"\n");
    let config: MetricsConfig = toml::from_str(&text).expect("test config parses");
    config.validate("metrics").expect("test config is valid")
}

pub(crate) async fn start(config: ValidatedMetrics, clients: KafkaClients) -> MetricsServer {
    start_with_registry(config, clients, MetricsRegistry::new()).await
}

/// The metrics service serving `registry` too (as one gateway process serves every
/// service's metrics).
pub(crate) async fn start_with_registry(
    config: ValidatedMetrics,
    clients: KafkaClients,
    registry: MetricsRegistry,
) -> MetricsServer {
    let url = format!("http://{}/metrics", config.listener.listen);
    let shutdown = Shutdown::new();
    let serving = shutdown.clone();
    broker_core::task::spawn("metrics-service", async move {
        if let Err(error) =
            metrics::run(config, clients, registry, edge::Health::new(None), serving).await
        {
            panic!("metrics service failed: {error}");
        }
    });
    let client = http_client();
    for _ in 0..100 {
        if client
            .get(url.replace("/metrics", "/"))
            .send()
            .await
            .is_ok()
        {
            return MetricsServer { url, shutdown };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("metrics service did not listen at {url}");
}

pub(crate) async fn scrape(server: &MetricsServer) -> String {
    let response = http_client()
        .get(&server.url)
        .send()
        .await
        .expect("scrape answers");
    assert_eq!(response.status(), 200);
    response.text().await.expect("scrape body")
}

/// Samples `name{labels} value` of one family, keyed by the label text.
pub(crate) fn samples(text: &str, name: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (family, labels) = series.split_once('{').unwrap_or((series, ""));
            (family == name).then(|| {
                (
                    labels.trim_end_matches('}').to_owned(),
                    value.parse().expect("numeric sample"),
                )
            })
        })
        .collect()
}

pub(crate) fn value(text: &str, name: &str, labels: &str) -> f64 {
    *samples(text, name)
        .get(labels)
        .unwrap_or_else(|| panic!("no {name}{{{labels}}} in the scrape:\n{text}"))
}

/// promtool's lint findings that kafka_exporter's own names cause: dashboards query these
/// names, so they are kept as they are (kafka_exporter's output gets the same findings).
const INHERITED_LINT: &[&str] = &[
    r#"kafka_consumergroup_current_offset_sum non-histogram and non-summary metrics should not have "_sum" suffix"#,
    r#"kafka_consumergroup_lag_sum non-histogram and non-summary metrics should not have "_sum" suffix"#,
];

/// `promtool check metrics` on the scrape; fails (never skips) without promtool. The scrape
/// must parse (exit 1 is a format error) and have no lint finding besides
/// [`INHERITED_LINT`] (exit 3 is lint findings only).
pub(crate) fn promtool_check(text: &str) {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => panic!(
            "promtool is needed to check the exposition format ({error}): install Debian's \
             `prometheus` package (`apt-get install -y prometheus`), e.g. via scripts/install-deps"
        ),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let findings: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .filter(|line| !INHERITED_LINT.contains(line))
        .collect();
    let only_inherited_lint = output.status.code() == Some(3) && findings.is_empty();
    assert!(
        output.status.success() || only_inherited_lint,
        "promtool check metrics failed (exit {:?}):\n{report}\n--- scrape ---\n{text}",
        output.status.code()
    );
}

/// Produces `PER_PARTITION` records to each partition.
async fn fill(clients: &KafkaClients, topic: &str) {
    let producer = clients.producer().expect("producer");
    for partition in 0..PARTITIONS {
        for i in 0..PER_PARTITION {
            let payload = format!("record-{partition}-{i}");
            producer
                .send(
                    FutureRecord::<(), _>::to(topic)
                        .partition(partition)
                        .payload(&payload),
                    Duration::from_secs(10),
                )
                .await
                .unwrap_or_else(|(error, _)| panic!("produce failed: {error}"));
        }
    }
}

/// A subscribed group member that consumed exactly `count` records and committed, for every
/// partition, the offset after the last record it read there (0 where it read none).
async fn consume_and_commit(
    clients: &KafkaClients,
    topic: &str,
    group: &str,
    count: usize,
) -> (StreamConsumer, BTreeMap<i32, i64>) {
    let consumer = clients.consumer(group).expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut next: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
    {
        let mut stream = consumer.stream();
        for _ in 0..count {
            let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
                .await
                .expect("records arrive within 30 s")
                .expect("stream is open")
                .expect("no consume error");
            next.insert(message.partition(), message.offset() + 1);
        }
    }
    let mut commit = TopicPartitionList::new();
    for (partition, offset) in &next {
        commit
            .add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("offset");
    }
    consumer
        .commit(&commit, CommitMode::Sync)
        .expect("commit succeeds");
    (consumer, next)
}

#[tokio::test]
async fn lag_matches_what_the_consumer_left_and_promtool_accepts_the_scrape() {
    let bootstrap = Services::from_env().kafka_bootstrap;
    let clients = kafka_clients(&bootstrap).await;
    let topic = unique_name("metrics_lag");
    let group = unique_name("metrics_group");
    create_topic(&clients, &topic, PARTITIONS).await;
    fill(&clients, &topic).await;
    let consumed = 13;
    let (consumer, committed) = consume_and_commit(&clients, &topic, &group, consumed).await;

    let config = metrics_config(&format!(
        "topic_filter = \"^{topic}$\"\ngroup_filter = \"^{group}$\"\nstatus_window = 2\n\
         [labels]\nenv = \"test\""
    ));
    let server = start(config, clients.clone()).await;
    let text = scrape(&server).await;
    promtool_check(&text);

    let total = f64::from(PARTITIONS) * PER_PARTITION as f64;
    let env = r#"env="test""#;
    assert_eq!(
        value(&text, "kafka_gateway_cluster_scrape_success", env),
        1.0
    );
    assert!(value(&text, "kafka_brokers", env) >= 1.0);
    assert_eq!(
        value(
            &text,
            "kafka_topic_partitions",
            &format!(r#"{env},topic="{topic}""#)
        ),
        f64::from(PARTITIONS)
    );
    for partition in 0..PARTITIONS {
        let labels = format!(r#"{env},topic="{topic}",partition="{partition}""#);
        let group_labels =
            format!(r#"{env},consumergroup="{group}",topic="{topic}",partition="{partition}""#);
        let next = committed[&partition] as f64;
        assert_eq!(
            value(&text, "kafka_topic_partition_current_offset", &labels),
            PER_PARTITION as f64
        );
        assert_eq!(
            value(&text, "kafka_topic_partition_oldest_offset", &labels),
            0.0
        );
        assert_eq!(value(&text, "kafka_topic_partition_replicas", &labels), 1.0);
        assert_eq!(
            value(&text, "kafka_topic_partition_in_sync_replica", &labels),
            1.0
        );
        assert_eq!(
            value(&text, "kafka_topic_partition_leader_is_preferred", &labels),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_topic_partition_under_replicated_partition",
                &labels
            ),
            0.0
        );
        assert!(value(&text, "kafka_topic_partition_leader", &labels) >= 0.0);
        assert_eq!(
            value(&text, "kafka_consumergroup_current_offset", &group_labels),
            next
        );
        assert_eq!(
            value(&text, "kafka_consumergroup_lag", &group_labels),
            PER_PARTITION as f64 - next,
            "lag of partition {partition}"
        );
    }
    let sum_labels = format!(r#"{env},consumergroup="{group}",topic="{topic}""#);
    assert_eq!(
        value(&text, "kafka_consumergroup_lag_sum", &sum_labels),
        total - consumed as f64,
        "produced {total}, consumed and committed {consumed}"
    );
    assert_eq!(
        value(&text, "kafka_consumergroup_current_offset_sum", &sum_labels),
        consumed as f64
    );
    let group_labels = format!(r#"{env},consumergroup="{group}""#);
    assert_eq!(
        value(&text, "kafka_consumergroup_members", &group_labels),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "kafka_consumergroup_status",
            &format!(r#"{group_labels},status="OK""#)
        ),
        1.0,
        "one scrape is too little history to judge"
    );

    // The member stays connected without advancing: the second scrape fills the window.
    let text = scrape(&server).await;
    assert_eq!(
        value(
            &text,
            "kafka_consumergroup_status",
            &format!(r#"{group_labels},status="STALL""#)
        ),
        5.0,
        "{text}"
    );

    // The member leaves; the offsets stay where they were: the group stopped.
    drop(consumer);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = scrape(&server).await;
        if value(&text, "kafka_consumergroup_members", &group_labels) == 0.0 {
            assert_eq!(
                value(
                    &text,
                    "kafka_consumergroup_status",
                    &format!(r#"{group_labels},status="STOP""#)
                ),
                4.0,
                "{text}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the member did not leave the group: {text}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // A memberless commit (as Spark or Flink make, with `assign`): the next scrape sees it.
    let committer: BaseConsumer = clients
        .consumer_config(&group)
        .create()
        .expect("memberless committer");
    let mut commit = TopicPartitionList::new();
    commit
        .add_partition_offset(&topic, 0, Offset::Offset(PER_PARTITION))
        .expect("offset");
    committer
        .commit(&commit, CommitMode::Sync)
        .expect("memberless commit");
    let text = scrape(&server).await;
    let labels = format!(r#"{env},consumergroup="{group}",topic="{topic}",partition="0""#);
    assert_eq!(
        value(&text, "kafka_consumergroup_current_offset", &labels),
        PER_PARTITION as f64,
        "{text}"
    );
    assert_eq!(value(&text, "kafka_consumergroup_lag", &labels), 0.0);
}

/// `Threads` and `VmRSS` of this process (the exporter runs in it), from `/proc`.
fn process_footprint() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("Threads:") || line.starts_with("VmRSS:"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test]
async fn unfiltered_scrape_of_the_whole_cluster_is_valid_and_timed() {
    let clients = kafka_clients(&Services::from_env().kafka_bootstrap).await;
    let server = start(metrics_config(""), clients).await;
    let started = Instant::now();
    let text = scrape(&server).await;
    let elapsed = started.elapsed();
    println!("full scrape done: {elapsed:?}, {}", process_footprint());
    promtool_check(&text);
    assert_eq!(
        value(&text, "kafka_gateway_cluster_scrape_success", ""),
        1.0,
        "{text}"
    );
    let read = value(&text, "kafka_gateway_cluster_scrape_duration_seconds", "");
    let partitions = samples(&text, "kafka_topic_partition_current_offset").len();
    let groups = samples(&text, "kafka_consumergroup_members").len();
    println!(
        "full scrape: {elapsed:?} over http, cluster read {read:.3} s, {partitions} partitions, \
         {groups} groups, {} bytes; this test process after it: {}",
        text.len(),
        process_footprint()
    );
}

#[tokio::test]
async fn unreachable_cluster_answers_in_time_without_kafka_series() {
    let cluster = ClusterConfig::new(format!("127.0.0.1:{}", free_port()))
        .validate("test")
        .expect("valid");
    let server = start(
        metrics_config("scrape_timeout_ms = 1500"),
        KafkaClients::new(cluster),
    )
    .await;
    let started = Instant::now();
    let text = scrape(&server).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        value(&text, "kafka_gateway_cluster_scrape_success", ""),
        0.0,
        "{text}"
    );
    assert!(samples(&text, "kafka_brokers").is_empty(), "{text}");
    promtool_check(&text);
}

/// A cluster whose settings the native client cannot honour (here the password of an
/// encrypted private key) is read with the librdkafka fallback, one handle per group: the
/// committed offsets still show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_beyond_the_native_client_fall_back_to_per_group_handles() {
    let plain = kafka_clients(&Services::from_env().kafka_bootstrap).await;
    let topic = unique_name("metrics_fallback");
    let group = unique_name("metrics_fallback_group");
    create_topic(&plain, &topic, PARTITIONS).await;
    fill(&plain, &topic).await;
    let committer: BaseConsumer = plain
        .consumer_config(&group)
        .create()
        .expect("memberless committer");
    let mut commit = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        commit
            .add_partition_offset(&topic, partition, Offset::Offset(i64::from(partition) + 4))
            .expect("offset");
    }
    committer
        .commit(&commit, CommitMode::Sync)
        .expect("memberless commit");

    let mut cluster = Services::sasl_ssl().scram("SCRAM-SHA-256");
    cluster
        .properties
        .insert("ssl.key.password".to_owned(), "unused".to_owned());
    let cluster = cluster.validate("test").expect("valid SASL_SSL config");
    let refused = broker_core::wire::WireClient::new(&cluster, Duration::from_secs(5));
    assert!(
        matches!(
            refused,
            Err(broker_core::wire::WireError::Unsupported { .. })
        ),
        "{refused:?}"
    );
    let config = metrics_config(&format!(
        "topic_filter = \"^{topic}$\"\ngroup_filter = \"^{group}$\""
    ));
    let server = start(config, KafkaClients::new(cluster)).await;
    let text = scrape(&server).await;
    assert_eq!(
        value(&text, "kafka_gateway_cluster_scrape_success", ""),
        1.0,
        "{text}"
    );
    for partition in 0..PARTITIONS {
        let labels = format!(r#"consumergroup="{group}",topic="{topic}",partition="{partition}""#);
        assert_eq!(
            value(&text, "kafka_consumergroup_current_offset", &labels),
            f64::from(partition + 4),
            "{text}"
        );
        assert_eq!(
            value(&text, "kafka_consumergroup_lag", &labels),
            (PER_PARTITION - i64::from(partition) - 4) as f64,
        );
    }
}
