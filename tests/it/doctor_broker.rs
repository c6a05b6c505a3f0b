//! A throwaway single-node Kafka (KRaft, broker + controller) for doctor tests, started
//! from the jars `scripts/services up` downloaded, formatted and configured the way that
//! script does, on free loopback ports, with its data in a temporary folder that is removed
//! with the broker. Its `advertised.listeners` is whatever the test asks for, typically a
//! loopback port nobody listens on, so that the listener works but what it advertises does
//! not.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tests::{START_HINT, unique_name};

/// Any valid KRaft cluster id; each throwaway broker has its own data folder.
const CLUSTER_ID: &str = "MkU3OEVBNTcwNTJENDM2Qg";

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// A running broker; killed and its folder deleted on drop.
pub(crate) struct ThrowawayBroker {
    child: Child,
    dir: PathBuf,
    /// Where the broker really listens.
    pub(crate) bootstrap: String,
}

impl Drop for ThrowawayBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn kafka_libs() -> PathBuf {
    let services = tests::services_dir();
    let libs = services.join("kafka/libs");
    assert!(
        libs.join(".stamp").exists(),
        "no Kafka jars in {}: {START_HINT} (it downloads them once)",
        libs.display()
    );
    libs
}

impl ThrowawayBroker {
    /// Starts a broker listening on a free port and advertising `advertised` (`host:port`).
    pub(crate) fn start(advertised: &str) -> Self {
        let libs = kafka_libs();
        let dir = std::env::temp_dir().join(unique_name("kafka-doctor"));
        std::fs::create_dir_all(dir.join("data")).expect("temp data folder");
        let port = free_port();
        let controller_port = free_port();
        let properties = dir.join("server.properties");
        std::fs::write(
            &properties,
            format!(
                "node.id=1\n\
                 process.roles=broker,controller\n\
                 listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}\n\
                 advertised.listeners=PLAINTEXT://{advertised}\n\
                 inter.broker.listener.name=PLAINTEXT\n\
                 controller.listener.names=CONTROLLER\n\
                 listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
                 controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}\n\
                 log.dirs={data}\n\
                 num.partitions=1\n\
                 auto.create.topics.enable=false\n\
                 offsets.topic.replication.factor=1\n\
                 transaction.state.log.replication.factor=1\n\
                 transaction.state.log.min.isr=1\n\
                 share.coordinator.state.topic.replication.factor=1\n\
                 share.coordinator.state.topic.min.isr=1\n\
                 group.initial.rebalance.delay.ms=0\n\
                 num.network.threads=1\n\
                 num.io.threads=2\n",
                data = dir.join("data").display()
            ),
        )
        .expect("server.properties");
        let java = |dir: &Path| {
            let mut command =
                Command::new(std::env::var("GATEWAY_JAVA").unwrap_or_else(|_| "java".to_owned()));
            command
                .args(["-Xms128m", "-Xmx384m", "-XX:+UseSerialGC"])
                .arg(format!("-Dkafka.logs.dir={}", dir.join("logs").display()))
                .arg("-cp")
                .arg(format!("{}/*", libs.display()))
                .current_dir(dir);
            command
        };
        let format = java(&dir)
            .args(["kafka.tools.StorageTool", "format", "-t", CLUSTER_ID, "-c"])
            .arg(&properties)
            .arg("--standalone")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run java ({error}): {START_HINT}"));
        assert!(
            format.status.success(),
            "formatting the throwaway broker failed:\n{}{}",
            String::from_utf8_lossy(&format.stdout),
            String::from_utf8_lossy(&format.stderr)
        );
        let log = std::fs::File::create(dir.join("stdout.log")).expect("log file");
        let child = java(&dir)
            .arg("kafka.Kafka")
            .arg(&properties)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("java starts");
        Self {
            child,
            dir,
            bootstrap: format!("127.0.0.1:{port}"),
        }
    }

    /// The broker's own log, for failure messages.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}
