//! Single message transforms (SMTs) and predicates, configured as Kafka Connect does:
//! `transforms=a,b`, `transforms.a.type=org.apache.kafka.connect.transforms.InsertField$Value`,
//! `transforms.a.<key>=…`, `transforms.a.predicate=p`, `transforms.a.negate=true`,
//! `predicates=p`, `predicates.p.type=…`.
//!
//! Class names are matched on their simple name (the part after the last `.`), so Kafka's,
//! Debezium's and short names (`InsertField$Value`) all work. Values are JSON; when a record
//! side has a Connect schema, the SMTs that change its shape update the schema too, or
//! drop it (the record then travels schemaless) where an exact schema cannot be derived.

use std::sync::Arc;

mod cast;
mod debezium;
mod fields;
mod headers;
mod predicates;
pub(crate) mod routing;

use connect_api::{ConfigMap, ConnectRecord, Schema};
use serde_json::Value;

use crate::error::ConfigIssue;
pub use predicates::Predicate;

/// The key or the value of a record (`$Key` / `$Value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

impl Side {
    pub fn of(record: &mut ConnectRecord, side: Side) -> (&mut Option<Arc<Schema>>, &mut Value) {
        match side {
            Side::Key => (&mut record.key_schema, &mut record.key),
            Side::Value => (&mut record.value_schema, &mut record.value),
        }
    }
}

/// The runtime a chain runs in: Kafka's SMTs see a `SourceRecord` or a `SinkRecord`, and
/// some refuse one of them (`InsertField`'s `offset.field` needs a sink record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Source,
    Sink,
}

/// One configured SMT.
pub trait Transformation: Send + Sync + std::fmt::Debug {
    /// `Ok(None)` drops the record.
    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, String>;
}

/// The SMT classes `GET /connector-plugins?connectorsOnly=false` lists.
pub const TRANSFORM_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.transforms.Cast$Key",
    "org.apache.kafka.connect.transforms.Cast$Value",
    "org.apache.kafka.connect.transforms.DropHeaders",
    "org.apache.kafka.connect.transforms.ExtractField$Key",
    "org.apache.kafka.connect.transforms.ExtractField$Value",
    "org.apache.kafka.connect.transforms.Filter",
    "org.apache.kafka.connect.transforms.Flatten$Key",
    "org.apache.kafka.connect.transforms.Flatten$Value",
    "org.apache.kafka.connect.transforms.HeaderFrom$Key",
    "org.apache.kafka.connect.transforms.HeaderFrom$Value",
    "org.apache.kafka.connect.transforms.HoistField$Key",
    "org.apache.kafka.connect.transforms.HoistField$Value",
    "org.apache.kafka.connect.transforms.InsertField$Key",
    "org.apache.kafka.connect.transforms.InsertField$Value",
    "org.apache.kafka.connect.transforms.InsertHeader",
    "org.apache.kafka.connect.transforms.MaskField$Key",
    "org.apache.kafka.connect.transforms.MaskField$Value",
    "org.apache.kafka.connect.transforms.RegexRouter",
    "org.apache.kafka.connect.transforms.ReplaceField$Key",
    "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "org.apache.kafka.connect.transforms.TimestampConverter$Key",
    "org.apache.kafka.connect.transforms.TimestampConverter$Value",
    "org.apache.kafka.connect.transforms.TimestampRouter",
    "org.apache.kafka.connect.transforms.ValueToKey",
    "io.debezium.transforms.ExtractNewRecordState",
];

/// The predicate classes listed next to the SMTs.
pub const PREDICATE_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
];

/// The settings of one alias, `transforms.<alias>.` stripped.
#[derive(Debug, Clone)]
pub struct AliasConfig<'a> {
    pub prefix: String,
    pub config: &'a ConfigMap,
}

impl AliasConfig<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.config
            .get(&format!("{}{key}", self.prefix))
            .map(String::as_str)
    }

    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn required(&self, key: &str) -> Result<&str, ConfigIssue> {
        match self.get(key) {
            Some(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(ConfigIssue::new(
                self.key(key),
                format!("Missing required configuration \"{key}\" which has no default value."),
            )),
        }
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        connect_api::config::split_list(self.get(key).unwrap_or_default())
    }
}

/// One step of the chain: the SMT plus its optional predicate.
#[derive(Debug)]
struct Step {
    transformation: Box<dyn Transformation>,
    predicate: Option<(Predicate, bool)>,
}

/// The SMT chain of one connector.
#[derive(Debug, Default)]
pub struct TransformChain {
    steps: Vec<Step>,
}

impl TransformChain {
    /// Builds the chain from a connector config; every problem names its key.
    pub fn from_config(config: &ConfigMap, direction: Direction) -> Result<Self, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut steps = Vec::new();
        let predicates = predicates::from_config(config, &mut issues);
        let aliases =
            connect_api::config::split_list(config.get("transforms").map_or("", String::as_str));
        for alias in aliases {
            let settings = AliasConfig {
                prefix: format!("transforms.{alias}."),
                config,
            };
            let class = match settings.required("type") {
                Ok(class) => class.trim().to_owned(),
                Err(issue) => {
                    issues.push(issue);
                    continue;
                }
            };
            let built = build(&class, direction, &settings);
            let predicate = match settings.get("predicate").map(str::trim) {
                None | Some("") => None,
                Some(name) => {
                    match predicates.iter().find(|(alias, _)| alias == name) {
                        Some((_, predicate)) => {
                            let negate = settings
                                .get("negate")
                                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
                            Some((predicate.clone(), negate))
                        }
                        None => {
                            issues.push(ConfigIssue::new(
                            settings.key("predicate"),
                            format!("Invalid value {name} for configuration {}: undefined predicate", settings.key("predicate")),
                        ));
                            None
                        }
                    }
                }
            };
            match built {
                Ok(transformation) => steps.push(Step {
                    transformation,
                    predicate,
                }),
                Err(issue) => issues.push(issue),
            }
        }
        if issues.is_empty() {
            Ok(Self { steps })
        } else {
            Err(issues)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs the chain; `Ok(None)` when a step dropped the record.
    pub fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        for step in &self.steps {
            if let Some((predicate, negate)) = &step.predicate
                && predicate.test(&record) == *negate
            {
                continue;
            }
            match step.transformation.apply(record)? {
                Some(next) => record = next,
                None => return Ok(None),
            }
        }
        Ok(Some(record))
    }
}

fn build(
    class: &str,
    direction: Direction,
    settings: &AliasConfig<'_>,
) -> Result<Box<dyn Transformation>, ConfigIssue> {
    let simple = class.rsplit('.').next().unwrap_or(class);
    let (name, side) = match simple.split_once('$') {
        Some((name, "Key")) => (name, Some(Side::Key)),
        Some((name, "Value")) => (name, Some(Side::Value)),
        Some((name, _)) => (name, None),
        None => (simple, None),
    };
    let side_or_value = side.unwrap_or(Side::Value);
    let transformation: Box<dyn Transformation> = match name {
        "InsertField" => Box::new(fields::InsertField::new(
            side_or_value,
            direction,
            settings,
        )?),
        "ReplaceField" => Box::new(fields::ReplaceField::new(side_or_value, settings)?),
        "MaskField" => Box::new(fields::MaskField::new(side_or_value, settings)?),
        "ValueToKey" => Box::new(fields::ValueToKey::new(settings)?),
        "ExtractField" => Box::new(fields::ExtractField::new(side_or_value, settings)?),
        "HoistField" => Box::new(fields::HoistField::new(side_or_value, settings)?),
        "Cast" => Box::new(cast::Cast::new(side_or_value, settings)?),
        "Flatten" => Box::new(fields::Flatten::new(side_or_value, settings)),
        "TimestampConverter" => {
            Box::new(routing::TimestampConverter::new(side_or_value, settings)?)
        }
        "RegexRouter" => Box::new(routing::RegexRouter::new(settings)?),
        "TimestampRouter" => Box::new(routing::TimestampRouter::new(settings)),
        "Filter" => Box::new(routing::Filter),
        "InsertHeader" => Box::new(headers::InsertHeader::new(settings)?),
        "DropHeaders" => Box::new(headers::DropHeaders::new(settings)?),
        "HeaderFrom" => Box::new(headers::HeaderFrom::new(side_or_value, settings)?),
        "ExtractNewRecordState" => Box::new(debezium::ExtractNewRecordState::new(settings)?),
        _ => {
            let key = settings.key("type");
            return Err(ConfigIssue::new(
                key.clone(),
                format!(
                    "Invalid value {class} for configuration {key}: Class {class} could not be found."
                ),
            ));
        }
    };
    Ok(transformation)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn record(value: Value) -> ConnectRecord {
        ConnectRecord::new("orders", None, value)
    }

    #[test]
    fn chain_applies_in_order_with_predicates() {
        let chain = TransformChain::from_config(
            &config(&[
                ("transforms", "insert,route,drop"),
                (
                    "transforms.insert.type",
                    "org.apache.kafka.connect.transforms.InsertField$Value",
                ),
                ("transforms.insert.static.field", "source"),
                ("transforms.insert.static.value", "gateway"),
                (
                    "transforms.route.type",
                    "org.apache.kafka.connect.transforms.RegexRouter",
                ),
                ("transforms.route.regex", "(.*)s"),
                ("transforms.route.replacement", "$1-topic"),
                (
                    "transforms.drop.type",
                    "org.apache.kafka.connect.transforms.Filter",
                ),
                ("transforms.drop.predicate", "tomb"),
                ("predicates", "tomb"),
                (
                    "predicates.tomb.type",
                    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
                ),
            ]),
            Direction::Source,
        )
        .unwrap();
        let out = chain.apply(record(json!({"id": 1}))).unwrap().unwrap();
        assert_eq!(out.topic, "order-topic");
        assert_eq!(out.value, json!({"id": 1, "source": "gateway"}));
        assert_eq!(chain.apply(record(Value::Null)).unwrap(), None);
    }

    #[test]
    fn negated_predicate_inverts() {
        let chain = TransformChain::from_config(
            &config(&[
                ("transforms", "drop"),
                ("transforms.drop.type", "Filter"),
                ("transforms.drop.predicate", "isOrders"),
                ("transforms.drop.negate", "true"),
                ("predicates", "isOrders"),
                ("predicates.isOrders.type", "TopicNameMatches"),
                ("predicates.isOrders.pattern", "orders"),
            ]),
            Direction::Source,
        )
        .unwrap();
        assert!(chain.apply(record(json!(1))).unwrap().is_some());
        let mut other = record(json!(1));
        other.topic = "users".to_owned();
        assert!(chain.apply(other).unwrap().is_none());
    }

    #[test]
    fn unknown_smt_and_missing_keys_name_their_keys() {
        let issues = TransformChain::from_config(
            &config(&[
                ("transforms", "a,b,c"),
                ("transforms.a.type", "com.example.Nope"),
                (
                    "transforms.b.type",
                    "org.apache.kafka.connect.transforms.ExtractField$Value",
                ),
            ]),
            Direction::Source,
        )
        .unwrap_err();
        let keys: Vec<_> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "transforms.a.type",
                "transforms.b.field",
                "transforms.c.type"
            ]
        );
    }
}
