//! Where mentions come from: the first step of the pipeline.
//!
//! Every source kind (`rss.rs`, `mastodon.rs`, `bluesky.rs`, `reddit.rs`, `hackernews.rs`,
//! `json.rs`, `file.rs`, `push.rs`) is one file that fills in two traits: [`Kind`] — given the
//! cursor it left last time, fetch and parse the next page of items into [`Mention`]s and say
//! where the next page starts — and [`Settings`] — its own keys of a `[[sources]]` entry, read
//! and checked. Everything kinds share lives once: the common settings and the registry of
//! kinds (`registry.rs`), the HTTP policy (`http.rs`: timeouts, size cap, redirects,
//! rate-limit headers, conditional GET), stored cursors (`cursor.rs`), time marks in
//! newest-first listings (`mark.rs`), JSON field reading (`fields.rs`), HTML to text
//! (`text.rs`), the schedule and backoff (`poll.rs`), the exactly-once hand-off of a page's
//! mentions to detection (`handoff.rs`, for polled and pushed mentions alike), matching
//! mentions to watches (`matching.rs`), and the state in `store`.
//!
//! Adding a kind means adding one file — a `Spec` that implements `Settings`, a struct that
//! implements `Kind`, a pure `parse_*` function over a response body (tested and benchmarked
//! without a network) — and one line in the `kinds!` registry below, which also declares the
//! kind's module.

mod charset;
mod cursor;
mod fields;
pub mod handoff;
pub mod http;
mod mark;
pub mod matching;
pub mod poll;
pub(crate) mod registry;
pub mod text;

// The kinds: each `"name" => Variant(module)` declares the module and registers its kind.
registry::kinds! {
    "rss" => Rss(rss),
    "mastodon" => Mastodon(mastodon),
    "bluesky" => Bluesky(bluesky),
    "reddit" => Reddit(reddit),
    "hackernews" => HackerNews(hackernews),
    "json" => Json(json),
    "file" => File(file),
    "push" => Push(push),
}

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use http::{Http, HttpRequest, HttpResponse, RateLimit, Validators};
pub use registry::{Settings, SourceSpec, DEFAULT_MAX_BODY_BYTES};

use crate::model::Mention;
use crate::secret::{Environment, SecretRef};

/// What a kind is given for one page.
#[derive(Debug, Clone)]
pub struct PageRequest<'a> {
    /// The configured source name (goes into every `Mention`).
    pub source: &'a str,
    /// The kind's own position after the previous page; `Null` before the first poll.
    pub cursor: &'a serde_json::Value,
    /// Conditional-GET validators from the last full response (RSS).
    pub validators: &'a Validators,
    /// On the first poll (no cursor yet), page back to here to seed the baseline.
    pub backfill_since: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

impl PageRequest<'_> {
    pub(crate) fn first_poll(&self) -> bool {
        self.cursor.is_null()
    }
}

/// What a kind hands back for one page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub mentions: Vec<Mention>,
    /// Items left out, each with why (no text, no id, a bad time, …): logged and counted.
    pub skipped: Vec<Skipped>,
    /// The cursor after this page, stored once the page's mentions were handed on.
    pub cursor: serde_json::Value,
    /// Another page is ready now (paging through a backlog or a backfill).
    pub more: bool,
    /// The server answered 304 Not Modified: nothing new, nothing parsed.
    pub not_modified: bool,
    /// Validators to send next time (RSS conditional GET).
    pub validators: Validators,
    /// The server asked to be left alone until then (rate limit), even though this page
    /// succeeded.
    pub rate_limit: RateLimit,
}

/// An item a kind could not turn into a mention.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The item's id if it had one, else its position in the page.
    pub item: String,
    pub why: String,
}

/// Why a page could not be fetched or read. Each variant is one label in the metrics and
/// one kind of source-health problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("HTTP {status}{}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    Status { status: u16, retry_after: Option<Duration> },
    #[error("response over the {limit}-byte limit (max_body_bytes); not read further")]
    TooLarge { limit: u64 },
    #[error("too many redirects (more than {0})")]
    Redirects(usize),
    #[error("unreadable response: {0}")]
    Parse(String),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Io(String),
}

impl SourceError {
    /// A short stable label, for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            SourceError::Timeout(_) => "timeout",
            SourceError::Connect(_) => "connect",
            SourceError::Status { status: 429, .. } => "rate_limited",
            SourceError::Status { status: 401 | 403, .. } => "unauthorized",
            SourceError::Status { status, .. } if *status >= 500 => "server_error",
            SourceError::Status { .. } => "client_error",
            SourceError::TooLarge { .. } => "too_large",
            SourceError::Redirects(_) => "redirects",
            SourceError::Parse(_) => "parse",
            SourceError::Auth(_) => "unauthorized",
            SourceError::Config(_) => "config",
            SourceError::Io(_) => "io",
        }
    }

    /// The wait the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SourceError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            SourceError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One source kind: fetch and parse the page after the cursor.
#[async_trait::async_trait]
pub trait Kind: Send + Sync {
    async fn page(&self, http: &Http, req: &PageRequest<'_>) -> Result<Page, SourceError>;
}

/// A source's secret, read now; the error says what it is for.
fn read_secret(secret: &SecretRef, env: &Environment) -> Result<String, SourceError> {
    match secret.read(env) {
        Ok(v) => Ok(v.trim().to_string()),
        Err(e) => Err(SourceError::Config(format!("{e} (it holds a secret for this source)"))),
    }
}

/// Parses a timestamp as feeds write them: RFC 3339, RFC 2822, or seconds since the epoch.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    // The NAB and most CSV exports' "2015-02-26 21:42:53", read by hand: chrono's format
    // parser was half the time of reading a count series.
    if let Some(d) = plain_utc(t) {
        return Some(d);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(t) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(n) = t.parse::<i64>() {
        // Milliseconds if it is too large to be seconds of this era.
        return if n > 100_000_000_000 { DateTime::from_timestamp_millis(n) } else { DateTime::from_timestamp(n, 0) };
    }
    // "2024-05-01 10:02:53" and the like, read as UTC.
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").ok().map(|n| n.and_utc())
}

/// `YYYY-MM-DD HH:MM:SS` (or with a `T`), as UTC; `None` for anything else.
fn plain_utc(t: &str) -> Option<DateTime<Utc>> {
    let b = t.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + (c - b'0') as u32))
    };
    chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?
        .and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)
        .map(|n| n.and_utc())
}

/// The primary language subtag of a tag as feeds write it ("nl-BE" → "nl", "PL" → "pl");
/// `None` for what is not a language ("und", "zxx", "", garbage).
pub fn primary_lang(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    let is_tag = (2..=8).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
    (is_tag && primary != "und" && primary != "zxx").then_some(primary)
}

/// A published time more than this far in the future is a clock or feed error: the mention
/// is kept, stamped with the time it was fetched instead.
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(15 * 60);

/// The time to record for an item that claims `published`: the fetch time when it is missing
/// or in the future (returned with a note for the log).
pub fn sane_time(published: Option<DateTime<Utc>>, now: DateTime<Utc>) -> (DateTime<Utc>, Option<&'static str>) {
    match published {
        None => (now, Some("no publication time; using the fetch time")),
        Some(t) if t > now + chrono::Duration::from_std(MAX_FUTURE_SKEW).unwrap_or_default() => {
            (now, Some("publication time in the future; using the fetch time"))
        }
        Some(t) => (t, None),
    }
}

/// What a caught panic said, when it said it with a string (as `panic!`, failed asserts and
/// overflowing arithmetic do), for the error that replaces it.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => s,
        (None, Some(s)) => s,
        (None, None) => "no message",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_timestamps_in_common_formats() {
        let want = DateTime::parse_from_rfc3339("2024-05-01T10:02:53Z").unwrap().with_timezone(&Utc);
        for t in [
            "2024-05-01T10:02:53Z",
            "2024-05-01T12:02:53+02:00",
            "Wed, 01 May 2024 10:02:53 +0000",
            "1714557773",
            "1714557773000",
            "2024-05-01 10:02:53",
            "2024-05-01T10:02:53",
        ] {
            assert_eq!(parse_time(t), Some(want), "{t}");
        }
        for bad in
            ["yesterday", "2024-13-01 10:02:53", "2024-02-30 10:02:53", "2024-05-01 25:02:53", "2024-05-01 10:0x:53"]
        {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn future_and_missing_times_fall_back_to_the_fetch_time() {
        let now = Utc::now();
        assert_eq!(sane_time(None, now).0, now);
        assert_eq!(sane_time(Some(now + chrono::Duration::hours(2)), now).0, now);
        let past = now - chrono::Duration::hours(2);
        assert_eq!(sane_time(Some(past), now), (past, None));
    }

    #[test]
    fn missing_secrets_name_the_variable() {
        let var = SecretRef::Env("STORMWATCH_TEST_SURELY_UNSET_VAR".into());
        let err = read_secret(&var, &Environment::fixed::<&str, &str>([])).unwrap_err().to_string();
        assert!(err.contains("STORMWATCH_TEST_SURELY_UNSET_VAR"), "{err}");
    }
}
