//! `POST /api/v1/ingest?source=<name>`: mentions pushed by another tool into a `push` source.
//!
//! The bearer token is checked before the body is read; the body is read up to
//! `[server] ingest_max_bytes` (413 beyond). The batch is parsed whole (`sources::push`):
//! 422 lists every bad item. Then, as a poll does with a page: the mentions not seen before
//! are matched to watches and handed to detection (waiting while it is busy: backpressure),
//! and only then their ids are remembered. A crash in between means the sender's retry is
//! counted, never that a mention is lost; a resent batch counts nothing twice.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::AppState;
use crate::model::WatchedMention;
use crate::sources::matching::Matcher;
use crate::sources::poll::MentionBatch;
use crate::sources::push::{parse_batch, BadItem};
use crate::store::{SourceHealth, SourceState, Store, StoreError};

/// What the ingest route needs: where mentions go, and the push sources they may go to.
#[derive(Clone)]
pub struct Ingest {
    pub store: Store,
    pub matcher: Arc<Matcher>,
    pub out: mpsc::Sender<MentionBatch>,
    /// The configured `push` sources.
    pub sources: Arc<Vec<String>>,
    pub max_bytes: usize,
}

#[derive(Deserialize)]
pub struct IngestQuery {
    source: Option<String>,
}

fn problem(status: StatusCode, error: impl Into<String>) -> Response {
    (status, Json(json!({ "error": error.into() }))).into_response()
}

pub async fn ingest(
    State(s): State<AppState>,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = super::refusal(&s, &headers) {
        return refused;
    }
    let Some(ingest) = s.ingest.clone() else {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "ingest is not running");
    };
    let source = match (q.source, ingest.sources.as_slice()) {
        (Some(name), names) if names.contains(&name) => name,
        (Some(name), _) => {
            return problem(
                StatusCode::NOT_FOUND,
                format!("no push source is named {name:?} (configured: {})", ingest.sources.join(", ")),
            )
        }
        (None, [only]) => only.clone(),
        (None, []) => {
            return problem(StatusCode::NOT_FOUND, "no source of kind \"push\" is configured to take mentions")
        }
        (None, _) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("several push sources are configured: say which with ?source= ({})", ingest.sources.join(", ")),
            )
        }
    };
    let bytes = match axum::body::to_bytes(body, ingest.max_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is over {} bytes ([server] ingest_max_bytes); send smaller batches",
                    ingest.max_bytes
                ),
            )
        }
    };
    let now = crate::clock::now();
    let mentions = match parse_batch(&bytes, &source, now) {
        Ok(m) => m,
        Err(bad) => return unprocessable(&bad),
    };
    match hand_on(&ingest, &source, mentions, now).await {
        Ok(counts) => Json(counts).into_response(),
        Err(HandOnError::Closed) => {
            problem(StatusCode::SERVICE_UNAVAILABLE, "stormwatch is stopping; send again later")
        }
        Err(HandOnError::Store(e)) => {
            tracing::error!(source = %source, error = %e, "cannot record pushed mentions");
            problem(StatusCode::SERVICE_UNAVAILABLE, "the state file cannot be written; send again later")
        }
        Err(HandOnError::Journal(why)) => {
            tracing::error!(source = %source, error = %why, "cannot journal pushed mentions");
            problem(StatusCode::SERVICE_UNAVAILABLE, "the state file cannot be written; send again later")
        }
    }
}

fn unprocessable(bad: &[BadItem]) -> Response {
    let body = json!({
        "error": format!("{} item(s) cannot be used; nothing was taken", bad.len()),
        "items": bad,
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

#[derive(Debug, serde::Serialize, PartialEq)]
struct Counts {
    received: usize,
    new: usize,
    duplicates: usize,
    /// New mentions that belong to at least one watch.
    matched: usize,
}

enum HandOnError {
    Closed,
    /// Detection could not journal the mentions.
    Journal(String),
    Store(StoreError),
}

impl From<StoreError> for HandOnError {
    fn from(e: StoreError) -> Self {
        HandOnError::Store(e)
    }
}

async fn hand_on(
    ingest: &Ingest,
    source: &str,
    mentions: Vec<crate::model::Mention>,
    now: chrono::DateTime<Utc>,
) -> Result<Counts, HandOnError> {
    let ids: Vec<String> = mentions.iter().map(|m| m.id.clone()).collect();
    let (store, name) = (ingest.store.clone(), source.to_string());
    let unseen = crate::sources::poll::blocking(move || {
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        store.unseen(&name, &refs)
    })
    .await?;
    let mut counts = Counts { received: mentions.len(), new: 0, duplicates: 0, matched: 0 };
    let mut new_ids = Vec::new();
    let mut batch = Vec::new();
    for (mention, new) in mentions.into_iter().zip(unseen) {
        if !new {
            counts.duplicates += 1;
            continue;
        }
        new_ids.push(mention.id.clone());
        let watches: Vec<String> =
            ingest.matcher.watches_for(source, &mention.text).into_iter().map(str::to_string).collect();
        if !watches.is_empty() {
            batch.push(WatchedMention { mention, watches });
        }
    }
    counts.matched = batch.len();
    MentionBatch::hand_on(&ingest.out, batch).await.map_err(|why| match why {
        None => HandOnError::Closed,
        Some(why) => HandOnError::Journal(why),
    })?;
    counts.new = new_ids.len();
    metrics::counter!(crate::telemetry::MENTIONS_NEW, "source" => source.to_string()).increment(counts.new as u64);
    let (store, name) = (ingest.store.clone(), source.to_string());
    let items = counts.new as u32;
    crate::sources::poll::blocking(move || {
        let refs: Vec<&str> = new_ids.iter().map(String::as_str).collect();
        store.commit_page(&name, &refs, &SourceState::default(), now)?;
        // A push is the source's "poll": its health shows when it last sent something.
        let health = SourceHealth {
            last_attempt: Some(now),
            last_success: Some(now),
            consecutive_failures: 0,
            last_status: Some(200),
            last_error: None,
            last_items: items,
        };
        store.record_health(&name, &health)
    })
    .await?;
    Ok(counts)
}
