use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// One small gateway for the services teams run around Apache Kafka: an HTTP bridge
/// (Confluent REST Proxy / Strimzi compatible), a Kafka Connect compatible connector
/// runtime, a MirrorMaker 2 replacement and a kafka_exporter compatible metrics endpoint.
#[derive(Debug, Parser)]
#[command(name = "kafka-gateway", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start every service enabled in the config file, in one process.
    Run(ConfigArgs),
    /// Start only the HTTP bridge (port 8082 by default).
    Bridge(ConfigArgs),
    /// Start only the Kafka Connect compatible runtime (port 8083 by default).
    Connect(ConfigArgs),
    /// Start only the Prometheus endpoint (port 9308 by default).
    Metrics(ConfigArgs),
    /// Start only the Confluent-compatible Schema Registry (port 8081 by default).
    SchemaRegistry(ConfigArgs),
    /// Mirror topics between clusters from a MirrorMaker 2 `mm2.properties` file.
    Mirror(MirrorArgs),
    /// Validate a config file and print the effective settings, secrets hidden.
    CheckConfig(ConfigArgs),
    /// Diagnose connectivity to a cluster: bootstrap, every advertised listener, metadata.
    Doctor(DoctorArgs),
    /// Read a password from stdin and print its argon2id hash, for an HTTP `users_file`
    /// line `name:<hash>`.
    HashPassword,
    /// Read a bearer token from stdin and print `sha256:<hex>`, for an HTTP `tokens_file`
    /// line `principal:sha256:<hex>`.
    HashToken,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigArgs {
    /// Gateway config file (TOML). Every key can be overridden by an environment variable
    /// `KAFKA_GATEWAY_<SECTION>__<KEY>`, e.g. `KAFKA_GATEWAY_KAFKA__BOOTSTRAP_SERVERS`.
    #[arg(short, long, env = "KAFKA_GATEWAY_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct MirrorArgs {
    #[command(subcommand)]
    pub(crate) action: Option<MirrorAction>,
    /// MirrorMaker 2 dedicated-mode properties file (`mm2.properties`), used as it is.
    #[arg(short, long)]
    pub(crate) config: Option<PathBuf>,
    /// Stable identity of this process for static group membership: a restart under the
    /// same id takes its partitions back at once. Default: the host name. Give each
    /// process of a flow its own when several run on one host.
    #[arg(long, env = "KAFKA_GATEWAY_MIRROR_INSTANCE_ID")]
    pub(crate) instance_id: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum MirrorAction {
    /// Print, per partition of a group, the source offset, the translated target offset
    /// and how many records a failover to the target would read again.
    Translate {
        /// MirrorMaker 2 dedicated-mode properties file (`mm2.properties`).
        #[arg(short, long)]
        config: PathBuf,
        /// Consumer group to translate.
        #[arg(short, long)]
        group: String,
    },
    /// Move consumer groups from one cluster to the other at exactly translated offsets
    /// (commits them on the target), and report what the target lacks (RPO). Works while
    /// the source is unreachable, from the target's checkpoints. Exit code 3 when a group
    /// is refused or a record would be skipped.
    Failover(FailoverArgs),
    /// Which process runs which task of each flow, as the groups' coordinators see it
    /// (at-least-once: members of the source group and their partitions; exactly-once:
    /// members of the task group and their tasks, and tasks no process runs).
    Status {
        /// MirrorMaker 2 dedicated-mode properties file (`mm2.properties`).
        #[arg(short, long)]
        config: PathBuf,
        /// `table` or `json`.
        #[arg(long, value_enum, default_value_t = FailoverOutput::Table)]
        output: FailoverOutput,
    },
    /// After the source returns: move the groups that failed over back at translated
    /// offsets (original topics through the inverse translation, topics written on the
    /// target through the back flow), check that the back flow copied everything, and
    /// report the records lost in the disaster by offset range. Exit code 3 when a group
    /// is refused or a record would be skipped.
    Failback(FailbackArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct FailbackArgs {
    /// MirrorMaker 2 dedicated-mode properties file with an enabled `<from>-><to>` flow.
    #[arg(short, long)]
    pub(crate) config: PathBuf,
    /// Alias of the cluster the groups leave (the one they failed over to).
    #[arg(long)]
    pub(crate) from: String,
    /// Alias of the cluster they return to (the original source).
    #[arg(long)]
    pub(crate) to: String,
    /// Groups to move back, a regular expression; default: every group with commits on
    /// the flows' topics.
    #[arg(short, long)]
    pub(crate) group: Option<String>,
    /// Print what would be committed; commit nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Also move groups while the back flow has not caught up or while they are active on
    /// the cluster they leave.
    #[arg(long)]
    pub(crate) force: bool,
    /// `table` or `json`.
    #[arg(long, value_enum, default_value_t = FailoverOutput::Table)]
    pub(crate) output: FailoverOutput,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct FailoverArgs {
    /// MirrorMaker 2 dedicated-mode properties file (`mm2.properties`).
    #[arg(short, long)]
    pub(crate) config: PathBuf,
    /// Alias of the cluster the groups leave (the flow's source).
    #[arg(long)]
    pub(crate) from: String,
    /// Alias of the cluster the groups move to (the flow's target).
    #[arg(long)]
    pub(crate) to: String,
    /// Groups to move, a regular expression; default: every group with checkpoints.
    #[arg(short, long)]
    pub(crate) group: Option<String>,
    /// Print what would be committed; commit nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Also move groups still active on the source, or whose target position is later.
    #[arg(long)]
    pub(crate) force: bool,
    /// `table` or `json`.
    #[arg(long, value_enum, default_value_t = FailoverOutput::Table)]
    pub(crate) output: FailoverOutput,
    /// Seconds the source gets to answer before it counts as unreachable.
    #[arg(long, default_value_t = 5)]
    pub(crate) source_timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FailoverOutput {
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DoctorArgs {
    /// Bootstrap servers to start from, `host:port[,host:port]`.
    #[arg(short, long, env = "KAFKA_BOOTSTRAP", default_value = "127.0.0.1:9092")]
    pub(crate) bootstrap: String,
    /// Any librdkafka property, `key=value`, repeatable (e.g. `security.protocol=SASL_SSL`).
    #[arg(short = 'X', long = "property", value_name = "KEY=VALUE")]
    pub(crate) properties: Vec<String>,
    /// Also write one record to this topic and read it back (checks WRITE/READ ACLs).
    #[arg(long, value_name = "TOPIC")]
    pub(crate) check_topic: Option<String>,
    /// Also describe this consumer group and fetch its offsets on --check-topic.
    #[arg(long, value_name = "GROUP")]
    pub(crate) check_group: Option<String>,
    /// Seconds to wait for each connection and metadata request.
    #[arg(long, default_value_t = 5)]
    pub(crate) timeout_seconds: u64,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_help() {
        for sub in Cli::command().get_subcommands() {
            assert!(sub.get_about().is_some(), "{} has no help", sub.get_name());
        }
    }
}
