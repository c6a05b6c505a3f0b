//! `kafka_gateway_security_reloads_total{listener, file, result}`: reloads of a listener's
//! security files, `result="ok"` or `"error"` (the previous version kept serving).
//!
//! Files are loaded when the config is validated, before the process's metrics registry is
//! handed to the services; each listener's watched files therefore share one
//! [`ReloadMetrics`] that is attached to the registry when the service starts serving. The
//! family is registered once per registry ([`MetricsRegistry::register_once`]), because every
//! listener of the process reports into the same one and a second registration would render
//! a duplicate family.

use std::sync::{Arc, OnceLock};

use broker_core::telemetry::MetricsRegistry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

type ReloadLabels = Vec<(&'static str, String)>;
type ReloadFamily = Family<ReloadLabels, Counter>;

/// The reload counters of one listener; counts nothing until [`Self::attach`]ed.
#[derive(Debug, Clone, Default)]
pub struct ReloadMetrics(Arc<OnceLock<Attached>>);

#[derive(Debug)]
struct Attached {
    family: ReloadFamily,
    listener: String,
}

impl ReloadMetrics {
    /// Counts this listener's reloads in `registry` under `listener` (`bridge`, `connect`,
    /// `metrics`). Only the first call has an effect.
    pub fn attach(&self, registry: &MetricsRegistry, listener: &str) {
        let _ = self.0.set(Attached {
            family: family_of(registry),
            listener: listener.to_owned(),
        });
    }

    pub(crate) fn record(&self, file: &'static str, ok: bool) {
        if let Some(attached) = self.0.get() {
            attached
                .family
                .get_or_create(&vec![
                    ("listener", attached.listener.clone()),
                    ("file", file.to_owned()),
                    ("result", if ok { "ok" } else { "error" }.to_owned()),
                ])
                .inc();
        }
    }
}

/// The family registered in `registry`, registering it on first use.
fn family_of(registry: &MetricsRegistry) -> ReloadFamily {
    registry.register_once("kafka_gateway_security_reloads", |r| {
        let family = ReloadFamily::default();
        r.register(
            "kafka_gateway_security_reloads",
            "Reloads of the users, tokens, JWT key, client CA and certificate files of an HTTP listener; result=error kept the previous version",
            family.clone(),
        );
        family
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_of_one_registry_share_the_family() {
        let registry = MetricsRegistry::new();
        let bridge = ReloadMetrics::default();
        let connect = ReloadMetrics::default();
        bridge.record("users_file", true);
        bridge.attach(&registry, "bridge");
        connect.attach(&registry, "connect");
        bridge.record("users_file", true);
        bridge.record("users_file", false);
        connect.record("client_ca_file", true);
        let text = registry.render().unwrap();
        assert_eq!(
            text.matches("# TYPE kafka_gateway_security_reloads")
                .count(),
            1
        );
        for line in [
            r#"kafka_gateway_security_reloads_total{listener="bridge",file="users_file",result="ok"} 1"#,
            r#"kafka_gateway_security_reloads_total{listener="bridge",file="users_file",result="error"} 1"#,
            r#"kafka_gateway_security_reloads_total{listener="connect",file="client_ca_file",result="ok"} 1"#,
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }
}
