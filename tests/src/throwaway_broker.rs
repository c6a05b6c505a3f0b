//! A single-node Apache Kafka broker of one's own, for tests that must stop or restart the
//! broker (the shared clusters A and B are never restarted by tests).
//!
//! It runs the jars `scripts/services` installed (`.cache/services/kafka/libs`, or
//! `GATEWAY_SERVICES_DIR/kafka/libs`) with the same `server.properties` shape, the same KRaft
//! storage format (`kafka.tools.StorageTool format --standalone`) and Java 17 with a small
//! heap, on two free ports and a temporary data directory. [`ThrowawayBroker::restart`]
//! sends SIGTERM (a controlled shutdown), waits for the process to end and starts it again on
//! the same data directory and ports; [`ThrowawayBroker::kill`] sends SIGKILL (a crash).
//! Dropping the value kills the JVM and deletes the directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker_core::metadata::ClusterInspector;
use broker_core::{ClusterConfig, KafkaClients};

use crate::START_HINT;

/// Longest wait for the broker to answer a metadata request after (re)start.
const READY_LIMIT: Duration = Duration::from_secs(90);
/// Longest wait for a controlled shutdown before the JVM is killed.
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// A running (or stopped, between [`ThrowawayBroker::stop`] and
/// [`ThrowawayBroker::start_again`]) single-node broker of one test.
#[derive(Debug)]
pub struct ThrowawayBroker {
    directory: PathBuf,
    port: u16,
    controller_port: u16,
    libs: PathBuf,
    process: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free local port")
}

fn kafka_libs() -> PathBuf {
    let services = crate::services_dir();
    services.join("kafka/libs")
}

impl ThrowawayBroker {
    /// Formats a fresh data directory and starts the broker; returns once it answers a
    /// metadata request with itself as a live broker.
    pub async fn start() -> Self {
        let libs = kafka_libs();
        assert!(
            libs.is_dir(),
            "no Kafka jars at {}; {START_HINT}",
            libs.display()
        );
        let directory =
            std::env::temp_dir().join(format!("throwaway-kafka-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(directory.join("data")).expect("broker data directory");
        let mut broker = Self {
            directory,
            port: free_port(),
            controller_port: free_port(),
            libs,
            process: None,
        };
        broker.write_config();
        broker.format_storage();
        broker.start_again().await;
        broker
    }

    /// `host:port` of the broker's PLAINTEXT listener.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the broker's data, config and logs live.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// Clients for this broker with the gateway's defaults.
    pub fn clients(&self) -> KafkaClients {
        KafkaClients::new(
            ClusterConfig::new(self.bootstrap())
                .validate("throwaway")
                .expect("valid bootstrap"),
        )
    }

    fn write_config(&self) {
        let data = self.directory.join("data");
        let logs = self.directory.join("logs");
        std::fs::create_dir_all(&logs).expect("broker log directory");
        let (port, controller) = (self.port, self.controller_port);
        let properties = format!(
            "node.id=1\n\
             process.roles=broker,controller\n\
             listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
             inter.broker.listener.name=PLAINTEXT\n\
             controller.listener.names=CONTROLLER\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             controller.quorum.bootstrap.servers=127.0.0.1:{controller}\n\
             log.dirs={data}\n\
             num.partitions=1\n\
             default.replication.factor=1\n\
             auto.create.topics.enable=false\n\
             delete.topic.enable=true\n\
             offsets.topic.replication.factor=1\n\
             offsets.topic.num.partitions=3\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             transaction.state.log.num.partitions=3\n\
             share.coordinator.state.topic.replication.factor=1\n\
             share.coordinator.state.topic.min.isr=1\n\
             share.coordinator.state.topic.num.partitions=3\n\
             group.initial.rebalance.delay.ms=0\n\
             num.network.threads=2\n\
             num.io.threads=2\n",
            data = data.display()
        );
        std::fs::write(self.directory.join("server.properties"), properties)
            .expect("server.properties");
        let log4j = format!(
            "status = warn\n\
             appender.file.type = File\n\
             appender.file.name = file\n\
             appender.file.fileName = {}\n\
             appender.file.layout.type = PatternLayout\n\
             appender.file.layout.pattern = [%d] %p %m (%c)%n\n\
             rootLogger.level = INFO\n\
             rootLogger.appenderRef.file.ref = file\n",
            logs.join("server.log").display()
        );
        std::fs::write(self.directory.join("log4j2.properties"), log4j).expect("log4j2.properties");
    }

    /// `java` with the same flags as `scripts/services`, a smaller heap.
    fn java(&self) -> Command {
        let java = std::env::var("GATEWAY_JAVA").unwrap_or_else(|_| "java".to_owned());
        let mut command = Command::new(java);
        command
            .args([
                "-Xms128m",
                "-Xmx384m",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:+ExplicitGCInvokesConcurrent",
                "-Djava.awt.headless=true",
            ])
            .arg(format!(
                "-Dkafka.logs.dir={}",
                self.directory.join("logs").display()
            ))
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                self.directory.join("log4j2.properties").display()
            ))
            .arg("-cp")
            .arg(format!("{}/*", self.libs.display()))
            .stdin(Stdio::null());
        command
    }

    fn format_storage(&self) {
        let cluster_id = cluster_id();
        let output = self
            .java()
            .args(["kafka.tools.StorageTool", "format", "-t", &cluster_id, "-c"])
            .arg(self.directory.join("server.properties"))
            .arg("--standalone")
            .output()
            .expect("java (17) on PATH or in GATEWAY_JAVA");
        assert!(
            output.status.success(),
            "formatting the throwaway broker's storage failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the broker on its existing data directory and waits until it is ready.
    pub async fn start_again(&mut self) {
        assert!(self.process.is_none(), "the throwaway broker is running");
        let stdout = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.directory.join("logs/stdout.log"))
            .expect("broker stdout log");
        let stderr = stdout.try_clone().expect("broker stdout log");
        let child = self
            .java()
            .arg("kafka.Kafka")
            .arg(self.directory.join("server.properties"))
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("java (17) on PATH or in GATEWAY_JAVA");
        self.process = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        let clients = self.clients();
        loop {
            if let Some(child) = self.process.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "the throwaway broker exited with {status}; see {}",
                    self.directory.join("logs").display()
                );
            }
            let inspector =
                ClusterInspector::new(&clients, Duration::from_secs(2)).expect("metadata client");
            if let Ok(metadata) = inspector.metadata(None).await
                && !metadata.brokers.is_empty()
            {
                return;
            }
            assert!(
                started.elapsed() < READY_LIMIT,
                "the throwaway broker on {} is not ready after {READY_LIMIT:?}; see {}",
                self.bootstrap(),
                self.directory.join("logs").display()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// SIGTERM (controlled shutdown), then waits for the JVM to end; killed after 30 s.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.process.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let started = Instant::now();
        while started.elapsed() < STOP_LIMIT {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGKILL: the broker process dies at once, as in a crash (no controlled shutdown,
    /// nothing flushed beyond what the OS page cache holds). [`start_again`](Self::start_again)
    /// recovers the log like after a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// [`stop`](Self::stop) then [`start_again`](Self::start_again) on the same data.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }
}

impl Drop for ThrowawayBroker {
    fn drop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

/// 16 random bytes in base64url without padding, what `StorageTool random-uuid` prints
/// (never starting with `-`, which the tool would read as an option).
fn cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    loop {
        let bytes: [u8; 16] = rand::random();
        let mut id = String::with_capacity(22);
        let mut bits = 0u32;
        let mut count = 0;
        for byte in bytes {
            bits = (bits << 8) | u32::from(byte);
            count += 8;
            while count >= 6 {
                count -= 6;
                id.push(char::from(ALPHABET[((bits >> count) & 63) as usize]));
            }
        }
        if count > 0 {
            id.push(char::from(ALPHABET[((bits << (6 - count)) & 63) as usize]));
        }
        if !id.starts_with('-') {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_id_is_22_base64url_characters() {
        for _ in 0..100 {
            let id = super::cluster_id();
            assert_eq!(id.len(), 22, "{id}");
            assert!(!id.starts_with('-'));
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
        }
    }
}
