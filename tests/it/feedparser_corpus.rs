//! feedparser's own test corpus through the `rss` kind: about 2,240 small feeds, each written
//! to exercise one corner of RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and CDF as found in the wild
//! (encodings from UTF-16 without a byte order mark to `iso-10646-ucs-2`, entities, relative
//! links, items with neither guid nor link, broken markup).
//!
//! The corpus is the `tests/` folder of the source distribution of the Python package
//! `feedparser` (<https://pypi.org/project/feedparser/>, <https://github.com/kurtmckee/feedparser>),
//! © Kurt McKee and Mark Pilgrim, BSD 2-Clause licence. It is read at test time only and never
//! committed. `.ci/run` downloads the pinned version with pip into
//! `target/feedparser-corpus/` and points `STORMWATCH_FEEDPARSER_CORPUS` at its `tests/`
//! folder; when the variable is set and the folder is missing the test fails, so CI cannot
//! pass without it. Without the variable the default place is tried, and the test is skipped
//! (saying so on stderr) when nothing is there.
//!
//! Every `*.xml` file of the corpus is served on loopback (with the `Content-Type` its
//! `Header:` comment names, if any; feedparser's status and redirect headers are not played,
//! every answer is 200) and polled once through the `rss` kind as a first poll. What must
//! hold:
//! - no feed panics the source;
//! - of the feeds in which feed-rs itself finds entries with a title, summary or content, at
//!   least 95% yield mentions (the source keeps what the parser gives it, entries without
//!   guid or link included: `parser_finds_entries_with_text`);
//! - of the feeds whose XML has an `item`/`entry` (any namespace prefix) with a `title`,
//!   `description`, `summary`, `content` or `content:encoded` that has words once markup is
//!   left out (`has_items_with_text`), at least 90% yield mentions. This broader count also
//!   holds what feed-rs cannot read (RSS 0.90, Atom 1.0 base64 text, undeclared legacy
//!   charsets, feeds broken on purpose), so it is a floor against regressions.
//!
//! Run with `cargo test --release --test it feedparser_corpus:: -- --nocapture` for the
//! figures and the feeds with text that yielded nothing.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use serde_json::Value;
use stormwatch::secret::Environment;
use stormwatch::sources::text::html_to_text;
use stormwatch::sources::{rss, Http, SourceKind, DEFAULT_MAX_BODY_BYTES};

use crate::support::http;
use crate::support::sources::{self, build_kind, PollAt};

/// The pinned feedparser release; `.ci/run` downloads the same one.
const VERSION: &str = "6.0.12";
const VAR: &str = "STORMWATCH_FEEDPARSER_CORPUS";

/// The corpus's `tests/` folder, or `None` (skip) when it is not configured and not in its
/// default place. Panics when the variable names a folder that is not there.
fn corpus() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(VAR) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("wellformed").is_dir(),
            "{VAR}={} is not feedparser's tests/ folder (no wellformed/ in it): run .ci/run, or unset {VAR} to skip",
            dir.display()
        );
        return Some(dir);
    }
    let default = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/feedparser-corpus")
        .join(format!("feedparser-{VERSION}"))
        .join("tests");
    if default.join("wellformed").is_dir() {
        return Some(default);
    }
    eprintln!(
        "feedparser_corpus: skipped, no corpus at {} and {VAR} is not set (.ci/run fetches it)",
        default.display()
    );
    None
}

/// Every `*.xml` file under `dir`, as paths relative to it, sorted.
fn feed_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "xml") {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The body as text for this test's own look at it: UTF-16 when it starts like UTF-16, else
/// UTF-8 with bad bytes replaced.
fn rough_text(body: &[u8]) -> String {
    let units = |big: bool| {
        body.chunks_exact(2)
            .map(move |p| if big { u16::from_be_bytes([p[0], p[1]]) } else { u16::from_le_bytes([p[0], p[1]]) })
    };
    match body {
        [0xfe, 0xff, ..] | [0x00, b'<', ..] => {
            char::decode_utf16(units(true)).map(|c| c.unwrap_or('\u{fffd}')).collect()
        }
        [0xff, 0xfe, ..] | [b'<', 0x00, ..] => {
            char::decode_utf16(units(false)).map(|c| c.unwrap_or('\u{fffd}')).collect()
        }
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}

/// The `Content-Type` a corpus file asks to be served with (`Header: Content-type: …` in its
/// leading comment), if any.
fn content_type(text: &str) -> Option<String> {
    text.lines().take(20).find_map(|l| {
        let rest = l.trim().strip_prefix("Header:")?.trim();
        let (name, value) = rest.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-type").then(|| value.trim().to_string())
    })
}

/// The local name of the element whose tag starts at `tag` (just after `<`), and the full name.
fn element_name(tag: &str) -> (&str, &str) {
    let full = &tag[..tag.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(tag.len())];
    (full.rsplit(':').next().unwrap_or(full), full)
}

/// What is inside the element whose open tag starts at byte `at` of `text` (at its `<`), up
/// to its closing tag or the end of the text; `None` when it closes itself.
fn inner(text: &str, at: usize) -> Option<&str> {
    let (_, full) = element_name(&text[at + 1..]);
    let open_end = at + text[at..].find('>')?;
    if text[..open_end].ends_with('/') {
        return None;
    }
    let body = &text[open_end + 1..];
    Some(&body[..body.find(&format!("</{full}")).unwrap_or(body.len())])
}

/// Whether an element's content has words a reader would see: its XML markup and CDATA
/// wrappers left out and entities decoded gives the HTML or text the feed meant, and that,
/// turned into text the way the `rss` kind does it (`html_to_text`: no tags, no scripts), is
/// not empty. An `<img>` alone, or only a script, has no words.
fn has_words(fragment: &str) -> bool {
    let unwrapped = fragment.replace("<![CDATA[", "").replace("]]>", "");
    let mut xml_text = String::new();
    let mut depth = 0;
    for c in unwrapped.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            c if depth == 0 => xml_text.push(c),
            _ => {}
        }
    }
    !html_to_text(&html_escape::decode_html_entities(&xml_text)).is_empty()
}

/// `text` without the element whose open tag starts at byte `at`.
fn without_element(text: &str, at: usize) -> String {
    let (_, full) = element_name(&text[at + 1..]);
    let close = format!("</{full}");
    let end = match (inner(text, at), text[at..].find(&close)) {
        (Some(_), Some(c)) => text[at + c..].find('>').map(|g| at + c + g + 1),
        (None, _) => text[at..].find('>').map(|g| at + g + 1),
        (Some(_), None) => None,
    };
    format!("{}{}", &text[..at], end.map_or("", |e| &text[e..]))
}

/// This test's criterion: an `item`/`entry` with a text element of its own (not of its
/// `<source>`, the feed it was copied from) that has words in it.
fn has_items_with_text(text: &str) -> bool {
    let opens = |within: &str, names: &[&str]| -> Vec<usize> {
        within
            .match_indices('<')
            .map(|(i, _)| i)
            .filter(|&i| names.contains(&element_name(&within[i + 1..]).0))
            .collect()
    };
    opens(text, &["item", "entry"]).into_iter().filter_map(|i| inner(text, i)).any(|item| {
        let own = match opens(item, &["source"]).first() {
            Some(&at) => without_element(item, at),
            None => item.to_string(),
        };
        opens(&own, &["title", "description", "summary", "content", "encoded"])
            .into_iter()
            .filter_map(|i| inner(&own, i))
            .any(has_words)
    })
}

/// The narrower criterion, for the entries the parser itself finds: feed-rs (with its
/// defaults, on the body as served) reads the feed, and one of its entries has a title, a
/// summary or content with words in it once HTML is turned into text (an `<img>` alone, or a
/// script, has none). A feed that feed-rs cannot read at all, or reads as
/// one without entries (Atom 0.3, say), is left out here: this measures whether the source
/// keeps what the parser gives it, an entry without guid or link included.
fn parser_finds_entries_with_text(body: &[u8]) -> bool {
    let blank = |s: Option<&str>| s.is_none_or(|s| html_to_text(s).is_empty());
    // The parser panics on UTF-16 without a byte order mark (the source decodes bodies first),
    // so such bodies count as unreadable to it without asking; any other panic is caught.
    if matches!(body, [0x00 | 0xfe | 0xff, ..] | [_, 0x00, ..]) {
        return false;
    }
    match std::panic::catch_unwind(|| feed_rs::parser::parse(body)) {
        Ok(Ok(feed)) => feed.entries.iter().any(|e| {
            !blank(e.title.as_ref().map(|t| t.content.as_str()))
                || !blank(e.summary.as_ref().map(|t| t.content.as_str()))
                || !blank(e.content.as_ref().and_then(|c| c.body.as_deref()))
        }),
        _ => false,
    }
}

/// What polling one feed came to.
#[derive(Debug)]
enum Outcome {
    Items(usize),
    Error(String),
    Panic,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_feed_of_feedparsers_corpus_polls_without_a_panic_and_feeds_with_text_yield_items() {
    let Some(dir) = corpus() else { return };
    let files = feed_files(&dir);
    assert!(files.len() > 2000, "{} feeds in {}: not the whole corpus", files.len(), dir.display());
    let mut served = HashMap::new();
    let mut with_text = Vec::new();
    let mut parsed_with_text = Vec::new();
    for f in &files {
        let body = std::fs::read(dir.join(f)).unwrap();
        let text = rough_text(&body);
        let path = format!("/{}", f.display());
        if has_items_with_text(&text) {
            with_text.push(path.clone());
        }
        if parser_finds_entries_with_text(&body) {
            parsed_with_text.push(path.clone());
        }
        served.insert(path, (content_type(&text).unwrap_or_else(|| "application/xml".into()), body));
    }
    let addr = http::serve_files(served).await;
    let client = Http::new("stormwatch-test").unwrap();
    let at = PollAt { source: "corpus", backfill_since: DateTime::<Utc>::MIN_UTC, now: Utc::now() };
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    for f in &files {
        let path = format!("/{}", f.display());
        let url = format!("http://{addr}{path}").parse().unwrap();
        let kind = SourceKind::Rss(rss::Spec { url });
        let kind =
            build_kind("corpus", Duration::from_secs(3600), DEFAULT_MAX_BODY_BYTES, kind, &Environment::default());
        // A panic here is what the test is for: caught, so that every feed is still tried.
        let polled = AssertUnwindSafe(sources::page(&*kind, &client, at, &Value::Null)).catch_unwind().await;
        let outcome = match polled {
            Ok(Ok(page)) => Outcome::Items(page.mentions.len()),
            Ok(Err(e)) => Outcome::Error(e.to_string()),
            Err(_) => Outcome::Panic,
        };
        outcomes.insert(path, outcome);
    }

    let panicked: Vec<&String> = outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Panic)).map(|(p, _)| p).collect();
    let errors = outcomes.values().filter(|o| matches!(o, Outcome::Error(_))).count();
    let yielding = |p: &String| matches!(outcomes.get(p), Some(Outcome::Items(n)) if *n > 0);
    let with_items = outcomes.keys().filter(|p| yielding(p)).count();
    let share = |feeds: &[String]| {
        let n = feeds.iter().filter(|p| yielding(p)).count();
        (n, feeds.len(), 100.0 * n as f64 / feeds.len().max(1) as f64)
    };
    let (text_yielding, text_feeds, text_share) = share(&with_text);
    let (parsed_yielding, parsed_feeds, parsed_share) = share(&parsed_with_text);
    eprintln!(
        "feedparser {VERSION} corpus: {} feeds served, {} panicked, {errors} parse or fetch errors, {with_items} \
         yielded items.\n  Of {text_feeds} feeds whose XML has items with text, {text_yielding} yielded items \
         ({text_share:.1}%).\n  Of {parsed_feeds} feeds in which feed-rs finds entries with text, {parsed_yielding} \
         yielded items ({parsed_share:.1}%).",
        files.len(),
        panicked.len(),
    );
    let silent: Vec<String> =
        with_text.iter().filter(|p| !yielding(p)).map(|p| format!("{p}: {:?}", outcomes.get(p))).collect();
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes.values() {
        if let Outcome::Error(e) = o {
            *why.entry(e.chars().take(90).collect()).or_default() += 1;
        }
    }
    eprintln!(
        "errors, by message:\n{}",
        why.iter().map(|(e, n)| format!("  {n:5}  {e}")).collect::<Vec<_>>().join("\n")
    );
    eprintln!("feeds with text that yielded nothing:\n  {}", silent.join("\n  "));
    assert!(panicked.is_empty(), "these feeds panicked the rss source: {panicked:?}");
    // Every entry the parser finds with text is kept (the ids of entries without guid or link).
    assert!(
        parsed_share >= 95.0,
        "only {parsed_share:.1}% of the feeds where feed-rs finds entries with text yielded items"
    );
    // The broader figure also counts what feed-rs cannot read (dialects it does not know,
    // undeclared legacy charsets, deliberately broken feeds): a floor against regressions.
    assert!(text_share >= 90.0, "only {text_share:.1}% of the feeds with items with text yielded items");
}
