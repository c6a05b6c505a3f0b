//! Connect schema → JSON Schema (`JsonSchemaData.fromConnectSchema`).

#[allow(clippy::wildcard_imports)]
use super::*;

/// The JSON Schema Confluent's JsonSchemaConverter registers for `schema`.
pub fn json_schema_of(schema: &Schema, options: JsonSchemaDataOptions) -> Result<Value, String> {
    from_connect(schema, None, false, options)
}

fn from_connect(
    schema: &Schema,
    index: Option<usize>,
    ignore_optional: bool,
    options: JsonSchemaDataOptions,
) -> Result<Value, String> {
    let mut out = Map::new();
    let mut combined = false;
    let connect_type = |out: &mut Map<String, Value>, kind: &str, name: &str| {
        out.insert("type".into(), Value::from(kind));
        out.insert(CONNECT_TYPE.into(), Value::from(name));
    };
    match schema.schema_type {
        SchemaType::Int8 => connect_type(&mut out, "integer", "int8"),
        SchemaType::Int16 => connect_type(&mut out, "integer", "int16"),
        SchemaType::Int32 => connect_type(&mut out, "integer", "int32"),
        SchemaType::Int64 => connect_type(&mut out, "integer", "int64"),
        SchemaType::Float => connect_type(&mut out, "number", "float32"),
        SchemaType::Double => connect_type(&mut out, "number", "float64"),
        SchemaType::Boolean => {
            out.insert("type".into(), Value::from("boolean"));
        }
        SchemaType::String => match schema.parameters.as_ref().filter(|p| p.contains_key(ENUM)) {
            Some(parameters) => {
                let prefix = format!("{ENUM}.");
                let symbols: Vec<Value> = parameters
                    .keys()
                    .filter_map(|key| key.strip_prefix(&prefix))
                    .map(Value::from)
                    .collect();
                out.insert("enum".into(), Value::Array(symbols));
            }
            None => {
                out.insert("type".into(), Value::from("string"));
            }
        },
        SchemaType::Bytes => {
            let kind = if schema.name.as_deref() == Some(crate_decimal()) {
                "number"
            } else {
                "string"
            };
            connect_type(&mut out, kind, "bytes");
        }
        SchemaType::Array => {
            let items = schema.items_schema()?;
            out.insert("type".into(), Value::from("array"));
            out.insert("items".into(), from_connect(items, None, false, options)?);
        }
        SchemaType::Map => {
            let (keys, values) = schema.map_schemas()?;
            if keys.schema_type == SchemaType::String && !keys.optional {
                out.insert("type".into(), Value::from("object"));
                out.insert(
                    "additionalProperties".into(),
                    from_connect(values, None, false, options)?,
                );
            } else {
                let entry = json!({"type": "object", "properties": {
                    KEY_FIELD: from_connect(keys, Some(0), false, options)?,
                    VALUE_FIELD: from_connect(values, Some(1), false, options)?,
                }});
                out.insert("type".into(), Value::from("array"));
                out.insert("items".into(), entry);
            }
            out.insert(CONNECT_TYPE.into(), Value::from("map"));
        }
        SchemaType::Struct => {
            let fields = schema.fields.as_deref().unwrap_or_default();
            if schema.name.as_deref() == Some(ONE_OF) {
                let mut branches = Vec::new();
                if schema.optional {
                    branches.push(json!({"type": "null"}));
                }
                for (position, field) in fields.iter().enumerate() {
                    let required = Schema {
                        optional: false,
                        ..field.schema.clone()
                    };
                    branches.push(from_connect(&required, Some(position), true, options)?);
                }
                out.insert("oneOf".into(), Value::Array(branches));
                combined = true;
            } else if schema.optional {
                let required = Schema {
                    optional: false,
                    ..schema.clone()
                };
                out.insert(
                    "oneOf".into(),
                    json!([{"type": "null"}, from_connect(&required, None, false, options)?]),
                );
                combined = true;
            } else {
                let mut properties = Map::new();
                for (position, field) in fields.iter().enumerate() {
                    properties.insert(
                        field.field.clone(),
                        from_connect(&field.schema, Some(position), false, options)?,
                    );
                }
                out.insert("type".into(), Value::from("object"));
                out.insert("properties".into(), Value::Object(properties));
                if !options.object_additional_properties {
                    out.insert("additionalProperties".into(), Value::Bool(false));
                }
            }
        }
    }
    if !combined {
        describe(schema, &mut out)?;
        if schema.optional && !ignore_optional {
            let mut wrapper = Map::new();
            wrapper.insert(
                "oneOf".into(),
                json!([{"type": "null"}, Value::Object(out)]),
            );
            out = wrapper;
        }
    }
    if let Some(index) = index {
        out.insert(CONNECT_INDEX.into(), Value::from(index));
    }
    Ok(Value::Object(out))
}

/// `title`, `description`, `connect.version`, `connect.parameters`, `default`.
fn describe(schema: &Schema, out: &mut Map<String, Value>) -> Result<(), String> {
    if let Some(name) = &schema.name {
        out.insert("title".into(), Value::from(name.as_str()));
    }
    if let Some(version) = schema.version {
        out.insert(CONNECT_VERSION.into(), Value::from(version));
    }
    if let Some(doc) = &schema.doc {
        out.insert("description".into(), Value::from(doc.as_str()));
    }
    if let Some(parameters) = &schema.parameters {
        let kept: Map<String, Value> = parameters
            .iter()
            .filter(|(key, _)| !key.starts_with(NAMESPACE))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if !kept.is_empty() {
            out.insert(CONNECT_PARAMETERS.into(), Value::Object(kept));
        }
    }
    if let Some(default) = &schema.default {
        out.insert("default".into(), json_value_of(schema, default)?);
    }
    Ok(())
}

fn crate_decimal() -> &'static str {
    super::super::avro_data::DECIMAL
}
