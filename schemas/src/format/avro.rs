//! Avro with the maintained `apache-avro` crate: parsing (references resolved as named
//! types of other schemas), the canonical text, and Avro's own `SchemaCompatibility`
//! (the spec's "Schema Resolution", which Confluent uses since 6.0.2).
//!
//! Canonical text = the parsed schema written back as compact JSON in Java's
//! `Schema.toString()` layout ([`java_text`]), which is what Confluent stores: `doc`,
//! defaults, logical types and custom properties kept, `{"type":"string"}` → `"string"`.
//! A schema stored in another text (another registry) keeps its text and id: register and
//! lookup compare our canonical form of stored versions too (`registry::plan`).
//!
//! `normalize`: the same JSON with every object's keys sorted (Confluent's normalized form
//! also sorts properties; it is an approximation of `AvroSchemaUtils.toNormalizedString`).

mod java_text;
mod primitive_properties;

use apache_avro::Schema;
use apache_avro::error::CompatibilityError;
use apache_avro::schema_compatibility::SchemaCompatibility;

use super::ResolvedReference;

pub(super) fn parse(
    text: &str,
    references: &[ResolvedReference],
    normalize: bool,
) -> Result<(String, Schema), String> {
    let invalid = |error: apache_avro::Error| format!("Invalid schema {text}: {error}");
    let (schema, schemata) = if references.is_empty() {
        (Schema::parse_str(text).map_err(invalid)?, Vec::new())
    } else {
        Schema::parse_str_with_list(text, references.iter().map(|r| r.schema.as_str()))
            .map_err(invalid)?
    };
    let mut written = serde_json::to_value(&schema).map_err(|error| error.to_string())?;
    if let Ok(submitted) = serde_json::from_str::<serde_json::Value>(text) {
        primitive_properties::restore(&submitted, &mut written);
    }
    let canonical = if normalize {
        // serde_json's map sorts keys.
        written.to_string()
    } else {
        java_text::java_text(&written)
    };
    // Compatibility needs a self-contained schema: inline the referenced named types.
    let checked = if schemata.is_empty() {
        schema
    } else {
        let independent = schema
            .independent_canonical_form(&schemata)
            .map_err(invalid)?;
        Schema::parse_str(&independent).map_err(invalid)?
    };
    Ok((canonical, checked))
}

pub(super) fn can_read(writer: &Schema, reader: &Schema) -> Vec<String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(_) => Vec::new(),
        Err(error) => vec![difference(&error)],
    }
}

/// Confluent's `Difference` text for an Avro incompatibility.
fn difference(error: &CompatibilityError) -> String {
    let (error_type, info) = describe(error);
    format!(
        "{{errorType:'{error_type}', description:'{}', additionalInfo:'{info}'}}",
        error.to_string().replace('\'', "\"")
    )
}

fn describe(error: &CompatibilityError) -> (&'static str, String) {
    match error {
        CompatibilityError::FieldTypeMismatch(field, inner) => {
            let (error_type, info) = describe(inner);
            let info = if info.is_empty() {
                field.clone()
            } else {
                format!("{field}/{info}")
            };
            (error_type, info)
        }
        CompatibilityError::MissingDefaultValue(field) => {
            ("READER_FIELD_MISSING_DEFAULT_VALUE", field.clone())
        }
        CompatibilityError::MissingSymbols => ("MISSING_ENUM_SYMBOLS", String::new()),
        CompatibilityError::MissingUnionElements
        | CompatibilityError::SchemaMismatchAllUnionElements => {
            ("MISSING_UNION_BRANCH", String::new())
        }
        CompatibilityError::FixedMismatch => ("FIXED_SIZE_MISMATCH", String::new()),
        CompatibilityError::NameMismatch {
            writer_name,
            reader_name,
        } => (
            "NAME_MISMATCH",
            format!("expected: {writer_name}, found: {reader_name}"),
        ),
        CompatibilityError::WrongType {
            writer_schema_type,
            reader_schema_type,
        } => (
            "TYPE_MISMATCH",
            format!(
                "reader type: {reader_schema_type} not compatible with writer type: {writer_schema_type}"
            ),
        ),
        _ => ("TYPE_MISMATCH", String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Schema {
        parse(text, &[], false).unwrap().1
    }

    #[test]
    fn canonical_text_is_compact_and_unwraps_primitives() {
        let (text, _) = parse(r#"{ "type" : "string" }"#, &[], false).unwrap();
        assert_eq!(text, r#""string""#);
        let (text, _) = parse(
            r#"{"type": "record", "name": "R", "fields": [ {"name": "a", "type": "int"} ]}"#,
            &[],
            false,
        )
        .unwrap();
        assert!(!text.contains(' '), "{text}");
        assert!(text.contains(r#""name":"R""#), "{text}");
    }

    #[test]
    fn invalid_schema_names_the_reason() {
        let error = parse(r#"{"type":"record","name":"R"}"#, &[], false).unwrap_err();
        assert!(error.starts_with("Invalid schema"), "{error}");
    }

    #[test]
    fn added_field_without_default_is_not_backward_compatible() {
        let old = parsed(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#);
        let new = parsed(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#,
        );
        let messages = can_read(&old, &new);
        assert_eq!(messages.len(), 1);
        assert!(
            messages[0].contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
            "{messages:?}"
        );
        // The other way round (forward) is fine: the old reader ignores `b`.
        assert!(can_read(&new, &old).is_empty());
    }

    #[test]
    fn promotions_follow_the_spec() {
        assert!(can_read(&parsed(r#""int""#), &parsed(r#""long""#)).is_empty());
        assert!(!can_read(&parsed(r#""long""#), &parsed(r#""int""#)).is_empty());
    }

    #[test]
    fn references_resolve_named_types() {
        let reference = ResolvedReference {
            name: "ns.Inner".into(),
            schema: r#"{"type":"record","name":"Inner","namespace":"ns","fields":[{"name":"x","type":"int"}]}"#.into(),
        };
        let (text, _) = parse(
            r#"{"type":"record","name":"Outer","fields":[{"name":"i","type":"ns.Inner"}]}"#,
            &[reference],
            false,
        )
        .unwrap();
        assert!(text.contains("ns.Inner"), "{text}");
    }
}
