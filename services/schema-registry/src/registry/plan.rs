//! Pure decisions of every write: from the current state and a request to the records to
//! write (or the error to answer). No I/O: the caller holds the write lock, runs the plan on
//! a state that is current (the primary synced its reader), then writes the records.
//!
//! Register follows `KafkaSchemaRegistry.register`: mode check (READONLY → 42205), parse
//! (42201), a schema already live in the subject answers its `{id, version}` without a
//! write, compatibility against the live versions per level (409), the id of an identical
//! schema anywhere is reused, otherwise `max id + 1`; version = highest version ever
//! (soft-deleted included) + 1. In IMPORT the request carries the id (and may carry the
//! version) and checks are skipped.

use crate::error::ApiError;
use crate::model::{CompatibilityLevel, Mode, SchemaType};
use crate::registry::read::{
    self, VersionSelector, effective_level, effective_mode, parse_stored, resolve_references,
};
use crate::store::records::{
    ClearSubjectValue, ConfigValue, DeleteSubjectValue, ModeValue, Record, SchemaReference,
    SchemaValue,
};
use crate::store::state::{RegistryState, VersionEntry, identity};
use schemas::format::{self as schema, ParsedSchema};

/// `POST /subjects/{s}/versions`, parsed.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    pub schema: String,
    pub schema_type: SchemaType,
    pub references: Vec<SchemaReference>,
    pub id: Option<i32>,
    pub version: Option<i32>,
    pub normalize: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterPlan {
    /// Already a live version of the subject: answer, write nothing.
    Existing { id: i32, version: i32 },
    /// `records` end with the new version's SCHEMA record; before it, tombstones of
    /// soft-deleted versions of the subject that had the same id (Confluent PR #846).
    Write {
        id: i32,
        version: i32,
        records: Vec<Record>,
    },
}

/// Parses a submitted schema with its references resolved; 42201 with the reason.
pub fn parse_submitted(
    state: &RegistryState,
    schema_type: SchemaType,
    text: &str,
    references: &[SchemaReference],
    normalize: bool,
) -> Result<ParsedSchema, ApiError> {
    let resolved = resolve_references(state, references)?;
    schema::parse(schema_type, text, &resolved, normalize).map_err(ApiError::invalid_schema)
}

/// Why `new` is incompatible with the live versions of `subject` under `level` (empty =
/// compatible): all of them when transitive, else the latest.
pub fn check_compatibility(
    state: &RegistryState,
    subject: &str,
    new: &ParsedSchema,
    level: CompatibilityLevel,
) -> Result<Vec<String>, ApiError> {
    if level == CompatibilityLevel::None {
        return Ok(Vec::new());
    }
    let live: Vec<(i32, i32)> = state
        .versions(subject)
        .into_iter()
        .filter(|(_, entry)| !entry.deleted)
        .map(|(version, entry)| (version, entry.id))
        .collect();
    let checked: &[(i32, i32)] = if level.transitive() {
        &live
    } else {
        live.last().map(std::slice::from_ref).unwrap_or(&[])
    };
    let mut messages = Vec::new();
    for (version, id) in checked.iter().rev() {
        let previous = parse_stored(state, *id)?;
        let found = check_pair(new, &previous, level);
        if !found.is_empty() {
            messages.extend(found);
            messages.push(format!("{{oldSchemaVersion: {version}}}"));
            messages.push(format!("{{oldSchema: '{}'}}", previous.canonical));
        }
    }
    if !messages.is_empty() {
        messages.push(format!("{{compatibility: '{}'}}", level.as_str()));
    }
    Ok(messages)
}

/// One pair under `level`'s directions.
pub fn check_pair(
    new: &ParsedSchema,
    previous: &ParsedSchema,
    level: CompatibilityLevel,
) -> Vec<String> {
    let mut messages = Vec::new();
    if level.backward() {
        messages.extend(schema::can_read(previous, new));
    }
    if level.forward() {
        messages.extend(schema::can_read(new, previous));
    }
    messages
}

pub fn register(
    state: &RegistryState,
    subject: &str,
    request: &RegisterRequest,
    default_level: CompatibilityLevel,
) -> Result<RegisterPlan, ApiError> {
    let mode = effective_mode(state, Some(subject));
    if mode.read_only() {
        return Err(ApiError::not_permitted(format!(
            "Subject {subject} is in read-only mode"
        )));
    }
    let import = mode == Mode::Import;
    if request.id.is_some() && !import {
        return Err(ApiError::not_permitted(format!(
            "Subject {subject} is not in import mode"
        )));
    }
    let parsed = parse_submitted(
        state,
        request.schema_type,
        &request.schema,
        &request.references,
        request.normalize,
    )?;
    let mut references = request.references.clone();
    if request.normalize {
        references.sort();
        references.dedup();
    }
    let hash = identity(&parsed.canonical, &references);
    let known_id = state.id_for_identity(&hash);
    let versions = state.versions(subject);
    let next_version = versions.last().map_or(1, |(version, _)| version + 1);
    if import {
        let Some(id) = request.id else {
            return Err(ApiError::not_permitted(format!(
                "Subject {subject} is in import mode: the schema id must be given"
            )));
        };
        if id < 1 {
            return Err(ApiError::invalid_schema(format!("Invalid schema id {id}")));
        }
        if state.schema(id).is_some() && known_id != Some(id) {
            return Err(ApiError::not_permitted(format!(
                "Overwrite new schema with id {id} is not permitted."
            )));
        }
        let version = request.version.unwrap_or(next_version);
        if version < 1 {
            return Err(ApiError::invalid_version(&version.to_string()));
        }
        if let Some(existing) = state.entry(subject, version)
            && existing.id == id
            && !existing.deleted
        {
            return Ok(RegisterPlan::Existing { id, version });
        }
        return Ok(write(subject, version, id, &parsed, references));
    }
    if let Some((version, entry)) = find_in_subject(state, subject, &parsed, &references, false) {
        return Ok(RegisterPlan::Existing {
            id: entry.id,
            version,
        });
    }
    if let Some(version) = request.version
        && version != next_version
    {
        return Err(ApiError::invalid_schema(format!(
            "Version {version} is not one more than the latest version {}",
            next_version - 1
        )));
    }
    // A type change is incompatible unless the level is NONE (`can_read` says so).
    let level = effective_level(state, Some(subject), default_level);
    let messages = check_compatibility(state, subject, &parsed, level)?;
    if !messages.is_empty() {
        return Err(ApiError::incompatible(subject, &messages));
    }
    let id = known_id.unwrap_or_else(|| state.max_id() + 1);
    let mut plan = write(subject, next_version, id, &parsed, references);
    if let (Some(id), RegisterPlan::Write { records, .. }) = (known_id, &mut plan) {
        let stale = versions.iter().filter(|(version, entry)| {
            entry.id == id && entry.deleted && state.referenced_by(subject, *version).is_empty()
        });
        let tombstones: Vec<Record> = stale
            .map(|(version, _)| Record::Schema {
                subject: subject.to_owned(),
                version: *version,
                value: None,
            })
            .collect();
        records.splice(0..0, tombstones);
    }
    Ok(plan)
}

/// The newest version of `subject` holding `parsed`: by identity first, else by
/// comparing our canonical text of each stored version. The second way finds schemas
/// another registry stored in another text (Confluent's Java `toString()` orders some
/// attributes differently), so re-registering them after a migration does not add a
/// version (Confluent compares parsed schemas the same way, `ParsedSchema.canLookup`).
pub fn find_in_subject(
    state: &RegistryState,
    subject: &str,
    parsed: &ParsedSchema,
    references: &[SchemaReference],
    include_deleted: bool,
) -> Option<(i32, VersionEntry)> {
    let candidates: Vec<(i32, VersionEntry)> = state
        .versions(subject)
        .into_iter()
        .rev()
        .filter(|(_, entry)| include_deleted || !entry.deleted)
        .collect();
    if let Some(id) = state.id_for_identity(&identity(&parsed.canonical, references))
        && let Some(found) = candidates.iter().find(|(_, entry)| entry.id == id)
    {
        return Some(*found);
    }
    candidates.into_iter().find(|(_, entry)| {
        state.schema(entry.id).is_some_and(|stored| {
            stored.schema_type == parsed.schema_type
                && stored.references == references
                && parse_stored(state, entry.id)
                    .is_ok_and(|again| again.canonical == parsed.canonical)
        })
    })
}

fn write(
    subject: &str,
    version: i32,
    id: i32,
    parsed: &ParsedSchema,
    references: Vec<SchemaReference>,
) -> RegisterPlan {
    RegisterPlan::Write {
        id,
        version,
        records: vec![Record::Schema {
            subject: subject.to_owned(),
            version,
            value: Some(SchemaValue {
                subject: subject.to_owned(),
                version,
                id,
                schema_type: parsed.schema_type.stored(),
                references,
                schema: parsed.canonical.clone(),
                deleted: false,
            }),
        }],
    }
}

fn refuse_read_only(state: &RegistryState, subject: &str) -> Result<(), ApiError> {
    if effective_mode(state, Some(subject)).read_only() {
        return Err(ApiError::not_permitted(format!(
            "Subject {subject} is in read-only mode"
        )));
    }
    Ok(())
}

/// Records that drop a subject's config and mode (after its last version went).
fn drop_subject_settings(state: &RegistryState, subject: &str) -> Vec<Record> {
    let mut records = Vec::new();
    if state.mode(Some(subject)).is_some() {
        records.push(Record::Mode {
            subject: Some(subject.to_owned()),
            value: None,
        });
    }
    if state.config(Some(subject)).is_some() {
        records.push(Record::Config {
            subject: Some(subject.to_owned()),
            value: None,
        });
    }
    records
}

/// `DELETE /subjects/{s}/versions/{v}[?permanent=true]`: the version and the records.
pub fn delete_version(
    state: &RegistryState,
    subject: &str,
    selector: VersionSelector,
    permanent: bool,
) -> Result<(i32, Vec<Record>), ApiError> {
    refuse_read_only(state, subject)?;
    if state.versions(subject).is_empty() {
        return Err(ApiError::subject_not_found(subject));
    }
    let (version, entry) = if permanent {
        read::select_version(state, subject, selector, true)?
    } else {
        match selector {
            VersionSelector::Number(number) => match state.entry(subject, number) {
                Some(entry) if entry.deleted => {
                    return Err(ApiError::version_soft_deleted(subject, number));
                }
                Some(entry) => (number, entry),
                None => return Err(ApiError::version_not_found(number)),
            },
            VersionSelector::Latest => read::select_version(state, subject, selector, false)?,
        }
    };
    if permanent && !entry.deleted {
        return Err(ApiError::version_not_soft_deleted(subject, version));
    }
    if !state.referenced_by(subject, version).is_empty() {
        return Err(ApiError::reference_exists(subject, version));
    }
    let stored = state
        .schema(entry.id)
        .ok_or_else(|| ApiError::schema_id_not_found(entry.id))?;
    let mut records = vec![Record::Schema {
        subject: subject.to_owned(),
        version,
        value: (!permanent).then(|| SchemaValue {
            subject: subject.to_owned(),
            version,
            id: entry.id,
            schema_type: stored.schema_type.stored(),
            references: stored.references.clone(),
            schema: stored.schema.clone(),
            deleted: true,
        }),
    }];
    if permanent && state.versions(subject).len() == 1 {
        records.extend(drop_subject_settings(state, subject));
    }
    Ok((version, records))
}

/// `DELETE /subjects/{s}[?permanent=true]`: the versions deleted and the records.
pub fn delete_subject(
    state: &RegistryState,
    subject: &str,
    permanent: bool,
) -> Result<(Vec<i32>, Vec<Record>), ApiError> {
    refuse_read_only(state, subject)?;
    let versions = state.versions(subject);
    if versions.is_empty() {
        return Err(ApiError::subject_not_found(subject));
    }
    let live: Vec<i32> = versions
        .iter()
        .filter(|(_, entry)| !entry.deleted)
        .map(|(version, _)| *version)
        .collect();
    for (version, _) in &versions {
        if !state.referenced_by(subject, *version).is_empty() {
            return Err(ApiError::reference_exists(subject, *version));
        }
    }
    if !permanent {
        let Some(highest) = live.last() else {
            return Err(ApiError::subject_soft_deleted(subject));
        };
        let record = Record::DeleteSubject(DeleteSubjectValue {
            subject: subject.to_owned(),
            version: *highest,
        });
        return Ok((live, vec![record]));
    }
    if !live.is_empty() {
        return Err(ApiError::subject_not_soft_deleted(subject));
    }
    let all: Vec<i32> = versions.iter().map(|(version, _)| *version).collect();
    let mut records: Vec<Record> = all
        .iter()
        .rev()
        .map(|version| Record::Schema {
            subject: subject.to_owned(),
            version: *version,
            value: None,
        })
        .collect();
    records.extend(drop_subject_settings(state, subject));
    Ok((all, records))
}

/// `PUT /config[/{s}]`.
pub fn set_config(
    subject: Option<&str>,
    level: CompatibilityLevel,
    normalize: Option<bool>,
) -> Record {
    Record::Config {
        subject: subject.map(str::to_owned),
        value: Some(ConfigValue {
            subject: subject.map(str::to_owned),
            compatibility_level: Some(level.as_str().to_owned()),
            normalize,
        }),
    }
}

/// `PUT /mode[/{s}][?force=true]`: entering IMPORT needs no live subject (in scope) unless
/// forced, then soft-deleted leftovers are cleared as Confluent does.
pub fn set_mode(
    state: &RegistryState,
    subject: Option<&str>,
    mode: Mode,
    force: bool,
) -> Result<Vec<Record>, ApiError> {
    let mut records = Vec::new();
    if mode == Mode::Import {
        let in_scope: Vec<String> = match subject {
            Some(subject) => state
                .subjects(true)
                .into_iter()
                .filter(|s| *s == subject)
                .map(str::to_owned)
                .collect(),
            None => state
                .subjects(true)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        };
        let live = in_scope
            .iter()
            .any(|s| state.versions(s).iter().any(|(_, entry)| !entry.deleted));
        if live && !force {
            return Err(ApiError::not_permitted(
                "Cannot import since found existing subjects",
            ));
        }
        if !live {
            for subject in in_scope {
                records.push(Record::ClearSubject(ClearSubjectValue { subject }));
            }
        }
    }
    records.push(Record::Mode {
        subject: subject.map(str::to_owned),
        value: Some(ModeValue {
            subject: subject.map(str::to_owned),
            mode: mode.as_str().to_owned(),
        }),
    });
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
    const V2_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}"#;
    const V2_NO_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;

    fn request(schema: &str) -> RegisterRequest {
        RegisterRequest {
            schema: schema.into(),
            schema_type: SchemaType::Avro,
            references: vec![],
            id: None,
            version: None,
            normalize: false,
        }
    }

    fn apply(state: &mut RegistryState, plan: RegisterPlan) -> (i32, i32) {
        match plan {
            RegisterPlan::Existing { id, version } => (id, version),
            RegisterPlan::Write {
                id,
                version,
                records,
            } => {
                for record in records {
                    state.apply(record).unwrap();
                }
                (id, version)
            }
        }
    }

    fn registered(state: &mut RegistryState, subject: &str, schema: &str) -> (i32, i32) {
        let plan = register(
            state,
            subject,
            &request(schema),
            CompatibilityLevel::Backward,
        )
        .unwrap();
        apply(state, plan)
    }

    #[test]
    fn register_is_idempotent_and_shares_ids() {
        let mut state = RegistryState::default();
        assert_eq!(registered(&mut state, "a", V1), (1, 1));
        assert_eq!(
            register(&state, "a", &request(V1), CompatibilityLevel::Backward).unwrap(),
            RegisterPlan::Existing { id: 1, version: 1 }
        );
        // Same schema, other whitespace, other subject: same id.
        let spaced = V1.replace(',', ", ");
        assert_eq!(registered(&mut state, "b", &spaced), (1, 1));
        assert_eq!(registered(&mut state, "a", V2_DEFAULT), (2, 2));
    }

    #[test]
    fn backward_refuses_a_field_without_default() {
        let mut state = RegistryState::default();
        registered(&mut state, "a", V1);
        let error = register(
            &state,
            "a",
            &request(V2_NO_DEFAULT),
            CompatibilityLevel::Backward,
        )
        .unwrap_err();
        assert_eq!(error.error_code, 409);
        assert!(
            error.message.contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
            "{}",
            error.message
        );
        // FORWARD accepts it: the old schema ignores the new field.
        assert!(
            register(
                &state,
                "a",
                &request(V2_NO_DEFAULT),
                CompatibilityLevel::Forward
            )
            .is_ok()
        );
        assert!(
            register(
                &state,
                "a",
                &request(V2_NO_DEFAULT),
                CompatibilityLevel::None
            )
            .is_ok()
        );
    }

    #[test]
    fn a_schema_stored_in_another_text_is_found_again() {
        let mut state = RegistryState::default();
        // As another registry may have stored it: other attribute order and spacing.
        let stored = r#"{"name": "R", "type": "record", "fields": [{"type": "int", "name": "a"}]}"#;
        state
            .apply(Record::Schema {
                subject: "a".into(),
                version: 4,
                value: Some(SchemaValue {
                    subject: "a".into(),
                    version: 4,
                    id: 9,
                    schema_type: None,
                    references: vec![],
                    schema: stored.into(),
                    deleted: false,
                }),
            })
            .unwrap();
        assert_eq!(
            register(&state, "a", &request(V1), CompatibilityLevel::Backward).unwrap(),
            RegisterPlan::Existing { id: 9, version: 4 }
        );
    }

    #[test]
    fn invalid_schema_is_42201_and_ids_need_import_mode() {
        let state = RegistryState::default();
        let error = register(&state, "a", &request("{"), CompatibilityLevel::Backward).unwrap_err();
        assert_eq!(error.error_code, 42201);
        let mut with_id = request(V1);
        with_id.id = Some(10);
        let error = register(&state, "a", &with_id, CompatibilityLevel::Backward).unwrap_err();
        assert_eq!(error.error_code, 42205);
    }

    #[test]
    fn import_mode_keeps_given_ids_and_versions() {
        let mut state = RegistryState::default();
        for record in set_mode(&state, None, Mode::Import, false).unwrap() {
            state.apply(record).unwrap();
        }
        let mut with_id = request(V1);
        with_id.id = Some(42);
        with_id.version = Some(3);
        let plan = register(&state, "a", &with_id, CompatibilityLevel::Backward).unwrap();
        assert_eq!(apply(&mut state, plan), (42, 3));
        // Another schema under a taken id is refused.
        let mut clash = request(V2_NO_DEFAULT);
        clash.id = Some(42);
        let error = register(&state, "b", &clash, CompatibilityLevel::Backward).unwrap_err();
        assert_eq!(error.error_code, 42205);
        // Without an id: refused in IMPORT.
        let error = register(&state, "b", &request(V1), CompatibilityLevel::Backward).unwrap_err();
        assert_eq!(error.error_code, 42205);
        // Entering IMPORT again with live subjects needs force.
        assert_eq!(
            set_mode(&state, None, Mode::Import, false)
                .unwrap_err()
                .error_code,
            42205
        );
        assert!(set_mode(&state, None, Mode::Import, true).is_ok());
    }

    #[test]
    fn deletes_follow_the_soft_then_hard_order() {
        let mut state = RegistryState::default();
        registered(&mut state, "a", V1);
        let error = delete_version(&state, "a", VersionSelector::Number(1), true).unwrap_err();
        assert_eq!(error.error_code, 40407);
        let error = delete_subject(&state, "a", true).unwrap_err();
        assert_eq!(error.error_code, 40405);
        let (deleted, records) = delete_subject(&state, "a", false).unwrap();
        assert_eq!(deleted, vec![1]);
        for record in records {
            state.apply(record).unwrap();
        }
        assert_eq!(
            delete_subject(&state, "a", false).unwrap_err().error_code,
            40404
        );
        assert_eq!(
            delete_version(&state, "a", VersionSelector::Number(1), false)
                .unwrap_err()
                .error_code,
            40406
        );
        // Re-registering after a soft delete: same id, next version; the deleted version
        // with that id is tombstoned.
        assert_eq!(registered(&mut state, "a", V1), (1, 2));
        let versions: Vec<i32> = state.versions("a").iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, vec![2]);
        let (_, records) = delete_subject(&state, "a", false).unwrap();
        for record in records {
            state.apply(record).unwrap();
        }
        let (deleted, records) = delete_subject(&state, "a", true).unwrap();
        assert_eq!(deleted, vec![2]);
        for record in records {
            state.apply(record).unwrap();
        }
        assert_eq!(
            delete_subject(&state, "a", false).unwrap_err().error_code,
            40401
        );
        // After a hard delete the id is new.
        assert_eq!(registered(&mut state, "a", V1), (2, 1));
    }

    #[test]
    fn read_only_mode_refuses_writes() {
        let mut state = RegistryState::default();
        registered(&mut state, "a", V1);
        for record in set_mode(&state, Some("a"), Mode::Readonly, false).unwrap() {
            state.apply(record).unwrap();
        }
        let error = register(
            &state,
            "a",
            &request(V2_DEFAULT),
            CompatibilityLevel::Backward,
        )
        .unwrap_err();
        assert_eq!(error.error_code, 42205);
        assert_eq!(
            delete_subject(&state, "a", false).unwrap_err().error_code,
            42205
        );
    }

    #[test]
    fn transitive_levels_check_every_live_version() {
        let mut state = RegistryState::default();
        let v1 = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":0}]}"#;
        let v2 = r#"{"type":"record","name":"R","fields":[]}"#;
        let v3 =
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string","default":""}]}"#;
        registered(&mut state, "a", v1);
        registered(&mut state, "a", v2);
        // v3 reads v2's data (a gets its default) but not v1's (int → string).
        assert!(register(&state, "a", &request(v3), CompatibilityLevel::Backward).is_ok());
        let error = register(
            &state,
            "a",
            &request(v3),
            CompatibilityLevel::BackwardTransitive,
        )
        .unwrap_err();
        assert_eq!(error.error_code, 409);
    }
}
