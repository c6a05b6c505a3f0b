//! The `.proto` files Confluent's Protobuf serializers and converters import without
//! registering them as references (its `skip.known.types`): the registry and the
//! serializers have them built in. Google's `google/protobuf/*` files are in
//! `prost-reflect`'s global pool already; these are the others, written from their public
//! definitions (field names and numbers are what the wire format depends on).

/// `(import path, source)` of each known file.
pub(super) const KNOWN_PROTOS: &[(&str, &str)] = &[
    (
        "confluent/meta.proto",
        r#"syntax = "proto3";
package confluent;
import "google/protobuf/descriptor.proto";
message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
}
extend google.protobuf.FileOptions { Meta file_meta = 1088; }
extend google.protobuf.MessageOptions { Meta message_meta = 1088; }
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }
extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }
"#,
    ),
    (
        "confluent/type/decimal.proto",
        r#"syntax = "proto3";
package confluent.type;
message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
"#,
    ),
    (
        "google/type/date.proto",
        r#"syntax = "proto3";
package google.type;
message Date {
  int32 year = 1;
  int32 month = 2;
  int32 day = 3;
}
"#,
    ),
    (
        "google/type/timeofday.proto",
        r#"syntax = "proto3";
package google.type;
message TimeOfDay {
  int32 hours = 1;
  int32 minutes = 2;
  int32 seconds = 3;
  int32 nanos = 4;
}
"#,
    ),
];

/// The `(confluent.field_meta).params` of a field, read from the option's text as the
/// parser left it (`params : [ { key : "a" , value : "b" } ]` or `params { key: … }`):
/// prost-reflect interprets the extension but not a map inside an aggregate value.
pub(super) fn field_meta_params(aggregate: &str) -> Vec<(String, String)> {
    let strings = quoted_after_names(aggregate);
    let mut params = Vec::new();
    let mut key = None;
    for (name, text) in strings {
        match name.as_str() {
            "key" => key = Some(text),
            "value" => {
                if let Some(key) = key.take() {
                    params.push((key, text));
                }
            }
            _ => {}
        }
    }
    params
}

/// Each `name : "text"` pair of a text-format aggregate, in order.
fn quoted_after_names(aggregate: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = aggregate.chars().collect();
    let mut pairs = Vec::new();
    let mut last_word = String::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if c.is_alphanumeric() || c == '_' {
            let start = index;
            while index < chars.len() && (chars[index].is_alphanumeric() || chars[index] == '_') {
                index += 1;
            }
            last_word = chars[start..index].iter().collect();
            continue;
        }
        if c == '"' || c == '\'' {
            let mut text = String::new();
            index += 1;
            while index < chars.len() && chars[index] != c {
                if chars[index] == '\\' && index + 1 < chars.len() {
                    index += 1;
                }
                text.push(chars[index]);
                index += 1;
            }
            pairs.push((std::mem::take(&mut last_word), text));
        }
        index += 1;
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_of_both_text_forms() {
        assert_eq!(
            field_meta_params(r#"params : [ { key : "connect.type" , value : "int16" } ]"#),
            [("connect.type".to_owned(), "int16".to_owned())]
        );
        assert_eq!(
            field_meta_params(
                r#"params { key: "precision" value: "10" } params { key: "scale" value: "2" }"#
            ),
            [
                ("precision".to_owned(), "10".to_owned()),
                ("scale".to_owned(), "2".to_owned())
            ]
        );
    }
}
