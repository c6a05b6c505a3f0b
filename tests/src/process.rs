//! Child processes in tests: free ports, a guard that kills on drop, SIGTERM and waiting.

use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A local port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// Kills and reaps the child when the test ends, whichever way it ends.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl ChildGuard {
    /// Sends SIGTERM, as an init system does, and waits up to `timeout` for the exit.
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM to {pid} failed");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait().expect("child status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {timeout:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The `kafka-gateway` binary next to this test binary (`target/<profile>/`). `cargo test
/// --workspace` builds it; a lone `cargo test -p tests` needs
/// `cargo build -p gateway` first.
pub fn gateway_binary() -> std::path::PathBuf {
    let test_binary = std::env::current_exe().expect("test binary path");
    let binary = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>")
        .join("kafka-gateway");
    if let Err(error) = std::fs::metadata(&binary) {
        panic!(
            "{} is missing ({error}): build it first with `cargo build -p gateway` \
             (same CARGO_TARGET_DIR and profile)",
            binary.display()
        );
    }
    binary
}

/// A `kafka-gateway` child process whose stdout and stderr go to one log file.
#[derive(Debug)]
pub struct GatewayProcess {
    pub child: ChildGuard,
    pub log_path: std::path::PathBuf,
}

impl GatewayProcess {
    /// Runs `kafka-gateway <args>` with `env` added to this process's environment.
    pub fn spawn(args: &[&str], env: &[(&str, &str)], log_path: std::path::PathBuf) -> Self {
        let log = std::fs::File::create(&log_path).expect("gateway log file");
        let child = Command::new(gateway_binary())
            .args(args)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("kafka-gateway starts");
        Self {
            child: ChildGuard(child),
            log_path,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits for the exit (a failing start-up), at most `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.0.try_wait().expect("child status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "kafka-gateway still running after {timeout:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
