//! Confluent REST v3 administration through the bridge's HTTP layer against the real
//! cluster A: topic configs, partition count, partitions and replicas, brokers, and the
//! description of consumer groups with their members and assignments.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use bridge::Flavor;
use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::bridge_common::{Bridge, Reply, TEXT, V2};

const JSON_CT: &str = "application/json";

async fn cluster_id(bridge: &Bridge) -> String {
    let clusters = bridge.get("/v3/clusters").await;
    assert_eq!(clusters.status, StatusCode::OK, "{clusters:?}");
    clusters.body["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn config<'a>(list: &'a Reply, name: &str) -> &'a Value {
    list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == json!(name))
        .unwrap_or_else(|| panic!("no config {name} in {list:?}"))
}

#[tokio::test]
async fn topic_configs_are_read_set_reset_and_altered() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let id = cluster_id(&bridge).await;
    let topic = unique_name("v3_configs");
    let created = bridge
        .post(&format!("/v3/clusters/{id}/topics"), JSON_CT,
            &json!({"topic_name": topic, "partitions_count": 1, "configs": [{"name": "retention.ms", "value": "60000"}]}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let base = format!("/v3/clusters/{id}/topics/{topic}/configs");

    let list = bridge.get(&base).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    assert_eq!(list.body["kind"], json!("KafkaTopicConfigList"));
    let retention = config(&list, "retention.ms");
    assert_eq!(retention["value"], json!("60000"));
    assert_eq!(retention["source"], json!("DYNAMIC_TOPIC_CONFIG"));
    assert_eq!(retention["is_default"], json!(false));
    assert_eq!(retention["topic_name"], json!(topic));
    assert_eq!(config(&list, "cleanup.policy")["value"], json!("delete"));

    // Setting one key keeps the others (the legacy AlterConfigs replaces the whole set).
    let put = bridge
        .call(
            Method::PUT,
            &format!("{base}/cleanup.policy"),
            Some(JSON_CT),
            Some(&json!({"value": "compact"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{put:?}");
    let policy = bridge.get(&format!("{base}/cleanup.policy")).await;
    assert_eq!(policy.status, StatusCode::OK, "{policy:?}");
    assert_eq!(policy.body["kind"], json!("KafkaTopicConfig"));
    assert_eq!(policy.body["value"], json!("compact"));
    let list = bridge.get(&base).await;
    assert_eq!(config(&list, "retention.ms")["value"], json!("60000"));

    // Reset to the default.
    let reset = bridge
        .call(Method::DELETE, &format!("{base}/retention.ms"), None, None)
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{reset:?}");
    let retention = bridge.get(&format!("{base}/retention.ms")).await;
    assert_eq!(retention.body["is_default"], json!(true), "{retention:?}");
    assert_eq!(retention.body["value"], json!("604800000"));
    assert_eq!(
        bridge.get(&format!("{base}/cleanup.policy")).await.body["value"],
        json!("compact")
    );

    // Batch: one SET and one DELETE in one request.
    let alter = bridge
        .post(
            &format!("{base}:alter"),
            JSON_CT,
            &json!({"data": [
                {"name": "max.message.bytes", "value": "200000"},
                {"name": "cleanup.policy", "operation": "DELETE"},
            ]}),
        )
        .await;
    assert_eq!(alter.status, StatusCode::NO_CONTENT, "{alter:?}");
    let list = bridge.get(&base).await;
    assert_eq!(config(&list, "max.message.bytes")["value"], json!("200000"));
    assert_eq!(config(&list, "cleanup.policy")["value"], json!("delete"));
    // validate_only changes nothing.
    let dry = bridge
        .post(
            &format!("{base}:alter"),
            JSON_CT,
            &json!({"data": [{"name": "max.message.bytes", "value": "300000"}], "validate_only": true}),
        )
        .await;
    assert_eq!(dry.status, StatusCode::NO_CONTENT, "{dry:?}");
    assert_eq!(
        bridge.get(&format!("{base}/max.message.bytes")).await.body["value"],
        json!("200000")
    );

    // All topics' configs include this one's.
    let all = bridge
        .get(&format!("/v3/clusters/{id}/topics/-/configs"))
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(
        all.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["topic_name"] == json!(topic)
                && c["name"] == json!("max.message.bytes")
                && c["value"] == json!("200000"))
    );

    // Errors: each a 4xx in Confluent's shape.
    let unknown = bridge.get(&format!("{base}/no.such.config")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{unknown:?}");
    assert_eq!(unknown.body["error_code"], json!(404));
    let bad_value = bridge
        .call(
            Method::PUT,
            &format!("{base}/retention.ms"),
            Some(JSON_CT),
            Some(&json!({"value": "soon"})),
        )
        .await;
    assert_eq!(bad_value.status, StatusCode::BAD_REQUEST, "{bad_value:?}");
    let no_value = bridge
        .post(
            &format!("{base}:alter"),
            JSON_CT,
            &json!({"data": [{"name": "retention.ms"}]}),
        )
        .await;
    assert_eq!(no_value.status, StatusCode::BAD_REQUEST, "{no_value:?}");
    let typo = bridge
        .call(
            Method::PUT,
            &format!("{base}/retention.ms"),
            Some(JSON_CT),
            Some(&json!({"valeu": "1"})),
        )
        .await;
    // Like every malformed body of the bridge: 422 naming the field.
    assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY, "{typo:?}");
    assert!(typo.body["message"].as_str().unwrap().contains("valeu"));
    let missing = bridge
        .get(&format!(
            "/v3/clusters/{id}/topics/{}/configs",
            unique_name("missing")
        ))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{missing:?}");
}

#[tokio::test]
async fn partitions_grow_and_are_described_with_replicas_and_brokers() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let id = cluster_id(&bridge).await;
    let topic = unique_name("v3_partitions");
    create_topic(&bridge.clients, &topic, 2).await;
    let url = format!("/v3/clusters/{id}/topics/{topic}");

    let grown = bridge
        .call(
            Method::PATCH,
            &url,
            Some(JSON_CT),
            Some(&json!({"partitions_count": 4})),
        )
        .await;
    assert_eq!(grown.status, StatusCode::OK, "{grown:?}");
    assert_eq!(grown.body["partitions_count"], json!(4));
    let shrink = bridge
        .call(
            Method::PATCH,
            &url,
            Some(JSON_CT),
            Some(&json!({"partitions_count": 1})),
        )
        .await;
    assert_eq!(shrink.status, StatusCode::BAD_REQUEST, "{shrink:?}");

    // Metadata follows the controller within moments.
    let started = Instant::now();
    let partitions = loop {
        let reply = bridge.get(&format!("{url}/partitions")).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        if reply.body["data"].as_array().unwrap().len() == 4 {
            break reply;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still not 4 partitions: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(partitions.body["kind"], json!("KafkaPartitionList"));
    let ids: Vec<&Value> = partitions.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["partition_id"])
        .collect();
    assert_eq!(ids, [&json!(0), &json!(1), &json!(2), &json!(3)]);

    let partition = bridge.get(&format!("{url}/partitions/3")).await;
    assert_eq!(partition.status, StatusCode::OK, "{partition:?}");
    assert_eq!(partition.body["kind"], json!("KafkaPartition"));
    let leader = partition.body["leader"]["related"].as_str().unwrap();
    let leader_id: i32 = leader.rsplit('/').next().unwrap().parse().unwrap();

    let replicas = bridge.get(&format!("{url}/partitions/3/replicas")).await;
    assert_eq!(replicas.status, StatusCode::OK, "{replicas:?}");
    let replica = &replicas.body["data"][0];
    assert_eq!(replica["broker_id"], json!(leader_id));
    assert_eq!(replica["is_leader"], json!(true));
    assert_eq!(replica["is_in_sync"], json!(true));
    let one = bridge
        .get(&format!("{url}/partitions/3/replicas/{leader_id}"))
        .await;
    assert_eq!(one.body["kind"], json!("KafkaReplica"), "{one:?}");
    assert_eq!(
        bridge
            .get(&format!("{url}/partitions/3/replicas/4242"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bridge.get(&format!("{url}/partitions/99")).await.status,
        StatusCode::NOT_FOUND
    );

    let brokers = bridge.get(&format!("/v3/clusters/{id}/brokers")).await;
    assert_eq!(brokers.status, StatusCode::OK, "{brokers:?}");
    assert_eq!(brokers.body["kind"], json!("KafkaBrokerList"));
    let broker = &brokers.body["data"][0];
    assert_eq!(broker["broker_id"], json!(leader_id));
    assert_eq!(broker["port"], json!(9092));
    let one = bridge
        .get(&format!("/v3/clusters/{id}/brokers/{leader_id}"))
        .await;
    assert_eq!(one.body["host"], broker["host"], "{one:?}");
    assert_eq!(
        bridge
            .get(&format!("/v3/clusters/{id}/brokers/4242"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn consumer_groups_are_described_with_members_and_assignments() {
    let bridge = Bridge::start(Flavor::Confluent).await;
    let id = cluster_id(&bridge).await;
    let topic = unique_name("v3_members");
    create_topic(&bridge.clients, &topic, 2).await;
    let records: Vec<Value> = (0..6)
        .map(|i| json!({"partition": i % 2, "value": format!("r{i}")}))
        .collect();
    let produced = bridge
        .post(
            &format!("/topics/{topic}"),
            TEXT,
            &json!({"records": records}),
        )
        .await;
    assert_eq!(produced.status, StatusCode::OK, "{produced:?}");

    // A subscribed instance joins the group on its first poll.
    let group = unique_name("v3_group");
    let created = bridge
        .post(
            &format!("/consumers/{group}"),
            V2,
            &json!({"name": "member", "format": "text", "auto.offset.reset": "earliest", "auto.commit.enable": "false"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{created:?}");
    let instance = format!("/consumers/{group}/instances/member");
    let subscribed = bridge
        .post(
            &format!("{instance}/subscription"),
            V2,
            &json!({"topics": [topic]}),
        )
        .await;
    assert_eq!(subscribed.status, StatusCode::NO_CONTENT, "{subscribed:?}");
    bridge.records_until(&instance, TEXT, 6).await;
    let commit = bridge
        .post(
            &format!("{instance}/offsets"),
            V2,
            &json!({"offsets": [{"topic": topic, "partition": 0, "offset": 0}]}),
        )
        .await;
    assert_eq!(commit.status, StatusCode::OK, "{commit:?}");

    let url = format!("/v3/clusters/{id}/consumer-groups/{group}");
    let described = bridge.get(&url).await;
    assert_eq!(described.status, StatusCode::OK, "{described:?}");
    assert_eq!(described.body["kind"], json!("KafkaConsumerGroup"));
    assert_eq!(described.body["state"], json!("STABLE"));
    assert_eq!(described.body["is_simple"], json!(false));
    assert_eq!(described.body["partition_assignor"], json!("range"));

    let consumers = bridge.get(&format!("{url}/consumers")).await;
    assert_eq!(consumers.status, StatusCode::OK, "{consumers:?}");
    let members = consumers.body["data"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{consumers:?}");
    let consumer_id = members[0]["consumer_id"].as_str().unwrap().to_owned();
    let client_id = members[0]["client_id"].clone();
    assert!(!consumer_id.is_empty());
    assert_eq!(
        bridge
            .get(&format!("{url}/consumers/{consumer_id}"))
            .await
            .body["client_id"],
        client_id
    );
    let assignments = bridge
        .get(&format!("{url}/consumers/{consumer_id}/assignments"))
        .await;
    assert_eq!(assignments.status, StatusCode::OK, "{assignments:?}");
    let assigned: Vec<(Value, Value)> = assignments.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["topic_name"].clone(), a["partition_id"].clone()))
        .collect();
    assert_eq!(
        assigned,
        [(json!(topic), json!(0)), (json!(topic), json!(1))]
    );

    // The lag names the member that reads the partition.
    let lag = bridge
        .get(&format!("{url}/lags/{topic}/partitions/0"))
        .await;
    assert_eq!(lag.status, StatusCode::OK, "{lag:?}");
    assert_eq!(lag.body["current_offset"], json!(1));
    assert_eq!(lag.body["log_end_offset"], json!(3));
    assert_eq!(lag.body["lag"], json!(2));
    assert_eq!(lag.body["consumer_id"], json!(consumer_id));
    assert_eq!(lag.body["client_id"], client_id);
    assert_eq!(
        bridge
            .get(&format!("{url}/lags/{topic}/partitions/1"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        bridge
            .get(&format!("{url}/consumers/no-such-member"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let unknown = bridge
        .get(&format!(
            "/v3/clusters/{id}/consumer-groups/{}",
            unique_name("nobody")
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{unknown:?}");
    assert_eq!(
        bridge
            .call(Method::DELETE, &instance, Some(V2), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

/// `[bridge] max_partitions_per_topic`: a create or a growth above it is refused with 400
/// before Kafka is asked, on v3 and on the v2 admin route; at the limit it is done.
#[tokio::test]
async fn partition_counts_above_the_configured_limit_are_refused() {
    let bridge = Bridge::with_config(bridge::BridgeConfig {
        max_partitions_per_topic: Some(3),
        ..bridge::BridgeConfig::default()
    })
    .await;
    let id = cluster_id(&bridge).await;
    let topic = unique_name("v3_limit");
    let too_many = bridge
        .post(
            &format!("/v3/clusters/{id}/topics"),
            JSON_CT,
            &json!({"topic_name": topic, "partitions_count": 4}),
        )
        .await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST, "{too_many:?}");
    assert!(
        too_many.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("max_partitions_per_topic")),
        "{too_many:?}"
    );
    assert!(
        bridge
            .get(&format!("/v3/clusters/{id}/topics/{topic}"))
            .await
            .status
            == StatusCode::NOT_FOUND,
        "the refused topic was created"
    );
    let created = bridge
        .post(
            &format!("/v3/clusters/{id}/topics"),
            JSON_CT,
            &json!({"topic_name": topic, "partitions_count": 2}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let url = format!("/v3/clusters/{id}/topics/{topic}");
    let grow = |count: i32| {
        let url = url.clone();
        let bridge = &bridge;
        async move {
            bridge
                .call(
                    Method::PATCH,
                    &url,
                    Some(JSON_CT),
                    Some(&json!({"partitions_count": count})),
                )
                .await
        }
    };
    let refused = grow(4).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
    let grown = grow(3).await;
    assert_eq!(grown.status, StatusCode::OK, "{grown:?}");
    let v2 = bridge
        .post(
            "/admin/topics",
            JSON_CT,
            &json!({"topic_name": unique_name("v2_limit"), "partitions_count": 5}),
        )
        .await;
    assert_eq!(v2.status, StatusCode::BAD_REQUEST, "{v2:?}");
}
