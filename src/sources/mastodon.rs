//! `kind = "mastodon"`: public statuses carrying the configured hashtags on one instance.
//!
//! Each tag is read from `GET {url}/api/v1/timelines/tag/{tag}?limit=40`, a JSON array of
//! Status entities, newest first (with `Authorization: Bearer` when a token is configured).
//! One `page()` call handles one tag; while other tags still have work this poll the page says
//! `more`, so a poll walks all tags in turn. Per tag:
//!
//! - **Backfill** (a tag seen for the first time, e.g. the first poll): the newest page, then
//!   `max_id=<oldest id so far>` (what the `Link` header's `rel="next"` carries) to page older
//!   until a status is older than `backfill_since` (those are dropped) or a page comes back
//!   short.
//! - **Resume**: `min_id=<newest id handed on>`, which returns the page of statuses
//!   *immediately* newer than it (unlike `since_id`, which returns the newest ones and leaves a
//!   gap); while that page is full the next one starts at its newest id (what `rel="prev"`
//!   carries). The URL is built from the cursor rather than taken from the `Link` header, so
//!   the cursor stays a number and a server cannot point the next request at another host.
//!   A short page never loses anything: the next poll starts from the newest id anyway.
//!
//! Status ids are numeric strings compared as integers (`"100" > "99"`); a status whose id is
//! not a number is skipped. Ids of skipped statuses still move the cursor, so a bad status is
//! reported once, not on every poll.
//!
//! A status becomes a [`Mention`] with its id, its content warning (`spoiler_text`) and its
//! `content` as plain text, `account.acct` as author, `account.followers_count` as reach,
//! `language`, `created_at` and `url` (else `uri`). **Boosts are skipped**: a boost
//! (`reblog` set) re-shares a post that may be days old, so counting it would make an old
//! complaint look like a new one; when the original carries the tag it is in the timeline in
//! its own right. A status tagged with two configured tags is handed on once per tag, with
//! the same id.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::http::parse_json_body;
use super::primary_lang;
use super::registry::Settings;
use super::text::html_to_text;
use super::{cursor, parse_time, sane_time, Http, HttpRequest, Kind, Page, PageRequest, Skipped, SourceError};
use crate::model::Mention;
use crate::secret::{Environment, SecretRef};
use crate::settings::Table;

/// Statuses asked for per request: the most the tag timeline gives.
pub(crate) const LIMIT: usize = 40;

/// `kind = "mastodon"`: `url` (the instance), `tags` (without `#`), and optionally
/// `token_env`/`token_file` (instances that ask for a login to read timelines).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub url: Url,
    pub tags: Vec<String>,
    pub token: Option<SecretRef>,
}

impl Settings for Spec {
    const KEYS: &'static [&'static str] = &["url", "tags", "token_env", "token_file"];

    fn read(t: &mut Table<'_>) -> Option<Spec> {
        let url = t.required_url("url", "for kind mastodon");
        let tags: Vec<String> = t
            .strings("tags")
            .unwrap_or_default()
            .into_iter()
            .map(|tag| tag.trim_start_matches('#').to_string())
            .filter(|tag| !tag.is_empty())
            .collect();
        if tags.is_empty() {
            t.problem("tags", "give at least one tag to follow (without #)");
        }
        let token = t.secret("token");
        (!tags.is_empty()).then_some(Spec { url: url?, tags, token })
    }

    fn build(&self, env: &Environment) -> Result<Box<dyn Kind>, SourceError> {
        let token = self.token.as_ref().map(|t| super::read_secret(t, env)).transpose()?;
        Ok(Box::new(Mastodon { url: self.url.clone(), tags: self.tags.clone(), token }))
    }

    fn host(&self) -> String {
        self.url.host_str().unwrap_or("").to_string()
    }
}

/// One Mastodon instance, followed through its hashtag timelines.
pub(crate) struct Mastodon {
    url: Url,
    tags: Vec<String>,
    token: Option<String>,
}

/// The cursor, stored as JSON between pages:
/// `{"tags": {"storing": {"newest": "113270115826048975", "backfill_before": null}}, "pending": []}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Where each configured tag stands; a tag without an entry is backfilled next.
    #[serde(default)]
    tags: BTreeMap<String, TagCursor>,
    /// Tags still to read in the current poll, the next one first; empty between polls (the
    /// next `page()` then starts a new poll over all tags).
    #[serde(default)]
    pending: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct TagCursor {
    /// The highest status id seen for this tag (an integer as a string); the next poll asks
    /// `min_id=` it. `None` when the timeline was empty: the next poll asks `min_id=0`, i.e.
    /// everything the tag has gathered since.
    #[serde(default)]
    newest: Option<String>,
    /// While backfilling: the next page is `max_id=` this (the oldest id seen so far).
    #[serde(default)]
    backfill_before: Option<String>,
}

/// Which slice of a tag timeline to ask for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Position {
    Newest,
    Before(u128),
    After(u128),
}

impl Mastodon {
    fn tag_url(&self, tag: &str, position: Position) -> Result<Url, SourceError> {
        let mut url = self.url.clone();
        url.path_segments_mut()
            .map_err(|_| SourceError::Config(format!("{} cannot take a path", self.url)))?
            .pop_if_empty()
            .extend(["api", "v1", "timelines", "tag", tag]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", &LIMIT.to_string());
            match position {
                Position::Newest => {}
                Position::Before(id) => {
                    q.append_pair("max_id", &id.to_string());
                }
                Position::After(id) => {
                    q.append_pair("min_id", &id.to_string());
                }
            }
        }
        Ok(url)
    }

    /// The stored cursor, limited to the configured tags (an unreadable one starts the tags
    /// over with a backfill, with a note).
    fn read_cursor(&self, stored: &Value) -> (Cursor, Option<Skipped>) {
        let (cursor, note) = cursor::parse::<Cursor>(stored);
        let mut cursor = cursor.unwrap_or_default();
        cursor.tags.retain(|tag, _| self.tags.contains(tag));
        cursor.pending.retain(|tag| self.tags.contains(tag));
        (cursor, note)
    }
}

#[async_trait::async_trait]
impl Kind for Mastodon {
    async fn page(&self, http: &Http, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let (mut cursor, note) = self.read_cursor(req.cursor);
        if cursor.pending.is_empty() {
            cursor.pending = self.tags.clone();
        }
        let Some(tag) = cursor.pending.first().cloned() else {
            return Err(SourceError::Config("no tags to follow".into()));
        };
        let state = cursor.tags.get(&tag).cloned();
        let old_newest = state.as_ref().and_then(|s| s.newest.as_deref()).and_then(|id| id.parse::<u128>().ok());
        let position = match &state {
            None => Position::Newest,
            Some(TagCursor { backfill_before: Some(before), .. }) => match before.parse::<u128>() {
                Ok(id) => Position::Before(id),
                Err(_) => Position::After(old_newest.unwrap_or(0)),
            },
            Some(_) => Position::After(old_newest.unwrap_or(0)),
        };

        let resp = http.send(HttpRequest::get(self.tag_url(&tag, position)?).bearer(self.token.as_deref())).await?;
        let parsed = parse_mastodon(&resp.body, req.source, req.now)?;

        // Keep only what was asked for, in case a server ignores min_id/max_id.
        let id_of = |m: &Mention| m.id.parse::<u128>().unwrap_or(0);
        let mut mentions = parsed.mentions;
        mentions.retain(|m| match position {
            Position::Newest => true,
            Position::Before(b) => id_of(m) < b,
            Position::After(a) => id_of(m) > a,
        });
        let newest = old_newest.max(parsed.newest_id);
        let (backfill_before, tag_more) = match position {
            Position::Newest | Position::Before(_) => {
                let before = mentions.len();
                mentions.retain(|m| m.published >= req.backfill_since);
                let reached = mentions.len() < before || parsed.len < LIMIT;
                let next = match (parsed.oldest_id, position) {
                    (Some(oldest), Position::Before(b)) if oldest >= b => None,
                    (Some(oldest), _) if !reached => Some(oldest),
                    _ => None,
                };
                (next.map(|id| id.to_string()), next.is_some())
            }
            Position::After(a) => (None, parsed.len >= LIMIT && newest.is_some_and(|n| n > a)),
        };
        cursor.tags.insert(tag, TagCursor { newest: newest.map(|id| id.to_string()), backfill_before });
        if !tag_more {
            cursor.pending.remove(0);
        }
        let mut skipped = parsed.skipped;
        skipped.extend(note);
        Ok(Page {
            mentions,
            skipped,
            more: !cursor.pending.is_empty(),
            cursor: cursor::write(&cursor)?,
            rate_limit: resp.rate_limit,
            ..Page::default()
        })
    }
}

/// One tag-timeline page, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MastodonPage {
    pub mentions: Vec<Mention>,
    pub skipped: Vec<Skipped>,
    /// Statuses in the array, skipped ones included (a full page means there may be more).
    pub len: usize,
    /// The highest and lowest numeric status id in the page, skipped statuses included.
    pub newest_id: Option<u128>,
    pub oldest_id: Option<u128>,
}

/// Reads a tag-timeline body (a JSON array of Status entities) into mentions.
pub fn parse_mastodon(body: &[u8], source: &str, now: DateTime<Utc>) -> Result<MastodonPage, SourceError> {
    let statuses = match parse_json_body(body, None)? {
        Value::Array(items) => items,
        Value::Object(obj) => {
            let error = obj.get("error").and_then(Value::as_str).map(|e| format!(" with error {e:?}"));
            return Err(SourceError::Parse(format!(
                "expected a JSON array of statuses, got an object{}",
                error.unwrap_or_default()
            )));
        }
        other => return Err(SourceError::Parse(format!("expected a JSON array of statuses, got {other}"))),
    };
    let mut page = MastodonPage { len: statuses.len(), ..MastodonPage::default() };
    let mut seen = HashSet::with_capacity(statuses.len());
    for (i, status) in statuses.iter().enumerate() {
        let Some(id) = status_id(status) else {
            page.skipped.push(Skipped { item: format!("#{i}"), why: "no status id".into() });
            continue;
        };
        let Ok(number) = id.parse::<u128>() else {
            page.skipped.push(Skipped { item: id, why: "status id is not a number".into() });
            continue;
        };
        page.newest_id = page.newest_id.max(Some(number));
        page.oldest_id = Some(page.oldest_id.map_or(number, |o| o.min(number)));
        if !seen.insert(number) {
            page.skipped.push(Skipped { item: id, why: "duplicate id in the page (kept the first)".into() });
            continue;
        }
        match status_mention(status, &id, source, now) {
            Ok(m) => page.mentions.push(m),
            Err(why) => page.skipped.push(Skipped { item: id, why }),
        }
    }
    Ok(page)
}

/// The status id, as Mastodon sends it (a string) or as a bare number from a lax server.
fn status_id(status: &Value) -> Option<String> {
    match status.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

fn status_mention(status: &Value, id: &str, source: &str, now: DateTime<Utc>) -> Result<Mention, String> {
    let text_of = |key: &str| status.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    if let Some(original) = status.get("reblog").filter(|r| !r.is_null()) {
        let of = original.get("id").and_then(Value::as_str).unwrap_or("?");
        return Err(format!("a boost of status {of}: re-sharing an old post is not a new mention"));
    }
    let content = text_of("content").map(html_to_text).unwrap_or_default();
    let text = match text_of("spoiler_text") {
        Some(warning) if content.is_empty() => warning.to_string(),
        Some(warning) => format!("{warning}\n{content}"),
        None => content,
    };
    if text.is_empty() {
        return Err("no text (a media-only status?)".into());
    }
    let account = status.get("account");
    let author = account.and_then(|a| a.get("acct")).and_then(Value::as_str).map(str::trim).filter(|a| !a.is_empty());
    let reach = account.and_then(|a| a.get("followers_count")).and_then(Value::as_u64);
    let published = sane_time(text_of("created_at").and_then(parse_time), now).0;
    Ok(Mention {
        source: source.to_string(),
        id: id.to_string(),
        text,
        author: author.map(str::to_string),
        reach,
        lang: text_of("language").and_then(primary_lang),
        published,
        url: text_of("url").or_else(|| text_of("uri")).map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    /// A Status entity shaped like the one in the Mastodon documentation.
    fn status(id: &str, created: &str, content: &str) -> Value {
        json!({
            "id": id,
            "created_at": created,
            "in_reply_to_id": null,
            "in_reply_to_account_id": null,
            "sensitive": false,
            "spoiler_text": "",
            "visibility": "public",
            "language": "nl",
            "uri": format!("https://x.social/users/anna/statuses/{id}"),
            "url": format!("https://x.social/@anna/{id}"),
            "replies_count": 0,
            "reblogs_count": 1,
            "favourites_count": 2,
            "content": content,
            "reblog": null,
            "application": {"name": "Web", "website": null},
            "account": {
                "id": "7", "username": "anna", "acct": "anna@x.social", "display_name": "Anna",
                "locked": false, "bot": false, "created_at": "2020-01-01T00:00:00.000Z",
                "url": "https://x.social/@anna", "followers_count": 1234, "following_count": 5,
                "statuses_count": 99, "emojis": [], "fields": []
            },
            "media_attachments": [], "mentions": [],
            "tags": [{"name": "storing", "url": "https://x.social/tags/storing"}],
            "emojis": [], "card": null, "poll": null
        })
    }

    fn parse(v: &Value) -> MastodonPage {
        parse_mastodon(v.to_string().as_bytes(), "masto", now()).unwrap()
    }

    #[test]
    fn statuses_become_mentions_with_plain_text_author_reach_and_language() {
        let html = concat!(
            "<p>Alles plat bij <a href=\"https://x.social/tags/kroonbank\">#<span>kroonbank</span></a>",
            " &amp; de app</p>"
        );
        let mut warned = status("110000000000000003", "2024-05-01T11:00:00.000Z", html);
        warned["spoiler_text"] = json!("bankstoring");
        warned["language"] = json!("nl-BE");
        let mut plain = status("110000000000000002", "2024-05-01T10:00:00.000Z", "<p>Works again, thanks!</p>");
        plain["language"] = json!("EN");
        plain["url"] = Value::Null;
        plain["account"]["acct"] = json!("bob");
        plain["account"]["followers_count"] = json!(3);
        let page = parse(&json!([warned, plain]));
        assert_eq!(page.skipped, vec![]);
        assert_eq!(page.len, 2);
        assert_eq!(page.newest_id, Some(110000000000000003));
        assert_eq!(page.oldest_id, Some(110000000000000002));
        let [a, b] = &page.mentions[..] else { panic!("two mentions: {:?}", page.mentions) };
        assert_eq!(a.id, "110000000000000003");
        assert_eq!(a.source, "masto");
        assert_eq!(a.text, "bankstoring\nAlles plat bij #kroonbank & de app");
        assert_eq!(a.author.as_deref(), Some("anna@x.social"));
        assert_eq!(a.reach, Some(1234));
        assert_eq!(a.lang.as_deref(), Some("nl"));
        assert_eq!(a.published.to_rfc3339(), "2024-05-01T11:00:00+00:00");
        assert_eq!(a.url.as_deref(), Some("https://x.social/@anna/110000000000000003"));
        assert_eq!(b.text, "Works again, thanks!");
        assert_eq!((b.author.as_deref(), b.reach, b.lang.as_deref()), (Some("bob"), Some(3), Some("en")));
        assert_eq!(
            b.url.as_deref(),
            Some("https://x.social/users/anna/statuses/110000000000000002"),
            "falls back to uri"
        );
    }

    #[test]
    fn ids_compare_as_numbers_not_strings() {
        let page = parse(&json!([
            status("100", "2024-05-01T11:00:00Z", "b"),
            status("99", "2024-05-01T10:00:00Z", "a"),
            status("1000", "2024-05-01T11:30:00Z", "c"),
        ]));
        assert_eq!((page.newest_id, page.oldest_id), (Some(1000), Some(99)));
    }

    #[test]
    fn bad_statuses_are_skipped_with_why_and_the_rest_kept() {
        let mut no_id = status("1", "2024-05-01T11:00:00Z", "x");
        no_id.as_object_mut().unwrap().remove("id");
        let mut boost = status("5", "2024-05-01T11:00:00Z", "");
        boost["reblog"] = status("2", "2024-04-01T11:00:00Z", "old complaint");
        let media_only = status("6", "2024-05-01T11:00:00Z", "");
        let flake = status("AbC9xyz", "2024-05-01T11:00:00Z", "pleroma id");
        let page = parse(&json!([
            status("9", "2024-05-01T11:50:00Z", "<p>first</p>"),
            no_id,
            boost,
            media_only,
            flake,
            status("9", "2024-05-01T11:50:00Z", "<p>again</p>"),
            "not an object",
            status("8", "2024-05-01T11:40:00Z", "<p>kept</p>"),
        ]));
        let texts: Vec<&str> = page.mentions.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["first", "kept"]);
        let skipped: Vec<(&str, &str)> = page.skipped.iter().map(|s| (s.item.as_str(), s.why.as_str())).collect();
        assert_eq!(skipped.len(), 6, "{skipped:?}");
        assert_eq!(skipped[0], ("#1", "no status id"));
        assert!(skipped[1].0 == "5" && skipped[1].1.contains("boost of status 2"), "{skipped:?}");
        assert!(skipped[2].0 == "6" && skipped[2].1.contains("no text"), "{skipped:?}");
        assert!(skipped[3].0 == "AbC9xyz" && skipped[3].1.contains("not a number"), "{skipped:?}");
        assert!(skipped[4].0 == "9" && skipped[4].1.contains("duplicate"), "{skipped:?}");
        assert_eq!(skipped[5].0, "#6");
        // Skipped statuses still move the cursor.
        assert_eq!((page.newest_id, page.oldest_id), (Some(9), Some(5)));
    }

    #[test]
    fn missing_or_future_times_fall_back_to_the_fetch_time() {
        let mut missing = status("2", "", "no time");
        missing.as_object_mut().unwrap().remove("created_at");
        let page =
            parse(&json!([status("3", "2024-05-03T00:00:00Z", "future"), missing, status("1", "garbage", "bad")]));
        assert_eq!(page.mentions.len(), 3);
        assert!(page.mentions.iter().all(|m| m.published == now()));
    }

    #[test]
    fn an_empty_timeline_is_an_empty_page() {
        let page = parse_mastodon(b"[]", "masto", now()).unwrap();
        assert_eq!((page.len, page.mentions.len(), page.newest_id), (0, 0, None));
    }

    #[test]
    fn whole_page_problems_are_parse_errors_naming_what_was_wrong() {
        let cases: [(&[u8], &str); 6] = [
            (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "HTML"),
            (b"[{\"id\": \"1\", \"content\": ", "invalid JSON"),
            (b"", "empty"),
            (b"{\"error\": \"This method requires an authenticated user\"}", "requires an authenticated user"),
            (b"42", "array of statuses"),
            (b"[{\"id\": \"1\", \"content\": \"\xff\xfe\"}]", "invalid JSON"),
        ];
        for (body, want) in cases {
            match parse_mastodon(body, "masto", now()) {
                Err(SourceError::Parse(msg)) => assert!(msg.contains(want), "{msg:?} should mention {want:?}"),
                other => panic!("{:?}: expected a parse error, got {other:?}", String::from_utf8_lossy(body)),
            }
        }
    }

    #[test]
    fn tag_urls_encode_the_tag_and_the_position() {
        let m = Mastodon { url: Url::parse("https://x.social/").unwrap(), tags: vec!["café".into()], token: None };
        let u = m.tag_url("café", Position::After(110)).unwrap();
        assert_eq!(u.as_str(), "https://x.social/api/v1/timelines/tag/caf%C3%A9?limit=40&min_id=110");
        let u = m.tag_url("a/b", Position::Before(7)).unwrap();
        assert_eq!(u.as_str(), "https://x.social/api/v1/timelines/tag/a%2Fb?limit=40&max_id=7");
    }

    #[test]
    fn language_tags_become_lower_case_primary_tags() {
        assert_eq!(primary_lang("nl-BE").as_deref(), Some("nl"));
        assert_eq!(primary_lang("SV_se").as_deref(), Some("sv"));
        assert_eq!(primary_lang(""), None);
        assert_eq!(primary_lang("12"), None);
    }

    #[test]
    fn an_unreadable_cursor_starts_over_and_unconfigured_tags_are_dropped() {
        let m = Mastodon { url: Url::parse("https://x.social").unwrap(), tags: vec!["a".into()], token: None };
        assert_eq!(m.read_cursor(&json!("garbage")).0, Cursor::default());
        let (c, _) =
            m.read_cursor(&json!({"tags": {"a": {"newest": "5"}, "gone": {"newest": "9"}}, "pending": ["gone", "a"]}));
        assert_eq!(c.tags.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(c.pending, ["a"]);
    }
}
