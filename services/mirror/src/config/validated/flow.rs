//! One `source->target` flow's settings, read in stages.
//!
//! The stages run in a fixed order and [`flow`] must keep it: the first invalid key is the
//! one reported, and a disabled flow is read only to mark its keys as used, so an early
//! error must leave exactly the same keys unread as before (they show up as warnings).

use std::time::Duration;

use broker_core::ConfigError;

use super::{
    DEFAULT_CONFIG_PROPERTIES_EXCLUDE, DEFAULT_FILTER_CLASSES, DEFAULT_GROUPS_EXCLUDE,
    DEFAULT_REFRESH_GROUPS_SECONDS, DEFAULT_REFRESH_TOPICS_SECONDS, DEFAULT_TOPICS_EXCLUDE,
    Delivery, Flow, OffsetSyncs, OffsetSyncsLocation, Reader, name_filter,
};
use crate::policy::{ReplicationPolicy, Separators};

/// A key and its value, or the key MM2 documents and its default.
type Setting = (String, String);

pub(super) fn flow(
    reader: &mut Reader<'_>,
    source: &str,
    target: &str,
) -> Result<Flow, ConfigError> {
    let name = format!("{source}->{target}");
    let n = name.as_str();
    only_default_filter_classes(reader, n)?;
    let filters = FilterSettings::read(reader, n);
    let policy = replication_policy(reader, n)?;
    let offset_syncs = offset_syncs(reader, n)?;
    let tasks = reader.flow_int(n, "tasks.max", 1, 1)?;
    let delivery = delivery(reader, n, target)?;
    let timing = Timing::read(reader, n)?;
    let group_id = group_id(reader, n, source, target)?;
    let topics = name_filter(&filters.topics, &filters.topics_exclude)?;
    let groups = name_filter(&filters.groups, &filters.groups_exclude)?;
    let replication_factor = reader.replication_factor(n, "replication.factor", 2)?;
    let (sync_topic_configs, sync_topic_acls) = topic_syncs(reader, n)?;
    let config_properties_exclude = name_filter(
        &(filters.config_exclude.0.clone(), ".*".to_owned()),
        &filters.config_exclude,
    )?;
    let periodic = PeriodicTasks::read(reader, n)?;
    Ok(Flow {
        source: source.to_owned(),
        target: target.to_owned(),
        topics,
        groups,
        policy,
        replication_factor,
        sync_topic_configs,
        config_properties_exclude,
        sync_topic_acls,
        refresh_topics: periodic.refresh_topics,
        refresh_groups: periodic.refresh_groups,
        heartbeats: periodic.heartbeats,
        heartbeats_replication_factor: periodic.heartbeats_replication_factor,
        heartbeats_replication: periodic.heartbeats_replication,
        checkpoints: periodic.checkpoints,
        checkpoints_replication_factor: periodic.checkpoints_replication_factor,
        sync_group_offsets: periodic.sync_group_offsets,
        offset_syncs,
        tasks: usize::try_from(tasks).unwrap_or(1),
        delivery,
        commit_interval: timing.commit_interval,
        poll_timeout: timing.poll_timeout,
        admin_timeout: timing.admin_timeout,
        group_id,
    })
}

/// Custom filter classes are Java code we cannot run; naming MM2's defaults is fine.
fn only_default_filter_classes(reader: &mut Reader<'_>, n: &str) -> Result<(), ConfigError> {
    for (key, expected) in DEFAULT_FILTER_CLASSES {
        if let Some((found, value)) = reader.flow(n, key)
            && value != *expected
        {
            return Err(ConfigError::new(
                found,
                format!("only {expected} is supported"),
            ));
        }
    }
    Ok(())
}

/// The include and exclude lists, read first and compiled later, so that which error a
/// config with several mistakes reports stays what it always was.
struct FilterSettings {
    topics: Setting,
    topics_exclude: Setting,
    groups: Setting,
    groups_exclude: Setting,
    config_exclude: Setting,
}

impl FilterSettings {
    fn read(reader: &mut Reader<'_>, n: &str) -> Self {
        let topics = reader.flow_string(n, "topics", ".*");
        let topics_exclude = exclude_list(
            reader,
            n,
            "topics.exclude",
            "topics.blacklist",
            DEFAULT_TOPICS_EXCLUDE,
        );
        let groups = reader.flow_string(n, "groups", ".*");
        let groups_exclude = exclude_list(
            reader,
            n,
            "groups.exclude",
            "groups.blacklist",
            DEFAULT_GROUPS_EXCLUDE,
        );
        let config_exclude = exclude_list(
            reader,
            n,
            "config.properties.exclude",
            "config.properties.blacklist",
            DEFAULT_CONFIG_PROPERTIES_EXCLUDE,
        );
        Self {
            topics,
            topics_exclude,
            groups,
            groups_exclude,
            config_exclude,
        }
    }
}

/// MM2 still reads the pre-2.x `*.blacklist` name when the new one is absent.
fn exclude_list(
    reader: &mut Reader<'_>,
    n: &str,
    key: &str,
    old_key: &str,
    default: &str,
) -> Setting {
    reader
        .flow(n, key)
        .or_else(|| reader.flow(n, old_key))
        .unwrap_or_else(|| (key.to_owned(), default.to_owned()))
}

fn replication_policy(reader: &mut Reader<'_>, n: &str) -> Result<ReplicationPolicy, ConfigError> {
    let (separator_key, separator) = reader.flow_string(n, "replication.policy.separator", ".");
    if separator.is_empty() {
        return Err(ConfigError::new(separator_key, "must not be empty"));
    }
    let internal_separator = reader.flow_bool(
        n,
        "replication.policy.internal.topic.separator.enabled",
        true,
    )?;
    let separators = Separators {
        internal: if internal_separator {
            separator.clone()
        } else {
            ".".to_owned()
        },
        separator,
    };
    let (policy_key, policy_class) = reader.flow_string(
        n,
        "replication.policy.class",
        "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
    );
    match policy_class.rsplit('.').next().unwrap_or_default() {
        "DefaultReplicationPolicy" => Ok(ReplicationPolicy::Default(separators)),
        "IdentityReplicationPolicy" => Ok(ReplicationPolicy::Identity(separators)),
        _ => Err(ConfigError::new(
            policy_key,
            format!(
                "`{policy_class}` is not DefaultReplicationPolicy or IdentityReplicationPolicy"
            ),
        )),
    }
}

/// Every key is read (and validated) even when `emit.offset-syncs.enabled=false`.
fn offset_syncs(reader: &mut Reader<'_>, n: &str) -> Result<Option<OffsetSyncs>, ConfigError> {
    let enabled = reader.flow_bool(n, "emit.offset-syncs.enabled", true)?;
    let (location_key, location) = reader.flow_string(n, "offset-syncs.topic.location", "source");
    let location = match location.to_ascii_lowercase().as_str() {
        "source" => OffsetSyncsLocation::Source,
        "target" => OffsetSyncsLocation::Target,
        _ => {
            return Err(ConfigError::new(
                location_key,
                format!("`{location}` is not source or target"),
            ));
        }
    };
    let replication_factor =
        reader.replication_factor(n, "offset-syncs.topic.replication.factor", 3)?;
    let lag_max = reader.flow_int(n, "offset.lag.max", 100, 0)?;
    Ok(enabled.then_some(OffsetSyncs {
        location,
        replication_factor,
        lag_max,
    }))
}

/// `exactly.once.support` of the flow, defaulting to what the target's worker setting
/// (`{target}.exactly.once.source.support`) asks for.
fn delivery(reader: &mut Reader<'_>, n: &str, target: &str) -> Result<Delivery, ConfigError> {
    let (eos_key, eos) = reader.flow_string(n, "exactly.once.support", "disabled");
    let worker_eos = reader
        .raw(&format!("{target}.exactly.once.source.support"))
        .map(|(_, v)| v.eq_ignore_ascii_case("enabled"))
        .unwrap_or(false);
    match eos.to_ascii_lowercase().as_str() {
        "enabled" | "required" | "requested" => Ok(Delivery::ExactlyOnce),
        "disabled" | "" if worker_eos => Ok(Delivery::ExactlyOnce),
        "disabled" | "" => Ok(Delivery::AtLeastOnce),
        _ => Err(ConfigError::new(
            eos_key,
            format!("`{eos}` is not enabled, required, requested or disabled"),
        )),
    }
}

struct Timing {
    commit_interval: Duration,
    poll_timeout: Duration,
    admin_timeout: Duration,
}

impl Timing {
    fn read(reader: &mut Reader<'_>, n: &str) -> Result<Self, ConfigError> {
        let mut millis = |key: &str, default: i64| -> Result<Duration, ConfigError> {
            let value = reader.flow_int(n, key, default, 1)?;
            Ok(Duration::from_millis(value.unsigned_abs()))
        };
        Ok(Self {
            commit_interval: millis("offset.flush.interval.ms", 1000)?,
            poll_timeout: millis("consumer.poll.timeout.ms", 1000)?,
            admin_timeout: millis("admin.timeout.ms", 60_000)?,
        })
    }
}

fn group_id(
    reader: &mut Reader<'_>,
    n: &str,
    source: &str,
    target: &str,
) -> Result<String, ConfigError> {
    let (group_key, group_id) = reader.flow_string(
        n,
        "replication.group.id",
        &format!("__kafka-gateway-mirror.{source}-{target}"),
    );
    if group_id.is_empty() {
        return Err(ConfigError::new(group_key, "must not be empty"));
    }
    Ok(group_id)
}

/// `sync.topic.configs` and `sync.topic.acls`.
fn topic_syncs(
    reader: &mut Reader<'_>,
    n: &str,
) -> Result<(Option<Duration>, Option<Duration>), ConfigError> {
    let configs = reader.periodic(
        n,
        "sync.topic.configs.enabled",
        "sync.topic.configs.interval.seconds",
        true,
        600,
    )?;
    let acls = reader.periodic(
        n,
        "sync.topic.acls.enabled",
        "sync.topic.acls.interval.seconds",
        true,
        600,
    )?;
    Ok((configs, acls))
}

/// The flow's periodic jobs besides topic syncs, with their topics' replication factors.
struct PeriodicTasks {
    refresh_topics: Option<Duration>,
    refresh_groups: Option<Duration>,
    heartbeats: Option<Duration>,
    heartbeats_replication_factor: i32,
    heartbeats_replication: bool,
    checkpoints: Option<Duration>,
    checkpoints_replication_factor: i32,
    sync_group_offsets: Option<Duration>,
}

impl PeriodicTasks {
    fn read(reader: &mut Reader<'_>, n: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            refresh_topics: reader.periodic(
                n,
                "refresh.topics.enabled",
                "refresh.topics.interval.seconds",
                true,
                DEFAULT_REFRESH_TOPICS_SECONDS,
            )?,
            refresh_groups: reader.periodic(
                n,
                "refresh.groups.enabled",
                "refresh.groups.interval.seconds",
                true,
                DEFAULT_REFRESH_GROUPS_SECONDS,
            )?,
            heartbeats: reader.periodic(
                n,
                "emit.heartbeats.enabled",
                "emit.heartbeats.interval.seconds",
                true,
                1,
            )?,
            heartbeats_replication_factor: reader.replication_factor(
                n,
                "heartbeats.topic.replication.factor",
                3,
            )?,
            heartbeats_replication: reader.flow_bool(n, "heartbeats.replication.enabled", true)?,
            checkpoints: reader.periodic(
                n,
                "emit.checkpoints.enabled",
                "emit.checkpoints.interval.seconds",
                true,
                60,
            )?,
            checkpoints_replication_factor: reader.replication_factor(
                n,
                "checkpoints.topic.replication.factor",
                3,
            )?,
            sync_group_offsets: reader.periodic(
                n,
                "sync.group.offsets.enabled",
                "sync.group.offsets.interval.seconds",
                false,
                60,
            )?,
        })
    }
}
