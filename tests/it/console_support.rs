//! The console's browser harness: a real `kafka-gateway` child with the console, connect and
//! the bridge on free ports, and Chromium driven through a chromedriver the test starts on a
//! free port. Pages are read through small scripts (`texts`) rather than element handles,
//! so a live refresh that replaces a table between two calls cannot fail a read.

#![allow(clippy::unwrap_used)]

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tests::process::{ChildGuard, GatewayProcess, free_port};
use tests::{Services, http_client, unique_name};

/// Flags that keep a headless Chromium quiet on a closed network (without the background
/// ones it keeps trying to reach Google's services).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
];

pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: ChildGuard,
    profile: PathBuf,
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

impl Browser {
    pub(crate) async fn start() -> Self {
        let driver_path = which("chromedriver").unwrap_or_else(|| {
            panic!(
                "chromedriver is not installed; `scripts/services up` installs chromium and \
                 chromium-driver (or: apt-get install -y chromium chromium-driver)"
            )
        });
        let chromium = which("chromium").unwrap_or_else(|| {
            panic!("chromium is not installed; `scripts/services up` installs it")
        });
        let port = free_port();
        // Its own process group: Chromium's processes inherit it, so the whole tree can be
        // killed when a test fails before it closed the session (killing chromedriver alone
        // leaves Chromium running).
        let driver = ChildGuard(
            Command::new(driver_path)
                .arg(format!("--port={port}"))
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let profile = std::env::temp_dir().join(unique_name("console-chromium"));
        std::fs::create_dir_all(&profile).unwrap();
        let mut arguments: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        arguments.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "goog:chromeOptions": {"binary": chromium, "args": arguments},
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let mut builder = ClientBuilder::rustls().expect("rustls connector");
            match builder
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!("no chromium session through chromedriver: {error}"),
            }
        };
        Self {
            client,
            driver,
            profile,
        }
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The text of every element `css` matches, now.
    pub(crate) async fn texts(&self, css: &str) -> Vec<String> {
        let answer = self
            .client
            .execute(
                "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent.trim());",
                vec![json!(css)],
            )
            .await
            .unwrap();
        serde_json::from_value(answer).unwrap()
    }

    /// Waits until the texts `css` matches satisfy `accept`, and returns them.
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        css: &str,
        accept: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let started = Instant::now();
        loop {
            let texts = self.texts(css).await;
            if accept(&texts) {
                return texts;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let notice = self.texts("#notice").await;
                let page = self
                    .client
                    .execute(
                        "return [location.hash, document.body.dataset.loaded, \
                         document.getElementById('page').textContent.slice(0, 600)];",
                        vec![],
                    )
                    .await
                    .unwrap();
                let errors = self.page_errors().await;
                self.screenshot(&format!("failed-{}", what.replace(' ', "-")))
                    .await;
                panic!(
                    "{what}: `{css}` shows {texts:?} after 60 s (notice: {notice:?}, page: \
                     {page}, errors: {errors:?})"
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap();
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    /// Clicks the element `css` matches; found again when a live refresh replaced it
    /// between the lookup and the click.
    pub(crate) async fn click(&self, css: &str) {
        let mut attempts = 0;
        loop {
            let element = self.client.find(Locator::Css(css)).await.unwrap();
            match element.click().await {
                Ok(()) => return,
                Err(error) if attempts < 5 && error.to_string().contains("stale element") => {
                    attempts += 1;
                }
                Err(error) => panic!("clicking {css}: {error}"),
            }
        }
    }

    /// What the page's error collector caught (window.onerror, unhandled rejections,
    /// console.error) since it loaded.
    pub(crate) async fn page_errors(&self) -> Vec<String> {
        let answer = self
            .client
            .execute(
                "return window.__consoleErrors || ['collector missing'];",
                vec![],
            )
            .await
            .unwrap();
        serde_json::from_value(answer).unwrap()
    }

    /// No error collected, and no stray `null` printed by a conditional part of the page.
    pub(crate) async fn assert_no_page_errors(&self, page: &str) {
        let errors = self.page_errors().await;
        assert!(errors.is_empty(), "{page} page errors: {errors:?}");
        let stray = self
            .client
            .execute(
                "const walker = document.createTreeWalker(document.getElementById('page'), \
                 NodeFilter.SHOW_TEXT); let count = 0; \
                 while (walker.nextNode()) { const n = walker.currentNode; \
                 if (n.textContent.trim() === 'null' && !n.parentElement.classList.contains('format')) count++; } \
                 return count;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(stray, serde_json::json!(0), "{page} page prints `null`");
    }

    /// Saves the page as `target/console-screenshots/<page>.png`.
    pub(crate) async fn screenshot(&self, page: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{page}.png")), png).unwrap();
    }

    pub(crate) async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `target/console-screenshots`, beside the profile folder this test binary runs from.
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("console-screenshots")
}

/// A gateway child with the console, connect, the bridge and the schema registry.
pub(crate) struct ConsoleGateway {
    pub(crate) process: GatewayProcess,
    pub(crate) console: String,
    pub(crate) connect: String,
    pub(crate) registry: String,
    pub(crate) dir: PathBuf,
}

impl ConsoleGateway {
    /// `console_extra` is TOML appended after `[console.http]` (e.g. `[console.http.auth]`).
    pub(crate) async fn start(services: &Services, name: &str, console_extra: &str) -> Self {
        let dir = std::env::temp_dir().join(unique_name("console-gateway"));
        std::fs::create_dir_all(&dir).unwrap();
        let (bridge_port, connect_port, console_port, registry_port) =
            (free_port(), free_port(), free_port(), free_port());
        let config = dir.join("gateway.toml");
        std::fs::write(
            &config,
            format!(
                "[kafka]\nbootstrap_servers = \"{}\"\n\
                 [bridge]\nenabled = true\n[bridge.http]\nlisten = \"127.0.0.1:{bridge_port}\"\n\
                 [metrics]\nenabled = false\n\
                 [connect]\nenabled = true\ngroup_id = \"{name}-connect\"\n\
                 config_storage_topic = \"{name}-configs.internal\"\n\
                 offset_storage_topic = \"{name}-offsets.internal\"\n\
                 status_storage_topic = \"{name}-status.internal\"\n\
                 offset_storage_partitions = 2\nstatus_storage_partitions = 1\n\
                 [connect.http]\nlisten = \"127.0.0.1:{connect_port}\"\n\
                 [schema_registry]\nenabled = true\nkafkastore_topic = \"{name}-schemas\"\n\
                 group_id = \"{name}-registry\"\n\
                 [schema_registry.http]\nlisten = \"127.0.0.1:{registry_port}\"\n\
                 [console]\nenabled = true\nsample_interval_ms = 1000\n\
                 [console.http]\nlisten = \"127.0.0.1:{console_port}\"\n{console_extra}\n",
                services.kafka_bootstrap
            ),
        )
        .unwrap();
        let process = GatewayProcess::spawn(
            &["run", "--config", config.to_str().unwrap()],
            &[],
            dir.join("gateway.log"),
        );
        let gateway = Self {
            process,
            console: format!("http://127.0.0.1:{console_port}"),
            connect: format!("http://127.0.0.1:{connect_port}"),
            registry: format!("http://127.0.0.1:{registry_port}"),
            dir,
        };
        gateway.wait_until_up().await;
        gateway
    }

    async fn wait_until_up(&self) {
        let http = http_client();
        let started = Instant::now();
        loop {
            let console = http.get(format!("{}/", self.console)).send().await;
            let connect = http.get(format!("{}/", self.connect)).send().await;
            let registry = http.get(format!("{}/subjects", self.registry)).send().await;
            if console.is_ok_and(|r| r.status().is_success())
                && connect.is_ok_and(|r| r.status().is_success())
                && registry.is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the console and connect did not answer within 90 s; log:\n{}",
                self.process.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
