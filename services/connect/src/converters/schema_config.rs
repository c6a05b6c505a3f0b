//! The settings of Confluent's schema converters (`AvroConverter`, `JsonSchemaConverter`,
//! `ProtobufConverter`), read under the converter's prefix (`key.converter.` /
//! `value.converter.`) with Confluent's names and defaults. A key under the prefix that
//! none of them knows, or a bad value, is refused with the key's name.

use connect_api::ConfigMap;
use schemas::client::DEFAULT_CACHE_CAPACITY;
use schemas::{RegistryClientConfig, SchemaType};

use super::avro_data::AvroDataOptions;
use super::json_schema_data::JsonSchemaDataOptions;
use crate::error::ConfigIssue;

pub const AVRO_CONVERTER: &str = "io.confluent.connect.avro.AvroConverter";
pub const JSON_SCHEMA_CONVERTER: &str = "io.confluent.connect.json.JsonSchemaConverter";
pub const PROTOBUF_CONVERTER: &str = "io.confluent.connect.protobuf.ProtobufConverter";

const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";
const RECORD_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.RecordNameStrategy";
const TOPIC_RECORD_NAME_STRATEGY: &str =
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy";

/// Keys every schema converter reads; anything else under the prefix (and not a key of
/// the format's own, below) is a typo.
const KNOWN_KEYS: &[&str] = &[
    "schema.registry.url",
    "basic.auth.credentials.source",
    "basic.auth.user.info",
    "auto.register.schemas",
    "use.latest.version",
    "latest.compatibility.strict",
    "normalize.schemas",
    "key.subject.name.strategy",
    "value.subject.name.strategy",
    "schemas.cache.config",
];
/// `AvroConverter`'s own keys (`AvroDataConfig`).
const AVRO_KEYS: &[&str] = &[
    "enhanced.avro.schema.support",
    "connect.meta.data",
    "scrub.invalid.names",
];
/// `JsonSchemaConverter`'s own keys (`JsonSchemaDataConfig`) that change the mapping.
const JSON_SCHEMA_KEYS: &[&str] = &[
    "object.additional.properties",
    "use.optional.for.nonrequired",
];

fn format_keys(format: SchemaType) -> &'static [&'static str] {
    match format {
        SchemaType::Avro => AVRO_KEYS,
        SchemaType::Json => JSON_SCHEMA_KEYS,
        SchemaType::Protobuf => &[],
    }
}

/// How the subject of a schema is named (`{key,value}.subject.name.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value`.
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

impl SubjectNameStrategy {
    /// The subject for `topic` and the schema's record name (`None` for a non-record).
    pub fn subject(
        self,
        topic: &str,
        is_key: bool,
        record_name: Option<&str>,
    ) -> Result<String, String> {
        let record = || {
            record_name.ok_or_else(|| {
                "the record name strategies need a record (struct) schema".to_owned()
            })
        };
        Ok(match self {
            Self::TopicName => format!("{topic}-{}", if is_key { "key" } else { "value" }),
            Self::RecordName => record()?.to_owned(),
            Self::TopicRecordName => format!("{topic}-{}", record()?),
        })
    }
}

/// How a registered schema id is found for outgoing data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaLookup {
    /// `auto.register.schemas=true` (the default): register, or find registered.
    AutoRegister,
    /// `use.latest.version=true`: write with the subject's latest version.
    UseLatest { strict: bool },
    /// Neither: the schema must already be registered under the subject.
    LookUp,
}

/// A schema converter's validated settings.
#[derive(Debug, Clone)]
pub struct SchemaConverterSettings {
    pub format: SchemaType,
    pub is_key: bool,
    pub registry: RegistryClientConfig,
    pub lookup: SchemaLookup,
    pub normalize: bool,
    pub subject_name_strategy: SubjectNameStrategy,
    pub avro: AvroDataOptions,
    pub json_schema: JsonSchemaDataOptions,
}

impl SchemaConverterSettings {
    /// The format a converter class stands for, by its full or simple name.
    pub fn format_of(class: &str) -> Option<SchemaType> {
        match class.rsplit('.').next().unwrap_or(class) {
            "AvroConverter" => Some(SchemaType::Avro),
            "JsonSchemaConverter" => Some(SchemaType::Json),
            "ProtobufConverter" => Some(SchemaType::Protobuf),
            _ => None,
        }
    }

    /// Reads `<prefix>.*` (`prefix` = `key.converter` / `value.converter`).
    pub fn parse(
        config: &ConfigMap,
        prefix: &str,
        format: SchemaType,
        connector: &str,
    ) -> Result<Self, ConfigIssue> {
        let key_of = |name: &str| format!("{prefix}.{name}");
        let get = |name: &str| {
            config
                .get(&key_of(name))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        refuse_unknown_keys(config, prefix, format)?;
        let is_key = prefix.starts_with("key.");
        let url_key = key_of("schema.registry.url");
        let urls = get("schema.registry.url").ok_or_else(|| {
            ConfigIssue::new(
                &url_key,
                format!("Missing required configuration \"{url_key}\" which has no default value."),
            )
        })?;
        let mut registry = RegistryClientConfig::from_urls(urls, format!("connect/{connector}"))
            .map_err(|error| {
                ConfigIssue::new(
                    &url_key,
                    format!("Invalid value {urls} for configuration {url_key}: {error}"),
                )
            })?;
        registry.basic_auth = basic_auth(config, prefix, &mut registry)?;
        if let Some(capacity) = get("schemas.cache.config") {
            registry.cache_capacity = capacity
                .parse::<usize>()
                .ok()
                .filter(|c| *c > 0)
                .ok_or_else(|| {
                    invalid(
                        &key_of("schemas.cache.config"),
                        capacity,
                        "Expected a positive number of entries",
                    )
                })?;
        } else {
            registry.cache_capacity = DEFAULT_CACHE_CAPACITY;
        }
        let boolean = |name: &str, default: bool| -> Result<bool, ConfigIssue> {
            match get(name).map(str::to_ascii_lowercase).as_deref() {
                None => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => Err(invalid(
                    &key_of(name),
                    other,
                    "Expected value to be either true or false",
                )),
            }
        };
        let lookup = match (
            boolean("auto.register.schemas", true)?,
            boolean("use.latest.version", false)?,
        ) {
            (_, true) => SchemaLookup::UseLatest {
                strict: boolean("latest.compatibility.strict", true)?,
            },
            (true, false) => SchemaLookup::AutoRegister,
            (false, false) => SchemaLookup::LookUp,
        };
        let strategy_name = if is_key {
            "key.subject.name.strategy"
        } else {
            "value.subject.name.strategy"
        };
        let subject_name_strategy = match get(strategy_name) {
            None => SubjectNameStrategy::TopicName,
            Some(class) => match class.rsplit('.').next().unwrap_or(class) {
                "TopicNameStrategy" => SubjectNameStrategy::TopicName,
                "RecordNameStrategy" => SubjectNameStrategy::RecordName,
                "TopicRecordNameStrategy" => SubjectNameStrategy::TopicRecordName,
                _ => {
                    return Err(invalid(
                        &key_of(strategy_name),
                        class,
                        &format!(
                            "Class {class} could not be found (known: {TOPIC_NAME_STRATEGY}, {RECORD_NAME_STRATEGY}, {TOPIC_RECORD_NAME_STRATEGY})"
                        ),
                    ));
                }
            },
        };
        Ok(Self {
            format,
            is_key,
            registry,
            lookup,
            normalize: boolean("normalize.schemas", false)?,
            subject_name_strategy,
            avro: AvroDataOptions {
                connect_meta_data: boolean("connect.meta.data", true)?,
                enhanced_schema_support: boolean("enhanced.avro.schema.support", false)?,
                scrub_invalid_names: boolean("scrub.invalid.names", false)?,
            },
            json_schema: JsonSchemaDataOptions {
                object_additional_properties: boolean("object.additional.properties", true)?,
                use_optional_for_nonrequired: boolean("use.optional.for.nonrequired", false)?,
            },
        })
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigIssue {
    ConfigIssue::new(
        key,
        format!("Invalid value {value} for configuration {key}: {reason}"),
    )
}

fn refuse_unknown_keys(
    config: &ConfigMap,
    prefix: &str,
    format: SchemaType,
) -> Result<(), ConfigIssue> {
    let head = format!("{prefix}.");
    let known: Vec<&str> = KNOWN_KEYS
        .iter()
        .chain(format_keys(format))
        .copied()
        .collect();
    for key in config.keys() {
        if let Some(rest) = key.strip_prefix(&head)
            && !known.contains(&rest)
        {
            return Err(ConfigIssue::new(
                key,
                format!(
                    "Unknown configuration {key} for the schema converter (known: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// `basic.auth.credentials.source`: `URL` (the default: credentials in the URL's user
/// info) or `USER_INFO` (`basic.auth.user.info` = `user:password`).
fn basic_auth(
    config: &ConfigMap,
    prefix: &str,
    registry: &mut RegistryClientConfig,
) -> Result<Option<(String, String)>, ConfigIssue> {
    let source_key = format!("{prefix}.basic.auth.credentials.source");
    let info_key = format!("{prefix}.basic.auth.user.info");
    let source = config
        .get(&source_key)
        .map(|s| s.trim().to_ascii_uppercase());
    match source.as_deref().unwrap_or("URL") {
        "URL" => {
            let mut credentials = None;
            for url in &mut registry.urls {
                if !url.username().is_empty() {
                    let password = url.password().unwrap_or_default().to_owned();
                    credentials = Some((url.username().to_owned(), password));
                    let _ = url.set_username("");
                    let _ = url.set_password(None);
                }
            }
            Ok(credentials)
        }
        "USER_INFO" => {
            let info = config.get(&info_key).map(|i| i.trim()).unwrap_or_default();
            let (user, password) = info.split_once(':').ok_or_else(|| {
                ConfigIssue::new(
                    &info_key,
                    format!("{info_key} must be user:password when {source_key} is USER_INFO"),
                )
            })?;
            Ok(Some((user.to_owned(), password.to_owned())))
        }
        other => Err(invalid(
            &source_key,
            other,
            "String must be one of: URL, USER_INFO",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_confluents() {
        let settings = SchemaConverterSettings::parse(
            &config(&[(
                "value.converter.schema.registry.url",
                "http://a:8081, http://b:8081",
            )]),
            "value.converter",
            SchemaType::Avro,
            "c",
        )
        .unwrap();
        assert_eq!(settings.registry.urls.len(), 2);
        assert_eq!(settings.lookup, SchemaLookup::AutoRegister);
        assert_eq!(
            settings.subject_name_strategy,
            SubjectNameStrategy::TopicName
        );
        assert_eq!(settings.avro, AvroDataOptions::default());
        assert!(!settings.is_key);
        assert_eq!(settings.registry.cache_capacity, DEFAULT_CACHE_CAPACITY);
    }

    #[test]
    fn validate_rejects_a_missing_url() {
        let issue =
            SchemaConverterSettings::parse(&config(&[]), "key.converter", SchemaType::Avro, "c")
                .unwrap_err();
        assert_eq!(issue.key, "key.converter.schema.registry.url");
    }

    #[test]
    fn validate_rejects_unknown_keys_by_name() {
        let issue = SchemaConverterSettings::parse(
            &config(&[
                ("value.converter.schema.registry.url", "http://a"),
                ("value.converter.auto.register.schema", "true"),
            ]),
            "value.converter",
            SchemaType::Avro,
            "c",
        )
        .unwrap_err();
        assert_eq!(issue.key, "value.converter.auto.register.schema");
    }

    #[test]
    fn validate_rejects_bad_booleans_and_strategies() {
        for (key, value) in [
            ("value.converter.auto.register.schemas", "yes"),
            (
                "value.converter.value.subject.name.strategy",
                "com.x.MyStrategy",
            ),
            (
                "value.converter.basic.auth.credentials.source",
                "SASL_INHERIT",
            ),
            ("value.converter.schemas.cache.config", "0"),
        ] {
            let issue = SchemaConverterSettings::parse(
                &config(&[
                    ("value.converter.schema.registry.url", "http://a"),
                    (key, value),
                ]),
                "value.converter",
                SchemaType::Avro,
                "c",
            )
            .unwrap_err();
            assert_eq!(issue.key, key, "{issue:?}");
        }
    }

    #[test]
    fn validate_rejects_keys_of_another_format() {
        let issue = SchemaConverterSettings::parse(
            &config(&[
                ("value.converter.schema.registry.url", "http://a"),
                ("value.converter.enhanced.avro.schema.support", "true"),
            ]),
            "value.converter",
            SchemaType::Json,
            "c",
        )
        .unwrap_err();
        assert_eq!(issue.key, "value.converter.enhanced.avro.schema.support");
        let settings = SchemaConverterSettings::parse(
            &config(&[
                ("value.converter.schema.registry.url", "http://a"),
                ("value.converter.object.additional.properties", "false"),
            ]),
            "value.converter",
            SchemaType::Json,
            "c",
        )
        .unwrap();
        assert!(!settings.json_schema.object_additional_properties);
    }

    #[test]
    fn validate_rejects_user_info_without_a_colon() {
        let issue = SchemaConverterSettings::parse(
            &config(&[
                ("value.converter.schema.registry.url", "http://a"),
                ("value.converter.basic.auth.credentials.source", "USER_INFO"),
                ("value.converter.basic.auth.user.info", "alice"),
            ]),
            "value.converter",
            SchemaType::Avro,
            "c",
        )
        .unwrap_err();
        assert_eq!(issue.key, "value.converter.basic.auth.user.info");
    }

    #[test]
    fn credentials_come_from_user_info_or_the_url() {
        let settings = SchemaConverterSettings::parse(
            &config(&[
                ("value.converter.schema.registry.url", "http://a"),
                ("value.converter.basic.auth.credentials.source", "USER_INFO"),
                ("value.converter.basic.auth.user.info", "alice:s3cret"),
            ]),
            "value.converter",
            SchemaType::Avro,
            "c",
        )
        .unwrap();
        assert_eq!(
            settings.registry.basic_auth,
            Some(("alice".into(), "s3cret".into()))
        );
        let settings = SchemaConverterSettings::parse(
            &config(&[("key.converter.schema.registry.url", "http://bob:pw@a:8081")]),
            "key.converter",
            SchemaType::Avro,
            "c",
        )
        .unwrap();
        assert_eq!(
            settings.registry.basic_auth,
            Some(("bob".into(), "pw".into()))
        );
        assert_eq!(settings.registry.urls[0].as_str(), "http://a:8081/");
        assert!(settings.is_key);
    }

    #[test]
    fn subjects_follow_the_strategy() {
        let record = Some("a.b.Envelope");
        assert_eq!(
            SubjectNameStrategy::TopicName
                .subject("t", true, record)
                .unwrap(),
            "t-key"
        );
        assert_eq!(
            SubjectNameStrategy::TopicName
                .subject("t", false, None)
                .unwrap(),
            "t-value"
        );
        assert_eq!(
            SubjectNameStrategy::RecordName
                .subject("t", false, record)
                .unwrap(),
            "a.b.Envelope"
        );
        assert_eq!(
            SubjectNameStrategy::TopicRecordName
                .subject("t", false, record)
                .unwrap(),
            "t-a.b.Envelope"
        );
        assert!(
            SubjectNameStrategy::RecordName
                .subject("t", false, None)
                .is_err()
        );
    }
}
