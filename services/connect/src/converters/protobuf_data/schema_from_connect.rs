//! Connect schema → `.proto` source (`ProtobufData.fromConnectSchema`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::converters::avro_data::{DATE, DECIMAL, TIME, TIMESTAMP};

/// A `.proto` file written for a Connect schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoFile {
    pub text: String,
    /// The full name of the message for the Connect schema (the file's first message).
    pub message: String,
}

/// The `.proto` Confluent's ProtobufConverter registers for the struct `schema`.
pub fn proto_of(schema: &Schema) -> Result<ProtoFile, String> {
    if schema.schema_type != SchemaType::Struct {
        return Err(format!(
            "only struct schemas are supported at the root of a Protobuf schema, not {:?}",
            schema.schema_type
        ));
    }
    let mut writer = Writer::default();
    let full_name = writer.name_or_default(schema.name.as_deref());
    let (package, name) = match full_name.rsplit_once('.') {
        Some((package, name)) => (Some(package.to_owned()), name.to_owned()),
        None => (None, full_name.clone()),
    };
    let body = writer.message(&name, schema, 0)?;
    let mut text = String::from("syntax = \"proto3\";\n");
    if let Some(package) = &package {
        let _ = writeln!(text, "package {package};");
    }
    if !writer.imports.is_empty() {
        text.push('\n');
        for import in &writer.imports {
            let _ = writeln!(text, "import \"{import}\";");
        }
    }
    text.push('\n');
    text.push_str(&body);
    Ok(ProtoFile {
        text,
        message: package.map_or(name.clone(), |package| format!("{package}.{name}")),
    })
}

#[derive(Default)]
struct Writer {
    imports: BTreeSet<&'static str>,
    default_names: usize,
}

impl Writer {
    fn name_or_default(&mut self, name: Option<&str>) -> String {
        match name.filter(|n| !n.is_empty()) {
            Some(name) => name.to_owned(),
            None => {
                self.default_names += 1;
                format!("{DEFAULT_NAME}{}", self.default_names)
            }
        }
    }

    fn unqualified(&mut self, name: Option<&str>) -> String {
        let full = self.name_or_default(name);
        full.rsplit('.').next().unwrap_or(&full).to_owned()
    }

    /// `message <name> { fields; nested messages }` at `depth` levels of indentation.
    fn message(&mut self, name: &str, schema: &Schema, depth: usize) -> Result<String, String> {
        let indent = "  ".repeat(depth);
        let mut fields = String::new();
        let mut nested: Vec<(String, String)> = Vec::new();
        let mut next_tag = 1;
        for field in schema.fields.as_deref().unwrap_or_default() {
            let tag = match tag_parameter(&field.schema) {
                Some(tag) => tag,
                None => {
                    let tag = next_tag;
                    next_tag += 1;
                    tag
                }
            };
            let line = self.field(name, field, tag, depth + 1, &mut nested)?;
            fields.push_str(&line);
        }
        let mut out = format!("{indent}message {name} {{\n{fields}");
        for (_, definition) in &nested {
            out.push_str(definition);
        }
        let _ = writeln!(out, "{indent}}}");
        Ok(out)
    }

    fn field(
        &mut self,
        parent: &str,
        field: &Field,
        tag: u32,
        depth: usize,
        nested: &mut Vec<(String, String)>,
    ) -> Result<String, String> {
        let indent = "  ".repeat(depth);
        let mut schema = &field.schema;
        let mut label = "";
        if schema.schema_type == SchemaType::Array {
            label = "repeated ";
            schema = schema.items_schema()?;
            if schema.schema_type == SchemaType::Array {
                return Err(format!("field {}: Array cannot be nested", field.field));
            }
        } else if schema.schema_type == SchemaType::Map {
            label = "repeated ";
        }
        let mut params: Vec<(&str, String)> = Vec::new();
        let type_name = self.type_of(schema, &field.field, &mut params)?;
        let known = nested.iter().any(|(n, _)| *n == type_name);
        match schema.schema_type {
            SchemaType::Struct if !is_logical(schema) && type_name != parent && !known => {
                let definition = self.message(&type_name, schema, depth)?;
                nested.push((type_name.clone(), definition));
            }
            SchemaType::Map if !known => {
                let definition = self.map_entry(&type_name, schema, depth)?;
                nested.push((type_name.clone(), definition));
            }
            _ => {}
        }
        let mut line = format!("{indent}{label}{type_name} {} = {tag}", field.field);
        if !params.is_empty() {
            self.imports.insert(META_IMPORT);
            let entries: Vec<String> = params
                .iter()
                .map(|(key, value)| format!("{{ key: \"{key}\", value: \"{value}\" }}"))
                .collect();
            let _ = write!(
                line,
                " [(confluent.field_meta) = {{ params: [ {} ] }}]",
                entries.join(", ")
            );
        }
        line.push_str(";\n");
        Ok(line)
    }

    fn map_entry(&mut self, name: &str, schema: &Schema, depth: usize) -> Result<String, String> {
        let (keys, values) = schema.map_schemas()?;
        let entry = Schema::structure(vec![
            Field::new("key", keys.clone()),
            Field::new("value", values.clone()),
        ]);
        self.message(name, &entry, depth)
    }

    /// The Protobuf type of a (non-array) field schema; params of its field options.
    fn type_of(
        &mut self,
        schema: &Schema,
        field_name: &str,
        params: &mut Vec<(&'static str, String)>,
    ) -> Result<String, String> {
        let parameter = |key: &str| {
            schema
                .parameters
                .as_ref()
                .and_then(|p| p.get(key))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        };
        match schema.name.as_deref() {
            Some(DECIMAL) => {
                if let Some(precision) = parameter(CONNECT_PRECISION) {
                    params.push(("precision", precision));
                }
                if let Some(scale) = parameter("scale") {
                    params.push(("scale", scale));
                }
                self.imports.insert("confluent/type/decimal.proto");
                return Ok(DECIMAL_TYPE.to_owned());
            }
            Some(DATE) => {
                self.imports.insert("google/type/date.proto");
                return Ok(DATE_TYPE.to_owned());
            }
            Some(TIME) => {
                self.imports.insert("google/type/timeofday.proto");
                return Ok(TIME_TYPE.to_owned());
            }
            Some(TIMESTAMP) => {
                self.imports.insert("google/protobuf/timestamp.proto");
                return Ok(TIMESTAMP_TYPE.to_owned());
            }
            _ => {}
        }
        if parameter(PROTOBUF_ENUM).is_some() {
            return Err(format!(
                "field {field_name}: Protobuf enums are not supported"
            ));
        }
        Ok(match schema.schema_type {
            SchemaType::Int8 => {
                params.push((CONNECT_TYPE, "int8".to_owned()));
                "int32".to_owned()
            }
            SchemaType::Int16 => {
                params.push((CONNECT_TYPE, "int16".to_owned()));
                "int32".to_owned()
            }
            SchemaType::Int32 => parameter(PROTOBUF_TYPE).unwrap_or_else(|| "int32".to_owned()),
            SchemaType::Int64 => parameter(PROTOBUF_TYPE).unwrap_or_else(|| "int64".to_owned()),
            SchemaType::Float => "float".to_owned(),
            SchemaType::Double => "double".to_owned(),
            SchemaType::Boolean => "bool".to_owned(),
            SchemaType::String => "string".to_owned(),
            SchemaType::Bytes => "bytes".to_owned(),
            SchemaType::Array => return Err("Array cannot be nested".to_owned()),
            SchemaType::Map => map_entry_name(&self.unqualified(schema.name.as_deref())),
            SchemaType::Struct => {
                if schema
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(UNION_PREFIX))
                {
                    return Err(format!(
                        "field {field_name}: Protobuf oneofs are not supported"
                    ));
                }
                let name = self.unqualified(schema.name.as_deref());
                if name == field_name {
                    format!("{name}Message")
                } else {
                    name
                }
            }
        })
    }
}

fn is_logical(schema: &Schema) -> bool {
    matches!(
        schema.name.as_deref(),
        Some(DECIMAL | DATE | TIME | TIMESTAMP)
    )
}

fn tag_parameter(schema: &Schema) -> Option<u32> {
    let value = schema.parameters.as_ref()?.get(TAG)?;
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .or_else(|| value.as_u64().and_then(|n| u32::try_from(n).ok()))
}

/// `ProtobufSchema.toMapEntry`: snake_case becomes UpperCamel, then `Entry`.
fn map_entry_name(name: &str) -> String {
    let mut out = String::new();
    if name.contains('_') {
        for part in name.split('_').filter(|p| !p.is_empty()) {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(&chars.as_str().to_lowercase());
            }
        }
    } else {
        out.push_str(name);
    }
    out.push_str(ENTRY_SUFFIX);
    out
}
