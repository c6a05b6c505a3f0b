//! A small native Kafka protocol client, for the admin APIs that librdkafka (and so
//! rust-rdkafka) does not expose: ACLs, committed offsets of many groups in one request
//! per coordinator, IncrementalAlterConfigs. Messages are encoded and decoded by the
//! `kafka-protocol` crate; this module adds the transport around them.
//!
//! - [`settings`]: the cluster's librdkafka properties (`security.protocol`,
//!   `sasl.mechanism(s)`, `sasl.username/password`, `ssl.ca.location`, ...) read into typed
//!   settings; what this client cannot do is a [`WireError::Unsupported`] naming the key.
//! - `connection`: framing, correlation ids, ApiVersions negotiation.
//! - `tls`: rustls with the configured CA and optional client certificate.
//! - `sasl`: SaslHandshake v1 + SaslAuthenticate with PLAIN and SCRAM-SHA-256/512.
//! - [`client`]: bootstrap, one connection, reconnect once, timeouts.
//! - [`acls`]: DescribeAcls / CreateAcls / DeleteAcls with typed bindings.
//! - [`nodes`]: a connection per broker id next to the bootstrap one, addresses from
//!   Metadata or FindCoordinator, for requests that must reach one broker.
//! - `coordinator`: FindCoordinator for groups (batched v4+, one by one before).
//! - [`offsets`]: committed offsets of many groups, one OffsetFetch per coordinator.
//! - [`configs`]: IncrementalAlterConfigs with typed resources and operations.
//! - [`describe_configs`]: DescribeConfigs with synonyms, broker defaults included.
//! - [`offset_delete`]: OffsetDelete, a group's commits removed on some partitions.
//! - [`offset_commit`]: OffsetCommit for memberless groups, many groups per call.
//!
//! Adding an API is: a typed wrapper next to [`acls`] calling `WireClient::send` (any
//! broker) or `send_to` (one node) with the `kafka-protocol` request; versions are
//! negotiated per connection.

pub mod acls;
pub mod client;
pub mod configs;
mod connection;
mod coordinator;
pub mod describe_configs;
pub mod error;
pub mod nodes;
pub mod offset_commit;
pub mod offset_delete;
pub mod offsets;
mod sasl;
pub mod settings;
mod tls;

pub use acls::{
    AclBinding, AclBindingFilter, AclOperation, AclPermission, PatternType, ResourceType,
};
pub use client::WireClient;
pub use configs::{ConfigChanges, ConfigOperation, ConfigResource};
pub use describe_configs::DescribedConfig;
pub use error::{KafkaCode, WireError};
pub use nodes::BrokerAddress;
pub use offsets::{CommittedOffset, GroupOffsets};
pub use settings::WireSettings;
