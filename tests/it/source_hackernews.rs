//! The hackernews kind against a loopback server that searches like Algolia's
//! `search_by_date`: newest first, `numericFilters` on `created_at_i`, `page=N`, and a
//! pagination cap (scaled down here from Algolia's 1,000 hits to 6) past which it serves
//! nothing, so the kind must go on by time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::DateTime;
use serde_json::{json, Value};
use stormwatch::secret::Environment;
use stormwatch::sources::{hackernews, SourceKind, DEFAULT_MAX_BODY_BYTES};
use stormwatch::sources::{Http, Kind, SourceError};
use url::Url;

use crate::support::http;
use crate::support::sources::{self, build_kind, Poll, PollAt};

/// The server's page size and pagination cap (Algolia: the asked hitsPerPage, and 1,000).
const PER_PAGE: usize = 3;
const CAP: usize = 6;
const BASE: i64 = 1_714_500_000;

#[derive(Clone)]
struct Hit {
    id: String,
    at: i64,
    comment: bool,
    /// Served without an objectID (a broken hit).
    no_id: bool,
    /// Served without any text.
    no_text: bool,
}

fn story(id: &str, offset: i64) -> Hit {
    Hit { id: id.into(), at: BASE + offset, comment: false, no_id: false, no_text: false }
}

fn comment(id: &str, offset: i64) -> Hit {
    Hit { comment: true, ..story(id, offset) }
}

#[derive(Default)]
struct Server {
    hits: Vec<Hit>,
    broken: bool,
    /// The decoded `numericFilters` and `page` of every request.
    log: Vec<(String, Option<String>)>,
}

type Shared = Arc<Mutex<Server>>;

fn hit_json(h: &Hit) -> Value {
    let mut v = if h.comment {
        json!({
            "comment_text": format!("<p>Comment {} about Kroonbank &amp; its app.</p>", h.id), "author": format!("user_{}", h.id),
            "story_id": 1, "parent_id": 1, "story_title": "Kroonbank outage", "story_url": "https://news.example/outage",
            "title": null, "url": null, "story_text": null, "points": null,
            "_tags": ["comment", format!("author_user_{}", h.id), "story_1"]
        })
    } else {
        json!({
            "title": format!("Kroonbank story {}", h.id), "url": format!("https://news.example/{}", h.id),
            "author": format!("user_{}", h.id), "points": 10, "story_text": null, "comment_text": null,
            "num_comments": 0, "_tags": ["story", format!("author_user_{}", h.id), format!("story_{}", h.id)]
        })
    };
    let o = v.as_object_mut().unwrap();
    o.insert("created_at_i".into(), json!(h.at));
    o.insert("created_at".into(), json!(DateTime::from_timestamp(h.at, 0).unwrap().to_rfc3339()));
    if !h.no_id {
        o.insert("objectID".into(), json!(h.id));
    }
    if h.no_text {
        o.insert("title".into(), Value::Null);
        o.insert("comment_text".into(), Value::Null);
    }
    v
}

/// Whether `at` passes Algolia-style numeric filters (`created_at_i>=1,created_at_i<=9`).
fn passes(filters: &str, at: i64) -> bool {
    filters.split(',').filter(|f| !f.is_empty()).all(|f| {
        let f = f.trim().strip_prefix("created_at_i").expect("filter on created_at_i");
        for (op, test) in [
            (">=", (|a, b| a >= b) as fn(i64, i64) -> bool),
            ("<=", |a, b| a <= b),
            (">", |a, b| a > b),
            ("<", |a, b| a < b),
            ("=", |a, b| a == b),
        ] {
            if let Some(n) = f.strip_prefix(op) {
                return test(at, n.trim().parse().expect("a number"));
            }
        }
        panic!("unknown filter {f}")
    })
}

async fn search(state: State<Shared>, q: Query<HashMap<String, String>>) -> Response {
    let mut s = state.lock().unwrap();
    let filters = q.get("numericFilters").cloned().unwrap_or_default();
    s.log.push((filters.clone(), q.get("page").cloned()));
    if s.broken {
        return (StatusCode::OK, [("content-type", "text/html")], "<html><body>Bad gateway</body></html>")
            .into_response();
    }
    assert_eq!(q.get("query").map(String::as_str), Some("kroonbank"));
    assert_eq!(q.get("tags").map(String::as_str), Some("(story,comment)"));
    assert_eq!(q.get("hitsPerPage").map(String::as_str), Some("100"));
    let mut matching: Vec<&Hit> = s.hits.iter().filter(|h| passes(&filters, h.at)).collect();
    matching.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    let page: usize = q.get("page").map_or(0, |p| p.parse().unwrap());
    let reachable = matching.len().min(CAP);
    let hits: Vec<Value> =
        matching.iter().take(reachable).skip(page * PER_PAGE).take(PER_PAGE).map(|h| hit_json(h)).collect();
    axum::Json(json!({
        "hits": hits, "page": page, "nbHits": matching.len(), "nbPages": reachable.div_ceil(PER_PAGE),
        "hitsPerPage": PER_PAGE, "exhaustiveNbHits": true, "processingTimeMS": 1, "query": "kroonbank",
        "params": "query=kroonbank"
    }))
    .into_response()
}

async fn serve(hits: Vec<Hit>) -> (Url, Shared) {
    let state: Shared = Arc::new(Mutex::new(Server { hits, ..Server::default() }));
    let addr = http::serve(Router::new().route("/api/v1/search_by_date", get(search)).with_state(state.clone())).await;
    (Url::parse(&format!("http://{addr}")).unwrap(), state)
}

fn kind(url: &Url) -> Box<dyn Kind> {
    let kind = SourceKind::HackerNews(hackernews::Spec { url: url.clone(), query: "kroonbank".into() });
    build_kind("hn-kroon", Duration::from_secs(3600), DEFAULT_MAX_BODY_BYTES, kind, &Environment::default())
}

/// One poll from `cursor`, backfilling to `BASE + backfill_since`.
async fn poll(kind: &dyn Kind, mut cursor: Value, backfill_since: i64) -> Result<Poll, SourceError> {
    let http = Http::new("stormwatch-test").unwrap();
    let at = PollAt {
        source: "hn-kroon",
        backfill_since: DateTime::from_timestamp(BASE + backfill_since, 0).unwrap(),
        now: DateTime::from_timestamp(BASE + 100_000, 0).unwrap(),
    };
    Ok(Poll::of(sources::pages(kind, &http, at, &mut cursor, 20).await?))
}

fn ids(p: &Poll) -> Vec<&str> {
    p.mentions.iter().map(|m| m.id.as_str()).collect()
}

fn log(server: &Shared) -> Vec<(String, Option<String>)> {
    server.lock().unwrap().log.clone()
}

#[tokio::test]
async fn first_poll_pages_back_past_the_cap_to_backfill_since() {
    // 13 hits; three pairs share a second, one of them (65 and 6) split by the cap.
    let mut hits: Vec<Hit> = (1..=10).map(|n| story(&format!("{n}"), n * 10)).collect();
    hits.extend([comment("55", 50), comment("65", 60), comment("95", 90)]);
    let (url, server) = serve(hits).await;
    let k = kind(&url);
    // Backfill to BASE+20: 1 is older, 2 is exactly at the bound (kept).
    let got = poll(&*k, Value::Null, 20).await.unwrap();
    assert_eq!(ids(&got), ["10", "95", "9", "8", "7", "65", "6", "55", "5", "4", "3", "2"]);
    let since = BASE + 20;
    let bounded = |upto: i64, page: Option<&str>| {
        (format!("created_at_i>={since},created_at_i<={}", BASE + upto), page.map(str::to_string))
    };
    assert_eq!(
        log(&server),
        [
            (format!("created_at_i>={since}"), None),
            // Page 1 under the newest hit of page 0, so new hits cannot shift it.
            bounded(100, Some("1")),
            // The cap (6 of 12 served): go on from the oldest second handed on (65 at +60).
            bounded(60, None),
            bounded(60, Some("1")),
            // The cap again (6 of 7): from 3 at +30.
            bounded(30, None),
        ]
    );
    let c = &got.mentions[5];
    assert_eq!(c.text, "Comment 65 about Kroonbank & its app.");
    assert_eq!(c.url.as_deref(), Some("https://news.ycombinator.com/item?id=65"));
    assert_eq!(c.published, DateTime::from_timestamp(BASE + 60, 0).unwrap());
    let s = &got.mentions[0];
    assert_eq!((s.text.as_str(), s.url.as_deref()), ("Kroonbank story 10", Some("https://news.example/10")));
    assert_eq!((s.author.as_deref(), s.reach, s.source.as_str()), (Some("user_10"), None, "hn-kroon"));
}

#[tokio::test]
async fn a_later_poll_gets_only_newer_hits_without_gap_or_duplicate() {
    let (url, server) = serve((1..=4).map(|n| story(&format!("{n}"), n * 10)).collect()).await;
    let k = kind(&url);
    let first = poll(&*k, Value::Null, 0).await.unwrap();
    assert_eq!(ids(&first), ["4", "3", "2", "1"]);
    // New hits: one in the same second as the newest handed on, more than a page in all.
    server.lock().unwrap().hits.extend([comment("40b", 40), story("5", 50), comment("6", 60), story("7", 70)]);
    let before = log(&server).len();
    let second = poll(&*k, first.cursor.clone(), 0).await.unwrap();
    assert_eq!(ids(&second), ["7", "6", "5", "40b"]);
    assert_eq!(second.pages, 2);
    assert_eq!(log(&server)[before].0, format!("created_at_i>={}", BASE + 40), "asks from the newest second handed on");
    // Nothing new: one request, nothing handed on.
    let third = poll(&*k, second.cursor.clone(), 0).await.unwrap();
    assert!(third.mentions.is_empty() && third.skipped.is_empty());
    assert_eq!(third.pages, 1);
    assert_eq!(log(&server).last().unwrap().0, format!("created_at_i>={}", BASE + 70));
}

#[tokio::test]
async fn a_page_with_bad_hits_skips_them_and_keeps_the_rest() {
    let no_id = Hit { no_id: true, ..story("x", 30) };
    let no_text = Hit { no_text: true, ..comment("y", 20) };
    let (url, _server) = serve(vec![story("1", 10), no_text, no_id, story("4", 40)]).await;
    let got = poll(&*kind(&url), Value::Null, 0).await.unwrap();
    assert_eq!(ids(&got), ["4", "1"]);
    let skipped: Vec<(&str, &str)> = got.skipped.iter().map(|s| (s.item.as_str(), s.why.as_str())).collect();
    assert_eq!(skipped, [("#1", "no objectID"), ("y", "no title, comment_text or story_text")]);
}

#[tokio::test]
async fn a_malformed_body_is_a_parse_error() {
    let (url, server) = serve(vec![story("1", 10)]).await;
    server.lock().unwrap().broken = true;
    match poll(&*kind(&url), Value::Null, 0).await {
        Err(SourceError::Parse(msg)) => assert!(msg.contains("HTML"), "{msg}"),
        Err(e) => panic!("expected a parse error, got {e}"),
        Ok(_) => panic!("expected a parse error, got a page"),
    }
}
