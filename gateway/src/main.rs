//! `kafka-gateway`: one process for the HTTP bridge, the connector runtime, the mirror and
//! the metrics endpoint, all sharing one broker core.

mod cli;
mod config;
mod doctor;
mod failback;
mod failover;
mod hash_password;
mod limits;
mod malloc_tunables;
mod plugins;
mod run;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

// Many small allocations (JSON values, records) on many threads: glibc's allocator spent a
// third of a CDC snapshot's CPU in malloc/free and arena lock contention.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // No runtime needed to hash a secret.
    match cli.command {
        Command::HashPassword => return hash_password::hash_password_command(),
        Command::HashToken => return hash_password::hash_token_command(),
        _ => {}
    }
    malloc_tunables::apply();
    limits::raise_open_files_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gateway-worker")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Run(args) => run::run_all(&args).await,
        Command::Bridge(args) => run::run_only(&args, run::Only::Bridge).await,
        Command::Metrics(args) => run::run_only(&args, run::Only::Metrics).await,
        Command::Connect(args) => run::run_only(&args, run::Only::Connect).await,
        Command::SchemaRegistry(args) => run::run_only(&args, run::Only::SchemaRegistry).await,
        Command::Mirror(args) => run::run_mirror(&args).await,
        Command::CheckConfig(args) => run::check_config(&args),
        Command::Doctor(args) => return doctor::doctor(&args).await,
        Command::HashPassword => return hash_password::hash_password_command(),
        Command::HashToken => return hash_password::hash_token_command(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The subscriber may not be installed yet (config errors), so print directly.
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
