//! `rss`: RSS 2.0, RSS 1.0 and Atom feeds (and JSON Feed), read with `feed-rs`. This covers
//! Google Alerts, news sites, blogs, subreddit and Mastodon tag RSS, YouTube channel feeds.
//!
//! A feed has no paging: every poll fetches the feed, with `If-None-Match` /
//! `If-Modified-Since` from the last full answer, so an unchanged feed costs a 304 and no
//! parsing. Every entry becomes a mention; the poller's seen-id store drops the ones handed
//! on before. An entry's id is its `<guid>`/`<id>`, else its first link (feeds without
//! either are skipped: nothing could tell them apart tomorrow). Text is the title and the
//! summary or content, HTML turned into plain text. On the first poll, entries older than
//! the backfill horizon are left out.
//!
//! Cursor: `{"newest": "<RFC 3339>"}`, the newest publication time handed on (informational;
//! dedup is by id), so the source counts as polled once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::http::{Http, HttpRequest};
use super::registry::Settings;
use super::text::html_to_text;
use super::{cursor, sane_time, Kind, Page, PageRequest, Skipped, SourceError};
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

/// Entries of a feed body as mentions, with the entries that could not be used.
pub fn parse_feed(body: &[u8], source: &str, now: DateTime<Utc>) -> Result<(Vec<Mention>, Vec<Skipped>), SourceError> {
    let parser = feed_rs::parser::Builder::new()
        // An entry without an id is known by its first link; without either it has no id.
        .id_generator(|links, _title, _base| links.first().map(|l| l.href.clone()).unwrap_or_default())
        .build();
    let feed = parser.parse(body).map_err(|e| {
        let looks_html = body.iter().take(512).collect::<Vec<_>>().windows(5).any(|w| {
            let s: Vec<u8> = w.iter().map(|b| b.to_ascii_lowercase()).collect();
            s == b"<html" || s == b"<!doc"
        });
        SourceError::Parse(if looks_html {
            format!("expected an RSS or Atom feed, got an HTML page ({e})")
        } else {
            format!("not an RSS, Atom or JSON feed: {e}")
        })
    })?;
    let feed_lang = feed.language.as_deref().and_then(super::primary_lang);
    let mut mentions: Vec<Mention> = Vec::with_capacity(feed.entries.len());
    let mut skipped = Vec::new();
    for (i, entry) in feed.entries.into_iter().enumerate() {
        let id = entry.id.trim().to_string();
        if id.is_empty() {
            skipped.push(Skipped { item: format!("entry {}", i + 1), why: "no id and no link".into() });
            continue;
        }
        if mentions.iter().any(|m| m.id == id) {
            skipped.push(Skipped { item: id, why: "duplicate id in the same feed".into() });
            continue;
        }
        let title = entry.title.map(|t| html_to_text(&t.content)).unwrap_or_default();
        let body = entry
            .summary
            .map(|s| s.content)
            .or_else(|| entry.content.and_then(|c| c.body))
            .map(|b| html_to_text(&b))
            .unwrap_or_default();
        let text = match (title.is_empty(), body.is_empty() || body == title) {
            (true, true) => {
                skipped.push(Skipped { item: id, why: "no title and no text".into() });
                continue;
            }
            (false, true) => title,
            (true, false) => body,
            (false, false) => format!("{title}\n{body}"),
        };
        let (published, _) = sane_time(entry.published.or(entry.updated), now);
        mentions.push(Mention {
            source: source.to_string(),
            id,
            text,
            author: entry.authors.first().and_then(|a| a.name.clone()).filter(|n| !n.trim().is_empty()),
            reach: None,
            lang: entry.language.as_deref().and_then(super::primary_lang).or_else(|| feed_lang.clone()),
            published,
            url: entry.links.first().map(|l| l.href.clone()),
        });
    }
    Ok((mentions, skipped))
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
        let (mut mentions, mut skipped) = parse_feed(&resp.body, req.source, req.now)?;
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
