//! Topic ACL sync A → B against the real clusters (both run StandardAuthorizer, see
//! `scripts/services`): ACLs made on A with the native client for random principals, the
//! mirror running, and exactly MM2's copies appearing on B under the remote topic name.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use broker_core::ClusterConfig;
use broker_core::telemetry::MetricsRegistry;
use broker_core::wire::{
    AclBinding, AclBindingFilter, AclOperation, AclPermission, PatternType, ResourceType,
    WireClient,
};
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{RunningMirror, properties};

/// A native client for a PLAINTEXT cluster (User:ANONYMOUS, a super user there).
pub(crate) fn wire_client(bootstrap: &str) -> WireClient {
    let cluster = ClusterConfig::new(bootstrap)
        .validate("test")
        .expect("bootstrap from the environment is valid");
    WireClient::new(&cluster, Duration::from_secs(10))
        .expect("plaintext needs no unsupported setting")
}

fn topic_acl(
    topic: &str,
    pattern_type: PatternType,
    principal: &str,
    permission: AclPermission,
    operation: AclOperation,
) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: topic.to_owned(),
        pattern_type,
        principal: format!("User:{principal}"),
        host: "*".to_owned(),
        operation,
        permission,
    }
}

/// Every binding on `client` whose resource is exactly `name`, any pattern type.
async fn bindings_of(client: &WireClient, name: &str) -> BTreeSet<AclBinding> {
    let filter = AclBindingFilter {
        resource_name: Some(name.to_owned()),
        ..AclBindingFilter::resources(ResourceType::Any, PatternType::Any)
    };
    client
        .describe_acls(&filter)
        .await
        .expect("describe acls (is the authorizer configured? restart the clusters with scripts/services)")
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn literal_topic_acls_are_copied_with_mm2_rules() {
    let services = Services::from_env();
    let a_clients = kafka_clients(&services.kafka_bootstrap).await;
    kafka_clients(&services.kafka_b_bootstrap).await;
    let a = wire_client(&services.kafka_bootstrap);
    let b = wire_client(&services.kafka_b_bootstrap);
    let topic = unique_name("mirror_acls");
    create_topic(&a_clients, &topic, 1).await;

    let principal = |role: &str| unique_name(&format!("acl_{role}"));
    let (reader, writer, admin, denied, prefixed) = (
        principal("reader"),
        principal("writer"),
        principal("all"),
        principal("denied"),
        principal("prefixed"),
    );
    use AclOperation::{All, Read, Write};
    use AclPermission::{Allow, Deny};
    let literal = PatternType::Literal;
    let source_acls = vec![
        topic_acl(&topic, literal, &reader, Allow, Read),
        topic_acl(&topic, literal, &writer, Allow, Write),
        topic_acl(&topic, literal, &admin, Allow, All),
        topic_acl(&topic, literal, &denied, Deny, Read),
        topic_acl(&topic, PatternType::Prefixed, &prefixed, Allow, Read),
    ];
    let results = a.create_acls(&source_acls).await.expect("create acls on A");
    for (binding, result) in source_acls.iter().zip(&results) {
        assert!(result.is_ok(), "{binding}: {result:?}");
    }
    // Creating the same bindings again is a no-op, not an error.
    let again = a.create_acls(&source_acls).await.expect("create again");
    assert!(again.iter().all(Result::is_ok), "{again:?}");
    assert_eq!(
        bindings_of(&a, &topic).await.len(),
        5,
        "all five exist on A once"
    );

    let registry = MetricsRegistry::new();
    let mirror = RunningMirror::start_with_metrics(
        properties(&topic, "sync.topic.acls.interval.seconds = 1"),
        registry.clone(),
    );
    let remote = format!("A.{topic}");
    let expected: BTreeSet<AclBinding> = [
        topic_acl(&remote, literal, &reader, Allow, Read),
        topic_acl(&remote, literal, &admin, Allow, Read),
        topic_acl(&remote, literal, &denied, Deny, Read),
    ]
    .into_iter()
    .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = bindings_of(&b, &remote).await;
    while seen != expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        seen = bindings_of(&b, &remote).await;
    }
    assert_eq!(seen, expected, "B has exactly MM2's copies");
    // A few more passes: still exactly these (idempotent, nothing else appears).
    tokio::time::sleep(Duration::from_secs(3)).await;
    mirror.stop().await;
    assert_eq!(bindings_of(&b, &remote).await, expected);
    let metrics = registry.render().expect("metrics render");
    assert!(
        metrics.contains("kafka_gateway_mirror_acls_created_total{flow=\"A->B\"} 3"),
        "three bindings created once, never again:\n{metrics}"
    );
    let prefixes = AclBindingFilter {
        principal: Some(format!("User:{prefixed}")),
        ..AclBindingFilter::resources(ResourceType::Any, PatternType::Any)
    };
    assert!(
        b.describe_acls(&prefixes)
            .await
            .expect("describe")
            .is_empty(),
        "the prefixed binding is not copied"
    );
    let writes = AclBindingFilter {
        principal: Some(format!("User:{writer}")),
        ..AclBindingFilter::resources(ResourceType::Any, PatternType::Any)
    };
    assert!(
        b.describe_acls(&writes).await.expect("describe").is_empty(),
        "ALLOW WRITE is not copied"
    );

    // Clean up, which also exercises DeleteAcls: the deleted bindings are reported.
    for (client, name, count) in [(&a, &topic, 4), (&b, &remote, 3)] {
        let filter = AclBindingFilter {
            resource_name: Some(name.clone()),
            ..AclBindingFilter::resources(ResourceType::Topic, PatternType::Literal)
        };
        let deleted = client.delete_acls(&[filter]).await.expect("delete acls");
        assert_eq!(deleted.len(), 1);
        assert_eq!(
            deleted[0].as_ref().map(Vec::len).ok(),
            Some(count),
            "{deleted:?}"
        );
    }
    let prefixed_filter = AclBindingFilter::exact(&source_acls[4]);
    a.delete_acls(&[prefixed_filter])
        .await
        .expect("delete prefixed");
    assert!(bindings_of(&a, &topic).await.is_empty());
}

/// A target without an authorizer (a throwaway broker, configured like the shared ones
/// before they got one) answers `SECURITY_DISABLED`: ACL sync turns itself off and the
/// flow keeps copying records.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn target_without_authorizer_turns_acl_sync_off_not_the_mirror() {
    let services = Services::from_env();
    let a_clients = kafka_clients(&services.kafka_bootstrap).await;
    let a = wire_client(&services.kafka_bootstrap);
    let target = tests::throwaway_broker::ThrowawayBroker::start().await;
    let plain_target = wire_client(&target.bootstrap());
    let error = plain_target
        .describe_acls(&AclBindingFilter::resources(
            ResourceType::Topic,
            PatternType::Literal,
        ))
        .await
        .expect_err("no authorizer on the throwaway broker");
    assert_eq!(
        error.code(),
        Some(broker_core::wire::KafkaCode::SECURITY_DISABLED),
        "{error}"
    );
    assert!(error.to_string().contains("SECURITY_DISABLED"), "{error}");
    assert!(!error.is_retriable());

    let topic = unique_name("mirror_acls_off");
    create_topic(&a_clients, &topic, 1).await;
    let acl = topic_acl(
        &topic,
        PatternType::Literal,
        &unique_name("acl_reader"),
        AclPermission::Allow,
        AclOperation::Read,
    );
    assert!(
        a.create_acls(std::slice::from_ref(&acl))
            .await
            .expect("create")[0]
            .is_ok()
    );
    let producer = a_clients.producer().expect("producer");
    crate::mirror_common::produce_numbered(&producer, &topic, 0..20, 1).await;

    let text = format!(
        "clusters = A, B\nA.bootstrap.servers = {}\nB.bootstrap.servers = {}\n\
         A->B.enabled = true\nA->B.topics = {topic}\nreplication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\nrefresh.topics.interval.seconds = 1\n\
         sync.topic.acls.interval.seconds = 1\nreplication.group.id = __mirror_test.{topic}\n",
        services.kafka_bootstrap,
        target.bootstrap(),
    );
    let config = mirror::parse_properties(&text).expect("valid properties");
    let mirror = RunningMirror::start(config);
    let target_clients = target.clients();
    let remote = format!("A.{topic}");
    let seen = tokio::task::spawn_blocking(move || {
        crate::mirror_common::read_all(&target_clients, &remote, 20, Duration::from_secs(60), false)
    })
    .await
    .expect("reader");
    assert_eq!(
        seen.len(),
        20,
        "records are copied although ACL sync cannot run"
    );
    // Several ACL intervals later the mirror still runs and stops cleanly.
    tokio::time::sleep(Duration::from_secs(3)).await;
    mirror.stop().await;
    a.delete_acls(&[AclBindingFilter::exact(&acl)])
        .await
        .expect("clean up");
}
