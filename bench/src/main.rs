//! Benchmarks of the gateway's services against the local cluster A.
//!
//! - `cargo run --release -p bench -- bridge`: the HTTP bridge ([`bridge`]).
//! - `cargo run --release -p bench -- bridge-instances`: what consumer instances cost the
//!   gateway ([`bridge_instances`]).
//! - `cargo run --release -p bench -- mirror`: the mirror vs MirrorMaker 2 ([`mirror`]).
//! - `cargo run -p bench -- mirror-groups --groups N`: group offsets A → B at scale vs
//!   MirrorMaker 2's checkpoint connector ([`mirror_groups`]).
//! - `cargo run --release -p bench -- failover --groups N --partitions P`: the time of
//!   `kafka-gateway mirror failover` vs MirrorMaker 2's RemoteClusterUtils procedure
//!   ([`failover`]).
//! - `cargo run --release -p bench -- es-sink`: the Elasticsearch sink vs raw `_bulk` ([`es_sink`]).
//! - `cargo run --release -p bench -- schemas`: the bridge's Avro vs JSON formats and the
//!   schema registry under load ([`schemas`]).
//! - `cargo run --release -p bench -- mysql`: the MySQL CDC source vs a plain `SELECT *` ([`mysql`]).
//! - `cargo run --release -p bench -- mysql-avro`: a MySQL snapshot with AvroConverter vs
//!   JsonConverter ([`mysql_avro`]).

// Load generators and probes are throwaway tasks that need no names (clippy.toml names
// broker_core::task for production code).
#![allow(clippy::disallowed_methods)]

mod bridge;
mod bridge_instances;
mod es_sink;
mod failover;
mod mirror;
mod mirror_groups;
mod mysql;
mod mysql_anchor;
mod mysql_avro;
mod schemas;

// The same allocator as the kafka-gateway binary, so that figures match the product.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let result = match which.as_str() {
        "bridge" => bridge::run().await,
        "bridge-instances" => bridge_instances::run(std::env::args().skip(2).collect()).await,
        "mirror" => mirror::run(std::env::args().skip(2).collect()).await,
        "mirror-groups" => mirror_groups::run(std::env::args().skip(2).collect()).await,
        "failover" => failover::run(std::env::args().skip(2).collect()).await,
        "es-sink" => es_sink::run(std::env::args().skip(2).collect()).await,
        "mysql" => mysql::run(std::env::args().skip(2).collect()).await,
        "mysql-avro" => mysql_avro::run(std::env::args().skip(2).collect()).await,
        "schemas" => schemas::run().await,
        _ => {
            eprintln!(
                "usage: cargo run --release -p bench -- bridge|bridge-instances|mirror|mirror-groups|failover|es-sink|mysql|mysql-avro|schemas"
            );
            std::process::exit(2);
        }
    };
    if let Err(error) = result {
        eprintln!("benchmark failed: {error}");
        std::process::exit(1);
    }
}
