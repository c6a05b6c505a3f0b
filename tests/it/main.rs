//! One test binary for every tier-3 test, so the workspace links it once.

mod harness_kafka;
mod harness_mariadb;
mod harness_opensearch;
