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
//! Canonical text: the source re-laid out token by token: comments dropped, one statement
//! per line, two-space indentation inside braces, single spaces between tokens. So the same
//! `.proto` written with other whitespace or comments gets the same id. Confluent reprints
//! from the descriptor instead, so its text can differ in ordering and option syntax; a
//! schema first registered there keeps its stored text and id. With `normalize`, the text
//! is printed from the descriptor ([`printer`]), as Confluent normalizes. A schema sent as a
//! base64 `FileDescriptorProto` (what Confluent's serializers register) is stored as the
//! text printed from it; [`serialized`] gives that form back (`format=serialized`).

use std::collections::BTreeMap;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto};

pub mod printer;
pub mod serialized;

pub(super) fn parse(text: &str, normalize: bool) -> Result<(String, FileDescriptorProto), String> {
    let (source, mut descriptor) = match protox_parse::parse("schema.proto", text) {
        Ok(descriptor) => (text.to_owned(), descriptor),
        // Confluent's serializers register the base64 descriptor; it is stored as text.
        Err(error) => match serialized::decode(text) {
            Some(descriptor) => {
                let printed = printer::print(&descriptor)?;
                let reparsed = protox_parse::parse("schema.proto", &printed)
                    .map_err(|error| format!("Invalid schema {text}: {error}"))?;
                (printed, reparsed)
            }
            None => return Err(format!("Invalid schema {text}: {error}")),
        },
    };
    // Source positions are not part of the schema.
    descriptor.source_code_info = None;
    if normalize {
        return Ok((printer::print(&descriptor)?, descriptor));
    }
    let laid_out = layout(&source);
    // Insurance: a layout that does not parse to the same descriptor is not used.
    let canonical = match protox_parse::parse("schema.proto", &laid_out) {
        Ok(mut again) => {
            again.source_code_info = None;
            if again == descriptor {
                laid_out
            } else {
                source.trim().to_owned()
            }
        }
        _ => source.trim().to_owned(),
    };
    Ok((canonical, descriptor))
}

/// The tokens of a `.proto` source, comments and whitespace dropped.
fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        let next = chars.get(index + 1).copied();
        if c.is_whitespace() {
            index += 1;
        } else if c == '/' && next == Some('/') {
            while index < chars.len() && chars[index] != '\n' {
                index += 1;
            }
        } else if c == '/' && next == Some('*') {
            index += 2;
            while index < chars.len()
                && !(chars[index] == '*' && chars.get(index + 1) == Some(&'/'))
            {
                index += 1;
            }
            index += 2;
        } else if c == '"' || c == '\'' {
            let start = index;
            index += 1;
            while index < chars.len() && chars[index] != c {
                if chars[index] == '\\' {
                    index += 1;
                }
                index += 1;
            }
            index = (index + 1).min(chars.len());
            tokens.push(chars[start..index].iter().collect());
        } else if c.is_alphanumeric() || c == '_' || c == '.' {
            let start = index;
            while index < chars.len()
                && (chars[index].is_alphanumeric() || matches!(chars[index], '_' | '.'))
            {
                index += 1;
            }
            tokens.push(chars[start..index].iter().collect());
        } else {
            tokens.push(c.to_string());
            index += 1;
        }
    }
    tokens
}

/// The canonical layout of a `.proto` source (see the module doc).
fn layout(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut line_start = true;
    let mut previous = String::new();
    for token in tokens(text) {
        if token == "}" {
            depth = depth.saturating_sub(1);
            if !line_start {
                out.push('\n');
            }
            line_start = true;
        }
        if line_start {
            out.push_str(&"  ".repeat(depth));
        } else if !matches!(token.as_str(), ";" | "," | ")" | "]" | ">" | "<")
            && !matches!(previous.as_str(), "(" | "[" | "<" | "-" | "+")
        {
            out.push(' ');
        }
        out.push_str(&token);
        line_start = false;
        match token.as_str() {
            "{" => {
                depth += 1;
                out.push('\n');
                line_start = true;
            }
            ";" | "}" => {
                out.push('\n');
                line_start = true;
            }
            _ => {}
        }
        previous = token;
    }
    out.trim_end().to_owned()
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
    fn layout_ignores_whitespace_and_comments() {
        let compact = "syntax=\"proto3\";package p;// c\nmessage M{map<string,int32> m=1;/* x */int32 a=2 [deprecated=true];enum E{Z=0;N=-1;}}";
        let spaced = "syntax = \"proto3\";\n\npackage p;\n\nmessage M {\n    map<string, int32> m = 1;\n    int32 a = 2 [deprecated = true];\n    enum E { Z = 0; N = -1; }\n}\n";
        let (one, _) = parse(compact, false).unwrap();
        let (two, _) = parse(spaced, false).unwrap();
        assert_eq!(one, two);
        assert_eq!(
            one,
            "syntax = \"proto3\";\npackage p;\nmessage M {\n  map<string, int32> m = 1;\n  int32 a = 2 [deprecated = true];\n  enum E {\n    Z = 0;\n    N = -1;\n  }\n}"
        );
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
