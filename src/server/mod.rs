//! The HTTP server (axum on hyper, 127.0.0.1:9464 by default): `/healthz`, `/readyz`,
//! `/metrics` in Prometheus text, the status page at `/`, `/ack/{alert_id}` for the signed
//! links in alerts (`ack.rs`), and the JSON API under `/api/v1` (`api.rs`, `ingest.rs`).
//! Around every route (`edge.rs`): only the hosts it is meant to be reached by, and the
//! security headers; around every connection (`serve.rs`): a listener that outlives reloads,
//! and timeouts for clients that send half a request or nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;

use crate::alert::AckSigner;
use crate::secret::SecretRef;
use crate::sources::poll::PollStats;
use crate::store::Store;
use crate::telemetry;

mod ack;
mod api;
mod edge;
mod ingest;
mod serve;
mod status;

pub(crate) use edge::AllowedHosts;
pub(crate) use ingest::Ingest;
pub(crate) use serve::serve;
pub use serve::{ListenError, Listener};

/// The HTTP server (`[server]`): health, metrics, acknowledge links, the JSON API.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub listen: std::net::SocketAddr,
    /// Bearer token for mutating API routes.
    pub token: Option<SecretRef>,
    /// The largest body `POST /api/v1/ingest` reads.
    pub ingest_max_bytes: usize,
}

impl Default for ServerSpec {
    fn default() -> Self {
        ServerSpec {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9464)),
            token: None,
            ingest_max_bytes: 1024 * 1024,
        }
    }
}

/// A watch as the status page shows it, refreshed by detection every tick.
#[derive(Debug, Clone, Default)]
pub struct WatchView {
    pub name: String,
    pub timeline: Vec<crate::model::TimelinePoint>,
    pub usual_share: Option<f64>,
    pub share_threshold: f64,
}

/// What the steps report for the server to show; they outlive one pipeline (a reload keeps them).
#[derive(Debug, Default)]
pub struct Stats {
    /// The watches' recent history, for the status page.
    pub views: std::sync::RwLock<Vec<WatchView>>,
    pub poll: Arc<PollStats>,
}

/// What the routes read.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
    pub signer: AckSigner,
    pub stats: Arc<Stats>,
    /// Every source, for the status page.
    pub sources: Arc<Vec<String>>,
    /// The sources that are polled: ready means each was polled once (push sources are not).
    pub polled: Arc<Vec<String>>,
    /// Where pushed mentions go; `None` outside the daemon.
    pub ingest: Option<Ingest>,
    /// When this process started: ready means polled since then, not by an earlier run.
    pub started: chrono::DateTime<Utc>,
    pub watches: Arc<Vec<String>>,
    /// Each watch's minimum volume factor, for the status page's threshold line.
    pub volume_factors: Arc<Vec<(String, f64)>>,
    /// The bearer token of mutating routes; without one they refuse every request.
    pub token: Option<Arc<String>>,
}

/// Every route, behind the edge's checks; `hosts` are the names requests may give.
pub(crate) fn router(state: AppState, hosts: AllowedHosts) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/ack/{alert_id}", get(ack::show).post(ack::acknowledge))
        .nest("/api/v1", api::router())
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(Arc::new(hosts), edge::check_host))
        .layer(axum::middleware::from_fn(edge::security_headers))
}

async fn status_page(State(s): State<AppState>) -> Response {
    let views = s.stats.views.read().map(|v| v.clone()).unwrap_or_default();
    // The page has no script of its own: forbid any, so text that slipped past escaping
    // could still not run.
    let policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
    ([(header::CONTENT_SECURITY_POLICY, policy)], Html(status::page(&views, &s.volume_factors, &s.store, &s.sources)))
        .into_response()
}

/// Ready once the state file answers and every source has been polled by this process.
async fn ready(State(s): State<AppState>) -> Response {
    let mut waiting = Vec::new();
    for source in s.polled.iter() {
        match s.store.health(source) {
            Ok(Some(h)) if h.last_attempt.is_some_and(|t| t >= s.started) => {}
            Ok(_) => waiting.push(source.as_str()),
            Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("state file: {e}\n")).into_response(),
        }
    }
    if waiting.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not polled yet: {}\n", waiting.join(", "))).into_response()
    }
}

/// Prometheus text: everything the steps counted, and the outbox as the state file has it now.
async fn metrics(State(s): State<AppState>) -> Response {
    let Some(handle) = telemetry::install() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "another metrics recorder is installed in this process\n")
            .into_response();
    };
    if let Ok(c) = s.store.outbox_counts() {
        for (status, n) in [
            ("pending", c.pending),
            ("held", c.held),
            ("delivered", c.delivered),
            ("given_up", c.given_up),
            ("summarized", c.summarized),
        ] {
            metrics::gauge!(telemetry::OUTBOX, "status" => status).set(n as f64);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
