//! Topic mirroring between clusters (MirrorMaker 2 replacement). Only its configuration
//! section exists so far; replication is issue #7 and the gateway refuses
//! `mirror.enabled = true` until it lands.

use std::path::PathBuf;

use broker_core::ConfigError;
use serde::Deserialize;

/// `[mirror]` in `gateway.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    #[serde(default)]
    pub enabled: bool,
    /// An existing MirrorMaker 2 dedicated-mode `mm2.properties` file.
    pub properties_file: Option<PathBuf>,
}

impl MirrorConfig {
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        if self.enabled && self.properties_file.is_none() {
            return Err(ConfigError::new(
                format!("{prefix}.properties_file"),
                "is required when the mirror is enabled",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_enabled_without_properties() {
        let config: MirrorConfig = toml::from_str("enabled = true").unwrap();
        assert_eq!(
            config.validate("mirror").unwrap_err().key,
            "mirror.properties_file"
        );
    }
}
