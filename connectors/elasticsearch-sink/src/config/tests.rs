//! Validation rules of the sink config, key by key.

use super::*;

fn map(pairs: &[(&str, &str)]) -> ConfigMap {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(super) fn base(extra: &[(&str, &str)]) -> ConfigMap {
    let mut config = map(&[(CONNECTION_URL, "http://a:9200, http://b:9200")]);
    config.extend(map(extra));
    config
}

pub(super) fn issue_keys(config: &ConfigMap) -> Vec<&'static str> {
    ElasticsearchSinkConfig::validate(config)
        .unwrap_err()
        .into_iter()
        .map(|i| i.key)
        .collect()
}

#[test]
fn defaults_are_confluents() {
    let config = ElasticsearchSinkConfig::validate(&base(&[])).unwrap();
    assert_eq!(config.connection.urls.len(), 2);
    assert_eq!(config.bulk.batch_size, 2000);
    assert_eq!(config.bulk.bulk_size_bytes, Some(5 * 1024 * 1024));
    assert_eq!(config.bulk.max_buffered_records, 20_000);
    assert_eq!(config.bulk.linger, Duration::from_millis(1));
    assert_eq!(config.bulk.flush_timeout, Duration::from_secs(180));
    assert_eq!(config.bulk.max_in_flight_requests, 5);
    assert_eq!(config.bulk.max_retries, 5);
    assert_eq!(config.bulk.retry_backoff, Duration::from_millis(100));
    assert_eq!(config.null_values, NullValueBehavior::Fail);
    assert_eq!(config.malformed_documents, MalformedDocumentBehavior::Fail);
    assert_eq!(config.write_method, WriteMethod::Insert);
    assert!(!config.key_ignore && !config.schema_ignore && !config.drop_invalid_message);
    assert!(config.data_stream.is_none());
    assert_eq!(config.connection.connect_timeout, Duration::from_secs(1));
    assert_eq!(config.connection.read_timeout, Some(Duration::from_secs(3)));
}

#[test]
fn def_validates_every_default() {
    let values = config_def().validate(&base(&[]));
    let errors: Vec<_> = values.iter().filter(|v| !v.errors.is_empty()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn validate_rejects_missing_url() {
    assert_eq!(issue_keys(&ConfigMap::new()), vec![CONNECTION_URL]);
}

#[test]
fn validate_rejects_non_http_url() {
    assert_eq!(
        issue_keys(&map(&[(CONNECTION_URL, "ftp://a:21")])),
        vec![CONNECTION_URL]
    );
}

#[test]
fn validate_rejects_ssl_with_http_url() {
    assert_eq!(
        issue_keys(&base(&[(SECURITY_PROTOCOL, "SSL")])),
        vec![CONNECTION_URL]
    );
}

#[test]
fn validate_rejects_password_without_username() {
    assert_eq!(
        issue_keys(&base(&[(CONNECTION_PASSWORD, "secret")])),
        vec![CONNECTION_USERNAME]
    );
}

#[test]
fn validate_rejects_username_without_password() {
    assert_eq!(
        issue_keys(&base(&[(CONNECTION_USERNAME, "elastic")])),
        vec![CONNECTION_PASSWORD]
    );
}

#[test]
fn credentials_debug_hides_the_password() {
    let config = ElasticsearchSinkConfig::validate(&base(&[
        (CONNECTION_USERNAME, "elastic"),
        (CONNECTION_PASSWORD, "s3cr3t"),
    ]))
    .unwrap();
    let text = format!("{config:?}");
    assert!(!text.contains("s3cr3t") && text.contains("[hidden]"));
}

#[test]
fn validate_rejects_unknown_write_method() {
    assert_eq!(
        issue_keys(&base(&[(WRITE_METHOD, "replace")])),
        vec![WRITE_METHOD]
    );
}

#[test]
fn validate_rejects_unknown_null_behavior() {
    assert_eq!(
        issue_keys(&base(&[(BEHAVIOR_ON_NULL_VALUES, "skip")])),
        vec![BEHAVIOR_ON_NULL_VALUES]
    );
}

#[test]
fn validate_rejects_unknown_malformed_behavior() {
    assert_eq!(
        issue_keys(&base(&[(BEHAVIOR_ON_MALFORMED_DOCS, "report")])),
        vec![BEHAVIOR_ON_MALFORMED_DOCS]
    );
}

#[test]
fn validate_rejects_zero_batch_size() {
    assert_eq!(issue_keys(&base(&[(BATCH_SIZE, "0")])), vec![BATCH_SIZE]);
}

#[test]
fn validate_rejects_non_numeric_buffer() {
    assert_eq!(
        issue_keys(&base(&[(MAX_BUFFERED_RECORDS, "lots")])),
        vec![MAX_BUFFERED_RECORDS]
    );
}

#[test]
fn validate_rejects_zero_in_flight() {
    assert_eq!(
        issue_keys(&base(&[(MAX_IN_FLIGHT_REQUESTS, "0")])),
        vec![MAX_IN_FLIGHT_REQUESTS]
    );
}

#[test]
fn bulk_size_minus_one_disables_the_limit() {
    let config = ElasticsearchSinkConfig::validate(&base(&[(BULK_SIZE_BYTES, "-1")])).unwrap();
    assert_eq!(config.bulk.bulk_size_bytes, None);
    assert_eq!(
        issue_keys(&base(&[(BULK_SIZE_BYTES, "0")])),
        vec![BULK_SIZE_BYTES]
    );
}

#[test]
fn validate_rejects_data_stream_without_dataset() {
    assert_eq!(
        issue_keys(&base(&[(DATA_STREAM_TYPE, "LOGS")])),
        vec![DATA_STREAM_DATASET]
    );
}

#[test]
fn validate_rejects_dataset_without_type() {
    assert_eq!(
        issue_keys(&base(&[(DATA_STREAM_DATASET, "app")])),
        vec![DATA_STREAM_DATASET]
    );
}

#[test]
fn validate_refuses_external_resources() {
    assert_eq!(
        issue_keys(&base(&[
            (EXTERNAL_RESOURCE_USAGE, "ALIAS_INDEX"),
            (EXTERNAL_RESOURCE_MAPPING, "orders:orders-alias"),
        ])),
        vec![EXTERNAL_RESOURCE_USAGE, EXTERNAL_RESOURCE_MAPPING]
    );
    assert!(
        ElasticsearchSinkConfig::validate(&base(&[(EXTERNAL_RESOURCE_USAGE, "DISABLED")])).is_ok()
    );
}

#[test]
fn validate_rejects_bad_data_stream_namespaces() {
    let with = |namespace: &str| {
        issue_keys(&base(&[
            (DATA_STREAM_TYPE, "LOGS"),
            (DATA_STREAM_DATASET, "app"),
            (DATA_STREAM_NAMESPACE, namespace),
        ]))
    };
    let valid = |namespace: &str| {
        ElasticsearchSinkConfig::validate(&base(&[
            (DATA_STREAM_TYPE, "LOGS"),
            (DATA_STREAM_DATASET, "app"),
            (DATA_STREAM_NAMESPACE, namespace),
        ]))
        .is_ok()
    };
    assert!(valid("prod"));
    assert!(valid("prod.${topic}"));
    assert_eq!(with("Prod"), vec![DATA_STREAM_NAMESPACE]);
    assert_eq!(with("a-b"), vec![DATA_STREAM_NAMESPACE]);
}

#[test]
fn validate_rejects_upsert_into_data_stream() {
    assert_eq!(
        issue_keys(&base(&[
            (DATA_STREAM_TYPE, "logs"),
            (DATA_STREAM_DATASET, "app"),
            (WRITE_METHOD, "upsert"),
        ])),
        vec![WRITE_METHOD]
    );
}

#[test]
fn validate_rejects_delete_into_data_stream() {
    assert_eq!(
        issue_keys(&base(&[
            (DATA_STREAM_TYPE, "METRICS"),
            (DATA_STREAM_DATASET, "app"),
            (BEHAVIOR_ON_NULL_VALUES, "delete"),
        ])),
        vec![BEHAVIOR_ON_NULL_VALUES]
    );
}

#[test]
fn validate_rejects_external_version_with_upsert() {
    assert_eq!(
        issue_keys(&base(&[
            (EXTERNAL_VERSION_HEADER, "v"),
            (WRITE_METHOD, "upsert")
        ])),
        vec![EXTERNAL_VERSION_HEADER]
    );
}

#[test]
fn validate_rejects_external_version_with_data_streams() {
    assert_eq!(
        issue_keys(&base(&[
            (EXTERNAL_VERSION_HEADER, "v"),
            (DATA_STREAM_TYPE, "LOGS"),
            (DATA_STREAM_DATASET, "app"),
        ])),
        vec![EXTERNAL_VERSION_HEADER]
    );
}

#[test]
fn conversion_and_logging_defaults_are_confluents() {
    let config = ElasticsearchSinkConfig::validate(&base(&[])).unwrap();
    assert!(config.compact_map_entries);
    assert_eq!(config.external_version_header, None);
    assert!(!config.log_sensitive_data && !config.flush_synchronously);
    let config = ElasticsearchSinkConfig::validate(&base(&[
        (COMPACT_MAP_ENTRIES, "false"),
        (EXTERNAL_VERSION_HEADER, "version"),
        (LOG_SENSITIVE_DATA, "true"),
        (FLUSH_SYNCHRONOUSLY, "true"),
    ]))
    .unwrap();
    assert!(!config.compact_map_entries && config.log_sensitive_data);
    assert_eq!(config.external_version_header.as_deref(), Some("version"));
}

#[test]
fn per_topic_overrides() {
    let config = ElasticsearchSinkConfig::validate(&base(&[
        (TOPIC_KEY_IGNORE, "a, b"),
        (TOPIC_SCHEMA_IGNORE, "c"),
    ]))
    .unwrap();
    assert!(config.ignores_key("a") && config.ignores_key("b") && !config.ignores_key("c"));
    assert!(config.ignores_schema("c") && !config.ignores_schema("a"));
}
