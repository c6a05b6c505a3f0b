//! Index and get a document on the local OpenSearch through its Elasticsearch-compatible API.

use serde_json::{Value, json};
use tests::{START_HINT, Services, http_client, unique_name};

#[tokio::test]
async fn index_and_get_a_document() {
    let base = Services::from_env().elasticsearch_url;
    let http = http_client();
    let health = http
        .get(format!("{base}/_cluster/health"))
        .send()
        .await
        .unwrap_or_else(|error| {
            panic!("OpenSearch at {base} is unreachable ({error}); {START_HINT}")
        });
    assert!(health.status().is_success(), "health: {}", health.status());

    let index = unique_name("harness");
    let document = json!({"name": "gateway", "count": 3});
    let put = http
        .put(format!("{base}/{index}/_doc/1?refresh=true"))
        .json(&document)
        .send()
        .await
        .expect("index request");
    assert_eq!(
        put.status().as_u16(),
        201,
        "{}",
        put.text().await.unwrap_or_default()
    );

    let got: Value = http
        .get(format!("{base}/{index}/_doc/1"))
        .send()
        .await
        .expect("get request")
        .json()
        .await
        .expect("json body");
    assert_eq!(got["found"], json!(true));
    assert_eq!(got["_source"], document);

    let deleted = http
        .delete(format!("{base}/{index}"))
        .send()
        .await
        .expect("delete index");
    assert!(deleted.status().is_success());
}
