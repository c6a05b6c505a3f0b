//! Topic mirroring between clusters: a MirrorMaker 2 replacement that reads MM2's
//! dedicated-mode `mm2.properties`, writes MM2's internal topics in MM2's binary layouts,
//! and in addition keeps a dense source→target offset map so that any committed group
//! position translates exactly.
//!
//! - [`config`]: `mm2.properties` / `[mirror]` → [`ValidatedMirror`] (pure).
//! - [`policy`]: remote topic naming and loop prevention.
//! - `topics`: discovery, remote topic creation, partition growth, config sync.
//! - `acls`: MM2's topic ACL sync over broker-core's native protocol client.
//! - `replicate`: the consume → produce tasks, at-least-once and exactly-once.
//! - [`offsets`]: the dense map, MM2 offset syncs, checkpoints and heartbeats.
//! - `groups`: group offsets and `sync.group.offsets`.
//! - `lag`: replication lag per partition (records, seconds, offset-sync age).
//! - [`translate()`]: per-partition failover positions of a group.
//! - [`failover`]: `mirror failover`: groups moved to the target at exact positions, RPO.
//! - [`status`]: `mirror status`: which process runs which task, from the coordinators.

mod acls;
pub mod config;
pub mod error;
pub mod failback;
pub mod failover;
mod groups;
mod lag;
pub mod metrics;
pub mod offsets;
pub mod policy;
mod replicate;
mod runner;
pub mod status;
mod topics;
mod translate;

use broker_core::Shutdown;
use broker_core::telemetry::MetricsRegistry;

pub use config::{
    Delivery, Flow, InstanceId, MirrorConfig, ValidatedMirror, load_properties, parse_properties,
};
pub use error::MirrorError;
pub use topics::{MirroredTopic, TopicPlan};
pub use translate::{TranslatedOffset, render_table, translate};

/// Runs every enabled flow until `shutdown` fires, then drains (flush, commit) and returns.
/// Dropping the future instead stops replication at once, without committing anything
/// more: the crash case the delivery guarantees are designed for.
pub async fn run(
    config: ValidatedMirror,
    registry: MetricsRegistry,
    shutdown: Shutdown,
) -> Result<(), MirrorError> {
    runner::run(config, registry, shutdown).await
}
