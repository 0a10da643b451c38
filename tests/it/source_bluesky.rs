//! The bluesky kind against a loopback server that behaves like a PDS/AppView: sessions
//! (create, refresh, expiry), `searchPosts` newest first with an offset `cursor` and an
//! inclusive `since`, and `getProfiles` for follower counts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use stormwatch::model::Mention;
use stormwatch::secret::{Environment, SecretRef};
use stormwatch::sources::{bluesky, SourceKind, DEFAULT_MAX_BODY_BYTES};
use stormwatch::sources::{Http, Kind, SourceError};
use url::Url;

use crate::support::http;
use crate::support::sources::{self, build_kind, Poll, PollAt};

const IDENTIFIER: &str = "watcher.bsky.social";

#[derive(Default)]
struct Pds {
    password: String,
    /// (sort time, postView)
    posts: Vec<(DateTime<Utc>, Value)>,
    followers: HashMap<String, u64>,
    access: HashSet<String>,
    refresh: HashSet<String>,
    issued: usize,
    creates: usize,
    refreshes: usize,
    searches: Vec<HashMap<String, String>>,
    profile_calls: Vec<Vec<String>>,
    profiles_fail: bool,
    raw_search: Option<&'static str>,
}

type Shared = Arc<Mutex<Pds>>;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-11-11T20:00:00Z").unwrap().with_timezone(&Utc)
}

fn bearer(headers: &HeaderMap) -> String {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    auth.strip_prefix("Bearer ").unwrap_or("").to_string()
}

fn query(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

fn xrpc_error(status: StatusCode, error: &str, message: &str) -> Response {
    (status, Json(json!({"error": error, "message": message}))).into_response()
}

fn issue(pds: &mut Pds) -> Value {
    pds.issued += 1;
    let (access, refresh) = (format!("access-{}", pds.issued), format!("refresh-{}", pds.issued));
    pds.access.insert(access.clone());
    pds.refresh.insert(refresh.clone());
    json!({"did": "did:plc:watcher", "handle": IDENTIFIER, "accessJwt": access, "refreshJwt": refresh})
}

async fn create_session(State(shared): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut pds = shared.lock().unwrap();
    pds.creates += 1;
    if body["identifier"] != IDENTIFIER || body["password"] != pds.password.as_str() {
        return xrpc_error(StatusCode::UNAUTHORIZED, "AuthenticationRequired", "Invalid identifier or password");
    }
    Json(issue(&mut pds)).into_response()
}

async fn refresh_session(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let mut pds = shared.lock().unwrap();
    pds.refreshes += 1;
    if !pds.refresh.remove(&bearer(&headers)) {
        return xrpc_error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired");
    }
    Json(issue(&mut pds)).into_response()
}

async fn search_posts(State(shared): State<Shared>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let mut pds = shared.lock().unwrap();
    let q: HashMap<String, String> = query(raw).into_iter().collect();
    pds.searches.push(q.clone());
    if !pds.access.contains(&bearer(&headers)) {
        return xrpc_error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired");
    }
    if let Some(raw) = pds.raw_search {
        return ([(header::CONTENT_TYPE, "application/json")], raw).into_response();
    }
    assert_eq!(q.get("sort").map(String::as_str), Some("latest"));
    let since = q.get("since").map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
    let mut hits: Vec<&(DateTime<Utc>, Value)> =
        pds.posts.iter().filter(|(t, _)| since.is_none_or(|s| *t >= s)).collect();
    hits.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1["uri"].as_str().cmp(&a.1["uri"].as_str())));
    let offset: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
    let limit: usize = q.get("limit").map_or(25, |l| l.parse().unwrap());
    let page: Vec<Value> = hits.iter().skip(offset).take(limit).map(|(_, v)| v.clone()).collect();
    let mut body = json!({"hitsTotal": hits.len(), "posts": page});
    if offset + limit < hits.len() {
        body["cursor"] = json!((offset + limit).to_string());
    }
    Json(body).into_response()
}

async fn get_profiles(State(shared): State<Shared>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let mut pds = shared.lock().unwrap();
    let actors: Vec<String> = query(raw).into_iter().filter(|(k, _)| k == "actors").map(|(_, v)| v).collect();
    pds.profile_calls.push(actors.clone());
    if !pds.access.contains(&bearer(&headers)) {
        return xrpc_error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired");
    }
    if pds.profiles_fail {
        return xrpc_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "Internal Server Error");
    }
    if actors.len() > 25 {
        return xrpc_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Error: actors must not have more than 25 elements",
        );
    }
    let profiles: Vec<Value> = actors
        .iter()
        .filter_map(|did| {
            let n = pds.followers.get(did)?;
            let handle = format!("{}.test", &did[8..]);
            Some(json!({"did": did, "handle": handle, "followersCount": n, "followsCount": 1, "postsCount": 9}))
        })
        .collect();
    Json(json!({"profiles": profiles})).into_response()
}

async fn start(password: &str) -> (Url, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Pds { password: password.to_string(), ..Pds::default() }));
    let app = Router::new()
        .route("/xrpc/com.atproto.server.createSession", post(create_session))
        .route("/xrpc/com.atproto.server.refreshSession", post(refresh_session))
        .route("/xrpc/app.bsky.feed.searchPosts", get(search_posts))
        .route("/xrpc/app.bsky.actor.getProfiles", get(get_profiles))
        .with_state(shared.clone());
    let addr = http::serve(app).await;
    (Url::parse(&format!("http://{addr}")).unwrap(), shared)
}

/// A postView shaped like the real one.
fn post_view(author: usize, rkey: &str, created: DateTime<Utc>, text: &str) -> Value {
    let did = format!("did:plc:author{author:03}");
    let at = created.to_rfc3339_opts(SecondsFormat::Millis, true);
    json!({
        "uri": format!("at://{did}/app.bsky.feed.post/{rkey}"),
        "cid": "bafyreifbfn4dw7er77dlecjmf3azcmsazrt4lweh5f5bl2aqd3kgsq443m",
        "author": {
            "did": did, "handle": format!("author{author:03}.bsky.social"), "displayName": "Someone",
            "associated": {"chat": {"allowIncoming": "following"}},
            "viewer": {"muted": false, "blockedBy": false}, "labels": [],
            "createdAt": "2023-07-24T21:52:32.643Z"
        },
        "record": {"$type": "app.bsky.feed.post", "createdAt": at, "facets": [], "langs": ["nl"], "text": text},
        "replyCount": 0, "repostCount": 0, "likeCount": 1, "quoteCount": 0,
        "indexedAt": at,
        "viewer": {"threadMuted": false, "embeddingDisabled": false},
        "labels": []
    })
}

fn add(shared: &Shared, author: usize, rkey: &str, created: DateTime<Utc>, text: &str) {
    let mut pds = shared.lock().unwrap();
    pds.followers.insert(format!("did:plc:author{author:03}"), 1000 + author as u64);
    pds.posts.push((created, post_view(author, rkey, created, text)));
}

/// (createSession calls, refreshSession calls).
fn logins(shared: &Shared) -> (usize, usize) {
    let pds = shared.lock().unwrap();
    (pds.creates, pds.refreshes)
}

fn kind(url: Url, password: &str) -> Box<dyn Kind> {
    let env = Environment::fixed([("BSKY_ID", IDENTIFIER), ("BSKY_PW", password)]);
    let kind = SourceKind::Bluesky(bluesky::Spec {
        url,
        query: "kroonbank".into(),
        identifier: SecretRef::Env("BSKY_ID".into()),
        password: SecretRef::Env("BSKY_PW".into()),
    });
    build_kind("sky", Duration::from_secs(12 * 3600), DEFAULT_MAX_BODY_BYTES, kind, &env)
}

/// One poll, as the poller makes it, backfilling 12 hours; every page hands back a cursor.
async fn poll(kind: &dyn Kind, http: &Http, cursor: &mut Value, now: DateTime<Utc>) -> Result<Poll, SourceError> {
    let at = PollAt { source: "sky", backfill_since: now - chrono::Duration::hours(12), now };
    let pages = sources::pages(kind, http, at, cursor, 20).await?;
    assert!(pages.iter().all(|p| !p.cursor.is_null()));
    Ok(Poll::of(pages))
}

fn rkeys(mentions: &[Mention]) -> Vec<String> {
    let mut keys: Vec<String> = mentions.iter().map(|m| m.id.rsplit('/').next().unwrap().to_string()).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn first_poll_logs_in_pages_back_to_backfill_since_and_later_polls_get_only_newer_posts() {
    let (url, shared) = start("app-pass-1").await;
    // 230 posts by 30 authors, one every 5 minutes, the newest 2 minutes ago: 144 are within 12 hours.
    for i in 0..230usize {
        let created = now() - chrono::Duration::minutes(2 + 5 * (229 - i as i64));
        add(&shared, i % 30, &format!("p{i:04}"), created, &format!("post {i} over kroonbank"));
    }
    let kind = kind(url, "app-pass-1");
    let http = Http::new("stormwatch-test").unwrap();
    let mut cursor = Value::Null;

    let first = poll(kind.as_ref(), &http, &mut cursor, now()).await.unwrap();
    assert_eq!(rkeys(&first.mentions), (86..230).map(|i| format!("p{i:04}")).collect::<Vec<_>>());
    assert_eq!(first.pages, 2, "100 and then the remaining 44 within the backfill");
    let newest = first.mentions.iter().find(|m| m.id.ends_with("/p0229")).unwrap();
    assert_eq!(newest.id, "at://did:plc:author019/app.bsky.feed.post/p0229");
    assert_eq!(newest.text, "post 229 over kroonbank");
    assert_eq!(newest.author.as_deref(), Some("author019.bsky.social"));
    assert_eq!(newest.url.as_deref(), Some("https://bsky.app/profile/author019.bsky.social/post/p0229"));
    assert_eq!((newest.lang.as_deref(), newest.reach), (Some("nl"), Some(1019)));
    assert_eq!(newest.published, now() - chrono::Duration::minutes(2));
    assert!(first.mentions.iter().all(|m| m.reach.is_some()), "every author's followers were looked up");
    {
        let pds = shared.lock().unwrap();
        assert_eq!((pds.creates, pds.refreshes), (1, 0), "one login, kept for the next page");
        let sizes: Vec<usize> = pds.profile_calls.iter().map(Vec::len).collect();
        assert_eq!(sizes, [25, 5], "30 authors in batches of at most 25, then cached");
        let cursors: Vec<Option<&String>> = pds.searches.iter().map(|q| q.get("cursor")).collect();
        assert_eq!(cursors, [None, Some(&"100".to_string())]);
    }

    // New posts: one at exactly the newest time seen (since is inclusive), two later, one by a
    // new author.
    let at_newest = now() - chrono::Duration::minutes(2);
    add(&shared, 3, "q0001", at_newest, "same millisecond as the newest");
    add(&shared, 4, "q0002", now(), "later");
    add(&shared, 99, "q0003", now() + chrono::Duration::seconds(30), "new author");
    let later = now() + chrono::Duration::minutes(1);
    let second = poll(kind.as_ref(), &http, &mut cursor, later).await.unwrap();
    assert_eq!(rkeys(&second.mentions), ["q0001", "q0002", "q0003"], "new posts only, the boundary one not doubled");
    {
        let pds = shared.lock().unwrap();
        let since = pds.searches.last().unwrap().get("since").cloned();
        assert_eq!(since.as_deref(), Some("2024-11-11T19:58:00.000Z"), "since = the newest post time handed on");
        assert_eq!(
            pds.profile_calls.last().unwrap(),
            &["did:plc:author099".to_string()],
            "known authors come from the cache"
        );
        assert_eq!(pds.creates, 1);
    }

    // Nothing new: nothing handed on twice.
    let third = poll(kind.as_ref(), &http, &mut cursor, later).await.unwrap();
    assert_eq!(third.mentions.len(), 0, "{:?}", rkeys(&third.mentions));
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_and_a_dead_session_logged_in_again() {
    let (url, shared) = start("app-pass-2").await;
    add(&shared, 1, "a1", now() - chrono::Duration::hours(1), "first");
    let kind = kind(url, "app-pass-2");
    let http = Http::new("stormwatch-test").unwrap();
    let mut cursor = Value::Null;
    assert_eq!(poll(kind.as_ref(), &http, &mut cursor, now()).await.unwrap().mentions.len(), 1);

    // The access token expires: refreshed once, the search retried.
    shared.lock().unwrap().access.clear();
    add(&shared, 1, "a2", now(), "second");
    let got = poll(kind.as_ref(), &http, &mut cursor, now()).await.unwrap();
    assert_eq!(rkeys(&got.mentions), ["a2"]);
    assert_eq!(logins(&shared), (1, 1));

    // Both tokens die: the refresh fails and a new session is created.
    {
        let mut pds = shared.lock().unwrap();
        pds.access.clear();
        pds.refresh.clear();
    }
    add(&shared, 1, "a3", now() + chrono::Duration::seconds(1), "third");
    let got = poll(kind.as_ref(), &http, &mut cursor, now()).await.unwrap();
    assert_eq!(rkeys(&got.mentions), ["a3"]);
    assert_eq!(logins(&shared), (2, 2));
}

#[tokio::test]
async fn refused_credentials_are_an_auth_error_that_does_not_show_the_password() {
    let (url, shared) = start("the-right-one").await;
    let kind = kind(url, "hunter2-wrong");
    let http = Http::new("stormwatch-test").unwrap();
    let err = poll(kind.as_ref(), &http, &mut Value::Null, now()).await.err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, SourceError::Auth(_)), "{err:?}");
    assert!(msg.contains("createSession") && msg.contains("HTTP 401"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert_eq!(shared.lock().unwrap().searches.len(), 0, "no search without a session");
}

#[tokio::test]
async fn failed_profile_lookups_keep_the_mentions_without_reach() {
    let (url, shared) = start("app-pass-3").await;
    add(&shared, 1, "r1", now() - chrono::Duration::minutes(10), "one");
    add(&shared, 2, "r2", now() - chrono::Duration::minutes(5), "two");
    shared.lock().unwrap().profiles_fail = true;
    let kind = kind(url, "app-pass-3");
    let http = Http::new("stormwatch-test").unwrap();
    let mut cursor = Value::Null;
    let got = poll(kind.as_ref(), &http, &mut cursor, now()).await.unwrap();
    assert_eq!(rkeys(&got.mentions), ["r1", "r2"]);
    assert!(got.mentions.iter().all(|m| m.reach.is_none()));

    // A failure is not cached: once the lookup works again, reach comes back.
    shared.lock().unwrap().profiles_fail = false;
    add(&shared, 1, "r3", now(), "three");
    let got = poll(kind.as_ref(), &http, &mut cursor, now()).await.unwrap();
    assert_eq!(got.mentions.iter().map(|m| m.reach).collect::<Vec<_>>(), [Some(1001)]);
}

#[tokio::test]
async fn a_bad_post_is_skipped_and_the_rest_kept() {
    let (url, shared) = start("app-pass-4").await;
    add(&shared, 1, "g1", now() - chrono::Duration::minutes(10), "good one");
    add(&shared, 2, "g2", now() - chrono::Duration::minutes(5), "good two");
    {
        let mut pds = shared.lock().unwrap();
        let mut image_only = post_view(3, "b1", now() - chrono::Duration::minutes(7), "");
        image_only["record"]["text"] = json!("");
        pds.posts.push((now() - chrono::Duration::minutes(7), image_only));
        let mut no_uri = post_view(3, "b2", now() - chrono::Duration::minutes(6), "lost");
        no_uri.as_object_mut().unwrap().remove("uri");
        pds.posts.push((now() - chrono::Duration::minutes(6), no_uri));
    }
    let kind = kind(url, "app-pass-4");
    let http = Http::new("stormwatch-test").unwrap();
    let got = poll(kind.as_ref(), &http, &mut Value::Null, now()).await.unwrap();
    assert_eq!(rkeys(&got.mentions), ["g1", "g2"]);
    let skipped: Vec<(&str, &str)> = got.skipped.iter().map(|s| (s.item.as_str(), s.why.as_str())).collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].1, "no uri");
    assert!(skipped[1].0.ends_with("/b1") && skipped[1].1.contains("no text"), "{skipped:?}");
}

#[tokio::test]
async fn a_malformed_body_is_a_parse_error() {
    let (url, shared) = start("app-pass-5").await;
    let kind = kind(url, "app-pass-5");
    let http = Http::new("stormwatch-test").unwrap();
    for (raw, want) in [
        ("{\"cursor\": \"100\", \"posts\": [{\"uri\": \"at://", "invalid JSON"),
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", "HTML"),
        ("{\"hitsTotal\": 3}", "no posts array"),
    ] {
        shared.lock().unwrap().raw_search = Some(raw);
        match poll(kind.as_ref(), &http, &mut Value::Null, now()).await {
            Err(SourceError::Parse(msg)) => assert!(msg.contains(want), "{msg}"),
            other => panic!("expected a parse error, got {:?}", other.map(|p| p.mentions)),
        }
    }
}
