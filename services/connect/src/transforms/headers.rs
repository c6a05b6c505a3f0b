//! Header SMTs: `InsertHeader` (`header`, `value.literal`), `DropHeaders` (`headers`),
//! `HeaderFrom` (`fields`, `headers`, `operation=move|copy`).

use std::sync::Arc;

use connect_api::{ConnectRecord, Header};
use serde_json::Value;

use super::{AliasConfig, Side, Transformation};
use crate::error::ConfigIssue;

#[derive(Debug)]
pub(super) struct InsertHeader {
    header: String,
    value: Value,
}

impl InsertHeader {
    pub(super) fn new(settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        Ok(Self {
            header: settings.required("header")?.to_owned(),
            value: Value::String(settings.required("value.literal")?.to_owned()),
        })
    }
}

impl Transformation for InsertHeader {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        record.headers.push(Header {
            key: self.header.clone(),
            value: self.value.clone(),
        });
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct DropHeaders {
    headers: Vec<String>,
}

impl DropHeaders {
    pub(super) fn new(settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        settings.required("headers")?;
        Ok(Self {
            headers: settings.list("headers"),
        })
    }
}

impl Transformation for DropHeaders {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        record.headers.retain(|h| !self.headers.contains(&h.key));
        Ok(Some(record))
    }
}

#[derive(Debug)]
pub(super) struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    remove: bool,
}

impl HeaderFrom {
    pub(super) fn new(side: Side, settings: &AliasConfig<'_>) -> Result<Self, ConfigIssue> {
        settings.required("fields")?;
        settings.required("headers")?;
        let fields = settings.list("fields");
        let headers = settings.list("headers");
        if fields.len() != headers.len() {
            return Err(ConfigIssue::new(
                settings.key("headers"),
                "'fields' config must have the same number of elements as 'headers' config.",
            ));
        }
        let remove = match settings.required("operation")?.trim() {
            "move" => true,
            "copy" => false,
            other => {
                return Err(ConfigIssue::new(
                    settings.key("operation"),
                    format!(
                        "Invalid value {other} for configuration {}: must be move or copy",
                        settings.key("operation")
                    ),
                ));
            }
        };
        Ok(Self {
            side,
            fields,
            headers,
            remove,
        })
    }
}

impl Transformation for HeaderFrom {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let mut new_headers = Vec::new();
        {
            let (schema, value) = Side::of(&mut record, self.side);
            let Value::Object(map) = value else {
                return Ok(Some(record));
            };
            for (field, header) in self.fields.iter().zip(&self.headers) {
                let field_value = if self.remove {
                    map.remove(field)
                } else {
                    map.get(field).cloned()
                };
                new_headers.push(Header {
                    key: header.clone(),
                    value: field_value.unwrap_or(Value::Null),
                });
            }
            if self.remove
                && let Some(fields) = schema
                    .as_mut()
                    .map(Arc::make_mut)
                    .and_then(|s| s.fields.as_mut())
            {
                fields.retain(|f| !self.fields.contains(&f.field));
            }
        }
        record.headers.extend(new_headers);
        Ok(Some(record))
    }
}
