//! `stormwatch score --batch`: JSON lines in, JSON lines out, in input order.
//!
//! Input lines are `{"id": …, "text": "…", "lang": "nl"}` (`id` and `lang` optional; `id` is
//! echoed back exactly as given). A line that cannot be scored — not JSON, no `text`, invalid
//! UTF-8, an unsupported `lang`, longer than `MAX_LINE_BYTES` — gets one message on the error
//! stream naming its line number, and processing goes on. Blank lines are not records and are
//! skipped silently.

use std::borrow::Cow;
use std::io::{self, BufRead, Write};

use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::model::{CrisisCategory, Label, Lang};

use super::score::{Analysis, Scorer};

/// Lines longer than this are refused (and not buffered past the limit): a post is at most
/// a few kB; 4 MiB leaves room for a pasted document without letting one line eat memory.
pub(crate) const MAX_LINE_BYTES: usize = 4 << 20;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchSummary {
    pub scored: u64,
    pub failed: u64,
}

#[derive(Deserialize)]
struct InLine<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    text: Cow<'a, str>,
    #[serde(borrow, default)]
    lang: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct OutLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a RawValue>,
    lang: Option<Lang>,
    label: Label,
    compound: f32,
    terms: Terms<'a>,
    categories: Categories<'a>,
}

struct Terms<'a>(&'a Analysis);

impl Serialize for Terms<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Term<'t> {
            term: &'t str,
            score: f32,
        }
        let mut seq = s.serialize_seq(None)?;
        for h in self.0.hits() {
            seq.serialize_element(&Term { term: h.term, score: round4(h.score) })?;
        }
        seq.end()
    }
}

struct Categories<'a>(&'a Analysis);

impl Serialize for Categories<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let cats: Vec<CrisisCategory> = self.0.categories().collect();
        cats.serialize(s)
    }
}

fn round4(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}

/// Scores every line of `input` to `output`; problems go to `errors`, one line each.
pub fn score_jsonl(
    scorer: &Scorer,
    mut input: impl BufRead,
    output: impl Write,
    mut errors: impl Write,
) -> io::Result<BatchSummary> {
    let mut out = io::BufWriter::with_capacity(1 << 16, output);
    let mut summary = BatchSummary::default();
    let mut analysis = Analysis::default();
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let too_long = match read_line_capped(&mut input, &mut buf, MAX_LINE_BYTES)? {
            LineRead::Eof => break,
            LineRead::Line => false,
            LineRead::TooLong => true,
        };
        line_no += 1;
        if too_long {
            summary.failed += 1;
            writeln!(errors, "line {line_no}: longer than {} MiB; skipped", MAX_LINE_BYTES >> 20)?;
            continue;
        }
        let raw = trim_newline(&buf);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match score_line(scorer, raw, &mut analysis, &mut out) {
            Ok(()) => summary.scored += 1,
            Err(problem) => {
                summary.failed += 1;
                writeln!(errors, "line {line_no}: {problem}; skipped")?;
            }
        }
    }
    out.flush()?;
    Ok(summary)
}

/// Why one line was not scored (the rest go on).
#[derive(Debug, thiserror::Error)]
enum LineError {
    #[error("invalid UTF-8 at byte {0} (input must be UTF-8 JSON lines)")]
    Utf8(usize),
    #[error("{}", describe_json_error(.0))]
    Json(serde_json::Error),
    #[error("expected one JSON object per line, {{\"text\": \"...\"}} with optional \"id\" and \"lang\"; got {0}")]
    NotObject(&'static str),
    #[error(transparent)]
    Lang(#[from] crate::model::UnsupportedLang),
    #[error("could not write result: {0}")]
    Write(String),
}

fn score_line(scorer: &Scorer, raw: &[u8], analysis: &mut Analysis, out: &mut impl Write) -> Result<(), LineError> {
    let text = std::str::from_utf8(raw).map_err(|e| LineError::Utf8(e.valid_up_to()))?;
    // serde would also read a struct from an array of its fields in order: not a documented
    // form, and its errors would name our internal type.
    match text.trim_start().as_bytes().first() {
        Some(b'{') => {}
        Some(b'[') => return Err(LineError::NotObject("a JSON array")),
        _ => return Err(LineError::NotObject("text that is not a JSON object")),
    }
    let line: InLine = serde_json::from_str(text).map_err(LineError::Json)?;
    let lang = match line.lang.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => None,
        Some(tag) => Some(tag.parse::<Lang>()?),
    };
    scorer.analyze(&line.text, lang, analysis);
    let record = OutLine {
        id: line.id,
        lang: analysis.lang(),
        label: analysis.label(),
        compound: round4(analysis.compound()),
        terms: Terms(analysis),
        categories: Categories(analysis),
    };
    serde_json::to_writer(&mut *out, &record).map_err(|e| LineError::Write(e.to_string()))?;
    out.write_all(b"\n").map_err(|e| LineError::Write(e.to_string()))
}

fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => format!("not a JSON object ({e})"),
        Category::Data => {
            let why = e.to_string().replace("struct InLine", "a mention object");
            format!("expected {{\"text\": \"...\"}} with optional \"id\" and \"lang\" ({why})")
        }
        Category::Io => format!("read error ({e})"),
    }
}

fn trim_newline(buf: &[u8]) -> &[u8] {
    let buf = buf.strip_suffix(b"\n").unwrap_or(buf);
    buf.strip_suffix(b"\r").unwrap_or(buf)
}

enum LineRead {
    Eof,
    Line,
    TooLong,
}

/// Reads one line into `buf`, keeping at most `cap` bytes; the rest of a longer line is
/// read and thrown away, so one huge line costs time but not memory.
fn read_line_capped(input: &mut impl BufRead, buf: &mut Vec<u8>, cap: usize) -> io::Result<LineRead> {
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(match (any, too_long) {
                (false, _) => LineRead::Eof,
                (true, true) => LineRead::TooLong,
                (true, false) => LineRead::Line,
            });
        }
        any = true;
        let (take, done) = match memchr(chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > cap + 2 {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        input.consume(take);
        if done {
            return Ok(if too_long { LineRead::TooLong } else { LineRead::Line });
        }
    }
}

fn memchr(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Vec<serde_json::Value>, String, BatchSummary) {
        let scorer = Scorer::builtin().unwrap();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let summary = score_jsonl(&scorer, input, &mut out, &mut err).unwrap();
        let lines = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (lines, String::from_utf8(err).unwrap(), summary)
    }

    #[test]
    fn scores_lines_in_order_and_echoes_ids() {
        let input = b"{\"id\":\"a\",\"text\":\"I love it\",\"lang\":\"en\"}\n{\"id\":7,\"text\":\"Awaria, nic nie dzia\\u0142a\"}\n";
        let (lines, err, summary) = run(input);
        assert_eq!(err, "");
        assert_eq!(summary, BatchSummary { scored: 2, failed: 0 });
        assert_eq!(lines[0]["id"], "a");
        assert_eq!(lines[0]["label"], "pos");
        assert_eq!(lines[1]["id"], 7);
        assert_eq!(lines[1]["lang"], "pl");
        assert_eq!(lines[1]["label"], "neg");
        assert!(lines[1]["categories"].as_array().unwrap().iter().any(|c| c == "outage"));
        assert!(lines[1]["terms"].as_array().unwrap().iter().any(|t| t["term"] == "awaria"));
    }

    #[test]
    fn bad_lines_are_reported_with_their_number_and_the_rest_is_scored() {
        let mut input = Vec::new();
        input.extend_from_slice(b"not json\n");
        input.extend_from_slice(b"{\"id\":1}\n");
        input.extend_from_slice(b"{\"text\":\"caf\xc3\x28\"}\n");
        input.extend_from_slice(b"\n");
        input.extend_from_slice(b"{\"text\":\"hallo\",\"lang\":\"de\"}\n");
        input.extend_from_slice(b"{\"text\":\"still here :)\"}");
        let (lines, err, summary) = run(&input);
        assert_eq!(summary, BatchSummary { scored: 1, failed: 4 });
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["label"], "pos");
        let msgs: Vec<&str> = err.lines().collect();
        assert!(msgs[0].starts_with("line 1: expected one JSON object per line"), "{err}");
        assert!(msgs[1].starts_with("line 2: expected {\"text\"") && msgs[1].contains("missing field `text`"), "{err}");
        assert!(msgs[2].starts_with("line 3: invalid UTF-8"), "{err}");
        assert!(
            msgs[3].starts_with("line 5: unsupported language \"de\"") && msgs[3].contains("en, nl, sv, pl"),
            "{err}"
        );
    }

    #[test]
    fn an_overlong_line_is_skipped_without_buffering_it() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\n{\"text\":\"ok\"}\n");
        let (lines, err, summary) = run(&input);
        assert_eq!(summary, BatchSummary { scored: 1, failed: 1 });
        assert_eq!(lines.len(), 1);
        assert!(err.starts_with("line 1: longer than 4 MiB"), "{err}");
    }
}
