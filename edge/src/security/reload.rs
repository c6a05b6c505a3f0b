//! Files a listener keeps loaded while it runs (users, tokens, JWT keys, the client CA, the
//! certificate pair), reloaded when they change, without a restart.
//!
//! The discipline is the same for every file:
//! - **Cheap, bounded checks.** A request (or a TLS handshake) looks at the files at most once
//!   per interval, and only one caller at a time: the others keep using the loaded value. A
//!   check is a `stat` per file (inode, modification time, size); the file is read only when
//!   that changed. Between checks a caller pays one atomic load and an uncontended read lock.
//! - **Atomic swap.** The new value replaces the old one as a whole; a caller holds an `Arc`
//!   of the value it started with, so a request never sees half of each.
//! - **Keep the previous value when the new one is broken.** A malformed line, an unreadable or
//!   missing file, a plain-text password: the error is logged at WARN (naming the key, the
//!   file and the line) and counted, and the previous value keeps serving. A file caught
//!   half-written is never a reason to lock everyone out. The broken version is not read
//!   again until the file changes once more, so a bad file costs one warning, not one per
//!   request.
//!
//! Every successful swap bumps a generation number, which lets caches derived from the
//! value (successful password checks) drop what the old value vouched for.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use broker_core::ConfigError;

use super::reload_metrics::ReloadMetrics;

/// What one file looked like: enough to notice a rename over it (inode), a rewrite (time) or
/// a truncation (size) without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    modified: Option<SystemTime>,
    length: u64,
}

/// What a set of files looked like; `None` for a file that could not be looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp(Vec<Option<FileStamp>>);

impl Stamp {
    pub(crate) fn of(files: &[PathBuf]) -> Self {
        Self(
            files
                .iter()
                .map(|path| {
                    std::fs::metadata(path).ok().map(|metadata| FileStamp {
                        inode: inode(&metadata),
                        modified: metadata.modified().ok(),
                        length: metadata.len(),
                    })
                })
                .collect(),
        )
    }
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_metadata: &std::fs::Metadata) -> u64 {
    0
}

/// Builds the value from the files; the error names the config key and the file.
pub(crate) type Loader<T> = Arc<dyn Fn() -> Result<T, ConfigError> + Send + Sync>;

/// The value in use and the number of successful reloads before it.
#[derive(Debug)]
pub(crate) struct Current<T> {
    pub(crate) value: Arc<T>,
    pub(crate) generation: u64,
}

impl<T> Clone for Current<T> {
    fn clone(&self) -> Self {
        Self {
            value: Arc::clone(&self.value),
            generation: self.generation,
        }
    }
}

/// How to name a watched value in logs and metrics.
#[derive(Debug, Clone)]
pub(crate) struct WatchName {
    /// The `file` label of the reload metric: the config key's last part (`users_file`).
    pub(crate) label: &'static str,
    /// The full config key (`bridge.http.auth.users_file`).
    pub(crate) key: String,
}

/// A value loaded from files and reloaded when they change.
pub(crate) struct Watched<T> {
    files: Vec<PathBuf>,
    name: WatchName,
    load: Loader<T>,
    interval_ms: u64,
    origin: Instant,
    /// Milliseconds since `origin` before which nobody looks at the files.
    next_check_ms: AtomicU64,
    /// Set by the one caller checking the files, so that the others do not wait for it.
    checking: AtomicBool,
    /// The files as last read, whether the value loaded or not.
    seen: Mutex<Stamp>,
    current: RwLock<Current<T>>,
    metrics: ReloadMetrics,
}

impl<T> std::fmt::Debug for Watched<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("files", &self.files)
            .field("key", &self.name.key)
            .field("interval_ms", &self.interval_ms)
            .finish_non_exhaustive()
    }
}

/// Clears the `checking` flag however the check ends, a cancelled request included.
struct CheckingGuard<'a>(&'a AtomicBool);

impl Drop for CheckingGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<T: Send + Sync + 'static> Watched<T> {
    /// Loads the value now; an error here is a startup error. `files` are the files `load`
    /// reads; with none, the value is never reloaded.
    pub(crate) fn load(
        files: Vec<PathBuf>,
        name: WatchName,
        interval: Duration,
        metrics: ReloadMetrics,
        load: Loader<T>,
    ) -> Result<Self, ConfigError> {
        // Stamped before reading, so a change made while reading is seen by the next check.
        let stamp = Stamp::of(&files);
        let value = load()?;
        let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        Ok(Self {
            next_check_ms: AtomicU64::new(if files.is_empty() {
                u64::MAX
            } else {
                interval_ms
            }),
            files,
            name,
            load,
            interval_ms,
            origin: Instant::now(),
            checking: AtomicBool::new(false),
            seen: Mutex::new(stamp),
            current: RwLock::new(Current {
                value: Arc::new(value),
                generation: 0,
            }),
            metrics,
        })
    }

    /// The value in use, without looking at the files.
    pub(crate) fn snapshot(&self) -> Current<T> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The value to use now. When a check is due and the files changed, they are read on the
    /// blocking pool (a users file makes a password hash while loading) and this caller waits
    /// for the result; concurrent callers use the previous value meanwhile.
    pub(crate) async fn current(&self) -> Current<T> {
        if let Some((_guard, stamp)) = self.changed_files() {
            let load = Arc::clone(&self.load);
            let outcome = broker_core::task::spawn_blocking("security-file-reload", move || load())
                .await
                .unwrap_or_else(|error| {
                    Err(ConfigError::new(
                        self.name.key.clone(),
                        format!("loading failed: {error}"),
                    ))
                });
            self.apply(stamp, outcome);
        }
        self.snapshot()
    }

    /// [`Self::current`] for synchronous callers (a TLS handshake's certificate lookup),
    /// loading on the calling thread: only for files that are cheap to parse.
    pub(crate) fn current_inline(&self) -> Current<T> {
        if let Some((_guard, stamp)) = self.changed_files() {
            let outcome = (self.load)();
            self.apply(stamp, outcome);
        }
        self.snapshot()
    }

    /// When a check is due, no one else is checking, and the files differ from those last
    /// read: the new stamp, and the guard that keeps other callers from checking meanwhile.
    fn changed_files(&self) -> Option<(CheckingGuard<'_>, Stamp)> {
        let now_ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        if now_ms < self.next_check_ms.load(Ordering::Relaxed) {
            return None;
        }
        self.checking
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        let guard = CheckingGuard(&self.checking);
        self.next_check_ms
            .store(now_ms.saturating_add(self.interval_ms), Ordering::Relaxed);
        let stamp = Stamp::of(&self.files);
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        (*seen != stamp).then_some((guard, stamp))
    }

    /// Swaps in a value that loaded; keeps the previous one otherwise. Either way the files
    /// as stamped count as read.
    fn apply(&self, stamp: Stamp, outcome: Result<T, ConfigError>) {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = stamp;
        let label = self.name.label;
        match outcome {
            Ok(value) => {
                let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
                *current = Current {
                    value: Arc::new(value),
                    generation: current.generation + 1,
                };
                drop(current);
                self.metrics.record(label, true);
                tracing::info!(
                    key = %self.name.key,
                    files = ?self.files,
                    "security file reloaded"
                );
            }
            Err(error) => {
                self.metrics.record(label, false);
                tracing::warn!(
                    key = %self.name.key,
                    files = ?self.files,
                    %error,
                    "security file not reloaded, keeping the previous version"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::security::tempdir;

    /// A value loaded from one file holding a number; anything else is an error.
    fn watched(dir: &tempdir::Dir, interval: Duration) -> (Watched<u32>, Arc<AtomicUsize>) {
        let path = dir.path().join("number");
        let loads = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&loads);
        let file = path.clone();
        let load: Loader<u32> = Arc::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            let text = std::fs::read_to_string(&file)
                .map_err(|error| ConfigError::new("k.number_file", error.to_string()))?;
            text.trim()
                .parse()
                .map_err(|_| ConfigError::new("k.number_file", "line 1 is not a number"))
        });
        let name = WatchName {
            label: "number_file",
            key: "k.number_file".to_owned(),
        };
        let watched =
            Watched::load(vec![path], name, interval, ReloadMetrics::default(), load).unwrap();
        (watched, loads)
    }

    /// Replaces the file by renaming a new one over it, as operators are told to.
    fn replace(dir: &tempdir::Dir, contents: &str) {
        let partial = dir.path().join("number.partial");
        std::fs::write(&partial, contents).unwrap();
        std::fs::rename(&partial, dir.path().join("number")).unwrap();
    }

    #[test]
    fn stamp_changes_with_rename_rewrite_and_removal() {
        let dir = tempdir::Dir::new();
        replace(&dir, "1");
        let files = vec![dir.path().join("number")];
        let first = Stamp::of(&files);
        assert_eq!(first, Stamp::of(&files), "nothing changed");
        // Same length, same content, new inode.
        replace(&dir, "1");
        let renamed = Stamp::of(&files);
        assert_ne!(first, renamed);
        std::fs::write(&files[0], "12").unwrap();
        assert_ne!(renamed, Stamp::of(&files));
        std::fs::remove_file(&files[0]).unwrap();
        assert_eq!(Stamp::of(&files), Stamp(vec![None]));
    }

    #[tokio::test]
    async fn reloads_a_changed_file_and_counts_generations() {
        let dir = tempdir::Dir::new();
        replace(&dir, "1");
        let (watched, loads) = watched(&dir, Duration::ZERO);
        assert_eq!(*watched.current().await.value, 1);
        assert_eq!(
            loads.load(Ordering::Relaxed),
            1,
            "unchanged: not read again"
        );
        replace(&dir, "2");
        let current = watched.current().await;
        assert_eq!((*current.value, current.generation), (2, 1));
        assert_eq!(*watched.current_inline().value, 2);
        assert_eq!(loads.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn keeps_the_previous_value_when_the_file_is_broken_or_gone() {
        let dir = tempdir::Dir::new();
        replace(&dir, "1");
        let (watched, loads) = watched(&dir, Duration::ZERO);
        replace(&dir, "garbage");
        let current = watched.current().await;
        assert_eq!((*current.value, current.generation), (1, 0));
        // The broken version is read once, not on every request.
        watched.current().await;
        assert_eq!(loads.load(Ordering::Relaxed), 2);
        std::fs::remove_file(dir.path().join("number")).unwrap();
        assert_eq!(*watched.current().await.value, 1);
        replace(&dir, "3");
        let current = watched.current().await;
        assert_eq!((*current.value, current.generation), (3, 1));
    }

    #[tokio::test]
    async fn looks_at_the_files_at_most_once_per_interval() {
        let dir = tempdir::Dir::new();
        replace(&dir, "1");
        let (watched, _) = watched(&dir, Duration::from_secs(3600));
        replace(&dir, "2");
        assert_eq!(*watched.current().await.value, 1, "not due yet");
        watched.next_check_ms.store(0, Ordering::Relaxed);
        assert_eq!(*watched.current().await.value, 2);
        replace(&dir, "3");
        assert_eq!(
            *watched.current().await.value,
            2,
            "the next check is an hour away"
        );
    }

    #[tokio::test]
    async fn a_caller_does_not_wait_for_another_one_checking() {
        let dir = tempdir::Dir::new();
        replace(&dir, "1");
        let (watched, _) = watched(&dir, Duration::ZERO);
        replace(&dir, "2");
        watched.checking.store(true, Ordering::Relaxed);
        assert_eq!(*watched.current().await.value, 1);
        watched.checking.store(false, Ordering::Relaxed);
        assert_eq!(*watched.current().await.value, 2);
    }
}
