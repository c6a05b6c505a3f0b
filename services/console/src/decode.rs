//! How the console shows bytes: JSON pretty-printed, else UTF-8 text, else base64; a value
//! in Confluent's wire framing (magic byte 0, 4-byte schema id) is labelled with its schema
//! id and its payload shown as base64.

use base64::Engine as _;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub(crate) enum Decoded {
    Json {
        text: String,
    },
    Text {
        text: String,
    },
    Base64 {
        text: String,
    },
    /// Confluent schema-registry framing.
    Schema {
        schema_id: u32,
        text: String,
    },
}

pub(crate) fn decode(bytes: &[u8]) -> Decoded {
    if let [0, a, b, c, d, payload @ ..] = bytes {
        return Decoded::Schema {
            schema_id: u32::from_be_bytes([*a, *b, *c, *d]),
            text: base64::engine::general_purpose::STANDARD.encode(payload),
        };
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) if value.is_object() || value.is_array() => Decoded::Json {
                text: serde_json::to_string_pretty(&value).unwrap_or_else(|_| text.to_owned()),
            },
            _ => Decoded::Text {
                text: text.to_owned(),
            },
        },
        Err(_) => Decoded::Base64 {
            text: base64::engine::general_purpose::STANDARD.encode(bytes),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_are_pretty_printed() {
        assert_eq!(
            decode(br#"{"a":1}"#),
            Decoded::Json {
                text: "{\n  \"a\": 1\n}".to_owned()
            }
        );
    }

    #[test]
    fn plain_text_and_numbers_stay_text() {
        assert_eq!(
            decode(b"42"),
            Decoded::Text {
                text: "42".to_owned()
            }
        );
    }

    #[test]
    fn invalid_utf8_is_base64() {
        assert_eq!(
            decode(&[0xff, 0xfe]),
            Decoded::Base64 {
                text: "//4=".to_owned()
            }
        );
    }

    #[test]
    fn confluent_framing_names_the_schema_id() {
        assert_eq!(
            decode(&[0, 0, 0, 1, 2, 9]),
            Decoded::Schema {
                schema_id: 258,
                text: "CQ==".to_owned()
            }
        );
    }
}
