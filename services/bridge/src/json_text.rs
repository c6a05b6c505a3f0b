//! JSON text written straight into a response body, for the per-record paths that skip
//! `serde_json::Value` (records responses, Avro values).

use std::fmt::Write as _;

/// A JSON string literal of `text`, escaped as serde_json escapes it.
pub(crate) fn push_json_string(body: &mut String, text: &str) {
    body.push('"');
    let bytes = text.as_bytes();
    let mut start = 0;
    // Most text needs no escape: find the next byte that does with a table lookup per
    // byte, and copy the run before it at once.
    while let Some(found) = bytes[start..]
        .iter()
        .position(|b| NEEDS_ESCAPE[usize::from(*b)])
    {
        let index = start + found;
        let byte = bytes[index];
        // `index` is an ASCII byte, so both slices end on character boundaries.
        body.push_str(&text[start..index]);
        match byte {
            b'"' => body.push_str("\\\""),
            b'\\' => body.push_str("\\\\"),
            b'\n' => body.push_str("\\n"),
            b'\r' => body.push_str("\\r"),
            b'\t' => body.push_str("\\t"),
            0x08 => body.push_str("\\b"),
            0x0c => body.push_str("\\f"),
            _ => {
                let _ = write!(body, "\\u{byte:04x}");
            }
        }
        start = index + 1;
    }
    body.push_str(&text[start..]);
    body.push('"');
}

/// Bytes a JSON string cannot hold as they are: control characters, `"` and `\\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

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
