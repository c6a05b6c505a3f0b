//! JSON Schema → Connect schema (`JsonSchemaData.toConnectSchema`), for schemas our
//! converter or Confluent's wrote and for plain JSON Schemas of other producers.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The Connect schema of a registered JSON Schema; `version` is the registry's version,
/// used when the schema carries no `connect.version`.
pub fn connect_schema_of(
    schema: &Value,
    version: Option<i32>,
    options: JsonSchemaDataOptions,
) -> Result<Schema, String> {
    Reader {
        root: schema,
        options,
        depth: 0,
    }
    .read(schema, version, false)
}

struct Reader<'a> {
    root: &'a Value,
    options: JsonSchemaDataOptions,
    depth: usize,
}

/// A `$ref` cycle (a recursive type) has no Connect schema; stop well before the stack does.
const MAX_DEPTH: usize = 64;

impl<'a> Reader<'a> {
    fn read(
        &mut self,
        json: &Value,
        version: Option<i32>,
        force_optional: bool,
    ) -> Result<Schema, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("the JSON Schema nests too deep (a recursive $ref?)".into());
        }
        let result = self.schema_of(json, version, force_optional);
        self.depth -= 1;
        result
    }

    fn schema_of(
        &mut self,
        json: &Value,
        version: Option<i32>,
        force_optional: bool,
    ) -> Result<Schema, String> {
        let object = json
            .as_object()
            .ok_or_else(|| format!("unsupported JSON Schema {json}"))?;
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            let target = resolve(self.root, reference)?;
            return self.read(target, version, force_optional);
        }
        let mut schema = if let Some(branches) = object
            .get("oneOf")
            .or_else(|| object.get("anyOf"))
            .and_then(Value::as_array)
        {
            let non_null: Vec<&Value> = branches.iter().filter(|b| !is_null_schema(b)).collect();
            if branches.len() == 2 && non_null.len() == 1 {
                return self.read(non_null[0], version, true);
            }
            let mut fields = Vec::new();
            for (index, branch) in non_null.iter().enumerate() {
                fields.push(Field::new(
                    format!("{ONE_OF}.field.{index}"),
                    self.read(branch, None, true)?,
                ));
            }
            let mut union = Schema::structure(fields).named(ONE_OF);
            union.optional = non_null.len() < branches.len();
            union
        } else if let Some(branches) = object.get("allOf").and_then(Value::as_array) {
            // Confluent reads an allOf only as a constrained string or number.
            let typed = branches
                .iter()
                .find(|b| matches!(type_name(b), Some("string" | "number" | "integer")))
                .ok_or_else(|| format!("unsupported allOf in {json}"))?;
            return self.read(typed, version, force_optional);
        } else if let Some(symbols) = object.get("enum").and_then(Value::as_array) {
            let mut parameters = Parameters::new();
            parameters.insert(ENUM.into(), Value::from(""));
            for symbol in symbols {
                let text = match symbol {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                parameters.insert(format!("{ENUM}.{text}"), Value::from(text));
            }
            Schema {
                parameters: Some(parameters),
                ..Schema::new(SchemaType::String)
            }
        } else {
            let (kind, nullable) = match object.get("type") {
                Some(Value::String(kind)) => (kind.clone(), false),
                Some(Value::Array(kinds)) => {
                    let others: Vec<&str> = kinds
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|kind| *kind != "null")
                        .collect();
                    match others.as_slice() {
                        [one] => ((*one).to_owned(), others.len() < kinds.len()),
                        _ => return Err(format!("unsupported type list in {json}")),
                    }
                }
                None if object.contains_key("properties") => ("object".to_owned(), false),
                _ => return Err(format!("unsupported JSON Schema {json}")),
            };
            let mut schema = self.typed(object, &kind, json)?;
            schema.optional |= nullable;
            schema
        };
        if let Some(title) = object.get("title").and_then(Value::as_str)
            && schema.name.is_none()
        {
            schema.name = Some(title.to_owned());
        }
        schema.version = object
            .get(CONNECT_VERSION)
            .and_then(Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
            .or(version);
        if let Some(description) = object.get("description").and_then(Value::as_str) {
            schema.doc = Some(description.to_owned());
        }
        if let Some(Value::Object(parameters)) = object.get(CONNECT_PARAMETERS) {
            let merged = schema.parameters.get_or_insert_with(Parameters::new);
            for (key, value) in parameters {
                merged.insert(key.clone(), value.clone());
            }
        }
        if let Some(default) = object.get("default") {
            schema.default = Some(connect_value_of(&schema, default)?);
        }
        schema.optional |= force_optional;
        Ok(schema)
    }

    fn typed(
        &mut self,
        object: &Map<String, Value>,
        kind: &str,
        json: &Value,
    ) -> Result<Schema, String> {
        let connect_type = object.get(CONNECT_TYPE).and_then(Value::as_str);
        Ok(match kind {
            "boolean" => Schema::new(SchemaType::Boolean),
            "integer" | "number" => Schema::new(match connect_type {
                Some("int8") => SchemaType::Int8,
                Some("int16") => SchemaType::Int16,
                Some("int32") => SchemaType::Int32,
                Some("int64") => SchemaType::Int64,
                Some("float32") => SchemaType::Float,
                Some("float64") => SchemaType::Double,
                Some("bytes") => SchemaType::Bytes,
                Some(other) => return Err(format!("unsupported connect.type {other}")),
                None if kind == "integer" => SchemaType::Int64,
                None => SchemaType::Double,
            }),
            "string" => Schema::new(if connect_type == Some("bytes") {
                SchemaType::Bytes
            } else {
                SchemaType::String
            }),
            "array" => {
                let items = object
                    .get("items")
                    .ok_or("Array schema did not specify the items type")?;
                let items = match items.get("$ref").and_then(Value::as_str) {
                    Some(reference) => resolve(self.root, reference)?,
                    None => items,
                };
                if connect_type == Some("map") && type_name(items) == Some("object") {
                    let property = |name: &str| {
                        items
                            .get("properties")
                            .and_then(|p| p.get(name))
                            .ok_or_else(|| format!("a map entry has no {name} in {json}"))
                    };
                    let (keys, values) = (property(KEY_FIELD)?, property(VALUE_FIELD)?);
                    Schema {
                        keys: Some(Box::new(self.read(keys, None, false)?)),
                        values: Some(Box::new(self.read(values, None, false)?)),
                        ..Schema::new(SchemaType::Map)
                    }
                } else {
                    Schema {
                        items: Some(Box::new(self.read(items, None, false)?)),
                        ..Schema::new(SchemaType::Array)
                    }
                }
            }
            "object" if connect_type == Some("map") => {
                let values = object
                    .get("additionalProperties")
                    .filter(|v| v.is_object())
                    .ok_or_else(|| format!("a map has no additionalProperties schema in {json}"))?;
                Schema {
                    keys: Some(Box::new(Schema::new(SchemaType::String))),
                    values: Some(Box::new(self.read(values, None, false)?)),
                    ..Schema::new(SchemaType::Map)
                }
            }
            "object" => {
                let empty = Map::new();
                let properties = object
                    .get("properties")
                    .and_then(Value::as_object)
                    .unwrap_or(&empty);
                let required: Vec<&str> = object
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                // By `connect.index` when present, else in the order they are written.
                let mut ordered: Vec<(usize, &String, &Value)> = Vec::new();
                for (position, (name, property)) in properties.iter().enumerate() {
                    let index = property
                        .get(CONNECT_INDEX)
                        .and_then(Value::as_u64)
                        .and_then(|i| usize::try_from(i).ok())
                        .unwrap_or(position);
                    ordered.push((index, name, property));
                }
                ordered.sort_by_key(|(index, _, _)| *index);
                let mut fields = Vec::new();
                for (_, name, property) in ordered {
                    let optional = self.options.use_optional_for_nonrequired
                        && !required.contains(&name.as_str());
                    fields.push(Field::new(
                        name.clone(),
                        self.read(property, None, optional)?,
                    ));
                }
                Schema::structure(fields)
            }
            other => return Err(format!("unsupported JSON Schema type {other} in {json}")),
        })
    }
}

/// A local `$ref` (`#/definitions/X`, `#/$defs/X`, `#`).
fn resolve<'a>(root: &'a Value, reference: &str) -> Result<&'a Value, String> {
    let pointer = reference
        .strip_prefix('#')
        .ok_or_else(|| format!("unsupported $ref {reference} (only local references)"))?;
    root.pointer(pointer)
        .ok_or_else(|| format!("$ref {reference} points at nothing"))
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

fn type_name(schema: &Value) -> Option<&str> {
    schema.get("type").and_then(Value::as_str)
}
