//! The authenticated caller of a request and what its grants allow: the extractor handlers
//! use for checks that depend on the body or on a listing.
//!
//! The lowest of the bridge's request-identity modules: it depends on the edge's
//! [`Principal`] and on `error` only. `identity` (which Kafka identity a caller runs with)
//! and `state` take a [`Caller`]; `authz` (the route layer) uses both `state` and this
//! module. Nothing here imports any of them, so the dependencies run one way:
//! `authz` → `state` → `identity` → `caller`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use edge::{Principal, TopicOperation};

use crate::error::ApiError;

/// The authenticated caller of a request, if the listener authenticates.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<Principal>().cloned()))
    }
}

impl Caller {
    pub(crate) fn may_topic(&self, operation: TopicOperation, topic: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|principal| principal.grants.allows_topic(operation, topic))
    }

    pub(crate) fn may_group(&self, group: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|principal| principal.grants.allows_group(group))
    }

    /// 403 unless `operation` is granted on `topic`.
    pub(crate) fn require_topic(
        &self,
        operation: TopicOperation,
        topic: &str,
    ) -> Result<(), ApiError> {
        if self.may_topic(operation, topic) {
            return Ok(());
        }
        Err(self.forbidden(&format!("{} topic {topic}", verb(operation))))
    }

    /// 403 unless `operation` is granted on every topic, for regex subscriptions.
    pub(crate) fn require_every_topic(&self, operation: TopicOperation) -> Result<(), ApiError> {
        let allowed = self
            .0
            .as_ref()
            .is_none_or(|principal| principal.grants.allows_every_topic(operation));
        if allowed {
            return Ok(());
        }
        Err(self.forbidden(&format!("{} topics by pattern", verb(operation))))
    }

    /// A 403 saying what the caller may not do, logged with the principal.
    pub(crate) fn forbidden(&self, what: &str) -> ApiError {
        let name = self.0.as_ref().map_or("anonymous", |p| p.name.as_str());
        tracing::info!(principal = name, what, "request refused by acl");
        ApiError::forbidden(format!("Principal {name} is not authorized to {what}."))
    }
}

fn verb(operation: TopicOperation) -> &'static str {
    match operation {
        TopicOperation::Produce => "produce to",
        TopicOperation::Consume => "consume from",
        TopicOperation::Describe => "describe",
        TopicOperation::Manage => "manage",
    }
}
