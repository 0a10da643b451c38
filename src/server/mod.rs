//! The HTTP server (axum, 127.0.0.1:9464 by default): `/healthz`, `/readyz`, `/metrics` in
//! Prometheus text, and `/ack/{alert_id}` for the signed links in alerts.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde::Deserialize;

use crate::alert::AckSigner;
use crate::notify::WorkerStats;
use crate::pipeline::Stats;
use crate::store::Store;

/// What the routes read.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub signer: AckSigner,
    pub stats: Arc<Stats>,
    pub delivery: Arc<WorkerStats>,
    pub sources: Arc<Vec<String>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/ack/{alert_id}", get(ack))
        .with_state(state)
}

/// Ready once the state file answers and every source has been polled at least once.
async fn ready(State(s): State<AppState>) -> Response {
    let mut waiting = Vec::new();
    for source in s.sources.iter() {
        match s.store.health(source) {
            Ok(Some(h)) if h.last_attempt.is_some() => {}
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

async fn metrics(State(s): State<AppState>) -> Response {
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");
    };
    let p = &s.stats.poll;
    counter("stormwatch_polls_total", "Polls of all sources.", p.polls.load(Ordering::Relaxed));
    counter("stormwatch_poll_failures_total", "Polls that failed.", p.failures.load(Ordering::Relaxed));
    counter("stormwatch_mentions_new_total", "Mentions new to the seen store.", p.new_mentions.load(Ordering::Relaxed));
    counter("stormwatch_mentions_scored_total", "Mentions scored and counted.", s.stats.scored.load(Ordering::Relaxed));
    counter("stormwatch_signals_total", "Signals from detection.", s.stats.signals.load(Ordering::Relaxed));
    let d = &s.delivery;
    let _ = write!(
        out,
        "# HELP stormwatch_delivery_attempts_total Delivery attempts by outcome.\n\
         # TYPE stormwatch_delivery_attempts_total counter\n\
         stormwatch_delivery_attempts_total{{outcome=\"delivered\"}} {}\n\
         stormwatch_delivery_attempts_total{{outcome=\"retry\"}} {}\n\
         stormwatch_delivery_attempts_total{{outcome=\"given_up\"}} {}\n",
        d.delivered.load(Ordering::Relaxed),
        d.retried.load(Ordering::Relaxed),
        d.given_up.load(Ordering::Relaxed)
    );
    if let Ok(c) = s.store.outbox_counts() {
        let _ = write!(
            out,
            "# HELP stormwatch_outbox_deliveries Deliveries in the outbox by status.\n\
             # TYPE stormwatch_outbox_deliveries gauge\n"
        );
        for (status, n) in [
            ("pending", c.pending),
            ("held", c.held),
            ("delivered", c.delivered),
            ("given_up", c.given_up),
            ("summarized", c.summarized),
        ] {
            let _ = writeln!(out, "stormwatch_outbox_deliveries{{status=\"{status}\"}} {n}");
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
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
    if let Err(e) = s.signer.verify(&alert_id, q.exp, &q.sig, Utc::now()) {
        return page(StatusCode::FORBIDDEN, &e.to_string());
    }
    match s.store.acknowledge(&alert_id, "acknowledge link", Utc::now()) {
        Ok(true) => page(StatusCode::OK, &format!("Alert {alert_id} acknowledged: it will not escalate further.")),
        Ok(false) => page(StatusCode::OK, &format!("Alert {alert_id} was already acknowledged.")),
        Err(e) => page(StatusCode::SERVICE_UNAVAILABLE, &format!("Could not record it: {e}")),
    }
}
