//! The HTTP edge every REST service of the gateway shares: listener config, the limits that
//! protect the process under abuse, authentication, TLS and CORS ([`security`]), and
//! serving with a graceful, bounded drain, and the request metrics layer ([`http_metrics`]) and the
//! process's liveness/readiness endpoints ([`health`]).
//! It is plumbing, not a service: services depend on it and on broker-core, never on each
//! other.
//!
//! Each service keeps its own error body: the layers here report an [`EdgeRejection`] and
//! the service turns it into its compatible API's shape.

mod config;
pub mod health;
pub mod http_metrics;
mod http_trace;
pub mod json;
mod limits;
pub mod openapi;
pub mod security;
mod serve;

pub use config::{ListenerConfig, ValidatedListener};
pub use health::{Health, ServiceHealth, ServiceState};
pub use limits::{EdgeRejection, apply_limits};
pub use security::acl::{Grants, Role, TopicOperation};
pub use security::auth::{ClientCertificate, Principal};
pub use serve::{ServeError, bind, serve};
