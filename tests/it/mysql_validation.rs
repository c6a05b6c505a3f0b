//! Bad credentials and missing privileges are validation errors that name the cause and
//! the key to fix, both from `PUT /connector-plugins/{class}/config/validate` and when
//! creating the connector. The test creates its own under-privileged MariaDB user and drops
//! it afterwards.

use reqwest::Method;
use serde_json::{Value, json};
use tests::{Services, unique_name};

use crate::connect_support::{ClusterNames, call};
use crate::mysql_common::{cdc_config, exec, shared, start_worker};

const CLASS: &str = "io.debezium.connector.mariadb.MariaDbConnector";

/// (key, message) of every error in a validate answer.
fn errors(answer: &Value) -> Vec<(String, String)> {
    answer["configs"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .flat_map(|c| {
            let name = c["value"]["name"].as_str().unwrap_or_default().to_owned();
            c["value"]["errors"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |e| (name.clone(), e.as_str().unwrap_or_default().to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn bad_password_and_missing_privileges_name_the_cause() {
    let mut conn = shared().await;
    let database = unique_name("cdc_grants");
    let user = unique_name("cdc_user");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut conn,
        &format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'right-password'"),
    )
    .await;
    exec(
        &mut conn,
        &format!("GRANT SELECT ON `{database}`.* TO '{user}'@'%'"),
    )
    .await;

    let worker = start_worker(&ClusterNames::unique()).await;
    let address = Services::from_env().mysql_url;
    let address = address.trim_start_matches("mysql://");
    let address = address.rsplit_once('@').map_or(address, |(_, a)| a);
    let validate = worker.url(&format!("/connector-plugins/{CLASS}/config/validate"));
    let prefix = unique_name("cdc_grants");

    // Wrong password: the error is on database.password and says access was denied.
    let config = cdc_config(
        &format!("mysql://{user}:wrong-password@{address}"),
        &prefix,
        &database,
    );
    let (status, answer) = call(Method::PUT, &validate, Some(config.clone())).await;
    assert_eq!(status, 200, "{answer}");
    let found = errors(&answer);
    assert!(
        found
            .iter()
            .any(|(k, m)| k == "database.password" && m.contains("access denied")),
        "{found:?}"
    );
    let body = json!({"name": "bad_password", "config": config});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("access denied"), "{answer}");

    // Right password, SELECT only: the error is on database.user and names the grants.
    let config = cdc_config(
        &format!("mysql://{user}:right-password@{address}"),
        &prefix,
        &database,
    );
    let (status, answer) = call(Method::PUT, &validate, Some(config.clone())).await;
    assert_eq!(status, 200, "{answer}");
    let found = errors(&answer);
    assert!(
        found.iter().any(|(k, m)| k == "database.user"
            && m.contains("REPLICATION SLAVE")
            && m.contains("REPLICATION CLIENT")
            && m.contains("GRANT")),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(_, m)| m.contains("SELECT,")),
        "SELECT is granted: {found:?}"
    );
    let body = json!({"name": "no_grants", "config": config});
    let (status, answer) = call(Method::POST, &worker.url("/connectors"), Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("REPLICATION SLAVE"), "{answer}");

    // Once granted, the same config validates clean.
    exec(
        &mut conn,
        &format!("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{user}'@'%'"),
    )
    .await;
    let mut config = config;
    config["name"] = json!("granted");
    let (status, answer) = call(Method::PUT, &validate, Some(config)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["error_count"], 0, "{answer}");

    worker.stop().await;
    exec(&mut conn, &format!("DROP USER '{user}'@'%'")).await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}
