//! Scripts of `tests/independent/` (Confluent's own Python client and serializers, an
//! implementation independent of ours) run as child processes.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The Python of the venv `scripts/install-deps` makes (`$GATEWAY_VENV`, else
/// `<repo>/.cache/venv`), or a panic that says how to make it.
pub fn python() -> PathBuf {
    let venv = std::env::var_os("GATEWAY_VENV").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/venv"),
        PathBuf::from,
    );
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import confluent_kafka, fastavro, google.protobuf"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        ready,
        "{} lacks confluent-kafka with its Schema Registry serializers: run \
         scripts/install-deps (or set GATEWAY_VENV to a venv that has them)",
        python.display()
    );
    python
}

/// Runs `tests/independent/<script>` with `args` and answers the JSON lines it printed, by
/// their `check` field; a failing script fails the test with its output.
pub fn run(script: &str, args: &[&str]) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("independent")
        .join(script);
    let output = Command::new(python())
        .arg(&path)
        .args(args)
        .output()
        .expect("the Python script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{} failed ({}):\n{stdout}\n{}",
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The line of `check` among `lines`.
pub fn check<'a>(lines: &'a [Value], check: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| line["check"] == check)
        .unwrap_or_else(|| panic!("no '{check}' line in {lines:?}"))
}
