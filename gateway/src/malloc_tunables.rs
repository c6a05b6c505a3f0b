//! glibc malloc settings for librdkafka's buffers, applied by re-executing the binary once.
//!
//! librdkafka (C) allocates its fetch and produce buffers with glibc's `malloc`, not with
//! the gateway's allocator. glibc serves a large block with `mmap` only until the first such
//! block is freed; it then raises its mmap threshold to that size and serves the next ones
//! from its per-thread arenas, which keep freed memory instead of returning it. With many
//! consumers (one per HTTP consumer instance) the gateway's RSS then follows everything
//! fetched, not what is held: 100 instances that read 10 MiB of incompressible records
//! each kept 414 MiB in glibc's heaps, 399 MiB after deleting them; with a fixed threshold
//! 101 MiB, 180 MiB of RSS after deleting them (`bench bridge-instances`,
//! docs/benchmarks.md).
//!
//! glibc reads `GLIBC_TUNABLES` only at process start, and setting the threshold from Rust
//! would need `unsafe` (`mallopt`), so the binary re-executes itself with the variable set.
//! Any `GLIBC_TUNABLES` already in the environment (even empty) is left as it is: that is
//! also how to opt out.

/// A fixed mmap threshold (which also stops glibc's dynamic adjustment) and the trim
/// threshold at the same size.
const TUNABLES: &str = "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072";

/// Re-executes the process with [`TUNABLES`] unless `GLIBC_TUNABLES` is set; returns only
/// when it did not (then with a warning on stderr if the re-execution failed).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn apply() {
    use std::os::unix::process::CommandExt as _;

    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let Ok(binary) = std::env::current_exe() else {
        return;
    };
    let error = std::process::Command::new(binary)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", TUNABLES)
        .exec();
    eprintln!(
        "warning: cannot re-execute with GLIBC_TUNABLES={TUNABLES} ({error}); \
         librdkafka's freed buffers may stay resident"
    );
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn apply() {}
