//! A webhook receiver on loopback (axum): records every request and answers from a script
//! (status, Retry-After, delay), so tests can play a receiver that fails and recovers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// One scripted answer; when the script runs out, 200.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply { status, retry_after: None, delay: Duration::ZERO }
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<Request>,
    script: VecDeque<Reply>,
    default_delay: Duration,
}

#[derive(Clone)]
pub struct WebhookSink {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl WebhookSink {
    /// Starts on a free port on a runtime of its own thread, so sync tests can use it too.
    pub fn start(script: Vec<Reply>) -> WebhookSink {
        WebhookSink::start_with_delay(script, Duration::ZERO)
    }

    pub fn start_with_delay(script: Vec<Reply>, default_delay: Duration) -> WebhookSink {
        let inner = Arc::new(Mutex::new(Inner { script: script.into(), default_delay, ..Inner::default() }));
        let addr = super::http::serve_in_background(axum::Router::new().fallback(handle).with_state(inner.clone()));
        WebhookSink { addr, inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().map(|i| i.requests.clone()).unwrap_or_default()
    }

    /// Changes how long answers without a script entry take.
    pub fn set_delay(&self, delay: Duration) {
        if let Ok(mut i) = self.inner.lock() {
            i.default_delay = delay;
        }
    }

    /// Waits until at least `n` requests arrived (or `timeout`).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let end = Instant::now() + timeout;
        loop {
            let r = self.requests();
            if r.len() >= n || Instant::now() > end {
                return r;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

async fn handle(
    State(state): State<Arc<Mutex<Inner>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut inner = match state.lock() {
            Ok(i) => i,
            Err(p) => p.into_inner(),
        };
        inner.requests.push(Request {
            path: uri.path().to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: body.to_vec(),
            at: Instant::now(),
        });
        let delay = inner.default_delay;
        inner.script.pop_front().unwrap_or(Reply { status: 200, retry_after: None, delay })
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    match reply.retry_after {
        Some(s) => (status, [("retry-after", s.to_string())], "").into_response(),
        None => (status, "").into_response(),
    }
}

/// Verifies `Stormwatch-Signature: t=<unix>,v1=<hex>` as docs/webhook.md describes it: the
/// HMAC-SHA256, keyed with the shared secret, of the time, a dot and the raw body. Written
/// from the document, apart from the signing code.
pub fn verify_signature(header: &str, body: &[u8], secret: &[u8], now_unix: i64, tolerance_secs: i64) -> bool {
    use hmac::{Hmac, Mac};
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now_unix - t).abs() > tolerance_secs {
        return false;
    }
    let mut signed = t.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    sigs.iter().any(|sig| {
        let Ok(given) = hex::decode(sig) else { return false };
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else { return false };
        mac.update(&signed);
        mac.verify_slice(&given).is_ok()
    })
}
