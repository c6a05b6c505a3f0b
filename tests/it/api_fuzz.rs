//! schemathesis against the committed OpenAPI documents of the bridge, the connect API and
//! the schema registry, with the real `kafka-gateway` binary on real Kafka
//! (`scripts/fuzz-api`): every schemathesis check on every API (no 5xx, no undocumented
//! status or content type, schema-valid requests accepted and schema-violating ones refused,
//! responses as documented), the stateful phase included. The bridge runs twice against the
//! same `openapi/bridge.json`: its Confluent flavor, and its Strimzi flavor in a second
//! `kafka-gateway bridge` process (`bridge-strimzi`). Bounded (25 examples per operation,
//! 70 s per API, four APIs: about 5 minutes) and deterministic, so it runs in CI and a
//! failure reproduces.

use std::process::Command;

use tests::Services;
use tests::process::gateway_binary;

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = gateway_binary();
    let output = Command::new(repo.join("scripts/fuzz-api"))
        .env("GATEWAY_BIN", &binary)
        .env("KAFKA_BOOTSTRAP", Services::from_env().kafka_bootstrap)
        .output()
        .expect("scripts/fuzz-api runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "scripts/fuzz-api failed ({}); exit 2 means a missing prerequisite: run \
         scripts/install-deps (schemathesis venv) and `scripts/services up`",
        output.status
    );
}
