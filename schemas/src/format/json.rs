//! JSON Schema: validity with the maintained `jsonschema` crate (the document must satisfy
//! its draft's meta-schema), canonical text, and compatibility by our own diff.
//!
//! Why our own diff: no Rust crate compares two JSON Schemas for reader/writer
//! compatibility; `jsonschema` only validates instances. The rules follow Confluent's
//! `json/diff/SchemaDiff` in its STRICT (default) mode, for the keywords that decide most
//! evolutions: `type` (narrowed = incompatible, `integer` → `number` widens), `properties`
//! against the content model (`additionalProperties` absent/true = open, false = closed),
//! `required`, `enum`, `items`, and the numeric and length bounds. Combinators (`oneOf`,
//! `allOf`, ...) and `$ref` targets are compared as whole values: a change there is
//! reported as incompatible. Messages use Confluent's difference names.
//!
//! Canonical text = the document with the whitespace outside strings removed, key order
//! kept (serde_json here has no `preserve_order`, so we do not re-serialize). `normalize`
//! sorts the keys.

use serde_json::{Map, Value};

pub(super) fn parse(text: &str, normalize: bool) -> Result<(String, Value), String> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| format!("Invalid schema {text}: {error}"))?;
    if !(value.is_object() || value.is_boolean()) {
        return Err(format!(
            "Invalid schema {text}: a JSON Schema is an object or a boolean"
        ));
    }
    if let Err(error) = jsonschema::meta::validate(&value) {
        return Err(format!("Invalid schema {text}: {error}"));
    }
    let canonical = if normalize {
        value.to_string()
    } else {
        compact(text)
    };
    Ok((canonical, value))
}

/// `text` (valid JSON) without the whitespace between tokens.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Why data valid under `writer` may be invalid under `reader`.
pub(super) fn can_read(writer: &Value, reader: &Value) -> Vec<String> {
    let mut differences = Vec::new();
    compare(writer, reader, "#", &mut differences);
    differences
}

fn difference(out: &mut Vec<String>, kind: &str, path: &str) {
    out.push(format!(
        "{{errorType:'{kind}', description:'Found incompatible change: Difference{{jsonPath='{path}', type={kind}}}'}}"
    ));
}

fn types(schema: &Map<String, Value>) -> Option<Vec<String>> {
    match schema.get("type")? {
        Value::String(one) => Some(vec![one.clone()]),
        Value::Array(many) => Some(
            many.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

fn is_open(schema: &Map<String, Value>) -> bool {
    !matches!(schema.get("additionalProperties"), Some(Value::Bool(false)))
}

fn is_empty_schema(value: &Value) -> bool {
    matches!(value, Value::Bool(true)) || value.as_object().is_some_and(Map::is_empty)
}

fn compare(writer: &Value, reader: &Value, path: &str, out: &mut Vec<String>) {
    if writer == reader || is_empty_schema(reader) {
        return;
    }
    let (Some(w), Some(r)) = (writer.as_object(), reader.as_object()) else {
        // `false` / `true` schemas that differ.
        difference(out, "TYPE_CHANGED", path);
        return;
    };
    match (types(w), types(r)) {
        (Some(wt), Some(rt)) => {
            let widened =
                |t: &String| rt.contains(t) || (t == "integer" && rt.iter().any(|r| r == "number"));
            if !wt.iter().all(widened) {
                difference(out, "TYPE_NARROWED", &format!("{path}/type"));
            }
        }
        (None, Some(_)) => difference(out, "TYPE_NARROWED", &format!("{path}/type")),
        _ => {}
    }
    compare_properties(w, r, path, out);
    compare_required(w, r, path, out);
    if let Some(Value::Array(reader_enum)) = r.get("enum") {
        match w.get("enum") {
            Some(Value::Array(writer_enum))
                if writer_enum.iter().all(|v| reader_enum.contains(v)) => {}
            _ => difference(out, "ENUM_ARRAY_NARROWED", &format!("{path}/enum")),
        }
    }
    if let (Some(wi), Some(ri)) = (w.get("items"), r.get("items")) {
        compare(wi, ri, &format!("{path}/items"), out);
    }
    for (keyword, kind, smaller_is_narrower) in [
        ("maxLength", "MAX_LENGTH", true),
        ("minLength", "MIN_LENGTH", false),
        ("maximum", "MAXIMUM", true),
        ("minimum", "MINIMUM", false),
        ("maxItems", "MAX_ITEMS", true),
        ("minItems", "MIN_ITEMS", false),
        ("maxProperties", "MAX_PROPERTIES", true),
        ("minProperties", "MIN_PROPERTIES", false),
    ] {
        let Some(reader_bound) = r.get(keyword).and_then(Value::as_f64) else {
            continue;
        };
        let narrowed = match w.get(keyword).and_then(Value::as_f64) {
            None => true,
            Some(writer_bound) if smaller_is_narrower => reader_bound < writer_bound,
            Some(writer_bound) => reader_bound > writer_bound,
        };
        if narrowed {
            let suffix = if w.contains_key(keyword) {
                if smaller_is_narrower {
                    "_DECREASED"
                } else {
                    "_INCREASED"
                }
            } else {
                "_ADDED"
            };
            difference(
                out,
                &format!("{kind}{suffix}"),
                &format!("{path}/{keyword}"),
            );
        }
    }
    for keyword in ["oneOf", "anyOf", "allOf", "not", "$ref", "const", "pattern"] {
        if r.get(keyword).is_some() && w.get(keyword) != r.get(keyword) {
            difference(out, "COMBINED_TYPE_CHANGED", &format!("{path}/{keyword}"));
        }
    }
}

fn compare_properties(
    w: &Map<String, Value>,
    r: &Map<String, Value>,
    path: &str,
    out: &mut Vec<String>,
) {
    let empty = Map::new();
    let writer_properties = w
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let reader_properties = r
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if is_open(w) && !is_open(r) {
        difference(
            out,
            "ADDITIONAL_PROPERTIES_REMOVED",
            &format!("{path}/additionalProperties"),
        );
    }
    for (name, reader_property) in reader_properties {
        let property_path = format!("{path}/properties/{name}");
        match writer_properties.get(name) {
            Some(writer_property) => compare(writer_property, reader_property, &property_path, out),
            // The writer may have written anything under this name if its model is open.
            None if is_open(w) && !is_empty_schema(reader_property) => {
                difference(out, "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", &property_path);
            }
            None => {}
        }
    }
    for name in writer_properties.keys() {
        if !reader_properties.contains_key(name) && !is_open(r) {
            difference(
                out,
                "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                &format!("{path}/properties/{name}"),
            );
        }
    }
}

fn compare_required(
    w: &Map<String, Value>,
    r: &Map<String, Value>,
    path: &str,
    out: &mut Vec<String>,
) {
    let names = |schema: &Map<String, Value>| -> Vec<String> {
        schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let writer_required = names(w);
    for name in names(r) {
        if !writer_required.contains(&name) {
            difference(
                out,
                "REQUIRED_ATTRIBUTE_ADDED",
                &format!("{path}/required/{name}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_text_drops_whitespace_and_keeps_key_order() {
        let (text, _) = parse(r#"{ "type": "object", "b": "x y", "a": 1 }"#, false).unwrap();
        assert_eq!(text, r#"{"type":"object","b":"x y","a":1}"#);
        let (text, _) = parse(r#"{ "type": "object", "b": "x y", "a": 1 }"#, true).unwrap();
        assert_eq!(text, r#"{"a":1,"b":"x y","type":"object"}"#);
    }

    #[test]
    fn invalid_schemas_are_refused() {
        assert!(parse("[1]", false).is_err());
        assert!(parse(r#"{"type":"nonsense"}"#, false).is_err());
        assert!(parse("{", false).is_err());
    }

    #[test]
    fn open_and_closed_content_models() {
        let open = json!({"type":"object","properties":{"a":{"type":"string"}}});
        let open_more =
            json!({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}});
        // Backward (reader = new): adding a property to an open model breaks.
        assert!(!can_read(&open, &open_more).is_empty());
        // Removing one from an open model is fine.
        assert!(can_read(&open_more, &open).is_empty());
        let closed = json!({"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false});
        let closed_more = json!({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false});
        // Adding an optional property to a closed model is fine.
        assert!(can_read(&closed, &closed_more).is_empty());
        assert!(!can_read(&closed_more, &closed).is_empty());
    }

    #[test]
    fn type_widening_and_narrowing() {
        assert!(can_read(&json!({"type":"integer"}), &json!({"type":"number"})).is_empty());
        assert!(!can_read(&json!({"type":"number"}), &json!({"type":"integer"})).is_empty());
        let required = json!({"type":"object","properties":{"a":{}},"required":["a"]});
        let optional = json!({"type":"object","properties":{"a":{}}});
        assert!(!can_read(&optional, &required).is_empty());
        assert!(can_read(&required, &optional).is_empty());
        assert!(!can_read(&json!({"maxLength":5}), &json!({"maxLength":3})).is_empty());
    }
}
