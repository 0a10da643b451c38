//! `replay -c FILE --input mentions.jsonl`: recorded mentions through the same matching,
//! scoring and detection the daemon runs, at full speed, with no network and no delivery.
//!
//! Each line is a JSON object with at least `text` and a timestamp (`published`,
//! `timestamp`, `created_at` or `time`: RFC 3339, RFC 2822, `2015-02-26 21:42:53` read as
//! UTC, or epoch seconds or milliseconds), and optionally `id`, `source`, `lang`, `author`,
//! `followers` and `url`. Mentions are replayed in published order, each as if it had
//! arrived when it was published: that is the clock every watch ticks by.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::WatchSpec;
use crate::detect::{Judged, WatchDetector, WatchParams};
use crate::model::{Label, Mention, Signal, SignalKind};
use crate::sentiment::Scorer;
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

const TIME_KEYS: [&str; 4] = ["published", "timestamp", "created_at", "time"];

/// Reads JSON lines into mentions sorted by published time (stable: equal times keep file
/// order). A repeated `id` from the same source is replayed once, as the daemon dedups.
pub fn read(path: &str, bytes: &[u8]) -> Result<(Vec<Mention>, ReadReport), MentionsError> {
    let mut report = ReadReport::default();
    let mut mentions: Vec<Mention> = Vec::new();
    let mut first_line_of: HashMap<(String, String), usize> = HashMap::new();
    let mut latest: Option<DateTime<Utc>> = None;
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
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
        let mention = match parse_line(line, n, &mut report.warnings) {
            Ok(m) => m,
            Err(why) => {
                report.skipped.push(format!("line {n}: {why}"));
                continue;
            }
        };
        match first_line_of.get(&(mention.source.clone(), mention.id.clone())) {
            Some(first) => {
                report.skipped.push(format!(
                    "line {n}: duplicate id {:?} of source {:?} (line {first} kept)",
                    mention.id, mention.source
                ));
                continue;
            }
            None => {
                first_line_of.insert((mention.source.clone(), mention.id.clone()), n);
            }
        }
        if latest.is_some_and(|l| mention.published < l) {
            report.out_of_order += 1;
        }
        latest = latest.max(Some(mention.published));
        mentions.push(mention);
    }
    if mentions.is_empty() {
        return if report.skipped.is_empty() {
            Err(MentionsError::Empty(path.to_string()))
        } else {
            Err(MentionsError::NothingUsable {
                path: path.to_string(),
                first: report.skipped.iter().take(5).cloned().collect::<Vec<_>>().join("\n"),
            })
        };
    }
    mentions.sort_by_key(|m| m.published);
    Ok((mentions, report))
}

fn parse_line(line: &str, n: usize, warnings: &mut Vec<String>) -> Result<Mention, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(o) = value else {
        return Err("expected a JSON object".into());
    };
    let text = match o.get("text") {
        Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
        Some(Value::String(_)) => return Err("\"text\" is empty".into()),
        Some(other) => return Err(format!("\"text\" must be a string, got {other}")),
        None => return Err("no \"text\"".into()),
    };
    let (key, stamp) = TIME_KEYS
        .iter()
        .find_map(|k| o.get(*k).map(|v| (*k, v)))
        .ok_or("no timestamp (give \"published\": RFC 3339, 2015-02-26 21:42:53 or epoch seconds)")?;
    let published = match stamp {
        Value::String(s) => parse_time(s),
        Value::Number(x) => x.as_i64().and_then(|x| parse_time(&x.to_string())),
        _ => None,
    }
    .ok_or_else(|| {
        format!("{key:?}: {stamp} is not a timestamp (use RFC 3339, 2015-02-26 21:42:53 or epoch seconds)")
    })?;
    let string = |k: &str| match o.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(x)) => Some(x.to_string()),
        _ => None,
    };
    let reach = match o.get("followers") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())) {
            Some(r) => Some(r),
            None => {
                warnings.push(format!("line {n}: \"followers\": {v} is not a count; replayed without reach"));
                None
            }
        },
    };
    Ok(Mention {
        source: string("source").unwrap_or_else(|| "replay".into()),
        id: string("id").unwrap_or_else(|| format!("line-{n}")),
        text,
        author: string("author"),
        reach,
        lang: string("lang").and_then(|l| primary_lang(&l)),
        published,
        url: string("url"),
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

/// Replays `mentions` (sorted by published time) through `watches`, each with its
/// detection parameters adjusted by `tune` (the `--param` overrides). `chart` keeps a
/// per-bucket trace for drawing.
pub fn replay(
    watches: &[WatchSpec],
    tune: impl Fn(&WatchParams) -> Result<WatchParams, String>,
    scorer: &Scorer,
    mentions: &[Mention],
    chart: bool,
    mut emit: impl FnMut(&Signal),
) -> Result<Outcome, String> {
    let matcher = Matcher::new(watches);
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
    for m in mentions {
        let now = m.published;
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
        let sentiment = scorer.score(&m.text, m.scored_lang());
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
    if let Some(last) = mentions.last() {
        let end = last.published + chrono::Duration::seconds(tick_secs);
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
        let (mentions, r) = read("m.jsonl", &bytes).unwrap();
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
