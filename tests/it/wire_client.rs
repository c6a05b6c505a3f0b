//! broker-core's native protocol client on cluster A's SASL_SSL listener: TLS with the
//! local CA, SASL PLAIN and SCRAM-SHA-256/512 logins, a real DescribeAcls answered through
//! each, and a wrong password as a clear, definite authentication error.

use std::time::Duration;

use broker_core::ClusterConfig;
use broker_core::wire::{
    AclBinding, AclBindingFilter, AclOperation, AclPermission, PatternType, ResourceType,
    WireClient, WireError,
};
use tests::{SaslSslListener, Services, unique_name};

use crate::mirror_acls::wire_client;

fn client(config: &ClusterConfig) -> WireClient {
    let cluster = config.validate("test").expect("valid SASL_SSL config");
    WireClient::new(&cluster, Duration::from_secs(10)).expect("supported settings")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_and_scram_logins_describe_acls_over_tls() {
    let services = Services::from_env();
    let listener = Services::sasl_ssl();
    // An ACL made over PLAINTEXT must be visible through every SASL_SSL login.
    let admin = wire_client(&services.kafka_bootstrap);
    let binding = AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: unique_name("wire_acl"),
        pattern_type: PatternType::Literal,
        principal: format!("User:{}", unique_name("wire")),
        host: "*".to_owned(),
        operation: AclOperation::Describe,
        permission: AclPermission::Allow,
    };
    let created = admin
        .create_acls(std::slice::from_ref(&binding))
        .await
        .expect("create acl");
    assert!(created[0].is_ok(), "{created:?}");
    let filter = AclBindingFilter::exact(&binding);

    for (name, config) in [
        ("PLAIN", listener.plain()),
        ("SCRAM-SHA-256", listener.scram("SCRAM-SHA-256")),
        ("SCRAM-SHA-512", listener.scram("SCRAM-SHA-512")),
    ] {
        let client = client(&config);
        let seen = client
            .describe_acls(&filter)
            .await
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(seen, vec![binding.clone()], "{name}");
        // The connection is reused for a second request.
        assert_eq!(
            client.describe_acls(&filter).await.expect("again").len(),
            1,
            "{name}"
        );
    }
    admin.delete_acls(&[filter]).await.expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_clear_authentication_error() {
    let listener: SaslSslListener = Services::sasl_ssl();
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let user = if mechanism == "PLAIN" {
            &listener.plain_user
        } else {
            &listener.scram_user
        };
        let client = client(&listener.cluster(mechanism, user, "not-the-password"));
        let error = tokio::time::timeout(Duration::from_secs(30), client.connect())
            .await
            .expect("a rejected login answers, it does not hang")
            .expect_err("wrong password is rejected");
        assert!(
            matches!(error, WireError::Authentication { .. }),
            "{mechanism}: {error:?}"
        );
        assert!(!error.is_retriable(), "{mechanism}");
        let message = error.to_string();
        assert!(
            message.contains(mechanism) && message.contains("authentication"),
            "{message}"
        );
        assert!(message.contains("SASL_AUTHENTICATION_FAILED"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_ca_and_plaintext_port_fail_clearly() {
    let listener = Services::sasl_ssl();
    // The system bundle does not include the local test CA: any other PEM cert will do as
    // the "wrong" CA, so use a freshly generated one.
    let other_ca = rcgen::generate_simple_self_signed(vec!["elsewhere".to_owned()]).expect("cert");
    let mut config = listener.plain();
    config.properties.remove("ssl.ca.location");
    config
        .properties
        .insert("ssl.ca.pem".to_owned(), other_ca.cert.pem());
    let error = client(&config)
        .connect()
        .await
        .expect_err("untrusted broker certificate");
    assert!(matches!(error, WireError::Tls { .. }), "{error:?}");

    // TLS spoken to the PLAINTEXT listener: an error, not a hang or a panic.
    let services = Services::from_env();
    let mut config = listener.plain();
    config.bootstrap_servers = services.kafka_bootstrap.clone();
    let error = tokio::time::timeout(Duration::from_secs(30), client(&config).connect())
        .await
        .expect("answers within the timeout")
        .expect_err("not a TLS listener");
    assert!(
        !matches!(error, WireError::Authentication { .. }),
        "{error:?}"
    );
}
