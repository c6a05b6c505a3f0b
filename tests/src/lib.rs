//! Harness for tests against the real services.
//!
//! Addresses come from the variables `scripts/services env` prints; when one is missing the
//! local default is used. A service that cannot be reached fails the test with a message
//! saying how to start it: these tests never skip.
//!
//! [`throwaway_broker`] starts a single-node broker of a test's own, for tests that stop or
//! restart a broker (the shared clusters are never restarted).

use std::time::Duration;

pub mod process;
pub mod throwaway_broker;
pub mod throwaway_mariadb;

use broker_core::{ClusterConfig, KafkaClients};
use rand::Rng;
use rand::distr::Alphanumeric;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};

pub const START_HINT: &str = "start the local services with `scripts/services up` \
     (then `eval \"$(scripts/services env)\"`)";

/// Where each real service listens.
#[derive(Debug, Clone)]
pub struct Services {
    pub kafka_bootstrap: String,
    pub kafka_b_bootstrap: String,
    pub mysql_url: String,
    pub elasticsearch_url: String,
}

impl Services {
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            kafka_bootstrap: var("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            kafka_b_bootstrap: var("KAFKA_B_BOOTSTRAP", "127.0.0.1:9192"),
            mysql_url: var("MYSQL_URL", "mysql://root@127.0.0.1:3306"),
            elasticsearch_url: var("ELASTICSEARCH_URL", "http://127.0.0.1:9200"),
        }
    }
}

/// A unique name for a topic, group, index or database, so that runs never collide.
pub fn unique_name(prefix: &str) -> String {
    let suffix: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(10)
        .map(|c| char::from(c).to_ascii_lowercase())
        .collect();
    format!("{prefix}_{suffix}")
}

/// Clients for a cluster that answered a metadata request, or a panic that says how to
/// start it.
pub async fn kafka_clients(bootstrap: &str) -> KafkaClients {
    let cluster = ClusterConfig::new(bootstrap)
        .validate("test")
        .expect("bootstrap address from the environment is valid");
    let clients = KafkaClients::new(cluster);
    let inspector = broker_core::metadata::ClusterInspector::new(&clients, Duration::from_secs(5))
        .expect("metadata client");
    if let Err(error) = inspector.metadata(None).await {
        panic!("Kafka at {bootstrap} is unreachable ({error}); {START_HINT}");
    }
    clients
}

/// Creates a topic and waits until its metadata shows every partition with a leader.
pub async fn create_topic(clients: &KafkaClients, name: &str, partitions: i32) {
    let admin = clients.admin().expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create topics request");
    for result in results {
        if let Err((topic, code)) = result {
            panic!("creating topic {topic} failed: {code}");
        }
    }
    let inspector = broker_core::metadata::ClusterInspector::new(clients, Duration::from_secs(5))
        .expect("metadata client");
    for _ in 0..100 {
        if let Ok(topic) = inspector.topic(name).await
            && topic.partitions.len() == usize::try_from(partitions).unwrap_or_default()
            && topic.partitions.iter().all(|p| p.leader >= 0)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("topic {name} has no leader for every partition after 10 s");
}

/// A reqwest client with a timeout, for the REST services.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}
