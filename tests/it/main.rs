//! One test binary for every tier-3 test, so the workspace links it once.

// A panic is how a test fails; helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]
// Test drivers, writers and readers are short-lived and need no names; a test may block
// (clippy.toml names broker_core::task for production code).
#![allow(clippy::disallowed_methods)]

mod api_fuzz;
mod architecture;
mod bridge_common;
mod bridge_consumers;
mod bridge_edge;
mod bridge_outage;
mod bridge_produce;
mod bridge_restart;
mod bridge_topics;
mod bridge_v3;
mod bridge_v3_admin;
mod bridge_v3_cluster_admin;
mod connect_distributed;
mod connect_eos;
mod connect_pipeline;
mod connect_rest;
mod connect_sink_offsets;
mod connect_storage;
mod connect_support;
mod connect_task_metrics;
mod connect_topic_creation;
mod doctor_advertised;
mod doctor_broker;
mod es_sink_backpressure;
mod es_sink_compat;
mod es_sink_faults;
mod es_sink_kill;
mod es_sink_options;
mod es_sink_outage;
mod es_sink_pipeline;
mod es_sink_restart;
mod es_sink_support;
mod gateway_binary;
mod gateway_hash_password;
mod gateway_pipeline;
mod harness_kafka;
mod harness_mariadb;
mod harness_opensearch;
mod metrics_exporter;
mod mirror_acls;
mod mirror_common;
mod mirror_crash_in_process;
mod mirror_delivery;
mod mirror_offsets;
mod mirror_replication;
mod mysql_cdc;
mod mysql_common;
mod mysql_heartbeat;
mod mysql_history;
mod mysql_kill;
mod mysql_outage;
mod mysql_purged;
mod mysql_query;
mod mysql_restart;
mod mysql_sasl_ssl;
mod mysql_validation;
mod schema_registry_api;
mod schema_registry_clients;
mod schema_registry_cluster;
mod schema_registry_common;
mod schema_registry_edge;
mod schema_registry_evolution;
mod schema_registry_import;
mod security_http;
mod security_http_reload;
mod security_identities;
mod security_kafka;
mod security_secrets;
mod wire_client;
mod wire_offsets;
