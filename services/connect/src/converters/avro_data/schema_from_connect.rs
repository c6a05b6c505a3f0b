//! Connect schema → Avro schema (`AvroData.fromConnectSchema`).

#[allow(clippy::wildcard_imports)]
use super::*;

/// The Avro schema (as JSON) `AvroData.fromConnectSchema` gives for `schema`.
pub fn avro_schema_of(schema: &Schema, options: AvroDataOptions) -> Result<Value, String> {
    let mut context = FromConnect {
        options,
        defined: HashMap::new(),
        unnamed: Vec::new(),
    };
    context.schema(schema, false)
}

pub(super) struct FromConnect {
    options: AvroDataOptions,
    /// Named types written so far, by full name: a second use is a reference.
    defined: HashMap<String, Value>,
    /// Distinct unnamed structs met so far, in order (their index names them).
    unnamed: Vec<Schema>,
}

impl FromConnect {
    fn schema(&mut self, schema: &Schema, ignore_optional: bool) -> Result<Value, String> {
        if schema.schema_type == SchemaType::Struct {
            return self.record(schema);
        }
        let mut base = self.base(schema)?;
        if let Value::Object(properties) = &mut base {
            self.metadata(schema, properties);
        }
        if schema.optional && !ignore_optional {
            return Ok(if schema.default.as_ref().is_some_and(|d| !d.is_null()) {
                json!([base, "null"])
            } else {
                json!(["null", base])
            });
        }
        Ok(base)
    }

    /// The type without the optional union, as a JSON object (or a reference string).
    fn base(&mut self, schema: &Schema) -> Result<Value, String> {
        let primitive = |name: &str| {
            let mut object = Map::new();
            object.insert("type".into(), Value::from(name));
            Value::Object(object)
        };
        let mut base = match schema.schema_type {
            SchemaType::Int8 => with(primitive("int"), CONNECT_TYPE, json!("int8")),
            SchemaType::Int16 => with(primitive("int"), CONNECT_TYPE, json!("int16")),
            SchemaType::Int32 => primitive("int"),
            SchemaType::Int64 => primitive("long"),
            SchemaType::Float => primitive("float"),
            SchemaType::Double => primitive("double"),
            SchemaType::Boolean => primitive("boolean"),
            SchemaType::String => match self.enumeration(schema) {
                Some(enumeration) => enumeration,
                None => primitive("string"),
            },
            SchemaType::Bytes => primitive("bytes"),
            SchemaType::Array => {
                let items = schema
                    .items
                    .as_deref()
                    .ok_or("an array schema has no value schema")?;
                json!({"type": "array", "items": self.schema(items, false)?})
            }
            SchemaType::Map => self.map(schema)?,
            SchemaType::Struct => return self.record(schema),
        };
        // Only structs are named in Avro; the others carry their name in `connect.name`.
        if let Value::Object(object) = &mut base {
            logical_type(schema, object);
        }
        Ok(base)
    }

    fn enumeration(&self, schema: &Schema) -> Option<Value> {
        let parameters = schema.parameters.as_ref()?;
        if !self.options.enhanced_schema_support {
            return None;
        }
        let full_name = parameters.get(ENUM)?.as_str()?;
        let prefix = format!("{ENUM}.");
        let symbols: Vec<Value> = parameters
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, symbol)| symbol.clone())
            .collect();
        let (namespace, name) = split_name(full_name);
        let mut object = json!({"type": "enum", "name": name, "symbols": symbols});
        if !namespace.is_empty() {
            object["namespace"] = Value::from(namespace);
        }
        Some(object)
    }

    fn map(&mut self, schema: &Schema) -> Result<Value, String> {
        let keys = schema
            .keys
            .as_deref()
            .ok_or("a map schema has no key schema")?;
        let values = schema
            .values
            .as_deref()
            .ok_or("a map schema has no value schema")?;
        if keys.schema_type == SchemaType::String && !keys.optional {
            return Ok(json!({"type": "map", "values": self.schema(values, false)?}));
        }
        let (namespace, name) = match &schema.name {
            Some(name) => split_name(name),
            None => (NAMESPACE.to_owned(), MAP_ENTRY.to_owned()),
        };
        let mut entry = json!({
            "type": "record", "name": name, "namespace": namespace,
            "fields": [self.field("key", keys, None)?, self.field("value", values, None)?],
        });
        if schema.name.is_some() {
            entry[CONNECT_INTERNAL_TYPE] = Value::from(MAP_ENTRY);
        }
        let full_name = full_name_of(&entry);
        let items = match self.defined.get(&full_name) {
            Some(_) => Value::from(full_name),
            None => {
                self.defined.insert(full_name, entry.clone());
                entry
            }
        };
        Ok(json!({"type": "array", "items": items}))
    }

    fn record(&mut self, schema: &Schema) -> Result<Value, String> {
        if schema.name.as_deref() == Some(UNION) {
            return self.union(schema);
        }
        if schema.optional {
            let mut required = schema.clone();
            required.optional = false;
            return Ok(json!(["null", self.schema(&required, false)?]));
        }
        let (namespace, name) = match &schema.name {
            Some(full) => split_name(full),
            None => (NAMESPACE.to_owned(), self.unnamed_name(schema)),
        };
        let (namespace, name) = (self.scrub(&namespace), self.scrub(&name));
        let full_name = if namespace.is_empty() {
            name.clone()
        } else {
            format!("{namespace}.{name}")
        };
        if self.defined.contains_key(&full_name) {
            return Ok(Value::from(full_name));
        }
        // Placeholder first: a struct that contains itself refers to its name.
        self.defined.insert(full_name.clone(), Value::Null);
        let parameters = schema.parameters.as_ref();
        let parameter = |key: &str| parameters.and_then(|p| p.get(key)).and_then(Value::as_str);
        let mut fields = Vec::new();
        for field in schema.fields.as_deref().unwrap_or_default() {
            let doc = parameter(&format!("{FIELD_DOC_PREFIX}{}", field.field)).map(str::to_owned);
            fields.push(self.field(&field.field, &field.schema, doc)?);
        }
        let mut record = Map::new();
        record.insert("type".into(), Value::from("record"));
        record.insert("name".into(), Value::from(name));
        if !namespace.is_empty() {
            record.insert("namespace".into(), Value::from(namespace));
        }
        if let Some(doc) = parameter(RECORD_DOC) {
            record.insert("doc".into(), Value::from(doc));
        }
        record.insert("fields".into(), Value::Array(fields));
        self.metadata(schema, &mut record);
        let record = Value::Object(record);
        self.defined.insert(full_name, record.clone());
        Ok(record)
    }

    fn union(&mut self, schema: &Schema) -> Result<Value, String> {
        let mut branches = Vec::new();
        if schema.optional {
            branches.push(Value::from("null"));
        }
        for field in schema.fields.as_deref().unwrap_or_default() {
            let mut member = field.schema.clone();
            member.optional = false;
            branches.push(self.schema(&member, true)?);
        }
        Ok(Value::Array(branches))
    }

    fn unnamed_name(&mut self, schema: &Schema) -> String {
        let index = match self.unnamed.iter().position(|seen| seen == schema) {
            Some(index) => index,
            None => {
                self.unnamed.push(schema.clone());
                self.unnamed.len() - 1
            }
        };
        if index == 0 {
            DEFAULT_NAME.to_owned()
        } else {
            format!("{DEFAULT_NAME}{}", index + 1)
        }
    }

    fn field(&mut self, name: &str, schema: &Schema, doc: Option<String>) -> Result<Value, String> {
        let mut field = Map::new();
        field.insert("name".into(), Value::from(self.scrub(name)));
        field.insert("type".into(), self.schema(schema, false)?);
        if let Some(doc) = doc {
            field.insert("doc".into(), Value::from(doc));
        }
        match &schema.default {
            Some(default) if !default.is_null() => {
                field.insert("default".into(), default_to_avro(schema, default)?);
            }
            _ if schema.optional => {
                field.insert("default".into(), Value::Null);
            }
            _ => {}
        }
        Ok(Value::Object(field))
    }

    /// `connect.*` properties; a union carries none (Avro allows none there).
    fn metadata(&self, schema: &Schema, properties: &mut Map<String, Value>) {
        if !self.options.connect_meta_data {
            return;
        }
        if let Some(doc) = &schema.doc {
            properties.insert(CONNECT_DOC.into(), Value::from(doc.as_str()));
        }
        if let Some(version) = schema.version {
            properties.insert(CONNECT_VERSION.into(), Value::from(version));
        }
        if let Some(parameters) = &schema.parameters {
            let kept: Map<String, Value> = parameters
                .iter()
                .filter(|(key, _)| key.as_str() != FIELD_DEFAULT_FLAG)
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            if !kept.is_empty() {
                properties.insert(CONNECT_PARAMETERS.into(), Value::Object(kept));
            }
        }
        if let Some(default) = schema.default.as_ref().filter(|d| !d.is_null())
            && !schema
                .parameters
                .as_ref()
                .is_some_and(|p| p.contains_key(FIELD_DEFAULT_FLAG))
            && let Ok(default) = default_to_avro(schema, default)
        {
            properties.insert(CONNECT_DEFAULT.into(), default);
        }
        if let Some(name) = &schema.name {
            properties.insert(CONNECT_NAME.into(), Value::from(name.as_str()));
        }
    }

    fn scrub(&self, name: &str) -> String {
        if !self.options.scrub_invalid_names {
            return name.to_owned();
        }
        name.split('.')
            .map(|part| {
                let mut scrubbed: String = part
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                if scrubbed.starts_with(|c: char| c.is_ascii_digit()) || scrubbed.is_empty() {
                    scrubbed.insert(0, 'x');
                }
                scrubbed
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

pub(super) fn with(mut object: Value, key: &str, value: Value) -> Value {
    object[key] = value;
    object
}

/// The Avro logical type of Connect's logical schemas (Debezium's own stay plain).
pub(super) fn logical_type(schema: &Schema, object: &mut Map<String, Value>) {
    let Some(name) = schema.name.as_deref() else {
        return;
    };
    match name {
        DECIMAL => {
            let parameter = |key: &str| {
                schema
                    .parameters
                    .as_ref()
                    .and_then(|p| p.get(key))
                    .and_then(|v| v.as_str().and_then(|s| s.parse::<i64>().ok()))
            };
            let precision = parameter(DECIMAL_PRECISION).unwrap_or(DEFAULT_DECIMAL_PRECISION);
            let scale = parameter("scale").unwrap_or(0);
            object.insert("scale".into(), Value::from(scale));
            object.insert("precision".into(), Value::from(precision));
            if (0..=precision).contains(&scale) {
                object.insert("logicalType".into(), Value::from("decimal"));
            }
        }
        DATE => {
            object.insert("logicalType".into(), Value::from("date"));
        }
        TIME => {
            object.insert("logicalType".into(), Value::from("time-millis"));
        }
        TIMESTAMP => {
            object.insert("logicalType".into(), Value::from("timestamp-millis"));
        }
        _ => {}
    }
}

pub(super) fn split_name(full_name: &str) -> (String, String) {
    match full_name.rsplit_once('.') {
        Some((namespace, name)) => (namespace.to_owned(), name.to_owned()),
        None => (String::new(), full_name.to_owned()),
    }
}

pub(super) fn full_name_of(named: &Value) -> String {
    let name = named["name"].as_str().unwrap_or_default();
    match named["namespace"].as_str().filter(|n| !n.is_empty()) {
        Some(namespace) if !name.contains('.') => format!("{namespace}.{name}"),
        _ => name.to_owned(),
    }
}

/// A Connect default (JSON model) as Avro's JSON default.
pub(super) fn default_to_avro(schema: &Schema, value: &Value) -> Result<Value, String> {
    Ok(match (schema.schema_type, value) {
        (SchemaType::Bytes, Value::String(text)) => {
            let bytes = BASE64
                .decode(text)
                .map_err(|error| format!("bytes default is not base64: {error}"))?;
            // Avro's JSON encoding of bytes: one character per byte (ISO-8859-1).
            Value::String(bytes.iter().map(|b| char::from(*b)).collect())
        }
        (SchemaType::Struct, Value::Object(object)) => {
            let mut out = Map::new();
            for field in schema.fields.as_deref().unwrap_or_default() {
                let inner = object.get(&field.field).unwrap_or(&Value::Null);
                out.insert(field.field.clone(), default_to_avro(&field.schema, inner)?);
            }
            Value::Object(out)
        }
        (SchemaType::Array, Value::Array(items)) => {
            let item_schema = schema.items.as_deref().ok_or("array without items")?;
            Value::Array(
                items
                    .iter()
                    .map(|item| default_to_avro(item_schema, item))
                    .collect::<Result<_, _>>()?,
            )
        }
        _ => value.clone(),
    })
}
