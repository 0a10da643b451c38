//! `rss`: RSS 2.0, RSS 1.0 and Atom feeds (and JSON Feed), read with `feed-rs`. This covers
//! Google Alerts, news sites, blogs, subreddit and Mastodon tag RSS, YouTube channel feeds.
//!
//! A feed has no paging: every poll fetches the feed, with `If-None-Match` /
//! `If-Modified-Since` from the last full answer, so an unchanged feed costs a 304 and no
//! parsing. Every entry becomes a mention; the poller's seen-id store drops the ones handed
//! on before. An entry's id is its `<guid>`/`<id>`, else its first link, else (RSS 2.0
//! allows an item with only a title or a description) `content-…`, a hash of the source name,
//! title, summary or content and date as written (`content_id`), the same at every poll. Text
//! is the title and the summary or content, HTML turned into plain text. On the first poll,
//! entries older than the backfill horizon are left out.
//!
//! The body is decoded to UTF-8 first (`charset.rs`: byte order mark, UTF-16/32 by its first
//! bytes, the XML declaration, the HTTP charset), and a panic inside the parser is caught and
//! reported as this feed's parse error.
//!
//! Cursor: `{"newest": "<RFC 3339>"}`, the newest publication time handed on (informational;
//! dedup is by id), so the source counts as polled once.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::http::{Http, HttpRequest};
use super::registry::Settings;
use super::text::html_to_text;
use super::{charset, cursor, sane_time, Kind, Page, PageRequest, Skipped, SourceError};
use crate::model::Mention;
use crate::secret::Environment;
use crate::settings::Table;

/// `kind = "rss"`: `url`, the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub url: Url,
}

impl Settings for Spec {
    const KEYS: &'static [&'static str] = &["url"];

    fn read(t: &mut Table<'_>) -> Option<Spec> {
        Some(Spec { url: t.required_url("url", "for kind rss")? })
    }

    fn build(&self, _env: &Environment) -> Result<Box<dyn Kind>, SourceError> {
        Ok(Box::new(Rss { url: self.url.clone() }))
    }

    fn host(&self) -> String {
        self.url.host_str().unwrap_or("").to_string()
    }
}

pub(crate) struct Rss {
    url: Url,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    newest: Option<DateTime<Utc>>,
}

/// Entries of a feed body as mentions, with the entries that could not be used; the body's
/// encoding from itself alone (`parse_served_feed` also reads the HTTP charset).
pub fn parse_feed(body: &[u8], source: &str, now: DateTime<Utc>) -> Result<(Vec<Mention>, Vec<Skipped>), SourceError> {
    parse_served_feed(body, None, source, now)
}

/// `parse_feed` for a body served with `content_type`, whose `charset` counts when the body
/// does not say its encoding itself.
pub fn parse_served_feed(
    body: &[u8],
    content_type: Option<&str>,
    source: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Mention>, Vec<Skipped>), SourceError> {
    let text = atom_03_as_atom_10(charset::feed_to_utf8(body, content_type));
    let feed = read_feed(text.as_bytes())?;
    let feed_lang = feed.language.as_deref().and_then(super::primary_lang);
    let mut mentions: Vec<Mention> = Vec::with_capacity(feed.entries.len());
    let mut skipped = Vec::new();
    for entry in feed.entries {
        match entry_mention(entry, source, feed_lang.as_deref(), now) {
            Ok(m) if mentions.iter().any(|seen| seen.id == m.id) => {
                skipped.push(Skipped { item: m.id, why: "duplicate id in the same feed".into() })
            }
            Ok(m) => mentions.push(m),
            Err(s) => skipped.push(s),
        }
    }
    Ok((mentions, skipped))
}

/// Atom 0.3's namespace.
const ATOM_03: &str = "http://purl.org/atom/ns#";

/// Atom 0.3 (the 2003-2005 draft of Atom, still served by old blogs and feed generators) is
/// Atom 1.0's elements in another namespace, which feed-rs does not know: it reads such a feed
/// as one without entries, silently. So an Atom 0.3 body is read as Atom 1.0: its namespace
/// replaced, and the `type`/`mode` of its text elements written the Atom 1.0 way
/// (`atom_03_text_type`), since feed-rs refuses a whole feed over one `type="text/plain"`.
/// Its entries' ids, links, titles, summaries and content come through; its dates (`issued`,
/// `modified`) do not, so those entries carry the fetch time.
fn atom_03_as_atom_10(text: Cow<'_, str>) -> Cow<'_, str> {
    if !text.contains(ATOM_03) {
        return text;
    }
    let text = text.replace(ATOM_03, "http://www.w3.org/2005/Atom");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let Some(gt) = rest[lt..].find('>') else { break };
        let tag = &rest[lt..lt + gt + 1];
        out.push_str(&atom_03_text_type(tag).unwrap_or_else(|| tag.to_string()));
        rest = &rest[lt + gt + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// An Atom 0.3 text element's start tag with its `type` as Atom 1.0 says it: escaped
/// content is `html`, inline XHTML is `xhtml`, plain text is `text`; `None` for every other
/// tag (and for base64 content, left as it is).
fn atom_03_text_type(tag: &str) -> Option<String> {
    let name = tag[1..].split(|c: char| c.is_whitespace() || c == '>' || c == '/').next()?;
    let local = name.rsplit(':').next()?;
    let texts = ["title", "tagline", "subtitle", "summary", "content", "copyright", "rights", "info"];
    if !texts.contains(&local) {
        return None;
    }
    let attr = |name: &str| {
        let at = tag.find(&format!(" {name}="))? + name.len() + 2;
        let quote = tag[at..].chars().next()?;
        let value = &tag[at + 1..];
        Some((at - name.len() - 2, at + 2 + value.find(quote)?, value[..value.find(quote)?].to_string()))
    };
    let mode = attr("mode").map(|(_, _, m)| m);
    let new_type = match (mode.as_deref(), attr("type").map(|(_, _, t)| t).as_deref()) {
        (Some("base64"), _) => return None,
        (Some("escaped"), _) | (_, Some("text/html")) => "html",
        (_, Some("application/xhtml+xml")) => "xhtml",
        _ => "text",
    };
    let without_type = match attr("type") {
        Some((start, end, _)) => format!("{}{}", &tag[..start], &tag[end..]),
        None => tag.to_string(),
    };
    let name_end = name.len() + 1;
    Some(format!("{} type=\"{new_type}\"{}", &without_type[..name_end], &without_type[name_end..]))
}

/// The feed in a UTF-8 body. feed-rs (through quick-xml) has panicked on bodies it should
/// have refused; a panic is caught here and becomes this feed's parse error, so one odd feed
/// never takes its source's poll task, or `stormwatch sources test`, down with it.
fn read_feed(utf8: &[u8]) -> Result<feed_rs::model::Feed, SourceError> {
    let parser = feed_rs::parser::Builder::new()
        // An entry without an id is known by its first link; without either it gets its id
        // from its content (`content_id`).
        .id_generator(|links, _title, _base| links.first().map(|l| l.href.clone()).unwrap_or_default())
        .build();
    match std::panic::catch_unwind(AssertUnwindSafe(|| parser.parse(utf8))) {
        Ok(parsed) => parsed.map_err(|e| not_a_feed(utf8, &e)),
        Err(panic) => Err(SourceError::Parse(format!(
            "the feed parser (feed-rs) crashed on this body ({}); the feed is skipped until it changes",
            super::panic_text(&*panic)
        ))),
    }
}

/// The parse error for a body feed-rs refused, naming an HTML page when that is what came.
fn not_a_feed(body: &[u8], e: &feed_rs::parser::ParseFeedError) -> SourceError {
    let head = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    SourceError::Parse(if head.contains("<html") || head.contains("<!doc") {
        format!("expected an RSS or Atom feed, got an HTML page ({e})")
    } else {
        format!("not an RSS, Atom or JSON feed: {e}")
    })
}

/// One entry as a mention, or why it is left out.
fn entry_mention(
    entry: feed_rs::model::Entry,
    source: &str,
    feed_lang: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Mention, Skipped> {
    let id = match entry.id.trim() {
        "" => content_id(source, &entry),
        id => id.to_string(),
    };
    let title = entry.title.as_ref().map(|t| html_to_text(&t.content)).unwrap_or_default();
    let body = entry_body(&entry).map(html_to_text).unwrap_or_default();
    let text = match (title.is_empty(), body.is_empty() || body == title) {
        (true, true) => return Err(Skipped { item: id, why: "no title and no text".into() }),
        (false, true) => title,
        (true, false) => body,
        (false, false) => format!("{title}\n{body}"),
    };
    let (published, _) = sane_time(entry.published.or(entry.updated), now);
    Ok(Mention {
        source: source.to_string(),
        id,
        text,
        author: entry.authors.first().and_then(|a| a.name.clone()).filter(|n| !n.trim().is_empty()),
        reach: None,
        lang: entry.language.as_deref().and_then(super::primary_lang).or_else(|| feed_lang.map(str::to_string)),
        published,
        url: entry.links.first().map(|l| l.href.clone()),
    })
}

/// The summary, else the content, as the feed wrote it (HTML).
fn entry_body(entry: &feed_rs::model::Entry) -> Option<&str> {
    entry.summary.as_ref().map(|s| s.content.as_str()).or_else(|| entry.content.as_ref()?.body.as_deref())
}

/// The id of an entry with neither id nor link (RSS 2.0 allows an item with only a title or
/// only a description): `content-` and 16 hex digits of FNV-1a over the source name, the
/// title, the summary or content and the date the feed gave (not the fetch time), as written.
/// The same item polled again has the same id, so the seen-id store recognises it; an edited
/// title or text makes it a new mention, which is what it is to a reader.
fn content_id(source: &str, entry: &feed_rs::model::Entry) -> String {
    let title = entry.title.as_ref().map(|t| t.content.as_str()).unwrap_or("");
    let date = entry.published.or(entry.updated).map(|d| d.to_rfc3339()).unwrap_or_default();
    // Unit separators keep ("ab", "c") and ("a", "bc") apart.
    let key = [source, title, entry_body(entry).unwrap_or(""), &date].join("\u{1f}");
    format!("content-{:016x}", super::file::fnv1a(key.as_bytes()))
}

#[async_trait::async_trait]
impl Kind for Rss {
    async fn page(&self, http: &Http, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let resp = http.send(HttpRequest::get(self.url.clone()).conditional(req.validators)).await?;
        if resp.not_modified() {
            return Ok(Page {
                cursor: req.cursor.clone(),
                not_modified: true,
                validators: req.validators.clone(),
                rate_limit: resp.rate_limit,
                ..Page::default()
            });
        }
        let (mut mentions, mut skipped) =
            parse_served_feed(&resp.body, resp.content_type.as_deref(), req.source, req.now)?;
        if req.first_poll() {
            let before = mentions.len();
            mentions.retain(|m| m.published >= req.backfill_since);
            if mentions.len() < before {
                skipped.push(Skipped {
                    item: format!("{} entries", before - mentions.len()),
                    why: "older than the backfill horizon".into(),
                });
            }
        }
        let (old, note) = cursor::read::<Cursor>(req);
        skipped.extend(note);
        let newest = mentions.iter().map(|m| m.published).max().into_iter().chain(old.and_then(|c| c.newest)).max();
        Ok(Page {
            mentions,
            skipped,
            cursor: cursor::write(&Cursor { newest: newest.or(Some(req.now)) })?,
            more: false,
            not_modified: false,
            validators: resp.validators,
            rate_limit: resp.rate_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-06-04T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    /// Shaped like a Google Alerts Atom feed, with several entries.
    const ALERTS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">
  <id>tag:google.com,2005:reader/user/000/state/com.google/alerts/111</id>
  <title>Google Alert - kroon bank</title>
  <link href="https://www.google.com/alerts/feeds/000/111" rel="self"></link>
  <updated>2024-06-04T10:00:00Z</updated>
  <entry>
    <id>tag:google.com,2013:googlealerts/feed:1001</id>
    <title type="html">&lt;b&gt;Kroon Bank&lt;/b&gt; storing treft duizenden klanten</title>
    <link href="https://www.google.com/url?rct=j&amp;url=https://nieuws.example/storing"></link>
    <published>2024-06-04T09:30:00Z</published>
    <updated>2024-06-04T09:30:00Z</updated>
    <content type="html">Klanten van &lt;b&gt;Kroon Bank&lt;/b&gt; konden urenlang niet inloggen &amp;amp; betalen.</content>
    <author><name></name></author>
  </entry>
  <entry>
    <id>tag:google.com,2013:googlealerts/feed:1002</id>
    <title type="html">Kroon Bank opens new office</title>
    <link href="https://www.google.com/url?rct=j&amp;url=https://news.example/office"></link>
    <published>2024-06-01T08:00:00Z</published>
    <content type="html">The bank opened an office in Utrecht.</content>
  </entry>
  <entry>
    <title type="html"></title>
    <content type="html"></content>
  </entry>
</feed>"#;

    #[test]
    fn atom_entries_become_mentions_with_plain_text() {
        let (mentions, skipped) = parse_feed(ALERTS.as_bytes(), "alerts", now()).unwrap();
        assert_eq!(mentions.len(), 2);
        let m = &mentions[0];
        assert_eq!(m.id, "tag:google.com,2013:googlealerts/feed:1001");
        assert_eq!(m.text, "Kroon Bank storing treft duizenden klanten\nKlanten van Kroon Bank konden urenlang niet inloggen & betalen.");
        assert_eq!(m.published.to_rfc3339(), "2024-06-04T09:30:00+00:00");
        assert!(m.url.as_deref().is_some_and(|u| u.contains("nieuws.example")));
        assert_eq!(m.author, None, "an empty author name is no author");
        assert_eq!(skipped.len(), 1, "the entry with neither id, link nor text");
    }

    #[test]
    fn rss_items_without_guid_are_known_by_their_link() {
        let rss = r#"<rss version="2.0"><channel><title>x</title><language>nl-NL</language>
            <item><title>Storing</title><link>https://x.example/1</link><pubDate>Tue, 04 Jun 2024 09:00:00 +0000</pubDate></item>
            <item><guid>g-2</guid><title>Opgelost</title><description>&lt;p&gt;Alles werkt &lt;b&gt;weer&lt;/b&gt;&lt;/p&gt;</description></item>
            <item><guid>g-2</guid><title>Dubbel</title></item>
            </channel></rss>"#;
        let (mentions, skipped) = parse_feed(rss.as_bytes(), "news", now()).unwrap();
        assert_eq!(mentions.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["https://x.example/1", "g-2"]);
        assert_eq!(mentions[1].text, "Opgelost\nAlles werkt weer");
        assert_eq!(mentions[0].lang.as_deref(), Some("nl"));
        assert_eq!(mentions[1].published, now(), "no date: the fetch time");
        assert_eq!(skipped, [Skipped { item: "g-2".into(), why: "duplicate id in the same feed".into() }]);
    }

    #[test]
    fn items_with_neither_guid_nor_link_get_a_content_id_that_stays_the_same() {
        let rss = |top: &str| {
            format!(
                r#"<rss version="2.0"><channel><title>x</title>{top}
                <item><title>Alleen een titel</title></item>
                <item><description>Alleen een beschrijving</description><pubDate>Tue, 04 Jun 2024 09:00:00 +0000</pubDate></item>
                <item><description>Alleen een beschrijving</description><pubDate>Wed, 05 Jun 2024 09:00:00 +0000</pubDate></item>
                </channel></rss>"#
            )
        };
        let ids = |body: String, source: &str, now: DateTime<Utc>| -> Vec<String> {
            let (mentions, skipped) = parse_feed(body.as_bytes(), source, now).unwrap();
            assert!(skipped.is_empty(), "{skipped:?}");
            mentions.into_iter().map(|m| m.id).collect()
        };
        let first = ids(rss(""), "news", now());
        assert_eq!(first.len(), 3, "the same text on another day is another item");
        assert!(first.iter().all(|id| id.starts_with("content-") && id.len() == "content-".len() + 16), "{first:?}");
        let later = ids(rss("<item><title>Nieuw</title></item>"), "news", now() + chrono::Duration::hours(1));
        assert_eq!(later[1..], first[..], "polled again later, with a new item on top");
        assert_ne!(ids(rss(""), "other", now()), first, "the source is part of the id");
    }

    #[test]
    fn utf16_bodies_and_the_http_charset_are_decoded_before_parsing() {
        let doc = r#"<?xml version="1.0" encoding="ucs-2"?><rss version="2.0"><channel><title>x</title>
            <item><guid>1</guid><title>Storing — café</title></item></channel></rss>"#;
        let be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let (m, _) = parse_feed(&be, "news", now()).unwrap();
        assert_eq!(m[0].text, "Storing — café");
        let latin = b"<rss version=\"2.0\"><channel><title>x</title><item><guid>1</guid><title>caf\xe9</title></item></channel></rss>";
        let (m, _) = parse_served_feed(latin, Some("application/rss+xml; charset=ISO-8859-1"), "news", now()).unwrap();
        assert_eq!(m[0].text, "café");
    }

    #[test]
    fn atom_03_entries_are_read_as_atom_10() {
        let feed = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Oud blog</title>
            <entry><id>tag:oud.example,2004:1</id><title>Storing bij Kroon Bank</title>
            <link rel="alternate" type="text/html" href="https://oud.example/1"/>
            <content type="text/html" mode="escaped">&lt;p&gt;Weer &lt;b&gt;geen&lt;/b&gt; app&lt;/p&gt;</content></entry></feed>"#;
        let (m, skipped) = parse_feed(feed.as_bytes(), "news", now()).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        let got: Vec<(&str, &str)> = m.iter().map(|m| (m.id.as_str(), m.text.as_str())).collect();
        assert_eq!(got, [("tag:oud.example,2004:1", "Storing bij Kroon Bank\nWeer geen app")]);
    }

    #[test]
    fn atom_03_text_types_are_written_the_atom_10_way() {
        let t = |tag: &str| atom_03_text_type(tag);
        assert_eq!(t(r#"<title type="text/plain" mode="xml">"#).as_deref(), Some(r#"<title type="text" mode="xml">"#));
        assert_eq!(t(r#"<content type='application/xhtml+xml' mode='escaped'>"#).as_deref(), Some(r#"<content type="html" mode='escaped'>"#));
        assert_eq!(t(r#"<summary type="application/xhtml+xml">"#).as_deref(), Some(r#"<summary type="xhtml">"#));
        assert_eq!(t("<atom:title>").as_deref(), Some(r#"<atom:title type="text">"#));
        assert_eq!(t(r#"<content type="image/png" mode="base64">"#), None);
        assert_eq!(t(r#"<link rel="alternate" type="text/html" href="x"/>"#), None);
    }

    #[test]
    fn a_panic_inside_the_parser_is_this_feeds_parse_error() {
        // UTF-16 BE without a byte order mark, declared as `ucs-2` (a label for UTF-16 LE), given
        // to the parser undecoded: quick-xml panics on it.
        let doc = r#"<?xml version="1.0" encoding="ucs-2"?><rss version="2.0"><channel></channel></rss>"#;
        let be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        match read_feed(&be) {
            Err(SourceError::Parse(why)) => assert!(why.contains("crashed"), "{why}"),
            other => panic!("expected the parser's panic as a parse error, got {:?}", other.map(|f| f.entries.len())),
        }
    }

    #[test]
    fn not_a_feed_is_a_parse_error_that_says_what_it_got() {
        let err = parse_feed(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "news", now()).unwrap_err();
        assert!(err.to_string().contains("HTML page"), "{err}");
        assert!(matches!(parse_feed(b"", "news", now()), Err(SourceError::Parse(_))));
        assert!(matches!(
            parse_feed(b"<rss><channel><item><title>cut off", "news", now()),
            Err(SourceError::Parse(_)) | Ok(_)
        ));
        assert!(parse_feed(b"\xff\xfe\x00garbage", "news", now()).is_err());
    }
}
