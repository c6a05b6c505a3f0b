//! Security of an HTTP listener, all off unless configured:
//!
//! - [`auth`]: who is calling (Basic with [`users`], bearer with [`tokens`] or [`jwt`],
//!   client certificates) and the 401 answer;
//! - [`acl`]: what each principal may do, asked by the services that know what a request
//!   touches (topics, groups, connect's read-only role);
//! - [`tls`]: TLS termination with reloadable certificates and optional mTLS;
//! - [`cors`]: browser cross-origin rules.
//!
//! The files these sections name are read at startup (a bad file stops it) and then
//! reloaded while serving when they change (`security::reload`), counted by [`reload_metrics`].

pub mod acl;
pub mod auth;
pub mod cors;
mod credential_cache;
pub mod jwt;
pub(crate) mod reload;
pub mod reload_metrics;
pub mod tls;
pub mod tokens;
pub mod users;

use std::path::Path;
use std::sync::Arc;

use broker_core::ConfigError;
use broker_core::telemetry::MetricsRegistry;
use tower_http::cors::CorsLayer;

use reload_metrics::ReloadMetrics;

/// Reads a line-oriented credentials file and parses it; errors name `key` and the path.
pub(crate) fn load_file<T>(
    path: &Path,
    key: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        ConfigError::new(key, format!("cannot read `{}`: {error}", path.display()))
    })?;
    parse(&text)
        .map_err(|message| ConfigError::new(key, format!("`{}`: {message}", path.display())))
}

/// The loaded security sections of one listener. Compared by identity: two listeners are
/// equal only if they share the very same loaded state.
#[derive(Debug, Clone, Default)]
pub struct ListenerSecurity {
    pub auth: Option<Arc<auth::Authenticator>>,
    pub tls: Option<Arc<tls::TlsServer>>,
    pub cors: Option<CorsLayer>,
    /// Counts the reloads of every file above.
    pub reloads: ReloadMetrics,
}

impl ListenerSecurity {
    /// Counts the reloads of this listener's files in `registry`, labelled `listener`
    /// (`bridge`, `connect`, `metrics`); call it once the service has its registry.
    pub fn register_metrics(&self, registry: &MetricsRegistry, listener: &str) {
        self.reloads.attach(registry, listener);
    }
}

impl PartialEq for ListenerSecurity {
    fn eq(&self, other: &Self) -> bool {
        fn same<T>(a: Option<&Arc<T>>, b: Option<&Arc<T>>) -> bool {
            match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
        }
        same(self.auth.as_ref(), other.auth.as_ref())
            && same(self.tls.as_ref(), other.tls.as_ref())
            && self.cors.is_some() == other.cors.is_some()
    }
}

impl Eq for ListenerSecurity {}

/// A directory removed when dropped, for tests that write key and user files.
#[cfg(test)]
pub(crate) mod tempdir {
    use std::path::{Path, PathBuf};

    #[derive(Debug)]
    pub(crate) struct Dir(PathBuf);

    impl Dir {
        pub(crate) fn new() -> Self {
            let mut random = [0u8; 8];
            rand::fill(&mut random);
            let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
            let path = std::env::temp_dir().join(format!("edge-test-{name}"));
            std::fs::create_dir_all(&path).expect("create temp dir");
            Self(path)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
