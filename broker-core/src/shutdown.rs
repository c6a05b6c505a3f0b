//! A cloneable shutdown signal. Services select on [`Shutdown::wait`] to stop accepting
//! work, then drain within their own deadline.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every holder of this signal (and of its children) to stop.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once shutdown was triggered.
    pub async fn wait(&self) {
        self.token.cancelled().await;
    }

    /// A signal that fires with this one but can also be triggered on its own, so that one
    /// service can stop without stopping the others.
    pub fn child(&self) -> Self {
        Self {
            token: self.token.child_token(),
        }
    }

    /// Triggers this signal on SIGINT or SIGTERM. A second signal exits at once, so that an
    /// operator can always get out of a drain that hangs.
    pub fn trigger_on_signals(&self) {
        let shutdown = self.clone();
        crate::task::spawn("shutdown-signals", async move {
            wait_for_signal().await;
            tracing::info!("shutdown signal received, draining");
            shutdown.trigger();
            wait_for_signal().await;
            tracing::warn!("second shutdown signal received, exiting without draining");
            std::process::exit(130);
        });
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM, only SIGINT stops the gateway");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Default time a service gets to drain after shutdown was triggered.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn child_follows_parent_but_not_the_reverse() {
        let parent = Shutdown::new();
        let child = parent.child();
        child.trigger();
        assert!(child.is_triggered());
        assert!(!parent.is_triggered());

        let second_child = parent.child();
        parent.trigger();
        tokio::time::timeout(Duration::from_secs(1), second_child.wait())
            .await
            .expect("child is woken by its parent");
    }
}
