//! JSON text written straight into a response body, for the per-record paths that skip
//! `serde_json::Value` (records responses, Avro values).

use std::fmt::Write as _;

/// A JSON string literal of `text`, escaped as serde_json escapes it.
pub(crate) fn push_json_string(body: &mut String, text: &str) {
    body.push('"');
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `index` is an ASCII byte, so both slices end on character boundaries.
        body.push_str(&text[start..index]);
        if escaped.is_empty() {
            let _ = write!(body, "\\u{byte:04x}");
        } else {
            body.push_str(escaped);
        }
        start = index + 1;
    }
    body.push_str(&text[start..]);
    body.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_serde_json_does() {
        for text in [
            "plain",
            "quote \" back \\ slash",
            "\n\r\t\u{8}\u{c}\u{1}\u{1f}",
            "é ☃ 𝄞",
        ] {
            let mut body = String::new();
            push_json_string(&mut body, text);
            assert_eq!(body, serde_json::to_string(text).unwrap());
        }
    }
}
