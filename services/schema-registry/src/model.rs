//! The registry's vocabulary: schema types, compatibility levels and modes, spelled as
//! Confluent spells them on the wire and in `_schemas`.

use serde::{Deserialize, Serialize};

pub use schemas::SchemaType;

/// Confluent's compatibility levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Case-insensitive, as Confluent accepts `backward` in its config.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_uppercase().as_str() {
            "NONE" => Self::None,
            "BACKWARD" => Self::Backward,
            "BACKWARD_TRANSITIVE" => Self::BackwardTransitive,
            "FORWARD" => Self::Forward,
            "FORWARD_TRANSITIVE" => Self::ForwardTransitive,
            "FULL" => Self::Full,
            "FULL_TRANSITIVE" => Self::FullTransitive,
            _ => return None,
        })
    }

    /// New schema must read data written with the old ones.
    pub fn backward(self) -> bool {
        matches!(
            self,
            Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    /// Old schemas must read data written with the new one.
    pub fn forward(self) -> bool {
        matches!(
            self,
            Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    /// Checked against every live version, not only the latest.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }
}

/// Confluent's registry modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    Readwrite,
    Readonly,
    ReadonlyOverride,
    Import,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Readwrite => "READWRITE",
            Self::Readonly => "READONLY",
            Self::ReadonlyOverride => "READONLY_OVERRIDE",
            Self::Import => "IMPORT",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_uppercase().as_str() {
            "READWRITE" => Self::Readwrite,
            "READONLY" => Self::Readonly,
            "READONLY_OVERRIDE" => Self::ReadonlyOverride,
            "IMPORT" => Self::Import,
            _ => return None,
        })
    }

    pub fn read_only(self) -> bool {
        matches!(self, Self::Readonly | Self::ReadonlyOverride)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_case_insensitively_and_round_trip() {
        for text in [
            "NONE",
            "BACKWARD",
            "BACKWARD_TRANSITIVE",
            "FORWARD",
            "FORWARD_TRANSITIVE",
            "FULL",
            "FULL_TRANSITIVE",
        ] {
            let level = CompatibilityLevel::parse(&text.to_lowercase()).unwrap();
            assert_eq!(level.as_str(), text);
        }
        assert!(CompatibilityLevel::parse("SIDEWAYS").is_none());
        assert!(CompatibilityLevel::Full.backward() && CompatibilityLevel::Full.forward());
        assert!(!CompatibilityLevel::Full.transitive());
    }

    #[test]
    fn avro_type_is_not_stored() {
        assert_eq!(SchemaType::Avro.stored(), None);
        assert_eq!(SchemaType::Json.stored().as_deref(), Some("JSON"));
        assert_eq!(SchemaType::parse("protobuf"), Some(SchemaType::Protobuf));
    }
}
