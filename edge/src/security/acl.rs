//! Per-principal authorization rules, shared by every listener.
//!
//! A rule names a principal (or `*` for every authenticated one) and grants, for the bridge,
//! operations on topics and the use of consumer groups, for the connect API and the schema
//! registry a role, and, with `subjects`, a role on those schema registry subjects only.
//! Each service asks only the questions that concern it: the bridge about topics and groups,
//! connect about the role, the metrics listener none at all.
//!
//! With no rule configured, authorization is off: every authenticated principal may do
//! everything. As soon as one rule exists, whatever no rule grants is refused.

use broker_core::ConfigError;
use regex::Regex;
use serde::Deserialize;

/// `[[<service>.http.auth.acl]]` as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AclRuleConfig {
    /// A principal name, or `*` for every authenticated principal.
    pub principal: String,
    /// Topic names or regexes the `operations` apply to.
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub operations: Vec<TopicOperation>,
    /// Consumer group names or regexes the principal may create consumers in and commit for.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Connect API and schema registry: `admin` may change anything, `read_only` may only
    /// read.
    #[serde(default)]
    pub role: Option<Role>,
    /// Schema registry subject names or regexes: `role` then applies to these subjects
    /// only (and not to the connect API).
    #[serde(default)]
    pub subjects: Vec<String>,
}

/// What a principal may do with a topic through the bridge.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TopicOperation {
    Produce,
    Consume,
    /// Metadata, partitions and offsets; also decides which topics a listing shows.
    Describe,
    /// Create and delete topics (v3 API).
    Manage,
}

/// Role on the connect API.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `GET` and `HEAD` only.
    ReadOnly,
    Admin,
}

/// A topic or group name pattern: an exact name when it only holds characters legal in a
/// Kafka topic name (so `orders.v1` does not also match `ordersXv1`), otherwise a regex that
/// must match the whole name (`orders\..*`, `app-.*`).
#[derive(Debug, Clone)]
pub enum NamePattern {
    Exact(String),
    Regex(Regex),
}

impl NamePattern {
    fn parse(text: &str, key: &str) -> Result<Self, ConfigError> {
        if text.is_empty() {
            return Err(ConfigError::new(key, "a name pattern cannot be empty"));
        }
        let literal = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if literal {
            return Ok(Self::Exact(text.to_owned()));
        }
        Regex::new(&format!("^(?:{text})$"))
            .map(Self::Regex)
            .map_err(|error| {
                ConfigError::new(key, format!("`{text}` is not a valid regex: {error}"))
            })
    }

    pub fn matches(&self, name: &str) -> bool {
        match self {
            Self::Exact(exact) => exact == name,
            Self::Regex(regex) => regex.is_match(name),
        }
    }

    /// True for a pattern that matches every name (`.*`), which a pattern subscription needs.
    fn matches_everything(&self) -> bool {
        matches!(self, Self::Regex(regex) if regex.as_str() == "^(?:.*)$" || regex.as_str() == "^(?:.+)$")
    }
}

/// One validated rule.
#[derive(Debug, Clone)]
pub struct AclRule {
    /// `None` stands for `*`.
    principal: Option<String>,
    topics: Vec<NamePattern>,
    operations: Vec<TopicOperation>,
    groups: Vec<NamePattern>,
    role: Option<Role>,
    subjects: Vec<NamePattern>,
}

impl AclRuleConfig {
    pub fn validate(&self, key: &str) -> Result<AclRule, ConfigError> {
        let principal = self.principal.trim();
        if principal.is_empty() {
            return Err(ConfigError::new(
                format!("{key}.principal"),
                "must name a principal or be `*`",
            ));
        }
        if !self.operations.is_empty() && self.topics.is_empty() {
            return Err(ConfigError::new(
                format!("{key}.topics"),
                "`operations` need the topics they apply to",
            ));
        }
        if !self.topics.is_empty() && self.operations.is_empty() {
            return Err(ConfigError::new(
                format!("{key}.operations"),
                "`topics` need operations (produce, consume, describe, manage)",
            ));
        }
        if !self.subjects.is_empty() && self.role.is_none() {
            return Err(ConfigError::new(
                format!("{key}.role"),
                "`subjects` need the role (read_only, admin) granted on them",
            ));
        }
        let patterns = |field: &str, texts: &[String]| {
            texts
                .iter()
                .enumerate()
                .map(|(index, text)| NamePattern::parse(text, &format!("{key}.{field}[{index}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(AclRule {
            principal: (principal != "*").then(|| principal.to_owned()),
            topics: patterns("topics", &self.topics)?,
            operations: self.operations.clone(),
            groups: patterns("groups", &self.groups)?,
            role: self.role,
            subjects: patterns("subjects", &self.subjects)?,
        })
    }
}

/// Every rule of a listener.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    rules: Vec<AclRule>,
}

impl Acl {
    pub fn validate(configs: &[AclRuleConfig], key: &str) -> Result<Self, ConfigError> {
        let rules = configs
            .iter()
            .enumerate()
            .map(|(index, rule)| rule.validate(&format!("{key}[{index}]")))
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// What `principal` may do: the rules naming it and the `*` rules.
    pub fn grants_for(&self, principal: &str) -> Grants {
        Grants {
            enforced: !self.rules.is_empty(),
            rules: self
                .rules
                .iter()
                .filter(|rule| {
                    rule.principal
                        .as_deref()
                        .is_none_or(|name| name == principal)
                })
                .cloned()
                .collect(),
        }
    }
}

/// The rules that apply to one principal.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// False when the listener has no rule at all: everything is allowed.
    enforced: bool,
    rules: Vec<AclRule>,
}

impl Grants {
    /// Grants that allow everything (authorization off).
    pub fn unrestricted() -> Self {
        Self::default()
    }

    pub fn allows_topic(&self, operation: TopicOperation, topic: &str) -> bool {
        !self.enforced
            || self.rules.iter().any(|rule| {
                rule.operations.contains(&operation)
                    && rule.topics.iter().any(|pattern| pattern.matches(topic))
            })
    }

    /// True when `operation` is granted on every topic name, which a regex subscription
    /// needs because the topics it will match are not known yet.
    pub fn allows_every_topic(&self, operation: TopicOperation) -> bool {
        !self.enforced
            || self.rules.iter().any(|rule| {
                rule.operations.contains(&operation)
                    && rule.topics.iter().any(NamePattern::matches_everything)
            })
    }

    pub fn allows_group(&self, group: &str) -> bool {
        !self.enforced
            || self
                .rules
                .iter()
                .any(|rule| rule.groups.iter().any(|pattern| pattern.matches(group)))
    }

    /// The highest role granted by rules without `subjects`; `None` means no access to the
    /// connect API (nor to the schema registry as a whole).
    pub fn role(&self) -> Option<Role> {
        if !self.enforced {
            return Some(Role::Admin);
        }
        self.rules
            .iter()
            .filter(|rule| rule.subjects.is_empty())
            .filter_map(|rule| rule.role)
            .max()
    }

    /// The highest role on schema registry subject `subject`: from rules naming it in
    /// `subjects`, and from rules without `subjects` (the whole registry).
    pub fn subject_role(&self, subject: &str) -> Option<Role> {
        if !self.enforced {
            return Some(Role::Admin);
        }
        self.rules
            .iter()
            .filter(|rule| {
                rule.subjects.is_empty() || rule.subjects.iter().any(|p| p.matches(subject))
            })
            .filter_map(|rule| rule.role)
            .max()
    }

    /// Whether any role is granted, on the whole registry or on some subjects.
    pub fn has_any_role(&self) -> bool {
        !self.enforced || self.rules.iter().any(|rule| rule.role.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(text: &str) -> Result<Acl, ConfigError> {
        #[derive(Deserialize)]
        struct Wrapper {
            acl: Vec<AclRuleConfig>,
        }
        let wrapper: Wrapper = toml::from_str(text).unwrap();
        Acl::validate(&wrapper.acl, "bridge.http.auth.acl")
    }

    const RULES: &str = r#"
        [[acl]]
        principal = "alice"
        topics = ["orders.v1", "audit-.*"]
        operations = ["produce", "describe"]
        groups = ["billing"]
        [[acl]]
        principal = "*"
        topics = ["public"]
        operations = ["describe", "consume"]
        [[acl]]
        principal = "ops"
        role = "read_only"
        [[acl]]
        principal = "root"
        role = "admin"
        [[acl]]
        principal = "root"
        role = "read_only"
    "#;

    #[test]
    fn subject_roles_apply_to_their_subjects_only() {
        let rules = r#"
            [[acl]]
            principal = "team-a"
            subjects = ["team-a-.*", "shared"]
            role = "admin"
            [[acl]]
            principal = "*"
            subjects = ["shared"]
            role = "read_only"
            [[acl]]
            principal = "root"
            role = "admin"
        "#;
        let acl = acl(rules).unwrap();
        let team = acl.grants_for("team-a");
        assert_eq!(team.subject_role("team-a-orders"), Some(Role::Admin));
        assert_eq!(team.subject_role("team-b-orders"), None);
        // A subject rule grants nothing on the connect API.
        assert_eq!(team.role(), None);
        assert!(team.has_any_role());
        let other = acl.grants_for("someone");
        assert_eq!(other.subject_role("shared"), Some(Role::ReadOnly));
        assert_eq!(other.subject_role("team-a-orders"), None);
        let root = acl.grants_for("root");
        assert_eq!(root.subject_role("anything"), Some(Role::Admin));
        assert_eq!(root.role(), Some(Role::Admin));
    }

    #[test]
    fn validate_rejects_subjects_without_role() {
        let error = acl("[[acl]]\nprincipal = \"a\"\nsubjects = [\"s\"]\n").unwrap_err();
        assert_eq!(error.key, "bridge.http.auth.acl[0].role");
    }

    #[test]
    fn exact_names_do_not_match_as_regex() {
        let grants = acl(RULES).unwrap().grants_for("alice");
        assert!(grants.allows_topic(TopicOperation::Produce, "orders.v1"));
        assert!(!grants.allows_topic(TopicOperation::Produce, "ordersXv1"));
        assert!(grants.allows_topic(TopicOperation::Produce, "audit-2024"));
        assert!(!grants.allows_topic(TopicOperation::Produce, "xaudit-2024"));
        assert!(!grants.allows_topic(TopicOperation::Consume, "orders.v1"));
    }

    #[test]
    fn star_rules_apply_to_everyone() {
        let acl = acl(RULES).unwrap();
        for name in ["alice", "bob"] {
            let grants = acl.grants_for(name);
            assert!(grants.allows_topic(TopicOperation::Consume, "public"));
            assert!(!grants.allows_topic(TopicOperation::Produce, "public"));
        }
        assert!(!acl.grants_for("bob").allows_group("billing"));
        assert!(acl.grants_for("alice").allows_group("billing"));
    }

    #[test]
    fn highest_role_wins_and_absent_role_denies() {
        let acl = acl(RULES).unwrap();
        assert_eq!(acl.grants_for("root").role(), Some(Role::Admin));
        assert_eq!(acl.grants_for("ops").role(), Some(Role::ReadOnly));
        assert_eq!(acl.grants_for("alice").role(), None);
    }

    #[test]
    fn no_rules_means_no_restriction() {
        let grants = Acl::default().grants_for("anyone");
        assert!(grants.allows_topic(TopicOperation::Manage, "x"));
        assert!(grants.allows_group("g"));
        assert!(grants.allows_every_topic(TopicOperation::Consume));
        assert_eq!(grants.role(), Some(Role::Admin));
    }

    #[test]
    fn pattern_subscription_needs_a_catch_all_rule() {
        let acl = acl(r#"
            [[acl]]
            principal = "a"
            topics = [".*"]
            operations = ["consume"]
            "#)
        .unwrap();
        assert!(
            acl.grants_for("a")
                .allows_every_topic(TopicOperation::Consume)
        );
        assert!(
            !acl.grants_for("b")
                .allows_every_topic(TopicOperation::Consume)
        );
    }

    #[test]
    fn validate_rejects_bad_regex() {
        let err = acl("[[acl]]\nprincipal = \"a\"\ntopics = [\"(\"]\noperations = [\"produce\"]")
            .unwrap_err();
        assert_eq!(err.key, "bridge.http.auth.acl[0].topics[0]");
    }

    #[test]
    fn validate_rejects_topics_without_operations() {
        let err = acl("[[acl]]\nprincipal = \"a\"\ntopics = [\"t\"]").unwrap_err();
        assert_eq!(err.key, "bridge.http.auth.acl[0].operations");
        let err = acl("[[acl]]\nprincipal = \"a\"\noperations = [\"produce\"]").unwrap_err();
        assert_eq!(err.key, "bridge.http.auth.acl[0].topics");
        let err = acl("[[acl]]\nprincipal = \" \"").unwrap_err();
        assert_eq!(err.key, "bridge.http.auth.acl[0].principal");
    }

    #[test]
    fn validate_rejects_unknown_operation() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Wrapper {
            acl: Vec<AclRuleConfig>,
        }
        let err = toml::from_str::<Wrapper>(
            "[[acl]]\nprincipal = \"a\"\ntopics = [\"t\"]\noperations = [\"write\"]",
        )
        .unwrap_err();
        assert!(err.to_string().contains("write"), "{err}");
    }
}
