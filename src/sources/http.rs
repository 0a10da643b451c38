//! The HTTP policy every source kind shares: timeouts, gzip, a body-size cap enforced while
//! reading (a 50 MB answer is refused after the limit, never buffered whole), a redirect
//! limit, conditional GET, and reading the rate-limit headers servers send
//! (`Retry-After`, `X-RateLimit-*`, `RateLimit-*`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use url::Url;

use super::SourceError;

/// Connect within this, or the attempt fails.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole request (headers and body) must finish within this: a slowloris body that trickles
/// one byte a second fails here instead of holding the source forever.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed before giving up (redirect loops end here).
pub(crate) const MAX_REDIRECTS: usize = 5;

/// Conditional-GET validators of a response, sent back on the next request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What the server said about its rate limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// When the window resets (or how long `Retry-After` asked to wait).
    pub reset_after: Option<Duration>,
}

impl RateLimit {
    /// How long to wait before the next request, if the server asked for a pause.
    pub fn pause(&self) -> Option<Duration> {
        match (self.remaining, self.reset_after) {
            (Some(0), Some(d)) => Some(d),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    pub(crate) fn get(url: Url) -> HttpRequest {
        HttpRequest { method: Method::Get, url, headers: Vec::new(), body: None }
    }

    pub(crate) fn post_json(url: Url, body: &serde_json::Value) -> HttpRequest {
        HttpRequest {
            method: Method::Post,
            url,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(body.to_string().into_bytes()),
        }
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub(crate) fn bearer(self, token: Option<&str>) -> HttpRequest {
        match token {
            Some(t) => self.header("authorization", format!("Bearer {t}")),
            None => self,
        }
    }

    /// Adds `If-None-Match` / `If-Modified-Since` from the last full response.
    pub(crate) fn conditional(mut self, v: &Validators) -> HttpRequest {
        if let Some(e) = &v.etag {
            self = self.header("if-none-match", e.clone());
        }
        if let Some(m) = &v.last_modified {
            self = self.header("if-modified-since", m.clone());
        }
        self
    }
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub rate_limit: RateLimit,
}

impl HttpResponse {
    pub(crate) fn not_modified(&self) -> bool {
        self.status == 304
    }

    /// The body as JSON, with a clear message when it is something else (an HTML error page
    /// behind a proxy, a truncated body, invalid UTF-8).
    pub(crate) fn json(&self) -> Result<serde_json::Value, SourceError> {
        parse_json_body(&self.body, self.content_type.as_deref())
    }
}

/// Parses a body that should be JSON; names what it looks like when it is not.
pub fn parse_json_body(body: &[u8], content_type: Option<&str>) -> Result<serde_json::Value, SourceError> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).map(|i| body[i]);
    if start == Some(b'<') {
        return Err(SourceError::Parse(format!(
            "expected JSON, got HTML or XML{} (an error page or a login wall?)",
            content_type.map(|c| format!(" ({c})")).unwrap_or_default()
        )));
    }
    if start.is_none() {
        return Err(SourceError::Parse("empty body where JSON was expected".into()));
    }
    serde_json::from_slice(body).map_err(|e| SourceError::Parse(format!("invalid JSON: {e}")))
}

/// An HTTP client with the shared policy, and a body limit per source.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    max_body_bytes: u64,
    /// For the whole request, body included (a server trickling bytes cannot hold a poll).
    timeout: Duration,
}

impl Http {
    pub fn new(user_agent: &str) -> Result<Http, SourceError> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .gzip(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| SourceError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http { client, max_body_bytes: super::DEFAULT_MAX_BODY_BYTES, timeout: REQUEST_TIMEOUT })
    }

    /// The same client with a source's body limit and request timeout.
    pub(crate) fn for_source(&self, max_body_bytes: u64, timeout: Duration) -> Http {
        Http { client: self.client.clone(), max_body_bytes, timeout }
    }

    /// Sends `req`. 2xx and 304 are answers; any other status is an error carrying the
    /// `Retry-After` the server sent.
    pub(crate) async fn send(&self, req: HttpRequest) -> Result<HttpResponse, SourceError> {
        let mut builder = match req.method {
            Method::Get => self.client.get(req.url.clone()),
            Method::Post => self.client.post(req.url.clone()),
        }
        .timeout(self.timeout);
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let resp = builder.send().await.map_err(|e| map_error(e, self.timeout))?;
        let status = resp.status().as_u16();
        let headers = resp.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let now = Utc::now();
        let rate_limit = rate_limit(&header, now);
        let validators = Validators { etag: header("etag"), last_modified: header("last-modified") };
        let content_type = header("content-type");
        if status == 304 {
            return Ok(HttpResponse { status, body: Vec::new(), content_type, validators, rate_limit });
        }
        if !(200..300).contains(&status) {
            let retry_after = rate_limit.reset_after.filter(|_| status == 429 || status == 503);
            return Err(SourceError::Status { status, retry_after });
        }
        if let Some(len) = resp.content_length() {
            if len > self.max_body_bytes {
                return Err(SourceError::TooLarge { limit: self.max_body_bytes });
            }
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| map_error(e, self.timeout))?;
            if body.len() as u64 + chunk.len() as u64 > self.max_body_bytes {
                return Err(SourceError::TooLarge { limit: self.max_body_bytes });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse { status, body, content_type, validators, rate_limit })
    }
}

fn map_error(e: reqwest::Error, timeout: Duration) -> SourceError {
    if e.is_timeout() {
        SourceError::Timeout(timeout)
    } else if e.is_redirect() {
        SourceError::Redirects(MAX_REDIRECTS)
    } else if e.is_connect() {
        SourceError::Connect(root_cause(&e))
    } else if e.is_body() || e.is_decode() {
        SourceError::Parse(format!("body cut off or undecodable: {}", root_cause(&e)))
    } else {
        SourceError::Connect(root_cause(&e))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Reads the rate-limit headers into one answer. `Retry-After` (seconds or an HTTP date)
/// wins; then `RateLimit-*` (IETF draft: seconds) and `X-RateLimit-*`, whose reset is
/// seconds, epoch seconds or an ISO time depending on the server (Reddit, GitHub, Mastodon).
pub fn rate_limit(header: &dyn Fn(&str) -> Option<String>, now: DateTime<Utc>) -> RateLimit {
    let reset = |text: &str| -> Option<Duration> {
        let t = text.trim();
        if let Ok(n) = t.parse::<f64>() {
            if !n.is_finite() || n < 0.0 {
                return None;
            }
            // Epoch seconds if it looks like a date of this era, else seconds to wait.
            let secs = if n > 1_000_000_000.0 { n - now.timestamp() as f64 } else { n };
            return Some(Duration::from_secs_f64(secs.clamp(0.0, 24.0 * 3600.0)));
        }
        let at = DateTime::parse_from_rfc3339(t).or_else(|_| DateTime::parse_from_rfc2822(t)).ok()?;
        Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
    };
    let remaining = |text: String| text.trim().parse::<f64>().ok().filter(|n| *n >= 0.0).map(|n| n as u64);
    if let Some(wait) = header("retry-after").and_then(|v| reset(&v)) {
        return RateLimit { remaining: Some(0), reset_after: Some(wait) };
    }
    // X (Twitter) spells them x-rate-limit-*.
    let pick = |names: [&str; 3]| names.into_iter().find_map(header);
    RateLimit {
        remaining: pick(["ratelimit-remaining", "x-ratelimit-remaining", "x-rate-limit-remaining"]).and_then(remaining),
        reset_after: pick(["ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset"]).and_then(|v| reset(&v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rl(pairs: &[(&str, &str)]) -> RateLimit {
        let now = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z").unwrap().with_timezone(&Utc);
        let map: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        rate_limit(&|name: &str| map.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()), now)
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(rl(&[("retry-after", "120")]).pause(), Some(Duration::from_secs(120)));
        assert_eq!(rl(&[("retry-after", "Wed, 01 May 2024 10:01:00 GMT")]).pause(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn rate_limit_windows_in_the_formats_servers_use() {
        // Reddit: floats and seconds to reset.
        let r = rl(&[("x-ratelimit-remaining", "0.0"), ("x-ratelimit-reset", "42")]);
        assert_eq!(r.pause(), Some(Duration::from_secs(42)));
        // GitHub-style epoch seconds.
        let r = rl(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1714557630")]);
        assert_eq!(r.pause(), Some(Duration::from_secs(30)));
        // Mastodon: an ISO time.
        let r = rl(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "2024-05-01T10:05:00.000Z")]);
        assert_eq!(r.pause(), Some(Duration::from_secs(300)));
        // X: x-rate-limit-*, epoch seconds.
        let r = rl(&[("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", "1714557660")]);
        assert_eq!(r.pause(), Some(Duration::from_secs(60)));
        // IETF draft headers; requests left: no pause.
        let r = rl(&[("ratelimit-remaining", "10"), ("ratelimit-reset", "30")]);
        assert_eq!((r.remaining, r.pause()), (Some(10), None));
        assert_eq!(rl(&[("x-ratelimit-reset", "garbage")]), RateLimit::default());
    }

    #[test]
    fn non_json_bodies_are_named() {
        let err = parse_json_body(b"  <!DOCTYPE html><html>502</html>", Some("text/html")).unwrap_err().to_string();
        assert!(err.contains("HTML") && err.contains("text/html"), "{err}");
        assert!(parse_json_body(b"", None).unwrap_err().to_string().contains("empty"));
        assert!(parse_json_body(b"{\"a\": [1, 2", None).unwrap_err().to_string().contains("invalid JSON"));
        assert!(parse_json_body(b"{\"a\": \"\xff\"}", None).is_err(), "invalid UTF-8 is an error, not a panic");
    }
}
