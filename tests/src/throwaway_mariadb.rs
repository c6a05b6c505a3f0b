//! A MariaDB server of one test's own, for tests that do what must never happen to the
//! shared server (purging its binlogs, restarting it).
//!
//! `mariadb-install-db` initialises a temporary data directory, then `mariadbd` runs on a free
//! port with the same binlog settings `scripts/services` gives the shared server (ROW, FULL
//! row images, server id 1, strict GTID mode) and root without a password. [`stop`] (SIGTERM,
//! a clean shutdown) or [`kill`] (SIGKILL, crash recovery at the next start) ends the process
//! and [`start_again`] starts it on the same data directory and port. Dropping the value kills
//! the server and deletes the directory.
//!
//! [`stop`]: ThrowawayMariaDb::stop
//! [`kill`]: ThrowawayMariaDb::kill
//! [`start_again`]: ThrowawayMariaDb::start_again

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for the server to accept connections.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// Longest wait for a clean shutdown before the server is killed.
const STOP_LIMIT: Duration = Duration::from_secs(60);

/// A running throwaway server.
#[derive(Debug)]
pub struct ThrowawayMariaDb {
    directory: PathBuf,
    port: u16,
    process: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free local port")
}

impl ThrowawayMariaDb {
    /// Initialises a data directory and starts the server; returns once it answers on TCP
    /// with the MySQL protocol greeting.
    pub async fn start() -> Self {
        let directory = std::env::temp_dir().join(crate::unique_name("throwaway_mariadb"));
        let data = directory.join("data");
        std::fs::create_dir_all(&data).expect("temporary data directory");
        let install = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .arg("--user=root")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "mariadb-install-db did not run ({error}); install the MariaDB server package"
                )
            });
        assert!(
            install.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        let mut server = Self {
            directory,
            port: free_port(),
            process: None,
        };
        server.start_again().await;
        server
    }

    /// Starts `mariadbd` on the existing data directory and port (crash recovery first if it
    /// was killed); returns once it answers on TCP with the MySQL protocol greeting.
    pub async fn start_again(&mut self) {
        assert!(self.process.is_none(), "the throwaway MariaDB is running");
        let directory = &self.directory;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(directory.join("server.log"))
            .expect("server log");
        let process = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", directory.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", directory.join("sock").display()))
            .arg(format!(
                "--pid-file={}",
                directory.join("mariadbd.pid").display()
            ))
            .arg("--log-bin=mariadb-bin")
            .arg("--binlog-format=ROW")
            .arg("--binlog-row-image=FULL")
            .arg("--binlog-row-metadata=FULL")
            .arg("--server-id=1")
            .arg("--gtid-strict-mode=1")
            .arg("--user=root")
            .arg("--skip-name-resolve")
            .arg("--innodb-buffer-pool-size=32M")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mariadbd starts");
        self.process = Some(process);
        self.wait_ready().await;
    }

    /// SIGTERM (a clean shutdown: clients are disconnected, InnoDB flushed), then waits for the
    /// process to end; killed after [`STOP_LIMIT`].
    pub async fn stop(&mut self) {
        self.signal("-TERM").await;
    }

    /// SIGKILL: the process dies at once, as in a crash; the next start recovers InnoDB and
    /// the binlog.
    pub async fn kill(&mut self) {
        self.signal("-KILL").await;
    }

    async fn signal(&mut self, signal: &str) {
        let Some(mut child) = self.process.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status();
        let started = Instant::now();
        while started.elapsed() < STOP_LIMIT {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            if let Some(child) = self.process.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "the throwaway MariaDB exited with {status}; log: {}",
                    std::fs::read_to_string(self.directory.join("server.log")).unwrap_or_default()
                );
            }
            let port = self.port;
            let greeted = tokio::task::spawn_blocking(move || {
                use std::io::Read;
                let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                let mut stream =
                    std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
                stream.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut greeting = [0_u8; 5];
                stream.read_exact(&mut greeting)
            })
            .await;
            if matches!(greeted, Ok(Ok(()))) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the throwaway MariaDB did not accept connections within {READY_LIMIT:?}; log: {}",
                std::fs::read_to_string(self.directory.join("server.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mysql://root@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }
}

impl Drop for ThrowawayMariaDb {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
