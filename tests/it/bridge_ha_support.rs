//! The cluster of the bridge's multi-node tests (`bridge_ha`): three `kafka-gateway run`
//! processes with `[bridge.cluster]` on random ports, and a real HAProxy in front of them,
//! round-robin without stickiness, started with a generated configuration.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::process::{ChildGuard, GatewayProcess, free_port};
use tests::{Services, kafka_clients, unique_name};

pub(crate) const NODES: usize = 3;
pub(crate) const PARTITIONS: i32 = 3;
/// Short, so that the group hands a killed owner's partitions over quickly (the broker's
/// `group.min.session.timeout.ms` is 6 s by default).
const SESSION_TIMEOUT_MS: u64 = 6000;
pub(crate) const LEASE_MS: u64 = 3000;

/// The HAProxy binary, or a panic that says how to install it.
fn haproxy_binary() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "haproxy is not installed: `scripts/services up` installs it (or `apt-get install \
             haproxy`); the bridge's multi-node tests put it in front of the gateways"
        )
    })
}

pub(crate) struct Node {
    pub(crate) process: GatewayProcess,
}

/// Three gateways and the load balancer in front of them.
pub(crate) struct BridgeCluster {
    pub(crate) nodes: Vec<Option<Node>>,
    ports: Vec<u16>,
    haproxy: ChildGuard,
    pub(crate) lb_url: String,
    pub(crate) bootstrap: String,
    directory_topic: String,
    instance_timeout_ms: u64,
    name: String,
    pub(crate) http: reqwest::Client,
}

impl BridgeCluster {
    pub(crate) async fn start(instance_timeout_ms: u64) -> Self {
        let haproxy = haproxy_binary();
        let bootstrap = Services::from_env().kafka_bootstrap;
        kafka_clients(&bootstrap).await;
        let name = unique_name("bridge_ha");
        let lb_port = free_port();
        let ports: Vec<u16> = (0..NODES).map(|_| free_port()).collect();
        let mut cluster = Self {
            nodes: Vec::new(),
            ports: ports.clone(),
            haproxy: start_haproxy(&haproxy, &name, lb_port, &ports),
            lb_url: format!("http://127.0.0.1:{lb_port}"),
            bootstrap,
            directory_topic: format!("{name}_directory"),
            instance_timeout_ms,
            name,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(90))
                .build()
                .expect("http client"),
        };
        for index in 0..NODES {
            let node = cluster.spawn_node(index);
            cluster.nodes.push(Some(node));
        }
        for index in 0..NODES {
            cluster.wait_ready(index).await;
        }
        cluster.wait_lb_ready().await;
        cluster
    }

    fn spawn_node(&self, index: usize) -> Node {
        let port = self.ports[index];
        let config = std::env::temp_dir().join(format!("{}_node{index}.toml", self.name));
        std::fs::write(
            &config,
            format!(
                "[kafka.properties]\n\
                 \"session.timeout.ms\" = \"{SESSION_TIMEOUT_MS}\"\n\
                 \"heartbeat.interval.ms\" = \"1000\"\n\
                 [bridge]\n\
                 enabled = true\n\
                 advertised_url = \"{lb}\"\n\
                 consumer_instance_timeout_ms = {timeout}\n\
                 [bridge.http]\n\
                 listen = \"127.0.0.1:{port}\"\n\
                 shutdown_deadline_ms = 10000\n\
                 [bridge.cluster]\n\
                 enabled = true\n\
                 node_url = \"http://127.0.0.1:{port}\"\n\
                 directory_topic = \"{topic}\"\n\
                 directory_replication_factor = 1\n\
                 lease_ms = {LEASE_MS}\n",
                lb = self.lb_url,
                timeout = self.instance_timeout_ms,
                topic = self.directory_topic,
            ),
        )
        .expect("gateway config");
        let metrics = format!("127.0.0.1:{}", free_port());
        let env = [
            (
                "KAFKA_GATEWAY_KAFKA__BOOTSTRAP_SERVERS",
                self.bootstrap.as_str(),
            ),
            ("KAFKA_GATEWAY_METRICS__HTTP__LISTEN", metrics.as_str()),
            ("RUST_LOG", "info,bridge=debug"),
        ];
        let log = std::env::temp_dir().join(format!(
            "{}_node{index}_{}.log",
            self.name,
            unique_name("run")
        ));
        let config = config.display().to_string();
        Node {
            process: GatewayProcess::spawn(&["run", "--config", &config], &env, log),
        }
    }

    pub(crate) fn node_url(&self, index: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[index])
    }

    async fn wait_ready(&mut self, index: usize) {
        let url = format!("{}/", self.node_url(index));
        let started = Instant::now();
        loop {
            if let Ok(answer) = self.http.get(&url).send().await
                && answer.status().is_success()
            {
                return;
            }
            let node = self.nodes[index].as_mut().expect("node running");
            if let Ok(Some(status)) = node.process.child.0.try_wait() {
                panic!(
                    "node {index} exited with {status}; log:\n{}",
                    node.process.log()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "node {index} did not serve within 90 s; log:\n{}",
                node.process.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_lb_ready(&self) {
        let started = Instant::now();
        while !matches!(self.http.get(format!("{}/", self.lb_url)).send().await, Ok(a) if a.status().is_success())
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "haproxy did not forward within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The node whose log says it created or took over `instance` and did not give it up.
    pub(crate) fn owner_of(&self, instance: &str) -> usize {
        let owners: Vec<usize> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(index, node)| {
                let log = node.as_ref()?.process.log();
                let mentions = |what: &str| {
                    log.lines()
                        .any(|line| line.contains(instance) && line.contains(what))
                };
                let owns = mentions("consumer instance created")
                    || mentions("consumer instance taken over");
                (owns && !mentions("owned elsewhere now")).then_some(index)
            })
            .collect();
        match owners.as_slice() {
            [one] => *one,
            _ => panic!("nodes {owners:?} say they own {instance}\n{}", self.logs()),
        }
    }

    pub(crate) fn kill(&mut self, index: usize) {
        let mut node = self.nodes[index].take().expect("node running");
        node.process.child.0.kill().expect("SIGKILL");
        let _ = node.process.child.0.wait();
    }

    pub(crate) async fn terminate(&mut self, index: usize) {
        let mut node = self.nodes[index].take().expect("node running");
        let status = node.process.child.terminate(Duration::from_secs(30)).await;
        assert!(
            status.success(),
            "graceful stop of node {index}: {status}; log:\n{}",
            node.process.log()
        );
    }

    pub(crate) async fn restart(&mut self, index: usize) {
        let node = self.spawn_node(index);
        self.nodes[index] = Some(node);
        self.wait_ready(index).await;
    }

    pub(crate) fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(index, node)| {
                let node = node.as_ref()?;
                let text = node.process.log();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                Some(format!(
                    "--- node {index}:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for BridgeCluster {
    fn drop(&mut self) {
        // The guards kill the gateways and haproxy; only the generated files are left.
        let _ = &self.haproxy;
        let temp = std::env::temp_dir();
        for index in 0..NODES {
            let _ = std::fs::remove_file(temp.join(format!("{}_node{index}.toml", self.name)));
        }
        let _ = std::fs::remove_file(temp.join(format!("{}_haproxy.cfg", self.name)));
    }
}

fn start_haproxy(binary: &PathBuf, name: &str, lb_port: u16, ports: &[u16]) -> ChildGuard {
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(index, port)| {
            format!("    server node{index} 127.0.0.1:{port} check inter 500 fall 2 rise 1\n")
        })
        .collect();
    // Round-robin per request, no cookie, no stickiness. A connection refused by a dead
    // node is retried on another one (`redispatch`), as any production setup does.
    let config = format!(
        "global\n    maxconn 512\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 90s\n    \
         timeout server 90s\n    retries 3\n    option redispatch 1\n    \
         option http-server-close\n\
         frontend bridge\n    bind 127.0.0.1:{lb_port}\n    default_backend nodes\n\
         backend nodes\n    balance roundrobin\n    option httpchk GET /\n{servers}"
    );
    let path = std::env::temp_dir().join(format!("{name}_haproxy.cfg"));
    std::fs::write(&path, config).expect("haproxy config");
    let log = std::fs::File::create(std::env::temp_dir().join(format!("{name}_haproxy.log")))
        .expect("haproxy log");
    let child = Command::new(binary)
        .args(["-db", "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("haproxy starts");
    ChildGuard(child)
}
