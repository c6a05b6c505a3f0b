//! The HTTP edge every REST service of the gateway shares: listener config, the limits that
//! protect the process under abuse, and serving with a graceful, bounded drain.
//!
//! Each service keeps its own error body: the layers here report an [`EdgeRejection`] and
//! the service turns it into its compatible API's shape.

mod config;
mod limits;
mod serve;

pub use config::{ListenerConfig, ValidatedListener};
pub use limits::{EdgeRejection, apply_limits};
pub use serve::{ServeError, bind, serve};
