//! The JSON API under `/api/v1`: `GET alerts`, `GET watches`, `POST alerts/{id}/ack` and
//! `POST ingest` (`ingest.rs`). Every refusal, ours or the framework's (an unknown route, a
//! method a route does not take, a query string that does not parse), has one shape:
//! `{"error": "<what is wrong and what to do>"}` with the status that says the same, so a
//! client reads one field whatever went wrong.

use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::AppState;

/// The largest acknowledge body read (it holds one short name).
const ACK_BODY_MAX: usize = 4 * 1024;

/// A body that sends nothing for this long is given up (408): a client that stalls mid-body
/// would otherwise hold its connection, and a task, for as long as it likes.
pub(super) const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(alerts))
        .route("/watches", get(|State(s): State<AppState>| async move { Json(s.watches.as_ref().clone()) }))
        .route("/alerts/{alert_id}/ack", post(ack))
        .route("/ingest", post(super::ingest::ingest))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "no such API route (docs/operations.md lists them)") })
        .layer(axum::middleware::map_response(method_refusal_as_json))
}

/// The API's answer for anything refused: `{"error": …}`.
pub(super) fn problem(status: StatusCode, error: impl Into<String>) -> Response {
    (status, Json(json!({ "error": error.into() }))).into_response()
}

/// The router's own 405 (a method the route does not take) says so in the API's shape; its
/// `Allow` header stays.
async fn method_refusal_as_json(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED || is_json(response.headers()) {
        return response;
    }
    let allowed = response.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut answer = problem(StatusCode::METHOD_NOT_ALLOWED, format!("this route takes only: {allowed}"));
    if let Ok(v) = HeaderValue::from_str(&allowed) {
        answer.headers_mut().insert(header::ALLOW, v);
    }
    answer
}

fn is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
        let essence = t.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        essence == "application/json" || essence.ends_with("+json")
    })
}

/// The innermost cause of an error: what serde said, without the framework's preamble.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut e = e;
    while let Some(next) = e.source() {
        e = next;
    }
    e.to_string()
}

/// `Query`, refused in the API's shape.
pub(super) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        axum::extract::Query::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| problem(StatusCode::BAD_REQUEST, format!("the query string cannot be read: {}", cause(&e))))
    }
}

/// `Path`, refused in the API's shape (a segment that is not valid UTF-8 once decoded).
pub(super) struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| problem(StatusCode::BAD_REQUEST, format!("the path cannot be read: {}", cause(&e))))
    }
}

/// Why a body could not be read whole.
pub(super) enum BodyError {
    TooLarge,
    /// Nothing arrived for `BODY_READ_TIMEOUT`.
    Stalled,
    /// The connection broke mid-body.
    Broken(String),
}

impl BodyError {
    /// The refusal; `too_large` says what limits the body and what to do.
    pub(super) fn refusal(&self, too_large: &str) -> Response {
        match self {
            BodyError::TooLarge => problem(StatusCode::PAYLOAD_TOO_LARGE, too_large),
            BodyError::Stalled => problem(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body stalled: nothing arrived for {} s", BODY_READ_TIMEOUT.as_secs()),
            ),
            BodyError::Broken(e) => problem(StatusCode::BAD_REQUEST, format!("the body cannot be read: {e}")),
        }
    }
}

/// Reads a body of at most `max` bytes, each part arriving within `BODY_READ_TIMEOUT`.
pub(super) async fn read_body(body: Body, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut parts = body.into_data_stream();
    let mut out = Vec::new();
    loop {
        let part = match tokio::time::timeout(BODY_READ_TIMEOUT, parts.next()).await {
            Err(_) => return Err(BodyError::Stalled),
            Ok(None) => return Ok(out),
            Ok(Some(part)) => part.map_err(|e| BodyError::Broken(cause(&e)))?,
        };
        if out.len() + part.len() > max {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&part);
    }
}

/// Compares tokens in time independent of where they differ (and of their lengths): both are
/// hashed first, then every byte is compared.
fn same_token(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is matched in any case
/// (RFC 7235: `bearer`, `BEARER` are the same scheme), and any run of blanks may follow it.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once([' ', '\t'])?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The refusal for a request without the right bearer token; `None` lets it through.
pub(super) fn refusal(s: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(expected) = &s.token else {
        return Some(problem(
            StatusCode::UNAUTHORIZED,
            "no API token is configured: set [server] token_env or token_file, then reload",
        ));
    };
    if bearer(headers).is_some_and(|given| same_token(given, expected)) {
        return None;
    }
    let mut refused =
        problem(StatusCode::UNAUTHORIZED, "a valid bearer token is required (Authorization: Bearer <token>)");
    refused.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(refused)
}

/// What an acknowledgement may say; every field is optional, and so is the body.
#[derive(Deserialize, Default)]
struct AckBody {
    /// Who acknowledges (shown on the status page and in reports).
    by: Option<String>,
}

/// The acknowledge body: none (any content type, or none), or a JSON object sent as
/// `application/json` or without a content type.
fn ack_body(headers: &HeaderMap, bytes: &[u8]) -> Result<AckBody, (StatusCode, String)> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(AckBody::default());
    }
    if headers.contains_key(header::CONTENT_TYPE) && !is_json(headers) {
        let why = "send the body as application/json ({\"by\": \"<name>\"}), or send none";
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, why.into()));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        (StatusCode::BAD_REQUEST, format!("the body is not the JSON expected ({{\"by\": \"<name>\"}}): {e}"))
    })
}

async fn ack(
    State(s): State<AppState>,
    ApiPath(alert_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = refusal(&s, &headers) {
        return refused;
    }
    let bytes = match read_body(body, ACK_BODY_MAX).await {
        Ok(b) => b,
        Err(e) => {
            return e.refusal(&format!("the body is over {ACK_BODY_MAX} bytes: send only {{\"by\": \"<name>\"}}"))
        }
    };
    let body = match ack_body(&headers, &bytes) {
        Ok(b) => b,
        Err((status, why)) => return problem(status, why),
    };
    let by = body.by.unwrap_or_else(|| "api".into());
    let by: String = crate::escape::plain(&by).chars().take(100).collect();
    match s.store.alert_watch(&alert_id) {
        Ok(Some(_)) => {}
        Ok(None) => return problem(StatusCode::NOT_FOUND, format!("no alert has the id {alert_id:?}")),
        Err(e) => return unavailable(&e),
    }
    match s.store.acknowledge(&alert_id, &by, crate::clock::now()) {
        Ok(first) => Json(json!({"alert_id": alert_id, "acknowledged": true, "already": !first})).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// The state file could not be read or written: worth retrying.
fn unavailable(e: &crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "API: the state file failed");
    problem(StatusCode::SERVICE_UNAVAILABLE, format!("the state file cannot be used now ({e}); try again"))
}

/// Alert episodes, most recent first.
async fn alerts(State(s): State<AppState>) -> Response {
    let episodes = match s.store.episodes() {
        Ok(e) => e,
        Err(e) => return unavailable(&e),
    };
    let mut list = crate::alert::episode::decode_saved(&episodes);
    list.sort_by_key(|e| std::cmp::Reverse(e.started_at));
    let out: Vec<serde_json::Value> = list
        .iter()
        .map(|e| {
            json!({
                "alert_id": e.alert_id,
                "fingerprint": e.fingerprint,
                "watch": e.last_signal.watch,
                "signal": e.last_signal.kind.as_str(),
                "group_by": e.group,
                "incident_id": e.is_incident().then_some(&e.alert_id),
                "signals": e.tracks,
                "headline": crate::notify::render::episode_headline(e),
                "severity": e.severity,
                "status": e.status,
                "started_at": e.started_at,
                "fired_at": e.fired_at,
                "acknowledged": e.acknowledged,
                "receivers": e.receivers.keys().collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(out).into_response()
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

    #[test]
    fn the_bearer_scheme_is_read_in_any_case_and_other_schemes_are_not_bearer() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(v));
            bearer(&h).map(str::to_string)
        };
        assert_eq!(with("Bearer tok"), Some("tok".into()));
        assert_eq!(with("bearer tok"), Some("tok".into()));
        assert_eq!(with("BEARER \t tok "), Some("tok".into()));
        assert_eq!(with("Basic dG9r"), None);
        assert_eq!(with("Bearertok"), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
