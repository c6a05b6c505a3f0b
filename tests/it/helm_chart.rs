//! The Helm chart (`deploy/helm/kafka-gateway`), checked with the real tools: `helm lint`,
//! `helm template`, `kubeconform` against Kubernetes' own schemas (all built by
//! `scripts/k8s/tools`, which `scripts/services up` runs), and the rendered gateway config
//! and environment of every workload through `kafka-gateway check-config`, so a chart key
//! the gateway does not know fails here rather than in a pod's crash loop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_json::Value;

const RELEASE: &str = "gw";
const NAMESPACE: &str = "streaming";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn chart() -> PathBuf {
    repo().join("deploy/helm/kafka-gateway")
}

/// `.cache/tools` or `GATEWAY_TOOLS_DIR`; fails (never skips) when a tool is missing.
fn tool(name: &str) -> PathBuf {
    let tools = std::env::var_os("GATEWAY_TOOLS_DIR")
        .map_or_else(|| repo().join(".cache/tools"), PathBuf::from);
    let path = if name == "k8s-schemas" {
        tools.join(name)
    } else {
        tools.join("bin").join(name)
    };
    assert!(
        path.exists(),
        "{} is missing: build it with `scripts/k8s/tools` (or `scripts/services up`, which \
         runs it; needs Go and the Go module proxy)",
        path.display()
    );
    path
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(tests::unique_name("helm-chart"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("{command:?} did not start: {error}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `helm template` with the chart's CI values file `values` (None: the defaults).
fn template(values: Option<&str>, extra: &[&str]) -> Output {
    let mut command = Command::new(tool("helm"));
    command
        .arg("template")
        .arg(RELEASE)
        .arg(chart())
        .args(["--namespace", NAMESPACE]);
    if let Some(values) = values {
        command.arg("--values").arg(chart().join("ci").join(values));
    }
    run(command.args(extra))
}

fn rendered(values: Option<&str>) -> (String, Vec<Value>) {
    let output = template(values, &[]);
    assert!(output.status.success(), "helm template: {}", text(&output));
    let manifest = String::from_utf8(output.stdout).expect("UTF-8 manifest");
    let documents = serde_yaml_ng::Deserializer::from_str(&manifest)
        .map(|document| Value::deserialize(document).expect("a YAML document"))
        .filter(|document| !document.is_null())
        .collect();
    (manifest, documents)
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

fn named<'a>(documents: &'a [Value], kind: &str, name: &str) -> &'a Value {
    of_kind(documents, kind)
        .into_iter()
        .find(|d| d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// `kubeconform -strict` of a rendered manifest; returns its summary.
fn kubeconform(manifest: &str) -> Value {
    use std::io::Write;
    let schemas = tool("k8s-schemas");
    let mut child = Command::new(tool("kubeconform"))
        .args(["-strict", "-summary", "-output", "json", "-schema-location"])
        .arg(format!(
            "{}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            schemas.display()
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubeconform starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(manifest.as_bytes())
        .expect("write the manifest");
    let output = child.wait_with_output().expect("kubeconform runs");
    assert!(output.status.success(), "kubeconform: {}", text(&output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("kubeconform's JSON ({error}): {}", text(&output)))
}

#[test]
fn the_chart_lints_and_renders_manifests_kubernetes_accepts_in_every_mode() {
    for values in [
        None,
        Some("combined-values.yaml"),
        Some("per-role-values.yaml"),
    ] {
        let mut lint = Command::new(tool("helm"));
        lint.arg("lint").arg("--strict").arg(chart());
        if let Some(values) = values {
            lint.arg("--values").arg(chart().join("ci").join(values));
        }
        let linted = run(&mut lint);
        assert!(
            linted.status.success(),
            "helm lint {values:?}: {}",
            text(&linted)
        );

        let (manifest, documents) = rendered(values);
        let summary = kubeconform(&manifest);
        let summary = &summary["summary"];
        assert_eq!(summary["invalid"], 0, "{values:?}: {summary}");
        assert_eq!(summary["errors"], 0, "{values:?}: {summary}");
        assert_eq!(
            summary["skipped"], 0,
            "no schema for a kind ({values:?}): {summary}"
        );
        assert_eq!(
            summary["valid"].as_u64(),
            Some(documents.len() as u64),
            "{values:?}: every rendered document was validated: {summary}"
        );
    }
}

#[test]
fn kubeconform_refuses_a_misspelt_field_so_the_check_above_can_fail() {
    let (manifest, _) = rendered(None);
    let broken = manifest.replacen("readinessProbe:", "readinesProbe:", 1);
    assert_ne!(broken, manifest);
    let schemas = tool("k8s-schemas");
    let dir = scratch_dir();
    let file = dir.join("broken.yaml");
    std::fs::write(&file, broken).expect("write");
    let output = run(Command::new(tool("kubeconform"))
        .args(["-strict", "-schema-location"])
        .arg(format!(
            "{}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            schemas.display()
        ))
        .arg(&file));
    assert!(!output.status.success(), "accepted: {}", text(&output));
    assert!(text(&output).contains("readinesProbe"), "{}", text(&output));
}

#[test]
fn a_misspelt_value_is_refused_naming_the_key() {
    let output = template(None, &["--set", "roles.bridge.replica=2"]);
    assert!(!output.status.success(), "accepted: {}", text(&output));
    assert!(text(&output).contains("replica"), "{}", text(&output));

    let output = template(None, &["--set", "mode=perrole"]);
    assert!(!output.status.success(), "accepted: {}", text(&output));
    assert!(text(&output).contains("mode"), "{}", text(&output));
}

/// One container's literal environment, with the pod fields the kubelet would substitute.
fn container_env(workload: &Value) -> BTreeMap<String, String> {
    let container = &workload["spec"]["template"]["spec"]["containers"][0];
    let pod_name = format!("{}-0", workload["metadata"]["name"].as_str().unwrap());
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|entry| {
            let value = entry["value"].as_str()?;
            let value = value
                .replace("$(POD_IP)", "10.1.2.3")
                .replace("$(POD_NAME)", &pod_name);
            Some((entry["name"].as_str().unwrap().to_owned(), value))
        })
        .collect()
}

/// `kafka-gateway check-config` on the ConfigMap's gateway.toml with a workload's env.
fn check_config(documents: &[Value], workload: &Value, dir: &Path) -> String {
    let config = named(
        documents,
        "ConfigMap",
        &format!("{RELEASE}-kafka-gateway-config"),
    );
    let toml_path = dir.join("gateway.toml");
    std::fs::write(&toml_path, config["data"]["gateway.toml"].as_str().unwrap()).unwrap();
    let mut env = container_env(workload);
    if let Some(mounted) = env.get_mut("KAFKA_GATEWAY_MIRROR__PROPERTIES_FILE") {
        assert_eq!(
            mounted, "/etc/kafka-gateway/mm2.properties",
            "the mount path"
        );
        let properties = config["data"]["mm2.properties"].as_str();
        let path = dir.join("mm2.properties");
        std::fs::write(&path, properties.expect("mm2.properties in the ConfigMap")).unwrap();
        *mounted = path.display().to_string();
    }
    let output = run(Command::new(tests::process::gateway_binary())
        .args(["check-config", "--config"])
        .arg(&toml_path)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(&env));
    assert!(
        output.status.success(),
        "check-config of {}: {}",
        workload["metadata"]["name"],
        text(&output)
    );
    text(&output)
}

fn workloads(documents: &[Value]) -> Vec<&Value> {
    documents
        .iter()
        .filter(|d| d["kind"] == "Deployment" || d["kind"] == "StatefulSet")
        .collect()
}

#[test]
fn per_role_workloads_run_only_their_service_and_the_gateway_accepts_their_config() {
    let (_, documents) = rendered(Some("per-role-values.yaml"));
    let dir = scratch_dir();
    // Helm orders documents by kind; the set is what matters.
    let names: std::collections::BTreeSet<(&str, &str)> = workloads(&documents)
        .iter()
        .map(|w| {
            (
                w["kind"].as_str().unwrap(),
                w["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("Deployment", "gw-kafka-gateway-bridge"),
            ("Deployment", "gw-kafka-gateway-connect"),
            ("Deployment", "gw-kafka-gateway-schema-registry"),
            ("Deployment", "gw-kafka-gateway-console"),
            ("StatefulSet", "gw-kafka-gateway-mirror"),
            ("Deployment", "gw-kafka-gateway-metrics"),
        ]
        .into()
    );
    let expected = [
        (
            "gw-kafka-gateway-bridge",
            "bridge: listening on 0.0.0.0:8082",
        ),
        (
            "gw-kafka-gateway-connect",
            "connect: listening on 0.0.0.0:8083",
        ),
        (
            "gw-kafka-gateway-schema-registry",
            "schema registry: listening on 0.0.0.0:8081",
        ),
        (
            "gw-kafka-gateway-console",
            "console: listening on 0.0.0.0:8080",
        ),
        (
            "gw-kafka-gateway-metrics",
            "metrics: listening on 0.0.0.0:9308",
        ),
    ];
    for workload in workloads(&documents) {
        let name = workload["metadata"]["name"].as_str().unwrap();
        let checked = check_config(&documents, workload, &dir);
        // Each pod serves /metrics and the probes; only its own service besides.
        assert!(
            checked.contains("metrics: listening on 0.0.0.0:9308"),
            "{name}: {checked}"
        );
        for (owner, line) in expected {
            if owner != "gw-kafka-gateway-metrics" {
                assert_eq!(
                    checked.contains(line),
                    owner == name,
                    "{name}: {line}\n{checked}"
                );
            }
        }
        let env = container_env(workload);
        assert_eq!(
            env["KAFKA_GATEWAY_METRICS__CLUSTER_METRICS"],
            (name == "gw-kafka-gateway-metrics").to_string(),
            "cluster-wide series come from one workload only"
        );
        let pod = &workload["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(container["readinessProbe"]["httpGet"]["port"], "metrics");
        assert!(
            container["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "metrics" && p["containerPort"] == 9308),
            "{name}: the probes' port"
        );
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        assert!(
            container["resources"]["limits"]["memory"].is_string(),
            "{name}"
        );
        assert_eq!(
            container["envFrom"][0]["secretRef"]["name"],
            "kafka-gateway-credentials"
        );
        // Every workload has its Service and its disruption budget.
        let service = named(&documents, "Service", name);
        assert_eq!(
            service["spec"]["selector"],
            workload["spec"]["selector"]["matchLabels"]
        );
        let budget = named(&documents, "PodDisruptionBudget", name);
        assert_eq!(
            budget["spec"]["selector"]["matchLabels"],
            workload["spec"]["selector"]["matchLabels"]
        );
    }

    // Three bridges share consumer instances; their base_uri is the balancer's URL.
    let bridge = container_env(named(&documents, "Deployment", "gw-kafka-gateway-bridge"));
    assert_eq!(bridge["KAFKA_GATEWAY_BRIDGE__CLUSTER__ENABLED"], "true");
    assert_eq!(
        bridge["KAFKA_GATEWAY_BRIDGE__CLUSTER__NODE_URL"],
        "http://10.1.2.3:8082"
    );
    assert_eq!(
        bridge["KAFKA_GATEWAY_BRIDGE__ADVERTISED_URL"],
        "https://kafka-rest.example.com"
    );
    // Mirror processes keep their static member id (the pod name) across restarts.
    let mirror = named(&documents, "StatefulSet", "gw-kafka-gateway-mirror");
    assert_eq!(mirror["spec"]["replicas"], 2);
    assert_eq!(
        container_env(mirror)["KAFKA_GATEWAY_MIRROR__INSTANCE_ID"],
        "gw-kafka-gateway-mirror-0"
    );
    // Prometheus scrapes every Service's metrics port.
    let monitor = &of_kind(&documents, "ServiceMonitor")[0];
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    for service in of_kind(&documents, "Service") {
        let scraped = service["metadata"]["labels"]["kafka-gateway.io/metrics"] == "true";
        let headless = service["spec"]["clusterIP"] == "None";
        assert_eq!(scraped, !headless, "{}", service["metadata"]["name"]);
    }
}

#[test]
fn the_combined_workload_runs_every_enabled_service_in_one_process() {
    let (_, documents) = rendered(Some("combined-values.yaml"));
    let all = workloads(&documents);
    assert_eq!(all.len(), 1, "one workload in combined mode");
    let workload = all[0];
    // It runs the mirror, so it keeps stable pod names.
    assert_eq!(workload["kind"], "StatefulSet");
    assert_eq!(workload["spec"]["replicas"], 2);
    let dir = scratch_dir();
    let checked = check_config(&documents, workload, &dir);
    for line in [
        "bridge: listening on 0.0.0.0:8082",
        "connect: listening on 0.0.0.0:8083",
        "schema registry: listening on 0.0.0.0:8081",
        "console: listening on 0.0.0.0:8080",
        "metrics: listening on 0.0.0.0:9308",
    ] {
        assert!(checked.contains(line), "{line}:\n{checked}");
    }
    // The values' config reached the gateway, secrets through the Secret, not the ConfigMap.
    let config = named(&documents, "ConfigMap", "gw-kafka-gateway-config");
    let toml = config["data"]["gateway.toml"].as_str().unwrap();
    assert!(toml.contains("connect-prod"), "{toml}");
    assert_eq!(
        container_env(workload)["KAFKA_GATEWAY_KAFKA__BOOTSTRAP_SERVERS"],
        "kafka-0.kafka:9092,kafka-1.kafka:9092"
    );
    assert!(checked.contains("connect-prod"), "{checked}");
    assert!(!toml.contains("not-a-real-password"), "{toml}");
    let secret = named(&documents, "Secret", "gw-kafka-gateway-env");
    assert_eq!(
        secret["stringData"]["KAFKA_GATEWAY_KAFKA__PROPERTIES__SASL_PASSWORD"],
        "not-a-real-password"
    );
    let service = named(&documents, "Service", "gw-kafka-gateway");
    let ports: Vec<u64> = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [8082, 8083, 8081, 8080, 9308]);
}
