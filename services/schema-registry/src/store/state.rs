//! The in-memory registry: what replaying `_schemas` from its first record yields.
//!
//! Pure: [`RegistryState::apply`] folds one record in; nothing here does I/O, so the whole
//! state machine is unit-tested without Kafka. Invariants:
//!
//! - `max_id` only grows: it is the highest id ever seen, even after that id's last version
//!   was hard-deleted, so a new id (`max_id + 1`) is never one a client may have cached.
//! - An id names one schema forever: a SCHEMA record that reuses a known id for other
//!   content is rejected (as Confluent's reader does) and leaves the state unchanged.
//! - `by_identity` maps MD5(stored text + references) to the id, so the same schema gets
//!   the same id in every subject; the entry goes when no version uses the id any more.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use md5::{Digest, Md5};

use crate::model::{CompatibilityLevel, Mode, SchemaType};
use crate::store::records::{Record, SchemaReference, SchemaValue};

/// One schema, as stored under its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchema {
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<SchemaReference>,
}

/// One version of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionEntry {
    pub id: i32,
    pub deleted: bool,
}

/// A subject's or the global compatibility config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfigEntry {
    pub level: Option<CompatibilityLevel>,
    pub normalize: Option<bool>,
}

/// Why a record was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "schema id {id} is already used by another schema; record for {subject} version {version} ignored"
    )]
    IdReused {
        id: i32,
        subject: String,
        version: i32,
    },
    #[error("unknown schema type `{0}`")]
    UnknownType(String),
    #[error("unknown {what} `{value}`")]
    UnknownValue { what: &'static str, value: String },
}

/// MD5 of the stored text and the references, the identity under which an id is reused.
pub fn identity(schema: &str, references: &[SchemaReference]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(schema.as_bytes());
    for reference in references {
        md5.update(reference.name.as_bytes());
        md5.update(reference.subject.as_bytes());
        md5.update(reference.version.to_string().as_bytes());
    }
    md5.finalize().into()
}

#[derive(Debug, Default, Clone)]
pub struct RegistryState {
    schemas: BTreeMap<i32, StoredSchema>,
    usages: HashMap<i32, BTreeSet<(String, i32)>>,
    by_identity: HashMap<[u8; 16], i32>,
    subjects: BTreeMap<String, BTreeMap<i32, VersionEntry>>,
    configs: HashMap<Option<String>, ConfigEntry>,
    modes: HashMap<Option<String>, Mode>,
    max_id: i32,
}

impl RegistryState {
    /// Folds one record in.
    pub fn apply(&mut self, record: Record) -> Result<(), ApplyError> {
        match record {
            Record::Schema {
                subject,
                version,
                value: Some(value),
            } => self.put_schema(&subject, version, value),
            Record::Schema {
                subject,
                version,
                value: None,
            } => {
                self.remove_version(&subject, version);
                Ok(())
            }
            Record::Config { subject, value } => {
                match value {
                    None => {
                        self.configs.remove(&subject);
                    }
                    Some(value) => {
                        let level = match value.compatibility_level {
                            None => None,
                            Some(text) => Some(CompatibilityLevel::parse(&text).ok_or(
                                ApplyError::UnknownValue {
                                    what: "compatibility level",
                                    value: text,
                                },
                            )?),
                        };
                        self.configs.insert(
                            subject,
                            ConfigEntry {
                                level,
                                normalize: value.normalize,
                            },
                        );
                    }
                }
                Ok(())
            }
            Record::Mode { subject, value } => {
                match value {
                    None => {
                        self.modes.remove(&subject);
                    }
                    Some(value) => {
                        let mode = Mode::parse(&value.mode).ok_or(ApplyError::UnknownValue {
                            what: "mode",
                            value: value.mode,
                        })?;
                        self.modes.insert(subject, mode);
                    }
                }
                Ok(())
            }
            Record::DeleteSubject(value) => {
                if let Some(versions) = self.subjects.get_mut(&value.subject) {
                    for (_, entry) in versions.range_mut(..=value.version) {
                        entry.deleted = true;
                    }
                }
                Ok(())
            }
            Record::ClearSubject(value) => {
                let deleted: Vec<i32> = self
                    .subjects
                    .get(&value.subject)
                    .map(|versions| {
                        versions
                            .iter()
                            .filter(|(_, entry)| entry.deleted)
                            .map(|(version, _)| *version)
                            .collect()
                    })
                    .unwrap_or_default();
                for version in deleted {
                    self.remove_version(&value.subject, version);
                }
                Ok(())
            }
            Record::Noop | Record::Ignored => Ok(()),
        }
    }

    fn put_schema(
        &mut self,
        subject: &str,
        version: i32,
        value: SchemaValue,
    ) -> Result<(), ApplyError> {
        let schema_type = match &value.schema_type {
            None => SchemaType::Avro,
            Some(text) => {
                SchemaType::parse(text).ok_or_else(|| ApplyError::UnknownType(text.clone()))?
            }
        };
        let stored = StoredSchema {
            schema_type,
            schema: value.schema,
            references: value.references,
        };
        if let Some(existing) = self.schemas.get(&value.id)
            && (existing.schema != stored.schema || existing.references != stored.references)
        {
            return Err(ApplyError::IdReused {
                id: value.id,
                subject: subject.to_owned(),
                version,
            });
        }
        // A version rewritten under another id (import overwrites) drops the old usage.
        if let Some(previous) = self.subjects.get(subject).and_then(|v| v.get(&version))
            && previous.id != value.id
        {
            self.remove_version(subject, version);
        }
        self.max_id = self.max_id.max(value.id);
        self.by_identity
            .insert(identity(&stored.schema, &stored.references), value.id);
        self.schemas.entry(value.id).or_insert(stored);
        self.usages
            .entry(value.id)
            .or_default()
            .insert((subject.to_owned(), version));
        self.subjects.entry(subject.to_owned()).or_default().insert(
            version,
            VersionEntry {
                id: value.id,
                deleted: value.deleted,
            },
        );
        Ok(())
    }

    fn remove_version(&mut self, subject: &str, version: i32) {
        let Some(versions) = self.subjects.get_mut(subject) else {
            return;
        };
        let Some(entry) = versions.remove(&version) else {
            return;
        };
        if versions.is_empty() {
            self.subjects.remove(subject);
        }
        let unused = self.usages.get_mut(&entry.id).is_some_and(|usages| {
            usages.remove(&(subject.to_owned(), version));
            usages.is_empty()
        });
        if unused {
            self.usages.remove(&entry.id);
            if let Some(schema) = self.schemas.remove(&entry.id) {
                self.by_identity
                    .remove(&identity(&schema.schema, &schema.references));
            }
        }
    }

    /// The highest id ever seen; the next one is `max_id + 1`.
    pub fn max_id(&self) -> i32 {
        self.max_id
    }

    pub fn schema(&self, id: i32) -> Option<&StoredSchema> {
        self.schemas.get(&id)
    }

    pub fn id_for_identity(&self, identity: &[u8; 16]) -> Option<i32> {
        self.by_identity.get(identity).copied()
    }

    /// `(subject, version)` pairs using `id`, deleted ones included when asked.
    pub fn usages(&self, id: i32, include_deleted: bool) -> Vec<(String, i32)> {
        self.usages
            .get(&id)
            .map(|usages| {
                usages
                    .iter()
                    .filter(|(subject, version)| {
                        include_deleted || self.entry(subject, *version).is_some_and(|e| !e.deleted)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Subjects with at least one version (a live one unless `include_deleted`).
    pub fn subjects(&self, include_deleted: bool) -> Vec<&str> {
        self.subjects
            .iter()
            .filter(|(_, versions)| include_deleted || versions.values().any(|e| !e.deleted))
            .map(|(subject, _)| subject.as_str())
            .collect()
    }

    /// Every version of `subject`, in order; empty when the subject does not exist.
    pub fn versions(&self, subject: &str) -> Vec<(i32, VersionEntry)> {
        self.subjects
            .get(subject)
            .map(|versions| versions.iter().map(|(v, e)| (*v, *e)).collect())
            .unwrap_or_default()
    }

    pub fn entry(&self, subject: &str, version: i32) -> Option<VersionEntry> {
        self.subjects.get(subject)?.get(&version).copied()
    }

    pub fn config(&self, subject: Option<&str>) -> Option<ConfigEntry> {
        self.configs.get(&subject.map(str::to_owned)).copied()
    }

    pub fn mode(&self, subject: Option<&str>) -> Option<Mode> {
        self.modes.get(&subject.map(str::to_owned)).copied()
    }

    /// `(subject, version)` of every live version whose references name `subject`/`version`.
    pub fn referenced_by(&self, subject: &str, version: i32) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .schemas
            .iter()
            .filter(|(_, schema)| {
                schema
                    .references
                    .iter()
                    .any(|r| r.subject == subject && r.version == version)
            })
            .map(|(id, _)| *id)
            .filter(|id| !self.usages(*id, false).is_empty())
            .collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{ClearSubjectValue, ConfigValue, DeleteSubjectValue, ModeValue};

    fn schema(subject: &str, version: i32, id: i32, text: &str) -> Record {
        Record::Schema {
            subject: subject.into(),
            version,
            value: Some(SchemaValue {
                subject: subject.into(),
                version,
                id,
                schema_type: None,
                references: vec![],
                schema: text.into(),
                deleted: false,
            }),
        }
    }

    #[test]
    fn same_schema_shares_its_id_across_subjects() {
        let mut state = RegistryState::default();
        state.apply(schema("a", 1, 1, "\"string\"")).unwrap();
        state.apply(schema("b", 1, 1, "\"string\"")).unwrap();
        assert_eq!(state.usages(1, false).len(), 2);
        assert_eq!(state.id_for_identity(&identity("\"string\"", &[])), Some(1));
        assert_eq!(state.max_id(), 1);
    }

    #[test]
    fn an_id_reused_for_other_content_is_rejected() {
        let mut state = RegistryState::default();
        state.apply(schema("a", 1, 1, "\"string\"")).unwrap();
        let error = state.apply(schema("b", 1, 1, "\"int\"")).unwrap_err();
        assert!(matches!(error, ApplyError::IdReused { id: 1, .. }));
        assert!(state.versions("b").is_empty());
    }

    #[test]
    fn soft_delete_then_tombstones_keep_max_id() {
        let mut state = RegistryState::default();
        state.apply(schema("a", 1, 5, "\"string\"")).unwrap();
        state.apply(schema("a", 2, 6, "\"int\"")).unwrap();
        state
            .apply(Record::DeleteSubject(DeleteSubjectValue {
                subject: "a".into(),
                version: 2,
            }))
            .unwrap();
        assert!(state.subjects(false).is_empty());
        assert_eq!(state.subjects(true), vec!["a"]);
        // Soft-deleted ids still resolve.
        assert!(state.schema(5).is_some());
        for version in [2, 1] {
            state
                .apply(Record::Schema {
                    subject: "a".into(),
                    version,
                    value: None,
                })
                .unwrap();
        }
        assert!(state.subjects(true).is_empty());
        assert!(state.schema(5).is_none());
        assert_eq!(state.id_for_identity(&identity("\"string\"", &[])), None);
        assert_eq!(state.max_id(), 6);
    }

    #[test]
    fn clear_subject_drops_deleted_versions_only() {
        let mut state = RegistryState::default();
        state.apply(schema("a", 1, 1, "\"string\"")).unwrap();
        state.apply(schema("a", 2, 2, "\"int\"")).unwrap();
        state
            .apply(Record::DeleteSubject(DeleteSubjectValue {
                subject: "a".into(),
                version: 1,
            }))
            .unwrap();
        state
            .apply(Record::ClearSubject(ClearSubjectValue {
                subject: "a".into(),
            }))
            .unwrap();
        let versions: Vec<i32> = state.versions("a").iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, vec![2]);
    }

    #[test]
    fn config_and_mode_records_set_and_tombstones_clear() {
        let mut state = RegistryState::default();
        state
            .apply(Record::Config {
                subject: None,
                value: Some(ConfigValue {
                    subject: None,
                    compatibility_level: Some("FULL".into()),
                    normalize: None,
                }),
            })
            .unwrap();
        state
            .apply(Record::Mode {
                subject: Some("s".into()),
                value: Some(ModeValue {
                    subject: Some("s".into()),
                    mode: "IMPORT".into(),
                }),
            })
            .unwrap();
        assert_eq!(
            state.config(None).unwrap().level,
            Some(CompatibilityLevel::Full)
        );
        assert_eq!(state.mode(Some("s")), Some(Mode::Import));
        state
            .apply(Record::Mode {
                subject: Some("s".into()),
                value: None,
            })
            .unwrap();
        assert_eq!(state.mode(Some("s")), None);
        let error = state
            .apply(Record::Config {
                subject: None,
                value: Some(ConfigValue {
                    subject: None,
                    compatibility_level: Some("SIDEWAYS".into()),
                    normalize: None,
                }),
            })
            .unwrap_err();
        assert!(matches!(error, ApplyError::UnknownValue { .. }));
    }
}
