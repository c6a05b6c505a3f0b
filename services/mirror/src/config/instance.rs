//! The stable identity of a mirror process, for static consumer-group membership (KIP-345).
//!
//! An at-least-once task joins the flow's source group with `group.instance.id =
//! <instance>.<source>-<target>.<task>`. A process that comes back under the same identity
//! (after a kill -9, a crash or `systemctl restart`) takes its partitions back at once: the
//! group coordinator swaps the new member in for the old one without a rebalance and without
//! waiting for the dead member's session to expire. A process that is gone for good, or a
//! `tasks.max` change, still rebalances once the session of the members that no longer
//! exist expires (`session.timeout.ms`, 10 s by default here).
//!
//! The identity must be stable across restarts of one deployment and distinct between the
//! processes that share a flow. The default is the host name, right for one mirror process
//! per host (a VM, a container, a pod of a StatefulSet). Two processes of one flow on the same
//! host need their own `[mirror] instance_id` (or `kafka-gateway mirror --instance-id`):
//! with the same identity, the second would fence the first, which then stops with
//! [`crate::MirrorError::InstanceFenced`] instead of fencing it back.

use broker_core::ConfigError;

/// Longest identity we accept: Kafka caps `group.instance.id` at 249 characters and the
/// flow and task suffix need room.
const MAX_LENGTH: usize = 180;

/// A validated process identity: letters, digits, `.`, `_` and `-` (the characters Kafka
/// allows in a `group.instance.id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceId(String);

impl InstanceId {
    /// Validates an identity from the configuration; errors name `key`.
    pub fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        if value.is_empty() {
            return Err(ConfigError::new(key, "must not be empty"));
        }
        if value.len() > MAX_LENGTH {
            return Err(ConfigError::new(
                key,
                format!(
                    "is {} characters long, at most {MAX_LENGTH} are allowed",
                    value.len()
                ),
            ));
        }
        if let Some(bad) = value.chars().find(|c| !is_legal(*c)) {
            return Err(ConfigError::new(
                key,
                format!("contains {bad:?}; only letters, digits, '.', '_' and '-' are allowed"),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The host name (`HOSTNAME`, else `/etc/hostname`, else `localhost`), with characters
    /// Kafka refuses replaced by `_`.
    pub fn from_host() -> Self {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .filter(|h| !h.trim().is_empty())
            })
            .unwrap_or_else(|| "localhost".to_owned());
        let mut host = sanitize(host.trim());
        // Sanitized to ASCII, so any index is a character boundary.
        host.truncate(MAX_LENGTH);
        Self(host)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `group.instance.id` of task `task` of flow `source->target`. The flow is part of it
    /// because flows may share one `replication.group.id`.
    pub fn member(&self, source: &str, target: &str, task: usize) -> String {
        sanitize(&format!("{}.{source}-{target}.{task}", self.0))
    }
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_legal(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn sanitize(value: &str) -> String {
    value
        .chars()
        .map(|c| if is_legal(c) { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_characters_kafka_refuses_and_names_the_key() {
        let error = InstanceId::parse("mirror.instance_id", "host 1").unwrap_err();
        assert_eq!(error.key, "mirror.instance_id");
        assert!(error.reason.contains("' '"), "{error}");
        assert!(InstanceId::parse("mirror.instance_id", "").is_err());
        assert!(InstanceId::parse("mirror.instance_id", &"a".repeat(MAX_LENGTH + 1)).is_err());
        assert_eq!(
            InstanceId::parse("k", "dc1-mirror.0_a").unwrap().as_str(),
            "dc1-mirror.0_a"
        );
    }

    #[test]
    fn member_ids_differ_per_flow_and_task_and_stay_legal() {
        let id = InstanceId::parse("k", "host-1").unwrap();
        assert_eq!(id.member("A", "B", 0), "host-1.A-B.0");
        assert_ne!(id.member("A", "B", 0), id.member("A", "B", 1));
        assert_ne!(id.member("A", "B", 0), id.member("B", "A", 0));
        assert_eq!(id.member("us east", "B", 2), "host-1.us_east-B.2");
    }

    #[test]
    fn the_host_default_is_a_legal_identity() {
        let id = InstanceId::from_host();
        assert!(InstanceId::parse("k", id.as_str()).is_ok(), "{id}");
    }
}
