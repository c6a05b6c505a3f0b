//! The diagnosis behind `kafka-gateway doctor`: explains why clients cannot use a cluster.
//!
//! The classic failure is `advertised.listeners`: the bootstrap address answers, the broker
//! then tells clients to connect to an address they cannot reach, and every produce or
//! fetch times out. The doctor checks the bootstrap servers, reads the metadata (cluster id,
//! controller, every broker with the endpoint it advertises), then tries each advertised
//! endpoint from where it runs: a TCP connect, then a metadata request sent to that endpoint
//! alone. Asked to, it also writes and reads back one record on a topic and describes a
//! consumer group, to surface ACL problems. Every problem is one line that names the broker
//! or resource, what is wrong and the fix; the exit status is 1 when there is any.
//!
//! The controller id comes from broker-core's native protocol client (`broker_core::wire`),
//! because librdkafka's safe API does not expose it; it is read with the cluster's own
//! security settings. In KRaft mode brokers report a random live broker as "controller"
//! (clients never talk to the KRaft quorum), so the id is informative only on
//! ZooKeeper-era clusters.

//!
//! Kept as a library function so that tests (and other front ends) get the same report as
//! the command line; `gateway/src/doctor.rs` only parses flags and prints.
//! A crate of its own, not part of the metrics service: it is a command, and the console
//! and tests call it too.

mod access;
mod controller;

use std::time::{Duration, Instant};

use broker_core::metadata::{BrokerInfo, ClusterInspector};
use broker_core::{BrokerError, ClusterConfig, KafkaClients, ValidatedCluster};
use tokio::net::TcpStream;

/// What to check.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// Bootstrap servers, `host:port[,host:port]`.
    pub bootstrap: String,
    /// librdkafka properties as `key=value` (`security.protocol=SASL_SSL`, ...).
    pub properties: Vec<String>,
    /// Time allowed for each connection and request.
    pub timeout: Duration,
    /// Produce one record to this topic and read it back.
    pub check_topic: Option<String>,
    /// Describe this consumer group (and fetch its offsets on `check_topic`).
    pub check_group: Option<String>,
}

impl DoctorOptions {
    pub fn new(bootstrap: impl Into<String>) -> Self {
        Self {
            bootstrap: bootstrap.into(),
            properties: Vec::new(),
            timeout: Duration::from_secs(5),
            check_topic: None,
            check_group: None,
        }
    }
}

/// What the doctor found: informational lines, and one line per problem with its fix.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DoctorReport {
    pub lines: Vec<String>,
    pub problems: Vec<String>,
}

/// The options themselves are wrong (not KEY=VALUE, invalid bootstrap address, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DoctorUsageError(String);

/// Runs every check; cluster problems end up in the report, never as an `Err`.
pub async fn diagnose(options: &DoctorOptions) -> Result<DoctorReport, DoctorUsageError> {
    let mut cluster = ClusterConfig::new(options.bootstrap.clone());
    cluster.client_id = "kafka-gateway-doctor".to_owned();
    for property in &options.properties {
        let (key, value) = property
            .split_once('=')
            .ok_or_else(|| DoctorUsageError(format!("`{property}` is not KEY=VALUE")))?;
        cluster
            .properties
            .insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let validated = cluster
        .validate("")
        .map_err(|e| DoctorUsageError(e.to_string()))?;
    let timeout = options.timeout;
    let mut report = DoctorReport::default();

    let mut reachable_bootstrap = Vec::new();
    for server in validated.bootstrap_servers().split(',') {
        match tcp_check(server, timeout).await {
            Ok(elapsed) => {
                reachable_bootstrap.push(server.to_owned());
                report.lines.push(format!(
                    "bootstrap {server}: tcp connect ok ({elapsed:.1?})"
                ));
            }
            Err(reason) => report.problems.push(format!(
                "bootstrap {server} is unreachable from here ({reason}): check the address, \
                 that the broker runs, and that `listeners` binds an interface this host can reach"
            )),
        }
    }
    if reachable_bootstrap.is_empty() {
        return Ok(report);
    }

    let clients = KafkaClients::new(validated.clone());
    let inspector =
        ClusterInspector::new(&clients, timeout).map_err(|e| DoctorUsageError(e.to_string()))?;
    let metadata = match inspector.metadata(None).await {
        Ok(metadata) => metadata,
        Err(error) => {
            report.problems.push(format!(
                "metadata request through {} failed ({error}): the port answers but not as a \
                 Kafka listener with security.protocol={}; check the listener's protocol, \
                 SASL and TLS settings",
                validated.bootstrap_servers(),
                validated.security_protocol().to_ascii_uppercase()
            ));
            return Ok(report);
        }
    };
    let cluster_id = inspector
        .cluster_id()
        .await
        .unwrap_or_else(|_| "unknown".to_owned());
    let controller = match controller::controller_id(&validated, timeout).await {
        Ok(Some(id)) => format!("controller {id}"),
        Ok(None) => "no controller reported".to_owned(),
        Err(reason) => format!("controller unknown ({reason})"),
    };
    report.lines.push(format!(
        "cluster {cluster_id}: {controller}, {} broker(s), {} topic(s), metadata answered by broker {}",
        metadata.brokers.len(),
        metadata.topics.len(),
        metadata.answered_by
    ));

    for broker in &metadata.brokers {
        check_broker(broker, &cluster, timeout, &mut report).await;
    }
    if let Some(topic) = &options.check_topic {
        access::check_topic(&clients, &inspector, topic, timeout, &mut report).await;
    }
    if let Some(group) = &options.check_group {
        access::check_group(
            &clients,
            &inspector,
            group,
            options.check_topic.as_deref(),
            timeout,
            &mut report,
        )
        .await;
    }
    Ok(report)
}

/// TCP connect, then a metadata request sent to the advertised endpoint alone.
async fn check_broker(
    broker: &BrokerInfo,
    cluster: &ClusterConfig,
    timeout: Duration,
    report: &mut DoctorReport,
) {
    let id = broker.id;
    let endpoint = format!("{}:{}", broker.host, broker.port);
    report
        .lines
        .push(format!("broker {id} advertises {endpoint}"));
    let elapsed = match tcp_check(&endpoint, timeout).await {
        Ok(elapsed) => elapsed,
        Err(reason) => {
            report.problems.push(format!(
                "broker {id} advertises {endpoint}, unreachable from here ({reason}): set \
                 advertised.listeners on broker {id} to an address clients can reach"
            ));
            return;
        }
    };
    let direct = ClusterConfig {
        bootstrap_servers: endpoint.clone(),
        ..cluster.clone()
    };
    let answered = match direct.validate("") {
        Ok(direct) => direct_metadata(&direct, timeout).await,
        Err(error) => Err(error.into()),
    };
    match answered {
        Ok(()) => report.lines.push(format!(
            "broker {id} at {endpoint}: tcp connect ok ({elapsed:.1?}), metadata ok"
        )),
        Err(error) => report.problems.push(format!(
            "broker {id} advertises {endpoint}, which accepts connections but does not answer \
             as Kafka ({error}): the advertised listener points at the wrong port or protocol"
        )),
    }
}

async fn direct_metadata(cluster: &ValidatedCluster, timeout: Duration) -> Result<(), BrokerError> {
    let inspector = ClusterInspector::new(&KafkaClients::new(cluster.clone()), timeout)?;
    inspector.metadata(None).await.map(|_| ())
}

async fn tcp_check(address: &str, timeout: Duration) -> Result<Duration, String> {
    let address = address.rsplit_once("://").map_or(address, |(_, rest)| rest);
    let started = Instant::now();
    match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(_stream)) => Ok(started.elapsed()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn malformed_property_is_a_usage_error() {
        let mut options = DoctorOptions::new("127.0.0.1:9092");
        options.properties.push("no-equals-sign".to_owned());
        let error = diagnose(&options).await.unwrap_err();
        assert!(error.to_string().contains("no-equals-sign"), "{error}");
    }

    #[tokio::test]
    async fn closed_bootstrap_is_one_problem_with_its_fix() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let mut options = DoctorOptions::new(format!("127.0.0.1:{port}"));
        options.timeout = Duration::from_secs(1);
        let report = diagnose(&options).await.unwrap();
        assert_eq!(report.problems.len(), 1, "{report:?}");
        assert!(
            report.problems[0].contains("is unreachable from here"),
            "{report:?}"
        );
    }
}
