//! DescribeConfigs with synonyms, for the resources rust-rdkafka cannot name: the
//! cluster-wide broker defaults (a BROKER resource with an empty name) next to one broker's
//! and one topic's configs. A broker's own configs are asked of that broker, as Java's
//! admin client does.

use kafka_protocol::messages::DescribeConfigsRequest;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::protocol::StrBytes;

use super::client::WireClient;
use super::configs::ConfigResource;
use super::error::WireError;

/// One config entry as the broker describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedConfig {
    pub name: String,
    /// `None` for a sensitive or unset value.
    pub value: Option<String>,
    pub read_only: bool,
    pub sensitive: bool,
    /// Java's `ConfigEntry.ConfigSource` name (`DYNAMIC_BROKER_CONFIG`, …).
    pub source: &'static str,
    /// Where the value could come from, most specific first (name, value, source).
    pub synonyms: Vec<(String, Option<String>, &'static str)>,
}

impl DescribedConfig {
    /// Whether the value is Kafka's default (no synonym set it).
    pub fn is_default(&self) -> bool {
        self.source == "DEFAULT_CONFIG"
    }
}

/// Java's names of the `config_source` codes.
fn source_name(code: i8) -> &'static str {
    match code {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

impl WireClient {
    /// Every config of `resource`, sorted by name.
    pub async fn describe_configs(
        &self,
        resource: &ConfigResource,
    ) -> Result<Vec<DescribedConfig>, WireError> {
        let request = DescribeConfigsRequest::default()
            .with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(resource.type_code())
                    .with_resource_name(StrBytes::from_string(resource.name()))
                    .with_configuration_keys(None),
            ])
            .with_include_synonyms(true);
        let response = match resource {
            ConfigResource::Broker(node) => self.send_to(*node, &request).await?,
            _ => self.send(&request).await?,
        };
        let mut configs = Vec::new();
        for result in response.results {
            if let Some(error) = WireError::broker(
                "describe configs",
                result.error_code,
                result.error_message.map(|m| m.to_string()),
            ) {
                return Err(error);
            }
            configs.extend(result.configs.into_iter().map(|entry| {
                DescribedConfig {
                    name: entry.name.to_string(),
                    value: entry
                        .value
                        .map(|v| v.to_string())
                        .filter(|_| !entry.is_sensitive),
                    read_only: entry.read_only,
                    sensitive: entry.is_sensitive,
                    source: source_name(entry.config_source),
                    synonyms: entry
                        .synonyms
                        .into_iter()
                        .map(|s| {
                            let value = s
                                .value
                                .map(|v| v.to_string())
                                .filter(|_| !entry.is_sensitive);
                            (s.name.to_string(), value, source_name(s.source))
                        })
                        .collect(),
                }
            }));
        }
        configs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(configs)
    }
}
