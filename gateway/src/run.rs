//! Starting, supervising and stopping the services of one gateway process.
//!
//! Every service gets a child of one shutdown signal. When any service fails, the others are
//! asked to drain too, so the process never keeps running half-broken; the first error is
//! what the process exits with.

use broker_core::task;
use broker_core::telemetry::{self, MetricsRegistry};
use std::collections::BTreeMap;

use broker_core::{ConfigError, KafkaClients, Shutdown};
use edge::{Health, ServiceHealth, ServiceState};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use tokio::task::JoinSet;

use crate::cli::{ConfigArgs, MirrorAction, MirrorArgs};
use crate::config::{GatewayConfig, LoadError, ValidatedGateway};
use crate::plugins;

#[derive(Debug, thiserror::Error)]
pub(crate) enum GatewayError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("invalid mirror configuration: {0}")]
    MirrorConfig(String),
    #[error(transparent)]
    Otlp(#[from] broker_core::otel::OtlpStartError),
    #[error("nothing to run: every service is disabled in the configuration")]
    NothingEnabled,
    #[error("cannot log in to kafka at {bootstrap}: {error}")]
    KafkaLogin {
        bootstrap: String,
        error: broker_core::BrokerError,
    },
    #[error("the {service} service failed: {message}")]
    Service {
        service: &'static str,
        message: String,
    },
    #[error(
        "failover incomplete: {refused} group(s) refused, {skipped} record(s) would be skipped"
    )]
    FailoverIncomplete { refused: usize, skipped: i64 },
    #[error(
        "failback incomplete: {refused} group(s) refused, {skipped} record(s) would be skipped"
    )]
    FailbackIncomplete { refused: usize, skipped: i64 },
}

impl GatewayError {
    /// 2 for anything the operator must fix in the config or command line, 3 for a
    /// failover that left a group behind, 1 otherwise.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Load(_)
            | Self::Config(_)
            | Self::Usage(_)
            | Self::MirrorConfig(_)
            | Self::NothingEnabled
            | Self::KafkaLogin { .. } => 2,
            Self::Service { .. } | Self::Otlp(_) => 1,
            Self::FailoverIncomplete { .. } | Self::FailbackIncomplete { .. } => 3,
        }
    }
}

/// Which single service a sub-command starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Only {
    Bridge,
    Metrics,
    Connect,
    SchemaRegistry,
}

pub(crate) async fn run_all(args: &ConfigArgs) -> Result<(), GatewayError> {
    let config = GatewayConfig::load(args.config.as_deref())?.validate()?;
    supervise(config).await
}

pub(crate) async fn run_only(args: &ConfigArgs, only: Only) -> Result<(), GatewayError> {
    let mut config = GatewayConfig::load(args.config.as_deref())?;
    config.bridge.enabled = only == Only::Bridge;
    config.metrics.enabled = only == Only::Metrics;
    config.connect.enabled = only == Only::Connect;
    config.schema_registry.enabled = only == Only::SchemaRegistry;
    config.mirror.enabled = false;
    config.console.enabled = false;
    supervise(config.validate()?).await
}

/// `kafka-gateway mirror`: MirrorMaker 2's dedicated mode on an existing `mm2.properties`.
pub(crate) async fn run_mirror(args: &MirrorArgs) -> Result<(), GatewayError> {
    match &args.action {
        Some(MirrorAction::Translate { config, group }) => {
            let mirror = load_mirror(config)?;
            telemetry::init_tracing(telemetry::LogFormat::Text, "warn");
            let translated =
                mirror::translate(&mirror, group)
                    .await
                    .map_err(|error| GatewayError::Service {
                        service: "mirror",
                        message: error.to_string(),
                    })?;
            print!("{}", mirror::render_table(&translated));
            Ok(())
        }
        Some(MirrorAction::Failover(failover)) => crate::failover::failover(failover).await,
        Some(MirrorAction::Status { config, output }) => {
            crate::failover::status(config, *output).await
        }
        Some(MirrorAction::Failback(failback)) => crate::failback::failback(failback).await,
        None => {
            let path = args.config.as_ref().ok_or_else(|| {
                GatewayError::Usage(
                    "`kafka-gateway mirror` needs --config <mm2.properties>".to_owned(),
                )
            })?;
            let mut mirror = load_mirror(path)?;
            if let Some(id) = &args.instance_id {
                mirror.instance_id = Some(
                    mirror::InstanceId::parse("--instance-id", id)
                        .map_err(|error| GatewayError::MirrorConfig(error.to_string()))?,
                );
            }
            telemetry::init_tracing(telemetry::LogFormat::Text, "info");
            let shutdown = Shutdown::new();
            shutdown.trigger_on_signals();
            mirror::run(mirror, MetricsRegistry::new(), shutdown)
                .await
                .map_err(|error| GatewayError::Service {
                    service: "mirror",
                    message: error.to_string(),
                })
        }
    }
}

pub(crate) fn load_mirror(path: &std::path::Path) -> Result<mirror::ValidatedMirror, GatewayError> {
    mirror::load_properties(path).map_err(mirror_config_error)
}

/// Config and file errors are the operator's to fix (exit 2); others are runtime failures.
pub(crate) fn mirror_config_error(error: mirror::MirrorError) -> GatewayError {
    match error {
        mirror::MirrorError::Config(_) | mirror::MirrorError::Io { .. } => {
            GatewayError::MirrorConfig(error.to_string())
        }
        other => GatewayError::Service {
            service: "mirror",
            message: other.to_string(),
        },
    }
}

pub(crate) fn check_config(args: &ConfigArgs) -> Result<(), GatewayError> {
    let config = GatewayConfig::load(args.config.as_deref())?.validate()?;
    println!("configuration is valid");
    println!("kafka: {:?}", config.kafka);
    match &config.bridge {
        Some(bridge) => println!(
            "bridge: listening on {} ({:?} flavor)",
            bridge.listener.listen, bridge.flavor
        ),
        None => println!("bridge: disabled"),
    }
    match &config.connect {
        Some(connect) => println!(
            "connect: listening on {} (group {})",
            connect.listener.listen, connect.group_id
        ),
        None => println!("connect: disabled"),
    }
    match &config.mirror {
        Some(mirror) => {
            let validated = mirror.load().map_err(mirror_config_error)?;
            println!("mirror: {} flow(s)", validated.flows.len());
            for warning in &validated.warnings {
                println!("mirror: warning: {warning}");
            }
        }
        None => println!("mirror: disabled"),
    }
    match &config.metrics {
        Some(metrics) => println!("metrics: listening on {}", metrics.listener.listen),
        None => println!("metrics: disabled"),
    }
    match &config.schema_registry {
        Some(registry) => println!(
            "schema registry: listening on {} (topic {}, group {})",
            registry.listener.listen, registry.topic, registry.group_id
        ),
        None => println!("schema registry: disabled"),
    }
    match &config.console {
        Some(console) => println!("console: listening on {}", console.listener.listen),
        None => println!("console: disabled"),
    }
    Ok(())
}

async fn supervise(config: ValidatedGateway) -> Result<(), GatewayError> {
    let export = config
        .otlp
        .as_ref()
        .map(broker_core::otel::OtlpExport::start)
        .transpose()?;
    telemetry::init_tracing_with_export(
        config.telemetry.log_format,
        &config.telemetry.log_level,
        export.as_ref(),
    );
    // Boxed: every service's future lives in this one, too large for the caller's stack frame.
    let result = Box::pin(supervise_services(config)).await;
    if let Some(export) = export {
        // Flushing blocks until the last batch is sent or the export timeout passes.
        let _ = task::spawn_blocking("otlp-flush", move || drop(export)).await;
    }
    result
}

async fn supervise_services(config: ValidatedGateway) -> Result<(), GatewayError> {
    let registry = MetricsRegistry::new();
    register_build_info(&registry);
    let clients = KafkaClients::new(config.kafka.clone());
    if config.bridge.is_some()
        || config.connect.is_some()
        || config.metrics.is_some()
        || config.schema_registry.is_some()
        || config.console.is_some()
    {
        verify_kafka_login(&clients).await?;
    }
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    // Readiness follows the cluster every service here but the mirror talks to; the mirror
    // reads its own clusters from mm2.properties.
    let health = Health::new(
        (config.bridge.is_some()
            || config.connect.is_some()
            || config.schema_registry.is_some()
            || config.metrics.is_some()
            || config.console.is_some())
        .then(|| clients.clone()),
    );
    let mut states: BTreeMap<&'static str, ServiceHealth> = BTreeMap::new();

    let mut services: JoinSet<(&'static str, Result<(), String>)> = JoinSet::new();
    if let Some(bridge) = config.bridge.clone() {
        tracing::info!(url = %format!("http://{}/", bridge.listener.listen), "starting the http bridge");
        let clients = clients.clone();
        let registry = registry.clone();
        let shutdown = shutdown.child();
        task::spawn_in(&mut services, "bridge-service", async move {
            let result = bridge::run(bridge, clients, registry, shutdown).await;
            ("bridge", result.map_err(|e| e.to_string()))
        });
    }
    if let Some(connect) = config.connect.clone() {
        tracing::info!(url = %format!("http://{}/", connect.listener.listen), "starting the connector runtime");
        let clients = clients.clone();
        let registry = registry.clone();
        let shutdown = shutdown.child();
        task::spawn_in(&mut services, "connect-service", async move {
            let result =
                connect::run_with_plugins(connect, clients, plugins::all(), registry, shutdown)
                    .await;
            ("connect", result.map_err(|e| e.to_string()))
        });
    }
    if let Some(schema_registry) = config.schema_registry.clone() {
        tracing::info!(url = %format!("http://{}/", schema_registry.listener.listen), topic = %schema_registry.topic, "starting the schema registry");
        let clients = clients.clone();
        let registry = registry.clone();
        let shutdown = shutdown.child();
        task::spawn_in(&mut services, "schema-registry-service", async move {
            let result = schema_registry::run(schema_registry, clients, registry, shutdown).await;
            ("schema-registry", result.map_err(|e| e.to_string()))
        });
    }
    if let Some(mirror) = &config.mirror {
        let mirror = mirror.load().map_err(mirror_config_error)?;
        tracing::info!(flows = mirror.flows.len(), "starting the mirror");
        let registry = registry.clone();
        let shutdown = shutdown.child();
        task::spawn_in(&mut services, "mirror-service", async move {
            let result = mirror::run(mirror, registry, shutdown).await;
            ("mirror", result.map_err(|e| e.to_string()))
        });
    }
    if let Some(metrics) = config.metrics.clone() {
        tracing::info!(url = %format!("http://{}/metrics", metrics.listener.listen), "starting the metrics endpoint");
        let registry = registry.clone();
        let clients = clients.clone();
        let health = health.clone();
        let shutdown = shutdown.child();
        task::spawn_in(&mut services, "metrics-service", async move {
            let result = metrics::run(metrics, clients, registry, health, shutdown).await;
            ("metrics", result.map_err(|e| e.to_string()))
        });
    }
    if let Some(console) = config.console.clone() {
        tracing::info!(url = %format!("http://{}/", console.listener.listen), "starting the web console");
        let registry = registry.clone();
        let clients = clients.clone();
        let health = health.clone();
        let shutdown = shutdown.child();
        task::spawn_in(&mut services, "console-service", async move {
            let result = console::run(console, clients, registry, health, shutdown).await;
            ("console", result.map_err(|e| e.to_string()))
        });
    }
    if services.is_empty() {
        return Err(GatewayError::NothingEnabled);
    }
    for name in [
        "bridge",
        "connect",
        "schema-registry",
        "mirror",
        "metrics",
        "console",
    ] {
        let enabled = match name {
            "bridge" => config.bridge.is_some(),
            "connect" => config.connect.is_some(),
            "schema-registry" => config.schema_registry.is_some(),
            "mirror" => config.mirror.is_some(),
            "console" => config.console.is_some(),
            _ => config.metrics.is_some(),
        };
        if enabled {
            let state = health.service(name);
            state.set(ServiceState::Running);
            states.insert(name, state);
        }
    }

    let mut first_error = None;
    while let Some(joined) = services.join_next().await {
        let (service, result) = match joined {
            Ok(outcome) => outcome,
            Err(join_error) => (
                "a",
                Err(format!("task panicked or was cancelled: {join_error}")),
            ),
        };
        if let Some(state) = states.get(service) {
            state.set(match &result {
                Ok(()) => ServiceState::Stopped,
                Err(message) => ServiceState::Failed(message.clone()),
            });
        }
        match result {
            Ok(()) => tracing::info!(service, "service stopped"),
            Err(message) => {
                tracing::error!(service, %message, "service failed, stopping the others");
                shutdown.trigger();
                first_error.get_or_insert(GatewayError::Service { service, message });
            }
        }
        if !shutdown.is_triggered() {
            // A service returned without being asked to: stop the rest rather than run
            // half a gateway.
            tracing::warn!(service, "service stopped on its own, stopping the others");
            shutdown.trigger();
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// How long the start-up login check waits for the brokers.
const LOGIN_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// With SASL or TLS configured, a wrong password or CA would otherwise show up only as
/// requests that time out: librdkafka retries a rejected login forever. One metadata
/// request at start-up turns it into a definite error naming the cause. Unreachable
/// brokers are not fatal here; the services retry as they always do.
async fn verify_kafka_login(clients: &KafkaClients) -> Result<(), GatewayError> {
    let cluster = clients.cluster();
    if cluster.security_protocol() == "plaintext" {
        return Ok(());
    }
    let bootstrap = cluster.bootstrap_servers().to_owned();
    match broker_core::login::verify_login(clients, LOGIN_CHECK_TIMEOUT).await {
        Ok(broker_core::login::LoginCheck::Accepted) => {
            tracing::info!(%bootstrap, protocol = %cluster.security_protocol(), "logged in to kafka");
            Ok(())
        }
        Ok(broker_core::login::LoginCheck::Unreachable(error)) => {
            tracing::warn!(%bootstrap, %error, "kafka is not reachable yet; starting anyway");
            Ok(())
        }
        Err(error) => Err(GatewayError::KafkaLogin { bootstrap, error }),
    }
}

fn register_build_info(registry: &MetricsRegistry) {
    let info: Family<Vec<(String, String)>, Gauge> = Family::default();
    info.get_or_create(&vec![(
        "version".to_owned(),
        env!("CARGO_PKG_VERSION").to_owned(),
    )])
    .set(1);
    registry.with_registry(|r| {
        r.register(
            "kafka_gateway_build_info",
            "Version of the running kafka-gateway",
            info,
        );
    });
}
