//! One test binary for every tier-3 test, so the workspace links it once.

// A panic is how a test fails; helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

mod harness_kafka;
mod harness_mariadb;
mod harness_opensearch;
