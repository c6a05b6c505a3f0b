//! The registry behind the shared HTTP edge: Basic authentication, the ACL roles
//! (`read_only` reads, lookups and compatibility checks included; `admin` writes too), and
//! roles on `subjects` only.

use axum::http::{Method, StatusCode};
use serde_json::json;
use tests::unique_name;

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
    for name in ["alice", "bob", "eve", "carol"] {
        let hash = edge::security::users::hash_password(format!("{name}-pw").as_bytes()).unwrap();
        users.push_str(&format!("{name}:{hash}\n"));
    }
    let users_path = dir.join("users");
    std::fs::write(&users_path, users).unwrap();
    let extra = format!(
        "[http.auth]\nusers_file = {users_path:?}\n\
         [[http.auth.acl]]\nprincipal = \"alice\"\nrole = \"admin\"\n\
         [[http.auth.acl]]\nprincipal = \"bob\"\nrole = \"read_only\"\n\
         [[http.auth.acl]]\nprincipal = \"carol\"\nsubjects = [\"team-a-.*\"]\nrole = \"admin\"\n"
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

    // carol administers the team-a subjects only, and sees nothing else.
    let carol = basic("carol");
    let team_a = registry
        .call_as(
            Some(&carol),
            Method::POST,
            "/subjects/team-a-orders/versions",
            Some(json!({"schema": "\"int\""})),
        )
        .await;
    assert_eq!(team_a.status, StatusCode::OK, "{team_a:?}");
    let team_a_id = team_a.body["id"].as_i64().unwrap();
    registry
        .call_as(
            Some(&carol),
            Method::POST,
            "/subjects/team-b/versions",
            Some(schema.clone()),
        )
        .await
        .assert_error(403, 40301);
    registry
        .call_as(Some(&carol), Method::GET, "/subjects/s/versions", None)
        .await
        .assert_error(403, 40301);
    registry
        .call_as(
            Some(&carol),
            Method::PUT,
            "/config",
            Some(json!({"compatibility": "NONE"})),
        )
        .await
        .assert_error(403, 40301);
    let listed = registry
        .call_as(Some(&carol), Method::GET, "/subjects", None)
        .await;
    assert_eq!(listed.body, json!(["team-a-orders"]));
    let own = registry
        .call_as(
            Some(&carol),
            Method::GET,
            &format!("/schemas/ids/{team_a_id}"),
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{own:?}");
    let other_id = registered.body["id"].as_i64().unwrap();
    registry
        .call_as(
            Some(&carol),
            Method::GET,
            &format!("/schemas/ids/{other_id}"),
            None,
        )
        .await
        .assert_error(404, 40403);
    // bob's whole-registry read role sees every subject.
    let all = registry
        .call_as(Some(&bob), Method::GET, "/subjects", None)
        .await;
    assert_eq!(all.body, json!(["s", "team-a-orders"]));
    let _ = std::fs::remove_dir_all(&dir);
}
