//! Authorization of bridge requests, when the listener has `[bridge.http.auth]`.
//!
//! The edge authenticates and leaves a [`Principal`] in the request. What a request touches
//! is known in two places:
//!
//! - the route and its path parameters (topic, group): checked by [`authorize`], a layer on
//!   every route, before the handler runs, so a refused produce writes nothing;
//! - the body (topics of a subscription or an assignment, the name of a topic to create) and
//!   listings (only topics and groups the principal may see are listed): checked by the
//!   handlers through the [`Caller`] extractor.
//!
//! Without authentication no principal is present and everything is allowed.
//!
//! Module dependencies run one way: `authz` (this layer) → `state` (to find a consumer
//! instance's owner) → `identity` → `caller`. The [`Caller`] extractor lives in `caller`,
//! the lowest of them, so that `identity` and `state` can take a caller without importing
//! this layer.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use edge::{Principal, TopicOperation};

// Handlers that still name `authz::Caller` (produce.rs, until its rewrite lands) use it here.
pub(crate) use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::BridgeState;

/// What a route needs, from its path alone.
#[derive(Debug, PartialEq, Eq)]
enum Needed {
    Topic(TopicOperation, String),
    Group(String),
}

fn needed(method: &Method, route: &str, param: impl Fn(&str) -> Option<String>) -> Option<Needed> {
    if route.starts_with("/consumers/{group}")
        || route.starts_with("/v3/clusters/{cluster_id}/consumer-groups/{group}")
    {
        return param("group").map(Needed::Group);
    }
    let topic_route = route.starts_with("/topics/{topic}")
        || route.starts_with("/v3/clusters/{cluster_id}/topics/{topic}");
    if !topic_route {
        return None;
    }
    let operation = match *method {
        Method::POST if route.ends_with("/configs:alter") => TopicOperation::Manage,
        Method::POST => TopicOperation::Produce,
        Method::DELETE | Method::PUT | Method::PATCH => TopicOperation::Manage,
        _ => TopicOperation::Describe,
    };
    param("topic").map(|topic| Needed::Topic(operation, topic))
}

/// Checks the topic or group a route names against the caller's grants, and that a
/// consumer instance is used only by the principal that created it.
pub(crate) async fn authorize(
    State(state): State<BridgeState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = Caller(parts.extensions.get::<Principal>().cloned());
    if caller.0.is_some()
        && let Some(route) = parts
            .extensions
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned())
    {
        let params = RawPathParams::from_request_parts(&mut parts, &())
            .await
            .ok();
        let param = |name: &str| {
            params.as_ref().and_then(|params| {
                params
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_owned())
            })
        };
        let owner_check = match (param("group"), param("instance")) {
            (Some(group), Some(instance)) => check_owner(&state, &caller, &group, &instance),
            _ => Ok(()),
        };
        let verdict = owner_check.and_then(|()| match needed(&parts.method, &route, param) {
            None => Ok(()),
            Some(Needed::Topic(operation, topic)) => caller.require_topic(operation, &topic),
            Some(Needed::Group(group)) if caller.may_group(&group) => Ok(()),
            Some(Needed::Group(group)) => {
                Err(caller.forbidden(&format!("use consumer group {group}")))
            }
        });
        if let Err(error) = verdict {
            return error.into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// A consumer instance holds its creator's position and uncommitted records: another
/// principal, even one granted the group, may neither read from it nor delete it.
fn check_owner(
    state: &BridgeState,
    caller: &Caller,
    group: &str,
    instance: &str,
) -> Result<(), ApiError> {
    let Some(owner) = state.consumers().owner(group, instance) else {
        // Unknown instance: the handler answers 40403.
        return Ok(());
    };
    let name = caller.0.as_ref().map(|p| p.name.as_str());
    if owner.as_deref() == name {
        return Ok(());
    }
    Err(caller.forbidden(&format!(
        "use consumer instance {instance} of group {group}, which another principal created"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str) -> Option<String> {
        Some(format!("<{name}>"))
    }

    #[test]
    fn routes_map_to_what_they_touch() {
        let topic = |op| Some(Needed::Topic(op, "<topic>".to_owned()));
        assert_eq!(
            needed(&Method::POST, "/topics/{topic}", param),
            topic(TopicOperation::Produce)
        );
        assert_eq!(
            needed(
                &Method::POST,
                "/topics/{topic}/partitions/{partition}",
                param
            ),
            topic(TopicOperation::Produce)
        );
        assert_eq!(
            needed(
                &Method::GET,
                "/topics/{topic}/partitions/{partition}/offsets",
                param
            ),
            topic(TopicOperation::Describe)
        );
        assert_eq!(
            needed(
                &Method::POST,
                "/v3/clusters/{cluster_id}/topics/{topic}/records",
                param
            ),
            topic(TopicOperation::Produce)
        );
        assert_eq!(
            needed(
                &Method::DELETE,
                "/v3/clusters/{cluster_id}/topics/{topic}",
                param
            ),
            topic(TopicOperation::Manage)
        );
        assert_eq!(
            needed(
                &Method::POST,
                "/consumers/{group}/instances/{instance}/offsets",
                param
            ),
            Some(Needed::Group("<group>".to_owned()))
        );
        assert_eq!(
            needed(
                &Method::GET,
                "/v3/clusters/{cluster_id}/consumer-groups/{group}/lags",
                param
            ),
            Some(Needed::Group("<group>".to_owned()))
        );
        for (method, route) in [
            (Method::PATCH, "/v3/clusters/{cluster_id}/topics/{topic}"),
            (
                Method::PUT,
                "/v3/clusters/{cluster_id}/topics/{topic}/configs/{name}",
            ),
            (
                Method::DELETE,
                "/v3/clusters/{cluster_id}/topics/{topic}/configs/{name}",
            ),
            (
                Method::POST,
                "/v3/clusters/{cluster_id}/topics/{topic}/configs:alter",
            ),
        ] {
            assert_eq!(
                needed(&method, route, param),
                topic(TopicOperation::Manage),
                "{method} {route}"
            );
        }
        assert_eq!(needed(&Method::GET, "/topics", param), None);
        assert_eq!(needed(&Method::GET, "/brokers", param), None);
    }
}
