//! The registry behind the shared HTTP edge: Basic authentication and the ACL roles
//! (`read_only` reads, lookups and compatibility checks included; `admin` writes too).

use axum::http::{Method, StatusCode};
use integration_tests::unique_name;
use serde_json::json;

use crate::schema_registry_common::TestRegistry;

fn basic(user: &str) -> String {
    use base64::Engine as _;
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{user}-pw").as_bytes());
    format!("Basic {encoded}")
}

#[tokio::test]
async fn auth_and_roles_apply_to_registry_requests() {
    let dir = std::env::temp_dir().join(unique_name("sr_edge"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut users = String::new();
    for name in ["alice", "bob", "eve"] {
        let hash =
            gateway_edge::security::users::hash_password(format!("{name}-pw").as_bytes()).unwrap();
        users.push_str(&format!("{name}:{hash}\n"));
    }
    let users_path = dir.join("users");
    std::fs::write(&users_path, users).unwrap();
    let extra = format!(
        "[http.auth]\nusers_file = {users_path:?}\n\
         [[http.auth.acl]]\nprincipal = \"alice\"\nrole = \"admin\"\n\
         [[http.auth.acl]]\nprincipal = \"bob\"\nrole = \"read_only\"\n"
    );
    let registry = TestRegistry::on_topic(&unique_name("_schemas_edge"), &extra).await;
    let schema = json!({"schema": "\"string\""});

    let anonymous = registry.get("/subjects").await;
    anonymous.assert_error(401, 40101);
    let alice = basic("alice");
    let bob = basic("bob");
    let eve = basic("eve");
    let registered = registry
        .call_as(
            Some(&alice),
            Method::POST,
            "/subjects/s/versions",
            Some(schema.clone()),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{registered:?}");
    let listed = registry
        .call_as(Some(&bob), Method::GET, "/subjects", None)
        .await;
    assert_eq!(listed.body, json!(["s"]));
    let lookup = registry
        .call_as(
            Some(&bob),
            Method::POST,
            "/subjects/s",
            Some(schema.clone()),
        )
        .await;
    assert_eq!(lookup.status, StatusCode::OK, "{lookup:?}");
    let check = registry
        .call_as(
            Some(&bob),
            Method::POST,
            "/compatibility/subjects/s/versions/latest",
            Some(schema.clone()),
        )
        .await;
    assert_eq!(check.body, json!({"is_compatible": true}));
    registry
        .call_as(
            Some(&bob),
            Method::POST,
            "/subjects/t/versions",
            Some(schema.clone()),
        )
        .await
        .assert_error(403, 40301);
    registry
        .call_as(Some(&bob), Method::DELETE, "/subjects/s", None)
        .await
        .assert_error(403, 40301);
    // No rule names eve: nothing is allowed once rules exist.
    registry
        .call_as(Some(&eve), Method::GET, "/subjects", None)
        .await
        .assert_error(403, 40301);
    let _ = std::fs::remove_dir_all(&dir);
}
