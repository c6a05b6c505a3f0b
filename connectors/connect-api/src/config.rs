//! `ConfigDef`: a typed description of a connector's `Map<String,String>` config.
//!
//! Connectors describe their keys once; the runtime uses the description for
//! `GET /connector-plugins/{p}/config`, for per-key validation in Kafka's `ConfigInfos`
//! shape, and connectors turn the map into their own typed struct through
//! [`ParsedConfig`]'s getters, which never panic: a typo becomes an error naming the key.

use std::collections::BTreeMap;

/// A connector config as Kafka Connect keeps it: strings only.
pub type ConfigMap = BTreeMap<String, String>;

/// ConfigDef type names as Kafka spells them in `definition.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    pub fn name(self) -> &'static str {
        match self {
            Self::Boolean => "BOOLEAN",
            Self::String => "STRING",
            Self::Int => "INT",
            Self::Short => "SHORT",
            Self::Long => "LONG",
            Self::Double => "DOUBLE",
            Self::List => "LIST",
            Self::Class => "CLASS",
            Self::Password => "PASSWORD",
        }
    }

    /// Kafka's parse check; the error reads like `ConfigDef.parseType`'s.
    fn check(self, key: &str, value: &str) -> Result<(), String> {
        let trimmed = value.trim();
        let ok = match self {
            Self::Boolean => {
                trimmed.eq_ignore_ascii_case("true") || trimmed.eq_ignore_ascii_case("false")
            }
            Self::Int => trimmed.parse::<i32>().is_ok(),
            Self::Short => trimmed.parse::<i16>().is_ok(),
            Self::Long => trimmed.parse::<i64>().is_ok(),
            Self::Double => trimmed.parse::<f64>().is_ok(),
            Self::String | Self::List | Self::Class | Self::Password => true,
        };
        if ok {
            Ok(())
        } else {
            let expected = match self {
                Self::Boolean => "Expected value to be either true or false".to_owned(),
                other => format!("Not a number of type {}", other.name()),
            };
            Err(format!(
                "Invalid value {value} for configuration {key}: {expected}"
            ))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

impl Importance {
    pub fn name(self) -> &'static str {
        match self {
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    None,
    Short,
    Medium,
    Long,
}

impl Width {
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Short => "SHORT",
            Self::Medium => "MEDIUM",
            Self::Long => "LONG",
        }
    }
}

/// A check beyond the type: returns the reason the value is wrong.
pub type Validator = fn(&str) -> Result<(), String>;

/// One config key.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub name: String,
    pub config_type: ConfigType,
    /// `None` = no default, so the key is required (unless [`ConfigKey::null_default`]).
    pub default: Option<String>,
    /// Kafka's `null` default: the key may be left out and then has no value at all.
    pub optional: bool,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub order: i32,
    pub width: Width,
    pub display_name: String,
    pub recommended_values: Vec<String>,
    pub validator: Option<Validator>,
}

impl ConfigKey {
    /// A required key (no default).
    pub fn new(name: impl Into<String>, config_type: ConfigType) -> Self {
        let name = name.into();
        Self {
            display_name: name.clone(),
            name,
            config_type,
            default: None,
            optional: false,
            importance: Importance::Medium,
            documentation: String::new(),
            group: None,
            order: -1,
            width: Width::None,
            recommended_values: Vec::new(),
            validator: None,
        }
    }

    pub fn default_value(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// Kafka's `null` default: not required, and no value when left out.
    pub fn null_default(mut self) -> Self {
        self.default = None;
        self.optional = true;
        self
    }

    pub fn importance(mut self, importance: Importance) -> Self {
        self.importance = importance;
        self
    }

    pub fn doc(mut self, documentation: impl Into<String>) -> Self {
        self.documentation = documentation.into();
        self
    }

    pub fn group(mut self, group: impl Into<String>, order: i32) -> Self {
        self.group = Some(group.into());
        self.order = order;
        self
    }

    pub fn width(mut self, width: Width) -> Self {
        self.width = width;
        self
    }

    pub fn display(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = display_name.into();
        self
    }

    pub fn recommended(mut self, values: &[&str]) -> Self {
        self.recommended_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    pub fn validator(mut self, validator: Validator) -> Self {
        self.validator = Some(validator);
        self
    }

    pub fn required(&self) -> bool {
        self.default.is_none() && !self.optional
    }
}

/// The outcome of validating one key, as in Kafka's `ConfigValueInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigValue {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

impl ConfigValue {
    pub fn new(name: impl Into<String>, value: Option<String>) -> Self {
        Self {
            name: name.into(),
            value,
            recommended_values: Vec::new(),
            errors: Vec::new(),
            visible: true,
        }
    }
}

/// An ordered set of config keys.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

impl ConfigDef {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn define(mut self, key: ConfigKey) -> Self {
        self.keys.retain(|k| k.name != key.name);
        self.keys.push(key);
        self
    }

    /// Every key of `other` after this one's.
    pub fn merge(mut self, other: ConfigDef) -> Self {
        for key in other.keys {
            self = self.define(key);
        }
        self
    }

    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Validates every defined key of `config`; one [`ConfigValue`] per key, in definition
    /// order, with Kafka's messages.
    pub fn validate(&self, config: &ConfigMap) -> Vec<ConfigValue> {
        self.keys
            .iter()
            .map(|key| {
                let raw = config.get(&key.name).cloned();
                let mut value =
                    ConfigValue::new(&key.name, raw.clone().or_else(|| key.default.clone()));
                value.recommended_values = key.recommended_values.clone();
                match (&raw, &key.default) {
                    (None, None) if key.optional => {}
                    (None, None) => value.errors.push(format!(
                        "Missing required configuration \"{}\" which has no default value.",
                        key.name
                    )),
                    (Some(text), _) => {
                        if let Err(error) = key.config_type.check(&key.name, text) {
                            value.errors.push(error);
                        } else if let Some(validator) = key.validator
                            && let Err(reason) = validator(text)
                        {
                            value.errors.push(format!(
                                "Invalid value {text} for configuration {}: {reason}",
                                key.name
                            ));
                        }
                    }
                    (None, Some(_)) => {}
                }
                if key.config_type == ConfigType::Password && value.value.is_some() {
                    value.value = Some(common::HIDDEN.to_owned());
                }
                value
            })
            .collect()
    }

    /// Validates and, when every key is fine, returns typed getters over the map.
    pub fn parse<'a>(
        &'a self,
        config: &'a ConfigMap,
    ) -> Result<ParsedConfig<'a>, crate::ConnectError> {
        for value in self.validate(config) {
            if let Some(error) = value.errors.first() {
                return Err(crate::ConnectError::config(value.name, error.clone()));
            }
        }
        Ok(ParsedConfig { def: self, config })
    }
}

/// Typed getters over a validated config; a key missing from the map reads its default.
#[derive(Debug, Clone, Copy)]
pub struct ParsedConfig<'a> {
    def: &'a ConfigDef,
    config: &'a ConfigMap,
}

impl ParsedConfig<'_> {
    fn raw(&self, key: &str) -> Option<&str> {
        self.config
            .get(key)
            .map(String::as_str)
            .or_else(|| self.def.key(key).and_then(|k| k.default.as_deref()))
    }

    pub fn string(&self, key: &str) -> String {
        self.raw(key).unwrap_or_default().to_owned()
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<T, crate::ConnectError> {
        let text = self.raw(key).unwrap_or_default().trim();
        text.parse()
            .map_err(|_| crate::ConnectError::config(key, format!("`{text}` is not a number")))
    }

    pub fn int(&self, key: &str) -> Result<i32, crate::ConnectError> {
        self.number(key)
    }

    pub fn long(&self, key: &str) -> Result<i64, crate::ConnectError> {
        self.number(key)
    }

    pub fn boolean(&self, key: &str) -> bool {
        self.raw(key)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// A comma-separated list, trimmed, without empty items.
    pub fn list(&self, key: &str) -> Vec<String> {
        split_list(self.raw(key).unwrap_or_default())
    }
}

/// Kafka's LIST parsing: comma-separated, trimmed, empty items dropped.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new("file", ConfigType::String))
            .define(ConfigKey::new("batch.size", ConfigType::Int).default_value("2000"))
            .define(ConfigKey::new("secret", ConfigType::Password).default_value(""))
    }

    #[test]
    fn missing_required_key_uses_kafka_message() {
        let values = def().validate(&ConfigMap::new());
        assert_eq!(
            values[0].errors,
            vec!["Missing required configuration \"file\" which has no default value.".to_owned()]
        );
        assert!(values[1].errors.is_empty());
    }

    #[test]
    fn wrong_type_names_the_key() {
        let config: ConfigMap = [("file", "/x"), ("batch.size", "many")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let values = def().validate(&config);
        assert_eq!(
            values[1].errors,
            vec![
                "Invalid value many for configuration batch.size: Not a number of type INT"
                    .to_owned()
            ]
        );
        let error = def().parse(&config).unwrap_err();
        assert!(
            matches!(error, crate::ConnectError::Config { ref key, .. } if key == "batch.size")
        );
    }

    #[test]
    fn null_default_keys_are_optional() {
        let def = ConfigDef::new()
            .define(ConfigKey::new("offsets.storage.topic", ConfigType::String).null_default());
        let values = def.validate(&ConfigMap::new());
        assert!(values[0].errors.is_empty());
        assert_eq!(values[0].value, None);
        assert!(!def.keys()[0].required());
    }

    #[test]
    fn passwords_are_hidden() {
        let config: ConfigMap = [("secret", "s3cr3t")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            def().validate(&config)[2].value.as_deref(),
            Some("[hidden]")
        );
    }
}
