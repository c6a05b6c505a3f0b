//! A `FileDescriptorProto` written back as `.proto` source.
//!
//! Why: Confluent's serializers (Java and Python) register Protobuf schemas as a base64
//! `FileDescriptorProto` and the registry stores the `.proto` text it prints from it; the
//! same printing is Confluent's normalized form. No maintained Rust crate prints a
//! descriptor as source (protox and prost-reflect go the other way only), so this is ours.
//!
//! Covered: proto2 and proto3 syntax, package, imports (public/weak), the common file
//! options, messages with nested types, map fields, oneofs (synthetic proto3 `optional`
//! oneofs folded back), groups as plain message fields, enums (with `allow_alias`),
//! reserved ranges and names, extension ranges, `extend` blocks, field defaults,
//! `json_name` (only when not the default), `packed`, `deprecated`, and services. Custom
//! (extension) options are not printed: they do not change the wire format.

use std::fmt::Write as _;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    ServiceDescriptorProto, UninterpretedOption,
};

/// The largest field number + 1, as descriptors write an open-ended `to max` range.
const MAX_FIELD_END: i32 = 536_870_912;

/// The `.proto` source of `file`; the error names what cannot be printed.
pub fn print(file: &FileDescriptorProto) -> Result<String, String> {
    let syntax = match file.syntax() {
        "" | "proto2" => "proto2",
        "proto3" => "proto3",
        other => return Err(format!("Protobuf syntax '{other}' is not supported")),
    };
    if uses_groups(&file.message_type) {
        // A group is its own wire type; printing it as a message field would change it.
        return Err("Protobuf groups are not supported".to_owned());
    }
    let mut out = Printer {
        out: String::new(),
        proto3: syntax == "proto3",
    };
    out.line(0, &format!("syntax = \"{syntax}\";"));
    if !file.package().is_empty() {
        out.line(0, &format!("package {};", file.package()));
    }
    out.blank();
    for (index, dependency) in file.dependency.iter().enumerate() {
        let index = i32::try_from(index).unwrap_or(i32::MAX);
        let modifier = if file.public_dependency.contains(&index) {
            "public "
        } else if file.weak_dependency.contains(&index) {
            "weak "
        } else {
            ""
        };
        out.line(0, &format!("import {modifier}{};", quote(dependency)));
    }
    out.file_options(file);
    for message in &file.message_type {
        out.blank();
        out.message(0, message);
    }
    for enumeration in &file.enum_type {
        out.blank();
        out.enumeration(0, enumeration);
    }
    out.extensions(0, &file.extension);
    for service in &file.service {
        out.blank();
        out.service(service);
    }
    Ok(out.out.trim_end().to_owned() + "\n")
}

struct Printer {
    out: String,
    proto3: bool,
}

impl Printer {
    fn line(&mut self, depth: usize, text: &str) {
        let _ = writeln!(self.out, "{}{text}", "  ".repeat(depth));
    }

    fn blank(&mut self) {
        if !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn file_options(&mut self, file: &FileDescriptorProto) {
        let Some(options) = &file.options else { return };
        let mut printed = Vec::new();
        let mut text = |name: &str, value: Option<&String>| {
            if let Some(value) = value {
                printed.push(format!("option {name} = {};", quote(value)));
            }
        };
        text("java_package", options.java_package.as_ref());
        text(
            "java_outer_classname",
            options.java_outer_classname.as_ref(),
        );
        text("go_package", options.go_package.as_ref());
        text("objc_class_prefix", options.objc_class_prefix.as_ref());
        text("csharp_namespace", options.csharp_namespace.as_ref());
        text("swift_prefix", options.swift_prefix.as_ref());
        text("php_class_prefix", options.php_class_prefix.as_ref());
        text("php_namespace", options.php_namespace.as_ref());
        text(
            "php_metadata_namespace",
            options.php_metadata_namespace.as_ref(),
        );
        text("ruby_package", options.ruby_package.as_ref());
        let mut flag = |name: &str, value: Option<bool>| {
            if let Some(value) = value {
                printed.push(format!("option {name} = {value};"));
            }
        };
        flag("java_multiple_files", options.java_multiple_files);
        flag("java_string_check_utf8", options.java_string_check_utf8);
        flag("cc_enable_arenas", options.cc_enable_arenas);
        flag("deprecated", options.deprecated);
        printed.extend(
            options
                .uninterpreted_option
                .iter()
                .map(|option| format!("option {};", uninterpreted(option))),
        );
        if let Some(optimize) = options.optimize_for {
            let mode = match optimize {
                2 => "CODE_SIZE",
                3 => "LITE_RUNTIME",
                _ => "SPEED",
            };
            printed.push(format!("option optimize_for = {mode};"));
        }
        if !printed.is_empty() {
            self.blank();
        }
        for option in printed {
            self.line(0, &option);
        }
    }

    fn message(&mut self, depth: usize, message: &DescriptorProto) {
        self.line(depth, &format!("message {} {{", message.name()));
        let inner = depth + 1;
        if let Some(options) = &message.options {
            if options.deprecated() {
                self.line(inner, "option deprecated = true;");
            }
            for option in &options.uninterpreted_option {
                self.line(inner, &format!("option {};", uninterpreted(option)));
            }
        }
        let real_oneofs = real_oneofs(message);
        let mut oneofs_printed = vec![false; message.oneof_decl.len()];
        for field in &message.field {
            match field.oneof_index.and_then(|i| usize::try_from(i).ok()) {
                Some(index) if real_oneofs.get(index).copied().unwrap_or(false) => {
                    if !oneofs_printed[index] {
                        oneofs_printed[index] = true;
                        self.oneof(inner, message, index);
                    }
                }
                _ => self.field(inner, message, field, true),
            }
        }
        for nested in &message.nested_type {
            if nested.options.as_ref().is_some_and(|o| o.map_entry()) {
                continue;
            }
            self.message(inner, nested);
        }
        for enumeration in &message.enum_type {
            self.enumeration(inner, enumeration);
        }
        self.extensions(inner, &message.extension);
        if !message.extension_range.is_empty() {
            let ranges: Vec<String> = message
                .extension_range
                .iter()
                .map(|r| range(r.start(), r.end() - 1))
                .collect();
            self.line(inner, &format!("extensions {};", ranges.join(", ")));
        }
        self.reserved(
            inner,
            &message
                .reserved_range
                .iter()
                .map(|r| range(r.start(), r.end() - 1))
                .collect::<Vec<_>>(),
            &message.reserved_name,
        );
        self.line(depth, "}");
    }

    fn oneof(&mut self, depth: usize, message: &DescriptorProto, index: usize) {
        self.line(
            depth,
            &format!("oneof {} {{", message.oneof_decl[index].name()),
        );
        let index = i32::try_from(index).unwrap_or(i32::MAX);
        for field in message
            .field
            .iter()
            .filter(|f| f.oneof_index == Some(index))
        {
            self.field(depth + 1, message, field, false);
        }
        self.line(depth, "}");
    }

    fn field(
        &mut self,
        depth: usize,
        message: &DescriptorProto,
        field: &FieldDescriptorProto,
        labelled: bool,
    ) {
        let declaration = match map_entry(message, field) {
            Some(entry) => format!(
                "map<{}, {}>",
                type_of(&entry.field[0]),
                type_of(&entry.field[1])
            ),
            None => {
                let label = match (field.label(), labelled) {
                    (_, false) => "",
                    (Label::Repeated, true) => "repeated ",
                    (Label::Required, true) => "required ",
                    (Label::Optional, true) if !self.proto3 || field.proto3_optional() => {
                        "optional "
                    }
                    (Label::Optional, true) => "",
                };
                format!("{label}{}", type_of(field))
            }
        };
        let options = field_options(field);
        let options = if options.is_empty() {
            String::new()
        } else {
            format!(" [{}]", options.join(", "))
        };
        self.line(
            depth,
            &format!(
                "{declaration} {} = {}{options};",
                field.name(),
                field.number()
            ),
        );
    }

    fn extensions(&mut self, depth: usize, extensions: &[FieldDescriptorProto]) {
        let mut extendees: Vec<&str> = extensions.iter().map(|e| e.extendee()).collect();
        extendees.dedup();
        for extendee in extendees {
            self.line(depth, &format!("extend {extendee} {{"));
            for field in extensions.iter().filter(|e| e.extendee() == extendee) {
                self.field(depth + 1, &DescriptorProto::default(), field, true);
            }
            self.line(depth, "}");
        }
    }

    fn enumeration(&mut self, depth: usize, enumeration: &EnumDescriptorProto) {
        self.line(depth, &format!("enum {} {{", enumeration.name()));
        let inner = depth + 1;
        if enumeration
            .options
            .as_ref()
            .is_some_and(|o| o.allow_alias())
        {
            self.line(inner, "option allow_alias = true;");
        }
        if let Some(options) = &enumeration.options {
            if options.deprecated() {
                self.line(inner, "option deprecated = true;");
            }
            for option in &options.uninterpreted_option {
                self.line(inner, &format!("option {};", uninterpreted(option)));
            }
        }
        for value in &enumeration.value {
            let deprecated = if value.options.as_ref().is_some_and(|o| o.deprecated()) {
                " [deprecated = true]"
            } else {
                ""
            };
            self.line(
                inner,
                &format!("{} = {}{deprecated};", value.name(), value.number()),
            );
        }
        // Enum reserved ranges are inclusive, unlike message ones.
        self.reserved(
            inner,
            &enumeration
                .reserved_range
                .iter()
                .map(|r| range(r.start(), r.end()))
                .collect::<Vec<_>>(),
            &enumeration.reserved_name,
        );
        self.line(depth, "}");
    }

    fn reserved(&mut self, depth: usize, ranges: &[String], names: &[String]) {
        if !ranges.is_empty() {
            self.line(depth, &format!("reserved {};", ranges.join(", ")));
        }
        if !names.is_empty() {
            let names: Vec<String> = names.iter().map(|n| quote(n)).collect();
            self.line(depth, &format!("reserved {};", names.join(", ")));
        }
    }

    fn service(&mut self, service: &ServiceDescriptorProto) {
        self.line(0, &format!("service {} {{", service.name()));
        for method in &service.method {
            let stream = |on: bool| if on { "stream " } else { "" };
            self.line(
                1,
                &format!(
                    "rpc {}({}{}) returns ({}{});",
                    method.name(),
                    stream(method.client_streaming()),
                    method.input_type(),
                    stream(method.server_streaming()),
                    method.output_type()
                ),
            );
        }
        self.line(0, "}");
    }
}

fn uses_groups(messages: &[DescriptorProto]) -> bool {
    messages.iter().any(|message| {
        message
            .field
            .iter()
            .any(|f| f.r#type == Some(Type::Group as i32))
            || uses_groups(&message.nested_type)
    })
}

/// Which oneofs are written as `oneof` blocks: all but proto3 `optional`'s synthetic ones.
fn real_oneofs(message: &DescriptorProto) -> Vec<bool> {
    (0..message.oneof_decl.len())
        .map(|index| {
            let index = i32::try_from(index).unwrap_or(i32::MAX);
            message
                .field
                .iter()
                .any(|f| f.oneof_index == Some(index) && !f.proto3_optional())
        })
        .collect()
}

/// The synthetic entry message of a map field, when `field` is one.
fn map_entry<'a>(
    message: &'a DescriptorProto,
    field: &FieldDescriptorProto,
) -> Option<&'a DescriptorProto> {
    // A parsed (unresolved) descriptor leaves message fields without a type.
    let message_typed = field.r#type.is_none() || field.r#type() == Type::Message;
    if field.label() != Label::Repeated || !message_typed {
        return None;
    }
    let type_name = field.type_name();
    message.nested_type.iter().find(|nested| {
        nested.options.as_ref().is_some_and(|o| o.map_entry())
            && nested.field.len() == 2
            && (type_name == nested.name() || type_name.ends_with(&format!(".{}", nested.name())))
    })
}

fn type_of(field: &FieldDescriptorProto) -> String {
    // A parsed (unresolved) descriptor leaves message and enum fields without a type.
    if field.r#type.is_none() {
        return field.type_name().to_owned();
    }
    let scalar = match field.r#type() {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
        Type::Message | Type::Group | Type::Enum => return field.type_name().to_owned(),
    };
    scalar.to_owned()
}

fn field_options(field: &FieldDescriptorProto) -> Vec<String> {
    let mut options = Vec::new();
    if let Some(default) = &field.default_value {
        let value = match field.r#type() {
            Type::String | Type::Bytes => quote(default),
            _ => default.clone(),
        };
        options.push(format!("default = {value}"));
    }
    if let Some(json_name) = &field.json_name
        && *json_name != default_json_name(field.name())
    {
        options.push(format!("json_name = {}", quote(json_name)));
    }
    if let Some(field_options) = &field.options {
        if let Some(packed) = field_options.packed {
            options.push(format!("packed = {packed}"));
        }
        if field_options.deprecated() {
            options.push("deprecated = true".to_owned());
        }
        options.extend(field_options.uninterpreted_option.iter().map(uninterpreted));
    }
    options
}

/// An option the parser kept as written (an unresolved descriptor keeps every option so;
/// a resolved one keeps only custom options it could not interpret): `name = value`.
fn uninterpreted(option: &UninterpretedOption) -> String {
    let name: Vec<String> = option
        .name
        .iter()
        .map(|part| {
            if part.is_extension {
                format!("({})", part.name_part)
            } else {
                part.name_part.clone()
            }
        })
        .collect();
    let value = if let Some(identifier) = &option.identifier_value {
        identifier.clone()
    } else if let Some(value) = option.positive_int_value {
        value.to_string()
    } else if let Some(value) = option.negative_int_value {
        value.to_string()
    } else if let Some(value) = option.double_value {
        value.to_string()
    } else if let Some(value) = &option.string_value {
        quote_bytes(value)
    } else {
        format!("{{{}}}", option.aggregate_value())
    };
    format!("{} = {value}", name.join("."))
}

/// protoc's default JSON name: underscores dropped, the letter after each one upper-cased.
fn default_json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn range(start: i32, last: i32) -> String {
    if start == last {
        start.to_string()
    } else if last >= MAX_FIELD_END - 1 {
        format!("{start} to max")
    } else {
        format!("{start} to {last}")
    }
}

/// A double-quoted `.proto` string literal.
fn quote(text: &str) -> String {
    quote_bytes(text.as_bytes())
}

fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &byte in bytes {
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\{byte:03o}");
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiled::ProtobufSchema;

    /// The resolved descriptor of `text`, as a descriptor pool builds it.
    fn resolved(text: &str) -> FileDescriptorProto {
        let schema = ProtobufSchema::compile(text, &[]).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let mut descriptor = schema.file.file_descriptor_proto().clone();
        descriptor.source_code_info = None;
        // A map's entry type is declared where the parser meets the map field; its place
        // among the nested types carries no meaning.
        fn sort(messages: &mut [DescriptorProto]) {
            messages.sort_by(|a, b| a.name.cmp(&b.name));
            for message in messages {
                sort(&mut message.nested_type);
            }
        }
        sort(&mut descriptor.message_type);
        descriptor
    }

    fn assert_round_trips(text: &str) {
        let original = resolved(text);
        let printed = print(&original).unwrap();
        assert_eq!(resolved(&printed), original, "printed:\n{printed}");
        // Printing the unresolved (parsed) descriptor gives a source that means the same.
        let parsed = protox_parse::parse("x.proto", text).unwrap();
        let printed_parsed = print(&parsed).unwrap();
        assert_eq!(
            resolved(&printed_parsed),
            original,
            "printed:\n{printed_parsed}"
        );
    }

    #[test]
    fn proto3_with_maps_oneofs_optional_and_nesting() {
        assert_round_trips(
            r#"syntax = "proto3";
            package shop.v1;
            import "google/protobuf/timestamp.proto";
            option java_package = "com.shop";
            option java_multiple_files = true;
            message Order {
              enum Status { option allow_alias = true; NEW = 0; OPEN = 0; DONE = 2; }
              message Line { string sku = 1; int32 qty = 2 [json_name = "quantity"]; }
              int64 id = 1;
              optional string note = 2;
              repeated Line lines = 3;
              map<string, int64> counts = 4;
              oneof payment { string card = 5; bytes token = 6; }
              Status status = 7;
              google.protobuf.Timestamp at = 8;
              repeated int32 packed_off = 9 [packed = false];
              string old = 10 [deprecated = true];
              reserved 20, 30 to 40, 100 to max;
              reserved "gone";
            }
            enum Top { TOP_UNKNOWN = 0; TOP_A = 1; reserved 5 to 7; }
            service Orders { rpc Watch(stream Order) returns (stream Order.Line); }"#,
        );
    }

    #[test]
    fn proto2_with_labels_defaults_and_extensions() {
        assert_round_trips(
            r#"syntax = "proto2";
            package legacy;
            message M {
              required int32 a = 1;
              optional string b = 2 [default = "x\"y"];
              optional E e = 3 [default = TWO];
              repeated double d = 4 [packed = true];
              extensions 100 to 199;
            }
            enum E { ONE = 1; TWO = 2; }
            extend M { optional int32 ext = 100; }"#,
        );
    }

    #[test]
    fn groups_and_editions_are_refused_by_name() {
        let mut file = resolved(r#"syntax = "proto2"; message M { optional int32 a = 1; }"#);
        file.message_type[0].field[0].r#type = Some(Type::Group as i32);
        assert!(print(&file).unwrap_err().contains("groups"));
        file.syntax = Some("editions".into());
        assert!(print(&file).unwrap_err().contains("editions"));
    }
}
