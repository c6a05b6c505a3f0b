//! Serving a router on a bound listener, in plain HTTP or TLS, with a bounded drain.
//!
//! Our own accept loop (rather than `axum::serve`) so that TLS can be terminated in front of
//! hyper and the verified client certificate handed to the request. Every request carries
//! `ConnectInfo<SocketAddr>` as with `axum::serve`, and [`ClientCertificate`] on mTLS
//! connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use broker_core::Shutdown;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::config::ValidatedListener;
use crate::security::auth::ClientCertificate;
use crate::security::tls::{TlsServer, common_name};

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

/// A client that connects and never finishes the TLS handshake must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
/// `shutdown_deadline` to finish before returning anyway. With `tls` configured on the
/// listener, every connection is TLS.
pub async fn serve(
    service: &'static str,
    tcp: TcpListener,
    router: Router,
    listener: &ValidatedListener,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let address = tcp.local_addr().ok();
    let tls = listener.security.tls.clone();
    tracing::info!(service, address = ?address, tls = tls.is_some(), "http listener ready");
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => {
                    // The peer gave up before we accepted: nothing to do.
                    tracing::debug!(service, %error, "connection reset before accept");
                    continue;
                }
                Err(error) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(service, %error, "accept failed, pausing");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = shutdown.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            peer,
            watcher: graceful.watcher(),
        };
        let tls = tls.clone();
        broker_core::task::spawn("http-connection", connection.run(service, stream, tls));
    }
    drop(tcp);
    let deadline = listener.shutdown_deadline;
    tokio::select! {
        () = graceful.shutdown() => Ok(()),
        () = tokio::time::sleep(deadline) => {
            tracing::warn!(service, ?deadline, "drain deadline passed, closing remaining connections");
            Ok(())
        }
    }
}

fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

struct Connection {
    router: Router,
    peer: SocketAddr,
    watcher: Watcher,
}

impl Connection {
    async fn run(self, service: &'static str, stream: TcpStream, tls: Option<Arc<TlsServer>>) {
        let Some(tls) = tls else {
            self.serve(service, stream, None).await;
            return;
        };
        // Picked per connection: the client CA may have been reloaded since the last one.
        let acceptor = TlsAcceptor::from(tls.config().await);
        let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::debug!(service, peer = %self.peer, %error, "tls handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(service, peer = %self.peer, "tls handshake timed out");
                return;
            }
        };
        let certificate = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| ClientCertificate {
                common_name: common_name(leaf),
            });
        self.serve(service, tls, certificate.map(Arc::new)).await;
    }

    async fn serve<IO>(
        self,
        service: &'static str,
        io: IO,
        certificate: Option<Arc<ClientCertificate>>,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let tagged = tower::ServiceExt::map_request(
            self.router,
            move |mut request: http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                if let Some(certificate) = &certificate {
                    request
                        .extensions_mut()
                        .insert(ClientCertificate::clone(certificate));
                }
                request
            },
        );
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // With a timer, hyper applies its default 30 s limit on reading a request's headers,
        // so a client trickling a header byte by byte cannot hold a connection forever.
        builder.http1().timer(TokioTimer::new());
        builder.http2().timer(TokioTimer::new());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(tagged));
        if let Err(error) = self.watcher.watch(connection.into_owned()).await {
            tracing::debug!(service, %peer, %error, "http connection ended with an error");
        }
    }
}
