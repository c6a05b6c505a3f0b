//! A real Apache Kafka Connect worker (`org.apache.kafka.connect.cli.ConnectDistributed`)
//! with Debezium's MariaDB connector on its plugin path: the reference our Connect service
//! and MySQL source are compared with (tests/it/debezium_*.rs, `bench -- mysql`).
//!
//! The jars come from the project's own Maven step (`scripts/services up` fills
//! `<GATEWAY_SERVICES_DIR>/kafka/libs` and `<GATEWAY_SERVICES_DIR>/debezium/libs`). Each
//! worker gets a free REST port and the group and internal topics its caller names, so a
//! test can hand the same topics to our worker afterwards. The JVM is heavy on a 2-core
//! machine: a modest heap, and the process is killed when the handle is dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{ChildGuard, free_port};
use crate::{START_HINT, services_dir};

/// Debezium's MariaDB connector, which [`KafkaConnectProcess::start`] waits for.
const MARIADB_CONNECTOR: &str = "io.debezium.connector.mariadb.MariaDbConnector";

/// The group and internal topics of one Kafka Connect cluster.
#[derive(Debug, Clone)]
pub struct KafkaConnectCluster {
    pub bootstrap: String,
    pub group_id: String,
    pub config_topic: String,
    pub offset_topic: String,
    pub status_topic: String,
    /// JVM heap options (`-Xmx512m` by default).
    pub heap: String,
}

impl KafkaConnectCluster {
    fn properties(&self, port: u16, plugin_path: &Path) -> String {
        format!(
            "bootstrap.servers={bootstrap}\n\
             group.id={group}\n\
             config.storage.topic={configs}\n\
             offset.storage.topic={offsets}\n\
             status.storage.topic={statuses}\n\
             config.storage.replication.factor=1\n\
             offset.storage.replication.factor=1\n\
             status.storage.replication.factor=1\n\
             offset.storage.partitions=5\n\
             key.converter=org.apache.kafka.connect.json.JsonConverter\n\
             value.converter=org.apache.kafka.connect.json.JsonConverter\n\
             listeners=http://127.0.0.1:{port}\n\
             rest.advertised.host.name=127.0.0.1\n\
             rest.advertised.port={port}\n\
             plugin.path={plugin_path}\n\
             offset.flush.interval.ms=1000\n\
             session.timeout.ms=6000\n\
             heartbeat.interval.ms=1000\n\
             scheduled.rebalance.max.delay.ms=1000\n",
            bootstrap = self.bootstrap,
            group = self.group_id,
            configs = self.config_topic,
            offsets = self.offset_topic,
            statuses = self.status_topic,
            plugin_path = plugin_path.display(),
        )
    }
}

/// A running Kafka Connect worker; killed when dropped.
#[derive(Debug)]
pub struct KafkaConnectProcess {
    child: ChildGuard,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub log_path: PathBuf,
}

impl KafkaConnectProcess {
    /// Starts a worker and waits (up to `ready_within`) until its REST API lists
    /// Debezium's MariaDB connector. Panics with how to get the jars when they are missing.
    pub async fn start(cluster: &KafkaConnectCluster, ready_within: Duration) -> Self {
        Self::start_listing(cluster, MARIADB_CONNECTOR, ready_within).await
    }

    /// Starts a worker and waits (up to `ready_within`) until its REST API lists
    /// `plugin_class` (a Debezium class on the plugin path, or one of Kafka's own on the
    /// classpath such as `org.apache.kafka.connect.file.FileStreamSourceConnector`).
    pub async fn start_listing(
        cluster: &KafkaConnectCluster,
        plugin_class: &str,
        ready_within: Duration,
    ) -> Self {
        let services = services_dir();
        let kafka_libs = services.join("kafka/libs");
        let plugin_path = services.join("debezium");
        let mut needed = vec![kafka_libs.clone()];
        if plugin_class.starts_with("io.debezium.") {
            needed.push(plugin_path.join("libs"));
        }
        for needed in &needed {
            if std::fs::read_dir(needed).map_or(true, |mut d| d.next().is_none()) {
                panic!(
                    "{} is missing or empty: the Kafka and Debezium jars are fetched by \
                     `scripts/services up` (set GATEWAY_SERVICES_DIR to its cache); {START_HINT}",
                    needed.display()
                );
            }
        }
        let port = free_port();
        let work = std::env::temp_dir().join(format!("kafka-connect-{}-{port}", cluster.group_id));
        std::fs::create_dir_all(&work).expect("work folder");
        let properties = work.join("worker.properties");
        std::fs::write(&properties, cluster.properties(port, &plugin_path))
            .expect("worker.properties");
        let log_path = work.join("connect.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new("java")
            .args(cluster.heap.split_whitespace())
            .arg("-cp")
            .arg(format!("{}/*", kafka_libs.display()))
            .arg("org.apache.kafka.connect.cli.ConnectDistributed")
            .arg(&properties)
            .env_remove("KAFKA_HEAP_OPTS")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("java does not start ({e}); {START_HINT}"));
        let mut process = Self {
            child: ChildGuard(child),
            url: format!("http://127.0.0.1:{port}"),
            log_path,
        };
        process.wait_ready(plugin_class, ready_within).await;
        process
    }

    async fn wait_ready(&mut self, plugin_class: &str, within: Duration) {
        let deadline = Instant::now() + within;
        let client = crate::http_client();
        loop {
            if let Some(status) = self.child.0.try_wait().expect("child status") {
                panic!("Kafka Connect exited ({status}); log:\n{}", self.log_tail());
            }
            let plugins = client
                .get(format!("{}/connector-plugins", self.url))
                .send()
                .await;
            if let Ok(response) = plugins
                && response.status().is_success()
                && response
                    .text()
                    .await
                    .is_ok_and(|t| t.contains(plugin_class))
            {
                // The plugin list answers before the worker joined its group; /connectors
                // answers once the config topic has been read.
                if client
                    .get(format!("{}/connectors", self.url))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "Kafka Connect not ready within {within:?}; log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// The last 60 lines of the worker's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Graceful stop (SIGTERM: tasks stop and commit their offsets), at most `timeout`.
    pub async fn stop(mut self, timeout: Duration) {
        let status = self.child.terminate(timeout).await;
        // The JVM exits with 143 on SIGTERM once its shutdown hooks ran.
        assert!(
            status.success() || status.code() == Some(143),
            "Kafka Connect exit {status}; log:\n{}",
            self.log_tail()
        );
    }
}

/// Peak resident memory and CPU time of a process, read from `/proc` (Linux).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessUsage {
    /// `VmHWM`: the peak resident set size, MiB.
    pub peak_rss_mib: f64,
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
}

impl ProcessUsage {
    /// `None` once the process is gone.
    pub fn of(pid: u32) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let peak_kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces) start at the last ')'.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks = |index: usize| fields.get(index)?.parse::<f64>().ok();
        // utime and stime are fields 14 and 15 of stat(5); the slice starts at field 3.
        let cpu_ticks = ticks(11)? + ticks(12)?;
        Some(Self {
            peak_rss_mib: peak_kib / 1024.0,
            cpu_seconds: cpu_ticks / clock_ticks_per_second(),
        })
    }
}

/// `getconf CLK_TCK` (100 on Linux; asked once, to stay right where it is not).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
