//! The native client of one cluster: bootstrap from `bootstrap.servers`, keep one
//! authenticated connection to whichever broker answered first, and send requests on it.
//!
//! Requests that any broker can serve (ACL admin: KRaft brokers forward it to the
//! controller) go to that connection. A connection that broke (I/O error, timeout, garbled
//! frame) is dropped; an I/O error on a connection that had worked before is retried once
//! on a new one, because brokers close idle connections (`connections.max.idle.ms`,
//! 10 min) and a periodic caller would otherwise fail every other time.
//!
//! Requests for a specific broker (a group coordinator for OffsetFetch, a broker's own
//! configs) go through [`super::nodes`]: one connection per node id next to this one, with
//! the same settings, the same reconnect-once rule and the same cancel safety.

use std::time::Duration;

use kafka_protocol::protocol::Request;
use rand::Rng;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::connection::{BrokerStream, Connection};
use super::error::WireError;
use super::nodes::Nodes;
use super::settings::WireSettings;
use crate::config::ValidatedCluster;

/// A Kafka protocol client for one cluster. Cheap to keep, safe to share (`&self`
/// methods); requests from concurrent callers queue on the single connection.
#[derive(Debug)]
pub struct WireClient {
    settings: WireSettings,
    connection: Mutex<Option<Connection>>,
    pub(super) nodes: Nodes,
}

/// Where a connection that is missing or broken is (re)opened.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    /// Any bootstrap server.
    Any,
    /// One broker's advertised address.
    Address(&'a str),
}

impl WireClient {
    /// A client for `cluster`; fails at once on settings it cannot honour. No I/O.
    pub fn new(cluster: &ValidatedCluster, request_timeout: Duration) -> Result<Self, WireError> {
        Ok(Self::from_settings(WireSettings::from_cluster(
            cluster,
            request_timeout,
        )?))
    }

    pub fn from_settings(settings: WireSettings) -> Self {
        Self {
            settings,
            connection: Mutex::new(None),
            nodes: Nodes::default(),
        }
    }

    pub fn settings(&self) -> &WireSettings {
        &self.settings
    }

    /// Connects (and logs in) unless a connection is open: a cheap way to check the
    /// address, the TLS trust and the credentials.
    pub async fn connect(&self) -> Result<(), WireError> {
        let mut slot = self.connection.lock().await;
        if slot.is_none() {
            *slot = Some(self.connect_any().await?);
        }
        Ok(())
    }

    /// Sends `request` to any broker at the highest version both sides speak.
    ///
    /// Cancel-safe: the connection is out of its slot while a request is in flight and
    /// goes back only after a complete answer, so a caller that drops this future (a
    /// shutdown, an outer timeout) never leaves a half-read frame for the next request.
    pub(crate) async fn send<R: Request>(&self, request: &R) -> Result<R::Response, WireError> {
        self.send_on(&self.connection, Target::Any, request).await
    }

    /// Sends `request` on the connection in `slot`, opening one to `target` when there is
    /// none; see [`Self::send`] for the reconnect and cancel rules.
    pub(super) async fn send_on<R: Request>(
        &self,
        slot: &Mutex<Option<Connection>>,
        target: Target<'_>,
        request: &R,
    ) -> Result<R::Response, WireError> {
        let mut slot = slot.lock().await;
        let mut reused = true;
        loop {
            let mut connection = match slot.take() {
                Some(connection) => connection,
                None => {
                    reused = false;
                    self.open_target(target).await?
                }
            };
            match connection.send(request).await {
                Ok(response) => {
                    *slot = Some(connection);
                    return Ok(response);
                }
                Err(error) => {
                    if !error.breaks_connection() {
                        *slot = Some(connection);
                    }
                    if reused && matches!(error, WireError::Io { .. }) {
                        tracing::debug!(%error, "broker connection lost, reconnecting once");
                        reused = false;
                        continue;
                    }
                    return Err(error);
                }
            }
        }
    }

    /// The version of `R` that the bootstrap connection speaks.
    pub(super) async fn version<R: Request>(&self) -> Result<i16, WireError> {
        self.version_on::<R>(&self.connection, Target::Any).await
    }

    /// The version of `R` that the connection in `slot` speaks, connecting first if needed:
    /// for requests whose layout (not only encoding) depends on the version.
    pub(super) async fn version_on<R: Request>(
        &self,
        slot: &Mutex<Option<Connection>>,
        target: Target<'_>,
    ) -> Result<i16, WireError> {
        let mut slot = slot.lock().await;
        let connection = match slot.take() {
            Some(connection) => connection,
            None => self.open_target(target).await?,
        };
        let version = connection.version::<R>();
        *slot = Some(connection);
        version
    }

    async fn open_target(&self, target: Target<'_>) -> Result<Connection, WireError> {
        match target {
            Target::Any => self.connect_any().await,
            Target::Address(address) => self.connect_to(address).await,
        }
    }

    /// Tries the bootstrap servers from a random one on, like librdkafka, so that many
    /// clients do not all land on the first; stops at the first definite failure (bad
    /// credentials or trust are the same on every broker).
    async fn connect_any(&self) -> Result<Connection, WireError> {
        let servers = &self.settings.bootstrap;
        let start = if servers.len() > 1 {
            rand::rng().random_range(0..servers.len())
        } else {
            0
        };
        let mut last = None;
        for offset in 0..servers.len() {
            let address = &servers[(start + offset) % servers.len()];
            match self.connect_to(address).await {
                Ok(connection) => return Ok(connection),
                Err(error @ (WireError::Io { .. } | WireError::Timeout { .. })) => {
                    tracing::debug!(broker = %address, %error, "bootstrap server unreachable");
                    last = Some(error);
                }
                Err(definite) => return Err(definite),
            }
        }
        Err(WireError::NoBrokerReachable {
            bootstrap: servers.join(","),
            last: Box::new(last.unwrap_or_else(|| WireError::Unsupported {
                key: "bootstrap.servers".to_owned(),
                reason: "lists no server".to_owned(),
            })),
        })
    }

    /// TCP, then TLS, ApiVersions and SASL, all within the connect timeout.
    async fn connect_to(&self, address: &str) -> Result<Connection, WireError> {
        let timeout = self.settings.connect_timeout;
        tokio::time::timeout(timeout, self.open(address))
            .await
            .unwrap_or_else(|_| {
                Err(WireError::Timeout {
                    broker: address.to_owned(),
                    operation: "connect",
                    timeout,
                })
            })
    }

    async fn open(&self, address: &str) -> Result<Connection, WireError> {
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|source| WireError::Io {
                broker: address.to_owned(),
                source,
            })?;
        // Requests are small and sent one at a time: Nagle would only add latency.
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn BrokerStream> = match &self.settings.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let config = super::tls::client_config(tls, address)?;
                let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                Box::new(super::tls::connect(config, host, tcp, address).await?)
            }
        };
        let mut connection = Connection::negotiate(
            stream,
            address,
            &self.settings.client_id,
            self.settings.request_timeout,
        )
        .await?;
        if let Some(login) = &self.settings.sasl {
            super::sasl::authenticate(&mut connection, login).await?;
        }
        Ok(connection)
    }
}
