//! `POST /api/v1/ingest?source=<name>`: mentions pushed by another tool into a `push` source.
//!
//! The bearer token is checked before the body is read; the body is read up to
//! `[server] ingest_max_bytes` (413 beyond). The batch is parsed whole (`sources::push`):
//! 422 lists every bad item; an item that repeats an earlier one of the batch is counted as a
//! duplicate, as a resent one is. Then, as a poll does with a page: the mentions not seen before
//! are matched to watches and handed to detection (waiting while it is busy: backpressure),
//! and only then their ids are remembered. A crash in between means the sender's retry is
//! counted, never that a mention is lost; a resent batch counts nothing twice.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::api::{problem, read_body, refusal, ApiQuery};
use super::AppState;
use crate::sources::handoff::{blocking, HandOff, HandOffError};
use crate::sources::push::{parse_batch, BadItem};
use crate::store::{SourceHealth, SourceState};

/// What the ingest route needs: where mentions go, and the push sources they may go to.
#[derive(Clone)]
pub(crate) struct Ingest {
    pub handoff: HandOff,
    /// The configured `push` sources.
    pub sources: Arc<Vec<String>>,
    pub max_bytes: usize,
}

#[derive(Deserialize)]
pub(crate) struct IngestQuery {
    source: Option<String>,
}

pub(crate) async fn ingest(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<IngestQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = refusal(&s, &headers) {
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
    let bytes = match read_body(body, ingest.max_bytes).await {
        Ok(b) => b,
        Err(e) => {
            return e.refusal(&format!(
                "the body is over {} bytes ([server] ingest_max_bytes); send smaller batches",
                ingest.max_bytes
            ))
        }
    };
    let now = crate::clock::now();
    let batch = match parse_batch(&bytes, &source, now) {
        Ok(b) => b,
        Err(bad) => return unprocessable(&bad),
    };
    let counts = match ingest.handoff.page(&source, batch.mentions, SourceState::default(), now).await {
        // An item repeated within the batch was received, and is a duplicate of its first.
        Ok(mut counts) => {
            counts.received += batch.repeated;
            counts.duplicates += batch.repeated;
            counts
        }
        Err(HandOffError::Closed) => {
            return problem(StatusCode::SERVICE_UNAVAILABLE, "stormwatch is stopping; send again later")
        }
        Err(e) => {
            tracing::error!(source = %source, error = %e, "cannot record pushed mentions");
            return problem(StatusCode::SERVICE_UNAVAILABLE, "the state file cannot be written; send again later");
        }
    };
    metrics::counter!(crate::telemetry::MENTIONS_NEW, "source" => source.clone()).increment(counts.new as u64);
    // A push is the source's "poll": its health shows when it last sent something.
    let health = SourceHealth {
        last_attempt: Some(now),
        last_success: Some(now),
        consecutive_failures: 0,
        last_status: Some(200),
        last_error: None,
        last_items: counts.new as u32,
    };
    let store = ingest.handoff.store.clone();
    let name = source.clone();
    if let Err(e) = blocking(move || store.record_health(&name, &health)).await {
        // The mentions are in; only the source's health line is stale.
        tracing::warn!(source = %source, error = %e, "cannot record the push source's health");
    }
    Json(counts).into_response()
}

fn unprocessable(bad: &[BadItem]) -> Response {
    let body = json!({
        "error": format!("{} item(s) cannot be used; nothing was taken", bad.len()),
        "items": bad,
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}
