//! `kafka-gateway doctor`: explains why clients cannot use a cluster.
//!
//! The classic failure is `advertised.listeners`: the bootstrap address answers, the broker
//! then tells clients to connect to an address they cannot reach, and every produce or
//! fetch times out. The doctor checks the bootstrap servers, reads the metadata, then tries
//! every advertised endpoint from where it runs, and states each problem with its fix.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use broker_core::metadata::ClusterInspector;
use broker_core::{ClusterConfig, KafkaClients};
use tokio::net::TcpStream;

use crate::cli::DoctorArgs;

pub(crate) async fn doctor(args: &DoctorArgs) -> ExitCode {
    match diagnose(args).await {
        Ok(report) => {
            for line in &report.lines {
                println!("{line}");
            }
            if report.problems.is_empty() {
                println!("no problems found");
                ExitCode::SUCCESS
            } else {
                println!("{} problem(s):", report.problems.len());
                for problem in &report.problems {
                    println!("  - {problem}");
                }
                ExitCode::FAILURE
            }
        }
        Err(usage) => {
            eprintln!("error: {usage}");
            ExitCode::from(2)
        }
    }
}

#[derive(Debug, Default)]
struct Report {
    lines: Vec<String>,
    problems: Vec<String>,
}

async fn diagnose(args: &DoctorArgs) -> Result<Report, String> {
    let mut cluster = ClusterConfig::new(args.bootstrap.clone());
    cluster.client_id = "kafka-gateway-doctor".to_owned();
    for property in &args.properties {
        let (key, value) = property
            .split_once('=')
            .ok_or_else(|| format!("`{property}` is not KEY=VALUE"))?;
        cluster
            .properties
            .insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let validated = cluster.validate("").map_err(|e| e.to_string())?;
    let timeout = Duration::from_secs(args.timeout_seconds.max(1));
    let mut report = Report::default();

    let mut reachable_bootstrap = 0;
    for server in validated.bootstrap_servers().split(',') {
        match tcp_check(server, timeout).await {
            Ok(elapsed) => {
                reachable_bootstrap += 1;
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
    if reachable_bootstrap == 0 {
        return Ok(report);
    }

    let clients = KafkaClients::new(validated.clone());
    let inspector = ClusterInspector::new(&clients, timeout).map_err(|e| e.to_string())?;
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
    report.lines.push(format!(
        "cluster {cluster_id}: {} broker(s), {} topic(s), metadata answered by broker {}",
        metadata.brokers.len(),
        metadata.topics.len(),
        metadata.answered_by
    ));

    for broker in &metadata.brokers {
        let endpoint = format!("{}:{}", broker.host, broker.port);
        match tcp_check(&endpoint, timeout).await {
            Err(reason) => report.problems.push(format!(
                "broker {} advertises {endpoint}, unreachable from here ({reason}): set \
                 advertised.listeners on broker {} to an address clients can reach",
                broker.id, broker.id
            )),
            Ok(elapsed) => {
                let direct = ClusterConfig {
                    bootstrap_servers: endpoint.clone(),
                    ..cluster.clone()
                };
                let answered = match direct.validate("") {
                    Ok(direct) => {
                        match ClusterInspector::new(&KafkaClients::new(direct), timeout) {
                            Ok(inspector) => inspector.metadata(None).await.map(|_| ()),
                            Err(error) => Err(error),
                        }
                    }
                    Err(error) => Err(error.into()),
                };
                match answered {
                    Ok(()) => report.lines.push(format!(
                        "broker {} advertises {endpoint}: tcp connect ok ({elapsed:.1?}), metadata ok",
                        broker.id
                    )),
                    Err(error) => report.problems.push(format!(
                        "broker {} advertises {endpoint}, which accepts connections but does \
                         not answer as Kafka ({error}): the advertised listener points at the \
                         wrong port or protocol",
                        broker.id
                    )),
                }
            }
        }
    }
    Ok(report)
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
