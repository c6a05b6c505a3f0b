//! Topics a source task writes beside its records, such as Debezium's schema history:
//! the task describes the topic and its client overrides in plain types, the runtime owns
//! the Kafka clients (built from the worker's properties, SASL/TLS included) and creates
//! the topic through its own admin path.
//!
//! Record topics are not side topics: the runtime creates those itself, with KIP-158's
//! `topic.creation.*` rules, before the first record goes to them.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::error::ConnectError;

/// One client property a connector sets on top of the worker's, e.g.
/// `schema.history.internal.producer.sasl.username` → `sasl.username`. Properties are
/// librdkafka's, as for `producer.override.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOverride {
    /// The connector config key it came from, named in errors.
    pub key: String,
    pub property: String,
    pub value: String,
}

/// What a task asks of the side-topic clients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideTopicClients {
    /// A bootstrap server list the connector names for its side topics, with the key that
    /// holds it (`schema.history.internal.kafka.bootstrap.servers`). Side topics live on
    /// the worker's cluster: a list that shares no address with the worker's
    /// `bootstrap.servers` is refused with a config error naming the key.
    pub bootstrap_servers: Option<(String, String)>,
    /// Set on the producer (and on the admin client that creates the topic) after the
    /// worker's properties, so they win.
    pub producer_overrides: Vec<ClientOverride>,
}

/// How a side topic is created when it does not exist; an existing topic is used as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSideTopic {
    pub name: String,
    pub partitions: i32,
    /// `-1`: the broker's `default.replication.factor`.
    pub replication_factor: i32,
    /// Topic configs handed to the broker, e.g. `cleanup.policy`.
    pub configs: BTreeMap<String, String>,
}

/// Opens side-topic clients for one task. The runtime gives every source task one in
/// [`SourceTaskContext::side_topics`](crate::SourceTaskContext::side_topics).
pub trait SideTopics: Send + Sync + std::fmt::Debug {
    /// Builds the clients; a refused bootstrap list or override is a config error naming
    /// its key.
    fn open<'a>(
        &'a self,
        clients: &'a SideTopicClients,
    ) -> BoxFuture<'a, Result<Arc<dyn SideTopicWriter>, ConnectError>>;
}

/// Writes side topics with the clients [`SideTopics::open`] built.
pub trait SideTopicWriter: Send + Sync + std::fmt::Debug {
    /// Creates `topic` unless it exists (looked up first, so no CREATE permission is needed
    /// for a topic that exists; "already exists" from a race counts as success).
    fn create_if_missing<'a>(
        &'a self,
        topic: &'a NewSideTopic,
    ) -> BoxFuture<'a, Result<(), ConnectError>>;
    /// Appends one record and returns once Kafka acknowledged it (`acks=all`).
    fn append<'a>(
        &'a self,
        topic: &'a str,
        key: Option<&'a [u8]>,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<(), ConnectError>>;
}
