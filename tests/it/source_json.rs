//! The generic `json` kind against real HTTP servers on loopback, serving payloads shaped like
//! X API v2 search, YouTube commentThreads.list and a plain in-house API, with their paging.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use stormwatch::secret::{Environment, SecretRef};
use stormwatch::sources::json::{self, JsonCursor, JsonFields};
use stormwatch::sources::SourceKind;
use stormwatch::sources::{Http, Kind, Page, SourceError};

use crate::support::http;
use crate::support::sources::{self, build_kind, PollAt};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const NOW: &str = "2024-09-24T12:00:00Z";

/// Serves `app` on loopback; its base URL.
async fn serve(app: Router) -> String {
    format!("http://{}", http::serve(app).await)
}

fn fields(id: &str, text: &str) -> JsonFields {
    JsonFields { id: id.into(), text: text.into(), author: None, followers: None, lang: None, created: None, url: None }
}

/// A `json` source; `token`: the bearer token it is configured with, if any.
fn source(url: &str, items: &str, fields: JsonFields, cursor: JsonCursor, token: Option<&str>) -> Box<dyn Kind> {
    let kind = SourceKind::Json(json::Spec {
        url: url.parse().unwrap(),
        items: items.into(),
        fields,
        cursor,
        token: token.map(|_| SecretRef::Env("API_TOKEN".into())),
    });
    let env = Environment::fixed(token.map(|t| ("API_TOKEN", t)));
    build_kind("api", Duration::from_secs(3600), 1024 * 1024, kind, &env)
}

fn at(backfill_since: &str) -> PollAt<'static> {
    PollAt { source: "api", backfill_since: t(backfill_since), now: t(NOW) }
}

/// One `page` call as the poller makes it.
async fn page(kind: &dyn Kind, cursor: &Value, backfill_since: &str) -> Result<Page, SourceError> {
    sources::page(kind, &Http::new("stormwatch-test").unwrap(), at(backfill_since), cursor).await
}

/// Polls until `more` is false, like the poller: returns the pages.
async fn poll(kind: &dyn Kind, cursor: &mut Value, backfill_since: &str) -> Vec<Page> {
    let http = Http::new("stormwatch-test").unwrap();
    sources::pages(kind, &http, at(backfill_since), cursor, 20).await.unwrap_or_else(|e| panic!("{e}"))
}

fn ids(pages: &[Page]) -> Vec<String> {
    pages.iter().flat_map(|p| p.mentions.iter().map(|m| m.id.clone())).collect()
}

type Shared<T> = Arc<Mutex<T>>;

// ---- X API v2: GET /2/tweets/search/recent, newest first, `since_id`, bearer token ----

#[derive(Default)]
struct XServer {
    /// (id, created_at, text)
    tweets: Vec<(u64, &'static str, &'static str)>,
    /// The `since_id` of each request, and whether it carried the right token.
    requests: Vec<(Option<String>, bool)>,
    ignore_since_id: bool,
}

async fn x_search(
    State(s): State<Shared<XServer>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut s = s.lock().unwrap();
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer x-test-token");
    s.requests.push((q.get("since_id").cloned(), authorized));
    if !authorized {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"title": "Unauthorized", "status": 401}))).into_response();
    }
    let since: Option<u64> = q.get("since_id").and_then(|v| v.parse().ok()).filter(|_| !s.ignore_since_id);
    let max: usize = q.get("max_results").and_then(|v| v.parse().ok()).unwrap_or(10);
    let mut hits: Vec<_> = s.tweets.iter().filter(|(id, _, _)| since.is_none_or(|since| *id > since)).collect();
    hits.sort_by_key(|h| std::cmp::Reverse(h.0));
    hits.truncate(max);
    // X's own names (with "rate-limit"); http.rs reads "x-ratelimit-*" / "ratelimit-*".
    let headers =
        [("x-rate-limit-limit", "450"), ("x-rate-limit-remaining", "447"), ("x-rate-limit-reset", "1727179200")];
    let Some(newest) = hits.first() else {
        return (headers, axum::Json(json!({"meta": {"result_count": 0}}))).into_response();
    };
    let data: Vec<Value> = hits
        .iter()
        .map(|(id, created, text)| {
            json!({"edit_history_tweet_ids": [id.to_string()], "id": id.to_string(), "author_id": "2244994945",
                   "created_at": created, "lang": "nl", "text": text})
        })
        .collect();
    let meta = json!({"newest_id": newest.0.to_string(), "oldest_id": hits[hits.len() - 1].0.to_string(),
                      "result_count": hits.len(), "next_token": "b26v89c19zqg8o3fpds4u1bwa7u5qyuk2ml6l2nh5hjwd"});
    (headers, axum::Json(json!({"data": data, "meta": meta}))).into_response()
}

const T0: u64 = 1_838_551_230_032_601_470;

fn x_source(base: &str, token: &str) -> Box<dyn Kind> {
    let f = JsonFields {
        author: Some("/author_id".into()),
        lang: Some("/lang".into()),
        created: Some("/created_at".into()),
        ..fields("/id", "/text")
    };
    let url = format!("{base}/2/tweets/search/recent?query=kroonbank%20-is%3Aretweet&max_results=10&tweet.fields=created_at,lang,author_id");
    source(&url, "/data", f, JsonCursor::MaxId { param: "since_id".into() }, Some(token))
}

#[tokio::test]
async fn x_v2_search_first_poll_drops_old_tweets_and_later_polls_ask_since_the_newest_id() {
    let state: Shared<XServer> = Arc::default();
    state.lock().unwrap().tweets = vec![
        (T0, "2024-09-24T10:00:00.000Z", "oud bericht over kroonbank"),
        (T0 + 7, "2024-09-24T10:40:00.000Z", "nog een oud bericht"),
        (T0 + 19, "2024-09-24T11:05:00.000Z", "Storing bij @kroonbank"),
        (T0 + 25, "2024-09-24T11:20:00.000Z", "Kroonbank app ligt eruit"),
        (T0 + 31, "2024-09-24T11:55:00.000Z", "@kroonbank al een uur geen pinbetalingen &amp; geen antwoord"),
    ];
    let base = serve(Router::new().route("/2/tweets/search/recent", get(x_search)).with_state(state.clone())).await;
    let kind = x_source(&base, "x-test-token");
    let since = "2024-09-24T11:00:00Z";

    let mut cursor = Value::Null;
    let first = poll(kind.as_ref(), &mut cursor, since).await;
    assert_eq!(ids(&first), [(T0 + 31).to_string(), (T0 + 25).to_string(), (T0 + 19).to_string()]);
    let m = &first[0].mentions[0];
    // The json kind reads text as written: an entity in it is what the API sent.
    assert_eq!(m.text, "@kroonbank al een uur geen pinbetalingen &amp; geen antwoord");
    assert_eq!((m.author.as_deref(), m.lang.as_deref()), (Some("2244994945"), Some("nl")));
    assert_eq!(m.published, t("2024-09-24T11:55:00Z"));
    assert_eq!(m.source, "api");

    // Two new tweets arrive; the next poll asks only for what is newer than the newest id.
    state.lock().unwrap().tweets.extend([
        (T0 + 40, "2024-09-24T11:57:00.000Z", "nieuw: storing nog niet opgelost"),
        (T0 + 52, "2024-09-24T11:59:00.000Z", "nieuw: kroonbank reageert eindelijk"),
    ]);
    let second = poll(kind.as_ref(), &mut cursor, since).await;
    assert_eq!(ids(&second), [(T0 + 52).to_string(), (T0 + 40).to_string()]);
    let third = poll(kind.as_ref(), &mut cursor, since).await;
    assert!(ids(&third).is_empty(), "nothing new: an empty result (no `data`) is an empty page");

    let requests = state.lock().unwrap().requests.clone();
    let sent: Vec<Option<String>> = requests.iter().map(|r| r.0.clone()).collect();
    assert_eq!(sent, [None, Some((T0 + 31).to_string()), Some((T0 + 52).to_string())]);
    assert!(requests.iter().all(|r| r.1), "every request carried the bearer token");
}

#[tokio::test]
async fn max_id_drops_items_a_server_returns_again_and_a_refused_token_is_an_http_error() {
    let state: Shared<XServer> = Arc::default();
    {
        let mut s = state.lock().unwrap();
        s.ignore_since_id = true;
        s.tweets = vec![(T0 + 1, "2024-09-24T11:10:00.000Z", "een"), (T0 + 2, "2024-09-24T11:20:00.000Z", "twee")];
    }
    let base = serve(Router::new().route("/2/tweets/search/recent", get(x_search)).with_state(state.clone())).await;
    let kind = x_source(&base, "x-test-token");
    let mut cursor = Value::Null;
    assert_eq!(
        ids(&poll(kind.as_ref(), &mut cursor, "2024-09-24T11:00:00Z").await),
        [(T0 + 2).to_string(), (T0 + 1).to_string()]
    );
    state.lock().unwrap().tweets.push((T0 + 3, "2024-09-24T11:30:00.000Z", "drie"));
    assert_eq!(ids(&poll(kind.as_ref(), &mut cursor, "2024-09-24T11:00:00Z").await), [(T0 + 3).to_string()]);

    let wrong = x_source(&base, "revoked-token");
    let err = page(wrong.as_ref(), &Value::Null, "2024-09-24T11:00:00Z").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!err.to_string().contains("revoked-token"), "the token stays out of errors");
}

// ---- YouTube Data API v3: GET /youtube/v3/commentThreads, order=time, pageToken ----

#[derive(Default)]
struct YouTube {
    /// (id, publishedAt, text as typed), any order; served newest first.
    comments: Vec<(String, String, String)>,
    /// The `pageToken` of each request.
    tokens: Vec<Option<String>>,
    authorization: Vec<Option<String>>,
}

async fn comment_threads(
    State(s): State<Shared<YouTube>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut s = s.lock().unwrap();
    s.tokens.push(q.get("pageToken").cloned());
    s.authorization.push(headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string));
    if q.get("videoId").map(String::as_str) != Some("kR00nB4nk01") || q.get("order").map(String::as_str) != Some("time")
    {
        return (StatusCode::BAD_REQUEST, "missing videoId or order").into_response();
    }
    let per_page: usize = q.get("maxResults").and_then(|v| v.parse().ok()).unwrap_or(20);
    let mut all = s.comments.clone();
    all.sort_by(|a, b| b.1.cmp(&a.1));
    // The token names the first comment of the page (opaque to the client).
    let start = match q.get("pageToken").and_then(|tok| tok.strip_prefix("QURTSl9p")) {
        Some(id) => match all.iter().position(|c| c.0 == id) {
            Some(i) => i,
            None => return (StatusCode::BAD_REQUEST, "invalid pageToken").into_response(),
        },
        None => 0,
    };
    let items: Vec<Value> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|(id, at, text)| {
            let mut snippet = json!({
                "channelId": "UC0kroon00000000000000ab", "videoId": "kR00nB4nk01",
                "authorDisplayName": format!("@viewer_{}", &id[id.len() - 2..]),
                "authorChannelUrl": format!("http://www.youtube.com/@viewer_{}", &id[id.len() - 2..]),
                "authorChannelId": {"value": "UCa1b2c3d4e5f6g7h8i9j0kl"},
                "canRate": true, "viewerRating": "none", "likeCount": 0, "publishedAt": at, "updatedAt": at
            });
            if !text.is_empty() {
                // As YouTube: `textOriginal` is what was typed, `textDisplay` HTML made of it.
                snippet["textDisplay"] = json!(html_of(text));
                snippet["textOriginal"] = json!(text);
            }
            json!({"kind": "youtube#commentThread", "etag": format!("e{id}"), "id": id,
                   "snippet": {"channelId": "UC0kroon00000000000000ab", "videoId": "kR00nB4nk01",
                               "topLevelComment": {"kind": "youtube#comment", "etag": format!("c{id}"), "id": id, "snippet": snippet},
                               "canReply": true, "totalReplyCount": 0, "isPublic": true}})
        })
        .collect();
    let mut body = json!({
        "kind": "youtube#commentThreadListResponse", "etag": "Leymzj7IilCkKdGveEdfycOes08",
        "pageInfo": {"totalResults": items.len(), "resultsPerPage": per_page}, "items": items
    });
    if let Some(next) = all.get(start + per_page) {
        body["nextPageToken"] = json!(format!("QURTSl9p{}", next.0));
    }
    axum::Json(body).into_response()
}

/// `textDisplay` for a typed comment, escaped and with line breaks as YouTube renders them.
fn html_of(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&#39;").replace('\n', "<br>")
}

fn comment(n: u32, at: &str, text: &str) -> (String, String, String) {
    (format!("UgzR3kq9nT0pTfU2YVl4AaABAg{n:02}"), at.to_string(), text.to_string())
}

fn youtube_source(base: &str) -> Box<dyn Kind> {
    let f = JsonFields {
        author: Some("/snippet/topLevelComment/snippet/authorDisplayName".into()),
        created: Some("/snippet/topLevelComment/snippet/publishedAt".into()),
        url: Some("/snippet/topLevelComment/snippet/authorChannelUrl".into()),
        ..fields("/id", "/snippet/topLevelComment/snippet/textOriginal")
    };
    let url = format!(
        "{base}/youtube/v3/commentThreads?part=snippet&videoId=kR00nB4nk01&order=time&maxResults=3&textFormat=html"
    );
    let cursor = JsonCursor::NextPage { pointer: "/nextPageToken".into(), param: Some("pageToken".into()) };
    source(&url, "/items", f, cursor, None)
}

#[tokio::test]
async fn youtube_comments_page_back_to_the_backfill_start_then_only_newer_ones_without_gap_or_duplicate() {
    let state: Shared<YouTube> = Arc::default();
    state.lock().unwrap().comments = vec![
        comment(1, "2024-09-24T09:00:00Z", "heel oud"),
        comment(2, "2024-09-24T09:50:00Z", "net te oud"),
        comment(3, "2024-09-24T10:30:00Z", "De app doet het weer niet\nIemand anders ook?"),
        comment(4, "2024-09-24T11:00:00Z", "Goede uitleg 'hoor'"),
        comment(5, "2024-09-24T11:30:00Z", "Storing sinds vanochtend >:("),
        comment(6, "2024-09-24T11:40:00Z", "zelfde hier"),
        comment(7, "2024-09-24T11:50:00Z", "klantenservice neemt niet op"),
    ];
    let base =
        serve(Router::new().route("/youtube/v3/commentThreads", get(comment_threads)).with_state(state.clone())).await;
    let kind = youtube_source(&base);
    let since = "2024-09-24T10:00:00Z";

    let mut cursor = Value::Null;
    let first = poll(kind.as_ref(), &mut cursor, since).await;
    assert_eq!(first.len(), 2, "page 2 holds a comment older than the backfill start: paging stops there");
    assert!(first[0].more && !first[1].more);
    let want: Vec<String> = [7, 6, 5, 4, 3].iter().map(|n| format!("UgzR3kq9nT0pTfU2YVl4AaABAg{n:02}")).collect();
    assert_eq!(ids(&first), want);
    let texts: Vec<&str> = first.iter().flat_map(|p| p.mentions.iter().map(|m| m.text.as_str())).collect();
    assert_eq!(
        texts[2..],
        ["Storing sinds vanochtend >:(", "Goede uitleg 'hoor'", "De app doet het weer niet\nIemand anders ook?"]
    );
    assert_eq!(first[0].mentions[0].author.as_deref(), Some("@viewer_07"));
    assert_eq!(first[0].mentions[0].published, t("2024-09-24T11:50:00Z"));
    assert_eq!(
        state.lock().unwrap().tokens,
        [None, Some("QURTSl9pUgzR3kq9nT0pTfU2YVl4AaABAg04".to_string())],
        "page 3 was not asked for"
    );

    // Four comments arrive between polls: more than one page of 3.
    state.lock().unwrap().comments.extend([
        comment(8, "2024-09-24T11:52:00Z", "nieuw 1"),
        comment(9, "2024-09-24T11:54:00Z", "nieuw 2"),
        comment(10, "2024-09-24T11:56:00Z", "nieuw 3"),
        comment(11, "2024-09-24T11:58:00Z", "nieuw 4"),
    ]);
    let second = poll(kind.as_ref(), &mut cursor, since).await;
    let want: Vec<String> = [11, 10, 9, 8].iter().map(|n| format!("UgzR3kq9nT0pTfU2YVl4AaABAg{n:02}")).collect();
    assert_eq!(ids(&second), want, "from the top down to the first comment already handed on");
    assert_eq!(second.len(), 2);

    let third = poll(kind.as_ref(), &mut cursor, since).await;
    assert_eq!((third.len(), ids(&third).len()), (1, 0), "nothing new: one request, no mentions");
    let s = state.lock().unwrap();
    assert_eq!(s.tokens.len(), 5);
    assert!(s.authorization.iter().all(Option::is_none), "no token configured, none sent");
}

#[tokio::test]
async fn a_comment_without_text_is_skipped_and_the_rest_of_the_page_kept() {
    let state: Shared<YouTube> = Arc::default();
    state.lock().unwrap().comments = vec![
        comment(1, "2024-09-24T11:10:00Z", "eerste"),
        comment(2, "2024-09-24T11:20:00Z", ""),
        comment(3, "2024-09-24T11:30:00Z", "derde"),
    ];
    let base =
        serve(Router::new().route("/youtube/v3/commentThreads", get(comment_threads)).with_state(state.clone())).await;
    let kind = youtube_source(&base);
    let p = page(kind.as_ref(), &Value::Null, "2024-09-24T10:00:00Z").await.unwrap();
    assert_eq!(ids(std::slice::from_ref(&p)), ["UgzR3kq9nT0pTfU2YVl4AaABAg03", "UgzR3kq9nT0pTfU2YVl4AaABAg01"]);
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].item, "UgzR3kq9nT0pTfU2YVl4AaABAg02");
    assert!(p.skipped[0].why.contains("no text"), "{}", p.skipped[0].why);
}

// ---- A plain API: a top-level array, `since` as an RFC 3339 time (inclusive) ----

#[derive(Default)]
struct Plain {
    body: Option<(&'static str, String)>,
    items: Vec<Value>,
    since: Vec<Option<String>>,
}

async fn plain(State(s): State<Shared<Plain>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut s = s.lock().unwrap();
    if let Some((content_type, body)) = &s.body {
        return ([("content-type", *content_type)], body.clone()).into_response();
    }
    s.since.push(q.get("since").cloned());
    let since = q.get("since").map(|v| t(v));
    let items: Vec<Value> = s
        .items
        .iter()
        .filter(|i| since.is_none_or(|since| i["posted"].as_str().is_none_or(|p| t(p) >= since)))
        .cloned()
        .collect();
    ([("ratelimit-remaining", "0"), ("ratelimit-reset", "30")], axum::Json(Value::Array(items))).into_response()
}

fn plain_source(base: &str) -> Box<dyn Kind> {
    let f = JsonFields {
        author: Some("/user/handle".into()),
        followers: Some("/user/followers".into()),
        created: Some("/posted".into()),
        ..fields("/uid", "/message")
    };
    source(&format!("{base}/api/mentions?brand=kroonbank"), "", f, JsonCursor::MaxTime { param: "since".into() }, None)
}

#[tokio::test]
async fn max_time_sends_the_newest_time_and_hands_on_same_second_items_once() {
    let state: Shared<Plain> = Arc::default();
    state.lock().unwrap().items = vec![
        json!({"uid": 1, "message": "te oud", "user": {"handle": "a", "followers": 5}, "posted": "2024-09-24T09:00:00Z"}),
        json!({"uid": 2, "message": "storing", "user": {"handle": "b", "followers": "1200"}, "posted": "2024-09-24T11:00:00Z"}),
        json!({"uid": 3, "user": {"handle": "c"}, "posted": "2024-09-24T11:10:00Z"}),
        json!({"message": "zonder id", "posted": "2024-09-24T11:15:00Z"}),
        json!({"uid": 4, "message": "nog steeds", "user": {"handle": "d"}, "posted": "2024-09-24T11:30:00.250Z"}),
    ];
    let base = serve(Router::new().route("/api/mentions", get(plain)).with_state(state.clone())).await;
    let kind = plain_source(&base);
    let since = "2024-09-24T10:00:00Z";
    let mut cursor = Value::Null;
    let first = poll(kind.as_ref(), &mut cursor, since).await;
    assert_eq!(ids(&first), ["2", "4"]);
    assert_eq!(first[0].mentions[0].reach, Some(1200));
    assert_eq!(first[0].rate_limit.pause(), Some(Duration::from_secs(30)), "rate-limit headers are passed on");
    let skipped: Vec<&str> = first[0].skipped.iter().map(|s| s.item.as_str()).collect();
    assert_eq!(skipped, ["3", "/3"], "a bad item is skipped by id, or by its position without one");

    state.lock().unwrap().items.extend([
        json!({"uid": 5, "message": "zelfde seconde", "posted": "2024-09-24T11:30:00.250Z"}),
        json!({"uid": 6, "message": "later", "posted": "2024-09-24T11:45:00Z"}),
    ]);
    let second = poll(kind.as_ref(), &mut cursor, since).await;
    assert_eq!(ids(&second), ["5", "6"], "uid 4 came back (inclusive since) and was dropped");
    let third = poll(kind.as_ref(), &mut cursor, since).await;
    assert!(ids(&third).is_empty());
    assert_eq!(
        state.lock().unwrap().since,
        [None, Some("2024-09-24T11:30:00Z".to_string()), Some("2024-09-24T11:45:00Z".to_string())],
        "RFC 3339 in whole seconds, rounded down"
    );
}

#[tokio::test]
async fn a_malformed_body_is_a_parse_error() {
    let state: Shared<Plain> = Arc::default();
    let base = serve(Router::new().route("/api/mentions", get(plain)).with_state(state.clone())).await;
    let kind = plain_source(&base);
    let cases = [
        ("text/html", "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>", "HTML"),
        ("application/json", r#"[{"uid": 1, "message": "afgebr"#, "invalid JSON"),
        ("application/json", r#"{"uid": 1, "message": "not in an array"}"#, "expected an array"),
        ("application/json", "", "empty body"),
    ];
    for (content_type, body, want) in cases {
        state.lock().unwrap().body = Some((content_type, body.to_string()));
        match page(kind.as_ref(), &Value::Null, "2024-09-24T10:00:00Z").await {
            Err(SourceError::Parse(m)) => assert!(m.contains(want), "{m}"),
            other => panic!("{body}: {other:?}"),
        }
    }
}

// ---- next_page with URLs: relative, then absolute on another host ----

#[derive(Default)]
struct Links {
    other_origin: String,
    authorization: Vec<(String, Option<String>)>,
}

async fn links_home(
    State(s): State<Shared<Links>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut s = s.lock().unwrap();
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    s.authorization.push(("home".into(), auth));
    let body = match q.get("before").map(String::as_str) {
        None => {
            json!({"results": [{"id": "p3", "body": "drie", "at": 1727175000}], "links": {"next": "/feed?brand=kroonbank&before=p3"}})
        }
        Some("p3") => json!({"results": [{"id": "p2", "body": "twee", "at": 1727174000}],
                              "links": {"next": format!("{}/archive?before=p2", s.other_origin)}}),
        Some(_) => json!({"results": [], "links": {"next": null}}),
    };
    axum::Json(body).into_response()
}

async fn links_archive(State(s): State<Shared<Links>>, headers: HeaderMap) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    s.lock().unwrap().authorization.push(("archive".into(), auth));
    axum::Json(json!({"results": [{"id": "p1", "body": "een", "at": 1727173000}], "links": {"next": ""}}))
        .into_response()
}

#[tokio::test]
async fn next_page_urls_are_followed_and_the_token_is_not_sent_to_another_host() {
    let state: Shared<Links> = Arc::default();
    let archive = serve(Router::new().route("/archive", get(links_archive)).with_state(state.clone())).await;
    state.lock().unwrap().other_origin = archive;
    let home = serve(Router::new().route("/feed", get(links_home)).with_state(state.clone())).await;
    let f = JsonFields { created: Some("/at".into()), ..fields("/id", "/body") };
    let cursor = JsonCursor::NextPage { pointer: "/links/next".into(), param: None };
    let kind = source(&format!("{home}/feed?brand=kroonbank"), "/results", f, cursor, Some("links-secret"));
    let mut cursor = Value::Null;
    let pages = poll(kind.as_ref(), &mut cursor, "2024-09-24T00:00:00Z").await;
    assert_eq!(ids(&pages), ["p3", "p2", "p1"]);
    let auth = state.lock().unwrap().authorization.clone();
    let want = |who: &str, sent: bool| (who.to_string(), sent.then(|| "Bearer links-secret".to_string()));
    assert_eq!(auth, [want("home", true), want("home", true), want("archive", false)]);
}

#[tokio::test]
async fn a_bare_next_page_token_without_a_param_is_a_config_error() {
    let app = Router::new()
        .route("/feed", get(|| async { axum::Json(json!({"results": [{"id": "a", "body": "x"}], "next": "CAoQAA"})) }));
    let base = serve(app).await;
    let cursor = JsonCursor::NextPage { pointer: "/next".into(), param: None };
    let kind = source(&format!("{base}/feed"), "/results", fields("/id", "/body"), cursor, None);
    let first = page(kind.as_ref(), &Value::Null, "2024-09-24T00:00:00Z").await.unwrap();
    assert!(first.more);
    let err = page(kind.as_ref(), &first.cursor, "2024-09-24T00:00:00Z").await.unwrap_err();
    assert!(matches!(&err, SourceError::Config(m) if m.contains("cursor.param")), "{err}");
}

#[tokio::test]
async fn the_same_page_under_ever_new_links_ends_the_pass_and_newer_items_are_still_seen() {
    #[derive(Default)]
    struct Loop {
        newest: Option<&'static str>,
        requests: usize,
    }
    let state: Shared<Loop> = Arc::default();
    async fn looping(State(s): State<Shared<Loop>>, Query(q): Query<HashMap<String, String>>) -> Response {
        let mut s = s.lock().unwrap();
        s.requests += 1;
        let n: u32 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let mut results = vec![
            json!({"id": "a", "body": "een", "at": 1727174000}),
            json!({"id": "b", "body": "twee", "at": 1727173000}),
        ];
        if let (1, Some(id)) = (n, s.newest) {
            results.insert(0, json!({"id": id, "body": "nieuw", "at": 1727175000}));
        }
        axum::Json(json!({"results": results, "next": format!("/feed?page={}", n + 1)})).into_response()
    }
    let base = serve(Router::new().route("/feed", get(looping)).with_state(state.clone())).await;
    let f = JsonFields { created: Some("/at".into()), ..fields("/id", "/body") };
    let cursor = JsonCursor::NextPage { pointer: "/next".into(), param: None };
    let kind = source(&format!("{base}/feed"), "/results", f, cursor, None);
    let mut cursor = Value::Null;
    let pages = poll(kind.as_ref(), &mut cursor, "2024-09-24T00:00:00Z").await;
    assert_eq!(ids(&pages), ["a", "b"]);
    assert_eq!(state.lock().unwrap().requests, 2, "the repeated page ended the pass");
    state.lock().unwrap().newest = Some("c");
    let pages = poll(kind.as_ref(), &mut cursor, "2024-09-24T00:00:00Z").await;
    assert_eq!(ids(&pages), ["c"], "the next pass starts at the top again");
}
