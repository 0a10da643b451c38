//! The page behind an acknowledge link, `/ack/{alert_id}?exp=…&sig=…` (signed by
//! `alert::AckSigner`).
//!
//! Opening the link (GET) only shows what it would acknowledge — the watch, the alert, when it
//! started — and a button. Mail and chat services open every link of a message to scan or
//! preview it; if that acknowledged the alert, escalation would stop before anyone read it.
//! The button POSTs to the same signed URL, and that acknowledges. Both check the signature
//! and the expiry first, so the page shows nothing to someone without a valid link.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::AppState;
use crate::alert::Episode;
use crate::escape;

/// The page runs no script, loads nothing, and its form may only post back here.
const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

#[derive(Deserialize)]
pub(super) struct LinkQuery {
    exp: i64,
    sig: String,
}

/// Why a page refuses: its status and what it says.
type Refusal = (StatusCode, String);

/// A link with its parts read and its signature checked.
struct Link {
    alert_id: String,
    exp: i64,
    sig: String,
}

/// An HTML page; never cached, since what it says changes once the alert is acknowledged.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>stormwatch: {title}</title>\
         <style>body{{font-family:sans-serif;margin:1em 2em;max-width:40em}}th{{text-align:left;padding-right:1em}}\
         button{{font-size:1.2em;padding:.4em 1.2em;margin-top:1em}}</style></head><body>{body}</body></html>",
        title = escape::html(title)
    );
    (status, [(header::CONTENT_SECURITY_POLICY, POLICY), (header::CACHE_CONTROL, "no-store")], Html(html))
        .into_response()
}

fn message(status: StatusCode, text: &str) -> Response {
    page(status, "acknowledge", &format!("<p>{}</p>", escape::html(text)))
}

fn refused((status, text): Refusal) -> Response {
    message(status, &text)
}

/// The link's parts, its signature and expiry checked.
fn checked(
    s: &AppState,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Result<Link, Refusal> {
    let (Ok(Path(alert_id)), Ok(Query(q))) = (path, query) else {
        let why = "This acknowledge link is incomplete (it needs its exp and sig parts): open the whole \
                   link from the alert, or acknowledge with `stormwatch ack`.";
        return Err((StatusCode::BAD_REQUEST, why.into()));
    };
    if let Err(e) = s.signer.verify(&alert_id, q.exp, &q.sig, crate::clock::now()) {
        return Err((StatusCode::FORBIDDEN, e.to_string()));
    }
    Ok(Link { alert_id, exp: q.exp, sig: q.sig })
}

/// The alert's episode as the state file has it.
fn episode(s: &AppState, alert_id: &str) -> Result<Episode, Refusal> {
    let saved = s.store.episodes().map_err(|e| unavailable(&e))?;
    crate::alert::episode::decode_saved(&saved).into_iter().find(|e| e.alert_id == alert_id).ok_or_else(|| {
        let why = format!("No alert {alert_id} is in the state file any more: there is nothing left to acknowledge.");
        (StatusCode::NOT_FOUND, why)
    })
}

fn unavailable(e: &crate::store::StoreError) -> Refusal {
    tracing::error!(error = %e, "acknowledge link: the state file failed");
    (StatusCode::SERVICE_UNAVAILABLE, format!("The state file cannot be used now ({e}); try again."))
}

/// Who acknowledged the alert and when, if anyone did. The acknowledgements table has it at
/// once; the episode only from the alert step's next tick.
fn acknowledged(s: &AppState, e: &Episode) -> Result<Option<(String, DateTime<Utc>)>, Refusal> {
    let recorded = s.store.acknowledgements().map_err(|err| unavailable(&err))?;
    let recorded = recorded.into_iter().find(|(id, ..)| *id == e.alert_id).map(|(_, by, at)| (by, at));
    Ok(recorded.or_else(|| e.acknowledged.as_ref().map(|a| (a.by.clone(), a.at))))
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// GET: what the link would acknowledge, and the button that does it.
pub(super) async fn show(
    State(s): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    let link = match checked(&s, path, query) {
        Ok(l) => l,
        Err(why) => return refused(why),
    };
    let e = match episode(&s, &link.alert_id) {
        Ok(e) => e,
        Err(why) => return refused(why),
    };
    let rows = format!(
        "<table><tr><th>watch</th><td>{}</td></tr><tr><th>alert</th><td>{:?}: {}</td></tr>\
         <tr><th>started</th><td>{}</td></tr><tr><th>alert id</th><td>{}</td></tr></table>",
        escape::html(&e.last_signal.watch),
        e.severity,
        escape::html(&crate::notify::render::episode_headline(&e)),
        when(e.started_at),
        escape::html(&e.alert_id),
    );
    if let Some((by, at)) = match acknowledged(&s, &e) {
        Ok(a) => a,
        Err(why) => return refused(why),
    } {
        let said = format!("This alert was already acknowledged by {by} at {}.", when(at));
        return page(StatusCode::OK, "acknowledged", &format!("<p>{}</p>{rows}", escape::html(&said)));
    }
    // The signed query again, relative to this page: right behind a proxy that adds a path.
    let action = format!("?exp={}&sig={}", link.exp, link.sig);
    let body = format!(
        "<h1>Acknowledge this alert?</h1>{rows}<p>Acknowledging tells stormwatch someone is on it: \
         it stops escalating to further receivers.</p>\
         <form method=\"post\" action=\"{}\"><button type=\"submit\">Acknowledge</button></form>",
        escape::html(&action)
    );
    page(StatusCode::OK, "acknowledge", &body)
}

/// POST (the page's button): acknowledges the alert.
pub(super) async fn acknowledge(
    State(s): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    let link = match checked(&s, path, query) {
        Ok(l) => l,
        Err(why) => return refused(why),
    };
    let id = link.alert_id;
    match s.store.alert_watch(&id) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return message(StatusCode::NOT_FOUND, &format!("No alert {id} is in the state file any more."));
        }
        Err(e) => return refused(unavailable(&e)),
    }
    match s.store.acknowledge(&id, "acknowledge link", crate::clock::now()) {
        Ok(true) => message(StatusCode::OK, &format!("Alert {id} acknowledged: it will not escalate further.")),
        Ok(false) => message(StatusCode::OK, &format!("Alert {id} was already acknowledged.")),
        Err(e) => refused(unavailable(&e)),
    }
}
