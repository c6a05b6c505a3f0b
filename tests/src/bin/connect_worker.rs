//! A stand-alone connect worker for process-level tests (kill -9, RSS) and local demos; the
//! product entry point is `kafka-gateway connect`. Settings come from the environment:
//! `KAFKA_BOOTSTRAP` (127.0.0.1:9092), `CONNECT_GROUP_ID`, `CONNECT_CONFIG_TOPIC`,
//! `CONNECT_OFFSET_TOPIC`, `CONNECT_STATUS_TOPIC`, `CONNECT_LISTEN` (127.0.0.1:8083).
//! Prints `listening on <address>` once the worker is ready.

use broker_core::telemetry::{LogFormat, MetricsRegistry, init_tracing};
use broker_core::{ClusterConfig, KafkaClients, Shutdown};
use connect::{ConnectConfig, Worker, builtin_plugins};

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_tracing(LogFormat::Text, "info,librdkafka=warn");
    let defaults = ConnectConfig::default();
    let config = ConnectConfig {
        enabled: true,
        group_id: var("CONNECT_GROUP_ID", &defaults.group_id),
        config_storage_topic: var("CONNECT_CONFIG_TOPIC", &defaults.config_storage_topic),
        offset_storage_topic: var("CONNECT_OFFSET_TOPIC", &defaults.offset_storage_topic),
        status_storage_topic: var("CONNECT_STATUS_TOPIC", &defaults.status_storage_topic),
        http: edge::ListenerConfig {
            listen: Some(var("CONNECT_LISTEN", "127.0.0.1:8083")),
            ..edge::ListenerConfig::default()
        },
        ..defaults
    };
    let validated = match config.validate("connect") {
        Ok(validated) => validated,
        Err(error) => {
            eprintln!("{error}");
            return std::process::ExitCode::from(2);
        }
    };
    let cluster =
        match ClusterConfig::new(var("KAFKA_BOOTSTRAP", "127.0.0.1:9092")).validate("kafka") {
            Ok(cluster) => cluster,
            Err(error) => {
                eprintln!("{error}");
                return std::process::ExitCode::from(2);
            }
        };
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let worker = match Worker::start(
        validated,
        KafkaClients::new(cluster),
        builtin_plugins(),
        &MetricsRegistry::new(),
        shutdown,
    )
    .await
    {
        Ok(worker) => worker,
        Err(error) => {
            eprintln!("connect worker failed to start: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match worker.tcp.local_addr() {
        Ok(address) => println!("listening on {address}"),
        Err(error) => eprintln!("cannot read the bound address: {error}"),
    }
    match worker.serve().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("connect worker stopped: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
