//! Reddit: the newest posts matching a search, or the newest posts of one subreddit.
//!
//! Without credentials it asks the public JSON listings, `GET {url}/search.json?q=…&sort=new`
//! or `GET {url}/r/{subreddit}/new.json`, both with `limit=100&raw_json=1` (`raw_json` stops
//! the legacy escaping of the whole JSON). Titles, self-texts and comment bodies are markdown,
//! not HTML, but Reddit stores them with `&`, `<` and `>` escaped as `&amp;`, `&lt;` and
//! `&gt;` and serves them so even with `raw_json`: those three are decoded (`unescape`), nothing
//! else is, and nothing is stripped, so a post typed as `a <b> c` reads `a <b> c`. With a
//! client id and secret it first
//! gets an application-only token (`POST /api/v1/access_token`, HTTP basic auth, form body
//! `grant_type=client_credentials`), keeps it until a minute before it expires, and sends the
//! same requests with `Authorization: Bearer`. Real Reddit serves OAuth requests from another
//! host: with the default url the API calls go to `https://oauth.reddit.com` and the token call
//! to `https://www.reddit.com`; an overridden url (a proxy, a test server) gets both. Every
//! request carries the configured `User-Agent`, since Reddit blocks generic ones.
//!
//! Listings are newest first and page older with `after=<fullname>`. A poll is a *run* of
//! pages: it starts at the newest page and follows `after` until it reaches an item at or
//! before the *mark* (the newest `created_utc` already handed on, with the fullnames handed on
//! at that second, so posts sharing the second are neither dropped nor doubled), or the listing
//! ends. On the first poll the mark is `backfill_since`, so the first run is the backfill and
//! items older than that are dropped. While a run is not done the page says `more` and the
//! cursor holds the `after` to continue from; when it is done the newest item of the run
//! becomes the mark. Resuming never relies on one post still existing (Reddit's `before`
//! answers nothing once that post is deleted): the mark is a time. Only `after` names a post,
//! and only inside a run; if that post vanishes between two pages (Reddit then answers an
//! empty page) the run starts again from the newest page, skipping what it already handed on.
//! A known limit of any time mark: a post that shows up in search later than newer posts
//! (indexing lag) is missed.
//!
//! Items become mentions as: id = fullname (`t3_…` posts, `t1_…` comments), text = title, a
//! line break and the self-text (comments: `body`), author (none for `[deleted]`), published =
//! `created_utc`, url = `https://www.reddit.com` + permalink. Reddit gives no follower counts
//! here, so reach is `None` (`score` and `num_comments` are not an audience), and no language.
//! Removed or deleted posts (`[removed]`, `[deleted]`, `removed_by_category`) are skipped with
//! why.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::fields::str_field;
use super::http::{parse_json_body, Method};
use super::mark::Mark;
use super::registry::Settings;
use super::{cursor, sane_time, Http, HttpRequest, Kind, Page, PageRequest, Skipped, SourceError};
use crate::model::Mention;
use crate::secret::{Environment, SecretRef};
use crate::settings::Table;

/// Items asked for per page (Reddit's maximum).
const PAGE_SIZE: &str = "100";
/// A cached token is renewed this long before Reddit says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// How often one run may start again from the newest page after its `after` post vanished.
const MAX_RESTARTS: u8 = 2;
/// Where Reddit's public site and its OAuth API live.
const WWW: &str = "https://www.reddit.com";
const OAUTH: &str = "https://oauth.reddit.com";

/// `kind = "reddit"`: exactly one of `query` and `subreddit`; optionally `user_agent`,
/// `client_id_env`/`_file` with `client_secret_env`/`_file` (an app's OAuth credentials), and
/// `url` (default the public site).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub url: Url,
    pub listing: Listing,
    pub user_agent: String,
    /// Client id and secret.
    pub credentials: Option<(SecretRef, SecretRef)>,
}

impl Settings for Spec {
    const KEYS: &'static [&'static str] = &[
        "url",
        "query",
        "subreddit",
        "user_agent",
        "client_id_env",
        "client_id_file",
        "client_secret_env",
        "client_secret_file",
    ];

    fn read(t: &mut Table<'_>) -> Option<Spec> {
        let query = t.string("query").filter(|q| !q.is_empty());
        let subreddit = t.string("subreddit").map(|s| s.trim_start_matches("r/").to_string()).filter(|s| !s.is_empty());
        let listing = match (query, subreddit) {
            (Some(q), None) => Some(Listing::Search(q)),
            (None, Some(s)) => Some(Listing::Subreddit(s)),
            _ => {
                t.problem("query", "give exactly one of query and subreddit");
                None
            }
        };
        let credentials = match (t.secret("client_id"), t.secret("client_secret")) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            _ => {
                t.problem("client_id_env", "give both client_id_env and client_secret_env (or _file), or neither");
                None
            }
        };
        let user_agent = t.string("user_agent").filter(|u| !u.is_empty()).unwrap_or_else(|| {
            format!("stormwatch/{} (brand monitoring; +https://example.org/stormwatch)", env!("CARGO_PKG_VERSION"))
        });
        let url = t.url("url", Some(WWW));
        Some(Spec { url: url?, listing: listing?, user_agent, credentials })
    }

    fn build(&self, env: &Environment) -> Result<Box<dyn Kind>, SourceError> {
        let credentials = match &self.credentials {
            Some((id, secret)) => Some((super::read_secret(id, env)?, super::read_secret(secret, env)?)),
            None => None,
        };
        Ok(Box::new(Reddit::new(self.url.clone(), self.listing.clone(), self.user_agent.clone(), credentials)))
    }

    fn host(&self) -> String {
        self.url.host_str().unwrap_or("").to_string()
    }
}

pub(crate) struct Reddit {
    /// Where listings are requested.
    api: Url,
    /// Where tokens are requested (only used with credentials).
    token_url: Url,
    listing: Listing,
    user_agent: String,
    credentials: Option<(String, String)>,
    token: tokio::sync::Mutex<Option<Token>>,
}

/// What is read: a search, or one subreddit's newest posts.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    Search(String),
    Subreddit(String),
}

struct Token {
    value: String,
    renew_at: Instant,
}

impl Reddit {
    fn new(url: Url, listing: Listing, user_agent: String, credentials: Option<(String, String)>) -> Reddit {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let is_reddit = matches!(host.as_str(), "www.reddit.com" | "reddit.com" | "oauth.reddit.com")
            && url.scheme() == "https"
            && url.path().trim_matches('/').is_empty();
        // The constants are valid URLs; the fallback to the configured url is never taken.
        let host_url = |u: &str| Url::parse(u).unwrap_or_else(|_| url.clone());
        let (api, token_base) = match (is_reddit, credentials.is_some()) {
            (true, true) => (host_url(OAUTH), host_url(WWW)),
            // OAuth host without credentials: it answers nothing, so use the public site.
            (true, false) if host == "oauth.reddit.com" => (host_url(WWW), host_url(WWW)),
            _ => (url.clone(), url.clone()),
        };
        let token_url = endpoint(&token_base, &["api", "v1", "access_token"]);
        Reddit { api, token_url, listing, user_agent, credentials, token: tokio::sync::Mutex::new(None) }
    }

    fn listing_url(&self, after: Option<&str>) -> Url {
        let mut url = match &self.listing {
            Listing::Search(_) => endpoint(&self.api, &["search.json"]),
            Listing::Subreddit(s) => endpoint(&self.api, &["r", s, "new.json"]),
        };
        {
            let mut q = url.query_pairs_mut();
            if let Listing::Search(query) = &self.listing {
                q.append_pair("q", query).append_pair("sort", "new");
            }
            q.append_pair("limit", PAGE_SIZE).append_pair("raw_json", "1");
            if let Some(a) = after {
                q.append_pair("after", a);
            }
        }
        url
    }

    /// The bearer token to send, fetching a new one when there is none or it is about to
    /// expire. `None` without credentials.
    async fn bearer(&self, http: &Http) -> Result<Option<String>, SourceError> {
        let Some((id, secret)) = &self.credentials else {
            return Ok(None);
        };
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(Some(t.value.clone()));
        }
        let req = HttpRequest {
            method: Method::Post,
            url: self.token_url.clone(),
            headers: vec![
                ("content-type".into(), "application/x-www-form-urlencoded".into()),
                ("authorization".into(), format!("Basic {}", base64(format!("{id}:{secret}").as_bytes()))),
                ("user-agent".into(), self.user_agent.clone()),
            ],
            body: Some(b"grant_type=client_credentials".to_vec()),
        };
        let resp = match http.send(req).await {
            Ok(r) => r,
            Err(SourceError::Status { status: status @ (400 | 401 | 403), .. }) => {
                return Err(SourceError::Auth(format!(
                    "Reddit refused the client id and secret (HTTP {status} from {})",
                    self.token_url
                )))
            }
            Err(e) => return Err(e),
        };
        let v = resp.json()?;
        let Some(value) = v.get("access_token").and_then(|t| t.as_str()).filter(|t| !t.is_empty()) else {
            let error = v.get("error").map(|e| e.to_string()).unwrap_or_else(|| "no access_token".into());
            return Err(SourceError::Auth(format!("Reddit gave no token ({error}) from {}", self.token_url)));
        };
        let lifetime = Duration::from_secs(v.get("expires_in").and_then(|e| e.as_u64()).unwrap_or(3600));
        // Renew a minute early; a token that lives less than two minutes is renewed at half-life.
        let keep = lifetime.checked_sub(TOKEN_MARGIN).filter(|k| *k >= TOKEN_MARGIN).unwrap_or(lifetime / 2);
        *cached = Some(Token { value: value.to_string(), renew_at: Instant::now() + keep });
        Ok(Some(value.to_string()))
    }
}

/// Where the poll stands. Stored by the poller between pages and polls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Everything at or before this was handed on (or is older than the backfill).
    mark: Mark<i64>,
    /// The run of pages in progress, if the last page said `more`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run: Option<Run>,
}

/// A run of pages from the newest down to the mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    /// The fullname to page older from; `None` starts (again) at the newest page.
    after: Option<String>,
    /// The newest item handed on in this run; becomes the mark when the run is done.
    top: Mark<i64>,
    /// The oldest item handed on in this run: everything from here to `top` was handed on.
    bottom: Mark<i64>,
    /// Times this run started again from the newest page because its `after` post vanished.
    #[serde(default)]
    restarts: u8,
}

#[async_trait::async_trait]
impl Kind for Reddit {
    async fn page(&self, http: &Http, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let (cursor, note) = read_cursor(req);
        let after = cursor.run.as_ref().and_then(|r| r.after.clone());
        let token = self.bearer(http).await?;
        let request = HttpRequest::get(self.listing_url(after.as_deref()))
            .header("user-agent", self.user_agent.clone())
            .bearer(token.as_deref());
        let resp = match http.send(request).await {
            Ok(r) => r,
            Err(e) => {
                if e.status() == Some(401) {
                    // The token was revoked or expired early: get a new one next time.
                    *self.token.lock().await = None;
                }
                return Err(e);
            }
        };
        let listing = parse_reddit(&resp.body, req.source, req.now)?;
        let mut page = next_page(cursor, listing, req.now)?;
        page.skipped.extend(note);
        page.rate_limit = resp.rate_limit;
        Ok(page)
    }
}

/// The stored cursor, or a fresh one whose mark is `backfill_since` (the first poll, or a
/// cursor that cannot be read: then the backfill is done again, with a note, and the store
/// drops repeats).
fn read_cursor(req: &PageRequest<'_>) -> (Cursor, Option<Skipped>) {
    let (cursor, note) = cursor::read(req);
    (cursor.unwrap_or_else(|| Cursor { mark: Mark::new(req.backfill_since.timestamp()), run: None }), note)
}

/// Keeps the items of `listing` that are new for `cursor` and says where the next page starts.
fn next_page(cursor: Cursor, listing: RedditListing, now: DateTime<Utc>) -> Result<Page, SourceError> {
    let Cursor { mark, run } = cursor;
    let paged_after = run.as_ref().is_some_and(|r| r.after.is_some());
    let restarts = run.as_ref().map_or(0, |r| r.restarts);
    // A fresh run starts with nothing handed on: top at the mark, bottom above everything.
    let (mut top, mut bottom, continuing) = match run {
        Some(r) => (r.top, r.bottom, true),
        None => (mark.clone(), Mark::new(i64::MAX), false),
    };
    let mut page = Page { skipped: listing.skipped, ..Page::default() };
    let mut reached = false;
    let was_empty = listing.items.is_empty();
    for item in listing.items {
        if let Some(utc) = item.created_utc {
            if !mark.is_newer(utc, &item.name) {
                // Newest first: this and everything after it was handed on before.
                reached = true;
                continue;
            }
            if continuing {
                // Newer than the run's top (only seen when starting over): the next run takes
                // it, so what a run hands on stays one stretch of the listing.
                let above = top.is_newer(utc, &item.name);
                // Between the run's bottom and top: handed on earlier in this run.
                let handed = bottom.covers_from_above(utc, &item.name);
                if above || handed {
                    continue;
                }
            }
            // A time in the future does not move the mark past now.
            top.raise(utc.min(now.timestamp()), &item.name);
            bottom.lower(utc, &item.name);
        }
        match item.outcome {
            Ok(m) => page.mentions.push(m),
            Err(why) => page.skipped.push(Skipped { item: item.name, why }),
        }
    }
    // Asked for the page after a post and got nothing: that post vanished (deleted or
    // removed), so start again from the newest page; the filter above skips what was handed on.
    let vanished = was_empty && paged_after && !reached && restarts < MAX_RESTARTS;
    let next = match (reached, listing.after) {
        _ if vanished => Some(Run { after: None, top: top.clone(), bottom, restarts: restarts + 1 }),
        (false, Some(after)) => Some(Run { after: Some(after), top: top.clone(), bottom, restarts }),
        _ => None,
    };
    page.more = next.is_some();
    let cursor = match next {
        Some(run) => Cursor { mark, run: Some(run) },
        None => Cursor { mark: top, run: None },
    };
    page.cursor = cursor::write(&cursor)?;
    Ok(page)
}

/// One page of a Reddit listing, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RedditListing {
    /// The items with a fullname, in listing order (newest first).
    pub items: Vec<RedditItem>,
    /// Items without a fullname, and repeats of a fullname within the page (the first is kept).
    pub skipped: Vec<Skipped>,
    /// The fullname to page older from; `None` at the end of the listing.
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedditItem {
    /// The fullname, `t3_…` or `t1_…`.
    pub name: String,
    /// `created_utc` in whole seconds, when present and sane.
    pub created_utc: Option<i64>,
    /// The mention, or why the item is skipped (removed, deleted, no text).
    pub outcome: Result<Mention, String>,
}

/// Parses a Reddit Listing body (`{"kind":"Listing","data":{"after","children":[…]}}`).
pub fn parse_reddit(body: &[u8], source: &str, now: DateTime<Utc>) -> Result<RedditListing, SourceError> {
    let v = parse_json_body(body, None)?;
    if let Some(kind) = v.get("kind").and_then(|k| k.as_str()).filter(|k| *k != "Listing") {
        return Err(SourceError::Parse(format!("expected a Reddit Listing, got kind {kind:?}")));
    }
    let Some(children) = v.pointer("/data/children").and_then(|c| c.as_array()) else {
        let what = match v.get("error").or_else(|| v.get("message")) {
            Some(e) => format!("an error object ({e})"),
            None => "no data.children array".to_string(),
        };
        return Err(SourceError::Parse(format!("not a Reddit Listing: {what}")));
    };
    let after = v.pointer("/data/after").and_then(|a| a.as_str()).filter(|a| !a.is_empty()).map(str::to_string);
    let mut seen = HashSet::new();
    let mut out = RedditListing { items: Vec::with_capacity(children.len()), skipped: Vec::new(), after };
    for (i, child) in children.iter().enumerate() {
        let kind = child.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let Some(data) = child.get("data").filter(|d| d.is_object()) else {
            out.skipped.push(Skipped { item: format!("#{i}"), why: "no data object".into() });
            continue;
        };
        let name = match (str_field(data, "name"), str_field(data, "id")) {
            (Some(n), _) => n.to_string(),
            (None, Some(id)) if !kind.is_empty() => format!("{kind}_{id}"),
            _ => {
                out.skipped.push(Skipped { item: format!("#{i}"), why: "no fullname (name) or id".into() });
                continue;
            }
        };
        if !seen.insert(name.clone()) {
            out.skipped.push(Skipped { item: name, why: "repeated in the same page; kept the first".into() });
            continue;
        }
        let created = data.get("created_utc").and_then(seconds);
        let published = created.and_then(|s| DateTime::from_timestamp(s.floor() as i64, 0));
        let outcome = mention(kind, data, source, &name, sane_time(published, now).0);
        out.items.push(RedditItem { name, created_utc: published.map(|p| p.timestamp()), outcome });
    }
    Ok(out)
}

/// The mention for one post (`t3`) or comment (`t1`), or why there is none.
fn mention(
    kind: &str,
    data: &serde_json::Value,
    source: &str,
    name: &str,
    published: DateTime<Utc>,
) -> Result<Mention, String> {
    let gone = |t: &str| matches!(t.trim(), "[removed]" | "[deleted]");
    let text = match kind {
        "t3" => {
            let title = unescape(str_field(data, "title").unwrap_or("").trim());
            let selftext = unescape(str_field(data, "selftext").unwrap_or("").trim());
            if gone(&selftext) {
                return Err(format!("post {selftext}"));
            }
            if let Some(by) = str_field(data, "removed_by_category") {
                return Err(format!("post removed ({by})"));
            }
            match (title.is_empty(), selftext.is_empty()) {
                (_, true) => title,
                (true, false) => selftext,
                (false, false) => format!("{title}\n{selftext}"),
            }
        }
        "t1" => {
            let body = unescape(str_field(data, "body").unwrap_or("").trim());
            if gone(&body) {
                return Err(format!("comment {body}"));
            }
            body
        }
        other => return Err(format!("not a post or comment (kind {other:?})")),
    };
    if text.is_empty() {
        return Err("no title or text".into());
    }
    let url = str_field(data, "permalink").map(|p| {
        if p.starts_with("http") {
            p.to_string()
        } else {
            format!("{WWW}{}{p}", if p.starts_with('/') { "" } else { "/" })
        }
    });
    Ok(Mention {
        source: source.to_string(),
        id: name.to_string(),
        text,
        author: str_field(data, "author").filter(|a| *a != "[deleted]").map(str::to_string),
        reach: None,
        lang: None,
        published,
        url,
    })
}

/// What the user typed, from Reddit's escaped form: `&amp;`, `&lt;` and `&gt;` decoded in one
/// pass (so `&amp;lt;`, a user who typed `&lt;`, becomes `&lt;`); any other `&` is kept.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let (decoded, len) = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')]
            .iter()
            .find(|(escape, _)| after.starts_with(escape))
            .map_or(('&', 1), |(escape, c)| (*c, escape.len()));
        out.push(decoded);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Seconds since the epoch, as a number (`1523049024.0`) or a string of one.
fn seconds(v: &serde_json::Value) -> Option<f64> {
    let n = v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// `base` with `segments` appended to its path (a proxy prefix is kept).
fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Standard base64 with padding (for the HTTP basic auth header).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_714_557_773, 0).unwrap()
    }

    /// A post shaped like the `/new.json` children Reddit serves (trimmed of fields not read).
    fn post(id: &str, created: f64, title: &str, selftext: &str) -> serde_json::Value {
        json!({"kind": "t3", "data": {
            "subreddit_id": "t5_2qh1i", "approved_at_utc": null, "subreddit": "kroonbank",
            "selftext": selftext, "selftext_html": null, "author_fullname": "t2_x1", "saved": false,
            "id": id, "name": format!("t3_{id}"), "author": "storm_poster", "score": 12, "ups": 12,
            "num_comments": 4, "domain": "self.kroonbank", "is_self": true, "over_18": false,
            "removed_by_category": null, "subreddit_subscribers": 44134,
            "permalink": format!("/r/kroonbank/comments/{id}/some_title/"),
            "url": format!("https://www.reddit.com/r/kroonbank/comments/{id}/some_title/"),
            "created": created, "created_utc": created, "title": title, "distinguished": null
        }})
    }

    fn listing(children: Vec<serde_json::Value>, after: Option<&str>) -> Vec<u8> {
        json!({"kind": "Listing", "data": {
            "after": after, "dist": children.len(), "modhash": "", "geo_filter": "",
            "children": children, "before": null
        }})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn listing_children_become_mentions() {
        let mut comment = json!({"kind": "t1", "data": {
            "id": "kx9", "name": "t1_kx9", "author": "angry_customer", "body": "Nog steeds geen app & geen <excuses>.",
            "permalink": "/r/kroonbank/comments/1a2b3c/storing/kx9/", "created_utc": 1714557000.0,
            "link_id": "t3_1a2b3c", "score": 3
        }});
        comment["data"]["subreddit"] = json!("kroonbank");
        let body = listing(
            vec![
                post("1a2b3c", 1714557700.0, "Kroonbank app down again?", "Can't log in since 9am.\n\nAnyone else?"),
                post("1a2b3d", 1714557600.0, "Kroonbank raises fees", ""),
                comment,
            ],
            Some("t1_kx9"),
        );
        let got = parse_reddit(&body, "reddit-kroon", now()).unwrap();
        assert_eq!(got.after.as_deref(), Some("t1_kx9"));
        assert!(got.skipped.is_empty(), "{:?}", got.skipped);
        let m: Vec<&Mention> = got.items.iter().map(|i| i.outcome.as_ref().unwrap()).collect();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].id, "t3_1a2b3c");
        assert_eq!(m[0].source, "reddit-kroon");
        assert_eq!(m[0].text, "Kroonbank app down again?\nCan't log in since 9am.\n\nAnyone else?");
        assert_eq!(m[0].author.as_deref(), Some("storm_poster"));
        assert_eq!(m[0].url.as_deref(), Some("https://www.reddit.com/r/kroonbank/comments/1a2b3c/some_title/"));
        assert_eq!(m[0].published, DateTime::from_timestamp(1714557700, 0).unwrap());
        assert_eq!((m[0].reach, m[0].lang.as_deref()), (None, None), "score/num_comments are not reach");
        assert_eq!(m[1].text, "Kroonbank raises fees", "an empty selftext adds no line");
        // raw_json=1: text arrives unescaped and is kept as written.
        assert_eq!(m[2].text, "Nog steeds geen app & geen <excuses>.");
        assert_eq!(m[2].id, "t1_kx9");
        assert_eq!(got.items[2].created_utc, Some(1714557000));
    }

    #[test]
    fn only_reddits_three_escapes_are_decoded_once() {
        assert_eq!(unescape("a &lt;b&gt; c"), "a <b> c");
        assert_eq!(unescape("R&amp;D &amp;lt; &amp;amp;"), "R&D &lt; &amp;");
        assert_eq!(unescape("&quot;x&quot; &#39; & &am"), "&quot;x&quot; &#39; & &am", "nothing else");
        assert_eq!(unescape("<b>kept</b>"), "<b>kept</b>", "no stripping");
        assert_eq!(unescape("&"), "&");
    }

    #[test]
    fn removed_and_deleted_posts_are_skipped_with_why() {
        let mut by_mod = post("r3", 1714557500.0, "Kroonbank scam", "");
        by_mod["data"]["removed_by_category"] = json!("moderator");
        let mut gone_author = post("r4", 1714557400.0, "Kroonbank is fine", "works for me");
        gone_author["data"]["author"] = json!("[deleted]");
        let body = listing(
            vec![
                post("r1", 1714557700.0, "Kroonbank outage", "[removed]"),
                post("r2", 1714557600.0, "Kroonbank outage 2", "[deleted]"),
                by_mod,
                gone_author,
            ],
            None,
        );
        let got = parse_reddit(&body, "r", now()).unwrap();
        let why: Vec<(&str, String)> =
            got.items.iter().filter_map(|i| i.outcome.clone().err().map(|w| (i.name.as_str(), w))).collect();
        assert_eq!(
            why,
            vec![
                ("t3_r1", "post [removed]".to_string()),
                ("t3_r2", "post [deleted]".to_string()),
                ("t3_r3", "post removed (moderator)".to_string())
            ]
        );
        let kept = got.items[3].outcome.as_ref().unwrap();
        assert_eq!((kept.id.as_str(), kept.author.as_deref()), ("t3_r4", None), "a deleted account keeps its post");
    }

    #[test]
    fn bad_items_are_skipped_and_the_rest_kept() {
        let mut no_name = post("n1", 1714557700.0, "x", "");
        no_name["data"].as_object_mut().unwrap().remove("name");
        no_name["data"].as_object_mut().unwrap().remove("id");
        let mut from_id = post("n2", 1714557690.0, "fullname from kind and id", "");
        from_id["data"].as_object_mut().unwrap().remove("name");
        let body = listing(
            vec![
                no_name,
                json!({"kind": "t3"}),
                from_id,
                post("n3", 1714557680.0, "first", ""),
                post("n3", 1714557680.0, "second copy", ""),
                post("n4", 1714557670.0, "  ", " "),
                json!({"kind": "more", "data": {"name": "t1_more", "id": "more", "children": ["a", "b"]}}),
                post("n5", 1714557660.0, "still kept", ""),
            ],
            None,
        );
        let got = parse_reddit(&body, "r", now()).unwrap();
        let skipped: Vec<(&str, &str)> = got.skipped.iter().map(|s| (s.item.as_str(), s.why.as_str())).collect();
        assert_eq!(
            skipped,
            vec![
                ("#0", "no fullname (name) or id"),
                ("#1", "no data object"),
                ("t3_n3", "repeated in the same page; kept the first")
            ]
        );
        let ids: Vec<&str> = got.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(ids, ["t3_n2", "t3_n3", "t3_n4", "t1_more", "t3_n5"]);
        assert_eq!(got.items[1].outcome.as_ref().unwrap().text, "first");
        assert_eq!(got.items[2].outcome.clone().unwrap_err(), "no title or text");
        assert!(got.items[3].outcome.clone().unwrap_err().contains("not a post or comment"));
        assert_eq!(got.items[4].outcome.as_ref().unwrap().text, "still kept");
    }

    #[test]
    fn missing_or_future_times_fall_back_to_the_fetch_time() {
        let mut no_time = post("t1", 0.0, "no time", "");
        no_time["data"].as_object_mut().unwrap().remove("created_utc");
        let future = post("t2", 1_900_000_000.0, "from the future", "");
        let mut text_time = post("t3", 0.0, "string time", "");
        text_time["data"]["created_utc"] = json!("1714557000.0");
        let got = parse_reddit(&listing(vec![no_time, future, text_time], None), "r", now()).unwrap();
        assert_eq!(got.items[0].created_utc, None);
        assert_eq!(got.items[0].outcome.as_ref().unwrap().published, now());
        assert_eq!(got.items[1].outcome.as_ref().unwrap().published, now());
        assert_eq!(got.items[1].created_utc, Some(1_900_000_000), "the raw time still orders the listing");
        assert_eq!(got.items[2].created_utc, Some(1714557000));
    }

    #[test]
    fn bodies_that_are_not_listings_are_parse_errors() {
        let cases: [(&[u8], &str); 7] = [
            (b"<!DOCTYPE html><html><body>Too Many Requests</body></html>", "HTML"),
            (b"{\"kind\": \"Listing\", \"data\": {\"children\": [", "invalid JSON"),
            (b"{\"kind\": \"Listing\", \"data\": {\"children\": [\"\xff\"]}}", "invalid JSON"),
            (b"   ", "empty"),
            (b"{\"kind\": \"t3\", \"data\": {}}", "got kind \"t3\""),
            (b"{\"message\": \"Forbidden\", \"error\": 403}", "error object"),
            (b"[1, 2, 3]", "no data.children"),
        ];
        for (body, want) in cases {
            match parse_reddit(body, "r", now()) {
                Err(SourceError::Parse(msg)) => assert!(msg.contains(want), "{msg:?} should mention {want:?}"),
                other => panic!("{:?}: expected a parse error, got {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let empty = parse_reddit(&listing(vec![], None), "r", now()).unwrap();
        assert!(empty.items.is_empty() && empty.after.is_none());
    }

    fn item(name: &str, utc: i64) -> RedditItem {
        RedditItem {
            name: name.into(),
            created_utc: Some(utc),
            outcome: Ok(Mention {
                source: "r".into(),
                id: name.into(),
                text: name.into(),
                author: None,
                reach: None,
                lang: None,
                published: DateTime::from_timestamp(utc, 0).unwrap(),
                url: None,
            }),
        }
    }

    fn page_of(items: Vec<RedditItem>, after: Option<&str>) -> RedditListing {
        RedditListing { items, skipped: vec![], after: after.map(str::to_string) }
    }

    fn ids(p: &Page) -> Vec<&str> {
        p.mentions.iter().map(|m| m.id.as_str()).collect()
    }

    fn cursor(p: &Page) -> Cursor {
        serde_json::from_value(p.cursor.clone()).unwrap()
    }

    #[test]
    fn a_run_pages_older_until_the_mark_and_then_moves_the_mark_up() {
        let start = Cursor { mark: Mark { at: 100, ids: vec!["t3_a".into()] }, run: None };
        // Newest page: nothing old yet, so go on after its last item.
        let p1 = next_page(start, page_of(vec![item("t3_e", 130), item("t3_d", 120)], Some("t3_d")), now()).unwrap();
        assert_eq!((ids(&p1), p1.more), (vec!["t3_e", "t3_d"], true));
        let c1 = cursor(&p1);
        assert_eq!(c1.mark.at, 100, "the mark only moves when the run is done");
        assert_eq!(c1.run.as_ref().unwrap().after.as_deref(), Some("t3_d"));
        // Next page reaches the mark: t3_b shares its second with t3_a but was not handed on.
        let p2 =
            next_page(c1, page_of(vec![item("t3_c", 110), item("t3_b", 100), item("t3_a", 100)], Some("t3_a")), now())
                .unwrap();
        assert_eq!((ids(&p2), p2.more), (vec!["t3_c", "t3_b"], false));
        assert_eq!(cursor(&p2), Cursor { mark: Mark { at: 130, ids: vec!["t3_e".into()] }, run: None });
    }

    #[test]
    fn a_vanished_after_post_restarts_from_the_top_without_handing_on_twice() {
        let mid_run = Cursor {
            mark: Mark { at: 100, ids: vec![] },
            run: Some(Run {
                after: Some("t3_d".into()),
                top: Mark { at: 130, ids: vec!["t3_e".into()] },
                bottom: Mark { at: 120, ids: vec!["t3_d".into()] },
                restarts: 0,
            }),
        };
        let p = next_page(mid_run, page_of(vec![], None), now()).unwrap();
        assert!(p.more && p.mentions.is_empty());
        let c = cursor(&p);
        let run = c.run.clone().unwrap();
        assert_eq!((run.after, run.restarts), (None, 1));
        // From the top again: f is newer than the run (next run's), e and d were handed on.
        let top_page =
            vec![item("t3_f", 140), item("t3_e", 130), item("t3_d", 120), item("t3_c", 110), item("t3_x", 90)];
        let p = next_page(c, page_of(top_page, Some("t3_x")), now()).unwrap();
        assert_eq!((ids(&p), p.more), (vec!["t3_c"], false));
        let c = cursor(&p);
        assert_eq!(c.mark, Mark { at: 130, ids: vec!["t3_e".into()] });
        // The next run picks up f.
        let p = next_page(c, page_of(vec![item("t3_f", 140), item("t3_e", 130)], Some("t3_e")), now()).unwrap();
        assert_eq!((ids(&p), p.more), (vec!["t3_f"], false));
    }

    #[test]
    fn restarts_are_bounded_so_an_empty_listing_cannot_loop() {
        let run =
            Run { after: Some("t3_d".into()), top: Mark::default(), bottom: Mark::default(), restarts: MAX_RESTARTS };
        let p = next_page(Cursor { mark: Mark::default(), run: Some(run) }, page_of(vec![], None), now()).unwrap();
        assert!(!p.more);
        assert!(cursor(&p).run.is_none());
    }

    #[test]
    fn future_times_do_not_push_the_mark_past_now() {
        let start = Cursor { mark: Mark { at: 100, ids: vec![] }, run: None };
        let p =
            next_page(start, page_of(vec![item("t3_z", now().timestamp() + 86_400), item("t3_y", 150)], None), now())
                .unwrap();
        assert_eq!(cursor(&p).mark.at, now().timestamp());
    }

    #[test]
    fn urls_for_search_subreddit_and_oauth() {
        let www = Url::parse("https://www.reddit.com").unwrap();
        let r = Reddit::new(www.clone(), Listing::Search("kroon bank".into()), "ua".into(), None);
        assert_eq!(
            r.listing_url(Some("t3_x")).as_str(),
            "https://www.reddit.com/search.json?q=kroon+bank&sort=new&limit=100&raw_json=1&after=t3_x"
        );
        let r = Reddit::new(
            www.clone(),
            Listing::Subreddit("kroonbank".into()),
            "ua".into(),
            Some(("i".into(), "s".into())),
        );
        assert_eq!(r.listing_url(None).as_str(), "https://oauth.reddit.com/r/kroonbank/new.json?limit=100&raw_json=1");
        assert_eq!(r.token_url.as_str(), "https://www.reddit.com/api/v1/access_token");
        let proxy = Url::parse("http://127.0.0.1:9/reddit/").unwrap();
        let r = Reddit::new(proxy, Listing::Subreddit("a+b".into()), "ua".into(), Some(("i".into(), "s".into())));
        assert_eq!(r.listing_url(None).as_str(), "http://127.0.0.1:9/reddit/r/a+b/new.json?limit=100&raw_json=1");
        assert_eq!(r.token_url.as_str(), "http://127.0.0.1:9/reddit/api/v1/access_token");
    }

    #[test]
    fn basic_auth_is_standard_base64() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(
            base64(b"p-jcoLKBynTLew:gko_LXELoV07ZBNUXrvWZfzE3aI"),
            "cC1qY29MS0J5blRMZXc6Z2tvX0xYRUxvVjA3WkJOVVhydldaZnpFM2FJ"
        );
    }
}
