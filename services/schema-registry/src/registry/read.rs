//! Read-side helpers over [`RegistryState`]: version selection with Confluent's
//! soft-delete rules, effective config and mode, reference resolution.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::error::ApiError;
use crate::model::{CompatibilityLevel, Mode, SchemaType};
use crate::store::records::SchemaReference;
use crate::store::state::{RegistryState, VersionEntry};
use schemas::format::{self as schema, ParsedSchema, ResolvedReference};

/// `{v}` of a path: `latest` (or `-1`) or 1..2^31-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    Latest,
    Number(i32),
}

impl VersionSelector {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        if text == "latest" || text == "-1" {
            return Ok(Self::Latest);
        }
        match text.parse::<i32>() {
            Ok(number) if number >= 1 => Ok(Self::Number(number)),
            _ => Err(ApiError::invalid_version(text)),
        }
    }
}

/// A schema as the REST API shows it (`GET …/versions/{v}`, lookup).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaEntity {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    /// Omitted for AVRO, as Confluent up to 7.9 answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<SchemaType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
    pub schema: String,
}

/// The version `selector` names, with Confluent's 40401/40402 rules: a subject whose
/// versions are all soft-deleted is not found unless `include_deleted`.
pub fn select_version(
    state: &RegistryState,
    subject: &str,
    selector: VersionSelector,
    include_deleted: bool,
) -> Result<(i32, VersionEntry), ApiError> {
    let versions = state.versions(subject);
    let visible: Vec<(i32, VersionEntry)> = versions
        .iter()
        .copied()
        .filter(|(_, entry)| include_deleted || !entry.deleted)
        .collect();
    if visible.is_empty() {
        return Err(ApiError::subject_not_found(subject));
    }
    match selector {
        VersionSelector::Latest => visible
            .last()
            .copied()
            .ok_or_else(|| ApiError::subject_not_found(subject)),
        VersionSelector::Number(number) => visible
            .iter()
            .find(|(version, _)| *version == number)
            .copied()
            .ok_or_else(|| ApiError::version_not_found(number)),
    }
}

pub fn entity(
    state: &RegistryState,
    subject: &str,
    version: i32,
    entry: VersionEntry,
) -> Result<SchemaEntity, ApiError> {
    let stored = state
        .schema(entry.id)
        .ok_or_else(|| ApiError::schema_id_not_found(entry.id))?;
    Ok(SchemaEntity {
        subject: subject.to_owned(),
        version,
        id: entry.id,
        schema_type: (stored.schema_type != SchemaType::Avro).then_some(stored.schema_type),
        references: stored.references.clone(),
        schema: stored.schema.clone(),
    })
}

/// A stored schema's text in the `format` a reader asked for: Protobuf `serialized` is
/// the base64 `FileDescriptorProto` Confluent's serializers want; every other value (Avro
/// `resolved`, Protobuf `ignore_extensions`, none) is the stored text, as extensions are
/// not printed and references stay references.
pub fn formatted(state: &RegistryState, id: i32, format: Option<&str>) -> Result<String, ApiError> {
    let stored = state
        .schema(id)
        .ok_or_else(|| ApiError::schema_id_not_found(id))?;
    if format != Some("serialized") || stored.schema_type != SchemaType::Protobuf {
        return Ok(stored.schema.clone());
    }
    let references = resolve_references(state, &stored.references)?;
    schemas::format::protobuf::serialized::encode(&stored.schema, &references)
        .map_err(|reason| ApiError::store(format!("stored schema {id} no longer parses: {reason}")))
}

/// Subject config over global config over the configured default.
pub fn effective_level(
    state: &RegistryState,
    subject: Option<&str>,
    default: CompatibilityLevel,
) -> CompatibilityLevel {
    subject
        .and_then(|s| state.config(Some(s)))
        .and_then(|c| c.level)
        .or_else(|| state.config(None).and_then(|c| c.level))
        .unwrap_or(default)
}

/// Whether `normalize` is on in the subject's or the global config.
pub fn config_normalize(state: &RegistryState, subject: &str) -> bool {
    state
        .config(Some(subject))
        .and_then(|c| c.normalize)
        .or_else(|| state.config(None).and_then(|c| c.normalize))
        .unwrap_or(false)
}

/// Subject mode over global mode over READWRITE.
pub fn effective_mode(state: &RegistryState, subject: Option<&str>) -> Mode {
    subject
        .and_then(|s| state.mode(Some(s)))
        .or_else(|| state.mode(None))
        .unwrap_or(Mode::Readwrite)
}

/// Every schema `references` names, transitively, each once; 42201 when one is missing.
pub fn resolve_references(
    state: &RegistryState,
    references: &[SchemaReference],
) -> Result<Vec<ResolvedReference>, ApiError> {
    let mut resolved = Vec::new();
    let mut seen = BTreeSet::new();
    let mut pending: Vec<SchemaReference> = references.to_vec();
    while let Some(reference) = pending.pop() {
        let selector = if reference.version <= 0 {
            VersionSelector::Latest
        } else {
            VersionSelector::Number(reference.version)
        };
        let (_, entry) =
            select_version(state, &reference.subject, selector, true).map_err(|_| {
                ApiError::invalid_schema(format!(
                    "Invalid schema: reference {} (subject {}, version {}) not found",
                    reference.name, reference.subject, reference.version
                ))
            })?;
        if !seen.insert(entry.id) {
            continue;
        }
        let stored = state
            .schema(entry.id)
            .ok_or_else(|| ApiError::schema_id_not_found(entry.id))?;
        pending.extend(stored.references.iter().cloned());
        resolved.push(ResolvedReference {
            name: reference.name,
            schema: stored.schema.clone(),
        });
    }
    Ok(resolved)
}

/// A stored schema parsed again, for compatibility checks.
pub fn parse_stored(state: &RegistryState, id: i32) -> Result<ParsedSchema, ApiError> {
    let stored = state
        .schema(id)
        .ok_or_else(|| ApiError::schema_id_not_found(id))?;
    let references = resolve_references(state, &stored.references)?;
    schema::parse(stored.schema_type, &stored.schema, &references, false)
        .map_err(|reason| ApiError::store(format!("stored schema {id} no longer parses: {reason}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_selector_follows_confluent() {
        assert_eq!(
            VersionSelector::parse("latest").unwrap(),
            VersionSelector::Latest
        );
        assert_eq!(
            VersionSelector::parse("-1").unwrap(),
            VersionSelector::Latest
        );
        assert_eq!(
            VersionSelector::parse("3").unwrap(),
            VersionSelector::Number(3)
        );
        for bad in ["0", "-2", "abc", "2147483648"] {
            assert_eq!(VersionSelector::parse(bad).unwrap_err().error_code, 42202);
        }
    }
}
