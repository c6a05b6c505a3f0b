//! `/connector-plugins`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde_json::Value;

use super::connectors::bool_param;
use super::entities::{ConfigInfos, ConfigKeyInfo, PluginDesc};
use super::{AppState, KafkaJson};
use crate::connector_config;
use crate::converters::CONVERTER_CLASSES;
use crate::error::{ErrorBody, RestError};
use crate::herder;
use crate::transforms::{PREDICATE_CLASSES, TRANSFORM_CLASSES};

/// Our own namespace: its class names stay accepted but are not listed, since users
/// configure (and deployment scripts look for) the names of the products we replace.
const OWN_NAMESPACE: &str = "io.kafkagateway.";

/// The class names a plugin is listed under: its class and every alias that is another
/// product's class name (Debezium's MariaDB connector next to its MySQL one), so a script
/// that checks the list before deploying finds the name it configures.
fn listed_classes<'a>(
    class: &'a str,
    aliases: &'a [&'a str],
) -> impl Iterator<Item = &'a str> + 'a {
    std::iter::once(class)
        .chain(aliases.iter().copied().filter(|alias| alias.contains('.')))
        .filter(|name| !name.starts_with(OWN_NAMESPACE))
}

#[utoipa::path(get, path = "/connector-plugins", tag = "plugins",
    params(("connectorsOnly" = Option<bool>, Query, description = "default true")),
    responses((status = 200, body = Vec<PluginDesc>),
        (status = 400, description = "connectorsOnly is not true or false", body = ErrorBody)))]
pub async fn list_plugins(
    State(runtime): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<PluginDesc>>, RestError> {
    let connectors_only = bool_param(query.as_deref(), "connectorsOnly")?.unwrap_or(true);
    let mut plugins: Vec<PluginDesc> = runtime
        .plugins
        .plugins()
        .iter()
        .flat_map(|p| {
            listed_classes(p.info().class, p.info().aliases).map(|class| PluginDesc {
                class: class.to_owned(),
                plugin_type: p.type_name().to_owned(),
                version: Some(p.info().version.to_owned()).filter(|v| !v.is_empty()),
            })
        })
        .collect();
    plugins.sort_by(|a, b| a.class.cmp(&b.class));
    if !connectors_only {
        let others = [
            ("transformation", TRANSFORM_CLASSES),
            ("predicate", PREDICATE_CLASSES),
            ("converter", CONVERTER_CLASSES),
        ];
        for (kind, classes) in others {
            plugins.extend(classes.iter().map(|c| PluginDesc {
                class: (*c).to_owned(),
                plugin_type: kind.to_owned(),
                version: None,
            }));
        }
    }
    Ok(Json(plugins))
}

#[utoipa::path(get, path = "/connector-plugins/{plugin}/config", tag = "plugins", params(("plugin" = String, Path)),
    responses((status = 200, body = Vec<ConfigKeyInfo>), (status = 404, body = ErrorBody)))]
pub async fn plugin_config(
    State(runtime): State<AppState>,
    Path(plugin): Path<String>,
) -> Result<Json<Vec<ConfigKeyInfo>>, RestError> {
    let found = runtime
        .plugins
        .find(&plugin)
        .ok_or_else(|| RestError::not_found(format!("Unknown plugin {plugin}.")))?;
    let definitions = connector_config::plugin_definition(found)
        .keys()
        .iter()
        .map(|key| ConfigKeyInfo {
            name: key.name.clone(),
            config_type: key.config_type.name().to_owned(),
            required: key.required(),
            default_value: key.default.clone(),
            importance: key.importance.name().to_owned(),
            documentation: key.documentation.clone(),
            group: key.group.clone(),
            width: key.width.name().to_owned(),
            display_name: key.display_name.clone(),
            dependents: Vec::new(),
            order: key.order,
        })
        .collect();
    Ok(Json(definitions))
}

#[utoipa::path(put, path = "/connector-plugins/{plugin}/config/validate", tag = "plugins", params(("plugin" = String, Path)),
    request_body = BTreeMap<String, String>,
    responses((status = 200, body = ConfigInfos),
        (status = 400, description = "No `connector.class`, another plugin's class, or a body that is not JSON", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody)))]
pub async fn validate_config(
    State(runtime): State<AppState>,
    Path(plugin): Path<String>,
    KafkaJson(config): KafkaJson<BTreeMap<String, Value>>,
) -> Result<Json<ConfigInfos>, RestError> {
    let config = herder::stringify(config)?;
    let class = config
        .get("connector.class")
        .map(|c| c.trim().to_owned())
        .unwrap_or_default();
    let plugin_simple = plugin.rsplit('.').next().unwrap_or(&plugin);
    let class_simple = class.rsplit('.').next().unwrap_or(&class);
    let same = class.ends_with(&plugin)
        || class_simple.strip_suffix("Connector") == Some(plugin_simple)
        || runtime
            .plugins
            .find(&plugin)
            .zip(runtime.plugins.find(&class))
            .is_some_and(|(a, b)| a.info().class == b.info().class);
    if class.is_empty() || !same {
        return Err(RestError::bad_request(format!(
            "Included connector type {class} does not match request type {plugin}"
        )));
    }
    herder::validate_config(&runtime, &config).map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_are_listed_under_the_names_users_configure() {
        let listed: Vec<&str> = listed_classes(
            "io.debezium.connector.mysql.MySqlConnector",
            &[
                "io.debezium.connector.mariadb.MariaDbConnector",
                "io.kafkagateway.connect.Own",
                "MySqlCdc",
            ],
        )
        .collect();
        assert_eq!(
            listed,
            [
                "io.debezium.connector.mysql.MySqlConnector",
                "io.debezium.connector.mariadb.MariaDbConnector"
            ]
        );
    }
}
