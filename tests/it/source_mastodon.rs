//! The mastodon kind against a loopback server that pages a hashtag timeline the way Mastodon
//! does: newest first, `max_id` for older, `min_id` for the page immediately newer, and a
//! `Link` header naming both.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use stormwatch::model::Mention;
use stormwatch::secret::{Environment, SecretRef};
use stormwatch::sources::{mastodon, SourceKind, DEFAULT_MAX_BODY_BYTES};
use stormwatch::sources::{Http, Kind, SourceError};
use url::Url;

use crate::support::http;
use crate::support::sources::{self, build_kind, Poll, PollAt};

/// Ids straddle a power of ten so that comparing them as strings would go wrong.
const FIRST_ID: u128 = 99_999_950;

#[derive(Default)]
struct Instance {
    base: String,
    token: Option<String>,
    /// Statuses per tag, by id.
    tags: HashMap<String, BTreeMap<u128, Value>>,
    /// A body served instead of the timeline, per tag.
    raw: HashMap<String, &'static str>,
    /// The query of every timeline request, per tag.
    requests: Vec<(String, HashMap<String, String>)>,
}

type Shared = Arc<Mutex<Instance>>;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap().with_timezone(&Utc)
}

/// A Status entity shaped like the one in the Mastodon documentation.
fn status(id: u128, created: DateTime<Utc>, text: &str) -> Value {
    json!({
        "id": id.to_string(),
        "created_at": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "in_reply_to_id": null,
        "in_reply_to_account_id": null,
        "sensitive": false,
        "spoiler_text": "",
        "visibility": "public",
        "language": "nl",
        "uri": format!("https://x.social/users/anna/statuses/{id}"),
        "url": format!("https://x.social/@anna/{id}"),
        "replies_count": 0, "reblogs_count": 0, "favourites_count": 1,
        "favourited": false, "reblogged": false, "muted": false, "bookmarked": false,
        "content": format!(
            "<p>{text} <a href=\"https://x.social/tags/storing\" class=\"mention hashtag\" rel=\"tag\">{}</a></p>",
            "#<span>storing</span>"
        ),
        "reblog": null,
        "application": {"name": "Web", "website": null},
        "account": {
            "id": "7", "username": "anna", "acct": "anna", "display_name": "Anna",
            "locked": false, "bot": false, "discoverable": true, "group": false,
            "created_at": "2020-01-01T00:00:00.000Z", "note": "<p>hi</p>",
            "url": "https://x.social/@anna", "followers_count": 321, "following_count": 4,
            "statuses_count": 99, "last_status_at": "2024-05-01", "emojis": [], "fields": []
        },
        "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": null, "poll": null
    })
}

async fn timeline(
    State(shared): State<Shared>,
    Path(tag): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut inst = shared.lock().unwrap();
    let q: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    inst.requests.push((tag.clone(), q.clone()));
    if let Some(token) = &inst.token {
        let sent = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if sent != Some(format!("Bearer {token}").as_str()) {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "The access token is invalid"})))
                .into_response();
        }
    }
    if let Some(raw) = inst.raw.get(&tag) {
        return ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], *raw).into_response();
    }
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20usize).min(40);
    let id_param = |k: &str| q.get(k).and_then(|v| v.parse::<u128>().ok());
    let empty = BTreeMap::new();
    let all = inst.tags.get(&tag).unwrap_or(&empty);
    let page: Vec<(u128, Value)> = if let Some(min) = id_param("min_id") {
        let mut p: Vec<_> = all.range(min + 1..).take(limit).map(|(k, v)| (*k, v.clone())).collect();
        p.reverse();
        p
    } else if let Some(max) = id_param("max_id") {
        all.range(..max).rev().take(limit).map(|(k, v)| (*k, v.clone())).collect()
    } else {
        all.iter().rev().take(limit).map(|(k, v)| (*k, v.clone())).collect()
    };
    let mut resp = axum::Json(page.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>()).into_response();
    if let (Some((newest, _)), Some((oldest, _))) = (page.first(), page.last()) {
        let at = format!("{}/api/v1/timelines/tag/{tag}?limit={limit}", inst.base);
        let link = format!("<{at}&max_id={oldest}>; rel=\"next\", <{at}&min_id={newest}>; rel=\"prev\"");
        resp.headers_mut().insert(header::LINK, link.parse().unwrap());
    }
    resp
}

async fn start(token: Option<&str>) -> (Url, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Instance { token: token.map(str::to_string), ..Instance::default() }));
    let app = Router::new().route("/api/v1/timelines/tag/{tag}", get(timeline)).with_state(shared.clone());
    let base = format!("http://{}", http::serve(app).await);
    // Set before any request: the `Link` headers name it.
    shared.lock().unwrap().base = base.clone();
    (Url::parse(&base).unwrap(), shared)
}

fn add(shared: &Shared, tag: &str, id: u128, created: DateTime<Utc>, text: &str) {
    shared.lock().unwrap().tags.entry(tag.to_string()).or_default().insert(id, status(id, created, text));
}

/// `token`: the access token the source is configured with, if any.
fn kind(url: Url, tags: &[&str], token: Option<&str>) -> Box<dyn Kind> {
    let kind = SourceKind::Mastodon(mastodon::Spec {
        url,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        token: token.map(|_| SecretRef::Env("MASTODON_TOKEN".into())),
    });
    let env = Environment::fixed(token.map(|t| ("MASTODON_TOKEN", t)));
    build_kind("masto", Duration::from_secs(12 * 3600), DEFAULT_MAX_BODY_BYTES, kind, &env)
}

/// What one poll hands on, as the poller makes it, backfilling 12 hours.
async fn poll(kind: &dyn Kind, http: &Http, cursor: &mut Value, now: DateTime<Utc>) -> Result<Poll, SourceError> {
    let at = PollAt { source: "masto", backfill_since: now - chrono::Duration::hours(12), now };
    let pages = sources::pages(kind, http, at, cursor, 20).await?;
    assert!(pages.iter().all(|p| !p.cursor.is_null()), "a cursor is handed back after every page");
    Ok(Poll::of(pages))
}

fn ids(mentions: &[Mention]) -> Vec<u128> {
    let mut ids: Vec<u128> = mentions.iter().map(|m| m.id.parse().unwrap()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn first_poll_pages_back_to_backfill_since_then_later_polls_get_only_newer_statuses() {
    let (url, shared) = start(None).await;
    // 100 statuses, one every 10 minutes, the newest 5 minutes ago: 72 are within 12 hours.
    for i in 0..100u128 {
        let created = now() - chrono::Duration::minutes(5 + 10 * (99 - i as i64));
        add(&shared, "storing", FIRST_ID + i, created, &format!("status {i}"));
    }
    let kind = kind(url, &["storing"], None);
    let http = Http::new("stormwatch-test").unwrap();
    let mut cursor = Value::Null;

    let first = poll(kind.as_ref(), &http, &mut cursor, now()).await.unwrap();
    let want: Vec<u128> = (28..100).map(|i| FIRST_ID + i).collect();
    assert_eq!(ids(&first.mentions), want, "everything within backfill, nothing older");
    assert!(first.mentions.iter().all(|m| m.published >= now() - chrono::Duration::hours(12)));
    assert_eq!(first.pages, 2);
    let m = first.mentions.iter().find(|m| m.id == (FIRST_ID + 99).to_string()).unwrap();
    assert_eq!(m.text, "status 99 #storing");
    assert_eq!(
        (m.source.as_str(), m.author.as_deref(), m.reach, m.lang.as_deref()),
        ("masto", Some("anna"), Some(321), Some("nl"))
    );
    assert_eq!(m.url.as_deref(), Some(format!("https://x.social/@anna/{}", FIRST_ID + 99).as_str()));
    {
        let inst = shared.lock().unwrap();
        let queries: Vec<Option<&String>> = inst.requests.iter().map(|(_, q)| q.get("max_id")).collect();
        assert_eq!(queries, [None, Some(&(FIRST_ID + 60).to_string())], "backfill pages older by max_id");
    }

    // 50 new statuses arrive; the next poll pages forward through all of them.
    for i in 100..150u128 {
        add(&shared, "storing", FIRST_ID + i, now() + chrono::Duration::seconds(i as i64), &format!("status {i}"));
    }
    let later = now() + chrono::Duration::minutes(5);
    let second = poll(kind.as_ref(), &http, &mut cursor, later).await.unwrap();
    assert_eq!(
        ids(&second.mentions),
        (100..150).map(|i| FIRST_ID + i).collect::<Vec<_>>(),
        "only the new ones, all of them"
    );
    assert_eq!(second.pages, 2, "a full page of 40, then the remaining 10");
    {
        let inst = shared.lock().unwrap();
        let mins: Vec<Option<&String>> = inst.requests[2..].iter().map(|(_, q)| q.get("min_id")).collect();
        assert_eq!(mins, [Some(&(FIRST_ID + 99).to_string()), Some(&(FIRST_ID + 139).to_string())]);
    }

    // Nothing new: one request, nothing handed on.
    let third = poll(kind.as_ref(), &http, &mut cursor, later).await.unwrap();
    assert_eq!((third.mentions.len(), third.pages), (0, 1));
    add(&shared, "storing", FIRST_ID + 150, later, "one more");
    let fourth = poll(kind.as_ref(), &http, &mut cursor, later).await.unwrap();
    assert_eq!(ids(&fourth.mentions), [FIRST_ID + 150]);
}

#[tokio::test]
async fn several_tags_are_read_in_turn_with_a_cursor_each_and_the_token_sent() {
    let (url, shared) = start(Some("s3cret-token")).await;
    add(&shared, "storing", 500, now() - chrono::Duration::hours(1), "a1");
    add(&shared, "storing", 510, now() - chrono::Duration::minutes(30), "a2");
    add(&shared, "kroonbank", 505, now() - chrono::Duration::minutes(40), "b1");
    let kind = kind(url, &["storing", "kroonbank"], Some("s3cret-token"));
    let http = Http::new("stormwatch-test").unwrap();
    let mut cursor = Value::Null;

    let first = poll(kind.as_ref(), &http, &mut cursor, now()).await.unwrap();
    assert_eq!(ids(&first.mentions), [500, 505, 510]);
    assert_eq!(first.pages, 2, "one page per tag");
    assert_eq!(cursor["tags"]["storing"]["newest"], "510");
    assert_eq!(cursor["tags"]["kroonbank"]["newest"], "505");

    add(&shared, "storing", 520, now(), "a3");
    add(&shared, "kroonbank", 515, now(), "b2");
    let second = poll(kind.as_ref(), &http, &mut cursor, now()).await.unwrap();
    assert_eq!(ids(&second.mentions), [515, 520]);
    let inst = shared.lock().unwrap();
    let asked: Vec<(&str, Option<&str>)> =
        inst.requests[2..].iter().map(|(tag, q)| (tag.as_str(), q.get("min_id").map(String::as_str))).collect();
    assert_eq!(asked, [("storing", Some("510")), ("kroonbank", Some("505"))]);
}

#[tokio::test]
async fn a_missing_token_is_an_http_error_carrying_the_status() {
    let (url, _shared) = start(Some("needed")).await;
    let kind = kind(url, &["storing"], None);
    let http = Http::new("stormwatch-test").unwrap();
    let err = poll(kind.as_ref(), &http, &mut Value::Null, now()).await.err().unwrap();
    assert_eq!(err.status(), Some(401), "{err}");
}

#[tokio::test]
async fn a_bad_status_is_skipped_and_the_rest_of_the_page_kept() {
    let (url, shared) = start(None).await;
    add(&shared, "storing", 700, now() - chrono::Duration::minutes(3), "good one");
    add(&shared, "storing", 702, now() - chrono::Duration::minutes(1), "good two");
    {
        let mut inst = shared.lock().unwrap();
        let statuses = inst.tags.get_mut("storing").unwrap();
        let mut boost = status(701, now() - chrono::Duration::minutes(2), "");
        boost["reblog"] = status(12, now() - chrono::Duration::days(30), "an old complaint");
        statuses.insert(701, boost);
        let mut empty = status(703, now(), "");
        empty["content"] = json!("");
        statuses.insert(703, empty);
    }
    let kind = kind(url, &["storing"], None);
    let http = Http::new("stormwatch-test").unwrap();
    let mut cursor = Value::Null;
    let got = poll(kind.as_ref(), &http, &mut cursor, now()).await.unwrap();
    assert_eq!(ids(&got.mentions), [700, 702]);
    let skipped: Vec<&str> = got.skipped.iter().map(|s| s.item.as_str()).collect();
    assert_eq!(skipped, ["703", "701"]);
    assert!(got.skipped[1].why.contains("boost"), "{:?}", got.skipped);
    assert_eq!(cursor["tags"]["storing"]["newest"], "703", "skipped statuses move the cursor too");
}

#[tokio::test]
async fn a_malformed_body_is_a_parse_error() {
    let (url, shared) = start(None).await;
    shared.lock().unwrap().raw.insert("storing".into(), "[{\"id\": \"1\", \"content\": \"<p>cut off");
    shared
        .lock()
        .unwrap()
        .raw
        .insert("kapot".into(), "<!DOCTYPE html><html><body>We're sorry, but something went wrong</body></html>");
    let http = Http::new("stormwatch-test").unwrap();
    for (tag, want) in [("storing", "invalid JSON"), ("kapot", "HTML")] {
        let kind = kind(url.clone(), &[tag], None);
        match poll(kind.as_ref(), &http, &mut Value::Null, now()).await {
            Err(SourceError::Parse(msg)) => assert!(msg.contains(want), "{tag}: {msg}"),
            other => panic!("{tag}: expected a parse error, got {:?}", other.map(|p| p.mentions)),
        }
    }
}
