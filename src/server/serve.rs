//! Accepting connections: a listener bound once and kept across reloads, whose connections
//! are served by hyper with the limits `axum::serve` does not set.
//!
//! A reload builds a new pipeline and stops the old one. If each pipeline bound
//! `[server] listen` and served its own connections, the port would be closed in between
//! (connections refused, 35–55 ms per reload, measured) and connections in flight cut. Here the
//! `Listener` accepts for the life of the daemon, and each request is served by the routes of
//! the pipeline running when it arrives: a stopping pipeline takes its routes back and waits
//! for its requests in flight; a request that arrives between two pipelines waits for the next.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{mpsc, watch};

/// A client gets this long to send a request's head (request line and headers), counted
/// from when the server waits for it: a connection that sends nothing, half a head
/// (slowloris), or nothing more after a kept-alive answer is closed then. Browsers, probes
/// and scripts send a head at once; 10 s is patient with a slow mobile link and short enough
/// that stalled sockets do not pile up. (A stalled body is `api::BODY_READ_TIMEOUT`.)
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// At stop, the requests a pipeline is answering get this long to finish.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// After an accept error that is not one connection's (out of file descriptors, say), wait
/// this long before accepting again rather than spinning on the error.
const ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// The routes of the running pipeline, and a token each of its requests holds until it is
/// answered (when every copy is gone, the pipeline's requests are done).
#[derive(Clone)]
struct Routes {
    router: Router,
    _in_flight: mpsc::Sender<()>,
}

/// The server's listening socket (`[server] listen`) and the routes it serves now. Clones
/// share both; when the last clone goes, the socket closes.
#[derive(Clone, Debug)]
pub struct Listener {
    /// As configured (a port 0 stays 0 here: it compares with the config).
    addr: SocketAddr,
    routes: Arc<watch::Sender<Option<Routes>>>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Routes")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("server.listen: cannot listen on {addr}: {source}")]
pub struct ListenError {
    addr: SocketAddr,
    source: std::io::Error,
}

impl Listener {
    /// Binds `addr`, as `[server] listen` gives it, and accepts from then on; requests wait
    /// until a pipeline serves its routes (`serve`).
    pub async fn bind(addr: SocketAddr) -> Result<Listener, ListenError> {
        let socket = tokio::net::TcpListener::bind(addr).await.map_err(|source| ListenError { addr, source })?;
        let (routes, current) = watch::channel(None);
        tokio::spawn(accept(socket, current));
        Ok(Listener { addr, routes: Arc::new(routes) })
    }

    /// This listener when it is at `addr` already; otherwise a new one bound there (this one
    /// closes when its last clone goes).
    pub async fn at(&self, addr: SocketAddr) -> Result<Listener, ListenError> {
        if addr == self.addr {
            Ok(self.clone())
        } else {
            Listener::bind(addr).await
        }
    }

    /// The address as configured.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Serves `router` on `listener` until `stop` turns true (or its sender goes); then takes it
/// back and waits up to `DRAIN_GRACE` for the requests it is answering.
pub(crate) async fn serve(listener: Listener, router: Router, mut stop: watch::Receiver<bool>) {
    let (in_flight, mut answered) = mpsc::channel(1);
    listener.routes.send_replace(Some(Routes { router, _in_flight: in_flight }));
    let _ = stop.wait_for(|s| *s).await;
    listener.routes.send_replace(None);
    // Nothing is ever sent: `recv` ends when the last request holding a token is answered.
    if tokio::time::timeout(DRAIN_GRACE, answered.recv()).await.is_err() {
        tracing::warn!(
            "requests still unanswered {} s after stop; they are left to finish alone",
            DRAIN_GRACE.as_secs()
        );
    }
}

/// Accepts connections until every `Listener` clone is gone.
async fn accept(socket: tokio::net::TcpListener, mut routes: watch::Receiver<Option<Routes>>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    loop {
        let accepted = tokio::select! {
            accepted = socket.accept() => accepted,
            changed = routes.changed() => match changed {
                Ok(()) => continue,
                Err(_) => break,
            },
        };
        match accepted {
            Ok((stream, _)) => {
                let current = routes.clone();
                let service = hyper::service::service_fn(move |request| route(current.clone(), request));
                let connection = http.serve_connection(TokioIo::new(stream), service);
                tokio::spawn(async move {
                    // A client that went away or sent a bad or slow head: nothing to do about it.
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "HTTP connection ended");
                    }
                });
            }
            Err(e) if one_connections(&e) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept connections; trying again in 1 s");
                tokio::time::sleep(ACCEPT_PAUSE).await;
            }
        }
    }
}

/// Answers one request with the routes being served when it arrives (waiting for them
/// between two pipelines).
async fn route(
    mut current: watch::Receiver<Option<Routes>>,
    request: hyper::Request<Incoming>,
) -> Result<Response, Infallible> {
    let routes = match current.wait_for(Option::is_some).await {
        Ok(routes) => routes.clone(),
        Err(_) => None,
    };
    let Some(Routes { router, _in_flight: token }) = routes else {
        let why = "stormwatch is stopping; try again when it runs\n";
        return Ok((axum::http::StatusCode::SERVICE_UNAVAILABLE, why).into_response());
    };
    let answer = TowerToHyperService::new(router).call(request).await;
    drop(token);
    answer
}

/// An accept error that concerns only the connection being accepted (it was reset before it
/// was taken, say): the next accept is unaffected.
fn one_connections(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset)
}
