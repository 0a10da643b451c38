//! `replay -c FILE --input mentions.jsonl`: recorded mentions through the same matching,
//! scoring and detection the daemon runs, at full speed, with no network and no delivery.
//!
//! Each line is a JSON object with at least `text` and a timestamp (`published`,
//! `timestamp`, `created_at` or `time`: RFC 3339, RFC 2822, `2015-02-26 21:42:53` read as
//! UTC, or epoch seconds or milliseconds), and optionally `id`, `source`, `lang`, `author`,
//! `followers` and `url`. Mentions are replayed in published order, each as if it had
//! arrived when it was published: that is the clock every watch ticks by.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use rustc_hash::{FxHashMap, FxHasher};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::WatchSpec;
use crate::detect::{Judged, WatchDetector, WatchParams};
use crate::model::{Label, Mention, Signal, SignalKind};
use crate::sentiment::{Analysis, Scorer};
use crate::sources::matching::Matcher;
use crate::sources::{parse_time, primary_lang};

/// What reading the input found besides the mentions: every problem with its line number.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReadReport {
    pub lines: usize,
    /// Lines not replayed, and why.
    pub skipped: Vec<String>,
    /// Lines replayed with a field left out, and why.
    pub warnings: Vec<String>,
    pub out_of_order: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MentionsError {
    #[error("{0}: no mentions (expected one JSON object per line with \"text\" and \"published\")")]
    Empty(String),
    #[error("{path}: no line was usable; first problems:\n{first}")]
    NothingUsable { path: String, first: String },
}

/// The input, checked and put in published order. It keeps the file's bytes and, per usable
/// line, where it is and when it was published (24 bytes a mention): mentions are built one
/// at a time as they are replayed, so a replay of millions of mentions holds the file and
/// not millions of parsed copies of it.
pub struct Input<'a> {
    bytes: &'a [u8],
    // (Debug below: the bytes would flood a failing test's output.)
    order: Vec<Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    published: DateTime<Utc>,
    start: usize,
    len: u32,
    line: u32,
}

impl std::fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Input({} mentions)", self.order.len())
    }
}

impl Input<'_> {
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The mentions in published order (equal times in file order).
    pub fn mentions(&self) -> impl Iterator<Item = Mention> + '_ {
        self.order.iter().filter_map(|e| {
            let line = std::str::from_utf8(&self.bytes[e.start..e.start + e.len as usize]).ok()?;
            // Checked by `read`: this parse cannot fail.
            parse_line(line).ok().map(|p| p.into_mention(e.line as usize))
        })
    }
}

/// Reads JSON lines: checks every line, names each problem with its line number, and orders
/// the usable ones by published time. A repeated `id` from the same source is replayed once,
/// as the daemon dedups.
pub fn read<'a>(path: &str, bytes: &'a [u8]) -> Result<(Input<'a>, ReadReport), MentionsError> {
    let mut report = ReadReport::default();
    let mut order: Vec<Entry> = Vec::new();
    // (source, id) by hash, to the entry that had it first; a hash match is confirmed
    // against that entry's own line, so a collision never drops a mention.
    let mut first: FxHashMap<u64, usize> = FxHashMap::default();
    let mut latest: Option<DateTime<Utc>> = None;
    let mut start = 0;
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let line_start = start;
        start += raw.len() + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        report.lines += 1;
        let line = match std::str::from_utf8(raw) {
            Ok(line) => line,
            Err(e) => {
                report.skipped.push(format!("line {n}: not valid UTF-8 (at byte {})", e.valid_up_to()));
                continue;
            }
        };
        let parsed = match parse_line(line) {
            Ok(p) => p,
            Err(why) => {
                report.skipped.push(format!("line {n}: {why}"));
                continue;
            }
        };
        if let Some(w) = &parsed.warning {
            report.warnings.push(format!("line {n}: {w}"));
        }
        let key = identity(&parsed, n);
        let mut hasher = FxHasher::default();
        key.hash(&mut hasher);
        let hash = hasher.finish();
        if let Some(&earlier) = first.get(&hash) {
            let e: Entry = order[earlier];
            let same = std::str::from_utf8(&bytes[e.start..e.start + e.len as usize])
                .ok()
                .and_then(|l| parse_line(l).ok())
                .is_some_and(|p| identity(&p, e.line as usize) == key);
            if same {
                report
                    .skipped
                    .push(format!("line {n}: duplicate id {:?} of source {:?} (line {} kept)", key.1, key.0, e.line));
                continue;
            }
        } else {
            first.insert(hash, order.len());
        }
        if latest.is_some_and(|l| parsed.published < l) {
            report.out_of_order += 1;
        }
        latest = latest.max(Some(parsed.published));
        order.push(Entry { published: parsed.published, start: line_start, len: raw.len() as u32, line: n as u32 });
    }
    if order.is_empty() {
        return if report.skipped.is_empty() {
            Err(MentionsError::Empty(path.to_string()))
        } else {
            Err(MentionsError::NothingUsable {
                path: path.to_string(),
                first: report.skipped.iter().take(5).cloned().collect::<Vec<_>>().join("\n"),
            })
        };
    }
    order.sort_by_key(|e| e.published);
    Ok((Input { bytes, order }, report))
}

/// The keys a line may have; any other key is ignored.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    #[serde(borrow)]
    published: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    created_at: Option<&'a RawValue>,
    #[serde(borrow)]
    time: Option<&'a RawValue>,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    source: Option<&'a RawValue>,
    #[serde(borrow)]
    lang: Option<&'a RawValue>,
    #[serde(borrow)]
    author: Option<&'a RawValue>,
    #[serde(borrow)]
    followers: Option<&'a RawValue>,
    #[serde(borrow)]
    url: Option<&'a RawValue>,
}

/// A field's value: a string (borrowed unless it has escapes), or its JSON text.
enum Field<'a> {
    Str(Cow<'a, str>),
    Other(&'a str),
}

fn field(raw: Option<&RawValue>) -> Option<Field<'_>> {
    let text = raw?.get();
    if text.starts_with('"') {
        serde_json::from_str::<Cow<'_, str>>(text).ok().map(Field::Str)
    } else if text == "null" {
        None
    } else {
        Some(Field::Other(text))
    }
}

/// A string field, or a number written as one (ids often are); blank is absent.
fn scalar(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    match field(raw)? {
        Field::Str(s) if !s.trim().is_empty() => Some(s),
        Field::Other(t) if t.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => Some(Cow::Borrowed(t)),
        _ => None,
    }
}

/// One checked line, still borrowing from the input.
struct Parsed<'a> {
    text: Cow<'a, str>,
    published: DateTime<Utc>,
    id: Option<Cow<'a, str>>,
    source: Option<Cow<'a, str>>,
    lang: Option<Cow<'a, str>>,
    author: Option<Cow<'a, str>>,
    reach: Option<u64>,
    url: Option<Cow<'a, str>>,
    /// A field left out, and why.
    warning: Option<String>,
}

const DEFAULT_SOURCE: &str = "replay";

/// (source, id) as the daemon would dedup it; a line without an id is its own.
fn identity(p: &Parsed<'_>, line: usize) -> (String, String) {
    (
        p.source.as_deref().unwrap_or(DEFAULT_SOURCE).trim().to_string(),
        p.id.as_deref().map(|s| s.trim().to_string()).unwrap_or_else(|| format!("line-{line}")),
    )
}

impl Parsed<'_> {
    fn into_mention(self, line: usize) -> Mention {
        let (source, id) = identity(&self, line);
        let owned = |s: Option<Cow<'_, str>>| s.map(|s| s.trim().to_string());
        Mention {
            source,
            id,
            text: self.text.into_owned(),
            author: owned(self.author),
            reach: self.reach,
            lang: self.lang.as_deref().and_then(primary_lang),
            published: self.published,
            url: owned(self.url),
        }
    }
}

fn parse_line(line: &str) -> Result<Parsed<'_>, String> {
    if !line.trim_start().starts_with('{') {
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(line) {
            Ok(_) => "expected a JSON object".into(),
            Err(e) => format!("not JSON: {e}"),
        });
    }
    let l: Line<'_> = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let text = match field(l.text) {
        Some(Field::Str(t)) if !t.trim().is_empty() => t,
        Some(Field::Str(_)) => return Err("\"text\" is empty".into()),
        Some(Field::Other(other)) => return Err(format!("\"text\" must be a string, got {other}")),
        None => return Err("no \"text\"".into()),
    };
    let (key, stamp) =
        [("published", l.published), ("timestamp", l.timestamp), ("created_at", l.created_at), ("time", l.time)]
            .into_iter()
            .find_map(|(k, v)| v.map(|v| (k, v)))
            .ok_or("no timestamp (give \"published\": RFC 3339, 2015-02-26 21:42:53 or epoch seconds)")?;
    let published = match field(Some(stamp)) {
        Some(Field::Str(s)) => parse_time(&s),
        Some(Field::Other(t)) => t.parse::<i64>().ok().and_then(|x| parse_time(&x.to_string())),
        None => None,
    }
    .ok_or_else(|| {
        format!("{key:?}: {} is not a timestamp (use RFC 3339, 2015-02-26 21:42:53 or epoch seconds)", stamp.get())
    })?;
    let mut warning = None;
    let reach = match field(l.followers) {
        None => None,
        Some(f) => {
            let parsed = match &f {
                Field::Str(s) => s.trim().parse::<u64>().ok(),
                Field::Other(t) => t.parse::<u64>().ok(),
            };
            if parsed.is_none() {
                let shown = l.followers.map(RawValue::get).unwrap_or_default();
                warning = Some(format!("\"followers\": {shown} is not a count; replayed without reach"));
            }
            parsed
        }
    };
    Ok(Parsed {
        text,
        published,
        id: scalar(l.id),
        source: scalar(l.source),
        lang: scalar(l.lang),
        author: scalar(l.author),
        reach,
        url: scalar(l.url),
        warning,
    })
}

/// One watch's replay, for the summary and the chart.
#[derive(Debug, Clone, Default)]
pub struct WatchReplay {
    pub name: String,
    pub mentions: u64,
    pub negative: u64,
    pub positive: u64,
    /// Matched but in a language the watch does not score.
    pub other_language: u64,
    /// Published too long before newer mentions to be counted (older than the ring).
    pub late: u64,
    /// Signals that started, by kind.
    pub started: Vec<(SignalKind, u32)>,
    pub trace: Vec<Judged>,
    pub bucket_secs: u64,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub signals: Vec<Signal>,
    pub watches: Vec<WatchReplay>,
    /// Mentions no watch matched.
    pub unmatched: u64,
}

/// Replays `mentions` (in published order) through `watches`, each with its
/// detection parameters adjusted by `tune` (the `--param` overrides). `chart` keeps a
/// per-bucket trace for drawing.
pub fn replay(
    watches: &[WatchSpec],
    tune: impl Fn(&WatchParams) -> Result<WatchParams, super::ParamError>,
    scorer: &Scorer,
    mentions: impl IntoIterator<Item = Mention>,
    chart: bool,
    mut emit: impl FnMut(&Signal),
) -> Result<Outcome, super::ParamError> {
    let matcher = Matcher::new(watches.iter().map(WatchSpec::terms));
    let mut detectors = Vec::with_capacity(watches.len());
    for w in watches {
        let mut d = WatchDetector::new(&w.name, tune(&w.detection)?);
        if chart {
            d.record_trace();
        }
        detectors.push(d);
    }
    let mut out = Outcome {
        watches: watches.iter().map(|w| WatchReplay { name: w.name.clone(), ..Default::default() }).collect(),
        ..Default::default()
    };
    // The clock ticks every watch at its finest bucket; a tick that closes no bucket is cheap.
    let tick_secs = detectors.iter().map(|d| d.params().bucket.as_secs().max(1) as i64).min().unwrap_or(60);
    let mut last_tick: Option<i64> = None;
    let mut signal = |s: Signal, out: &mut Outcome| {
        emit(&s);
        out.signals.push(s);
    };
    let mut last: Option<DateTime<Utc>> = None;
    // One scratch space for all mentions: its memos of stems and spellings carry over.
    let mut analysis = Analysis::default();
    for m in mentions {
        let m = &m;
        let now = m.published;
        last = Some(now);
        let tick = now.timestamp().div_euclid(tick_secs);
        if last_tick.is_some_and(|t| tick > t) {
            for d in &mut detectors {
                for s in d.tick(now) {
                    signal(s, &mut out);
                }
            }
        }
        last_tick = last_tick.max(Some(tick));
        let matched = matcher.watch_indices(&m.source, &m.text);
        if matched.is_empty() {
            out.unmatched += 1;
            continue;
        }
        scorer.analyze(&m.text, m.scored_lang(), &mut analysis);
        let sentiment = analysis.to_sentiment();
        for i in matched {
            let summary = &mut out.watches[i];
            if sentiment.lang.is_some_and(|l| !watches[i].languages.contains(&l)) {
                summary.other_language += 1;
                continue;
            }
            summary.mentions += 1;
            summary.negative += u64::from(sentiment.label == Label::Neg);
            summary.positive += u64::from(sentiment.label == Label::Pos);
            if let Some(s) = detectors[i].observe(m, &sentiment, now) {
                signal(s, &mut out);
            }
        }
    }
    // Close the last bucket, so the newest mentions are judged too.
    if let Some(last) = last {
        let end = last + chrono::Duration::seconds(tick_secs);
        for d in &mut detectors {
            for s in d.tick(end) {
                signal(s, &mut out);
            }
        }
    }
    for (summary, d) in out.watches.iter_mut().zip(&mut detectors) {
        summary.late = d.late();
        summary.trace = d.take_trace();
        summary.bucket_secs = d.params().bucket.as_secs();
    }
    for s in &out.signals {
        if s.phase != crate::model::Phase::Started {
            continue;
        }
        let Some(w) = out.watches.iter_mut().find(|w| w.name == s.watch) else { continue };
        match w.started.iter_mut().find(|(k, _)| *k == s.kind) {
            Some((_, n)) => *n += 1,
            None => w.started.push((s.kind, 1)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_line_is_named_and_good_ones_are_sorted() {
        let input = [
            r#"{"text":"Kroon Bank is down","published":"2024-06-01T10:05:00Z","id":"a"}"#,
            r#"{"text":"kroon bank again","published":"2024-06-01 10:01:00","id":"b","followers":"many"}"#,
            r#"not json"#,
            r#"{"text":"no time"}"#,
            r#"{"published":"2024-06-01T10:00:00Z"}"#,
            "",
            r#"{"text":"Kroon Bank dup","published":"2024-06-01T10:06:00Z","id":"a"}"#,
            r#"{"text":"epoch","published":1717236000,"lang":"nl-BE","source":"m"}"#,
            r#"{"text":"bad time","published":"yesterday"}"#,
            r#"[1,2]"#,
        ]
        .join("\n");
        let mut bytes = input.into_bytes();
        bytes.extend_from_slice(b"\n{\"text\":\"\xff\xfe\",\"published\":1}\n");
        let (input, r) = read("m.jsonl", &bytes).unwrap();
        let mentions: Vec<Mention> = input.mentions().collect();
        let ids: Vec<&str> = mentions.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["line-8", "b", "a"], "sorted by published time");
        assert_eq!(mentions[0].lang.as_deref(), Some("nl"));
        assert_eq!(mentions[0].source, "m");
        assert_eq!(r.out_of_order, 2, "lines 2 and 8 are older than line 1");
        assert_eq!(r.lines, 10);
        let expected = [
            "line 3: not JSON",
            "line 4: no timestamp",
            "line 5: no \"text\"",
            "line 7: duplicate id \"a\" of source \"replay\" (line 1 kept)",
            "line 9: \"published\": \"yesterday\" is not a timestamp",
            "line 10: expected a JSON object",
            "line 11: not valid UTF-8",
        ];
        assert_eq!(r.skipped.len(), expected.len(), "{:?}", r.skipped);
        for (got, want) in r.skipped.iter().zip(expected) {
            assert!(got.starts_with(want), "{got:?} should start with {want:?}");
        }
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].starts_with("line 2: \"followers\""));
        assert_eq!(mentions[1].reach, None);
    }

    #[test]
    fn empty_and_unusable_inputs_are_clear_errors() {
        assert!(read("e.jsonl", b"\n\n").unwrap_err().to_string().contains("no mentions"));
        let err = read("e.jsonl", b"{}\n").unwrap_err().to_string();
        assert!(err.contains("no line was usable") && err.contains("line 1: no \"text\""), "{err}");
    }
}
