//! What every fuzz target checks about the mentions a parser returns, so each target only
//! says how to call its parser.
//!
//! A parser must never panic on any body; what it returns must also be usable downstream:
//! named after the source it was given, with an id, with text no longer (in characters)
//! than the body it came from, and with a publication time not past `now` + the allowed
//! skew (`sources::sane_time`).

use chrono::{DateTime, Utc};
use stormwatch::model::Mention;
use stormwatch::sources::MAX_FUTURE_SKEW;

/// The source name the targets pass.
pub const SOURCE: &str = "fuzz";

/// A fixed fetch time, so a crash reproduces from its input alone.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 0).expect("a valid timestamp")
}

/// Checks one mention parsed from `body` at `now()`.
pub fn check_mention(m: &Mention, body: &[u8]) {
    assert_eq!(m.source, SOURCE, "the mention keeps the source name it was given");
    assert!(!m.id.is_empty(), "a mention without an id cannot be deduplicated: {m:?}");
    // Characters, not bytes: an entity like `&nGt;` (5 bytes) decodes to 6 bytes of UTF-8,
    // but never to more characters than it is written with.
    let chars = m.text.chars().count();
    assert!(chars <= body.len(), "text of {chars} characters from a body of {} bytes", body.len());
    let latest = now() + chrono::Duration::from_std(MAX_FUTURE_SKEW).expect("a small duration");
    assert!(m.published <= latest, "published {} is after now + skew", m.published);
    if let Some(lang) = &m.lang {
        assert!((2..=8).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase()), "lang {lang:?}");
    }
}

/// Checks that ids are unique within one page (the parsers drop repeats).
pub fn check_unique<'a>(ids: impl Iterator<Item = &'a str>) {
    let mut seen: Vec<&str> = ids.collect();
    let n = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), n, "a page kept two items with the same id");
}
