//! Text that arrives as plain text stays as written: mentions pushed to the real daemon's
//! `/api/v1/ingest`, items of a `json` API source and lines of a `file` source are not HTML,
//! so `from <5 to >10 euro` must not lose `<5 to >` as if it were a tag, nor `&amp;` become
//! `&`. Only whitespace is tidied. (Kinds whose API sends HTML, RSS
//! and Mastodon, are tested with their own modules.)

use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};
use stormwatch::secret::Environment;
use stormwatch::sources::json::{self, JsonCursor, JsonFields};
use stormwatch::sources::{file, Http, SourceKind, DEFAULT_MAX_BODY_BYTES};
use stormwatch::store::Store;

use crate::support::daemon::PushDaemon;
use crate::support::http::{self, get as http_get, request};
use crate::support::sources::{self, build_kind, PollAt};

/// What users write, and what must be stored and scored: the same, with whitespace tidied.
const WRITTEN: [(&str, &str); 5] = [
    ("Kroon Bank charges from <5 to >10 euro now", "Kroon Bank charges from <5 to >10 euro now"),
    ("Kroon Bank: a<b and c>d", "Kroon Bank: a<b and c>d"),
    (
        "Kroon Bank says use <your-account-number> when calling",
        "Kroon Bank says use <your-account-number> when calling",
    ),
    ("Kroon Bank &amp; partners, <b>not bold</b>", "Kroon Bank &amp; partners, <b>not bold</b>"),
    ("Kroon Bank\tapp  down\r\n\r\n\r\nagain ", "Kroon Bank app down\nagain"),
];

fn expected() -> Vec<&'static str> {
    WRITTEN.iter().map(|(_, stored)| *stored).collect()
}

fn at() -> PollAt<'static> {
    PollAt { source: "plain", backfill_since: Utc::now() - chrono::Duration::days(1), now: Utc::now() }
}

#[test]
fn pushed_text_is_stored_and_scored_as_written_not_as_html() {
    let PushDaemon { dir, mut daemon, port } = PushDaemon::start("tok-1", "");
    let end = Instant::now() + Duration::from_secs(20);
    while http_get(port, "/readyz").0 != 200 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let now = Utc::now().to_rfc3339();
    let batch: Vec<Value> = WRITTEN
        .iter()
        .enumerate()
        .map(|(i, (text, _))| json!({"id": format!("m{i}"), "text": text, "created": now}))
        .collect();
    let auth = "Authorization: Bearer tok-1\r\nContent-Type: application/json\r\n";
    let (status, answer) = request(port, "POST", "/api/v1/ingest", auth, &Value::from(batch).to_string());
    let stopped = daemon.terminate();
    assert_eq!(status, 200, "{answer}\n{}", daemon.tail());
    assert!(stopped.success(), "{}", daemon.tail());

    // The journal holds what detection counted and scored, and what reports show.
    let store = Store::open(&dir.path().join("state.db")).unwrap();
    let mut stored = Vec::new();
    let from = Utc::now() - chrono::Duration::hours(1);
    let to = Utc::now() + chrono::Duration::hours(1);
    store.each_logged_mention("kroon-bank", from, to, |m| stored.push((m.id, m.text))).unwrap();
    stored.sort();
    let texts: Vec<&str> = stored.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, expected());
}

#[tokio::test]
async fn json_api_text_is_kept_as_written() {
    let items: Vec<Value> = WRITTEN.iter().enumerate().map(|(i, (text, _))| json!({"id": i, "body": text})).collect();
    let body = json!({ "data": items }).to_string();
    let addr = http::serve(Router::new().route("/posts", get(move || async move { body }))).await;
    let kind = SourceKind::Json(json::Spec {
        url: format!("http://{addr}/posts").parse().unwrap(),
        items: "/data".into(),
        fields: JsonFields {
            id: "/id".into(),
            text: "/body".into(),
            author: None,
            followers: None,
            lang: None,
            created: None,
            url: None,
        },
        cursor: JsonCursor::MaxId { param: "since_id".into() },
        token: None,
    });
    let kind = build_kind("plain", Duration::from_secs(3600), DEFAULT_MAX_BODY_BYTES, kind, &Environment::default());
    let page = sources::page(&*kind, &Http::new("stormwatch-test").unwrap(), at(), &Value::Null).await.unwrap();
    let texts: Vec<&str> = page.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, expected(), "{:?}", page.skipped);
}

#[tokio::test]
async fn file_lines_text_is_kept_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    let lines: String = WRITTEN.iter().map(|(text, _)| format!("{}\n", json!({ "text": text }))).collect();
    std::fs::write(&path, lines).unwrap();
    let kind = SourceKind::File(file::Spec { path });
    let kind = build_kind("plain", Duration::from_secs(3600), DEFAULT_MAX_BODY_BYTES, kind, &Environment::default());
    let page = sources::page(&*kind, &Http::new("stormwatch-test").unwrap(), at(), &Value::Null).await.unwrap();
    let texts: Vec<&str> = page.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, expected(), "{:?}", page.skipped);
}
