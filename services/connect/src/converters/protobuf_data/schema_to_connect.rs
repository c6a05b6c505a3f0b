//! Protobuf message → Connect schema (`ProtobufData.toConnectSchema`, default settings).

use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor, OneofDescriptor};
use schemas::compiled::ProtobufSchema;

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::converters::avro_data::{DATE, DECIMAL, TIME, TIMESTAMP};

/// A recursive message has no Connect schema; stop well before the stack does.
const MAX_DEPTH: usize = 64;

/// The Connect schema of `message` of `file`; `version` is the registry's version.
pub fn connect_schema_of(
    file: &ProtobufSchema,
    message: &MessageDescriptor,
    version: Option<i32>,
) -> Result<Schema, String> {
    let mut schema = struct_of(file, message, 0)?;
    schema.version = version;
    Ok(schema)
}

fn struct_of(
    file: &ProtobufSchema,
    message: &MessageDescriptor,
    depth: usize,
) -> Result<Schema, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "message {} nests too deep (a recursive message?)",
            message.full_name()
        ));
    }
    let mut fields = Vec::new();
    for oneof in message.oneofs().filter(|o| !o.is_synthetic()) {
        fields.push(Field::new(
            union_field_name(&oneof),
            union_of(file, &oneof, depth)?,
        ));
    }
    for field in message.fields() {
        if field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
            continue;
        }
        fields.push(Field::new(field.name(), field_schema(file, &field, depth)?));
    }
    Ok(Schema::structure(fields).named(message.name()))
}

/// `<oneof name>_<index>`, Confluent's name of a union field.
pub(super) fn union_field_name(oneof: &OneofDescriptor) -> String {
    let index = oneof
        .parent_message()
        .oneofs()
        .position(|o| o == *oneof)
        .unwrap_or_default();
    format!("{}_{index}", oneof.name())
}

fn union_of(
    file: &ProtobufSchema,
    oneof: &OneofDescriptor,
    depth: usize,
) -> Result<Schema, String> {
    let mut fields = Vec::new();
    for field in oneof.fields() {
        fields.push(Field::new(field.name(), field_schema(file, &field, depth)?));
    }
    let mut schema = Schema::structure(fields).named(format!("{UNION_PREFIX}.{}", oneof.name()));
    schema.optional = true;
    Ok(schema)
}

fn parameter(schema: &mut Schema, key: &str, value: impl Into<String>) {
    schema
        .parameters
        .get_or_insert_with(Parameters::new)
        .insert(key.to_owned(), Value::from(value.into()));
}

fn field_schema(
    file: &ProtobufSchema,
    field: &FieldDescriptor,
    depth: usize,
) -> Result<Schema, String> {
    let params = file.field_params(field.full_name());
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let mut schema = match field.kind() {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => match param(CONNECT_TYPE).as_deref() {
            Some("int8") => Schema::new(SchemaType::Int8),
            Some("int16") => Schema::new(SchemaType::Int16),
            _ => {
                let mut schema = Schema::new(SchemaType::Int32);
                if field.kind() != Kind::Int32 {
                    parameter(&mut schema, PROTOBUF_TYPE, kind_name(&field.kind()));
                }
                schema
            }
        },
        Kind::Uint32
        | Kind::Fixed32
        | Kind::Int64
        | Kind::Uint64
        | Kind::Sint64
        | Kind::Fixed64
        | Kind::Sfixed64 => {
            let mut schema = Schema::new(SchemaType::Int64);
            if field.kind() != Kind::Int64 {
                parameter(&mut schema, PROTOBUF_TYPE, kind_name(&field.kind()));
            }
            schema
        }
        Kind::Float => Schema::new(SchemaType::Float),
        Kind::Double => Schema::new(SchemaType::Double),
        Kind::Bool => Schema::new(SchemaType::Boolean),
        Kind::String => Schema::new(SchemaType::String),
        Kind::Bytes => Schema::new(SchemaType::Bytes),
        Kind::Enum(enumeration) => {
            let mut schema = Schema::new(SchemaType::String).named(enumeration.name());
            parameter(&mut schema, PROTOBUF_ENUM, enumeration.name());
            for value in enumeration.values() {
                parameter(
                    &mut schema,
                    &format!("{PROTOBUF_ENUM}.{}", value.name()),
                    value.number().to_string(),
                );
            }
            schema
        }
        Kind::Message(message) => match message.full_name() {
            DECIMAL_TYPE => {
                let scale = param("scale").unwrap_or_else(|| "0".to_owned());
                let mut schema = Schema::new(SchemaType::Bytes).named(DECIMAL);
                schema.version = Some(1);
                parameter(&mut schema, "scale", scale);
                if let Some(precision) = param("precision") {
                    parameter(&mut schema, CONNECT_PRECISION, precision);
                }
                schema
            }
            DATE_TYPE => logical(SchemaType::Int32, DATE),
            TIME_TYPE => logical(SchemaType::Int32, TIME),
            TIMESTAMP_TYPE => logical(SchemaType::Int64, TIMESTAMP),
            _ if is_map_entry(field) => {
                let key = message.get_field(1).ok_or("a map entry has no key")?;
                let value = message.get_field(2).ok_or("a map entry has no value")?;
                Schema {
                    keys: Some(Box::new(field_schema(file, &key, depth + 1)?)),
                    values: Some(Box::new(field_schema(file, &value, depth + 1)?)),
                    ..Schema::new(SchemaType::Map)
                }
                .named(map_field_name(message.name()))
            }
            _ => struct_of(file, &message, depth + 1)?,
        },
    };
    schema.optional = true;
    if field.cardinality() == Cardinality::Repeated && schema.schema_type != SchemaType::Map {
        schema = Schema {
            items: Some(Box::new(schema)),
            ..Schema::new(SchemaType::Array).optional()
        };
    }
    parameter(&mut schema, TAG, field.number().to_string());
    Ok(schema)
}

fn logical(kind: SchemaType, name: &str) -> Schema {
    let mut schema = Schema::new(kind).named(name);
    schema.version = Some(1);
    schema
}

/// A repeated `XEntry` message with exactly `key` and `value` (a `map<>` or Connect's).
pub(super) fn is_map_entry(field: &FieldDescriptor) -> bool {
    let Kind::Message(message) = field.kind() else {
        return false;
    };
    let fields: Vec<FieldDescriptor> = message.fields().collect();
    field.cardinality() == Cardinality::Repeated
        && message.name().ends_with(ENTRY_SUFFIX)
        && fields.len() == 2
        && fields[0].name() == "key"
        && fields[1].name() == "value"
        && fields
            .iter()
            .all(|f| f.cardinality() != Cardinality::Repeated)
}

/// `ProtobufSchema.toMapField`: `TagsEntry` → `tags`.
fn map_field_name(entry: &str) -> String {
    let base = entry.strip_suffix(ENTRY_SUFFIX).unwrap_or(entry);
    let mut out = String::new();
    for (index, c) in base.chars().enumerate() {
        if c.is_uppercase() {
            if index > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Sint32 => "sint32",
        Kind::Sfixed32 => "sfixed32",
        Kind::Uint32 => "uint32",
        Kind::Fixed32 => "fixed32",
        Kind::Uint64 => "uint64",
        Kind::Sint64 => "sint64",
        Kind::Fixed64 => "fixed64",
        Kind::Sfixed64 => "sfixed64",
        Kind::Int64 => "int64",
        _ => "int32",
    }
}
