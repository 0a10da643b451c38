//! Hacker News: stories and comments matching a query, through the Algolia search API.
//!
//! Each page is `GET {url}/api/v1/search_by_date?query=…&tags=(story,comment)&hitsPerPage=100`
//! with `numericFilters` bounding `created_at_i`, and `page=N` to page. Hits come newest
//! first. Algolia pages no deeper than 1,000 hits (`page * hitsPerPage` stays under it), so
//! the kind resumes by time, not by page: the *mark* is the newest `created_at_i` handed on,
//! with the objectIDs handed on at that second (items sharing the second are neither dropped
//! nor doubled). A poll is a *run* of pages asking `created_at_i>={mark}`: page 0 first, then
//! `page=1, 2, …` while `page < nbPages`, with an upper bound `created_at_i<={newest of page
//! 0}` so hits arriving meanwhile do not shift the pages. When the 1,000-hit cap is reached
//! with hits left, the run goes on from page 0 under a new upper bound: the oldest second
//! handed on so far (its objectIDs skipped), so nothing between is lost. While a run is not
//! done the page says `more` and the cursor holds where it is; when it is done, the newest hit
//! of the run becomes the mark. On the first poll the mark is `backfill_since`, so the first run
//! is the backfill. A known limit of any time mark: a hit indexed later than newer hits
//! (indexing lag) is missed.
//!
//! Hits become mentions as: id = objectID, text = the story title or the comment (HTML →
//! plain text), plus `story_text` if present; author; published = `created_at_i`; url = the
//! story's link, else its Hacker News page; for a comment its own Hacker News page (the
//! `story_url` it also carries is the article under discussion, not the comment). Algolia gives
//! no follower counts and no language: reach and lang are `None`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::fields::str_field;
use super::http::parse_json_body;
use super::mark::Mark;
use super::registry::Settings;
use super::text::html_to_text;
use super::{cursor, parse_time, sane_time, Http, HttpRequest, Kind, Page, PageRequest, Skipped, SourceError};
use crate::model::Mention;
use crate::secret::Environment;
use crate::settings::Table;

/// Hits asked for per page (Algolia's maximum for this API is 1,000; 100 keeps pages small).
const HITS_PER_PAGE: u32 = 100;
/// Algolia serves no hit past this offset (`paginationLimitedTo`).
const PAGINATION_LIMIT: u64 = 1000;

/// `kind = "hackernews"`: `query`, and `url` (default the Algolia host).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub url: Url,
    pub query: String,
}

impl Settings for Spec {
    const KEYS: &'static [&'static str] = &["url", "query"];

    fn read(t: &mut Table<'_>) -> Option<Spec> {
        let query = t.required_string("query", "for kind hackernews");
        let url = t.url("url", Some("https://hn.algolia.com"));
        Some(Spec { url: url?, query: query? })
    }

    fn build(&self, _env: &Environment) -> Result<Box<dyn Kind>, SourceError> {
        Ok(Box::new(HackerNews { url: self.url.clone(), query: self.query.clone() }))
    }

    fn host(&self) -> String {
        self.url.host_str().unwrap_or("").to_string()
    }
}

pub(crate) struct HackerNews {
    url: Url,
    query: String,
}

impl HackerNews {
    fn search_url(&self, mark: &Mark<i64>, run: Option<&Run>) -> Url {
        let mut url = self.url.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1", "search_by_date"]);
        }
        let mut filters = format!("created_at_i>={}", mark.at);
        if let Some(upto) = run.and_then(|r| r.upto) {
            filters.push_str(&format!(",created_at_i<={upto}"));
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("query", &self.query)
                .append_pair("tags", "(story,comment)")
                .append_pair("hitsPerPage", &HITS_PER_PAGE.to_string())
                .append_pair("numericFilters", &filters);
            if let Some(page) = run.map(|r| r.page).filter(|p| *p > 0) {
                q.append_pair("page", &page.to_string());
            }
        }
        url
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

/// A run of pages from the newest hit down to the mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    /// The Algolia page to ask for next, under `upto`.
    page: u32,
    /// Upper bound (inclusive) on `created_at_i` for the pages of this run; `None` on its first
    /// page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upto: Option<i64>,
    /// The newest hit handed on in this run; becomes the mark when the run is done.
    top: Mark<i64>,
    /// The oldest hit handed on in this run: hits from here up were handed on (pages shifted
    /// by late hits show some again; they are not handed on twice).
    bottom: Mark<i64>,
}

#[async_trait::async_trait]
impl Kind for HackerNews {
    async fn page(&self, http: &Http, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let (cursor, note) = read_cursor(req);
        let resp = http.send(HttpRequest::get(self.search_url(&cursor.mark, cursor.run.as_ref()))).await?;
        let parsed = parse_hackernews(&resp.body, req.source, req.now)?;
        let mut page = next_page(cursor, parsed, req.now)?;
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

/// Keeps the hits of `parsed` that are new for `cursor` and says where the next page starts.
fn next_page(cursor: Cursor, parsed: HnSearch, now: DateTime<Utc>) -> Result<Page, SourceError> {
    let Cursor { mark, run } = cursor;
    let (mut top, mut bottom, upto, continuing) = match run {
        Some(r) => (r.top, r.bottom, r.upto, true),
        None => (mark.clone(), Mark { at: i64::MAX, ids: Vec::new() }, None, false),
    };
    let mut page = Page { skipped: parsed.skipped, ..Page::default() };
    let mut newest_on_page: Option<i64> = None;
    let page_empty = parsed.hits.is_empty();
    for hit in parsed.hits {
        if let Some(at) = hit.created_at_i {
            newest_on_page = Some(newest_on_page.map_or(at, |n| n.max(at)));
            if !mark.is_newer(at, &hit.id) {
                // At or before the mark (the filter asks `>=`, so the mark's second comes back).
                continue;
            }
            if continuing && bottom.covers_from_above(at, &hit.id) {
                // Handed on earlier in this run; seen again because later hits shifted the pages.
                continue;
            }
            // A time in the future does not move the mark past now.
            top.raise(at.min(now.timestamp()), &hit.id);
            bottom.lower(at, &hit.id);
        }
        match hit.outcome {
            Ok(m) => page.mentions.push(m),
            Err(why) => page.skipped.push(Skipped { item: hit.id, why }),
        }
    }
    // The first page of a run fixes its upper bound: the newest hit it saw.
    let upto = upto.or(newest_on_page);
    let next_index = parsed.page.saturating_add(1);
    let served = u64::from(next_index) * u64::from(parsed.hits_per_page);
    let next = if next_index < parsed.nb_pages && served < PAGINATION_LIMIT {
        Some(Run { page: next_index, upto, top: top.clone(), bottom })
    } else if parsed.nb_hits > served && !page_empty && bottom.at != i64::MAX {
        // The 1,000-hit cap: go on below the oldest second handed on (its ids are skipped by
        // the filter above). If that is no lower than the bound already in use (a whole cap's
        // worth of hits in one second), step below it so the run always moves on.
        let below = match upto {
            Some(u) if u <= bottom.at => u - 1,
            _ => bottom.at,
        };
        (below >= mark.at).then(|| Run { page: 0, upto: Some(below), top: top.clone(), bottom })
    } else {
        None
    };
    page.more = next.is_some();
    let cursor = match next {
        Some(run) => Cursor { mark, run: Some(run) },
        None => Cursor { mark: top, run: None },
    };
    page.cursor = cursor::write(&cursor)?;
    Ok(page)
}

/// One page of Algolia search results, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct HnSearch {
    /// The hits with an objectID, in the order served (newest first).
    pub hits: Vec<HnHit>,
    /// Hits without an objectID, and repeats of one within the page (the first is kept).
    pub skipped: Vec<Skipped>,
    /// This page's number (from 0), the number of pages, the number of hits in all, and the
    /// page size, as Algolia reports them.
    pub page: u32,
    pub nb_pages: u32,
    pub nb_hits: u64,
    pub hits_per_page: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HnHit {
    pub id: String,
    /// `created_at_i` (or `created_at`), in seconds.
    pub created_at_i: Option<i64>,
    /// The mention, or why the hit is skipped (no text).
    pub outcome: Result<Mention, String>,
}

/// Parses an Algolia search body (`{"hits":[…],"page","nbPages","nbHits","hitsPerPage"}`).
pub fn parse_hackernews(body: &[u8], source: &str, now: DateTime<Utc>) -> Result<HnSearch, SourceError> {
    let v = parse_json_body(body, None)?;
    let Some(hits) = v.get("hits").and_then(|h| h.as_array()) else {
        let what = match v.get("message").or_else(|| v.get("error")) {
            Some(m) => format!("an error object ({m})"),
            None => "no hits array".to_string(),
        };
        return Err(SourceError::Parse(format!("not an Algolia search answer: {what}")));
    };
    let number = |key: &str| v.get(key).and_then(|n| n.as_u64());
    let page = number("page").unwrap_or(0).min(u64::from(u32::MAX)) as u32;
    let mut out = HnSearch {
        hits: Vec::with_capacity(hits.len()),
        skipped: Vec::new(),
        page,
        // Without paging fields, this page is the only one.
        nb_pages: number("nbPages").map_or(page.saturating_add(1), |n| n.min(u64::from(u32::MAX)) as u32),
        nb_hits: number("nbHits").unwrap_or(hits.len() as u64),
        hits_per_page: number("hitsPerPage").filter(|n| *n > 0).map_or(HITS_PER_PAGE, |n| n.min(1000) as u32),
    };
    let mut seen = HashSet::new();
    for (i, hit) in hits.iter().enumerate() {
        let id = match hit.get("objectID") {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => {
                out.skipped.push(Skipped { item: format!("#{i}"), why: "no objectID".into() });
                continue;
            }
        };
        if !seen.insert(id.clone()) {
            out.skipped.push(Skipped { item: id, why: "repeated in the same page; kept the first".into() });
            continue;
        }
        let created = match hit.get("created_at_i").and_then(|t| t.as_i64()) {
            Some(t) => DateTime::from_timestamp(t, 0),
            None => str_field(hit, "created_at").and_then(parse_time),
        };
        let outcome = mention(hit, source, &id, sane_time(created, now).0);
        out.hits.push(HnHit { id, created_at_i: created.map(|c| c.timestamp()), outcome });
    }
    Ok(out)
}

/// The mention for one story or comment hit, or why there is none.
fn mention(hit: &serde_json::Value, source: &str, id: &str, published: DateTime<Utc>) -> Result<Mention, String> {
    let comment_text = str_field(hit, "comment_text");
    let is_comment = comment_text.is_some()
        || hit.get("_tags").and_then(|t| t.as_array()).is_some_and(|t| t.iter().any(|t| t == "comment"));
    let parts = [
        // Titles are plain text; comment and story texts are HTML.
        str_field(hit, "title").map(|t| t.trim().to_string()),
        comment_text.map(html_to_text),
        str_field(hit, "story_text").map(html_to_text),
    ];
    let text = parts.into_iter().flatten().filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n");
    if text.is_empty() {
        return Err("no title, comment_text or story_text".into());
    }
    let item_page = format!("https://news.ycombinator.com/item?id={id}");
    let url = if is_comment { item_page } else { str_field(hit, "url").map_or(item_page, str::to_string) };
    Ok(Mention {
        source: source.to_string(),
        id: id.to_string(),
        text,
        author: str_field(hit, "author").map(str::to_string),
        reach: None,
        lang: None,
        published,
        url: Some(url),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_714_557_773, 0).unwrap()
    }

    /// A story hit shaped like Algolia's (with the fields real hits carry beyond the docs'
    /// example).
    fn story(id: &str, at: i64, title: &str, url: Option<&str>, story_text: Option<&str>) -> serde_json::Value {
        json!({
            "title": title, "url": url, "author": "pg_fan", "points": 57, "story_text": story_text,
            "comment_text": null, "_tags": ["story", "author_pg_fan", format!("story_{id}")],
            "num_comments": 2, "objectID": id, "created_at": "2024-05-01T10:00:00.000Z",
            "created_at_i": at, "story_id": id.parse::<u64>().unwrap_or(0),
            "_highlightResult": {"title": {"value": title, "matchLevel": "none", "matchedWords": []}}
        })
    }

    fn comment(id: &str, at: i64, html: &str) -> serde_json::Value {
        json!({
            "comment_text": html, "author": "throwaway42", "story_id": 40000000, "parent_id": 40000000,
            "story_title": "Kroonbank outage", "story_url": "https://news.example/kroonbank-outage",
            "title": null, "url": null, "story_text": null, "points": null,
            "_tags": ["comment", "author_throwaway42", "story_40000000"], "objectID": id,
            "created_at": "2024-05-01T10:00:00.000Z", "created_at_i": at
        })
    }

    fn search(hits: Vec<serde_json::Value>, page: u32, nb_pages: u32, nb_hits: u64) -> Vec<u8> {
        json!({"hits": hits, "page": page, "nbHits": nb_hits, "nbPages": nb_pages, "hitsPerPage": 100,
               "processingTimeMS": 1, "query": "kroonbank", "params": "query=kroonbank"})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn stories_and_comments_become_mentions() {
        let body = search(
            vec![
                story("40000003", 1714557700, "Kroonbank is down", Some("https://status.example/kroon"), None),
                story(
                    "40000002",
                    1714557600,
                    "Ask HN: Is Kroonbank's app broken?",
                    None,
                    Some("<p>Since 9am &amp; still nothing.</p><p>Anyone?</p>"),
                ),
                comment("40000001", 1714557500, "Same here<p>They <i>still</i> haven&#x27;t said anything."),
            ],
            0,
            1,
            3,
        );
        let got = parse_hackernews(&body, "hn", now()).unwrap();
        assert!(got.skipped.is_empty(), "{:?}", got.skipped);
        assert_eq!((got.page, got.nb_pages, got.nb_hits, got.hits_per_page), (0, 1, 3, 100));
        let m: Vec<&Mention> = got.hits.iter().map(|h| h.outcome.as_ref().unwrap()).collect();
        assert_eq!(m[0].id, "40000003");
        assert_eq!(m[0].source, "hn");
        assert_eq!(m[0].text, "Kroonbank is down");
        assert_eq!(m[0].url.as_deref(), Some("https://status.example/kroon"));
        assert_eq!(m[0].author.as_deref(), Some("pg_fan"));
        assert_eq!(m[0].published, DateTime::from_timestamp(1714557700, 0).unwrap());
        assert_eq!((m[0].reach, m[0].lang.as_deref()), (None, None));
        assert_eq!(m[1].text, "Ask HN: Is Kroonbank's app broken?\nSince 9am & still nothing.\nAnyone?");
        assert_eq!(m[1].url.as_deref(), Some("https://news.ycombinator.com/item?id=40000002"));
        assert_eq!(m[2].text, "Same here\nThey still haven't said anything.");
        assert_eq!(m[2].author.as_deref(), Some("throwaway42"));
        assert_eq!(
            m[2].url.as_deref(),
            Some("https://news.ycombinator.com/item?id=40000001"),
            "the comment, not the article"
        );
        assert_eq!(got.hits[2].created_at_i, Some(1714557500));
    }

    #[test]
    fn the_documented_example_shape_parses() {
        // The shape of the official example: no created_at_i, a bare story.
        let body = br#"{"hits":[{"title":"Y Combinator","url":"http://ycombinator.com","author":"pg","points":57,
            "story_text":null,"comment_text":null,"_tags":["story"],"num_comments":2,"objectID":"1",
            "_highlightResult":{}}],"page":0,"nbHits":11,"nbPages":1,"hitsPerPage":20,"processingTimeMS":1,
            "query":"pg","params":"query=pg"}"#;
        let got = parse_hackernews(body, "hn", now()).unwrap();
        assert_eq!(got.hits.len(), 1);
        assert_eq!(got.hits[0].created_at_i, None);
        assert_eq!(got.hits[0].outcome.as_ref().unwrap().published, now(), "no time: the fetch time");
        assert_eq!(got.hits_per_page, 20);
    }

    #[test]
    fn bad_hits_are_skipped_and_the_rest_kept() {
        let mut no_id = story("1", 1714557700, "no id", None, None);
        no_id.as_object_mut().unwrap().remove("objectID");
        let mut numeric_id = story("2", 1714557690, "numeric id", None, None);
        numeric_id["objectID"] = json!(40000002);
        let mut future = story("5", 1714557660, "clock skew", None, None);
        future["created_at_i"] = json!(1_900_000_000);
        let mut iso_time = comment("6", 0, "iso time only");
        iso_time.as_object_mut().unwrap().remove("created_at_i");
        let body = search(
            vec![
                no_id,
                numeric_id,
                story("3", 1714557680, "first", None, None),
                story("3", 1714557680, "second copy", None, None),
                comment("4", 1714557670, "  <p> </p> "),
                future,
                iso_time,
                json!("not an object"),
            ],
            0,
            1,
            8,
        );
        let got = parse_hackernews(&body, "hn", now()).unwrap();
        let skipped: Vec<(&str, &str)> = got.skipped.iter().map(|s| (s.item.as_str(), s.why.as_str())).collect();
        assert_eq!(
            skipped,
            vec![("#0", "no objectID"), ("3", "repeated in the same page; kept the first"), ("#7", "no objectID")]
        );
        let ids: Vec<&str> = got.hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["40000002", "3", "4", "5", "6"]);
        assert_eq!(got.hits[1].outcome.as_ref().unwrap().text, "first");
        assert_eq!(got.hits[2].outcome.clone().unwrap_err(), "no title, comment_text or story_text");
        assert_eq!(got.hits[3].outcome.as_ref().unwrap().published, now());
        assert_eq!(got.hits[4].created_at_i, Some(1714557600), "created_at when created_at_i is missing");
    }

    #[test]
    fn bodies_that_are_not_search_answers_are_parse_errors() {
        let cases: [(&[u8], &str); 6] = [
            (b"<html><head><title>502 Bad Gateway</title></head></html>", "HTML"),
            (b"{\"hits\": [{\"objectID\": \"1\"", "invalid JSON"),
            (b"{\"hits\": [\"\xfe\xff\"]}", "invalid JSON"),
            (b"", "empty"),
            (b"{\"message\": \"Invalid syntax for numeric value\", \"status\": 400}", "error object"),
            (b"{\"nbHits\": 0}", "no hits array"),
        ];
        for (body, want) in cases {
            match parse_hackernews(body, "hn", now()) {
                Err(SourceError::Parse(msg)) => assert!(msg.contains(want), "{msg:?} should mention {want:?}"),
                other => panic!("{:?}: expected a parse error, got {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let empty = parse_hackernews(&search(vec![], 0, 0, 0), "hn", now()).unwrap();
        assert!(empty.hits.is_empty() && empty.nb_pages == 0);
    }

    fn hit(id: &str, at: i64) -> HnHit {
        HnHit {
            id: id.into(),
            created_at_i: Some(at),
            outcome: Ok(Mention {
                source: "hn".into(),
                id: id.into(),
                text: id.into(),
                author: None,
                reach: None,
                lang: None,
                published: DateTime::from_timestamp(at, 0).unwrap(),
                url: None,
            }),
        }
    }

    fn result(hits: Vec<HnHit>, page: u32, nb_pages: u32, nb_hits: u64, per_page: u32) -> HnSearch {
        HnSearch { hits, skipped: vec![], page, nb_pages, nb_hits, hits_per_page: per_page }
    }

    fn ids(p: &Page) -> Vec<&str> {
        p.mentions.iter().map(|m| m.id.as_str()).collect()
    }

    fn cursor(p: &Page) -> Cursor {
        serde_json::from_value(p.cursor.clone()).unwrap()
    }

    #[test]
    fn hits_at_the_marks_second_are_neither_dropped_nor_doubled() {
        let start = Cursor { mark: Mark { at: 100, ids: vec!["a".into()] }, run: None };
        let p =
            next_page(start, result(vec![hit("c", 120), hit("b", 100), hit("a", 100)], 0, 1, 3, 100), now()).unwrap();
        assert_eq!((ids(&p), p.more), (vec!["c", "b"], false));
        assert_eq!(cursor(&p), Cursor { mark: Mark { at: 120, ids: vec!["c".into()] }, run: None });
        let p = next_page(cursor(&p), result(vec![hit("d", 120), hit("c", 120)], 0, 1, 2, 100), now()).unwrap();
        assert_eq!(ids(&p), vec!["d"]);
        assert_eq!(cursor(&p).mark, Mark { at: 120, ids: vec!["c".into(), "d".into()] });
    }

    #[test]
    fn pages_are_bounded_by_the_first_pages_newest_hit_and_shifted_hits_are_not_doubled() {
        let start = Cursor { mark: Mark { at: 100, ids: vec![] }, run: None };
        let p = next_page(start, result(vec![hit("f", 160), hit("e", 150)], 0, 3, 6, 2), now()).unwrap();
        assert_eq!((ids(&p), p.more), (vec!["f", "e"], true));
        let c = cursor(&p);
        let run = c.run.clone().unwrap();
        assert_eq!((run.page, run.upto), (1, Some(160)));
        assert_eq!(c.mark.at, 100);
        // A late hit pushed e onto page 1: it is not handed on again.
        let p = next_page(c, result(vec![hit("e", 150), hit("d", 140)], 1, 4, 7, 2), now()).unwrap();
        assert_eq!((ids(&p), p.more), (vec!["d"], true));
        let p = next_page(cursor(&p), result(vec![hit("c", 130), hit("b", 120)], 2, 4, 7, 2), now()).unwrap();
        assert_eq!((ids(&p), p.more), (vec!["c", "b"], true));
        let p = next_page(cursor(&p), result(vec![hit("a", 105)], 3, 4, 7, 2), now()).unwrap();
        assert_eq!((ids(&p), p.more), (vec!["a"], false));
        assert_eq!(cursor(&p), Cursor { mark: Mark { at: 160, ids: vec!["f".into()] }, run: None });
    }

    #[test]
    fn the_pagination_cap_continues_below_the_oldest_second_handed_on() {
        let start = Cursor { mark: Mark { at: 100, ids: vec![] }, run: None };
        // Page 9 of 10 (hitsPerPage 100): the last Algolia serves, with 1,500 hits matching.
        let run = Run {
            page: 9,
            upto: Some(900),
            top: Mark { at: 900, ids: vec!["z".into()] },
            bottom: Mark { at: 500, ids: vec!["q".into()] },
        };
        let c = Cursor { run: Some(run), ..start };
        let p =
            next_page(c, result(vec![hit("p", 480), hit("o", 470), hit("n", 470)], 9, 10, 1500, 100), now()).unwrap();
        assert!(p.more);
        let c = cursor(&p);
        let run = c.run.clone().unwrap();
        assert_eq!((run.page, run.upto), (0, Some(470)));
        assert_eq!(run.bottom, Mark { at: 470, ids: vec!["o".into(), "n".into()] });
        // Under the new bound: o and n come back and are skipped, m (same second) is new.
        let p =
            next_page(c, result(vec![hit("o", 470), hit("n", 470), hit("m", 470), hit("l", 300)], 0, 1, 4, 100), now())
                .unwrap();
        assert_eq!((ids(&p), p.more), (vec!["m", "l"], false));
        assert_eq!(cursor(&p).mark, Mark { at: 900, ids: vec!["z".into()] });
    }

    #[test]
    fn a_cap_with_no_progress_steps_below_the_bound_and_ends_at_the_mark() {
        let run = Run {
            page: 9,
            upto: Some(470),
            top: Mark { at: 900, ids: vec![] },
            bottom: Mark { at: 470, ids: vec!["x".into()] },
        };
        let c = Cursor { mark: Mark { at: 100, ids: vec![] }, run: Some(run) };
        let p = next_page(c, result(vec![hit("x", 470)], 9, 10, 1500, 100), now()).unwrap();
        assert_eq!(cursor(&p).run.unwrap().upto, Some(469));
        let run = Run {
            page: 9,
            upto: Some(100),
            top: Mark { at: 900, ids: vec![] },
            bottom: Mark { at: 100, ids: vec!["x".into()] },
        };
        let c = Cursor { mark: Mark { at: 100, ids: vec![] }, run: Some(run) };
        let p = next_page(c, result(vec![hit("x", 100)], 9, 10, 1500, 100), now()).unwrap();
        assert!(!p.more, "below the mark there is nothing left to page");
    }

    #[test]
    fn search_urls_carry_the_time_bounds_and_page() {
        let hn = HackerNews { url: Url::parse("https://hn.algolia.com").unwrap(), query: "kroon bank".into() };
        let mark = Mark { at: 100, ids: vec![] };
        assert_eq!(
            hn.search_url(&mark, None).as_str(),
            "https://hn.algolia.com/api/v1/search_by_date?query=kroon+bank&tags=%28story%2Ccomment%29&hitsPerPage=100&numericFilters=created_at_i%3E%3D100"
        );
        let run = Run { page: 3, upto: Some(200), top: mark.clone(), bottom: mark.clone() };
        let url = hn.search_url(&mark, Some(&run));
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        assert!(pairs.contains(&("numericFilters".into(), "created_at_i>=100,created_at_i<=200".into())), "{pairs:?}");
        assert!(pairs.contains(&("page".into(), "3".into())), "{pairs:?}");
    }
}
