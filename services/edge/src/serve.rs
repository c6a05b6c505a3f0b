use std::net::SocketAddr;

use axum::Router;
use broker_core::Shutdown;
use tokio::net::TcpListener;

use crate::config::ValidatedListener;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {address} for the {service} service: {source}")]
    Bind {
        service: &'static str,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the {service} service stopped serving: {source}")]
    Serve {
        service: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Binds the listener's address. Kept apart from [`serve`] so that callers (and tests) can
/// bind port 0 and learn the real address before serving.
pub async fn bind(
    service: &'static str,
    listener: &ValidatedListener,
) -> Result<TcpListener, ServeError> {
    TcpListener::bind(listener.listen)
        .await
        .map_err(|source| ServeError::Bind {
            service,
            address: listener.listen,
            source,
        })
}

/// Serves `router` until `shutdown` fires, then stops accepting and gives in-flight requests
/// `shutdown_deadline` to finish before returning anyway.
pub async fn serve(
    service: &'static str,
    tcp: TcpListener,
    router: Router,
    listener: &ValidatedListener,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let address = tcp.local_addr().ok();
    tracing::info!(service, address = ?address, "http listener ready");
    let drain_signal = shutdown.clone();
    let server = axum::serve(
        tcp,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { drain_signal.wait().await });
    let deadline = listener.shutdown_deadline;
    let server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = server => result.map_err(|source| ServeError::Serve { service, source }),
        () = async {
            shutdown.wait().await;
            tokio::time::sleep(deadline).await;
        } => {
            tracing::warn!(service, ?deadline, "drain deadline passed, closing remaining connections");
            Ok(())
        }
    }
}
