//! The route layer that makes any node answer for any instance: serve it here, forward it
//! to its owner, or take it over from a dead owner and serve it here.
//!
//! It runs before the handlers and the ACL layer, on the two kinds of paths that name
//! instances: `POST /consumers/{group}` (a creation, recorded in the directory once the
//! handler answered 200) and `/consumers/{group}/instances/{name}[/…]`. Everything else,
//! and everything when `[bridge.cluster]` is off, passes through untouched.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use edge::Principal;
use http_body_util::BodyExt as _;
use serde_json::Value;

use super::ClusterNode;
use super::forward::{self, ForwardError, MAX_HOPS};
use super::record::{InstanceKey, InstanceRecord, ModeRecord};
use super::takeover::Takeover;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::BridgeState;

/// Largest create answer read back (an instance id and a URL).
const CREATE_ANSWER_LIMIT: usize = 64 * 1024;

/// What a path names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// `POST /consumers/{group}`.
    Create { group: String },
    /// `/consumers/{group}/instances/{name}` and what follows (`""`, `"records"`,
    /// `"positions/end"`…).
    Instance { key: InstanceKey, rest: String },
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(|| segment.to_owned(), |(_, value)| value.into_owned())
}

fn target(path: &str) -> Option<Target> {
    let rest = path.strip_prefix("/consumers/")?;
    let mut segments = rest.splitn(4, '/');
    let group = percent_decode(segments.next().filter(|g| !g.is_empty())?);
    match (segments.next(), segments.next()) {
        (None, _) => Some(Target::Create { group }),
        (Some("instances"), Some(name)) if !name.is_empty() => Some(Target::Instance {
            key: (group, percent_decode(name)),
            rest: segments.next().unwrap_or_default().to_owned(),
        }),
        _ => None,
    }
}

/// The route layer (see the module doc).
pub(crate) async fn route(
    State(state): State<BridgeState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(cluster) = state.cluster().cloned() else {
        return next.run(request).await;
    };
    match target(request.uri().path()) {
        Some(Target::Create { group }) if request.method() == Method::POST => {
            create(&state, &cluster, group, request, next).await
        }
        Some(Target::Instance { key, rest }) => {
            instance(&state, &cluster, key, &rest, request, next).await
        }
        _ => next.run(request).await,
    }
}

async fn buffer(body: Body) -> Result<Bytes, Response> {
    body.collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|error| {
            ApiError::bad_request(format!("The request body could not be read: {error}"))
                .into_response()
        })
}

/// A creation: refused when the name is taken on any node, recorded in the directory
/// once created here. An instance the directory does not know is removed again, so that
/// no instance lives that another node could not route to.
async fn create(
    state: &BridgeState,
    cluster: &Arc<ClusterNode>,
    group: String,
    request: Request,
    next: Next,
) -> Response {
    let principal = request
        .extensions()
        .get::<Principal>()
        .map(|p| p.name.clone());
    let (parts, body) = request.into_parts();
    let bytes = match buffer(body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let create_body: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(Value::Null) => None,
            Ok(value) => Some(value),
            // The handler answers a malformed body in the flavor's shape.
            Err(_) => {
                return next
                    .run(Request::from_parts(parts, Body::from(bytes)))
                    .await;
            }
        }
    };
    let requested_name = create_body.as_ref().and_then(|body| {
        ["id", "name"]
            .iter()
            .find_map(|field| body.get(*field).and_then(Value::as_str))
            .map(str::to_owned)
    });
    if let Some(name) = &requested_name {
        let key = (group.clone(), name.clone());
        if cluster.lookup(&key).is_some() && !state.consumers().contains(&group, name) {
            return ApiError::new(
                StatusCode::CONFLICT,
                40902,
                format!(
                    "Consumer instance with the specified name {name} already exists in group {group}."
                ),
            )
            .into_response();
        }
        cluster.mark_in_flight(&key);
    }
    cluster.creations.fetch_add(1, Ordering::SeqCst);
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let recorded = record_creation(state, cluster, &group, create_body, principal, response).await;
    cluster.creations.fetch_sub(1, Ordering::SeqCst);
    if let Some(name) = requested_name {
        cluster.clear_in_flight(&(group, name));
    }
    recorded
}

async fn record_creation(
    state: &BridgeState,
    cluster: &Arc<ClusterNode>,
    group: &str,
    create_body: Option<Value>,
    principal: Option<String>,
    response: Response,
) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, CREATE_ANSWER_LIMIT).await else {
        return ApiError::plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The created instance's answer could not be read.",
        )
        .into_response();
    };
    let Some(name) = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|answer| answer["instance_id"].as_str().map(str::to_owned))
    else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let key = (group.to_owned(), name.clone());
    cluster.mark_in_flight(&key);
    let record = InstanceRecord {
        group: group.to_owned(),
        name: name.clone(),
        create_body,
        principal,
        mode: ModeRecord::Idle,
        owner: cluster.node_id().to_owned(),
        epoch: 1,
        last_used_ms: super::now_ms(),
    };
    let written = cluster.write_instance(&record).await;
    let won = cluster
        .lookup(&key)
        .is_some_and(|now| now.owner == record.owner && now.epoch == record.epoch);
    cluster.clear_in_flight(&key);
    match written {
        Ok(()) if won => Response::from_parts(parts, Body::from(bytes)),
        Ok(()) => {
            // Another node created the same name at the same moment, and came first.
            let _ = state.consumers().remove(group, &name);
            ApiError::new(
                StatusCode::CONFLICT,
                40902,
                format!(
                    "Consumer instance with the specified name {name} already exists in group {group}."
                ),
            )
            .into_response()
        }
        Err(error) => {
            let _ = state.consumers().remove(group, &name);
            error.into_response()
        }
    }
}

/// A request for one instance.
async fn instance(
    state: &BridgeState,
    cluster: &Arc<ClusterNode>,
    key: InstanceKey,
    rest: &str,
    request: Request,
    next: Next,
) -> Response {
    if state.consumers().contains(&key.0, &key.1) {
        if owned_elsewhere(cluster, &key) {
            fence(state, &key);
        } else {
            return serve_here(state, cluster, &key, rest, request, next).await;
        }
    }
    let caller = Caller(request.extensions().get::<Principal>().cloned());
    let (parts, body) = request.into_parts();
    let bytes = match buffer(body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    if cluster.lookup(&key).is_none() {
        // Created (or changed) on another node a moment ago, and not read here yet?
        if let Err(error) = cluster.catch_up().await {
            return error.into_response();
        }
    }
    // Twice at most: a takeover lost to another node forwards to the winner.
    for _ in 0..2 {
        let Some(record) = cluster.lookup(&key) else {
            break;
        };
        if record.owner == cluster.node_id() {
            // Owned here and not live here: expired or deleted, its tombstone under way.
            break;
        }
        if cluster.is_alive(&record.owner) {
            if forward::hops(&parts.headers) >= MAX_HOPS {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    50003,
                    format!(
                        "Consumer instance {} is moving between nodes; retry the request.",
                        key.1
                    ),
                )
                .into_response();
            }
            let url = cluster.node(&record.owner).map(|node| node.url);
            if let Some(url) = url {
                match forward::forward(&cluster.http, &url, &parts, bytes.clone()).await {
                    Ok(response) => {
                        tracing::debug!(owner = %record.owner, group = %key.0, instance = %key.1, status = response.status().as_u16(), "request forwarded to the owner of its consumer instance");
                        return response;
                    }
                    Err(error @ ForwardError::TimedOut(_)) => {
                        // The owner's address stays in the log, not in the answer.
                        tracing::warn!(%error, owner = %record.owner, group = %key.0, instance = %key.1, "forwarded request timed out");
                        return ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            50003,
                            format!(
                                "The node serving consumer instance {} did not answer in time; retry the request.",
                                key.1
                            ),
                        )
                        .into_response();
                    }
                    Err(error @ ForwardError::Unreachable(_)) => {
                        tracing::info!(%error, owner = %record.owner, group = %key.0, instance = %key.1, "owner of a consumer instance unreachable, taking it over");
                    }
                }
            }
        }
        match cluster.take_over(state, &caller, &key).await {
            Ok(Takeover::Done) => {
                let request = Request::from_parts(parts, Body::from(bytes));
                return serve_here(state, cluster, &key, rest, request, next).await;
            }
            Ok(Takeover::Gone) => break,
            Ok(Takeover::Lost(winner)) => {
                tracing::info!(winner = %winner.owner, group = %key.0, instance = %key.1, "another node took the consumer instance over first");
            }
            Err(error) => return error.into_response(),
        }
    }
    // Unknown here and in the directory: the handler answers 40403.
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn owned_elsewhere(cluster: &ClusterNode, key: &InstanceKey) -> bool {
    match cluster.lookup(key) {
        Some(record) => record.owner != cluster.node_id(),
        None => !cluster.is_in_flight(key) && cluster.creations.load(Ordering::SeqCst) == 0,
    }
}

/// Closes a local instance the directory gives to another node (or no longer has): this
/// node was presumed dead and the instance lives elsewhere now.
pub(super) fn fence(state: &BridgeState, key: &InstanceKey) {
    if state.consumers().remove(&key.0, &key.1).is_ok() {
        tracing::info!(group = %key.0, instance = %key.1, "consumer instance owned elsewhere now, closed here");
    }
}

/// Serves the request here, then records what it changed.
async fn serve_here(
    state: &BridgeState,
    cluster: &Arc<ClusterNode>,
    key: &InstanceKey,
    rest: &str,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let changed = match (rest, &method) {
        ("", &Method::DELETE) => {
            let _writes = cluster.write_lock.lock().await;
            cluster.write_tombstone(&key.0, &key.1).await
        }
        ("subscription", &Method::POST | &Method::DELETE) | ("assignments", &Method::POST) => {
            record_mode(state, cluster, key).await
        }
        _ => Ok(()),
    };
    match changed {
        Ok(()) => response,
        // The change took effect here, but a takeover would not repeat it: say so.
        Err(error) => error.into_response(),
    }
}

/// Writes the instance's current subscription or assignment to the directory.
async fn record_mode(
    state: &BridgeState,
    cluster: &ClusterNode,
    key: &InstanceKey,
) -> Result<(), ApiError> {
    let Some(instance) = state.consumers().peek(&key.0, &key.1) else {
        return Ok(());
    };
    let _writes = cluster.write_lock.lock().await;
    let Some(mut record) = cluster.lookup(key) else {
        return Ok(());
    };
    record.mode = ModeRecord::from(&instance.state.lock().await.mode);
    record.last_used_ms = super::now_ms();
    cluster.write_instance(&record).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: &str, name: &str) -> InstanceKey {
        (group.to_owned(), name.to_owned())
    }

    #[test]
    fn paths_that_name_instances() {
        assert_eq!(
            target("/consumers/g"),
            Some(Target::Create {
                group: "g".to_owned()
            })
        );
        assert_eq!(
            target("/consumers/g/instances/i"),
            Some(Target::Instance {
                key: key("g", "i"),
                rest: String::new()
            })
        );
        assert_eq!(
            target("/consumers/g%20x/instances/i/positions/end"),
            Some(Target::Instance {
                key: key("g x", "i"),
                rest: "positions/end".to_owned()
            })
        );
        assert_eq!(target("/consumers/"), None);
        assert_eq!(target("/consumers/g/other/i"), None);
        assert_eq!(target("/consumers/g/instances/"), None);
        assert_eq!(target("/topics/t"), None);
    }
}
