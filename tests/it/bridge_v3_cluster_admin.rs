//! Confluent REST v3 cluster administration against the real cluster A (StandardAuthorizer,
//! KRaft): the cluster's controller from DescribeCluster, ACLs (list with filters, create,
//! batch create, delete by filter) and broker configs, cluster-wide and per broker (list,
//! get, set, reset, batch alter). Every ACL names a topic of this test's own, and every
//! config change is reset, so the shared cluster is left as it was.

use axum::http::{Method, StatusCode};
use bridge::Flavor;
use serde_json::{Value, json};
use tests::unique_name;

use crate::bridge_common::{Bridge, Reply};

const JSON_CT: &str = "application/json";

async fn cluster_id(bridge: &Bridge) -> String {
    let clusters = bridge.get("/v3/clusters").await;
    assert_eq!(clusters.status, StatusCode::OK, "{clusters:?}");
    clusters.body["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn names(list: &Reply, field: &str) -> Vec<String> {
    list.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{list:?}"))
        .iter()
        .map(|item| item[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn cluster_links_name_a_real_controller_and_only_served_resources() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let id = cluster_id(&bridge).await;
    let cluster = bridge.get(&format!("/v3/clusters/{id}")).await;
    assert_eq!(cluster.status, StatusCode::OK, "{cluster:?}");
    let controller = cluster.body["controller"]["related"].as_str().unwrap();
    let broker_path = controller.split("bridge.test:8082").nth(1).unwrap();
    let broker = bridge.get(broker_path).await;
    assert_eq!(broker.status, StatusCode::OK, "{controller}: {broker:?}");
    // Every link the cluster gives answers.
    for link in [
        "acls",
        "brokers",
        "broker_configs",
        "consumer_groups",
        "topics",
    ] {
        let url = cluster.body[link]["related"].as_str().unwrap();
        let path = url.split("bridge.test:8082").nth(1).unwrap();
        let answer = bridge.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{link}: {answer:?}");
    }
    assert!(
        cluster.body.get("partition_reassignments").is_none(),
        "{cluster:?}"
    );
}

#[tokio::test]
async fn acls_are_listed_created_and_deleted() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let id = cluster_id(&bridge).await;
    let topic = unique_name("acl_topic");
    let base = format!("/v3/clusters/{id}/acls");
    let acl = |principal: &str, operation: &str| {
        json!({"resource_type": "TOPIC", "resource_name": topic, "pattern_type": "LITERAL",
               "principal": principal, "host": "*", "operation": operation, "permission": "ALLOW"})
    };

    let created = bridge
        .post(&base, JSON_CT, &acl("User:alice", "READ"))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let batch = json!({"data": [acl("User:bob", "WRITE"), acl("User:carol", "DESCRIBE")]});
    let created = bridge.post(&format!("{base}:batch"), JSON_CT, &batch).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");

    let listed = bridge
        .get(&format!("{base}?resource_type=TOPIC&resource_name={topic}"))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{listed:?}");
    assert_eq!(listed.body["kind"], "KafkaAclList");
    assert_eq!(
        names(&listed, "principal"),
        ["User:alice", "User:bob", "User:carol"]
    );
    let alice = &listed.body["data"][0];
    assert_eq!(alice["kind"], "KafkaAcl");
    assert_eq!(alice["cluster_id"], json!(id));
    assert_eq!(alice["operation"], "READ");
    assert_eq!(alice["permission"], "ALLOW");
    assert!(
        alice["metadata"]["self"]
            .as_str()
            .unwrap()
            .contains("principal=User%3Aalice")
    );
    let bob_only = bridge
        .get(&format!("{base}?resource_name={topic}&principal=User:bob"))
        .await;
    assert_eq!(names(&bob_only, "operation"), ["WRITE"]);

    // Bad input: 400 in the v3 error shape, nothing created.
    let bad = bridge.post(&base, JSON_CT, &acl("User:dave", "FLY")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
    assert_eq!(bad.body["error_code"], 400, "{bad:?}");
    let any = bridge.post(&base, JSON_CT, &acl("User:dave", "ANY")).await;
    assert_eq!(any.status, StatusCode::BAD_REQUEST, "{any:?}");
    let unfiltered = bridge.call(Method::DELETE, &base, None, None).await;
    assert_eq!(unfiltered.status, StatusCode::BAD_REQUEST, "{unfiltered:?}");
    // A malformed query gets the error body too, not axum's plain text.
    let twice = bridge
        .get(&format!("{base}?resource_type=TOPIC&resource_type=GROUP"))
        .await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST, "{twice:?}");
    assert_eq!(twice.body["error_code"], 400, "{twice:?}");
    // An empty enum value is not ANY.
    let empty = bridge.get(&format!("{base}?pattern_type=")).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{empty:?}");

    let deleted = bridge
        .call(
            Method::DELETE,
            &format!("{base}?resource_type=TOPIC&resource_name={topic}&principal=User:alice"),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{deleted:?}");
    assert_eq!(names(&deleted, "principal"), ["User:alice"]);
    let deleted = bridge
        .call(
            Method::DELETE,
            &format!("{base}?resource_type=TOPIC&resource_name={topic}"),
            None,
            None,
        )
        .await;
    assert_eq!(names(&deleted, "principal"), ["User:bob", "User:carol"]);
    let listed = bridge
        .get(&format!("{base}?resource_type=TOPIC&resource_name={topic}"))
        .await;
    assert_eq!(listed.body["data"], json!([]), "{listed:?}");
}

fn value_of(list: &Reply, name: &str) -> Option<Value> {
    list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == json!(name))
        .map(|c| c["value"].clone())
}

#[tokio::test]
async fn broker_configs_are_read_set_and_reset() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let id = cluster_id(&bridge).await;
    let brokers = bridge.get(&format!("/v3/clusters/{id}/brokers")).await;
    let broker = brokers.body["data"][0]["broker_id"].as_i64().unwrap();
    // A key that is dynamic both cluster-wide and per broker, and harmless to change.
    let key = "log.cleaner.backoff.ms";

    // One broker: every config with its source and synonyms.
    let base = format!("/v3/clusters/{id}/brokers/{broker}/configs");
    let list = bridge.get(&base).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    assert_eq!(list.body["kind"], "KafkaBrokerConfigList");
    let one = bridge.get(&format!("{base}/{key}")).await;
    assert_eq!(one.status, StatusCode::OK, "{one:?}");
    assert_eq!(one.body["kind"], "KafkaBrokerConfig");
    assert_eq!(one.body["broker_id"], json!(broker));
    assert_eq!(one.body["source"], "DEFAULT_CONFIG", "{one:?}");
    let put = bridge
        .call(
            Method::PUT,
            &format!("{base}/{key}"),
            Some(JSON_CT),
            Some(&json!({"value": "15001"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{put:?}");
    let one = bridge.get(&format!("{base}/{key}")).await;
    assert_eq!(one.body["value"], "15001", "{one:?}");
    assert_eq!(one.body["source"], "DYNAMIC_BROKER_CONFIG", "{one:?}");
    assert!(
        one.body["synonyms"].as_array().unwrap().len() >= 2,
        "{one:?}"
    );
    let reset = bridge
        .call(Method::DELETE, &format!("{base}/{key}"), None, None)
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{reset:?}");
    let one = bridge.get(&format!("{base}/{key}")).await;
    assert_eq!(one.body["source"], "DEFAULT_CONFIG", "{one:?}");

    // Cluster-wide defaults, through the batch alter.
    let cluster = format!("/v3/clusters/{id}/broker-configs");
    let altered = bridge
        .post(
            &format!("{cluster}:alter"),
            JSON_CT,
            &json!({"data": [{"name": key, "value": "15002"}]}),
        )
        .await;
    assert_eq!(altered.status, StatusCode::NO_CONTENT, "{altered:?}");
    let list = bridge.get(&cluster).await;
    assert_eq!(list.body["kind"], "KafkaClusterConfigList");
    assert_eq!(value_of(&list, key), Some(json!("15002")), "{list:?}");
    let one = bridge.get(&format!("{cluster}/{key}")).await;
    assert_eq!(one.body["kind"], "KafkaClusterConfig");
    assert_eq!(one.body["config_type"], "BROKER");
    assert_eq!(
        one.body["source"], "DYNAMIC_DEFAULT_BROKER_CONFIG",
        "{one:?}"
    );
    let reset = bridge
        .post(
            &format!("{cluster}:alter"),
            JSON_CT,
            &json!({"data": [{"name": key, "operation": "DELETE"}]}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{reset:?}");
    let list = bridge.get(&cluster).await;
    assert_eq!(value_of(&list, key), None, "{list:?}");

    // Mistakes: a missing key, a broker that does not exist, a value Kafka refuses.
    let missing = bridge.get(&format!("{cluster}/{key}")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{missing:?}");
    let nobody = bridge
        .get(&format!("/v3/clusters/{id}/brokers/987654/configs"))
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND, "{nobody:?}");
    let refused = bridge
        .call(
            Method::PUT,
            &format!("{base}/{key}"),
            Some(JSON_CT),
            Some(&json!({"value": "soon"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
}
