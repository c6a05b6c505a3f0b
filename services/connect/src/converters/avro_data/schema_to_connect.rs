//! Avro schema → Connect schema (`AvroData.toConnectSchema`), and the walk over Avro
//! schema JSON (named types, references) that the value conversions share.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Named Avro types of a schema by full name, for references.
#[derive(Debug, Default, Clone)]
pub struct AvroNames(HashMap<String, (Value, String)>);

impl AvroNames {
    /// Collects the named types of `schema` (and of its references' texts, given first).
    pub fn collect(schemata: &[&Value]) -> Self {
        let mut names = Self::default();
        for schema in schemata {
            names.walk(schema, "");
        }
        names
    }

    fn walk(&mut self, schema: &Value, namespace: &str) {
        match schema {
            Value::Array(branches) => branches.iter().for_each(|b| self.walk(b, namespace)),
            Value::Object(object) => {
                let kind = object.get("type");
                match kind.and_then(Value::as_str) {
                    Some("record" | "error" | "enum" | "fixed") => {
                        let full = qualified(object, namespace);
                        let inner_namespace = split_name(&full).0;
                        self.0
                            .insert(full, (schema.clone(), inner_namespace.clone()));
                        for field in object
                            .get("fields")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            if let Some(field_type) = field.get("type") {
                                self.walk(field_type, &inner_namespace);
                            }
                        }
                    }
                    Some("array") => {
                        if let Some(items) = object.get("items") {
                            self.walk(items, namespace);
                        }
                    }
                    Some("map") => {
                        if let Some(values) = object.get("values") {
                            self.walk(values, namespace);
                        }
                    }
                    _ => {
                        if let Some(inner @ (Value::Object(_) | Value::Array(_))) = kind {
                            self.walk(inner, namespace);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The definition `name` refers to from `namespace`, with its own namespace.
    fn resolve(&self, name: &str, namespace: &str) -> Option<&(Value, String)> {
        if !name.contains('.')
            && !namespace.is_empty()
            && let Some(found) = self.0.get(&format!("{namespace}.{name}"))
        {
            return Some(found);
        }
        self.0.get(name)
    }
}

pub(super) fn qualified(object: &Map<String, Value>, namespace: &str) -> String {
    let name = object
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name.contains('.') {
        return name.to_owned();
    }
    match object.get("namespace").and_then(Value::as_str) {
        Some(own) if !own.is_empty() => format!("{own}.{name}"),
        Some(_) => name.to_owned(),
        None if !namespace.is_empty() => format!("{namespace}.{name}"),
        None => name.to_owned(),
    }
}

/// A type as an object: `"int"` → `{"type":"int"}`; a reference → its definition.
pub(super) fn view<'a>(
    schema: &'a Value,
    namespace: &str,
    names: &'a AvroNames,
) -> Result<(std::borrow::Cow<'a, Value>, String), String> {
    match schema {
        Value::String(name) => match name.as_str() {
            "null" | "boolean" | "int" | "long" | "float" | "double" | "bytes" | "string" => Ok((
                std::borrow::Cow::Borrowed(primitive_object(name)),
                namespace.to_owned(),
            )),
            _ => names
                .resolve(name, namespace)
                .map(|(definition, inner)| (std::borrow::Cow::Borrowed(definition), inner.clone()))
                .ok_or_else(|| format!("unknown Avro type {name}")),
        },
        Value::Object(object) => match object.get("type") {
            Some(inner @ (Value::Object(_) | Value::Array(_))) => view(inner, namespace, names),
            Some(Value::String(kind))
                if matches!(kind.as_str(), "record" | "error" | "enum" | "fixed") =>
            {
                let full = qualified(object, namespace);
                Ok((std::borrow::Cow::Borrowed(schema), split_name(&full).0))
            }
            Some(Value::String(kind))
                if !matches!(
                    kind.as_str(),
                    "null"
                        | "boolean"
                        | "int"
                        | "long"
                        | "float"
                        | "double"
                        | "bytes"
                        | "string"
                        | "array"
                        | "map"
                ) =>
            {
                view(&object["type"], namespace, names)
            }
            _ => Ok((std::borrow::Cow::Borrowed(schema), namespace.to_owned())),
        },
        Value::Array(_) => Ok((std::borrow::Cow::Borrowed(schema), namespace.to_owned())),
        other => Err(format!("not an Avro schema: {other}")),
    }
}

/// The Connect schema `AvroData.toConnectSchema` gives for an Avro schema; `None` for
/// Confluent's schemaless record.
pub fn connect_schema_of(schema: &Value, names: &AvroNames) -> Result<Schema, String> {
    let mut visiting = Vec::new();
    to_connect_schema(schema, "", names, false, None, &mut visiting)
}

pub(super) fn to_connect_schema(
    schema: &Value,
    namespace: &str,
    names: &AvroNames,
    force_optional: bool,
    field_default: Option<&Value>,
    visiting: &mut Vec<String>,
) -> Result<Schema, String> {
    let (viewed, inner_namespace) = view(schema, namespace, names)?;
    if let Value::Array(branches) = viewed.as_ref() {
        return union_schema(branches, namespace, names, field_default, visiting);
    }
    let object = viewed
        .as_object()
        .ok_or("an Avro schema must be an object")?;
    let property = |key: &str| object.get(key);
    let logical = property("logicalType").and_then(Value::as_str);
    let kind = property("type").and_then(Value::as_str).unwrap_or_default();
    let mut built = match kind {
        "boolean" => Schema::new(SchemaType::Boolean),
        "int" => match (logical, property(CONNECT_TYPE).and_then(Value::as_str)) {
            (Some("date"), _) => logical_schema(SchemaType::Int32, DATE),
            (Some("time-millis"), _) => logical_schema(SchemaType::Int32, TIME),
            (_, Some("int8")) => Schema::new(SchemaType::Int8),
            (_, Some("int16")) => Schema::new(SchemaType::Int16),
            _ => Schema::new(SchemaType::Int32),
        },
        "long" => match logical {
            Some("timestamp-millis") => logical_schema(SchemaType::Int64, TIMESTAMP),
            _ => Schema::new(SchemaType::Int64),
        },
        "float" => Schema::new(SchemaType::Float),
        "double" => Schema::new(SchemaType::Double),
        "string" => Schema::new(SchemaType::String),
        "bytes" | "fixed" => match logical {
            Some("decimal") => {
                let mut decimal = logical_schema(SchemaType::Bytes, DECIMAL);
                let scale = property("scale").and_then(Value::as_i64).unwrap_or(0);
                let mut parameters = Parameters::new();
                parameters.insert("scale".into(), Value::from(scale.to_string()));
                if let Some(precision) = property("precision").and_then(Value::as_i64)
                    && precision != DEFAULT_DECIMAL_PRECISION
                {
                    parameters.insert(DECIMAL_PRECISION.into(), Value::from(precision.to_string()));
                }
                decimal.parameters = Some(parameters);
                decimal
            }
            _ => Schema::new(SchemaType::Bytes),
        },
        "array" => {
            let items = property("items").ok_or("an Avro array has no items")?;
            let (item_view, item_namespace) = view(items, namespace, names)?;
            if is_map_entry(item_view.as_ref()) {
                let fields = item_view["fields"].as_array().cloned().unwrap_or_default();
                let member = |name: &str| {
                    fields
                        .iter()
                        .find(|f| f["name"] == name)
                        .map(|f| f["type"].clone())
                        .ok_or_else(|| {
                            "Found map encoded as array of key-value pairs, but array elements do not match the expected format.".to_owned()
                        })
                };
                let (key, value) = (member("key")?, member("value")?);
                Schema {
                    keys: Some(Box::new(to_connect_schema(
                        &key,
                        &item_namespace,
                        names,
                        false,
                        None,
                        visiting,
                    )?)),
                    values: Some(Box::new(to_connect_schema(
                        &value,
                        &item_namespace,
                        names,
                        false,
                        None,
                        visiting,
                    )?)),
                    ..Schema::new(SchemaType::Map)
                }
            } else {
                Schema {
                    items: Some(Box::new(to_connect_schema(
                        items, namespace, names, false, None, visiting,
                    )?)),
                    ..Schema::new(SchemaType::Array)
                }
            }
        }
        "map" => {
            let values = property("values").ok_or("an Avro map has no values")?;
            Schema {
                keys: Some(Box::new(Schema::new(SchemaType::String))),
                values: Some(Box::new(to_connect_schema(
                    values, namespace, names, false, None, visiting,
                )?)),
                ..Schema::new(SchemaType::Map)
            }
        }
        "record" | "error" => {
            let full = qualified(object, namespace);
            if visiting.contains(&full) {
                return Err(format!(
                    "recursive Avro record {full} has no Connect schema"
                ));
            }
            visiting.push(full.clone());
            let mut parameters = Parameters::new();
            if let Some(doc) = property("doc").and_then(Value::as_str) {
                parameters.insert(RECORD_DOC.into(), Value::from(doc));
            }
            let mut fields = Vec::new();
            for field in property("fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = field["name"].as_str().unwrap_or_default();
                if let Some(doc) = field.get("doc").and_then(Value::as_str) {
                    parameters.insert(format!("{FIELD_DOC_PREFIX}{name}"), Value::from(doc));
                }
                let field_schema = to_connect_schema(
                    &field["type"],
                    &inner_namespace,
                    names,
                    false,
                    field.get("default"),
                    visiting,
                )?;
                fields.push(Field::new(name, field_schema));
            }
            visiting.pop();
            let mut record = Schema::structure(fields);
            if !parameters.is_empty() {
                record.parameters = Some(parameters);
            }
            record
        }
        "enum" => {
            let mut parameters = Parameters::new();
            parameters.insert(ENUM.into(), Value::from(qualified(object, namespace)));
            for symbol in property("symbols")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(symbol) = symbol.as_str() {
                    parameters.insert(format!("{ENUM}.{symbol}"), Value::from(symbol));
                }
            }
            Schema {
                parameters: Some(parameters),
                ..Schema::new(SchemaType::String)
            }
        }
        "null" => return Err("Standalone null schemas are not supported by this converter".into()),
        other => {
            return Err(format!(
                "Couldn't translate unsupported schema type {other}."
            ));
        }
    };
    apply_connect_properties(&mut built, object, kind, namespace, field_default)?;
    if force_optional {
        built.optional = true;
    }
    Ok(built)
}

pub(super) fn logical_schema(schema_type: SchemaType, name: &str) -> Schema {
    Schema {
        name: Some(name.to_owned()),
        version: Some(1),
        ..Schema::new(schema_type)
    }
}

pub(super) fn is_map_entry(schema: &Value) -> bool {
    schema["type"] == "record"
        && ((schema["name"] == MAP_ENTRY && schema["namespace"] == NAMESPACE)
            || schema["name"] == format!("{NAMESPACE}.{MAP_ENTRY}")
            || schema[CONNECT_INTERNAL_TYPE] == MAP_ENTRY)
}

pub(super) fn apply_connect_properties(
    built: &mut Schema,
    object: &Map<String, Value>,
    kind: &str,
    namespace: &str,
    field_default: Option<&Value>,
) -> Result<(), String> {
    if let Some(doc) = object.get(CONNECT_DOC).and_then(Value::as_str) {
        built.doc = Some(doc.to_owned());
    }
    if let Some(version) = object.get(CONNECT_VERSION) {
        let version = version
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| format!("Invalid Connect version found: {version}"))?;
        built.version = Some(version);
    }
    if let Some(parameters) = object.get(CONNECT_PARAMETERS) {
        let parameters = parameters.as_object().ok_or_else(|| {
            format!("Expected JSON object for schema parameters but found: {parameters}")
        })?;
        let merged = built.parameters.get_or_insert_with(Parameters::new);
        for (key, value) in parameters {
            if !value.is_string() {
                return Err(format!(
                    "Expected schema parameter values to be strings but found: {value}"
                ));
            }
            merged.insert(key.clone(), value.clone());
        }
    }
    let connect_default = object.get(CONNECT_DEFAULT);
    let default = match (field_default, connect_default) {
        (Some(field), None) if !field.is_null() => {
            built
                .parameters
                .get_or_insert_with(Parameters::new)
                .insert(FIELD_DEFAULT_FLAG.into(), Value::from("true"));
            Some(field)
        }
        (Some(field), Some(_)) if !field.is_null() => Some(field),
        (_, connect) => connect,
    };
    if let Some(default) = default.filter(|d| !d.is_null()) {
        built.default = Some(default_from_avro(built, default));
    }
    let name = match object.get(CONNECT_NAME) {
        Some(Value::String(name)) => Some(name.clone()),
        Some(other) => return Err(format!("Invalid schema name: {other}")),
        None if matches!(kind, "record" | "error" | "enum") => Some(qualified(object, namespace)),
        None => None,
    };
    if let Some(name) = name.filter(|n| n != DEFAULT_FULL_NAME) {
        built.name = Some(name);
    }
    Ok(())
}

/// Avro's JSON default as a Connect default (bytes become base64).
pub(super) fn default_from_avro(schema: &Schema, value: &Value) -> Value {
    match (schema.schema_type, value) {
        (SchemaType::Bytes, Value::String(text)) => {
            let bytes: Vec<u8> = text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect();
            Value::String(BASE64.encode(bytes))
        }
        _ => value.clone(),
    }
}

pub(super) fn union_schema(
    branches: &[Value],
    namespace: &str,
    names: &AvroNames,
    field_default: Option<&Value>,
    visiting: &mut Vec<String>,
) -> Result<Schema, String> {
    let is_null = |b: &Value| b == "null" || b["type"] == "null";
    if branches.len() == 2 && branches.iter().any(is_null) {
        let member = branches
            .iter()
            .find(|b| !is_null(b))
            .unwrap_or(&Value::Null);
        // The default of a [null, T] field is null; of a [T, null] field it is T's.
        let default = field_default.filter(|d| !d.is_null());
        return to_connect_schema(member, namespace, names, true, default, visiting);
    }
    let mut fields = Vec::new();
    let mut optional = false;
    for branch in branches {
        if is_null(branch) {
            optional = true;
            continue;
        }
        let field_name = union_member_name(branch, namespace, names)?;
        if fields.iter().any(|f: &Field| f.field == field_name) {
            return Err("Multiple union schemas map to the Connect union field name".into());
        }
        let member = to_connect_schema(branch, namespace, names, true, None, visiting)?;
        fields.push(Field::new(field_name, member));
    }
    let mut union = Schema::structure(fields).named(UNION);
    union.optional = optional;
    Ok(union)
}

pub(super) fn union_member_name(
    branch: &Value,
    namespace: &str,
    names: &AvroNames,
) -> Result<String, String> {
    let (viewed, _) = view(branch, namespace, names)?;
    let kind = viewed["type"].as_str().unwrap_or_default();
    Ok(match kind {
        "record" | "error" | "enum" | "fixed" => viewed["name"]
            .as_str()
            .map(|n| split_name(n).1)
            .unwrap_or_default(),
        other => other.to_owned(),
    })
}

/// `{"type": name}` for a primitive type name, built once: every value of every record
/// walks through here.
fn primitive_object(name: &str) -> &'static Value {
    static OBJECTS: std::sync::LazyLock<HashMap<&'static str, Value>> =
        std::sync::LazyLock::new(|| {
            [
                "null", "boolean", "int", "long", "float", "double", "bytes", "string",
            ]
            .into_iter()
            .map(|name| (name, json!({ "type": name })))
            .collect()
        });
    OBJECTS.get(name).unwrap_or(&Value::Null)
}
