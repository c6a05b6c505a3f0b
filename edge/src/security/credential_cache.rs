//! Successful HTTP Basic checks, remembered for `cache_ttl_secs` because a password hash is
//! slow by design. Keyed by the SHA-256 of `user:password` (the password itself is never
//! kept), bounded in entries, and tied to one generation of the users file: after a reload
//! nothing the previous file vouched for is served, so a removed user or a changed password
//! stops working at once. Failures are never cached.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Successful Basic checks, keyed by the SHA-256 of `user:password`, for one generation of
/// the users file: a check made against another generation is never served.
pub(crate) struct CredentialCache {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<CacheEntries>,
}

#[derive(Default)]
struct CacheEntries {
    generation: u64,
    names: HashMap<[u8; 32], (String, Instant)>,
}

impl CacheEntries {
    /// Forgets everything when the users file has been reloaded since the last use.
    fn start_generation(&mut self, generation: u64) {
        if generation > self.generation {
            self.generation = generation;
            self.names.clear();
        }
    }
}

/// Settings only: a digest of a password must not reach logs, where it could be cracked.
impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl CredentialCache {
    pub(crate) fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: Mutex::new(CacheEntries::default()),
        }
    }

    pub(crate) fn key(credentials: &str) -> [u8; 32] {
        Sha256::digest(credentials.as_bytes()).into()
    }

    pub(crate) fn get(&self, key: &[u8; 32], generation: u64) -> Option<String> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.start_generation(generation);
        if entries.generation != generation {
            return None;
        }
        entries
            .names
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(name, _)| name.clone())
    }

    /// Remembers a check made against `generation` of the users file; a check that raced
    /// with a reload (made against an older one) is not remembered.
    pub(crate) fn insert(&self, key: [u8; 32], name: String, generation: u64) {
        if self.ttl.is_zero() || self.max_entries == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.start_generation(generation);
        if entries.generation != generation {
            return;
        }
        let names = &mut entries.names;
        if names.len() >= self.max_entries {
            names.retain(|_, (_, at)| at.elapsed() < self.ttl);
            // Still full of live entries: start over rather than grow without bound.
            if names.len() >= self.max_entries {
                names.clear();
            }
        }
        names.insert(key, (name, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_bounded_and_expires() {
        let cache = CredentialCache::new(Duration::from_secs(60), 2);
        for index in 0..5u8 {
            cache.insert([index; 32], format!("user{index}"), 0);
            assert!(cache.entries.lock().unwrap().names.len() <= 2);
        }
        assert_eq!(cache.get(&[4; 32], 0).as_deref(), Some("user4"));
        let expired = CredentialCache::new(Duration::ZERO, 2);
        expired.insert([1; 32], "x".to_owned(), 0);
        assert_eq!(expired.get(&[1; 32], 0), None);
    }

    #[test]
    fn cache_serves_only_the_current_users_generation() {
        let cache = CredentialCache::new(Duration::from_secs(60), 10);
        cache.insert([1; 32], "alice".to_owned(), 0);
        assert_eq!(cache.get(&[1; 32], 0).as_deref(), Some("alice"));
        // The users file was reloaded: what generation 0 vouched for is gone.
        assert_eq!(cache.get(&[1; 32], 1), None);
        assert_eq!(cache.get(&[1; 32], 0), None);
        // A check that started before the reload and ends after it is not remembered.
        cache.insert([2; 32], "bob".to_owned(), 0);
        assert_eq!(cache.get(&[2; 32], 1), None);
    }
}
