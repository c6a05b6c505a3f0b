//! The dependency rules of docs/architecture.md, read from the manifests: a service never
//! depends on another service, and a connector plugin depends on `connect-api` only among
//! the workspace's crates.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The crates in `folder` (each subfolder with a Cargo.toml), by package name.
fn crates_in(folder: &str) -> Vec<(String, toml::Table)> {
    let mut crates = Vec::new();
    for entry in std::fs::read_dir(workspace().join(folder)).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            let table: toml::Table = toml::from_str(&text).unwrap();
            let name = table["package"]["name"].as_str().unwrap().to_owned();
            crates.push((name, table));
        }
    }
    crates.sort_by(|a, b| a.0.cmp(&b.0));
    crates
}

/// Normal (non-dev) dependencies of a manifest.
fn dependencies(manifest: &toml::Table) -> BTreeSet<String> {
    manifest
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn no_service_depends_on_another_service() {
    let services = crates_in("services");
    let names: BTreeSet<String> = services.iter().map(|(n, _)| n.clone()).collect();
    assert!(names.len() >= 4, "services found: {names:?}");
    for (name, manifest) in &services {
        let on_services: Vec<_> = dependencies(manifest)
            .intersection(&names)
            .filter(|d| *d != name)
            .cloned()
            .collect();
        assert!(
            on_services.is_empty(),
            "service {name} depends on service(s) {on_services:?}: move what they share into \
             edge/, schemas/ or broker-core/"
        );
    }
}

#[test]
fn plugins_depend_on_connect_api_only() {
    let workspace_crates: BTreeSet<String> = ["services", "connectors"]
        .iter()
        .flat_map(|folder| crates_in(folder))
        .map(|(name, _)| name)
        .chain(
            [
                "broker-core",
                "common",
                "edge",
                "doctor",
                "schemas",
                "gateway",
            ]
            .map(str::to_owned),
        )
        .collect();
    for (name, manifest) in crates_in("connectors") {
        if name == "connect-api" {
            continue;
        }
        let internal: Vec<_> = dependencies(&manifest)
            .intersection(&workspace_crates)
            .cloned()
            .collect();
        assert_eq!(
            internal,
            vec!["connect-api".to_owned()],
            "plugin {name} may depend on connect-api only among the workspace's crates"
        );
    }
}
