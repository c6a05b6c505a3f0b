//! The users file of HTTP Basic authentication: one `name:hash` per line, where the hash is
//! an argon2 PHC string (`$argon2id$v=19$m=…`) or a bcrypt hash (`$2b$12$…`). Plain-text
//! passwords are refused when the file is loaded, so a leaked config never leaks passwords.
//!
//! An unknown user costs the same as a wrong password: the password is then checked against
//! a dummy hash made at load time with the parameters of the first user's hash, so response
//! times do not tell which user names exist.

use std::collections::HashMap;
use std::path::Path;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use broker_core::ConfigError;

/// A password hash in one of the accepted formats, checked when the file is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StoredHash {
    /// The PHC string; parsed again on each check because `PasswordHash` borrows it.
    Argon2(String),
    Bcrypt(String),
}

impl StoredHash {
    fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("$argon2") {
            let hash = PasswordHash::new(text)
                .map_err(|error| format!("is not a valid argon2 PHC string: {error}"))?;
            let complete = hash.salt.is_some()
                && hash.hash.is_some()
                && argon2::Params::try_from(&hash).is_ok()
                && argon2::Algorithm::try_from(hash.algorithm).is_ok();
            if !complete {
                return Err(
                    "is not a complete argon2 PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)"
                        .to_owned(),
                );
            }
            return Ok(Self::Argon2(text.to_owned()));
        }
        if ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|prefix| text.starts_with(prefix))
        {
            // bcrypt's own parser runs on verify; check the shape here so a typo fails at load.
            let valid = text.len() == 60
                && text[4..6]
                    .parse::<u32>()
                    .is_ok_and(|cost| (4..=31).contains(&cost));
            if !valid {
                return Err("is not a valid bcrypt hash".to_owned());
            }
            return Ok(Self::Bcrypt(text.to_owned()));
        }
        Err("is not an argon2 or bcrypt hash; plain-text passwords are refused (make a hash with `kafka-gateway hash-password`)".to_owned())
    }

    /// Checks `password`; CPU-heavy by design (tens of milliseconds).
    fn verify(&self, password: &[u8]) -> bool {
        match self {
            Self::Argon2(phc) => PasswordHash::new(phc)
                .is_ok_and(|hash| Argon2::default().verify_password(password, &hash).is_ok()),
            Self::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
        }
    }

    /// A hash of a random password made with the same algorithm and cost as `self`.
    fn dummy_like(&self) -> Self {
        let mut random = [0u8; 24];
        rand::fill(&mut random);
        match self {
            Self::Argon2(phc) => {
                let dummy = PasswordHash::new(phc).ok().and_then(|hash| {
                    let params = argon2::Params::try_from(&hash).ok()?;
                    let algorithm = argon2::Algorithm::try_from(hash.algorithm).ok()?;
                    let version = hash
                        .version
                        .and_then(|v| argon2::Version::try_from(v).ok())
                        .unwrap_or_default();
                    let salt = SaltString::generate(&mut OsRng);
                    Argon2::new(algorithm, version, params)
                        .hash_password(&random, &salt)
                        .ok()
                        .map(|hash| hash.to_string())
                });
                Self::Argon2(dummy.unwrap_or_else(|| phc.clone()))
            }
            Self::Bcrypt(hash) => {
                let cost = hash[4..6].parse().unwrap_or(bcrypt::DEFAULT_COST);
                Self::Bcrypt(bcrypt::hash(random, cost).unwrap_or_else(|_| hash.clone()))
            }
        }
    }
}

/// The loaded users file.
#[derive(Clone, PartialEq, Eq)]
pub struct Users {
    hashes: HashMap<String, StoredHash>,
    dummy: StoredHash,
}

/// Names only: hashes stay out of logs and debug output.
impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.hashes.keys().collect();
        names.sort();
        f.debug_struct("Users")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

impl Users {
    /// Reads and checks the file; `key` is the config key naming it, for errors.
    pub fn load(path: &Path, key: &str) -> Result<Self, ConfigError> {
        super::load_file(path, key, Self::parse)
    }

    fn parse(text: &str) -> Result<Self, String> {
        let mut hashes = HashMap::new();
        let mut first = None;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let number = index + 1;
            let (name, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("line {number} is not `name:hash`"))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("line {number} has an empty user name"));
            }
            let hash = StoredHash::parse(hash.trim())
                .map_err(|message| format!("line {number}: the hash of user `{name}` {message}"))?;
            first.get_or_insert_with(|| hash.clone());
            if hashes.insert(name.to_owned(), hash).is_some() {
                return Err(format!("line {number}: user `{name}` is listed twice"));
            }
        }
        let first = first.ok_or_else(|| "has no user".to_owned())?;
        Ok(Self {
            dummy: first.dummy_like(),
            hashes,
        })
    }

    /// True when `user` exists and `password` is theirs. Takes as long for an unknown user
    /// as for a wrong password. Blocking: call it off the async runtime.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        match self.hashes.get(user) {
            Some(hash) => hash.verify(password),
            None => {
                let _ = self.dummy.verify(password);
                false
            }
        }
    }
}

/// An argon2id PHC string of `password` with the library's default (OWASP) parameters, as
/// `kafka-gateway hash-password` prints it.
pub fn hash_password(password: &[u8]) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bcrypt_hash(password: &str) -> String {
        bcrypt::hash(password, 4).unwrap()
    }

    #[test]
    fn argon2_and_bcrypt_hashes_verify() {
        let file = format!(
            "# users\nalice:{}\n\nbob:{}\n",
            hash_password(b"alice-secret").unwrap(),
            bcrypt_hash("bob-secret")
        );
        let users = Users::parse(&file).unwrap();
        assert!(users.verify("alice", b"alice-secret"));
        assert!(!users.verify("alice", b"bob-secret"));
        assert!(users.verify("bob", b"bob-secret"));
        assert!(!users.verify("bob", b"wrong"));
        assert!(!users.verify("carol", b"alice-secret"));
    }

    #[test]
    fn dummy_hash_has_the_cost_of_the_first_user() {
        let users = Users::parse(&format!("bob:{}", bcrypt_hash("x"))).unwrap();
        match &users.dummy {
            StoredHash::Bcrypt(hash) => assert!(hash.starts_with("$2b$04$"), "{hash}"),
            StoredHash::Argon2(_) => panic!("expected a bcrypt dummy"),
        }
        let users = Users::parse(&format!("a:{}", hash_password(b"x").unwrap())).unwrap();
        match &users.dummy {
            StoredHash::Argon2(phc) => {
                let real = hash_password(b"y").unwrap();
                let params = |s: &str| s.split('$').nth(3).map(str::to_owned);
                assert_eq!(params(phc), params(&real));
            }
            StoredHash::Bcrypt(_) => panic!("expected an argon2 dummy"),
        }
    }

    #[test]
    fn debug_output_shows_no_hash() {
        let users = Users::parse(&format!("bob:{}", bcrypt_hash("x"))).unwrap();
        let text = format!("{users:?}");
        assert!(text.contains("bob") && !text.contains("$2b$"), "{text}");
    }

    #[test]
    fn load_rejects_plain_text_password() {
        let err = Users::parse("alice:hunter2").unwrap_err();
        assert!(err.contains("plain-text passwords are refused"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn load_rejects_malformed_lines() {
        assert!(Users::parse("alice").unwrap_err().contains("name:hash"));
        assert!(Users::parse("").unwrap_err().contains("no user"));
        assert!(
            Users::parse("a:$2b$04$short")
                .unwrap_err()
                .contains("bcrypt")
        );
        assert!(
            Users::parse("a:$argon2id$junk")
                .unwrap_err()
                .contains("argon2")
        );
        let hash = bcrypt_hash("x");
        assert!(
            Users::parse(&format!("a:{hash}\na:{hash}"))
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn load_names_the_key_and_file() {
        let err = Users::load(
            Path::new("/nonexistent/users"),
            "bridge.http.auth.users_file",
        )
        .unwrap_err();
        assert_eq!(err.key, "bridge.http.auth.users_file");
        assert!(err.to_string().contains("/nonexistent/users"), "{err}");
    }
}
