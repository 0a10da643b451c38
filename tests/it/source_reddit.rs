//! The reddit kind against a loopback server that pages like Reddit: newest first, `after`
//! with a fullname to go older, `after: null` at the end, an empty page for an `after` post
//! that no longer exists, and an OAuth token endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, get};
use axum::Router;
use chrono::DateTime;
use serde_json::{json, Value};
use stormwatch::secret::{Environment, SecretRef};
use stormwatch::sources::reddit::{self, Listing};
use stormwatch::sources::{Http, Kind, PageRequest, SourceError, Validators};
use stormwatch::sources::{SourceKind, DEFAULT_MAX_BODY_BYTES};
use url::Url;

use crate::support::http;
use crate::support::sources::{self, build_kind, Poll, PollAt};

const UA: &str = "stormwatch-test-reddit/1.0 (by u/stormwatch_tests)";
/// The server's page size: small, so a few posts make several pages.
const PAGE: usize = 3;
/// The poll starts here; posts are at BASE + n seconds.
const BASE: i64 = 1_714_500_000;

#[derive(Clone)]
struct Post {
    id: String,
    utc: i64,
    title: String,
    selftext: String,
    /// Served without `name` and `id` (a broken item).
    nameless: bool,
}

fn post(id: &str, offset: i64) -> Post {
    Post {
        id: id.into(),
        utc: BASE + offset,
        title: format!("Kroonbank {id}"),
        selftext: format!("Body of {id}."),
        nameless: false,
    }
}

#[derive(Default)]
struct Server {
    /// Newest first, as Reddit lists them.
    posts: Vec<Post>,
    /// Serve a body that is not JSON.
    broken: bool,
    /// Every request: path and query, User-Agent, Authorization.
    log: Vec<(String, String, String)>,
    tokens_issued: usize,
}

type Shared = Arc<Mutex<Server>>;

impl Server {
    fn add(&mut self, mut posts: Vec<Post>) {
        self.posts.append(&mut posts);
        self.posts.sort_by(|a, b| b.utc.cmp(&a.utc).then(b.id.cmp(&a.id)));
    }
}

fn child(p: &Post) -> Value {
    let mut data = json!({
        "subreddit_id": "t5_2qh1i", "approved_at_utc": null, "subreddit": "kroonbank",
        "selftext": p.selftext, "selftext_html": null, "saved": false, "id": p.id, "name": format!("t3_{}", p.id),
        "author": format!("user_{}", p.id), "score": 5, "ups": 5, "num_comments": 1, "domain": "self.kroonbank",
        "is_self": true, "over_18": false, "removed_by_category": null, "subreddit_subscribers": 44134,
        "permalink": format!("/r/kroonbank/comments/{}/post/", p.id),
        "url": format!("https://www.reddit.com/r/kroonbank/comments/{}/post/", p.id),
        "created": p.utc as f64 + 28800.0, "created_utc": p.utc as f64, "title": p.title,
    });
    if p.nameless {
        let d = data.as_object_mut().unwrap();
        d.remove("name");
        d.remove("id");
    }
    json!({"kind": "t3", "data": data})
}

async fn listing(
    state: State<Shared>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    q: Query<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap();
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    s.log.push((uri.to_string(), header("user-agent"), header("authorization")));
    if s.broken {
        return (StatusCode::OK, [("content-type", "application/json")], "{\"kind\": \"Listing\", \"data\": {\"chil")
            .into_response();
    }
    assert_eq!(q.get("limit").map(String::as_str), Some("100"));
    assert_eq!(q.get("raw_json").map(String::as_str), Some("1"));
    let start = match q.get("after") {
        // Reddit answers an empty listing when the `after` post is gone.
        Some(a) => match s.posts.iter().position(|p| format!("t3_{}", p.id) == *a) {
            Some(i) => i + 1,
            None => s.posts.len(),
        },
        None => 0,
    };
    let page: Vec<&Post> = s.posts.iter().skip(start).take(PAGE).collect();
    let after = (start + PAGE < s.posts.len()).then(|| page.last().map(|p| format!("t3_{}", p.id))).flatten();
    let children: Vec<Value> = page.iter().map(|p| child(p)).collect();
    let body = json!({"kind": "Listing", "data": {
        "after": after, "dist": children.len(), "modhash": "", "geo_filter": "", "children": children, "before": null
    }});
    ([("x-ratelimit-remaining", "99.0"), ("x-ratelimit-reset", "300")], axum::Json(body)).into_response()
}

async fn token(state: State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut s = state.lock().unwrap();
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    s.log.push(("/api/v1/access_token".into(), header("user-agent"), header("authorization")));
    // base64("test-client-id:test-client-secret")
    if header("authorization") != "Basic dGVzdC1jbGllbnQtaWQ6dGVzdC1jbGllbnQtc2VjcmV0"
        || body != "grant_type=client_credentials"
    {
        return (StatusCode::UNAUTHORIZED, "{\"message\": \"Unauthorized\", \"error\": 401}").into_response();
    }
    s.tokens_issued += 1;
    let n = s.tokens_issued;
    axum::Json(json!({"access_token": format!("tok-{n}"), "token_type": "bearer", "expires_in": 86400, "scope": "*"}))
        .into_response()
}

async fn serve(posts: Vec<Post>) -> (Url, Shared) {
    let state: Shared = Arc::new(Mutex::new(Server::default()));
    state.lock().unwrap().add(posts);
    let app = Router::new()
        .route("/search.json", get(listing))
        .route("/r/{sub}/new.json", get(listing))
        .route("/api/v1/access_token", routing::post(token))
        .with_state(state.clone());
    let addr = http::serve(app).await;
    (Url::parse(&format!("http://{addr}")).unwrap(), state)
}

/// `credentials`: the client id and secret the source is configured with, if any.
fn kind(url: &Url, subreddit: bool, credentials: Option<(&str, &str)>) -> Box<dyn Kind> {
    let kind = SourceKind::Reddit(reddit::Spec {
        url: url.clone(),
        listing: if subreddit { Listing::Subreddit("kroonbank".into()) } else { Listing::Search("kroonbank".into()) },
        user_agent: UA.into(),
        credentials: credentials
            .map(|_| (SecretRef::Env("REDDIT_CLIENT_ID".into()), SecretRef::Env("REDDIT_CLIENT_SECRET".into()))),
    });
    let env = Environment::fixed(
        credentials.into_iter().flat_map(|(id, secret)| [("REDDIT_CLIENT_ID", id), ("REDDIT_CLIENT_SECRET", secret)]),
    );
    build_kind("reddit-kroon", Duration::from_secs(3600), DEFAULT_MAX_BODY_BYTES, kind, &env)
}

/// What one poll from `cursor` handed on, backfilling to `BASE + backfill_since`.
async fn poll(kind: &dyn Kind, http: &Http, mut cursor: Value, backfill_since: i64) -> Result<Poll, SourceError> {
    let at = PollAt {
        source: "reddit-kroon",
        backfill_since: DateTime::from_timestamp(BASE + backfill_since, 0).unwrap(),
        now: DateTime::from_timestamp(BASE + 100_000, 0).unwrap(),
    };
    Ok(Poll::of(sources::pages(kind, http, at, &mut cursor, 20).await?))
}

fn ids(p: &Poll) -> Vec<&str> {
    p.mentions.iter().map(|m| m.id.as_str()).collect()
}

#[tokio::test]
async fn first_poll_pages_back_to_backfill_since_and_stops() {
    let posts = (1..=9).map(|n| post(&format!("p{n}"), n * 10)).collect();
    let (url, server) = serve(posts).await;
    let http = Http::new("stormwatch-test").unwrap();
    let k = kind(&url, false, None);
    // Backfill to BASE+45: p5..p9 are newer.
    let got = poll(&*k, &http, Value::Null, 45).await.unwrap();
    assert_eq!(ids(&got), ["t3_p9", "t3_p8", "t3_p7", "t3_p6", "t3_p5"]);
    assert_eq!(got.pages, 2, "stops on the page that reaches backfill_since");
    let m = &got.mentions[0];
    assert_eq!(m.source, "reddit-kroon");
    assert_eq!(m.text, "Kroonbank p9\nBody of p9.");
    assert_eq!(m.author.as_deref(), Some("user_p9"));
    assert_eq!(m.published, DateTime::from_timestamp(BASE + 90, 0).unwrap());
    assert_eq!(m.url.as_deref(), Some("https://www.reddit.com/r/kroonbank/comments/p9/post/"));
    assert_eq!(m.reach, None);
    let s = server.lock().unwrap();
    let paths: Vec<&str> = s.log.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/search.json?q=kroonbank&sort=new&limit=100&raw_json=1",
            "/search.json?q=kroonbank&sort=new&limit=100&raw_json=1&after=t3_p7"
        ]
    );
    assert!(s.log.iter().all(|l| l.1 == UA), "the configured User-Agent replaces the client's: {:?}", s.log);
    assert!(s.log.iter().all(|l| l.2.is_empty()), "no Authorization without credentials");
}

#[tokio::test]
async fn a_later_poll_gets_only_newer_posts_without_gap_or_duplicate() {
    let posts = (1..=5).map(|n| post(&format!("p{n}"), n * 10)).collect();
    let (url, server) = serve(posts).await;
    let http = Http::new("stormwatch-test").unwrap();
    let k = kind(&url, true, None);
    let first = poll(&*k, &http, Value::Null, 0).await.unwrap();
    assert_eq!(ids(&first), ["t3_p5", "t3_p4", "t3_p3", "t3_p2", "t3_p1"]);
    // New posts: more than a page, one in the same second as the newest already handed on.
    server.lock().unwrap().add(vec![post("q0", 50), post("q1", 60), post("q2", 70), post("q3", 80), post("q4", 90)]);
    let log_before = server.lock().unwrap().log.len();
    let second = poll(&*k, &http, first.cursor.clone(), 0).await.unwrap();
    assert_eq!(ids(&second), ["t3_q4", "t3_q3", "t3_q2", "t3_q1", "t3_q0"]);
    assert_eq!(second.pages, 2);
    assert!(server.lock().unwrap().log[log_before..].iter().all(|l| l.0.starts_with("/r/kroonbank/new.json?")));
    // Nothing new: one request, nothing handed on, the cursor stays put.
    let third = poll(&*k, &http, second.cursor.clone(), 0).await.unwrap();
    assert!(third.mentions.is_empty() && third.skipped.is_empty());
    assert_eq!((third.pages, &third.cursor), (1, &second.cursor));
}

#[tokio::test]
async fn a_post_deleted_between_pages_does_not_lose_or_double_anything() {
    let posts = (1..=8).map(|n| post(&format!("p{n}"), n * 10)).collect();
    let (url, server) = serve(posts).await;
    let http = Http::new("stormwatch-test").unwrap();
    let k = kind(&url, false, None);
    // Paged by hand, not with `sources::pages`: the server changes between the first page and
    // the rest of the same poll.
    let validators = Validators::default();
    let now = DateTime::from_timestamp(BASE + 100_000, 0).unwrap();
    let since = DateTime::from_timestamp(BASE, 0).unwrap();
    let req = PageRequest {
        source: "reddit-kroon",
        cursor: &Value::Null,
        validators: &validators,
        backfill_since: since,
        now,
    };
    let first = k.page(&http, &req).await.unwrap();
    assert!(first.more);
    let mut handed: Vec<String> = first.mentions.iter().map(|m| m.id.clone()).collect();
    assert_eq!(handed, ["t3_p8", "t3_p7", "t3_p6"]);
    {
        // The post the next page starts after is deleted, and a new one arrives.
        let mut s = server.lock().unwrap();
        s.posts.retain(|p| p.id != "p6");
        s.add(vec![post("n1", 95)]);
    }
    let mut cursor = first.cursor;
    for _ in 0..10 {
        let req = PageRequest { cursor: &cursor, ..req.clone() };
        let page = k.page(&http, &req).await.unwrap();
        handed.extend(page.mentions.iter().map(|m| m.id.clone()));
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(handed, ["t3_p8", "t3_p7", "t3_p6", "t3_p5", "t3_p4", "t3_p3", "t3_p2", "t3_p1"]);
    let next = poll(&*k, &http, cursor, 0).await.unwrap();
    assert_eq!(ids(&next), ["t3_n1"], "the post that arrived during the run comes with the next poll");
}

#[tokio::test]
async fn a_page_with_bad_items_skips_them_and_keeps_the_rest() {
    let mut removed = post("r1", 30);
    removed.selftext = "[removed]".into();
    let mut nameless = post("x1", 20);
    nameless.nameless = true;
    let (url, _server) = serve(vec![post("p1", 10), nameless, removed, post("p4", 40)]).await;
    let http = Http::new("stormwatch-test").unwrap();
    let got = poll(&*kind(&url, false, None), &http, Value::Null, 0).await.unwrap();
    assert_eq!(ids(&got), ["t3_p4", "t3_p1"]);
    let skipped: Vec<(&str, &str)> = got.skipped.iter().map(|s| (s.item.as_str(), s.why.as_str())).collect();
    assert_eq!(skipped, [("#2", "no fullname (name) or id"), ("t3_r1", "post [removed]")]);
}

#[tokio::test]
async fn a_malformed_body_is_a_parse_error() {
    let (url, server) = serve(vec![post("p1", 10)]).await;
    server.lock().unwrap().broken = true;
    let http = Http::new("stormwatch-test").unwrap();
    match poll(&*kind(&url, false, None), &http, Value::Null, 0).await {
        Err(SourceError::Parse(msg)) => assert!(msg.contains("invalid JSON"), "{msg}"),
        Err(e) => panic!("expected a parse error, got {e}"),
        Ok(_) => panic!("expected a parse error, got a page"),
    }
}

#[tokio::test]
async fn with_credentials_a_cached_token_is_sent_as_bearer() {
    let posts = (1..=7).map(|n| post(&format!("p{n}"), n * 10)).collect();
    let (url, server) = serve(posts).await;
    let k = kind(&url, false, Some(("test-client-id", "test-client-secret")));
    let http = Http::new("stormwatch-test").unwrap();
    let first = poll(&*k, &http, Value::Null, 0).await.unwrap();
    assert_eq!(first.mentions.len(), 7);
    let second = poll(&*k, &http, first.cursor, 0).await.unwrap();
    assert!(second.mentions.is_empty());
    let s = server.lock().unwrap();
    assert_eq!(s.tokens_issued, 1, "one token for all pages and polls");
    let (token_calls, api_calls): (Vec<_>, Vec<_>) = s.log.iter().partition(|l| l.0 == "/api/v1/access_token");
    assert_eq!(token_calls.len(), 1);
    assert_eq!(token_calls[0].1, UA);
    assert_eq!(api_calls.len(), 4);
    assert!(api_calls.iter().all(|l| l.2 == "Bearer tok-1" && l.1 == UA), "{api_calls:?}");
}

#[tokio::test]
async fn refused_credentials_are_an_auth_error_without_the_secret() {
    let (url, server) = serve(vec![post("p1", 10)]).await;
    let k = kind(&url, false, Some(("test-client-id", "wrong-secret-value")));
    let http = Http::new("stormwatch-test").unwrap();
    match poll(&*k, &http, Value::Null, 0).await {
        Err(e @ SourceError::Auth(_)) => {
            let msg = e.to_string();
            assert!(msg.contains("401") && !msg.contains("wrong-secret-value"), "{msg}");
        }
        Err(e) => panic!("expected an auth error, got {e}"),
        Ok(_) => panic!("expected an auth error, got a page"),
    }
    assert!(server.lock().unwrap().log.iter().all(|l| l.0 == "/api/v1/access_token"), "no API call without a token");
}

#[tokio::test]
async fn escaped_ampersands_and_angle_brackets_in_titles_and_self_texts_are_read_as_written() {
    // Reddit stores what users type with `&`, `<` and `>` escaped, and serves it so in
    // `title` and `selftext` even with raw_json=1. A user who typed `&lt;` meant those four
    // characters: it arrives as `&amp;lt;` and must come back as `&lt;`, not as `<`.
    let mut p = post("e1", 10);
    p.title = "Kroonbank fees &amp; charges &gt; 10 euro".into();
    p.selftext = "a &lt;b&gt; c, R&amp;D wrote &amp;lt;3 and <kept>".into();
    let (url, _server) = serve(vec![p]).await;
    let http = Http::new("stormwatch-test").unwrap();
    let got = poll(&*kind(&url, false, None), &http, Value::Null, 0).await.unwrap();
    let texts: Vec<&str> = got.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["Kroonbank fees & charges > 10 euro\na <b> c, R&D wrote &lt;3 and <kept>"]);
}
