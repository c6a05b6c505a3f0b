//! `gateway.toml`: one section per service plus the cluster and telemetry, loaded from the
//! file then overridden by `KAFKA_GATEWAY_<SECTION>__<KEY>` environment variables, and
//! validated as a whole before anything starts.

use std::path::Path;

use bridge::{BridgeConfig, ValidatedBridge};
use broker_core::otel::{OtlpConfig, ValidatedOtlp};
use broker_core::telemetry::LogFormat;
use broker_core::{ClusterConfig, ConfigError, ValidatedCluster};
use connect::{ConnectConfig, ValidatedConnect};
use console::{ConsoleConfig, Upstreams, ValidatedConsole};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use metrics::{MetricsConfig, ValidatedMetrics};
use mirror::MirrorConfig;
use schema_registry::{SchemaRegistryConfig, ValidatedSchemaRegistry};
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that override the file.
pub(crate) const ENV_PREFIX: &str = "KAFKA_GATEWAY_";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GatewayConfig {
    pub(crate) kafka: ClusterConfig,
    #[serde(default)]
    pub(crate) telemetry: TelemetryConfig,
    #[serde(default)]
    pub(crate) bridge: BridgeConfig,
    #[serde(default)]
    pub(crate) connect: ConnectConfig,
    #[serde(default)]
    pub(crate) mirror: MirrorConfig,
    #[serde(default)]
    pub(crate) metrics: MetricsConfig,
    #[serde(default)]
    pub(crate) schema_registry: SchemaRegistryConfig,
    #[serde(default)]
    pub(crate) console: ConsoleConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TelemetryConfig {
    #[serde(default)]
    pub(crate) log_format: LogFormat,
    /// A tracing filter such as `info` or `info,bridge=debug`; `RUST_LOG` wins.
    #[serde(default = "default_log_level")]
    pub(crate) log_level: String,
    /// `[telemetry.otlp]`: trace export, off when absent.
    #[serde(default)]
    pub(crate) otlp: Option<OtlpConfig>,
}

fn default_log_level() -> String {
    "info".to_owned()
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::default(),
            log_level: default_log_level(),
            otlp: None,
        }
    }
}

/// `KAFKA_GATEWAY_KAFKA__PROPERTIES__SASL_PASSWORD` sets librdkafka's `sasl.password`.
/// Property names contain dots, which environment variable names cannot, so after this
/// infix `_` stands for `.` and `__` for `_` (the convention of Confluent's images).
const PROPERTY_ENV_INFIX: &str = "kafka__properties__";

#[derive(Serialize)]
struct PropertyOverrides {
    kafka: PropertyMap,
}

#[derive(Serialize)]
struct PropertyMap {
    properties: std::collections::BTreeMap<String, String>,
}

fn property_overrides(vars: impl Iterator<Item = (String, String)>) -> PropertyOverrides {
    let properties = vars
        .filter_map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            let rest = lower
                .strip_prefix(&ENV_PREFIX.to_ascii_lowercase())?
                .strip_prefix(PROPERTY_ENV_INFIX)?;
            let property = rest
                .split("__")
                .map(|part| part.replace('_', "."))
                .collect::<Vec<_>>()
                .join("_");
            Some((property, value))
        })
        .collect();
    PropertyOverrides {
        kafka: PropertyMap { properties },
    }
}

/// Values used when neither the file nor the environment sets them: the local cluster and
/// the two services that need nothing else (bridge, metrics) switched on.
#[derive(Serialize)]
struct Defaults {
    kafka: DefaultKafka,
    bridge: Enabled,
    metrics: Enabled,
}

#[derive(Serialize)]
struct DefaultKafka {
    bootstrap_servers: &'static str,
}

#[derive(Serialize)]
struct Enabled {
    enabled: bool,
}

/// What failed while loading the config, with the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("config file {path} does not exist")]
    Missing { path: String },
    #[error("cannot read the configuration: {0}")]
    Parse(Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] ConfigError),
}

/// A config that passed validation: every enabled service is ready to be built.
#[derive(Debug, Clone)]
pub(crate) struct ValidatedGateway {
    pub(crate) kafka: ValidatedCluster,
    pub(crate) telemetry: TelemetryConfig,
    /// `None` when `[telemetry.otlp]` is absent or disabled.
    pub(crate) otlp: Option<ValidatedOtlp>,
    pub(crate) bridge: Option<ValidatedBridge>,
    pub(crate) connect: Option<ValidatedConnect>,
    pub(crate) metrics: Option<ValidatedMetrics>,
    pub(crate) schema_registry: Option<ValidatedSchemaRegistry>,
    /// With the addresses of this process's connect, schema registry and metrics listeners.
    pub(crate) console: Option<ValidatedConsole>,
    /// Read from its `mm2.properties` when the gateway starts (that is I/O, so not here).
    pub(crate) mirror: Option<MirrorConfig>,
}

impl GatewayConfig {
    pub(crate) fn load(path: Option<&Path>) -> Result<Self, LoadError> {
        let defaults = Defaults {
            kafka: DefaultKafka {
                bootstrap_servers: "127.0.0.1:9092",
            },
            bridge: Enabled { enabled: true },
            metrics: Enabled { enabled: true },
        };
        let mut figment = Figment::from(Serialized::defaults(defaults));
        if let Some(path) = path {
            if !path.exists() {
                return Err(LoadError::Missing {
                    path: path.display().to_string(),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment
            .merge(
                Env::prefixed(ENV_PREFIX)
                    .filter(|key| {
                        !key.as_str()
                            .to_ascii_lowercase()
                            .starts_with(PROPERTY_ENV_INFIX)
                    })
                    .split("__"),
            )
            .merge(Serialized::defaults(property_overrides(std::env::vars())))
            .extract()
            .map_err(|e| LoadError::Parse(Box::new(e)))
    }

    pub(crate) fn validate(&self) -> Result<ValidatedGateway, ConfigError> {
        let kafka = self.kafka.validate("kafka")?;
        let mut bridge = self.bridge.validate("bridge")?;
        let connect = self.connect.validate("connect")?;
        let metrics = self.metrics.validate("metrics")?;
        let schema_registry = self.schema_registry.validate("schema_registry")?;
        let mut console = self.console.validate("console")?;
        self.mirror.validate("mirror")?;
        let otlp = match &self.telemetry.otlp {
            Some(otlp) => otlp.validate("telemetry.otlp")?,
            None => None,
        };
        let listeners = [
            (
                "bridge.http.listen",
                self.bridge.enabled,
                bridge.listener.listen,
            ),
            (
                "connect.http.listen",
                self.connect.enabled,
                connect.listener.listen,
            ),
            (
                "metrics.http.listen",
                self.metrics.enabled,
                metrics.listener.listen,
            ),
            (
                "schema_registry.http.listen",
                self.schema_registry.enabled,
                schema_registry.listener.listen,
            ),
            (
                "console.http.listen",
                self.console.enabled,
                console.listener.listen,
            ),
        ];
        for (index, (key, enabled, address)) in listeners.iter().enumerate() {
            let clash = listeners[..index]
                .iter()
                .find(|(_, other_enabled, other)| *enabled && *other_enabled && other == address);
            if let Some((other_key, _, _)) = clash {
                return Err(ConfigError::new(
                    *key,
                    format!("{address} is already used by `{other_key}`"),
                ));
            }
        }
        if self.schema_registry.enabled && bridge.schema_registry.is_none() {
            bridge.schema_registry = Some(built_in_registry(&schema_registry.listener));
        }
        console.upstreams = Upstreams {
            connect: self
                .connect
                .enabled
                .then(|| loopback_url(&connect.listener)),
            schema_registry: self
                .schema_registry
                .enabled
                .then(|| loopback_url(&schema_registry.listener)),
            // Only where this process's mirror registers its series: a scrape may also read
            // the whole cluster (`cluster_metrics`), too costly to do for nothing.
            metrics: (self.metrics.enabled && self.mirror.enabled)
                .then(|| loopback_url(&metrics.listener)),
        };
        Ok(ValidatedGateway {
            kafka,
            console: self.console.enabled.then_some(console),
            telemetry: self.telemetry.clone(),
            otlp,
            bridge: self.bridge.enabled.then_some(bridge),
            connect: self.connect.enabled.then_some(connect),
            mirror: self.mirror.enabled.then(|| self.mirror.clone()),
            metrics: self.metrics.enabled.then_some(metrics),
            schema_registry: self.schema_registry.enabled.then_some(schema_registry),
        })
    }
}

/// The bridge's default registry: the built-in one, over loopback when it listens on every
/// address. A registry with `[schema_registry.http.auth]` needs the bridge's
/// `schema_registry_basic_auth_user_info` as well.
fn built_in_registry(
    listener: &edge::ValidatedListener,
) -> bridge::config::SchemaRegistryClientSettings {
    bridge::config::SchemaRegistryClientSettings {
        urls: loopback_url(listener),
        basic_auth: None,
    }
}

/// How another part of this process reaches `listener`: over loopback when it listens on
/// every address.
fn loopback_url(listener: &edge::ValidatedListener) -> String {
    let mut address = listener.listen;
    if address.ip().is_unspecified() {
        address.set_ip(if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let scheme = if listener.security.tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{address}")
}

#[cfg(test)]
mod tests {
    use figment::Jail;

    use super::*;

    /// Loads `text` as `gateway.toml` with `env` set, inside a jail that restores the
    /// process environment afterwards.
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn with_config<T>(
        text: &str,
        env: &[(&str, &str)],
        check: impl FnOnce(Result<GatewayConfig, LoadError>) -> T,
    ) -> T {
        let mut outcome = None;
        Jail::expect_with(|jail| {
            jail.create_file("gateway.toml", text)?;
            for (key, value) in env {
                jail.set_env(key, value);
            }
            outcome = Some(check(GatewayConfig::load(Some(Path::new("gateway.toml")))));
            Ok(())
        });
        outcome.expect("jail ran the check")
    }

    #[test]
    fn numeric_librdkafka_properties_from_the_environment_are_text() {
        with_config(
            "",
            &[
                (
                    "KAFKA_GATEWAY_KAFKA__PROPERTIES__MESSAGE_TIMEOUT_MS",
                    "4000",
                ),
                (
                    "KAFKA_GATEWAY_KAFKA__PROPERTIES__ENABLE_IDEMPOTENCE",
                    "true",
                ),
            ],
            |config| {
                let config = config.unwrap();
                let properties = &config.kafka.properties;
                assert_eq!(properties["message.timeout.ms"], "4000", "{properties:?}");
                assert_eq!(properties["enable.idempotence"], "true", "{properties:?}");
            },
        );
    }

    #[test]
    fn example_config_is_valid() {
        let text = include_str!("../../examples/gateway.toml");
        with_config(text, &[], |config| {
            let validated = config.unwrap().validate().unwrap();
            assert!(validated.bridge.is_some());
            assert!(validated.metrics.is_some());
        });
    }

    #[test]
    fn empty_file_gives_local_defaults() {
        with_config("", &[], |config| {
            let validated = config.unwrap().validate().unwrap();
            assert_eq!(validated.kafka.bootstrap_servers(), "127.0.0.1:9092");
            assert_eq!(validated.bridge.unwrap().listener.listen.port(), 8082);
            assert_eq!(validated.metrics.unwrap().listener.listen.port(), 9308);
        });
    }

    #[test]
    fn environment_overrides_the_file() {
        with_config(
            "[kafka]\nbootstrap_servers = \"file:9092\"\n",
            &[
                ("KAFKA_GATEWAY_KAFKA__BOOTSTRAP_SERVERS", "env:9092"),
                ("KAFKA_GATEWAY_BRIDGE__HTTP__LISTEN", "127.0.0.1:18082"),
            ],
            |config| {
                let config = config.unwrap();
                assert_eq!(config.kafka.bootstrap_servers, "env:9092");
                let bridge = config.validate().unwrap().bridge.unwrap();
                assert_eq!(bridge.listener.listen.port(), 18082);
            },
        );
    }

    #[test]
    fn environment_sets_librdkafka_properties() {
        with_config(
            "[kafka.properties]\n\"sasl.username\" = \"file-user\"\n",
            &[
                ("KAFKA_GATEWAY_KAFKA__PROPERTIES__SASL_PASSWORD", "from-env"),
                ("KAFKA_GATEWAY_KAFKA__PROPERTIES__SSL_ENGINE__ID", "x"),
            ],
            |config| {
                let properties = config.unwrap().kafka.properties;
                assert_eq!(properties["sasl.password"], "from-env");
                assert_eq!(properties["sasl.username"], "file-user");
                assert_eq!(properties["ssl.engine_id"], "x");
            },
        );
    }

    #[test]
    fn typo_names_the_key() {
        with_config("[bridge]\nflavour = \"strimzi\"\n", &[], |config| {
            let err = config.unwrap_err();
            assert!(err.to_string().contains("flavour"), "{err}");
        });
    }

    #[test]
    fn missing_file_is_reported() {
        let err = GatewayConfig::load(Some(Path::new("/nonexistent/gateway.toml"))).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/gateway.toml"),
            "{err}"
        );
    }

    #[test]
    fn validate_rejects_mirror_without_properties() {
        with_config("[mirror]\nenabled = true\n", &[], |config| {
            let err = config.unwrap().validate().unwrap_err();
            assert_eq!(err.key, "mirror.properties_file");
        });
    }

    #[test]
    fn validate_rejects_a_mirror_instance_id_kafka_would_refuse() {
        let toml = "[mirror]\nenabled = true\ninstance_id = \"dc1 mirror\"\n\
                    properties_file = \"/etc/kafka/mm2.properties\"\n";
        with_config(toml, &[], |config| {
            let err = config.unwrap().validate().unwrap_err();
            assert_eq!(err.key, "mirror.instance_id");
        });
    }

    #[test]
    fn otlp_export_is_off_by_default_and_validated_when_present() {
        with_config("", &[], |config| {
            assert!(config.unwrap().validate().unwrap().otlp.is_none());
        });
        let toml =
            "[telemetry.otlp]\nendpoint = \"http://collector:4318/\"\nsampling_ratio = 0.25\n";
        with_config(toml, &[], |config| {
            let otlp = config.unwrap().validate().unwrap().otlp.unwrap();
            assert_eq!(otlp.traces_url, "http://collector:4318/v1/traces");
            assert_eq!(otlp.sampling_ratio, 0.25);
        });
    }

    #[test]
    fn validate_rejects_a_bad_otlp_key_with_its_full_name() {
        with_config("[telemetry.otlp]\nsampling_ratio = 2.0\n", &[], |config| {
            let err = config.unwrap().validate().unwrap_err();
            assert_eq!(err.key, "telemetry.otlp.sampling_ratio");
        });
    }

    #[test]
    fn connect_can_be_enabled() {
        with_config("[connect]\nenabled = true\n", &[], |config| {
            let validated = config.unwrap().validate().unwrap();
            assert_eq!(validated.connect.unwrap().listener.listen.port(), 8083);
        });
    }

    #[test]
    fn schema_registry_can_be_enabled() {
        with_config("[schema_registry]\nenabled = true\n", &[], |config| {
            let validated = config.unwrap().validate().unwrap();
            let registry = validated.schema_registry.unwrap();
            assert_eq!(registry.listener.listen.port(), 8081);
            assert_eq!(registry.topic, "_schemas");
        });
    }

    #[test]
    fn console_is_off_by_default_and_reaches_the_enabled_services_over_loopback() {
        with_config("", &[], |config| {
            assert!(config.unwrap().validate().unwrap().console.is_none());
        });
        with_config(
            "[console]\nenabled = true\n[connect]\nenabled = true\n\
             [connect.http]\nlisten = \"0.0.0.0:18083\"\n",
            &[],
            |config| {
                let console = config.unwrap().validate().unwrap().console.unwrap();
                assert_eq!(console.listener.listen.port(), 8080);
                assert_eq!(
                    console.upstreams.connect.as_deref(),
                    Some("http://127.0.0.1:18083")
                );
                assert_eq!(console.upstreams.schema_registry, None);
                // No mirror in this process: nothing to read from the metrics listener.
                assert_eq!(console.upstreams.metrics, None);
            },
        );
    }

    #[test]
    fn validate_rejects_a_console_on_another_service_port() {
        with_config(
            "[console]\nenabled = true\n[console.http]\nlisten = \"0.0.0.0:8082\"\n",
            &[],
            |config| {
                let err = config.unwrap().validate().unwrap_err();
                assert_eq!(err.key, "console.http.listen");
            },
        );
    }

    #[test]
    fn console_typo_names_the_key() {
        with_config("[console]\nenable = true\n", &[], |config| {
            let err = config.unwrap_err();
            assert!(err.to_string().contains("enable"), "{err}");
        });
    }

    #[test]
    fn bridge_uses_the_built_in_registry_by_default() {
        with_config(
            "[schema_registry]\nenabled = true\n[schema_registry.http]\nlisten = \"0.0.0.0:18081\"\n",
            &[],
            |config| {
                let bridge = config.unwrap().validate().unwrap().bridge.unwrap();
                let registry = bridge.schema_registry.unwrap();
                assert_eq!(registry.urls, "http://127.0.0.1:18081");
            },
        );
        with_config(
            "[schema_registry]\nenabled = true\n[bridge]\nschema_registry_url = \"http://other:8081\"\n",
            &[],
            |config| {
                let bridge = config.unwrap().validate().unwrap().bridge.unwrap();
                assert_eq!(bridge.schema_registry.unwrap().urls, "http://other:8081");
            },
        );
        with_config("", &[], |config| {
            let bridge = config.unwrap().validate().unwrap().bridge.unwrap();
            assert!(bridge.schema_registry.is_none());
        });
    }

    #[test]
    fn validate_rejects_schema_registry_typo() {
        with_config(
            "[schema_registry]\nkafkastore_topik = \"x\"\n",
            &[],
            |config| {
                let err = config.unwrap_err();
                assert!(err.to_string().contains("kafkastore_topik"), "{err}");
            },
        );
    }

    #[test]
    fn validate_rejects_port_clash() {
        let text =
            "[bridge.http]\nlisten = \"0.0.0.0:9000\"\n[metrics.http]\nlisten = \"0.0.0.0:9000\"\n";
        with_config(text, &[], |config| {
            let err = config.unwrap().validate().unwrap_err();
            assert_eq!(err.key, "metrics.http.listen");
        });
    }
}
