//! The HTTP server (axum, 127.0.0.1:9464 by default): `/healthz`, `/readyz`, `/metrics` in
//! Prometheus text, `/ack/{alert_id}` for the signed links in alerts, and the JSON API:
//! `GET /api/v1/alerts`, `GET /api/v1/watches`, `POST /api/v1/alerts/{id}/ack` and
//! `POST /api/v1/ingest` (bearer token).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde::Deserialize;

use crate::alert::AckSigner;
use crate::secret::SecretRef;
use crate::sources::poll::PollStats;
use crate::store::Store;
use crate::telemetry;

mod ingest;
mod status;

pub(crate) use ingest::Ingest;

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

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/ack/{alert_id}", get(ack))
        .route("/api/v1/alerts", get(alerts))
        .route(
            "/api/v1/watches",
            get(|State(s): State<AppState>| async move { axum::Json(s.watches.as_ref().clone()) }),
        )
        .route("/api/v1/alerts/{alert_id}/ack", axum::routing::post(api_ack))
        .route("/api/v1/ingest", axum::routing::post(ingest::ingest))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
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

#[derive(Deserialize)]
struct AckQuery {
    exp: i64,
    sig: String,
}

/// The signed link in an alert: acknowledges it, so it stops escalating.
async fn ack(State(s): State<AppState>, Path(alert_id): Path<String>, Query(q): Query<AckQuery>) -> Response {
    let page = |status: StatusCode, text: &str| {
        let body = format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>stormwatch</title></head>\
             <body style=\"font-family:sans-serif\"><p>{}</p></body></html>",
            html_escape::encode_text(text)
        );
        (status, Html(body)).into_response()
    };
    if let Err(e) = s.signer.verify(&alert_id, q.exp, &q.sig, crate::clock::now()) {
        return page(StatusCode::FORBIDDEN, &e.to_string());
    }
    match s.store.acknowledge(&alert_id, "acknowledge link", crate::clock::now()) {
        Ok(true) => page(StatusCode::OK, &format!("Alert {alert_id} acknowledged: it will not escalate further.")),
        Ok(false) => page(StatusCode::OK, &format!("Alert {alert_id} was already acknowledged.")),
        Err(e) => page(StatusCode::SERVICE_UNAVAILABLE, &format!("Could not record it: {e}")),
    }
}

/// Compares tokens in time independent of where they differ (and of their lengths): both are
/// hashed first, then every byte is compared.
fn same_token(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The refusal for a request without the right bearer token; `None` lets it through.
fn refusal(s: &AppState, headers: &axum::http::HeaderMap) -> Option<Response> {
    let Some(expected) = &s.token else {
        let why = "no API token configured ([server] token_env or token_file)\n";
        return Some((StatusCode::UNAUTHORIZED, why).into_response());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    (!same_token(given, expected)).then(|| {
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "a valid bearer token is required\n")
            .into_response()
    })
}

#[derive(Deserialize, Default)]
struct AckBody {
    by: Option<String>,
}

async fn api_ack(
    State(s): State<AppState>,
    Path(alert_id): Path<String>,
    headers: axum::http::HeaderMap,
    body: Option<axum::Json<AckBody>>,
) -> Response {
    if let Some(refused) = refusal(&s, &headers) {
        return refused;
    }
    let by = body.and_then(|b| b.0.by).unwrap_or_else(|| "api".into());
    let by: String = crate::escape::plain(&by).chars().take(100).collect();
    match s.store.alert_watch(&alert_id) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({"error": "no such alert"}))).into_response()
        }
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
    match s.store.acknowledge(&alert_id, &by, crate::clock::now()) {
        Ok(first) => axum::Json(serde_json::json!({"alert_id": alert_id, "acknowledged": true, "already": !first}))
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// Alert episodes, most recent first.
async fn alerts(State(s): State<AppState>) -> Response {
    let episodes = match s.store.episodes() {
        Ok(e) => e,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    let mut list = crate::alert::episode::decode_saved(&episodes);
    list.sort_by_key(|e| std::cmp::Reverse(e.started_at));
    let out: Vec<serde_json::Value> = list
        .iter()
        .map(|e| {
            serde_json::json!({
                "alert_id": e.alert_id,
                "fingerprint": e.fingerprint,
                "watch": e.last_signal.watch,
                "signal": e.last_signal.kind.as_str(),
                "severity": e.severity,
                "status": e.status,
                "started_at": e.started_at,
                "fired_at": e.fired_at,
                "acknowledged": e.acknowledged,
                "receivers": e.receivers.keys().collect::<Vec<_>>(),
            })
        })
        .collect();
    axum::Json(out).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_equal() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("", "abc"));
        assert!(!same_token("abcd", "abc"));
    }
}
