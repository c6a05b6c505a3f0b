//! `kafka-gateway doctor` (the library function the command prints) against real brokers:
//! a healthy cluster passes; a broker whose `advertised.listeners` points at an address
//! nobody listens on is diagnosed, naming the broker, the advertised address and the fix;
//! the optional topic and group checks report what they did.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use doctor::{DoctorOptions, DoctorReport, diagnose};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::doctor_broker::{ThrowawayBroker, free_port};

/// The `kafka-gateway` binary next to this test binary (`target/<profile>/`), built after
/// the doctor's sources last changed.
fn gateway_binary() -> PathBuf {
    let test_binary = std::env::current_exe().expect("test binary path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let binary = profile_dir.join("kafka-gateway");
    let hint = "build it first with `cargo build -p gateway` (same CARGO_TARGET_DIR and profile)";
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .unwrap_or_else(|error| panic!("{} is missing ({error}): {hint}", binary.display()));
    let sources = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../doctor/src");
    for source in ["lib.rs", "access.rs", "controller.rs"] {
        let changed = std::fs::metadata(sources.join(source)).and_then(|m| m.modified());
        if let Ok(changed) = changed {
            assert!(
                built >= changed,
                "{} is older than {source}: {hint}",
                binary.display()
            );
        }
    }
    binary
}

fn options(bootstrap: &str) -> DoctorOptions {
    let mut options = DoctorOptions::new(bootstrap);
    options.timeout = Duration::from_secs(5);
    options
}

#[tokio::test]
async fn healthy_cluster_has_no_problems() {
    let bootstrap = Services::from_env().kafka_bootstrap;
    kafka_clients(&bootstrap).await;
    let report = diagnose(&options(&bootstrap)).await.expect("valid options");
    assert!(report.problems.is_empty(), "{report:#?}");
    let cluster = report
        .lines
        .iter()
        .find(|l| l.starts_with("cluster "))
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert!(cluster.contains("controller 1"), "{report:#?}");
    assert!(
        report.lines.iter().any(|l| l
            .starts_with(&format!("broker 1 at {bootstrap}: tcp connect ok"))
            && l.ends_with("metadata ok")),
        "{report:#?}"
    );
}

#[tokio::test]
async fn topic_and_group_checks_report_what_they_did() {
    let bootstrap = Services::from_env().kafka_bootstrap;
    let clients = kafka_clients(&bootstrap).await;
    let topic = unique_name("doctor");
    create_topic(&clients, &topic, 1).await;
    let group = unique_name("doctor_group");
    let mut checks = options(&bootstrap);
    checks.check_topic = Some(topic.clone());
    checks.check_group = Some(group.clone());
    let report = diagnose(&checks).await.expect("valid options");
    assert!(report.problems.is_empty(), "{report:#?}");
    for expected in [
        format!("topic {topic}: wrote one record to partition 0 at offset 0"),
        format!("topic {topic}: read the record back"),
        format!("group {group}: state "),
    ] {
        assert!(
            report.lines.iter().any(|l| l.starts_with(&expected)),
            "missing `{expected}` in {report:#?}"
        );
    }

    let missing = unique_name("doctor_missing");
    checks.check_topic = Some(missing.clone());
    checks.check_group = None;
    let report = diagnose(&checks).await.expect("valid options");
    assert_eq!(
        report.problems,
        vec![format!(
            "topic {missing} does not exist: create it (the gateway never auto-creates topics) \
             or fix the name"
        )]
    );
}

#[tokio::test]
async fn unreachable_advertised_listener_is_diagnosed() {
    // A loopback port nobody listens on: the listener works, what it advertises does not.
    let advertised = format!("127.0.0.1:{}", free_port());
    let broker = ThrowawayBroker::start(&advertised);

    // Wait until the broker is up and registered (metadata lists it).
    let deadline = Instant::now() + Duration::from_secs(120);
    let report: DoctorReport = loop {
        let report = diagnose(&options(&broker.bootstrap))
            .await
            .expect("valid options");
        if report
            .lines
            .iter()
            .any(|l| l.starts_with("broker 1 advertises"))
        {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "the throwaway broker at {} did not come up within 120 s: {report:#?}\n{}",
            broker.bootstrap,
            broker.log_tail()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };

    assert!(
        report
            .lines
            .iter()
            .any(|l| l.starts_with(&format!("bootstrap {}: tcp connect ok", broker.bootstrap))),
        "the bootstrap address itself works: {report:#?}"
    );
    assert_eq!(report.problems.len(), 1, "{report:#?}");
    let problem = &report.problems[0];
    assert!(
        problem.starts_with(&format!(
            "broker 1 advertises {advertised}, unreachable from here ("
        )),
        "{problem}"
    );
    assert!(
        problem.ends_with("set advertised.listeners on broker 1 to an address clients can reach"),
        "{problem}"
    );

    // The command operators run prints the same line and exits 1.
    let output = Command::new(gateway_binary())
        .args([
            "doctor",
            "--bootstrap",
            &broker.bootstrap,
            // Generous: a loaded CI machine can take seconds to answer a metadata request;
            // the unreachable endpoint fails at once (connection refused) whatever this is.
            "--timeout-seconds",
            "30",
        ])
        .output()
        .expect("kafka-gateway runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("  - {problem}")), "{stdout}");
}
