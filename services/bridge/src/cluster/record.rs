//! What the instance directory topic holds, and the one rule every node folds it with.
//!
//! Keys are JSON arrays, `["instance", group, name]` and `["node", node_id]`, so that no
//! group or instance name can collide with another key. A `null` value (a tombstone)
//! removes the key.
//!
//! Ownership is arbitrated by the topic's order alone, the same on every node: a record
//! for an existing instance is applied only when it comes from the current owner at the
//! current epoch (a refresh: mode, last use) or claims the next epoch (a takeover). Of two
//! nodes that claim epoch `n + 1` at the same time, the one written first wins; the other
//! reads the winner back and forwards to it. A rejected claim may still be the last record
//! of its key until the owner writes again; the owner re-asserts its record when it sees
//! one, so that compaction keeps the winner.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::consumers::instance::Mode;

/// `(group, name)` of an instance.
pub(crate) type InstanceKey = (String, String);

/// How an instance gets its partitions, as the directory records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum ModeRecord {
    #[default]
    Idle,
    Subscribed {
        topics: Vec<String>,
        pattern: Option<String>,
    },
    Assigned {
        partitions: Vec<(String, i32)>,
    },
}

impl From<&Mode> for ModeRecord {
    fn from(mode: &Mode) -> Self {
        match mode {
            Mode::Idle => Self::Idle,
            Mode::Subscribed { topics, pattern } => Self::Subscribed {
                topics: topics.clone(),
                pattern: pattern.clone(),
            },
            Mode::Assigned(partitions) => Self::Assigned {
                partitions: partitions.clone(),
            },
        }
    }
}

/// One consumer instance: enough to recreate it on another node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InstanceRecord {
    pub group: String,
    pub name: String,
    /// The create request's body as the client sent it (`None`: empty), parsed again on
    /// takeover so that format, auto-commit and consumer properties come back alike.
    pub create_body: Option<Value>,
    /// The authenticated principal that created it; only it may use it.
    pub principal: Option<String>,
    pub mode: ModeRecord,
    /// The node id of the owner.
    pub owner: String,
    pub epoch: u64,
    /// Wall-clock time of the last request, ms since the epoch, as the owner saw it.
    pub last_used_ms: i64,
}

/// One bridge node's heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeRecord {
    /// Where the other nodes forward requests to it.
    pub url: String,
    /// Wall-clock time of the heartbeat, ms since the epoch.
    pub heartbeat_ms: i64,
    /// Written on a graceful stop: its instances are taken over at once.
    pub stopped: bool,
}

pub(crate) fn instance_key(group: &str, name: &str) -> Vec<u8> {
    serde_json::to_vec(&("instance", group, name)).unwrap_or_default()
}

pub(crate) fn node_key(node_id: &str) -> Vec<u8> {
    serde_json::to_vec(&("node", node_id)).unwrap_or_default()
}

/// What a key names.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Instance(InstanceKey),
    Node(String),
}

fn parse_key(key: &[u8]) -> Option<Key> {
    let parts: Vec<String> = serde_json::from_slice(key).ok()?;
    match parts.as_slice() {
        [kind, group, name] if kind == "instance" => {
            Some(Key::Instance((group.clone(), name.clone())))
        }
        [kind, node] if kind == "node" => Some(Key::Node(node.clone())),
        _ => None,
    }
}

/// The directory as every node folds it.
#[derive(Debug, Default)]
pub(crate) struct DirectoryState {
    pub instances: HashMap<InstanceKey, InstanceRecord>,
    pub nodes: HashMap<String, NodeRecord>,
    /// Instances whose latest record was a rejected claim: their owner re-asserts.
    pub contested: Vec<InstanceKey>,
}

impl DirectoryState {
    /// Folds one record in; unreadable records are skipped with a warning (a newer
    /// gateway's record, or someone else's writes to the topic).
    pub(crate) fn apply_record(&mut self, key: &[u8], value: Option<&[u8]>) {
        let Some(parsed) = parse_key(key) else {
            tracing::warn!(key = %String::from_utf8_lossy(key), "unreadable key in the bridge instance directory, skipped");
            return;
        };
        match (parsed, value) {
            (Key::Instance(key), None) => {
                self.instances.remove(&key);
            }
            (Key::Node(node), None) => {
                self.nodes.remove(&node);
            }
            (Key::Instance(key), Some(value)) => match serde_json::from_slice(value) {
                Ok(record) => self.apply_instance(key, record),
                Err(error) => {
                    tracing::warn!(%error, group = %key.0, instance = %key.1, "unreadable instance record, skipped");
                }
            },
            (Key::Node(node), Some(value)) => match serde_json::from_slice(value) {
                Ok(record) => {
                    self.nodes.insert(node, record);
                }
                Err(error) => tracing::warn!(%error, node, "unreadable node record, skipped"),
            },
        }
    }

    fn apply_instance(&mut self, key: InstanceKey, record: InstanceRecord) {
        let accepted = match self.instances.get(&key) {
            None => true,
            Some(current) => {
                (record.epoch == current.epoch && record.owner == current.owner)
                    || record.epoch == current.epoch + 1
            }
        };
        if accepted {
            self.instances.insert(key, record);
        } else {
            tracing::debug!(group = %key.0, instance = %key.1, claimant = %record.owner, epoch = record.epoch, "claim on a bridge instance lost");
            self.contested.push(key);
        }
    }
}

impl broker_core::kafka_log::LogState for DirectoryState {
    fn apply(&mut self, key: &[u8], value: Option<&[u8]>, _offset: i64) {
        self.apply_record(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(owner: &str, epoch: u64) -> InstanceRecord {
        InstanceRecord {
            group: "g".to_owned(),
            name: "i".to_owned(),
            create_body: None,
            principal: None,
            mode: ModeRecord::Idle,
            owner: owner.to_owned(),
            epoch,
            last_used_ms: 0,
        }
    }

    fn write(state: &mut DirectoryState, value: Option<&InstanceRecord>) {
        let bytes = value.map(|v| serde_json::to_vec(v).unwrap());
        state.apply_record(&instance_key("g", "i"), bytes.as_deref());
    }

    fn owner(state: &DirectoryState) -> Option<(String, u64)> {
        state
            .instances
            .get(&("g".to_owned(), "i".to_owned()))
            .map(|r| (r.owner.clone(), r.epoch))
    }

    #[test]
    fn the_first_claim_of_the_next_epoch_wins() {
        let mut state = DirectoryState::default();
        write(&mut state, Some(&record("a", 1)));
        write(&mut state, Some(&record("b", 2)));
        write(&mut state, Some(&record("c", 2)));
        assert_eq!(owner(&state), Some(("b".to_owned(), 2)));
        assert_eq!(state.contested.len(), 1);
    }

    #[test]
    fn only_the_owner_refreshes_its_epoch() {
        let mut state = DirectoryState::default();
        write(&mut state, Some(&record("a", 1)));
        let mut refreshed = record("a", 1);
        refreshed.last_used_ms = 5;
        write(&mut state, Some(&refreshed));
        write(&mut state, Some(&record("b", 1)));
        assert_eq!(state.instances.values().next().unwrap().last_used_ms, 5);
        assert_eq!(owner(&state), Some(("a".to_owned(), 1)));
    }

    #[test]
    fn a_stale_claim_is_rejected() {
        let mut state = DirectoryState::default();
        write(&mut state, Some(&record("a", 3)));
        write(&mut state, Some(&record("b", 2)));
        write(&mut state, Some(&record("b", 5)));
        assert_eq!(owner(&state), Some(("a".to_owned(), 3)));
    }

    #[test]
    fn a_tombstone_removes_and_a_compacted_record_is_taken_as_is() {
        let mut state = DirectoryState::default();
        write(&mut state, Some(&record("a", 1)));
        write(&mut state, None);
        assert_eq!(owner(&state), None);
        write(&mut state, Some(&record("b", 7)));
        assert_eq!(owner(&state), Some(("b".to_owned(), 7)));
    }

    #[test]
    fn nodes_and_unreadable_keys() {
        let mut state = DirectoryState::default();
        let node = NodeRecord {
            url: "http://a:1".to_owned(),
            heartbeat_ms: 1,
            stopped: false,
        };
        state.apply_record(&node_key("a"), Some(&serde_json::to_vec(&node).unwrap()));
        state.apply_record(b"garbage", Some(b"{}"));
        assert_eq!(state.nodes.get("a"), Some(&node));
        state.apply_record(&node_key("a"), None);
        assert!(state.nodes.is_empty());
    }
}
