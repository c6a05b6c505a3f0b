//! The registry of one instance: the replayed store, the election view, and the writes.
//!
//! Writes run only on the primary, one at a time under `write_lock`: plan on the current
//! state ([`plan`], pure), write the records, wait until the local reader applied them.
//! A newly elected primary first syncs its reader with a NOOP (once per leadership term),
//! so the id it picks (`max id + 1`) is past every id the previous primary wrote: ids are
//! never reused, even across a crash. Other instances forward writes (`routes::forward`).

pub mod parse_cache;
pub mod plan;
pub mod read;

use std::sync::{Arc, RwLockReadGuard};

use broker_core::{KafkaClients, Shutdown};
use tokio::sync::{Mutex, watch};

use crate::config::ValidatedSchemaRegistry;
use crate::election::{self, LeaderView};
use crate::error::ApiError;
use crate::model::{CompatibilityLevel, Mode, SchemaType};
use crate::registry::parse_cache::ParseCache;
use crate::registry::plan::{RegisterPlan, RegisterRequest};
use crate::registry::read::VersionSelector;
use crate::store::kafka::{KafkaStore, StoreError};
use crate::store::records::{Record, SchemaReference};
use crate::store::state::RegistryState;

/// Longest wait for an election in progress before a write answers 50004.
pub const LEADER_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

#[derive(Debug)]
pub struct Registry {
    config: ValidatedSchemaRegistry,
    store: KafkaStore,
    leader: watch::Receiver<LeaderView>,
    /// Serializes writes; holds the leadership term whose NOOP sync completed.
    write_lock: Mutex<Option<u64>>,
    cluster_id: String,
    parsed: ParseCache,
}

impl Registry {
    /// Starts the store and the election, and waits until the store replayed the topic.
    pub async fn start(
        config: ValidatedSchemaRegistry,
        clients: &KafkaClients,
        shutdown: Shutdown,
    ) -> Result<Self, StoreError> {
        let store = KafkaStore::start(
            clients,
            &config.topic,
            config.replication_factor,
            config.store_timeout,
            shutdown.clone(),
        )
        .await?;
        // Serve once past a NOOP: the state then holds everything written before.
        store.sync().await?;
        let leader = election::start(
            clients,
            &config.topic,
            &config.group_id,
            &config.advertised_url,
            config.leader_eligibility,
            config.session_timeout,
            shutdown,
        )?;
        let cluster_id = broker_core::metadata::ClusterInspector::new(
            clients,
            std::time::Duration::from_secs(10),
        )?
        .cluster_id()
        .await
        .unwrap_or_default();
        Ok(Self {
            config,
            store,
            leader,
            write_lock: Mutex::new(None),
            cluster_id,
            parsed: ParseCache::default(),
        })
    }

    pub fn config(&self) -> &ValidatedSchemaRegistry {
        &self.config
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    pub fn state(&self) -> RwLockReadGuard<'_, RegistryState> {
        self.store.state()
    }

    pub fn leader(&self) -> LeaderView {
        self.leader.borrow().clone()
    }

    /// The view once some primary is known, or the current one after [`LEADER_WAIT`]: a
    /// write that arrives during an election waits for it instead of failing at once.
    pub async fn known_leader(&self) -> LeaderView {
        let mut leader = self.leader.clone();
        let known = leader.wait_for(|view| view.is_leader || view.leader_url.is_some());
        match tokio::time::timeout(LEADER_WAIT, known).await {
            Ok(Ok(view)) => view.clone(),
            _ => self.leader(),
        }
    }

    /// [`plan::parse_submitted`], through the cache when the schema has no references.
    pub fn parse_submitted(
        &self,
        state: &RegistryState,
        schema_type: SchemaType,
        text: &str,
        references: &[SchemaReference],
        normalize: bool,
    ) -> Result<Arc<schemas::format::ParsedSchema>, ApiError> {
        let parse = || plan::parse_submitted(state, schema_type, text, references, normalize);
        if references.is_empty() {
            self.parsed
                .get_or_parse(schema_type, text, normalize, parse)
        } else {
            parse().map(Arc::new)
        }
    }

    pub fn default_level(&self) -> CompatibilityLevel {
        self.config.compatibility
    }

    /// Runs `plan` on a current state as the primary and writes its records.
    async fn write<T>(
        &self,
        plan: impl FnOnce(&RegistryState) -> Result<(T, Vec<Record>), ApiError>,
    ) -> Result<T, ApiError> {
        let mut synced_term = self.write_lock.lock().await;
        let view = self.known_leader().await;
        if !view.is_leader {
            return Err(ApiError::unknown_leader());
        }
        if *synced_term != Some(view.term) {
            self.store.sync().await?;
            *synced_term = Some(view.term);
        }
        let (answer, records) = {
            let state = self.store.state();
            plan(&state)?
        };
        if !records.is_empty() {
            self.store.write(&records).await?;
        }
        Ok(answer)
    }

    pub async fn register(
        &self,
        subject: &str,
        request: &RegisterRequest,
    ) -> Result<(i32, i32), ApiError> {
        let default_level = self.default_level();
        let registered = self
            .write(|state| {
                Ok(
                    match plan::register(state, subject, request, default_level)? {
                        RegisterPlan::Existing { id, version } => ((id, version), Vec::new()),
                        RegisterPlan::Write {
                            id,
                            version,
                            records,
                        } => ((id, version), records),
                    },
                )
            })
            .await?;
        // A write that raced another primary's (a leadership hand-over in flight) is
        // rejected by every reader when its id was taken: never answer an id that did not
        // land.
        let (id, version) = registered;
        let landed = self
            .state()
            .entry(subject, version)
            .is_some_and(|entry| entry.id == id && !entry.deleted);
        if !landed {
            return Err(ApiError::store(format!(
                "Error while registering the schema: version {version} of {subject} with id {id} \
                 was overwritten by a concurrent write; retry"
            )));
        }
        Ok(registered)
    }

    pub async fn delete_version(
        &self,
        subject: &str,
        selector: VersionSelector,
        permanent: bool,
    ) -> Result<i32, ApiError> {
        self.write(|state| plan::delete_version(state, subject, selector, permanent))
            .await
    }

    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<i32>, ApiError> {
        self.write(|state| plan::delete_subject(state, subject, permanent))
            .await
    }

    pub async fn set_config(
        &self,
        subject: Option<&str>,
        level: CompatibilityLevel,
        normalize: Option<bool>,
    ) -> Result<(), ApiError> {
        self.write(|_| Ok(((), vec![plan::set_config(subject, level, normalize)])))
            .await
    }

    /// Removes a config and answers the one it had (or the default for the global one).
    pub async fn delete_config(
        &self,
        subject: Option<&str>,
    ) -> Result<CompatibilityLevel, ApiError> {
        let default_level = self.default_level();
        self.write(|state| {
            let current = state.config(subject);
            let level = match (subject, current.and_then(|c| c.level)) {
                (_, Some(level)) => level,
                (Some(subject), None) => return Err(ApiError::subject_config_not_found(subject)),
                (None, None) => default_level,
            };
            let record = Record::Config {
                subject: subject.map(str::to_owned),
                value: None,
            };
            Ok((level, current.map(|_| record).into_iter().collect()))
        })
        .await
    }

    pub async fn set_mode(
        &self,
        subject: Option<&str>,
        mode: Mode,
        force: bool,
    ) -> Result<(), ApiError> {
        self.write(|state| Ok(((), plan::set_mode(state, subject, mode, force)?)))
            .await
    }

    /// Removes a mode and answers the one it had.
    pub async fn delete_mode(&self, subject: Option<&str>) -> Result<Mode, ApiError> {
        self.write(|state| {
            let Some(mode) = state.mode(subject) else {
                return match subject {
                    Some(subject) => Err(ApiError::subject_mode_not_found(subject)),
                    None => Ok((Mode::Readwrite, Vec::new())),
                };
            };
            let record = Record::Mode {
                subject: subject.map(str::to_owned),
                value: None,
            };
            Ok((mode, vec![record]))
        })
        .await
    }
}
