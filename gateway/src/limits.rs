//! Process limits raised at start.
//!
//! Each HTTP consumer instance of the bridge is a librdkafka consumer with its own broker
//! connections and wake-up descriptors (`bench bridge-instances` prints the descriptors per
//! instance), so a thousand instances need more than the soft `RLIMIT_NOFILE` of 1 024 that
//! many systems start processes with. The soft limit is raised to the hard limit, which any
//! process may do; the hard limit is the administrator's to raise.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Raises the soft open-files limit to the hard one; a warning on stderr if that fails
/// (the logger is not installed yet).
pub(crate) fn raise_open_files_limit() {
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    // `None` is unlimited: nothing to raise, or no finite value to raise to.
    let (Some(current), Some(maximum)) = (current, maximum) else {
        return;
    };
    if current >= maximum {
        return;
    }
    let raised = Rlimit {
        current: Some(maximum),
        maximum: Some(maximum),
    };
    if let Err(error) = setrlimit(Resource::Nofile, raised) {
        eprintln!(
            "warning: cannot raise the open-files limit from {current} to {maximum} ({error}); \
             many bridge consumer instances may run out of file descriptors"
        );
    }
}
