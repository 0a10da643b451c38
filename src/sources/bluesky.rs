//! `kind = "bluesky"`: posts matching a search query, from `app.bsky.feed.searchPosts`.
//!
//! Bluesky refuses anonymous search, so `page()` first makes sure it has a session:
//! `POST {url}/xrpc/com.atproto.server.createSession` with the identifier and app password
//! gives an access and a refresh token, kept in the struct (behind a `tokio::sync::Mutex`) and
//! reused across polls, since createSession is tightly rate-limited. When a call with the
//! access token answers 401, or 400 once a session existed (`http.send` drops the body, so the
//! `{"error":"ExpiredToken"}` cannot be read: any such answer counts as "expired"), the session
//! is refreshed once (`com.atproto.server.refreshSession` with the refresh token), or created
//! anew if that fails, and the call is retried once. A refused createSession is
//! [`SourceError::Auth`]; its message never holds the credentials.
//!
//! Search is `GET {url}/xrpc/app.bsky.feed.searchPosts?q=…&sort=latest&limit=100&since=…`,
//! newest first; the answer's `cursor` pages older. A *run* pages from the newest post back to
//! a floor: `backfill_since` while nothing was handed on yet (the first poll), afterwards the
//! newest post time handed on. The run goes on (`more`) while pages come with a cursor and
//! stay above the floor; posts below it are dropped. When the run ends, the newest post time
//! of the run becomes the next run's floor (`since`, which the server applies inclusively, so
//! the posts at exactly that time are remembered and dropped when they come again).
//!
//! The post time used for the floor is the one the server sorts and filters by: the earlier
//! of `record.createdAt` and `indexedAt`. It equals `createdAt` for ordinary posts, but a post
//! whose client clock ran ahead cannot push the floor past posts that have not been seen yet.
//!
//! A post becomes a [`Mention`] with its `uri` as id, `record.text`, `author.handle`, the first
//! of `record.langs`, `record.createdAt` (else `indexedAt`) and a `https://bsky.app` link.
//! Search results carry no follower counts, so reach comes from `app.bsky.actor.getProfiles`
//! (25 actors a call), cached per DID for a day in a bounded cache; when that lookup fails
//! the mentions are kept without reach.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use super::http::{parse_json_body, HttpResponse, Method};
use super::mark::Mark;
use super::primary_lang;
use super::registry::Settings;
use super::{
    cursor, parse_time, sane_time, Http, HttpRequest, Kind, Page, PageRequest, Skipped, SourceError, MAX_FUTURE_SKEW,
};
use crate::model::Mention;
use crate::secret::{Environment, SecretRef};
use crate::settings::Table;

/// Posts asked for per search request (the most searchPosts gives).
pub(crate) const LIMIT: usize = 100;
/// Actors per `getProfiles` call (the most it takes).
pub(crate) const PROFILES_PER_CALL: usize = 25;
/// DIDs whose follower count is remembered.
pub(crate) const REACH_CACHE_CAPACITY: usize = 10_000;
/// How long a follower count is trusted.
pub(crate) const REACH_CACHE_HOURS: i64 = 24;

/// `kind = "bluesky"`: `query`, the account's `identifier_env`/`identifier_file` and app
/// `password_env`/`password_file`, and `url` (the service host, default `https://bsky.social`).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub url: Url,
    pub query: String,
    pub identifier: SecretRef,
    pub password: SecretRef,
}

impl Settings for Spec {
    const KEYS: &'static [&'static str] =
        &["url", "query", "identifier_env", "identifier_file", "password_env", "password_file"];

    fn read(t: &mut Table<'_>) -> Option<Spec> {
        let query = t.required_string("query", "for kind bluesky");
        let secret = |t: &mut Table<'_>, base: &str| {
            let s = t.secret(base);
            if s.is_none() && !t.has(&format!("{base}_env")) && !t.has(&format!("{base}_file")) {
                t.problem(&format!("{base}_env"), "required for kind bluesky (or give it as a file)");
            }
            s
        };
        let identifier = secret(t, "identifier");
        let password = secret(t, "password");
        let url = t.url("url", Some("https://bsky.social"));
        Some(Spec { url: url?, query: query?, identifier: identifier?, password: password? })
    }

    fn build(&self, env: &Environment) -> Result<Box<dyn Kind>, SourceError> {
        Ok(Box::new(Bluesky::new(
            self.url.clone(),
            self.query.clone(),
            super::read_secret(&self.identifier, env)?,
            super::read_secret(&self.password, env)?,
        )))
    }

    fn host(&self) -> String {
        self.url.host_str().unwrap_or("").to_string()
    }
}

/// A Bluesky search, logged in with an app password.
pub(crate) struct Bluesky {
    url: Url,
    query: String,
    identifier: String,
    password: String,
    session: tokio::sync::Mutex<Option<Session>>,
    reach: std::sync::Mutex<ReachCache>,
}

#[derive(Clone)]
struct Session {
    access: String,
    refresh: String,
}

/// The cursor, stored as JSON between pages:
/// `{"newest": {"at": "2024-11-11T19:47:02.648Z", "uris": ["at://…"]},
///   "run": {"next": "100", "floor": "2024-11-11T19:40:00Z", "newest": {…}}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// The newest post time handed on, with the posts at exactly that time. `None` until a
    /// run has handed something on: the next run then backfills to `backfill_since`.
    #[serde(default)]
    newest: Option<PostMark>,
    /// The run in progress (paging older), if any.
    #[serde(default)]
    run: Option<Run>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    /// searchPosts' `cursor` for the next, older page.
    next: String,
    /// Posts before this are out of the run (sent as `since`).
    floor: DateTime<Utc>,
    /// The newest post seen in this run so far; becomes `Cursor::newest` when the run ends.
    newest: Option<PostMark>,
}

/// Post times: the time the server sorts and filters by, with milliseconds.
type PostMark = Mark<DateTime<Utc>>;

/// Folds a run's newest mark into the cursor's.
fn merge(into: &mut Option<PostMark>, other: Option<PostMark>) {
    if let Some(m) = other {
        for id in &m.ids {
            Mark::raise_opt(into, m.at, id);
        }
    }
}

impl Bluesky {
    fn new(url: Url, query: String, identifier: String, password: String) -> Bluesky {
        Bluesky {
            url,
            query,
            identifier,
            password,
            session: tokio::sync::Mutex::new(None),
            reach: std::sync::Mutex::new(ReachCache::default()),
        }
    }

    fn xrpc(&self, method: &str) -> Result<Url, SourceError> {
        let mut url = self.url.clone();
        url.path_segments_mut()
            .map_err(|_| SourceError::Config(format!("{} cannot take a path", self.url)))?
            .pop_if_empty()
            .extend(["xrpc", method]);
        Ok(url)
    }

    fn search_url(&self, floor: DateTime<Utc>, next: Option<&str>) -> Result<Url, SourceError> {
        let mut url = self.xrpc("app.bsky.feed.searchPosts")?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("q", &self.query).append_pair("sort", "latest").append_pair("limit", &LIMIT.to_string());
            // Millisecond precision, rounded down: `since` is inclusive, so this never skips.
            q.append_pair("since", &floor.to_rfc3339_opts(SecondsFormat::Millis, true));
            if let Some(next) = next {
                q.append_pair("cursor", next);
            }
        }
        Ok(url)
    }

    /// The access token, logging in first when there is no session. `true` when the session
    /// was created just now (a refusal then is not an expired token).
    async fn access_token(&self, http: &Http) -> Result<(String, bool), SourceError> {
        let mut session = self.session.lock().await;
        if let Some(s) = session.as_ref() {
            return Ok((s.access.clone(), false));
        }
        let fresh = self.create_session(http).await?;
        let access = fresh.access.clone();
        *session = Some(fresh);
        Ok((access, true))
    }

    /// A new access token after `stale` was refused: refreshed, or from a new session.
    async fn renew(&self, http: &Http, stale: &str) -> Result<String, SourceError> {
        let mut session = self.session.lock().await;
        if let Some(s) = session.as_ref().filter(|s| s.access != stale) {
            // Renewed by another call meanwhile.
            return Ok(s.access.clone());
        }
        let refreshed = match session.as_ref() {
            Some(s) => match self.refresh_session(http, &s.refresh).await {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::info!(error = %e, "bluesky refreshSession failed; logging in again");
                    None
                }
            },
            None => None,
        };
        let fresh = match refreshed {
            Some(r) => r,
            None => {
                *session = None;
                self.create_session(http).await?
            }
        };
        let access = fresh.access.clone();
        *session = Some(fresh);
        Ok(access)
    }

    async fn create_session(&self, http: &Http) -> Result<Session, SourceError> {
        let body = json!({"identifier": self.identifier, "password": self.password});
        let req = HttpRequest::post_json(self.xrpc("com.atproto.server.createSession")?, &body);
        match http.send(req).await {
            Ok(resp) => parse_session(&resp.body).map_err(|why| {
                SourceError::Auth(format!("Bluesky createSession answered without a usable session: {why}"))
            }),
            Err(SourceError::Status { status: status @ (400 | 401 | 403), .. }) => Err(SourceError::Auth(format!(
                "Bluesky createSession refused the configured identifier and password (HTTP {status}); check the \
                 variables named by identifier_env and password_env (an app password is expected)"
            ))),
            // Timeouts, 429 and 5xx are no verdict on the credentials: kept as they are, with
            // their Retry-After.
            Err(e) => Err(e),
        }
    }

    async fn refresh_session(&self, http: &Http, refresh: &str) -> Result<Session, SourceError> {
        let url = self.xrpc("com.atproto.server.refreshSession")?;
        let req = HttpRequest { method: Method::Post, url, headers: Vec::new(), body: None }.bearer(Some(refresh));
        let resp = http.send(req).await?;
        parse_session(&resp.body).map_err(|why| SourceError::Parse(format!("refreshSession: {why}")))
    }

    /// GET with the access token; an answer that looks like an expired token renews the session
    /// once and retries.
    async fn authorized_get(&self, http: &Http, url: Url) -> Result<(HttpResponse, String), SourceError> {
        let (token, fresh) = self.access_token(http).await?;
        match http.send(HttpRequest::get(url.clone()).bearer(Some(&token))).await {
            Err(SourceError::Status { status: 400 | 401, .. }) if !fresh => {
                let token = self.renew(http, &token).await?;
                let resp = http.send(HttpRequest::get(url).bearer(Some(&token))).await?;
                Ok((resp, token))
            }
            other => other.map(|resp| (resp, token)),
        }
    }

    /// Follower counts for `dids`: from the cache, the rest from getProfiles. A failed lookup
    /// leaves those authors without reach (logged), never fails the page.
    async fn followers(
        &self,
        http: &Http,
        token: &str,
        source: &str,
        dids: Vec<String>,
        now: DateTime<Utc>,
    ) -> HashMap<String, Option<u64>> {
        let mut found = HashMap::with_capacity(dids.len());
        let mut missing = Vec::new();
        {
            let cache = self.reach.lock().unwrap_or_else(|e| e.into_inner());
            for did in dids {
                match cache.get(&did, now) {
                    Some(followers) => {
                        found.insert(did, followers);
                    }
                    None => missing.push(did),
                }
            }
        }
        for chunk in missing.chunks(PROFILES_PER_CALL) {
            let answer = match self.profiles_url(chunk) {
                Ok(url) => match http.send(HttpRequest::get(url).bearer(Some(token))).await {
                    Ok(resp) => parse_profiles(&resp.body),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match answer {
                Ok(profiles) => {
                    let mut cache = self.reach.lock().unwrap_or_else(|e| e.into_inner());
                    let answered: HashMap<String, Option<u64>> = profiles.into_iter().collect();
                    // An actor getProfiles leaves out (deleted, taken down) is remembered as
                    // unknown too, so it is not asked for on every page.
                    for did in chunk {
                        let followers = answered.get(did).copied().flatten();
                        cache.put(did, followers, now);
                        found.insert(did.clone(), followers);
                    }
                }
                Err(e) => {
                    let actors = chunk.len();
                    tracing::warn!(source, error = %e, actors, "bluesky getProfiles failed; reach left empty")
                }
            }
        }
        found
    }

    fn profiles_url(&self, dids: &[String]) -> Result<Url, SourceError> {
        let mut url = self.xrpc("app.bsky.actor.getProfiles")?;
        {
            let mut q = url.query_pairs_mut();
            for did in dids {
                q.append_pair("actors", did);
            }
        }
        Ok(url)
    }
}

#[async_trait::async_trait]
impl Kind for Bluesky {
    async fn page(&self, http: &Http, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let (cursor, note) = cursor::read::<Cursor>(req);
        let mut cursor = cursor.unwrap_or_default();
        let (floor, next, mut run_newest) = match cursor.run.take() {
            Some(run) => (run.floor, Some(run.next), run.newest),
            None => (cursor.newest.as_ref().map_or(req.backfill_since, |m| m.at), None, None),
        };
        // Posts at exactly the floor that were handed on already (`since` is inclusive).
        let handed: &[String] = match &cursor.newest {
            Some(m) if m.at == floor => &m.ids,
            _ => &[],
        };

        let (resp, token) = self.authorized_get(http, self.search_url(floor, next.as_deref())?).await?;
        let parsed = parse_bluesky(&resp.body, req.source, req.now)?;

        let reached_floor = parsed.posts.iter().any(|p| p.sorted_at.is_some_and(|t| t < floor));
        let mut posts = Vec::with_capacity(parsed.posts.len());
        for post in parsed.posts {
            let keep = match post.sorted_at {
                None => true,
                Some(t) => t > floor || (t == floor && !handed.contains(&post.mention.id)),
            };
            if keep {
                if let Some(t) = post.sorted_at {
                    Mark::raise_opt(&mut run_newest, t, &post.mention.id);
                }
                posts.push(post);
            }
        }

        let dids: Vec<String> = {
            let mut seen = HashSet::new();
            posts.iter().filter_map(|p| p.did.clone()).filter(|d| seen.insert(d.clone())).collect()
        };
        let followers = if dids.is_empty() {
            HashMap::new()
        } else {
            self.followers(http, &token, req.source, dids, req.now).await
        };
        let mentions: Vec<Mention> = posts
            .into_iter()
            .map(|p| {
                let mut m = p.mention;
                m.reach = p.did.as_ref().and_then(|d| followers.get(d).copied().flatten());
                m
            })
            .collect();

        let goes_on = match parsed.cursor {
            Some(c) if !reached_floor && parsed.count > 0 && next.as_deref() != Some(c.as_str()) => Some(c),
            _ => None,
        };
        let more = goes_on.is_some();
        match goes_on {
            Some(next) => cursor.run = Some(Run { next, floor, newest: run_newest }),
            None => merge(&mut cursor.newest, run_newest),
        }
        let mut skipped = parsed.skipped;
        skipped.extend(note);
        Ok(Page {
            mentions,
            skipped,
            more,
            cursor: cursor::write(&cursor)?,
            rate_limit: resp.rate_limit,
            ..Page::default()
        })
    }
}

/// Follower counts by DID, each trusted for [`REACH_CACHE_HOURS`]; at most
/// [`REACH_CACHE_CAPACITY`] entries (expired ones go first, then the oldest).
#[derive(Debug, Default)]
struct ReachCache {
    entries: HashMap<String, (Option<u64>, DateTime<Utc>)>,
}

impl ReachCache {
    fn fresh(fetched: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now - fetched < chrono::Duration::hours(REACH_CACHE_HOURS)
    }

    /// `Some(followers)` when known and fresh (followers itself may be unknown).
    fn get(&self, did: &str, now: DateTime<Utc>) -> Option<Option<u64>> {
        self.entries.get(did).filter(|(_, at)| ReachCache::fresh(*at, now)).map(|(f, _)| *f)
    }

    fn put(&mut self, did: &str, followers: Option<u64>, now: DateTime<Utc>) {
        if self.entries.len() >= REACH_CACHE_CAPACITY && !self.entries.contains_key(did) {
            self.entries.retain(|_, (_, at)| ReachCache::fresh(*at, now));
            if self.entries.len() >= REACH_CACHE_CAPACITY {
                let oldest = self.entries.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(did.to_string(), (followers, now));
    }
}

/// One search result, read.
#[derive(Debug, Clone, PartialEq)]
pub struct BlueskyPost {
    /// Reach is left empty here: it comes from getProfiles.
    pub mention: Mention,
    /// The author's DID, for the follower lookup.
    pub did: Option<String>,
    /// The time the server sorts and filters by (the earlier of `createdAt` and `indexedAt`);
    /// `None` when neither is a usable time.
    pub sorted_at: Option<DateTime<Utc>>,
}

/// One searchPosts page, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlueskyPage {
    pub posts: Vec<BlueskyPost>,
    pub skipped: Vec<Skipped>,
    /// The cursor for the next, older page, if the server gave one.
    pub cursor: Option<String>,
    /// Posts in the answer, skipped ones included.
    pub count: usize,
}

/// Reads a searchPosts body (`{"cursor", "hitsTotal", "posts": [postView…]}`).
pub fn parse_bluesky(body: &[u8], source: &str, now: DateTime<Utc>) -> Result<BlueskyPage, SourceError> {
    let value = parse_json_body(body, None)?;
    let Some(obj) = value.as_object() else {
        return Err(SourceError::Parse(format!("expected a searchPosts object, got {value}")));
    };
    if let Some(error) = obj.get("error").and_then(Value::as_str) {
        let message = obj.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(SourceError::Parse(format!("searchPosts answered with error {error:?} {message}")));
    }
    let Some(posts) = obj.get("posts").and_then(Value::as_array) else {
        return Err(SourceError::Parse("searchPosts answer has no posts array".into()));
    };
    let mut page = BlueskyPage {
        cursor: obj.get("cursor").and_then(Value::as_str).filter(|c| !c.is_empty()).map(str::to_string),
        count: posts.len(),
        ..BlueskyPage::default()
    };
    let mut seen = HashSet::with_capacity(posts.len());
    for (i, post) in posts.iter().enumerate() {
        let Some(uri) = post.get("uri").and_then(Value::as_str).map(str::trim).filter(|u| !u.is_empty()) else {
            page.skipped.push(Skipped { item: format!("#{i}"), why: "no uri".into() });
            continue;
        };
        if !seen.insert(uri) {
            page.skipped.push(Skipped { item: uri.into(), why: "duplicate uri in the page (kept the first)".into() });
            continue;
        }
        match post_view(post, uri, source, now) {
            Ok(p) => page.posts.push(p),
            Err(why) => page.skipped.push(Skipped { item: uri.into(), why }),
        }
    }
    Ok(page)
}

fn post_view(post: &Value, uri: &str, source: &str, now: DateTime<Utc>) -> Result<BlueskyPost, String> {
    let record = post.get("record").filter(|r| r.is_object()).ok_or("no record")?;
    let text = str_at(record.get("text")).ok_or("no text (an image- or embed-only post?)")?;
    let author = post.get("author");
    let handle = str_at(author.and_then(|a| a.get("handle")));
    // at://<did>/app.bsky.feed.post/<rkey>
    let parts: Option<(&str, &str)> = uri
        .strip_prefix("at://")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(repo, path)| path.rsplit_once('/').map(|(_, rkey)| (repo, rkey)))
        .filter(|(repo, rkey)| !repo.is_empty() && !rkey.is_empty());
    let did = str_at(author.and_then(|a| a.get("did")))
        .or(parts.map(|(repo, _)| repo).filter(|r| r.starts_with("did:")))
        .map(str::to_string);
    let profile = match handle {
        Some(h) if h != "handle.invalid" => Some(h),
        _ => did.as_deref(),
    };
    let url = parts.zip(profile).map(|((_, rkey), who)| format!("https://bsky.app/profile/{who}/post/{rkey}"));
    let lang = record.get("langs").and_then(Value::as_array).and_then(|l| l.first()).and_then(Value::as_str);
    let created = str_at(record.get("createdAt")).and_then(parse_time);
    let indexed = str_at(post.get("indexedAt")).and_then(parse_time);
    let latest_sane = now + chrono::Duration::from_std(MAX_FUTURE_SKEW).unwrap_or_default();
    let sorted_at = match (created, indexed) {
        (Some(c), Some(i)) => Some(c.min(i)),
        (c, i) => c.or(i),
    }
    .filter(|t| *t <= latest_sane);
    Ok(BlueskyPost {
        mention: Mention {
            source: source.to_string(),
            id: uri.to_string(),
            text: text.to_string(),
            author: handle.map(str::to_string),
            reach: None,
            lang: lang.and_then(primary_lang),
            published: sane_time(created.or(indexed), now).0,
            url,
        },
        did,
        sorted_at,
    })
}

/// The trimmed, non-empty string at `v`.
fn str_at(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// Reads a getProfiles body into (DID, followers).
pub fn parse_profiles(body: &[u8]) -> Result<Vec<(String, Option<u64>)>, SourceError> {
    let value = parse_json_body(body, None)?;
    let profiles = value
        .get("profiles")
        .and_then(Value::as_array)
        .ok_or_else(|| SourceError::Parse("getProfiles answer has no profiles array".into()))?;
    Ok(profiles
        .iter()
        .filter_map(|p| {
            let did = p.get("did").and_then(Value::as_str)?;
            Some((did.to_string(), p.get("followersCount").and_then(Value::as_u64)))
        })
        .collect())
}

/// Reads a createSession / refreshSession answer.
fn parse_session(body: &[u8]) -> Result<Session, SourceError> {
    let value = parse_json_body(body, None)?;
    let token = |key: &str| value.get(key).and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string);
    match (token("accessJwt"), token("refreshJwt")) {
        (Some(access), Some(refresh)) => Ok(Session { access, refresh }),
        _ => Err(SourceError::Parse("no accessJwt/refreshJwt in the answer".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-11-11T20:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A postView shaped like the real one (app.bsky.feed.defs#postView).
    fn post(did: &str, handle: &str, rkey: &str, created: &str, text: &str) -> Value {
        json!({
            "uri": format!("at://{did}/app.bsky.feed.post/{rkey}"),
            "cid": "bafyreifbfn4dw7er77dlecjmf3azcmsazrt4lweh5f5bl2aqd3kgsq443m",
            "author": {
                "did": did, "handle": handle, "displayName": "Someone",
                "avatar": "https://cdn.bsky.app/img/avatar/plain/x@jpeg",
                "associated": {"chat": {"allowIncoming": "following"}},
                "viewer": {"muted": false, "blockedBy": false},
                "labels": [], "createdAt": "2023-07-24T21:52:32.643Z"
            },
            "record": {
                "$type": "app.bsky.feed.post",
                "createdAt": created,
                "facets": [],
                "langs": ["nl"],
                "text": text
            },
            "replyCount": 0, "repostCount": 2, "likeCount": 4, "quoteCount": 0,
            "indexedAt": created,
            "viewer": {"threadMuted": false, "embeddingDisabled": false},
            "labels": []
        })
    }

    fn search(posts: Vec<Value>, cursor: Option<&str>) -> Vec<u8> {
        let mut body = json!({"hitsTotal": posts.len(), "posts": posts});
        if let Some(c) = cursor {
            body["cursor"] = json!(c);
        }
        body.to_string().into_bytes()
    }

    #[test]
    fn post_views_become_mentions_with_bsky_links() {
        let mut second =
            post("did:plc:bbb", "bob.bsky.social", "3lap3ipjc7c2h", "2024-11-11T19:47:02.648Z", "App werkt weer");
        second["record"]["langs"] = json!(["en-GB", "nl"]);
        let page = parse_bluesky(
            &search(
                vec![
                    post(
                        "did:plc:aaa",
                        "anna.example.nl",
                        "3lap4aaaaaa2k",
                        "2024-11-11T19:50:00.000Z",
                        "Storing bij de Kroonbank? Niks werkt",
                    ),
                    second,
                ],
                Some("2"),
            ),
            "sky",
            now(),
        )
        .unwrap();
        assert_eq!((page.count, page.cursor.as_deref(), page.skipped.len()), (2, Some("2"), 0));
        let [a, b] = &page.posts[..] else { panic!("two posts: {:?}", page.posts) };
        assert_eq!(a.mention.id, "at://did:plc:aaa/app.bsky.feed.post/3lap4aaaaaa2k");
        assert_eq!(a.mention.source, "sky");
        assert_eq!(a.mention.text, "Storing bij de Kroonbank? Niks werkt");
        assert_eq!(a.mention.author.as_deref(), Some("anna.example.nl"));
        assert_eq!(a.mention.lang.as_deref(), Some("nl"));
        assert_eq!(a.mention.url.as_deref(), Some("https://bsky.app/profile/anna.example.nl/post/3lap4aaaaaa2k"));
        assert_eq!(a.mention.published, t("2024-11-11T19:50:00Z"));
        assert_eq!(a.mention.reach, None, "reach comes from getProfiles");
        assert_eq!(a.did.as_deref(), Some("did:plc:aaa"));
        assert_eq!(b.mention.lang.as_deref(), Some("en"));
        assert_eq!(b.sorted_at, Some(t("2024-11-11T19:47:02.648Z")));
    }

    #[test]
    fn times_fall_back_to_indexed_at_and_the_sort_time_is_the_earlier_one() {
        let mut future = post("did:plc:a", "a.test", "k1", "2024-11-12T09:00:00Z", "clock ahead");
        future["indexedAt"] = json!("2024-11-11T19:59:00Z");
        let mut no_created = post("did:plc:a", "a.test", "k2", "", "no createdAt");
        no_created["indexedAt"] = json!("2024-11-11T19:30:00Z");
        let mut no_times = post("did:plc:a", "a.test", "k3", "", "no times");
        no_times.as_object_mut().unwrap().remove("indexedAt");
        let page = parse_bluesky(&search(vec![future, no_created, no_times], None), "sky", now()).unwrap();
        let got: Vec<_> = page.posts.iter().map(|p| (p.mention.published, p.sorted_at)).collect();
        assert_eq!(
            got,
            [
                (now(), Some(t("2024-11-11T19:59:00Z"))),
                (t("2024-11-11T19:30:00Z"), Some(t("2024-11-11T19:30:00Z"))),
                (now(), None),
            ]
        );
    }

    #[test]
    fn bad_posts_are_skipped_with_why_and_the_rest_kept() {
        let mut no_uri = post("did:plc:a", "a.test", "k0", "2024-11-11T19:00:00Z", "x");
        no_uri.as_object_mut().unwrap().remove("uri");
        let image_only = post("did:plc:a", "a.test", "k2", "2024-11-11T19:00:00Z", "  ");
        let mut no_record = post("did:plc:a", "a.test", "k3", "2024-11-11T19:00:00Z", "x");
        no_record["record"] = Value::Null;
        let mut invalid_handle = post("did:plc:z", "handle.invalid", "k4", "2024-11-11T19:00:00Z", "kept too");
        invalid_handle["author"].as_object_mut().unwrap().remove("did");
        let posts = vec![
            post("did:plc:a", "a.test", "k1", "2024-11-11T19:10:00Z", "first"),
            no_uri,
            image_only,
            no_record,
            post("did:plc:a", "a.test", "k1", "2024-11-11T19:10:00Z", "duplicate"),
            json!(17),
            invalid_handle,
        ];
        let page = parse_bluesky(&search(posts, None), "sky", now()).unwrap();
        let texts: Vec<&str> = page.posts.iter().map(|p| p.mention.text.as_str()).collect();
        assert_eq!(texts, ["first", "kept too"]);
        // A handle.invalid author is linked by DID, taken from the uri.
        assert_eq!(page.posts[1].mention.url.as_deref(), Some("https://bsky.app/profile/did:plc:z/post/k4"));
        assert_eq!(page.posts[1].did.as_deref(), Some("did:plc:z"));
        let skipped: Vec<(&str, &str)> = page.skipped.iter().map(|s| (s.item.as_str(), s.why.as_str())).collect();
        assert_eq!(skipped.len(), 5, "{skipped:?}");
        assert_eq!(skipped[0], ("#1", "no uri"));
        assert!(skipped[1].0.ends_with("/k2") && skipped[1].1.contains("no text"), "{skipped:?}");
        assert!(skipped[2].0.ends_with("/k3") && skipped[2].1 == "no record", "{skipped:?}");
        assert!(skipped[3].0.ends_with("/k1") && skipped[3].1.contains("duplicate"), "{skipped:?}");
        assert_eq!(skipped[4], ("#5", "no uri"));
    }

    #[test]
    fn an_empty_result_is_an_empty_page() {
        let page = parse_bluesky(br#"{"hitsTotal": 0, "posts": []}"#, "sky", now()).unwrap();
        assert_eq!((page.count, page.posts.len(), page.cursor), (0, 0, None));
    }

    #[test]
    fn whole_page_problems_are_parse_errors_naming_what_was_wrong() {
        let cases: [(&[u8], &str); 6] = [
            (b"<html><head><title>502 Bad Gateway</title></head></html>", "HTML"),
            (b"{\"posts\": [{\"uri\": ", "invalid JSON"),
            (b"   ", "empty"),
            (b"{\"error\": \"ExpiredToken\", \"message\": \"Token has expired\"}", "ExpiredToken"),
            (b"{\"cursor\": \"1\"}", "no posts array"),
            (b"{\"posts\": [\"\xff\"]}", "invalid JSON"),
        ];
        for (body, want) in cases {
            match parse_bluesky(body, "sky", now()) {
                Err(SourceError::Parse(msg)) => assert!(msg.contains(want), "{msg:?} should mention {want:?}"),
                other => panic!("{:?}: expected a parse error, got {other:?}", String::from_utf8_lossy(body)),
            }
        }
    }

    #[test]
    fn profiles_give_follower_counts_by_did() {
        let body = br#"{"profiles": [
            {"did": "did:plc:a", "handle": "a.test", "followersCount": 812, "followsCount": 3},
            {"did": "did:plc:b", "handle": "b.test"},
            {"handle": "no-did.test", "followersCount": 1}
        ]}"#;
        assert_eq!(
            parse_profiles(body).unwrap(),
            vec![("did:plc:a".to_string(), Some(812)), ("did:plc:b".to_string(), None)]
        );
        assert!(parse_profiles(b"{}").is_err());
    }

    #[test]
    fn sessions_need_both_tokens() {
        let s =
            parse_session(br#"{"did": "did:plc:a", "handle": "a.test", "accessJwt": "A", "refreshJwt": "R"}"#).unwrap();
        assert_eq!((s.access.as_str(), s.refresh.as_str()), ("A", "R"));
        assert!(parse_session(br#"{"accessJwt": "A"}"#).is_err());
        assert!(parse_session(b"<html>").is_err());
    }

    #[test]
    fn the_reach_cache_expires_after_a_day_and_stays_bounded() {
        let mut cache = ReachCache::default();
        cache.put("did:plc:a", Some(5), now());
        assert_eq!(cache.get("did:plc:a", now() + chrono::Duration::hours(23)), Some(Some(5)));
        assert_eq!(cache.get("did:plc:a", now() + chrono::Duration::hours(25)), None);
        for i in 0..REACH_CACHE_CAPACITY + 10 {
            cache.put(&format!("did:plc:{i}"), Some(i as u64), now() + chrono::Duration::seconds(i as i64));
        }
        assert_eq!(cache.entries.len(), REACH_CACHE_CAPACITY);
        // The oldest went first.
        assert_eq!(cache.get("did:plc:a", now()), None);
        assert_eq!(cache.get("did:plc:0", now() + chrono::Duration::hours(1)), None);
        let last = REACH_CACHE_CAPACITY + 9;
        assert_eq!(cache.get(&format!("did:plc:{last}"), now() + chrono::Duration::hours(4)), Some(Some(last as u64)));
    }

    #[test]
    fn marks_keep_the_newest_time_and_the_posts_at_it() {
        let mut mark = None;
        Mark::raise_opt(&mut mark, t("2024-11-11T19:00:00Z"), "at://a");
        Mark::raise_opt(&mut mark, t("2024-11-11T19:05:00Z"), "at://b");
        Mark::raise_opt(&mut mark, t("2024-11-11T19:05:00Z"), "at://c");
        Mark::raise_opt(&mut mark, t("2024-11-11T19:05:00Z"), "at://c");
        Mark::raise_opt(&mut mark, t("2024-11-11T18:00:00Z"), "at://d");
        assert_eq!(mark, Some(Mark { at: t("2024-11-11T19:05:00Z"), ids: vec!["at://b".into(), "at://c".into()] }));
        let mut older = Some(Mark { at: t("2024-11-11T19:01:00Z"), ids: vec!["at://e".into()] });
        merge(&mut older, mark.clone());
        assert_eq!(older, mark);
    }

    #[test]
    fn search_urls_carry_the_query_since_and_cursor() {
        let b = Bluesky::new(
            Url::parse("https://bsky.social").unwrap(),
            "kroonbank OR \"kroon bank\"".into(),
            "id".into(),
            "pw".into(),
        );
        let u = b.search_url(t("2024-11-11T19:47:02.648912Z"), Some("100")).unwrap();
        assert_eq!(
            u.as_str(),
            concat!(
                "https://bsky.social/xrpc/app.bsky.feed.searchPosts?q=kroonbank+OR+%22kroon+bank%22",
                "&sort=latest&limit=100&since=2024-11-11T19%3A47%3A02.648Z&cursor=100"
            )
        );
    }
}
