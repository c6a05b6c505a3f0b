//! A parser for Java `.properties` files, as `java.util.Properties.load` reads them:
//! `#`/`!` comments, `=`, `:` or whitespace separators, `\` line continuations and the
//! `\t \n \r \f \uXXXX` escapes. Later keys override earlier ones, as in Java; the line of
//! each key is kept so that validation errors can point at it.

use std::collections::BTreeMap;

use broker_core::ConfigError;

/// One `key = value` entry and the (1-based) line it started on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub value: String,
    pub line: usize,
}

/// Parses the text of a properties file into a map, last definition winning.
pub fn parse(text: &str) -> Result<BTreeMap<String, Property>, ConfigError> {
    let mut map = BTreeMap::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        // Join continuation lines: an odd number of trailing backslashes continues.
        let mut logical = trimmed.to_owned();
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        let key = unescape(key, index + 1)?;
        let value = unescape(value, index + 1)?;
        map.insert(
            key,
            Property {
                value,
                line: index + 1,
            },
        );
    }
    Ok(map)
}

fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace; the separator and whitespace
/// around it are dropped.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (position, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (&line[..position], line[position + 1..].trim_start()),
            c if c.is_whitespace() => {
                let rest = line[position..].trim_start();
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                return (&line[..position], rest.trim_start());
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(text: &str, line: usize) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let decoded = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        ConfigError::new(
                            format!("line {line}"),
                            format!("`\\u{hex}` is not a valid unicode escape"),
                        )
                    })?;
                out.push(decoded);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(map: &BTreeMap<String, Property>, key: &str) -> String {
        map.get(key).map(|p| p.value.clone()).unwrap_or_default()
    }

    #[test]
    fn parses_separators_comments_and_continuations() {
        let map = parse(
            "# comment\n! other comment\nclusters = A, B\nA.bootstrap.servers:a:9092\n\
             B.bootstrap.servers   b:9092\nA->B.topics = one,\\\n    two\nempty=\n\
             key\\ with\\ spaces = v\nunicode=\\u00e9t\\u00e9\nclusters = A,B\n",
        )
        .unwrap();
        assert_eq!(value(&map, "clusters"), "A,B");
        assert_eq!(map["clusters"].line, 11);
        assert_eq!(value(&map, "A.bootstrap.servers"), "a:9092");
        assert_eq!(value(&map, "B.bootstrap.servers"), "b:9092");
        assert_eq!(value(&map, "A->B.topics"), "one,two");
        assert_eq!(value(&map, "empty"), "");
        assert_eq!(value(&map, "key with spaces"), "v");
        assert_eq!(value(&map, "unicode"), "été");
    }

    #[test]
    fn arrow_keys_keep_their_greater_than_sign() {
        let map = parse("A->B.enabled=true").unwrap();
        assert_eq!(value(&map, "A->B.enabled"), "true");
    }

    #[test]
    fn validate_rejects_bad_unicode_escape() {
        let error = parse("k=\\u12").unwrap_err();
        assert_eq!(error.key, "line 1");
    }
}
