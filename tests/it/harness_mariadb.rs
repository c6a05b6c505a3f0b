//! A sqlx round trip on the local MariaDB, which also checks the binlog settings the CDC
//! source depends on.

use sqlx::{AssertSqlSafe, Connection, MySqlConnection, Row};
use tests::{START_HINT, Services, unique_name};

#[tokio::test]
async fn query_round_trip_and_binlog_settings() {
    let url = Services::from_env().mysql_url;
    let mut connection = MySqlConnection::connect(&url)
        .await
        .unwrap_or_else(|error| panic!("MariaDB at {url} is unreachable ({error}); {START_HINT}"));

    let settings = sqlx::query(
        "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id, @@gtid_strict_mode",
    )
    .fetch_one(&mut connection)
    .await
    .expect("settings query");
    assert_eq!(settings.get::<i64, _>(0), 1, "log_bin is on");
    assert_eq!(settings.get::<String, _>(1), "ROW");
    assert_eq!(settings.get::<String, _>(2), "FULL");
    assert_eq!(settings.get::<u64, _>(3), 1, "server_id");

    let database = unique_name("harness");
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE `{database}`")))
        .execute(&mut connection)
        .await
        .expect("create database");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE `{database}`.items (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(64), doc JSON)"
    )))
    .execute(&mut connection)
    .await
    .expect("create table");
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO `{database}`.items VALUES (18446744073709551615, 'max', '{{\"a\": 1}}')"
    )))
    .execute(&mut connection)
    .await
    .expect("insert");
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, name, doc FROM `{database}`.items"
    )))
    .fetch_one(&mut connection)
    .await
    .expect("select");
    assert_eq!(row.get::<u64, _>(0), u64::MAX);
    assert_eq!(row.get::<String, _>(1), "max");
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE `{database}`")))
        .execute(&mut connection)
        .await
        .expect("drop database");
}
