//! Shared helpers of the bridge tests: a bridge router over the real cluster A, driven in
//! process with `oneshot`, and a small base64 codec for the binary format.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use bridge::{BridgeConfig, BridgeState, Flavor, router};
use broker_core::KafkaClients;
use http_body_util::BodyExt;
use serde_json::Value;
use tests::{Services, kafka_clients};
use tower::ServiceExt;

pub(crate) const BINARY: &str = "application/vnd.kafka.binary.v2+json";
pub(crate) const JSON: &str = "application/vnd.kafka.json.v2+json";
pub(crate) const TEXT: &str = "application/vnd.kafka.text.v2+json";
pub(crate) const V2: &str = "application/vnd.kafka.v2+json";

pub(crate) struct Bridge {
    router: Router,
    pub(crate) clients: KafkaClients,
    pub(crate) registry: broker_core::telemetry::MetricsRegistry,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Bridge {
    pub(crate) async fn start(flavor: Flavor) -> Self {
        Self::with_config(BridgeConfig {
            flavor,
            ..BridgeConfig::default()
        })
        .await
    }

    pub(crate) async fn with_config(config: BridgeConfig) -> Self {
        let clients = kafka_clients(&Services::from_env().kafka_bootstrap).await;
        Self::with_clients(&config, clients)
    }

    /// A bridge over any cluster, e.g. a throwaway broker.
    pub(crate) fn with_clients(config: &BridgeConfig, clients: KafkaClients) -> Self {
        let validated = config.validate("bridge").expect("valid bridge config");
        let state = BridgeState::new(validated, clients.clone()).expect("bridge state");
        let registry = broker_core::telemetry::MetricsRegistry::new();
        state.register_metrics(&registry);
        Self {
            router: router(state),
            clients,
            registry,
        }
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A request with an optional JSON body sent with `content_type`.
    pub(crate) async fn call(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        self.call_with(method, uri, content_type, None, body).await
    }

    pub(crate) async fn call_with(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "bridge.test:8082");
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        if let Some(accept) = accept {
            builder = builder.header("accept", accept);
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(builder.body(body).expect("request")).await
    }

    pub(crate) async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None, None).await
    }

    pub(crate) async fn post(&self, uri: &str, content_type: &str, body: &Value) -> Reply {
        self.call(Method::POST, uri, Some(content_type), Some(body))
            .await
    }

    /// Polls records until `count` arrived or 30 s passed.
    pub(crate) async fn records_until(&self, base: &str, accept: &str, count: usize) -> Vec<Value> {
        let mut records = Vec::new();
        let started = std::time::Instant::now();
        while records.len() < count {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "only {} of {count} records after 30 s: {records:?}",
                records.len()
            );
            let reply = self
                .call_with(
                    Method::GET,
                    &format!("{base}/records?timeout=1000"),
                    None,
                    Some(accept),
                    None,
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
            records.extend(reply.body.as_array().cloned().unwrap_or_default());
        }
        records
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn b64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn unb64(text: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let value = ALPHABET
            .iter()
            .position(|a| *a == c)
            .expect("base64 character");
        bits = (bits << 6) | u32::try_from(value).unwrap();
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).unwrap());
        }
    }
    out
}

#[test]
fn base64_helpers_round_trip() {
    for text in ["", "a", "ab", "abc", "hello world"] {
        assert_eq!(unb64(&b64(text.as_bytes())), text.as_bytes());
    }
    assert_eq!(b64(b"key"), "a2V5");
}
