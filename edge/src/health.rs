//! Liveness and readiness of one gateway process: `GET /healthz` and `GET /readyz`.
//!
//! - `/healthz` answers 200 while the process serves HTTP at all: a liveness probe that
//!   fails only when the runtime is wedged, so an orchestrator restarts it.
//! - `/readyz` answers 200 when every service of the process is running **and** Kafka
//!   answered a metadata request recently; 503 otherwise. The body names each service's
//!   state and the Kafka check, so `curl` shows why a node is out of rotation.
//!
//! Services report their state through a [`ServiceHealth`] handle taken from the process's
//! [`Health`]; the supervisor marks a service running when it starts, stopped or failed when
//! its task ends. The Kafka check is a topic-less Metadata request (cheap on a cluster with
//! thousands of topics) on broker-core's native client, cached for [`KAFKA_CHECK_TTL`] so
//! that probes every second cost one request per TTL, and bounded by
//! [`KAFKA_CHECK_TIMEOUT`] so a probe never hangs. Clusters whose settings the native client
//! cannot speak (GSSAPI, …) are checked through librdkafka's cluster-id request instead.
//!
//! The routes are mounted outside the edge's authentication: probes (kubelet, load
//! balancers) carry no credentials, and the answers hold states only, never data.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use broker_core::KafkaClients;
use broker_core::metadata::ClusterInspector;
use broker_core::wire::WireClient;
use serde::Serialize;
use tokio::sync::Mutex as AsyncMutex;

/// How long one Kafka answer keeps the process ready.
pub const KAFKA_CHECK_TTL: Duration = Duration::from_secs(5);
/// How long one Kafka check may take before it counts as a failure.
pub const KAFKA_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The state of one service, as `/readyz` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum ServiceState {
    Starting,
    Running,
    Stopped,
    Failed(String),
}

/// The process's health: every service's state and the Kafka check.
#[derive(Debug, Clone)]
pub struct Health {
    services: Arc<Mutex<BTreeMap<&'static str, ServiceState>>>,
    kafka: Option<Arc<KafkaCheck>>,
}

/// One service's handle on the process's [`Health`].
#[derive(Debug, Clone)]
pub struct ServiceHealth {
    name: &'static str,
    services: Arc<Mutex<BTreeMap<&'static str, ServiceState>>>,
}

impl ServiceHealth {
    pub fn set(&self, state: ServiceState) {
        self.services
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.name, state);
    }
}

impl Health {
    /// `kafka`: the cluster whose reachability gates readiness; `None` for a process that
    /// does not talk to one cluster (a mirror-only process checks its flows itself).
    pub fn new(kafka: Option<KafkaClients>) -> Self {
        Self {
            services: Arc::default(),
            kafka: kafka.map(|clients| Arc::new(KafkaCheck::new(clients))),
        }
    }

    /// Registers `name` as starting and returns its handle.
    pub fn service(&self, name: &'static str) -> ServiceHealth {
        let handle = ServiceHealth {
            name,
            services: Arc::clone(&self.services),
        };
        handle.set(ServiceState::Starting);
        handle
    }

    /// The current report; runs the Kafka check when its last answer is older than the TTL.
    pub async fn report(&self) -> ReadinessReport {
        let services = self
            .services
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let kafka = match &self.kafka {
            Some(check) => Some(check.current().await),
            None => None,
        };
        let ready = !services.is_empty()
            && services.values().all(|s| *s == ServiceState::Running)
            && kafka.as_ref().is_none_or(|k| k.reachable);
        ReadinessReport {
            ready,
            services,
            kafka,
        }
    }

    /// `/healthz` and `/readyz`, to be merged outside the edge's authentication layers.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(liveness))
            .route("/readyz", get(readiness))
            .with_state(self.clone())
    }
}

/// The body of `/readyz`.
#[derive(Debug, Clone, Serialize)]
pub struct ReadinessReport {
    pub ready: bool,
    pub services: BTreeMap<&'static str, ServiceState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaStatus>,
}

/// The last Kafka check.
#[derive(Debug, Clone, Serialize)]
pub struct KafkaStatus {
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds since the check ran.
    pub checked_seconds_ago: f64,
}

async fn liveness() -> Response {
    (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response()
}

async fn readiness(State(health): State<Health>) -> Response {
    let report = health.report().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

#[derive(Debug)]
struct KafkaCheck {
    clients: KafkaClients,
    wire: Option<WireClient>,
    /// Serialises checks: concurrent probes wait for one request instead of sending many.
    last: AsyncMutex<Option<(Instant, Result<(), String>)>>,
}

impl KafkaCheck {
    fn new(clients: KafkaClients) -> Self {
        let wire = WireClient::new(clients.cluster(), KAFKA_CHECK_TIMEOUT).ok();
        Self {
            clients,
            wire,
            last: AsyncMutex::new(None),
        }
    }

    async fn current(&self) -> KafkaStatus {
        let mut last = self.last.lock().await;
        let fresh = last
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < KAFKA_CHECK_TTL);
        if !fresh {
            *last = Some((Instant::now(), self.probe().await));
        }
        let (at, outcome) = last.as_ref().map_or(
            (Instant::now(), Err("not checked".to_owned())),
            |(at, o)| (*at, o.clone()),
        );
        KafkaStatus {
            reachable: outcome.is_ok(),
            error: outcome.err(),
            checked_seconds_ago: at.elapsed().as_secs_f64(),
        }
    }

    async fn probe(&self) -> Result<(), String> {
        let request = async {
            match &self.wire {
                Some(wire) => wire.brokers().await.map(drop).map_err(|e| e.to_string()),
                None => {
                    let inspector = ClusterInspector::new(&self.clients, KAFKA_CHECK_TIMEOUT)
                        .map_err(|e| e.to_string())?;
                    inspector
                        .cluster_id()
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                }
            }
        };
        match tokio::time::timeout(KAFKA_CHECK_TIMEOUT, request).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {KAFKA_CHECK_TIMEOUT:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_only_when_every_service_runs() {
        let health = Health::new(None);
        assert!(!health.report().await.ready, "no service yet");
        let bridge = health.service("bridge");
        let connect = health.service("connect");
        bridge.set(ServiceState::Running);
        assert!(!health.report().await.ready, "connect still starting");
        connect.set(ServiceState::Running);
        assert!(health.report().await.ready);
        connect.set(ServiceState::Failed("internal topic unusable".to_owned()));
        let report = health.report().await;
        assert!(!report.ready);
        let body = serde_json::to_value(&report).unwrap();
        assert_eq!(
            body["services"]["connect"],
            serde_json::json!({"state": "failed", "reason": "internal topic unusable"})
        );
        assert_eq!(
            body["services"]["bridge"],
            serde_json::json!({"state": "running"})
        );
    }
}
