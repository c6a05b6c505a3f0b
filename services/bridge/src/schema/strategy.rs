//! Which schema a produced key or value uses: Confluent's subject name strategies and the
//! ways a v2 or v3 request names a schema (REST Proxy's `SchemaManagerImpl`):
//!
//! - an id: that schema, whatever its subject;
//! - a schema text: registered under the strategy's subject (idempotent, cached);
//! - v3 only, a version with a subject (or a strategy): that version;
//! - v3 only, nothing but a subject or strategy: the subject's latest version.

use std::sync::Arc;

use super::{ReadySchema, SchemaCodecs, SchemaError, SchemaFormat};

/// Confluent's `subject.name.strategy`, by its v3 name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::enum_variant_names)] // Confluent's names: TOPIC_NAME, RECORD_NAME, …
pub(crate) enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value`.
    #[default]
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

impl SubjectNameStrategy {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "TOPIC_NAME" => Some(Self::TopicName),
            "RECORD_NAME" => Some(Self::RecordName),
            "TOPIC_RECORD_NAME" => Some(Self::TopicRecordName),
            _ => None,
        }
    }

    /// The subject, given the record name when the strategy needs one.
    pub(crate) fn subject(
        self,
        topic: &str,
        is_key: bool,
        record_name: Option<&str>,
    ) -> Result<String, SchemaError> {
        let needs_name = || {
            SchemaError::InvalidSchema(
                "RECORD_NAME and TOPIC_RECORD_NAME need a schema with a record name".to_owned(),
            )
        };
        Ok(match self {
            Self::TopicName => format!("{topic}-{}", if is_key { "key" } else { "value" }),
            Self::RecordName => record_name.ok_or_else(needs_name)?.to_owned(),
            Self::TopicRecordName => format!("{topic}-{}", record_name.ok_or_else(needs_name)?),
        })
    }
}

/// How a request names the schema of a key or value.
#[derive(Debug, Clone)]
pub(crate) enum SchemaChoice {
    Id(i32),
    Text(String),
    Version(i32),
    Latest,
}

/// The schema a key or value is written with, and how the answer describes it.
#[derive(Debug, Clone)]
pub(crate) struct ChosenSchema {
    pub schema: Arc<ReadySchema>,
    pub subject: Option<String>,
    pub version: Option<i32>,
}

/// Finds (registering when given a text) the schema of a key or value.
pub(crate) async fn choose(
    codecs: &SchemaCodecs,
    topic: &str,
    is_key: bool,
    format: SchemaFormat,
    choice: SchemaChoice,
    subject: Option<&str>,
    strategy: SubjectNameStrategy,
) -> Result<ChosenSchema, SchemaError> {
    let chosen = match choice {
        SchemaChoice::Id(id) => ChosenSchema {
            schema: codecs.by_id(id).await?,
            subject: subject.map(str::to_owned),
            version: None,
        },
        SchemaChoice::Text(text) => {
            let record_name = record_name_of(format, &text)?;
            let subject = match subject {
                Some(subject) => subject.to_owned(),
                None => strategy.subject(topic, is_key, record_name.as_deref())?,
            };
            let schema = codecs.register(&subject, format, &text).await?;
            let version = codecs.version_of(&subject, format, &text).await?;
            ChosenSchema {
                schema,
                subject: Some(subject),
                version,
            }
        }
        SchemaChoice::Version(version) => {
            let subject = fixed_subject(subject, strategy, topic, is_key)?;
            let registered = codecs
                .client()
                .version(&subject, version)
                .await
                .map_err(SchemaError::from_client)?;
            ChosenSchema {
                schema: codecs.by_id(registered.id).await?,
                subject: Some(subject),
                version: registered.version.or(Some(version)),
            }
        }
        SchemaChoice::Latest => {
            let subject = fixed_subject(subject, strategy, topic, is_key)?;
            let registered = codecs
                .client()
                .latest(&subject)
                .await
                .map_err(SchemaError::from_client)?;
            ChosenSchema {
                schema: codecs.by_id(registered.id).await?,
                subject: Some(subject),
                version: registered.version,
            }
        }
    };
    if chosen.schema.format() != format {
        return Err(SchemaError::InvalidSchema(format!(
            "schema {} is a {} schema, not {}",
            chosen.schema.id,
            chosen.schema.format().name(),
            format.name()
        )));
    }
    Ok(chosen)
}

/// Without a schema text, only the topic strategy (or an explicit subject) names a subject.
fn fixed_subject(
    subject: Option<&str>,
    strategy: SubjectNameStrategy,
    topic: &str,
    is_key: bool,
) -> Result<String, SchemaError> {
    match subject {
        Some(subject) => Ok(subject.to_owned()),
        None => strategy.subject(topic, is_key, None),
    }
}

/// The record name of a schema text, for the RECORD_NAME strategies.
fn record_name_of(format: SchemaFormat, text: &str) -> Result<Option<String>, SchemaError> {
    let compiled = schemas::CompiledSchema::compile_text(format.schema_type(), text, &[])
        .map_err(SchemaError::InvalidSchema)?;
    let ready = ReadySchema {
        id: 0,
        compiled,
        avro_names: super::avro_json::Names::default(),
    };
    Ok(ready.record_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_name_subjects_as_confluent_does() {
        let topic = SubjectNameStrategy::TopicName;
        assert_eq!(topic.subject("t", true, None).unwrap(), "t-key");
        assert_eq!(topic.subject("t", false, Some("a.B")).unwrap(), "t-value");
        let record = SubjectNameStrategy::RecordName;
        assert_eq!(record.subject("t", false, Some("a.B")).unwrap(), "a.B");
        assert!(record.subject("t", false, None).is_err());
        let both = SubjectNameStrategy::parse("topic_record_name").unwrap();
        assert_eq!(both.subject("t", true, Some("a.B")).unwrap(), "t-a.B");
        assert_eq!(SubjectNameStrategy::parse("OTHER"), None);
    }
}
