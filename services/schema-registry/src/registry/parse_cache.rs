//! Submitted schemas parsed once. Serializers send the same schema text again and again
//! (lookups, compatibility checks) and parsing plus canonicalizing it is most of such a
//! request's cost (a profile of `bench -- schemas` showed Avro parsing at 12 % of the
//! gateway's CPU while lookups ran). Only schemas without references are kept: their parse
//! is a function of the text, the type and `normalize` alone, so an entry never goes stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use schemas::format::ParsedSchema;

use crate::error::ApiError;
use crate::model::SchemaType;

/// Entries kept; when full, an arbitrary one makes room (registries hold far fewer
/// distinct schemas than this in the requests of one period).
const CAPACITY: usize = 1_000;

type Key = (SchemaType, bool, String);

#[derive(Debug, Default)]
pub struct ParseCache {
    entries: Mutex<HashMap<Key, Arc<ParsedSchema>>>,
}

impl ParseCache {
    /// The parse of `text` (no references) from the cache, or `parse`'s answer, kept when
    /// it succeeded.
    pub fn get_or_parse(
        &self,
        schema_type: SchemaType,
        text: &str,
        normalize: bool,
        parse: impl FnOnce() -> Result<ParsedSchema, ApiError>,
    ) -> Result<Arc<ParsedSchema>, ApiError> {
        let key = (schema_type, normalize, text.to_owned());
        if let Some(hit) = self.entries().get(&key) {
            return Ok(Arc::clone(hit));
        }
        let parsed = Arc::new(parse()?);
        let mut entries = self.entries();
        if entries.len() >= CAPACITY
            && let Some(evicted) = entries.keys().next().cloned()
        {
            entries.remove(&evicted);
        }
        entries.insert(key, Arc::clone(&parsed));
        Ok(parsed)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<ParsedSchema>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"type":"record","name":"r","fields":[{"name":"a","type":"long"}]}"#;

    fn parse(text: &str) -> Result<ParsedSchema, ApiError> {
        schemas::format::parse(SchemaType::Avro, text, &[], false).map_err(ApiError::invalid_schema)
    }

    #[test]
    fn parses_a_text_once_and_never_keeps_an_error() {
        let cache = ParseCache::default();
        let first = cache
            .get_or_parse(SchemaType::Avro, SCHEMA, false, || parse(SCHEMA))
            .unwrap();
        let again = cache
            .get_or_parse(SchemaType::Avro, SCHEMA, false, || panic!("parsed twice"))
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        // Another `normalize` is another entry.
        assert!(
            cache
                .get_or_parse(SchemaType::Avro, SCHEMA, true, || parse("{"))
                .is_err()
        );
        assert!(
            cache
                .get_or_parse(SchemaType::Avro, SCHEMA, true, || parse(SCHEMA))
                .is_ok()
        );
    }
}
