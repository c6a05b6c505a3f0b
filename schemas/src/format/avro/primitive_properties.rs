//! Properties of primitive types (`{"type":"int","connect.type":"int16"}`), which Java's
//! Avro keeps and Confluent stores, but apache-avro drops when it parses: Kafka Connect's
//! AvroConverter puts its `connect.name`, `connect.version`, `connect.parameters`,
//! `connect.default` and `connect.type` there (Debezium's `io.debezium.time.*` types,
//! int8/int16, enum parameters), so the stored text must keep them for a sink to read the
//! Connect schema back. They are copied from the submitted text onto apache-avro's JSON,
//! walking both trees together.

use serde_json::{Map, Value};

const PRIMITIVES: &[&str] = &[
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];
/// Attributes apache-avro writes itself for primitives (logical types).
const OWN: &[&str] = &["type", "logicalType", "precision", "scale"];

/// Copies the primitive types' properties of `submitted` onto `written` (apache-avro's JSON
/// of the same schema).
pub(crate) fn restore(submitted: &Value, written: &mut Value) {
    match (submitted, written) {
        (Value::Array(branches), Value::Array(written_branches)) => {
            for (branch, written_branch) in branches.iter().zip(written_branches.iter_mut()) {
                restore(branch, written_branch);
            }
        }
        (Value::Object(object), written) => restore_object(object, written),
        _ => {}
    }
}

fn restore_object(object: &Map<String, Value>, written: &mut Value) {
    match object.get("type") {
        Some(inner @ (Value::Object(_) | Value::Array(_))) => restore(inner, written),
        Some(Value::String(kind)) if PRIMITIVES.contains(&kind.as_str()) => {
            let extra: Vec<(&String, &Value)> = object
                .iter()
                .filter(|(key, _)| !OWN.contains(&key.as_str()))
                .collect();
            if extra.is_empty() {
                return;
            }
            if let Value::String(name) = written {
                let mut replaced = Map::new();
                replaced.insert("type".to_owned(), Value::String(name.clone()));
                *written = Value::Object(replaced);
            }
            if let Value::Object(written) = written {
                for (key, value) in extra {
                    written.entry(key.clone()).or_insert_with(|| value.clone());
                }
            }
        }
        Some(Value::String(kind)) => {
            let Value::Object(written) = written else {
                return;
            };
            match kind.as_str() {
                "record" | "error" => restore_fields(object, written),
                "array" => restore_child(object, written, "items"),
                "map" => restore_child(object, written, "values"),
                _ => {}
            }
        }
        _ => {}
    }
}

fn restore_child(object: &Map<String, Value>, written: &mut Map<String, Value>, key: &str) {
    if let (Some(child), Some(written_child)) = (object.get(key), written.get_mut(key)) {
        restore(child, written_child);
    }
}

fn restore_fields(object: &Map<String, Value>, written: &mut Map<String, Value>) {
    let (Some(Value::Array(fields)), Some(Value::Array(written_fields))) =
        (object.get("fields"), written.get_mut("fields"))
    else {
        return;
    };
    for field in fields {
        let name = field.get("name");
        let written_field = written_fields
            .iter_mut()
            .find(|written_field| written_field.get("name") == name);
        if let (Some(field_type), Some(Value::Object(written_field))) =
            (field.get("type"), written_field)
            && let Some(written_type) = written_field.get_mut("type")
        {
            restore(field_type, written_type);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Value {
        let submitted: Value = serde_json::from_str(text).unwrap();
        let mut written =
            serde_json::to_value(apache_avro::Schema::parse_str(text).unwrap()).unwrap();
        restore(&submitted, &mut written);
        written
    }

    #[test]
    fn connect_properties_of_primitives_survive() {
        let written = round_trip(
            r#"{"type":"record","name":"R","fields":[
                {"name":"a","type":{"type":"int","connect.type":"int16"}},
                {"name":"d","type":["null",{"type":"int","connect.name":"io.debezium.time.Date","connect.version":1}],"default":null},
                {"name":"t","type":{"type":"long","logicalType":"timestamp-millis","connect.name":"org.apache.kafka.connect.data.Timestamp"}},
                {"name":"l","type":{"type":"array","items":{"type":"string","connect.name":"x"}}},
                {"name":"p","type":"string"}]}"#,
        );
        let fields = &written["fields"];
        assert_eq!(fields[0]["type"]["connect.type"], "int16");
        assert_eq!(
            fields[1]["type"][1]["connect.name"],
            "io.debezium.time.Date"
        );
        assert_eq!(fields[1]["type"][1]["connect.version"], 1);
        assert_eq!(fields[2]["type"]["logicalType"], "timestamp-millis");
        assert_eq!(
            fields[2]["type"]["connect.name"],
            "org.apache.kafka.connect.data.Timestamp"
        );
        assert_eq!(fields[3]["type"]["items"]["connect.name"], "x");
        assert_eq!(fields[4]["type"], "string");
    }
}
