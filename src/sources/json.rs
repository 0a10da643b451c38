//! The generic `json` kind: any HTTP API that answers with JSON, described in the config by
//! JSON Pointers (RFC 6901) instead of code. This is how X/Twitter API v2, YouTube
//! `commentThreads` and in-house APIs are read.
//!
//! Each page is a GET of the configured `url` (with the bearer token, if one is configured,
//! sent only to that URL's origin). `items` points at the array of items ("" when the body is
//! the array); `fields` point inside one item: `id` and `text` are required, `author`,
//! `followers`, `lang`, `created` and `url` optional. Ids may be strings or numbers; followers
//! a number or a numeric string; `created` RFC 3339, RFC 2822 or epoch seconds/milliseconds
//! (a string or a number). Text is plain text, kept as written (`text::plain_text`: only
//! whitespace is tidied), since a JSON API's text field is what the user typed: `a<b` is not a
//! tag. For YouTube, point `text` at `textOriginal` (what was typed), not `textDisplay` (HTML
//! made of it). An item without an id or text is skipped with its pointer and why; a body that
//! is not JSON, or whose `items` is not an array, is a `Parse` error. A missing or null `items`
//! is an empty page (X leaves `data` out when nothing matched) unless the body carries an
//! `errors`/`error` member, which is reported.
//!
//! How it pages depends on `cursor.strategy`:
//! - `max_id`: the highest id handed on so far is sent as `param` (X: `since_id`); ids compare
//!   as integers when both are, else as strings. One request per poll; items not above the
//!   stored id are dropped even when the server ignores the parameter. If more than one page
//!   of items arrives between polls and the API answers newest first, the older ones are not
//!   fetched: use `next_page` for such APIs when that matters.
//! - `max_time`: the newest `created` handed on so far is sent as `param`, RFC 3339 in whole
//!   seconds (rounded down, so a server that compares with `>` still returns that second);
//!   items older than it, or at that time with an id already handed on, are dropped. One
//!   request per poll; needs `fields.created`.
//! - `next_page`: the value at `pointer` is the next (older) page: an absolute URL is
//!   followed; with `param` set, anything else is a token sent as `param` on the configured
//!   URL (YouTube: `pageToken`, X: `pagination_token`); without `param`, a relative URL is
//!   resolved against the configured URL, and a bare token is a `Config` error. A poll is a
//!   pass from the top (newest page) down, returning `more: true` per page, that ends at the
//!   first item already handed on (by id, or by `created` older than the newest handed on),
//!   or when the value at `pointer` is null, missing or empty. The API must list newest first.
//!
//! The first poll (backfill): `next_page` pages back until items are older than
//! `backfill_since`; `max_id` and `max_time` take the one page the API gives. Either way items
//! older than `backfill_since` are dropped. Items without a time are kept, stamped with the
//! fetch time, and do not move a time cursor; neither do times in the future.

use std::cmp::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::http::parse_json_body;
use super::primary_lang;
use super::registry::Settings;
use super::text::plain_text;
use super::{
    cursor, fields, sane_time, Http, HttpRequest, Kind, Page, PageRequest, Skipped, SourceError, MAX_FUTURE_SKEW,
};
use crate::model::Mention;
use crate::secret::{Environment, SecretRef};
use crate::settings::Table;

/// At most this many recently handed-on ids are kept in the cursor to recognise items
/// already handed on (the newest ones: those are what the top of the next pass shows).
const KNOWN_IDS: usize = 200;

/// `kind = "json"`: `url`, `items` (a JSON Pointer to the array of items, "" for a top-level
/// array), `[sources.fields]` (pointers into one item), `[sources.cursor]` (how to ask for
/// what is new), and optionally `token_env`/`token_file` (a bearer token).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub url: Url,
    pub items: String,
    pub fields: JsonFields,
    pub cursor: JsonCursor,
    pub token: Option<SecretRef>,
}

/// JSON Pointers (RFC 6901) into one item.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonFields {
    pub id: String,
    pub text: String,
    pub author: Option<String>,
    pub followers: Option<String>,
    pub lang: Option<String>,
    pub created: Option<String>,
    pub url: Option<String>,
}

/// How to ask for what is new.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonCursor {
    /// Send the highest id seen so far as query parameter `param` (e.g. X's `since_id`).
    MaxId { param: String },
    /// Send the newest `created` time seen so far (RFC 3339) as query parameter `param`.
    MaxTime { param: String },
    /// Follow the URL (or token, sent as `param`) found at `pointer` in each response.
    NextPage { pointer: String, param: Option<String> },
}

impl Settings for Spec {
    const KEYS: &'static [&'static str] = &["url", "items", "fields", "cursor", "token_env", "token_file"];

    fn read(t: &mut Table<'_>) -> Option<Spec> {
        let url = t.required_url("url", "for kind json");
        let items = t.string("items").unwrap_or_default();
        let items_ok = pointer(t, "items", &items);
        let fields = match t.table("fields") {
            Some(mut f) => read_fields(&mut f),
            None => {
                t.problem("fields", "required for kind json: JSON Pointers for at least id and text");
                None
            }
        };
        let has_created = t.raw("fields").is_some_and(|f| f.get("created").is_some());
        let cursor = match t.table("cursor") {
            Some(mut c) => read_cursor_settings(&mut c, has_created),
            None => {
                t.problem("cursor", "required for kind json: strategy = max_id | max_time | next_page");
                None
            }
        };
        let token = t.secret("token");
        items_ok.then_some(())?;
        Some(Spec { url: url?, items, fields: fields?, cursor: cursor?, token })
    }

    fn build(&self, env: &Environment) -> Result<Box<dyn Kind>, SourceError> {
        let token = self.token.as_ref().map(|t| super::read_secret(t, env)).transpose()?;
        Ok(Box::new(Json {
            url: self.url.clone(),
            items: self.items.clone(),
            fields: self.fields.clone(),
            cursor: self.cursor.clone(),
            token,
        }))
    }

    fn host(&self) -> String {
        self.url.host_str().unwrap_or("").to_string()
    }
}

/// Whether `p` is a JSON Pointer (recorded when not).
fn pointer(t: &mut Table<'_>, key: &str, p: &str) -> bool {
    let ok = p.is_empty() || p.starts_with('/');
    if !ok {
        t.problem(key, format!("{p:?} is not a JSON Pointer (they start with /, e.g. /data/0/text)"));
    }
    ok
}

fn read_fields(t: &mut Table<'_>) -> Option<JsonFields> {
    t.refuse_unknown(&["id", "text", "author", "followers", "lang", "created", "url"], |_| None);
    let mut ok = true;
    let mut required = |t: &mut Table<'_>, key: &str| -> String {
        match t.string(key) {
            Some(p) => {
                ok &= pointer(t, key, &p);
                p
            }
            None => {
                if !t.has(key) {
                    t.problem(key, "required for kind json");
                }
                ok = false;
                String::new()
            }
        }
    };
    let id = required(t, "id");
    let text = required(t, "text");
    let mut optional = |t: &mut Table<'_>, key: &str| -> Option<String> {
        let p = t.string(key)?;
        ok &= pointer(t, key, &p);
        Some(p)
    };
    let fields = JsonFields {
        id,
        text,
        author: optional(t, "author"),
        followers: optional(t, "followers"),
        lang: optional(t, "lang"),
        created: optional(t, "created"),
        url: optional(t, "url"),
    };
    ok.then_some(fields)
}

fn read_cursor_settings(t: &mut Table<'_>, has_created: bool) -> Option<JsonCursor> {
    t.refuse_unknown(&["strategy", "param", "pointer"], |_| None);
    let param = t.string("param").filter(|p| !p.is_empty());
    let strategy = t.string("strategy");
    match strategy.as_deref() {
        Some("max_id") | Some("max_time") if param.is_none() => {
            t.problem("param", "required: the query parameter that carries the cursor");
            None
        }
        Some("max_id") => Some(JsonCursor::MaxId { param: param? }),
        Some("max_time") if !has_created => {
            t.problem("strategy", "max_time needs fields.created (where each item's time is)");
            None
        }
        Some("max_time") => Some(JsonCursor::MaxTime { param: param? }),
        Some("next_page") => {
            let pointer_text = t.string("pointer").unwrap_or_default();
            if pointer_text.is_empty() {
                t.problem("pointer", "required for next_page: where the next page's URL or token is");
                return None;
            }
            pointer(t, "pointer", &pointer_text).then_some(JsonCursor::NextPage { pointer: pointer_text, param })
        }
        other => {
            t.problem("strategy", format!("{:?}: expected max_id, max_time or next_page", other.unwrap_or("")));
            None
        }
    }
}

/// A source read from a JSON API through configured pointers.
pub(crate) struct Json {
    url: Url,
    items: String,
    fields: JsonFields,
    cursor: JsonCursor,
    token: Option<String>,
}

/// One page of a JSON API, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonPage {
    /// The usable items, in the order the API listed them, first of each id only.
    pub items: Vec<JsonItem>,
    /// Items left out (no id, no text, a duplicate), each with its id or pointer and why.
    pub skipped: Vec<Skipped>,
    /// The value at the next-page pointer (a URL or a token), when asked for and present.
    pub next_page: Option<String>,
}

/// One usable item: its mention and the time the API gave for it.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonItem {
    pub mention: Mention,
    /// `created` as the API gave it (`None` when missing or unreadable); the mention's
    /// `published` is this after `sane_time`. Cursors and backfill go by this one.
    pub created: Option<DateTime<Utc>>,
}

/// Parses one response body: the items at `items`, read through `fields`, and the value at
/// `next_pointer` if given. `source` and `now` go into the mentions.
pub fn parse_json(
    body: &[u8],
    items: &str,
    fields: &JsonFields,
    next_pointer: Option<&str>,
    source: &str,
    now: DateTime<Utc>,
) -> Result<JsonPage, SourceError> {
    let doc = parse_json_body(body, None)?;
    let list: &[Value] = match doc.pointer(items) {
        Some(Value::Array(list)) => list,
        None | Some(Value::Null) => {
            if let Some(err) = api_error(&doc) {
                return Err(SourceError::Parse(format!(
                    "no items at {items:?}; the API answered with an error: {err}"
                )));
            }
            &[]
        }
        Some(other) => {
            return Err(SourceError::Parse(format!(
                "expected an array of items at {items:?}, found {} (check the source's `items` pointer)",
                type_name(other)
            )))
        }
    };
    let next_page = match next_pointer {
        Some(p) => next_page_value(doc.pointer(p), p)?,
        None => None,
    };
    let mut page = JsonPage { items: Vec::with_capacity(list.len()), skipped: Vec::new(), next_page };
    for (i, raw) in list.iter().enumerate() {
        let at = format!("{items}/{i}");
        match read_item(raw, fields, source, now) {
            Ok(item) if page.items.iter().any(|seen| seen.mention.id == item.mention.id) => page
                .skipped
                .push(Skipped { item: item.mention.id, why: "duplicate id in the page (the first was kept)".into() }),
            Ok(item) => page.items.push(item),
            Err((id, why)) => page.skipped.push(Skipped { item: id.unwrap_or(at), why }),
        }
    }
    Ok(page)
}

/// One item as a mention, or its id (if it had one) and why not.
fn read_item(
    raw: &Value,
    f: &JsonFields,
    source: &str,
    now: DateTime<Utc>,
) -> Result<JsonItem, (Option<String>, String)> {
    if !raw.is_object() && !raw.is_array() {
        return Err((None, format!("item is {}, not an object", type_name(raw))));
    }
    let id = match raw.pointer(&f.id) {
        None | Some(Value::Null) => return Err((None, format!("no id at {:?}", f.id))),
        Some(v) => fields::scalar_text(v)
            .ok_or((None, format!("id at {:?} is {}, not a string or number", f.id, type_name(v))))?,
    };
    let text = match raw.pointer(&f.text) {
        Some(Value::String(s)) => plain_text(s),
        None | Some(Value::Null) => return Err((Some(id), format!("no text at {:?}", f.text))),
        Some(v) => return Err((Some(id), format!("text at {:?} is {}, not a string", f.text, type_name(v)))),
    };
    if text.is_empty() {
        return Err((Some(id), format!("empty text at {:?}", f.text)));
    }
    let field = |p: &Option<String>| p.as_deref().and_then(|p| raw.pointer(p));
    let created = field(&f.created).and_then(fields::time);
    let (published, _) = sane_time(created, now);
    let mention = Mention {
        source: source.to_string(),
        id,
        text,
        author: field(&f.author).and_then(fields::scalar_text),
        reach: field(&f.followers).and_then(fields::count),
        lang: field(&f.lang).and_then(Value::as_str).and_then(primary_lang),
        published,
        url: field(&f.url).and_then(fields::link),
    };
    Ok(JsonItem { mention, created })
}

/// The next page at `pointer`: a non-empty string or a number; null, missing or "" end paging.
fn next_page_value(v: Option<&Value>, pointer: &str) -> Result<Option<String>, SourceError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(SourceError::Parse(format!(
            "the next page at {pointer:?} is {}, expected a URL or a token (check cursor.pointer)",
            type_name(other)
        ))),
    }
}

/// The error an API put in a 2xx body (`{"errors": [...]}`, `{"error": {...}}`), shortened.
fn api_error(doc: &Value) -> Option<String> {
    let err = doc.get("errors").or_else(|| doc.get("error")).filter(|e| !e.is_null())?;
    let text = match err {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(if text.chars().count() > 300 { format!("{}…", text.chars().take(300).collect::<String>()) } else { text })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Orders ids as integers when both are, else as strings.
fn id_order(a: &str, b: &str) -> Ordering {
    match (a.parse::<u128>(), b.parse::<u128>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// `url` with query parameter `name` set to `value` (replacing any it had).
fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let kept: Vec<(String, String)> =
        url.query_pairs().filter(|(k, _)| k != name).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let mut out = url.clone();
    out.query_pairs_mut().clear().extend_pairs(kept).append_pair(name, value);
    out
}

/// The stored cursor of a `json` source. Which fields are used depends on the strategy; all
/// are optional so that a cursor written by another strategy still reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Position {
    /// max_id: the highest id handed on so far, sent as `param`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_id: Option<String>,
    /// max_time: the newest `created` handed on so far, sent as `param`. next_page: the newest
    /// `created` handed on in completed passes; a later pass stops at items older than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_time: Option<DateTime<Utc>>,
    /// max_time: the ids handed on at exactly `max_time`. next_page: the newest ids handed on
    /// (at most `KNOWN_IDS`). Both recognise items already handed on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    known: Vec<String>,
    /// next_page: the URL or token of the page that continues the pass in progress; absent
    /// between passes (the next pass starts at the configured URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// next_page: the newest `created` handed on in the pass in progress (becomes `max_time`
    /// when the pass ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pass_time: Option<DateTime<Utc>>,
    /// next_page: the ids handed on in the pass in progress, newest first (at most
    /// `KNOWN_IDS`; put in front of `known` when the pass ends).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pass_known: Vec<String>,
    /// next_page: the pass in progress is the first poll's backfill.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    backfill: bool,
}

impl Position {
    /// The stored position, whether this is the first poll, and a note when the stored
    /// cursor could not be read (then it starts over, as on a first poll).
    fn read(stored: &Value) -> (Position, bool, Option<Skipped>) {
        let (pos, note) = cursor::parse::<Position>(stored);
        let first = pos.is_none();
        (pos.unwrap_or_default(), first, note)
    }
}

impl Json {
    async fn fetch(
        &self,
        http: &Http,
        url: Url,
        next_pointer: Option<&str>,
        req: &PageRequest<'_>,
    ) -> Result<(JsonPage, Page), SourceError> {
        // The token belongs to the configured API: a next-page URL elsewhere does not get it.
        let token = self.token.as_deref().filter(|_| url.origin() == self.url.origin());
        let resp = http.send(HttpRequest::get(url).header("accept", "application/json").bearer(token)).await?;
        let parsed = parse_json(&resp.body, &self.items, &self.fields, next_pointer, req.source, req.now)?;
        let page = Page { rate_limit: resp.rate_limit, ..Page::default() };
        Ok((parsed, page))
    }

    async fn page_max_id(&self, http: &Http, req: &PageRequest<'_>, param: &str) -> Result<Page, SourceError> {
        let (mut pos, first, note) = Position::read(req.cursor);
        let url = match &pos.max_id {
            Some(id) => with_param(&self.url, param, id),
            None => self.url.clone(),
        };
        let (parsed, mut page) = self.fetch(http, url, None, req).await?;
        page.skipped = note.into_iter().chain(parsed.skipped).collect();
        let mut highest = pos.max_id.clone();
        for item in parsed.items {
            let id = item.mention.id.as_str();
            if pos.max_id.as_deref().is_some_and(|max| id_order(id, max) != Ordering::Greater) {
                continue; // handed on before: the server ignored the parameter or includes it
            }
            if highest.as_deref().is_none_or(|h| id_order(id, h) == Ordering::Greater) {
                highest = Some(id.to_string());
            }
            if first && item.created.is_some_and(|t| t < req.backfill_since) {
                continue;
            }
            page.mentions.push(item.mention);
        }
        pos.max_id = highest;
        page.cursor = cursor::write(&pos)?;
        Ok(page)
    }

    async fn page_max_time(&self, http: &Http, req: &PageRequest<'_>, param: &str) -> Result<Page, SourceError> {
        if self.fields.created.is_none() {
            return Err(SourceError::Config(
                "cursor strategy max_time needs fields.created (the pointer to each item's time)".into(),
            ));
        }
        let (mut pos, first, note) = Position::read(req.cursor);
        let url = match pos.max_time {
            Some(t) => with_param(&self.url, param, &t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            None => self.url.clone(),
        };
        let (parsed, mut page) = self.fetch(http, url, None, req).await?;
        page.skipped = note.into_iter().chain(parsed.skipped).collect();
        let latest_sane = req.now + chrono::Duration::from_std(MAX_FUTURE_SKEW).unwrap_or_default();
        let (mut newest, mut at_newest) = (pos.max_time, pos.known.clone());
        for item in parsed.items {
            let id = &item.mention.id;
            if let (Some(t), Some(max)) = (item.created, pos.max_time) {
                if t < max || (t == max && pos.known.contains(id)) {
                    continue; // handed on before
                }
            }
            if let Some(t) = item.created.filter(|t| *t <= latest_sane) {
                if newest.is_none_or(|n| t > n) {
                    newest = Some(t);
                    at_newest.clear();
                }
                if newest == Some(t) && !at_newest.contains(id) && at_newest.len() < KNOWN_IDS {
                    at_newest.push(id.clone());
                }
            }
            if first && item.created.is_some_and(|t| t < req.backfill_since) {
                continue;
            }
            page.mentions.push(item.mention);
        }
        pos.max_time = newest;
        pos.known = at_newest;
        page.cursor = cursor::write(&pos)?;
        Ok(page)
    }

    async fn page_next(
        &self,
        http: &Http,
        req: &PageRequest<'_>,
        pointer: &str,
        param: Option<&str>,
    ) -> Result<Page, SourceError> {
        let (mut pos, first, note) = Position::read(req.cursor);
        if first {
            pos.backfill = true;
        }
        let url = match &pos.next {
            Some(next) => self.next_url(next, pointer, param)?,
            None => self.url.clone(),
        };
        let (parsed, mut page) = self.fetch(http, url, Some(pointer), req).await?;
        page.skipped = note.into_iter().chain(parsed.skipped).collect();
        // Items older than this were handed on before (or are outside the backfill window).
        let horizon = match (pos.backfill, pos.max_time) {
            (false, Some(t)) => t,
            _ => req.backfill_since,
        };
        let latest_sane = req.now + chrono::Duration::from_std(MAX_FUTURE_SKEW).unwrap_or_default();
        let mut reached_old = false;
        let listed = parsed.items.len();
        let mut repeated = 0;
        for item in parsed.items {
            let id = &item.mention.id;
            if pos.pass_known.contains(id) {
                repeated += 1;
                continue; // shown again lower down in this pass (an offset-paged list shifted)
            }
            if pos.known.contains(id) || item.created.is_some_and(|t| t < horizon) {
                reached_old = true;
                continue;
            }
            if pos.pass_known.len() < KNOWN_IDS {
                pos.pass_known.push(id.clone());
            }
            if let Some(t) = item.created.filter(|t| *t <= latest_sane) {
                pos.pass_time = pos.pass_time.max(Some(t));
            }
            page.mentions.push(item.mention);
        }
        // A page that points at itself, or that shows only what this pass has shown already
        // (a server serving the same page under ever new links), ends the pass instead of
        // paging on forever: the pass must end for the next one to see newer items.
        let next = parsed.next_page.filter(|n| pos.next.as_ref() != Some(n));
        let nothing_new = listed > 0 && repeated == listed;
        match next {
            Some(next) if !reached_old && !nothing_new => {
                pos.next = Some(next);
                page.more = true;
            }
            _ => {
                pos.max_time = pos.max_time.max(pos.pass_time.take());
                let mut known = std::mem::take(&mut pos.pass_known);
                known.append(&mut pos.known);
                known.truncate(KNOWN_IDS);
                pos.known = known;
                pos.next = None;
                pos.backfill = false;
            }
        }
        page.cursor = cursor::write(&pos)?;
        Ok(page)
    }

    /// The URL of the next page from the value found at `pointer`.
    fn next_url(&self, next: &str, pointer: &str, param: Option<&str>) -> Result<Url, SourceError> {
        if let Ok(u) = Url::parse(next) {
            if matches!(u.scheme(), "http" | "https") {
                return Ok(u);
            }
        }
        match param {
            Some(param) => Ok(with_param(&self.url, param, next)),
            None if next.contains(['/', '?', '.']) => self
                .url
                .join(next)
                .map_err(|e| SourceError::Parse(format!("the next page at {pointer:?} is not a usable URL: {e}"))),
            None => Err(SourceError::Config(format!(
                "the next page at {pointer:?} is a token, not a URL: set cursor.param to the query parameter that carries it"
            ))),
        }
    }
}

#[async_trait::async_trait]
impl Kind for Json {
    async fn page(&self, http: &Http, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        match &self.cursor {
            JsonCursor::MaxId { param } => self.page_max_id(http, req, param).await,
            JsonCursor::MaxTime { param } => self.page_max_time(http, req, param).await,
            JsonCursor::NextPage { pointer, param } => self.page_next(http, req, pointer, param.as_deref()).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        t("2024-09-24T12:00:00Z")
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn fields(id: &str, text: &str) -> JsonFields {
        JsonFields {
            id: id.into(),
            text: text.into(),
            author: None,
            followers: None,
            lang: None,
            created: None,
            url: None,
        }
    }

    fn x_fields() -> JsonFields {
        JsonFields {
            author: Some("/author_id".into()),
            lang: Some("/lang".into()),
            created: Some("/created_at".into()),
            ..fields("/id", "/text")
        }
    }

    fn youtube_fields() -> JsonFields {
        JsonFields {
            author: Some("/snippet/topLevelComment/snippet/authorDisplayName".into()),
            created: Some("/snippet/topLevelComment/snippet/publishedAt".into()),
            url: Some("/snippet/topLevelComment/snippet/authorChannelUrl".into()),
            ..fields("/id", "/snippet/topLevelComment/snippet/textOriginal")
        }
    }

    const X_SEARCH: &str = r#"{
      "data": [
        {"edit_history_tweet_ids": ["1838551230032601470"], "id": "1838551230032601470", "author_id": "1497263350216863744",
         "created_at": "2024-09-24T11:58:02.000Z", "lang": "nl", "text": "Weer storing bij @kroonbank, al een uur geen betalingen"},
        {"edit_history_tweet_ids": ["1838549911427281091"], "id": "1838549911427281091", "author_id": "98123321",
         "created_at": "2024-09-24T11:52:48.000Z", "lang": "en", "text": "@kroonbank app down again?? &amp; support not answering"},
        {"edit_history_tweet_ids": ["1838547002113830912"], "id": "1838547002113830912", "author_id": "7731002",
         "created_at": "2024-09-24T11:41:14.000Z", "lang": "und", "text": "\ud83d\ude21\ud83d\ude21 @kroonbank"}
      ],
      "meta": {"newest_id": "1838551230032601470", "oldest_id": "1838547002113830912", "result_count": 3,
               "next_token": "b26v89c19zqg8o3fpzbkk8g7vs3ndyjlx0gb5icc07zb1"}
    }"#;

    #[test]
    fn x_v2_search_results_become_mentions() {
        let page = parse_json(X_SEARCH.as_bytes(), "/data", &x_fields(), Some("/meta/next_token"), "x", now()).unwrap();
        assert!(page.skipped.is_empty(), "{:?}", page.skipped);
        let ids: Vec<&str> = page.items.iter().map(|i| i.mention.id.as_str()).collect();
        assert_eq!(ids, ["1838551230032601470", "1838549911427281091", "1838547002113830912"]);
        let first = &page.items[0].mention;
        assert_eq!(first.source, "x");
        assert_eq!(first.text, "Weer storing bij @kroonbank, al een uur geen betalingen");
        assert_eq!(first.author.as_deref(), Some("1497263350216863744"));
        assert_eq!(first.lang.as_deref(), Some("nl"));
        assert_eq!(first.published, t("2024-09-24T11:58:02Z"));
        assert_eq!(page.items[0].created, Some(t("2024-09-24T11:58:02Z")));
        // As X sent it: the json kind reads text as written and decodes no entities.
        assert_eq!(page.items[1].mention.text, "@kroonbank app down again?? &amp; support not answering");
        assert_eq!(page.items[2].mention.lang, None, "\"und\" is no language");
        assert_eq!(page.next_page.as_deref(), Some("b26v89c19zqg8o3fpzbkk8g7vs3ndyjlx0gb5icc07zb1"));
    }

    #[test]
    fn x_v2_leaves_data_out_when_nothing_matched() {
        let body = br#"{"meta": {"result_count": 0}}"#;
        let page = parse_json(body, "/data", &x_fields(), Some("/meta/next_token"), "x", now()).unwrap();
        assert!(page.items.is_empty() && page.skipped.is_empty() && page.next_page.is_none());
    }

    #[test]
    fn an_error_body_without_items_is_reported() {
        let body = br#"{"errors": [{"message": "Invalid 'since_id': too old", "title": "Invalid Request"}]}"#;
        let err = parse_json(body, "/data", &x_fields(), None, "x", now()).unwrap_err();
        assert!(matches!(&err, SourceError::Parse(m) if m.contains("too old") && m.contains("/data")), "{err}");
    }

    const YOUTUBE: &str = r#"{
      "kind": "youtube#commentThreadListResponse",
      "etag": "Q2bmfVvQ1cK1gHLyN0hKx4d5xYg",
      "nextPageToken": "Z2V0X25ld2VzdF9maXJzdC0tQ2dnSWdBUVZGN2ZST0JJRkNJY2dHQUFTQlFpb0lCZ0FFZ1VJaVNBWUFCSUZDSjBnR0FFWUFTSU9DZ3hEWjFsSVdGQktTRzl5Umw=",
      "pageInfo": {"totalResults": 3, "resultsPerPage": 3},
      "items": [
        {"kind": "youtube#commentThread", "etag": "a1", "id": "UgzR3kq9nT0pTfU2YVl4AaABAg",
         "snippet": {"channelId": "UC0kroon00000000000000ab", "videoId": "kR00nB4nk01",
           "topLevelComment": {"kind": "youtube#comment", "etag": "b1", "id": "UgzR3kq9nT0pTfU2YVl4AaABAg",
             "snippet": {"channelId": "UC0kroon00000000000000ab", "videoId": "kR00nB4nk01",
               "textDisplay": "Sinds de update crasht de app bij het inloggen<br>Wie nog meer?",
               "textOriginal": "Sinds de update crasht de app bij het inloggen\nWie nog meer?",
               "authorDisplayName": "@marieke_v", "authorChannelUrl": "http://www.youtube.com/@marieke_v",
               "authorChannelId": {"value": "UCa1b2c3d4e5f6g7h8i9j0kl"}, "canRate": true, "viewerRating": "none",
               "likeCount": 4, "publishedAt": "2024-09-24T11:30:00Z", "updatedAt": "2024-09-24T11:30:00Z"}},
           "canReply": true, "totalReplyCount": 0, "isPublic": true}},
        {"kind": "youtube#commentThread", "etag": "a2", "id": "UgyQ7pXcA2m1fJ0xk1d4AaABAg",
         "snippet": {"channelId": "UC0kroon00000000000000ab", "videoId": "kR00nB4nk01",
           "topLevelComment": {"kind": "youtube#comment", "etag": "b2", "id": "UgyQ7pXcA2m1fJ0xk1d4AaABAg",
             "snippet": {"channelId": "UC0kroon00000000000000ab", "videoId": "kR00nB4nk01",
               "textDisplay": "Great explainer, thanks! <a href=\"https://www.youtube.com/watch?v=kR00nB4nk01&amp;t=62\">1:02</a> is the key bit &#39;til the end",
               "textOriginal": "Great explainer, thanks! 1:02 is the key bit 'til the end",
               "authorDisplayName": "@sam_k", "authorChannelUrl": "http://www.youtube.com/@sam_k",
               "authorChannelId": {"value": "UCz9y8x7w6v5u4t3s2r1q0po"}, "canRate": true, "viewerRating": "none",
               "likeCount": 0, "publishedAt": "2024-09-24T09:12:45Z", "updatedAt": "2024-09-24T09:15:02Z"}},
           "canReply": true, "totalReplyCount": 1, "isPublic": true}},
        {"kind": "youtube#commentThread", "etag": "a3", "id": "UgwDeleted000000000004AaABAg",
         "snippet": {"channelId": "UC0kroon00000000000000ab", "videoId": "kR00nB4nk01",
           "topLevelComment": {"kind": "youtube#comment", "etag": "b3", "id": "UgwDeleted000000000004AaABAg",
             "snippet": {"authorDisplayName": "@gone", "publishedAt": "2024-09-24T08:00:00Z"}},
           "canReply": true, "totalReplyCount": 0, "isPublic": true}}
      ]
    }"#;

    #[test]
    fn youtube_comment_threads_become_plain_text_mentions() {
        let page =
            parse_json(YOUTUBE.as_bytes(), "/items", &youtube_fields(), Some("/nextPageToken"), "yt", now()).unwrap();
        assert_eq!(page.items.len(), 2);
        let m = &page.items[0].mention;
        assert_eq!(m.id, "UgzR3kq9nT0pTfU2YVl4AaABAg");
        assert_eq!(m.text, "Sinds de update crasht de app bij het inloggen\nWie nog meer?");
        assert_eq!(m.author.as_deref(), Some("@marieke_v"));
        assert_eq!(m.url.as_deref(), Some("http://www.youtube.com/@marieke_v"));
        assert_eq!(m.published, t("2024-09-24T11:30:00Z"));
        assert_eq!(page.items[1].mention.text, "Great explainer, thanks! 1:02 is the key bit 'til the end");
        assert_eq!(
            page.skipped,
            [Skipped {
                item: "UgwDeleted000000000004AaABAg".into(),
                why: "no text at \"/snippet/topLevelComment/snippet/textOriginal\"".into()
            }]
        );
        assert!(page.next_page.as_deref().is_some_and(|n| n.starts_with("Z2V0X25ld2VzdF9maXJzdC0t")));
    }

    #[test]
    fn a_top_level_array_with_numeric_ids_followers_as_strings_and_epoch_times() {
        let body = br#"[
          {"id": 901, "body": "<p>Kroonbank &amp; the outage</p>", "user": {"name": "ops_watch", "followers": "12500"},
           "ts": 1727175600, "locale": "nl-BE", "link": "https://forum.example/t/901"},
          {"id": 902, "body": "still down", "user": {"name": "jan", "followers": 88}, "ts": 1727175660000, "locale": "EN_gb"},
          {"id": 903, "body": "fractional", "user": {"name": "x", "followers": -5}, "ts": 1727175720.5, "locale": "123"}
        ]"#;
        let f = JsonFields {
            author: Some("/user/name".into()),
            followers: Some("/user/followers".into()),
            lang: Some("/locale".into()),
            created: Some("/ts".into()),
            url: Some("/link".into()),
            ..fields("/id", "/body")
        };
        let page = parse_json(body, "", &f, None, "forum", now()).unwrap();
        let ms: Vec<&Mention> = page.items.iter().map(|i| &i.mention).collect();
        assert_eq!(ms.len(), 3);
        assert_eq!((ms[0].id.as_str(), ms[0].text.as_str()), ("901", "<p>Kroonbank &amp; the outage</p>"), "as written");
        assert_eq!((ms[0].reach, ms[1].reach, ms[2].reach), (Some(12500), Some(88), None));
        assert_eq!(
            (ms[0].lang.as_deref(), ms[1].lang.as_deref(), ms[2].lang.as_deref()),
            (Some("nl"), Some("en"), None)
        );
        assert_eq!(ms[0].published, t("2024-09-24T11:00:00Z"));
        assert_eq!(ms[1].published, t("2024-09-24T11:01:00Z"));
        assert_eq!(ms[2].published, t("2024-09-24T11:02:00.500Z"));
        assert_eq!(ms[0].url.as_deref(), Some("https://forum.example/t/901"));
    }

    #[test]
    fn missing_and_future_times_fall_back_to_the_fetch_time_and_keep_the_item() {
        let body = br#"{"data": [{"id": "1", "text": "no time"}, {"id": "2", "text": "future", "created_at": "2031-01-01T00:00:00Z"},
                                  {"id": "3", "text": "garbled", "created_at": "last tuesday"}]}"#;
        let page = parse_json(body, "/data", &x_fields(), None, "x", now()).unwrap();
        assert_eq!(page.items.len(), 3);
        assert!(page.items.iter().all(|i| i.mention.published == now()));
        assert_eq!(page.items[1].created, Some(t("2031-01-01T00:00:00Z")), "the raw time stays visible to the cursor");
        assert_eq!(page.items[2].created, None);
    }

    #[test]
    fn bad_items_are_skipped_with_their_id_or_pointer_and_the_rest_kept() {
        let body = br#"{"data": [
            {"id": "10", "text": "first"},
            {"text": "no id"},
            {"id": {"nested": true}, "text": "object id"},
            {"id": "11"},
            {"id": "12", "text": 42},
            {"id": "13", "text": "   "},
            "just a string",
            {"id": "10", "text": "same id again"},
            {"id": "14", "text": "last"}
        ]}"#;
        let page = parse_json(body, "/data", &x_fields(), None, "x", now()).unwrap();
        let ids: Vec<&str> = page.items.iter().map(|i| i.mention.id.as_str()).collect();
        assert_eq!(ids, ["10", "14"]);
        assert_eq!(page.items[0].mention.text, "first", "the first of a duplicate id is kept");
        let skipped: Vec<(&str, &str)> = page.skipped.iter().map(|s| (s.item.as_str(), s.why.as_str())).collect();
        assert_eq!(
            skipped,
            [
                ("/data/1", "no id at \"/id\""),
                ("/data/2", "id at \"/id\" is an object, not a string or number"),
                ("11", "no text at \"/text\""),
                ("12", "text at \"/text\" is a number, not a string"),
                ("13", "empty text at \"/text\""),
                ("/data/6", "item is a string, not an object"),
                ("10", "duplicate id in the page (the first was kept)"),
            ]
        );
    }

    #[test]
    fn whole_page_problems_are_parse_errors_naming_what_was_wrong() {
        let f = x_fields();
        let parse = |body: &[u8], items: &str| parse_json(body, items, &f, None, "x", now()).unwrap_err().to_string();
        assert!(parse(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "/data").contains("HTML"));
        assert!(parse(b"", "/data").contains("empty body"));
        assert!(parse(b"   \n", "/data").contains("empty body"));
        assert!(parse(br#"{"data": [{"id": "1", "text": "cut of"#, "/data").contains("invalid JSON"));
        assert!(parse(b"{\"data\": [{\"id\": \"1\", \"text\": \"\xff\xfe\"}]}", "/data").contains("invalid JSON"));
        let wrong = parse(br#"{"data": {"id": "1"}}"#, "/data");
        assert!(wrong.contains("expected an array of items at \"/data\", found an object"), "{wrong}");
        let top = parse(br#"{"data": []}"#, "");
        assert!(top.contains("expected an array of items at \"\""), "{top}");
    }

    #[test]
    fn the_next_page_is_a_string_or_number_and_ends_when_empty() {
        let f = fields("/id", "/text");
        let next =
            |body: &str| parse_json(body.as_bytes(), "/items", &f, Some("/next"), "s", now()).map(|p| p.next_page);
        assert_eq!(next(r#"{"items": [], "next": "tok"}"#), Ok(Some("tok".into())));
        assert_eq!(next(r#"{"items": [], "next": 3}"#), Ok(Some("3".into())));
        assert_eq!(next(r#"{"items": [], "next": ""}"#), Ok(None));
        assert_eq!(next(r#"{"items": [], "next": null}"#), Ok(None));
        assert_eq!(next(r#"{"items": []}"#), Ok(None));
        assert!(
            matches!(next(r#"{"items": [], "next": {"a": 1}}"#), Err(SourceError::Parse(m)) if m.contains("an object"))
        );
    }

    #[test]
    fn ids_compare_as_numbers_when_both_are() {
        assert_eq!(id_order("1838551230032601470", "999"), Ordering::Greater);
        assert_eq!(id_order("100", "100"), Ordering::Equal);
        assert_eq!(id_order("b", "a10"), Ordering::Greater);
        assert_eq!(id_order("9", "a"), Ordering::Less, "mixed ids compare as strings");
    }

    #[test]
    fn query_parameters_are_replaced_not_repeated() {
        let url = Url::parse("https://api.example/2/tweets/search/recent?query=kroonbank&since_id=5").unwrap();
        let u = with_param(&url, "since_id", "77");
        assert_eq!(u.as_str(), "https://api.example/2/tweets/search/recent?query=kroonbank&since_id=77");
        let bare = Url::parse("https://api.example/list").unwrap();
        assert_eq!(with_param(&bare, "pageToken", "a b+c").as_str(), "https://api.example/list?pageToken=a+b%2Bc");
    }

    #[test]
    fn next_page_values_are_urls_or_tokens() {
        let json = |param: Option<&str>| Json {
            url: Url::parse("https://api.example/v1/mentions?q=kroon").unwrap(),
            items: "/items".into(),
            fields: fields("/id", "/text"),
            cursor: JsonCursor::NextPage { pointer: "/next".into(), param: param.map(str::to_string) },
            token: None,
        };
        let with = json(Some("cursor"));
        let without = json(None);
        let abs = "https://cdn.example/page/2";
        assert_eq!(with.next_url(abs, "/next", Some("cursor")).unwrap().as_str(), abs);
        assert_eq!(
            with.next_url("QUJD/ZGVm", "/next", Some("cursor")).unwrap().as_str(),
            "https://api.example/v1/mentions?q=kroon&cursor=QUJD%2FZGVm"
        );
        assert_eq!(
            without.next_url("/v1/mentions?q=kroon&before=9", "/next", None).unwrap().as_str(),
            "https://api.example/v1/mentions?q=kroon&before=9"
        );
        assert_eq!(
            without.next_url("?q=kroon&page=2", "/next", None).unwrap().as_str(),
            "https://api.example/v1/mentions?q=kroon&page=2"
        );
        let err = without.next_url("CAoQAA", "/next", None).unwrap_err();
        assert!(matches!(&err, SourceError::Config(m) if m.contains("cursor.param")), "{err}");
    }

    #[test]
    fn language_tags_become_primary_subtags() {
        assert_eq!(primary_lang("nl-BE").as_deref(), Some("nl"));
        assert_eq!(primary_lang("PT_br").as_deref(), Some("pt"));
        assert_eq!(primary_lang(" de ").as_deref(), Some("de"));
        assert_eq!(primary_lang("und"), None);
        assert_eq!(primary_lang(""), None);
        assert_eq!(primary_lang("x"), None);
        assert_eq!(primary_lang("e1"), None);
    }

    #[test]
    fn cursors_round_trip_and_unreadable_ones_start_over_with_a_note() {
        let pos =
            Position { max_id: Some("42".into()), known: vec!["a".into()], backfill: true, ..Position::default() };
        let (back, first, note) = Position::read(&cursor::write(&pos).unwrap());
        assert_eq!((back, first, note), (pos, false, None));
        assert_eq!(
            cursor::write(&Position::default()).unwrap(),
            serde_json::json!({}),
            "an empty position is still not null"
        );
        let (p, first, note) = Position::read(&serde_json::json!({"max_time": "yesterday"}));
        assert_eq!((p, first), (Position::default(), true));
        assert!(note.is_some_and(|n| n.item == "cursor" && n.why.contains("starting over")));
    }
}
