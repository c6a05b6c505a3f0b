//! Protobuf: parsing with the maintained pure-Rust `protox-parse` (the parser of `protox`)
//! into a `FileDescriptorProto`, and compatibility by our own diff over descriptors.
//!
//! Why our own diff: no Rust crate implements wire-compatibility rules between two
//! descriptors. The rules are Confluent's `protobuf/diff` (nearly symmetric): package
//! changed, message removed, a field's kind (scalar / message / map) changed, a scalar moved
//! out of its wire-compatible group, numeric repeated ↔ singular, proto2 `required`
//! added or removed, a oneof field removed, a field moved into a oneof. Fields are matched
//! by number, messages by full name. Imports are not resolved (types from references are
//! compared by name).
//!
//! Canonical text: the submitted text without leading and trailing whitespace. Confluent
//! reprints the descriptor instead; a schema first registered there keeps its stored text.
//! `normalize` is accepted and currently has the same effect.

use std::collections::BTreeMap;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto};

pub(super) fn parse(text: &str, _normalize: bool) -> Result<(String, FileDescriptorProto), String> {
    let descriptor = protox_parse::parse("schema.proto", text)
        .map_err(|error| format!("Invalid schema {text}: {error}"))?;
    Ok((text.trim().to_owned(), descriptor))
}

/// Messages by full name (`.pkg.Outer.Inner`).
fn messages(file: &FileDescriptorProto) -> BTreeMap<String, &DescriptorProto> {
    fn walk<'a>(
        prefix: &str,
        messages: &'a [DescriptorProto],
        out: &mut BTreeMap<String, &'a DescriptorProto>,
    ) {
        for message in messages {
            let name = format!("{prefix}.{}", message.name());
            walk(&name, &message.nested_type, out);
            out.insert(name, message);
        }
    }
    let mut out = BTreeMap::new();
    let prefix = if file.package().is_empty() {
        String::new()
    } else {
        format!(".{}", file.package())
    };
    walk(&prefix, &file.message_type, &mut out);
    out
}

fn is_map(field: &FieldDescriptorProto, message: &DescriptorProto) -> bool {
    field.label() == Label::Repeated
        && field.r#type() == Type::Message
        && message.nested_type.iter().any(|nested| {
            nested.options.as_ref().is_some_and(|o| o.map_entry())
                && field.type_name().ends_with(&format!(".{}", nested.name()))
        })
}

fn kind(field: &FieldDescriptorProto, message: &DescriptorProto) -> &'static str {
    if is_map(field, message) {
        "map"
    } else if matches!(field.r#type(), Type::Message | Type::Group) {
        "message"
    } else {
        "scalar"
    }
}

/// Scalars that share a wire encoding (and so may replace one another).
fn scalar_group(field: &FieldDescriptorProto) -> u8 {
    match field.r#type() {
        Type::Int32 | Type::Int64 | Type::Uint32 | Type::Uint64 | Type::Bool | Type::Enum => 1,
        Type::Sint32 | Type::Sint64 => 2,
        Type::String | Type::Bytes => 3,
        Type::Fixed32 | Type::Sfixed32 => 4,
        Type::Fixed64 | Type::Sfixed64 => 5,
        Type::Float => 6,
        Type::Double => 7,
        Type::Message | Type::Group => 8,
    }
}

fn is_numeric(field: &FieldDescriptorProto) -> bool {
    !matches!(
        field.r#type(),
        Type::String | Type::Bytes | Type::Message | Type::Group
    )
}

fn difference(out: &mut Vec<String>, kind: &str, path: &str) {
    out.push(format!(
        "{{errorType:'{kind}', description:'Found incompatible change: Difference{{fullPath='{path}', type={kind}}}'}}"
    ));
}

pub(super) fn can_read(writer: &FileDescriptorProto, reader: &FileDescriptorProto) -> Vec<String> {
    let mut out = Vec::new();
    if writer.package() != reader.package() {
        difference(&mut out, "PACKAGE_CHANGED", "#/package");
    }
    let reader_messages = messages(reader);
    for (name, writer_message) in messages(writer) {
        let Some(reader_message) = reader_messages.get(&name) else {
            difference(&mut out, "MESSAGE_REMOVED", &format!("#/{name}"));
            continue;
        };
        compare_message(&name, writer_message, reader_message, &mut out);
    }
    out
}

fn in_real_oneof(field: &FieldDescriptorProto) -> bool {
    field.oneof_index.is_some() && !field.proto3_optional()
}

fn compare_message(
    name: &str,
    writer: &DescriptorProto,
    reader: &DescriptorProto,
    out: &mut Vec<String>,
) {
    for writer_field in &writer.field {
        let path = format!("#/{name}/{}", writer_field.number());
        let Some(reader_field) = reader
            .field
            .iter()
            .find(|f| f.number() == writer_field.number())
        else {
            if in_real_oneof(writer_field) {
                difference(out, "ONEOF_FIELD_REMOVED", &path);
            }
            continue;
        };
        let (writer_kind, reader_kind) = (kind(writer_field, writer), kind(reader_field, reader));
        if writer_kind != reader_kind {
            difference(out, "FIELD_KIND_CHANGED", &path);
            continue;
        }
        if writer_kind == "scalar" {
            if scalar_group(writer_field) != scalar_group(reader_field) {
                difference(out, "FIELD_SCALAR_KIND_CHANGED", &path);
            }
            let repeated = |f: &FieldDescriptorProto| f.label() == Label::Repeated;
            if is_numeric(writer_field)
                && is_numeric(reader_field)
                && repeated(writer_field) != repeated(reader_field)
            {
                difference(out, "FIELD_NUMERIC_LABEL_CHANGED", &path);
            }
        }
        let required = |f: &FieldDescriptorProto| f.label() == Label::Required;
        if required(writer_field) != required(reader_field) {
            difference(out, "REQUIRED_FIELD_CHANGED", &path);
        }
        if !in_real_oneof(writer_field) && in_real_oneof(reader_field) {
            difference(out, "FIELD_MOVED_TO_EXISTING_ONEOF", &path);
        }
    }
    for reader_field in &reader.field {
        let added = !writer
            .field
            .iter()
            .any(|f| f.number() == reader_field.number());
        if added && reader_field.label() == Label::Required {
            difference(
                out,
                "REQUIRED_FIELD_ADDED",
                &format!("#/{name}/{}", reader_field.number()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> FileDescriptorProto {
        parse(text, false).unwrap().1
    }

    #[test]
    fn parses_and_refuses_garbage() {
        assert!(parse("syntax = \"proto3\"; message M { string a = 1; }", false).is_ok());
        let error = parse("message {", false).unwrap_err();
        assert!(error.starts_with("Invalid schema"), "{error}");
    }

    #[test]
    fn field_changes_follow_the_wire_groups() {
        let base = parsed("syntax = \"proto3\"; package p; message M { int32 a = 1; }");
        let widened =
            parsed("syntax = \"proto3\"; package p; message M { int64 a = 1; string b = 2; }");
        assert!(can_read(&base, &widened).is_empty());
        let changed = parsed("syntax = \"proto3\"; package p; message M { string a = 1; }");
        assert!(!can_read(&base, &changed).is_empty());
        let removed = parsed("syntax = \"proto3\"; package p; message N { int32 a = 1; }");
        assert!(!can_read(&base, &removed).is_empty());
        let renamed = parsed("syntax = \"proto3\"; package q; message M { int32 a = 1; }");
        assert!(!can_read(&base, &renamed).is_empty());
    }
}
