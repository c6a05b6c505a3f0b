//! The records of the `_schemas` topic, byte for byte as Confluent Schema Registry writes
//! them, and read as Confluent and Karapace write them.
//!
//! Keys are JSON objects whose field order is Confluent's `@JsonPropertyOrder`
//! (`keytype`, `subject`, `version`, `magic`): compaction compares raw key bytes, so a
//! tombstone written with another order or `magic` would leave the record alive (Confluent
//! issues #2961, #4420). Writing therefore goes through the `*_key` functions only, never
//! through a generic map.
//!
//! | keytype | key | value (null = tombstone) |
//! |---|---|---|
//! | `SCHEMA` | `{"keytype":"SCHEMA","subject":"t-value","version":1,"magic":1}` | `{"subject":"t-value","version":1,"id":1,"schema":"\"string\"","deleted":false}` |
//! | `CONFIG` | `{"keytype":"CONFIG","subject":"s","magic":0}` (global: no `subject`) | `{"subject":"s","compatibilityLevel":"FULL"}` |
//! | `MODE` | `{"keytype":"MODE","subject":"s","magic":0}` | `{"subject":"s","mode":"IMPORT"}` |
//! | `DELETE_SUBJECT` | `{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}` | `{"subject":"s","version":3}` |
//! | `CLEAR_SUBJECT` | `{"keytype":"CLEAR_SUBJECT","subject":"s","magic":0}` | `{"subject":"s"}` |
//! | `NOOP` | `{"keytype":"NOOP","magic":0}` | null |
//!
//! Reading tolerates what other writers produce: `"subject":null` for the global config or
//! mode (Confluent before 6.0.3, Karapace), a missing `schemaType` (= AVRO, Confluent up to
//! 7.9 and Karapace), unknown fields (`offset`, `ts`, `metadata`, `ruleSet`, `md5`), and
//! key types we do not use (`CONTEXT`, `ASSOC`), which are skipped.

use serde::{Deserialize, Serialize};

/// A reference from one schema to another registered one.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct SchemaReference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A key of the topic, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    Schema {
        subject: String,
        version: i32,
    },
    /// `subject` `None` = the global config.
    Config {
        subject: Option<String>,
    },
    /// `subject` `None` = the global mode.
    Mode {
        subject: Option<String>,
    },
    DeleteSubject {
        subject: String,
    },
    ClearSubject {
        subject: String,
    },
    Noop,
    /// A key type this registry does not use (`CONTEXT`, `ASSOC`, ...).
    Other {
        keytype: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("key is not a schema registry key: {0}")]
    Key(String),
    #[error("value of a {keytype} record is malformed: {reason}")]
    Value {
        keytype: &'static str,
        reason: String,
    },
}

#[derive(Deserialize)]
struct RawKey {
    keytype: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    version: Option<i32>,
}

impl RecordKey {
    pub fn parse(bytes: &[u8]) -> Result<Self, RecordError> {
        let raw: RawKey =
            serde_json::from_slice(bytes).map_err(|error| RecordError::Key(error.to_string()))?;
        let subject = |raw: RawKey| {
            raw.subject
                .ok_or_else(|| RecordError::Key(format!("{} key without subject", raw.keytype)))
        };
        Ok(match raw.keytype.as_str() {
            "SCHEMA" => {
                let version = raw
                    .version
                    .ok_or_else(|| RecordError::Key("SCHEMA key without version".to_owned()))?;
                Self::Schema {
                    subject: subject(raw)?,
                    version,
                }
            }
            "CONFIG" => Self::Config {
                subject: raw.subject,
            },
            "MODE" => Self::Mode {
                subject: raw.subject,
            },
            "DELETE_SUBJECT" => Self::DeleteSubject {
                subject: subject(raw)?,
            },
            "CLEAR_SUBJECT" => Self::ClearSubject {
                subject: subject(raw)?,
            },
            "NOOP" => Self::Noop,
            _ => Self::Other {
                keytype: raw.keytype,
            },
        })
    }

    /// The key's bytes exactly as Confluent writes them.
    pub fn to_bytes(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct SchemaKey<'a> {
            keytype: &'static str,
            subject: &'a str,
            version: i32,
            magic: i32,
        }
        #[derive(Serialize)]
        struct SubjectKey<'a> {
            keytype: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            subject: Option<&'a str>,
            magic: i32,
        }
        let subject_key = |keytype: &'static str, subject: Option<&str>| {
            serde_json::to_vec(&SubjectKey {
                keytype,
                subject,
                magic: 0,
            })
        };
        let bytes = match self {
            Self::Schema { subject, version } => serde_json::to_vec(&SchemaKey {
                keytype: "SCHEMA",
                subject,
                version: *version,
                magic: 1,
            }),
            Self::Config { subject } => subject_key("CONFIG", subject.as_deref()),
            Self::Mode { subject } => subject_key("MODE", subject.as_deref()),
            Self::DeleteSubject { subject } => subject_key("DELETE_SUBJECT", Some(subject)),
            Self::ClearSubject { subject } => subject_key("CLEAR_SUBJECT", Some(subject)),
            Self::Noop => subject_key("NOOP", None),
            Self::Other { keytype } => serde_json::to_vec(&SubjectKey {
                keytype,
                subject: None,
                magic: 0,
            }),
        };
        // Serializing these plain structs cannot fail.
        bytes.unwrap_or_default()
    }
}

/// The value of a `SCHEMA` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    /// Omitted for AVRO, as Confluent up to 7.9 and Karapace write it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
    pub schema: String,
    #[serde(default)]
    pub deleted: bool,
}

/// The value of a `CONFIG` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<bool>,
}

/// The value of a `MODE` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub mode: String,
}

/// The value of a `DELETE_SUBJECT` record: versions up to `version` are soft-deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteSubjectValue {
    pub subject: String,
    pub version: i32,
}

/// The value of a `CLEAR_SUBJECT` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearSubjectValue {
    pub subject: String,
}

/// A whole record: key and value, `None` value = tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Schema {
        subject: String,
        version: i32,
        value: Option<SchemaValue>,
    },
    Config {
        subject: Option<String>,
        value: Option<ConfigValue>,
    },
    Mode {
        subject: Option<String>,
        value: Option<ModeValue>,
    },
    DeleteSubject(DeleteSubjectValue),
    ClearSubject(ClearSubjectValue),
    Noop,
    /// Tombstones of delete markers, and key types we skip.
    Ignored,
}

fn value<T: for<'de> Deserialize<'de>>(
    keytype: &'static str,
    bytes: Option<&[u8]>,
) -> Result<Option<T>, RecordError> {
    bytes
        .map(|bytes| {
            serde_json::from_slice(bytes).map_err(|error| RecordError::Value {
                keytype,
                reason: error.to_string(),
            })
        })
        .transpose()
}

impl Record {
    pub fn parse(key: &[u8], payload: Option<&[u8]>) -> Result<Self, RecordError> {
        Ok(match RecordKey::parse(key)? {
            RecordKey::Schema { subject, version } => Self::Schema {
                subject,
                version,
                value: value("SCHEMA", payload)?,
            },
            RecordKey::Config { subject } => Self::Config {
                subject,
                value: value("CONFIG", payload)?,
            },
            RecordKey::Mode { subject } => Self::Mode {
                subject,
                value: value("MODE", payload)?,
            },
            RecordKey::DeleteSubject { .. } => match value("DELETE_SUBJECT", payload)? {
                Some(value) => Self::DeleteSubject(value),
                None => Self::Ignored,
            },
            RecordKey::ClearSubject { .. } => match value("CLEAR_SUBJECT", payload)? {
                Some(value) => Self::ClearSubject(value),
                None => Self::Ignored,
            },
            RecordKey::Noop => Self::Noop,
            RecordKey::Other { .. } => Self::Ignored,
        })
    }

    /// Key and value bytes to produce.
    pub fn to_bytes(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        fn json<T: Serialize>(value: &T) -> Vec<u8> {
            serde_json::to_vec(value).unwrap_or_default()
        }
        match self {
            Self::Schema {
                subject,
                version,
                value,
            } => (
                RecordKey::Schema {
                    subject: subject.clone(),
                    version: *version,
                }
                .to_bytes(),
                value.as_ref().map(json),
            ),
            Self::Config { subject, value } => (
                RecordKey::Config {
                    subject: subject.clone(),
                }
                .to_bytes(),
                value.as_ref().map(json),
            ),
            Self::Mode { subject, value } => (
                RecordKey::Mode {
                    subject: subject.clone(),
                }
                .to_bytes(),
                value.as_ref().map(json),
            ),
            Self::DeleteSubject(value) => (
                RecordKey::DeleteSubject {
                    subject: value.subject.clone(),
                }
                .to_bytes(),
                Some(json(value)),
            ),
            Self::ClearSubject(value) => (
                RecordKey::ClearSubject {
                    subject: value.subject.clone(),
                }
                .to_bytes(),
                Some(json(value)),
            ),
            Self::Noop | Self::Ignored => (RecordKey::Noop.to_bytes(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn keys_are_written_in_confluent_field_order() {
        let schema = RecordKey::Schema {
            subject: "t-value".into(),
            version: 1,
        };
        assert_eq!(
            text(&schema.to_bytes()),
            r#"{"keytype":"SCHEMA","subject":"t-value","version":1,"magic":1}"#
        );
        assert_eq!(
            text(&RecordKey::Config { subject: None }.to_bytes()),
            r#"{"keytype":"CONFIG","magic":0}"#
        );
        assert_eq!(
            text(
                &RecordKey::Mode {
                    subject: Some("s".into())
                }
                .to_bytes()
            ),
            r#"{"keytype":"MODE","subject":"s","magic":0}"#
        );
        assert_eq!(
            text(&RecordKey::Noop.to_bytes()),
            r#"{"keytype":"NOOP","magic":0}"#
        );
        assert_eq!(
            text(
                &RecordKey::DeleteSubject {
                    subject: "s".into()
                }
                .to_bytes()
            ),
            r#"{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}"#
        );
    }

    #[test]
    fn avro_schema_value_omits_schema_type_and_empty_references() {
        let record = Record::Schema {
            subject: "s".into(),
            version: 2,
            value: Some(SchemaValue {
                subject: "s".into(),
                version: 2,
                id: 7,
                schema_type: None,
                references: vec![],
                schema: "\"string\"".into(),
                deleted: false,
            }),
        };
        let (_, value) = record.to_bytes();
        assert_eq!(
            text(&value.unwrap()),
            r#"{"subject":"s","version":2,"id":7,"schema":"\"string\"","deleted":false}"#
        );
    }

    #[test]
    fn reads_karapace_and_old_confluent_variants() {
        let record = Record::parse(
            br#"{"keytype":"CONFIG","subject":null,"magic":0}"#,
            Some(br#"{"compatibilityLevel":"FULL"}"#),
        )
        .unwrap();
        assert_eq!(
            record,
            Record::Config {
                subject: None,
                value: Some(ConfigValue {
                    subject: None,
                    compatibility_level: Some("FULL".into()),
                    normalize: None
                })
            }
        );
        let record = Record::parse(
            br#"{"subject":"s","version":1,"magic":1,"keytype":"SCHEMA"}"#,
            Some(br#"{"subject":"s","version":1,"id":3,"schema":"\"int\"","deleted":false,"offset":5,"ts":1}"#),
        )
        .unwrap();
        let Record::Schema {
            value: Some(value), ..
        } = record
        else {
            panic!("not a schema record");
        };
        assert_eq!(value.id, 3);
        assert_eq!(value.schema_type, None);
    }

    #[test]
    fn unknown_key_types_are_ignored_and_garbage_is_an_error() {
        let record = Record::parse(
            br#"{"keytype":"CONTEXT","tenant":"default","context":".c","magic":0}"#,
            Some(b"{}"),
        )
        .unwrap();
        assert_eq!(record, Record::Ignored);
        assert!(Record::parse(b"not json", None).is_err());
        assert!(Record::parse(br#"{"keytype":"SCHEMA","subject":"s","magic":1}"#, None).is_err());
    }
}
