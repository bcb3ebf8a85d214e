//! The connection loop: accepts TCP connections up to a cap, serves each over HTTP/1.1 with a
//! header-read timeout, and on SIGTERM or Ctrl-C stops accepting and lets in-flight requests
//! finish for a bounded time.
//!
//! `axum::serve` has none of these knobs. The body timeout is not here: a body is read by the
//! route's extractor (`http/json.rs`), which knows when reading starts.
//!
//! hyper starts the header-read timer whenever it waits for a request head, including between
//! requests on a kept-alive connection, so the same timeout also closes idle connections: an
//! idle keep-alive connection lives at most `header_timeout` after its last answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service;

/// The bounds of [`serve`].
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's head (also the longest idle keep-alive wait).
    pub header_timeout: Duration,
    /// Most connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Time in-flight requests get to finish after a shutdown signal.
    pub drain: Duration,
}

/// Serves `app` on `listener` until SIGTERM or Ctrl-C, then drains.
pub async fn serve(listener: TcpListener, app: Router, limits: ConnectionLimits) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        // A permit first: at the cap, connections are not accepted (nor their heads read).
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (socket, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(service) = make_service.call(remote).await;
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true);
        let connection =
            builder.serve_connection(TokioIo::new(socket), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(limits.drain) => {
            tracing::warn!(seconds = limits.drain.as_secs(), "drain time is up; closing the remaining connections");
        }
    }
}

/// SIGTERM (Unix) or Ctrl-C, whichever comes first.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
