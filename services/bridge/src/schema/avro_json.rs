//! Avro values in Avro's JSON encoding, the way Confluent REST Proxy reads and writes them
//! (`AvroSchemaUtils`, Avro's `JsonDecoder` / `JsonEncoder`):
//!
//! - a union that is not null is an object with one member named by the branch: the full
//!   name of a named type, else the type's name (`{"string": "x"}`, `{"com.x.Y": {…}}`),
//! - `bytes` and `fixed` are strings whose characters are the bytes (ISO-8859-1),
//! - an enum is its symbol, a record an object of its fields (a missing field takes its
//!   default), logical types are their underlying type (a `timestamp-millis` is a number).
//!
//! Why our own code: `apache-avro` converts JSON to its values without a schema (so a
//! union or a byte string cannot be told apart), and has no JSON encoding of a datum.
//! Both directions go straight between JSON and Avro's binary encoding ([`encode`],
//! [`decode`]), with no `apache_avro::types::Value` in between: that intermediate value
//! was most of the Avro formats' cost per record.

mod decode;
mod encode;

pub(crate) use decode::write_json;
pub(crate) use encode::encode_json;

use std::borrow::Cow;
use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::{InnerDecimalSchema, UuidSchema};

/// Named types by full name, to follow `Schema::Ref`s.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names(HashMap<String, Schema>);

impl Names {
    /// The named types declared in `schemata` (a schema and those it references).
    pub(crate) fn of<'a>(schemata: impl IntoIterator<Item = &'a Schema>) -> Self {
        let mut names = HashMap::new();
        for schema in schemata {
            collect(schema, &mut names);
        }
        Self(names)
    }

    fn resolve<'a>(&'a self, schema: &'a Schema) -> Result<&'a Schema, String> {
        match schema {
            Schema::Ref { name } => {
                let full = name.fullname(None);
                self.0
                    .get(&full)
                    .ok_or_else(|| format!("the schema names the unknown type {full}"))
            }
            other => Ok(other),
        }
    }
}

fn collect(schema: &Schema, names: &mut HashMap<String, Schema>) {
    match schema {
        Schema::Record(record) => {
            names.insert(record.name.fullname(None), schema.clone());
            for field in &record.fields {
                collect(&field.schema, names);
            }
        }
        Schema::Enum(inner) => {
            names.insert(inner.name.fullname(None), schema.clone());
        }
        Schema::Fixed(inner) => {
            names.insert(inner.name.fullname(None), schema.clone());
        }
        Schema::Array(array) => collect(&array.items, names),
        Schema::Map(map) => collect(&map.types, names),
        Schema::Union(union) => {
            for variant in union.variants() {
                collect(variant, names);
            }
        }
        _ => {}
    }
}

/// The name a union branch has in the JSON encoding.
fn branch_label(schema: &Schema) -> Cow<'static, str> {
    match schema {
        Schema::Null => Cow::Borrowed("null"),
        Schema::Boolean => Cow::Borrowed("boolean"),
        Schema::Int | Schema::Date | Schema::TimeMillis => Cow::Borrowed("int"),
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Cow::Borrowed("long"),
        Schema::Float => Cow::Borrowed("float"),
        Schema::Double => Cow::Borrowed("double"),
        Schema::Bytes | Schema::BigDecimal => Cow::Borrowed("bytes"),
        Schema::String => Cow::Borrowed("string"),
        Schema::Array(_) => Cow::Borrowed("array"),
        Schema::Map(_) => Cow::Borrowed("map"),
        Schema::Union(_) => Cow::Borrowed("union"),
        Schema::Record(record) => record.name.fullname(None).into(),
        Schema::Enum(inner) => inner.name.fullname(None).into(),
        Schema::Fixed(inner) | Schema::Duration(inner) => inner.name.fullname(None).into(),
        Schema::Decimal(decimal) => match &decimal.inner {
            InnerDecimalSchema::Bytes => Cow::Borrowed("bytes"),
            InnerDecimalSchema::Fixed(fixed) => fixed.name.fullname(None).into(),
        },
        Schema::Uuid(UuidSchema::String) => Cow::Borrowed("string"),
        Schema::Uuid(UuidSchema::Bytes) => Cow::Borrowed("bytes"),
        Schema::Uuid(UuidSchema::Fixed(fixed)) => fixed.name.fullname(None).into(),
        Schema::Ref { name } => name.fullname(None).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn schema(text: &str) -> (Schema, Names) {
        let schema = Schema::parse_str(text).unwrap();
        let names = Names::of([&schema]);
        (schema, names)
    }

    fn encoded(json: &Value, schema: &Schema, names: &Names) -> Result<Vec<u8>, String> {
        let mut datum = Vec::new();
        encode_json(json, schema, names, &mut datum)?;
        Ok(datum)
    }

    const USER: &str = r#"{"type":"record","name":"User","namespace":"com.x","fields":[
        {"name":"name","type":"string"},
        {"name":"age","type":["null","int"],"default":null},
        {"name":"raw","type":"bytes"},
        {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
        {"name":"next","type":["null","User"],"default":null},
        {"name":"tags","type":{"type":"map","values":"long"}},
        {"name":"scores","type":{"type":"array","items":"double"}},
        {"name":"id","type":{"type":"fixed","name":"Id","size":2}},
        {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
        {"name":"born","type":{"type":"int","logicalType":"date"}},
        {"name":"seen","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"ratio","type":"float"},
        {"name":"ok","type":"boolean"}]}"#;

    #[test]
    fn unions_are_wrapped_and_round_trip() {
        let (schema, names) = schema(USER);
        let input = json!({"name":"x \"q\" é","age":{"int":-5},"raw":"\u{00ff}a","kind":"B",
            "next":{"com.x.User":{"name":"y","raw":"","kind":"A","tags":{},"scores":[],
                "id":"ab","amount":"\u{0001}","born":1,"seen":2,"ratio":0.5,"ok":false}},
            "tags":{"b":-300,"a":1},"scores":[1.5,-2.0],"id":"\u{0000}z",
            "amount":"\u{0004}\u{00d2}","born":19000,"seen":1700000000000_i64,"ratio":1.25,"ok":true});
        let datum = encoded(&input, &schema, &names).unwrap();
        // apache-avro reads our datum, and writes what it read in as many bytes (the same
        // bytes but for the order of map entries, which its decoded map does not keep).
        let independent = schemas::compiled::AvroSchema::compile(USER, &[]).unwrap();
        let value = independent.decode(&datum).unwrap();
        assert_eq!(independent.encode(value).unwrap().len(), datum.len());
        let single = json!({"name":"x","raw":"","kind":"A","tags":{"k":3},"scores":[0.25],
            "id":"ab","amount":"\u{0007}","born":0,"seen":-1,"ratio":2.0,"ok":true});
        let datum_single = encoded(&single, &schema, &names).unwrap();
        let value = independent.decode(&datum_single).unwrap();
        assert_eq!(independent.encode(value).unwrap(), datum_single);
        let mut text = String::new();
        write_json(&datum, &schema, &names, &mut text).unwrap();
        let expected = json!({"name":"x \"q\" é","age":{"int":-5},"raw":"\u{00ff}a","kind":"B",
            "next":{"com.x.User":{"name":"y","age":null,"raw":"","kind":"A","next":null,"tags":{},
                "scores":[],"id":"ab","amount":"\u{0001}","born":1,"seen":2,"ratio":0.5,"ok":false}},
            "tags":{"a":1,"b":-300},"scores":[1.5,-2.0],"id":"\u{0000}z",
            "amount":"\u{0004}\u{00d2}","born":19000,"seen":1700000000000_i64,"ratio":1.25,"ok":true});
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
        // Fields in the schema's order, map keys sorted.
        assert!(text.starts_with(r#"{"name":"#), "{text}");
        assert!(text.contains(r#""tags":{"a":1,"b":-300}"#), "{text}");
    }

    #[test]
    fn a_truncated_or_hostile_datum_is_an_error() {
        let (schema, names) = schema(r#"{"type":"array","items":"null"}"#);
        let mut text = String::new();
        // 2^40 null items in three bytes of input.
        let mut datum = Vec::new();
        encode::put_long(&mut datum, 1 << 40);
        assert!(write_json(&datum, &schema, &names, &mut text).is_err());
        let (schema, names) = self::schema(r#"{"type":"array","items":"long"}"#);
        assert!(write_json(&[6, 2], &schema, &names, &mut text).is_err());
        assert!(write_json(&[0xff; 11], &schema, &names, &mut text).is_err());
    }

    #[test]
    fn mismatches_name_the_path() {
        let (schema, names) = schema(
            r#"{"type":"record","name":"r","fields":[{"name":"a","type":["null","long"]},
               {"name":"l","type":{"type":"array","items":"int"},"default":[]}]}"#,
        );
        let error = encoded(&json!({"a": 5}), &schema, &names).unwrap_err();
        assert!(error.starts_with("$.a:"), "{error}");
        let error = encoded(&json!({"a": {"long": "x"}}), &schema, &names).unwrap_err();
        assert!(error.starts_with("$.a.long: expected a long"), "{error}");
        let error = encoded(&json!({"b": 1}), &schema, &names).unwrap_err();
        assert!(error.contains("no field b"), "{error}");
        let error = encoded(&json!({"a": null, "l": [1, "x"]}), &schema, &names).unwrap_err();
        assert!(error.starts_with("$.l[1]: expected an int"), "{error}");
    }
}
