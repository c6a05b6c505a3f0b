//! Predicates (KIP-585): `TopicNameMatches` (`pattern`), `HasHeaderKey` (`name`),
//! `RecordIsTombstone`.

use connect_api::{ConfigMap, ConnectRecord};
use regex::Regex;

use super::AliasConfig;
use crate::error::ConfigIssue;

#[derive(Debug, Clone)]
pub enum Predicate {
    TopicNameMatches(Regex),
    HasHeaderKey(String),
    RecordIsTombstone,
}

impl Predicate {
    pub fn test(&self, record: &ConnectRecord) -> bool {
        match self {
            Self::TopicNameMatches(pattern) => pattern.is_match(&record.topic),
            Self::HasHeaderKey(name) => record.header(name).is_some(),
            Self::RecordIsTombstone => record.value.is_null(),
        }
    }
}

/// Anchors a Java `Pattern.matcher().matches()` regex.
pub(super) fn full_match(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

/// Every predicate alias of `predicates=…`; problems go to `issues`.
pub(super) fn from_config(
    config: &ConfigMap,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<(String, Predicate)> {
    let aliases =
        connect_api::config::split_list(config.get("predicates").map_or("", String::as_str));
    let mut predicates = Vec::new();
    for alias in aliases {
        let settings = AliasConfig {
            prefix: format!("predicates.{alias}."),
            config,
        };
        let class = match settings.required("type") {
            Ok(class) => class.trim().to_owned(),
            Err(issue) => {
                issues.push(issue);
                continue;
            }
        };
        let simple = class.rsplit('.').next().unwrap_or(&class);
        let predicate = match simple {
            "TopicNameMatches" => settings.required("pattern").and_then(|pattern| {
                full_match(pattern)
                    .map(Predicate::TopicNameMatches)
                    .map_err(|error| {
                        ConfigIssue::new(
                            settings.key("pattern"),
                            format!("Invalid regex {pattern}: {error}"),
                        )
                    })
            }),
            "HasHeaderKey" => settings
                .required("name")
                .map(|name| Predicate::HasHeaderKey(name.to_owned())),
            "RecordIsTombstone" => Ok(Predicate::RecordIsTombstone),
            _ => Err(ConfigIssue::new(
                settings.key("type"),
                format!(
                    "Invalid value {class} for configuration {}: Class {class} could not be found.",
                    settings.key("type")
                ),
            )),
        };
        match predicate {
            Ok(predicate) => predicates.push((alias, predicate)),
            Err(issue) => issues.push(issue),
        }
    }
    predicates
}
