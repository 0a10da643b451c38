//! A source kind driven the way the poller drives it, for the `source_*` tests: built from a
//! `SourceSpec`, asked for one page, or asked for pages while it says `more` (one poll).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use stormwatch::model::Mention;
use stormwatch::secret::Environment;
use stormwatch::sources::{Http, Kind, Page, PageRequest, Skipped, SourceError, SourceKind, SourceSpec, Validators};

/// A source of `kind` named `name`, polled every minute with a 30 s request timeout, its
/// secrets read from `env` (never from the process environment, which the tests running in
/// parallel share); panics with the configuration error when it does not build.
pub fn build_kind(
    name: &str,
    backfill: Duration,
    max_body_bytes: u64,
    kind: SourceKind,
    env: &Environment,
) -> Box<dyn Kind> {
    let spec = SourceSpec {
        name: name.into(),
        interval: Duration::from_secs(60),
        backfill,
        max_body_bytes,
        timeout: Duration::from_secs(30),
        kind,
    };
    spec.kind.build(env).unwrap_or_else(|e| panic!("source {name} does not build: {e}"))
}

/// What the poller passes with every page of a poll besides the cursor.
#[derive(Clone, Copy)]
pub struct PollAt<'a> {
    /// The configured source name (it goes into every mention).
    pub source: &'a str,
    /// On the first poll, page back to here.
    pub backfill_since: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// One `page` call as the poller makes it (no conditional-GET validators).
pub async fn page(kind: &dyn Kind, http: &Http, at: PollAt<'_>, cursor: &Value) -> Result<Page, SourceError> {
    let validators = Validators::default();
    let req = PageRequest {
        source: at.source,
        cursor,
        validators: &validators,
        backfill_since: at.backfill_since,
        now: at.now,
    };
    kind.page(http, &req).await
}

/// One poll: pages while the kind says `more`, each from the cursor the last one handed back,
/// as the poller does; returns the pages, or the first error. `cursor` ends where the last
/// page left it. Panics when the `most`-th page still says `more`: paging that never ends.
pub async fn pages(
    kind: &dyn Kind,
    http: &Http,
    at: PollAt<'_>,
    cursor: &mut Value,
    most: usize,
) -> Result<Vec<Page>, SourceError> {
    let mut pages = Vec::new();
    while pages.len() < most {
        let p = page(kind, http, at, cursor).await?;
        *cursor = p.cursor.clone();
        let more = p.more;
        pages.push(p);
        if !more {
            return Ok(pages);
        }
    }
    panic!("still more after {most} pages: the paging does not end");
}

/// What one poll handed on, all its pages together.
pub struct Poll {
    pub mentions: Vec<Mention>,
    pub skipped: Vec<Skipped>,
    /// The cursor after the last page.
    pub cursor: Value,
    /// How many pages the poll took.
    pub pages: usize,
}

impl Poll {
    pub fn of(pages: Vec<Page>) -> Poll {
        let mut poll = Poll { mentions: Vec::new(), skipped: Vec::new(), cursor: Value::Null, pages: pages.len() };
        for p in pages {
            poll.mentions.extend(p.mentions);
            poll.skipped.extend(p.skipped);
            poll.cursor = p.cursor;
        }
        poll
    }
}
