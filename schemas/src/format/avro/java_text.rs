//! Avro schema JSON written as Java's `Schema.toString()` writes it, which is the text
//! Confluent stores (`AvroSchema.canonicalString()`), so that a schema registered here and
//! there is stored byte for byte the same.
//!
//! Input: the compact JSON apache-avro writes for a parsed schema. Output: the same schema
//! with Java's attribute order (named types: `type`, `name`, `namespace`, `doc`,
//! `fields`/`symbols`/`size`, enum `default`, properties, `aliases`; fields: `name`, `type`,
//! `doc`, `default`, `order`, `aliases`, properties; other types: `type`, `items`/`values`,
//! `logicalType`, `precision`, `scale`, properties), `namespace` written only where it
//! differs from the enclosing one, and references to named types shortened to the simple
//! name inside their own namespace. Properties keep serde_json's (sorted) order, where Java
//! keeps insertion order: the one remaining difference, for schemas with several custom
//! properties on one type.

use serde_json::{Map, Value};

/// `schema` (apache-avro's JSON) in Java's text.
pub(crate) fn java_text(schema: &Value) -> String {
    let mut out = String::new();
    write_schema(schema, "", &mut out);
    out
}

fn json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn key(out: &mut String, first: &mut bool, name: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    out.push_str(&json(&Value::String(name.to_owned())));
    out.push(':');
}

fn write_schema(schema: &Value, namespace: &str, out: &mut String) {
    match schema {
        Value::String(name) => {
            let short = name
                .strip_prefix(namespace)
                .and_then(|rest| rest.strip_prefix('.'))
                .filter(|rest| !namespace.is_empty() && !rest.contains('.'));
            out.push_str(&json(&Value::String(short.unwrap_or(name).to_owned())));
        }
        Value::Array(branches) => {
            out.push('[');
            for (index, branch) in branches.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_schema(branch, namespace, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, namespace, out),
        other => out.push_str(&json(other)),
    }
}

/// One JSON object being written: keys in the order they are asked for.
struct ObjectWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl ObjectWriter<'_> {
    fn key(&mut self, name: &str) {
        key(self.out, &mut self.first, name);
    }

    /// Writes `name` from `map` as plain JSON when present.
    fn plain(&mut self, map: &Map<String, Value>, name: &str) {
        if let Some(value) = map.get(name) {
            self.key(name);
            self.out.push_str(&json(value));
        }
    }
}

fn write_object(map: &Map<String, Value>, namespace: &str, out: &mut String) {
    let kind = map.get("type").and_then(Value::as_str).unwrap_or_default();
    let named = matches!(kind, "record" | "error" | "enum" | "fixed");
    let own_namespace = if named {
        map.get("namespace")
            .and_then(Value::as_str)
            .unwrap_or(namespace)
    } else {
        namespace
    };
    out.push('{');
    let mut object = ObjectWriter { out, first: true };
    let mut written = vec!["type", "logicalType", "precision", "scale", "aliases"];
    object.plain(map, "type");
    if named {
        object.plain(map, "name");
        if own_namespace != namespace {
            object.plain(map, "namespace");
        }
        object.plain(map, "doc");
        match kind {
            "enum" => {
                object.plain(map, "symbols");
                object.plain(map, "default");
            }
            "fixed" => object.plain(map, "size"),
            _ => {}
        }
        written.extend([
            "name",
            "namespace",
            "doc",
            "symbols",
            "default",
            "size",
            "fields",
        ]);
        if let Some(Value::Array(fields)) = map.get("fields") {
            object.key("fields");
            object.out.push('[');
            for (index, field) in fields.iter().enumerate() {
                if index > 0 {
                    object.out.push(',');
                }
                match field {
                    Value::Object(field) => write_field(field, own_namespace, object.out),
                    other => object.out.push_str(&json(other)),
                }
            }
            object.out.push(']');
        }
    } else {
        for nested in ["items", "values"] {
            if let Some(value) = map.get(nested) {
                object.key(nested);
                write_schema(value, namespace, object.out);
            }
        }
        written.extend(["items", "values"]);
    }
    object.plain(map, "logicalType");
    object.plain(map, "precision");
    object.plain(map, "scale");
    for (name, value) in map {
        if !written.contains(&name.as_str()) {
            object.key(name);
            object.out.push_str(&json(value));
        }
    }
    object.plain(map, "aliases");
    out.push('}');
}

fn write_field(field: &Map<String, Value>, namespace: &str, out: &mut String) {
    let mut first = true;
    out.push('{');
    let known = ["name", "type", "doc", "default", "order", "aliases"];
    for name in known {
        let Some(value) = field.get(name) else {
            continue;
        };
        if name == "order" && value == "ascending" {
            continue;
        }
        key(out, &mut first, name);
        if name == "type" {
            write_schema(value, namespace, out);
        } else {
            out.push_str(&json(value));
        }
    }
    for (name, value) in field {
        if !known.contains(&name.as_str()) {
            key(out, &mut first, name);
            out.push_str(&json(value));
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_java_attribute_order() {
        let text = r#"{"type":"record","name":"Outer","namespace":"com.x","doc":"d","fields":[{"name":"i","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"int","default":1,"doc":"dx"}]}},{"name":"again","type":"com.x.Inner"},{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}},{"name":"d","type":{"type":"int","logicalType":"date"}},{"name":"u","type":["null","string"],"default":null},{"name":"m","type":{"type":"map","values":"long"}},{"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}}],"connect.name":"com.x.Outer"}"#;
        let schema = apache_avro::Schema::parse_str(text).unwrap();
        let written = serde_json::to_value(&schema).unwrap();
        assert_eq!(
            java_text(&written),
            r#"{"type":"record","name":"Outer","namespace":"com.x","doc":"d","fields":[{"name":"i","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"int","doc":"dx","default":1}]}},{"name":"again","type":"Inner"},{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}},{"name":"d","type":{"type":"int","logicalType":"date"}},{"name":"u","type":["null","string"],"default":null},{"name":"m","type":{"type":"map","values":"long"}},{"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}}],"connect.name":"com.x.Outer"}"#
        );
    }
}
