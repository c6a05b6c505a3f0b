//! Benchmarks of the gateway's services against the local clusters.
//!
//! - `cargo run --release -p bench -- bridge`: the HTTP bridge ([`bridge`]).

mod bridge;

#[tokio::main]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let result = match which.as_str() {
        "bridge" => bridge::run().await,
        _ => {
            eprintln!("usage: cargo run --release -p bench -- bridge");
            std::process::exit(2);
        }
    };
    if let Err(error) = result {
        eprintln!("benchmark failed: {error}");
        std::process::exit(1);
    }
}
