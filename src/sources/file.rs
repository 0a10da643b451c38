//! The `file` kind: mentions from a JSON-lines file on disk, or from standard input
//! (`path = "-"`). It is how exports from other tools are fed in, and how history is replayed.
//! No HTTP is involved.
//!
//! Each line is one object: `{"id", "text", "author", "followers", "lang", "created", "url"}`.
//! Only `text` is required; it is plain text, kept as written (`text::plain_text`: `<` and `&`
//! are characters the writer typed, not markup). Without an `id`, the id is a hash of the
//! line's bytes (`fnv1a-…`): it stays the same when the file is appended to, truncated or
//! rewritten, so a line read twice is recognised; two identical lines are the same mention.
//! `created` is RFC 3339, RFC 2822 or epoch seconds/milliseconds (a string or a number) and
//! becomes `published` even when it is old, which is what replay needs (a missing or future
//! time falls back to the fetch time). `followers` may be a number or a numeric string.
//! A line that is not JSON, not valid UTF-8, not an object, has no text or repeats an id of the
//! same page is skipped with its line number and why; blank lines are ignored.
//!
//! Files are read from the cursor: the byte offset just past the last complete line read.
//! A page reads at most `MAX_LINES` lines (and `MAX_PAGE_BYTES`) and says `more` when the file
//! holds more; a last line without its newline is left for the next poll (the writer may be
//! in the middle of it). If the file shrank below the offset (truncated), another file is at
//! the path (rotated: its device and inode changed), or its first bytes changed (rewritten in
//! place), it is read again from the start, with a note in `skipped`. A line longer than
//! `MAX_PAGE_BYTES` is skipped. On the first poll (until `more` is false) lines whose
//! `created` is before `backfill_since` are skipped, with why; to replay old history, give
//! the source a `backfill` that reaches back far enough.
//!
//! Standard input is read by one thread per process as lines arrive; a page takes what is
//! there (waiting briefly for the first line) up to `MAX_LINES`, and after end of input pages
//! are empty. A final line without a newline counts once input has ended. The cursor means
//! nothing for standard input (it cannot be rewound): it only counts lines, and a restart
//! reads whatever the new standard input holds.

use std::io::{BufRead, Read, Seek, SeekFrom};
use std::ops::Not;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, Mutex};

use super::primary_lang;
use super::registry::Settings;
use super::text::plain_text;
use super::{cursor, fields, sane_time, Http, Kind, Page, PageRequest, Skipped, SourceError};
use crate::model::Mention;
use crate::secret::Environment;
use crate::settings::Table;

/// A page holds at most this many lines.
pub(crate) const MAX_LINES: usize = 10_000;
/// A page reads at most this many bytes of a file; a longer line is skipped.
pub(crate) const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;
/// How much of the start of a file is hashed to notice that it was rewritten.
const HEAD_BYTES: u64 = 4096;
/// How long a page waits for the first line on standard input, and then for each next one.
const STDIN_FIRST_WAIT: Duration = Duration::from_millis(250);
const STDIN_NEXT_WAIT: Duration = Duration::from_millis(20);

/// `kind = "file"`: `path`, a JSON-lines file (relative to the config's folder), or `-` for
/// standard input.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub path: PathBuf,
}

impl Settings for Spec {
    const KEYS: &'static [&'static str] = &["path"];

    fn read(t: &mut Table<'_>) -> Option<Spec> {
        match t.string("path") {
            Some(p) if p == "-" => Some(Spec { path: PathBuf::from("-") }),
            Some(p) if !p.is_empty() => t.path_value("path").map(|path| Spec { path }),
            Some(_) => {
                t.problem("path", "must not be empty: a JSON-lines file, or - for standard input");
                None
            }
            None if t.has("path") => None,
            None => {
                t.problem("path", "required for kind file");
                None
            }
        }
    }

    fn build(&self, _env: &Environment) -> Result<Box<dyn Kind>, SourceError> {
        Ok(Box::new(File { path: self.path.clone() }))
    }

    fn host(&self) -> String {
        // Files share one slot: they are read, not fetched from a host.
        "file".to_string()
    }
}

/// A source read from a JSON-lines file or standard input.
pub(crate) struct File {
    path: PathBuf,
}

impl File {
    fn is_stdin(&self) -> bool {
        self.path.as_os_str() == "-"
    }
}

/// What `parse_file` made of a run of lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileLines {
    pub mentions: Vec<Mention>,
    /// Lines left out, as `line N` and why.
    pub skipped: Vec<Skipped>,
    /// Bytes of the buffer consumed: whole lines, up to and including their newline.
    pub consumed: usize,
    /// Lines consumed (blank ones too), for numbering the lines after them.
    pub lines: u64,
}

/// Parses the complete JSON lines at the start of `buf`, at most `MAX_LINES` of them. A last
/// line without its newline is not consumed. `lines_before` numbers the lines (the first in
/// `buf` is `lines_before + 1`). Lines whose `created` is before `backfill_since`, when
/// given, are skipped. `source` and `now` go into the mentions.
pub fn parse_file(
    buf: &[u8],
    lines_before: u64,
    backfill_since: Option<DateTime<Utc>>,
    source: &str,
    now: DateTime<Utc>,
) -> FileLines {
    let mut out = FileLines::default();
    let mut first_line_of: Vec<(String, u64)> = Vec::new();
    while out.lines < MAX_LINES as u64 {
        let rest = &buf[out.consumed..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else { break };
        out.consumed += end + 1;
        out.lines += 1;
        let n = lines_before + out.lines;
        let skip = |why: String| Skipped { item: format!("line {n}"), why };
        match read_line(&rest[..end], source, now) {
            Ok(None) => {}
            Ok(Some((mention, created))) => {
                if let Some(kept) = first_line_of.iter().find(|(id, _)| *id == mention.id).map(|(_, l)| *l) {
                    out.skipped.push(skip(format!("duplicate id {:?} (line {kept} was kept)", mention.id)));
                } else if let Some((t, since)) = created.zip(backfill_since).filter(|(t, since)| t < since) {
                    out.skipped.push(skip(format!(
                        "created {} is before the backfill start {} (first poll)",
                        t.to_rfc3339(),
                        since.to_rfc3339()
                    )));
                } else {
                    first_line_of.push((mention.id.clone(), n));
                    out.mentions.push(mention);
                }
            }
            Err(why) => out.skipped.push(skip(why)),
        }
    }
    out
}

/// A line's mention, and its `created` as written (`None` when missing or unreadable).
pub(crate) type LineMention = (Mention, Option<DateTime<Utc>>);

/// One line as a mention; `None` for a blank line; why not otherwise.
fn read_line(raw: &[u8], source: &str, now: DateTime<Utc>) -> Result<Option<LineMention>, String> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let raw = raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(raw);
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let line = std::str::from_utf8(raw).map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("not a JSON object".into());
    };
    mention_from_object(&obj, raw, source, now).map(Some)
}

/// One mention object, `{"id", "text", "author", "followers", "lang", "created", "url"}`, as
/// the file and push kinds take it; `raw` (its bytes as sent) names it when it has no `id`.
pub(crate) fn mention_from_object(
    obj: &serde_json::Map<String, Value>,
    raw: &[u8],
    source: &str,
    now: DateTime<Utc>,
) -> Result<LineMention, String> {
    let text = match obj.get("text") {
        Some(Value::String(s)) => plain_text(s),
        None | Some(Value::Null) => return Err("no \"text\"".into()),
        Some(_) => return Err("\"text\" is not a string".into()),
    };
    if text.is_empty() {
        return Err("empty \"text\"".into());
    }
    let id = match obj.get("id") {
        None | Some(Value::Null) => format!("fnv1a-{:016x}", fnv1a(raw)),
        Some(v) => fields::scalar_text(v).ok_or("\"id\" is not a string or number")?,
    };
    let created = obj.get("created").and_then(fields::time);
    let followers = obj.get("followers").and_then(fields::count);
    let mention = Mention {
        source: source.to_string(),
        id,
        text,
        author: obj.get("author").and_then(fields::scalar_text),
        reach: followers,
        lang: obj.get("lang").and_then(Value::as_str).and_then(primary_lang),
        published: sane_time(created, now).0,
        url: obj.get("url").and_then(fields::link),
    };
    Ok((mention, created))
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms, unlike `DefaultHasher`, since
/// its values are stored (line ids, the head of the file in the cursor).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The stored cursor of a `file` source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Position {
    /// Byte offset just past the last complete line read: the next page starts here. For
    /// standard input: the bytes read so far (only informative).
    offset: u64,
    /// Lines before `offset`, so that skipped lines are reported by their line number.
    line: u64,
    /// FNV-1a of the file's first min(`offset`, 4096) bytes: when they change, the file was
    /// rewritten and is read again from the start.
    #[serde(default)]
    head: u64,
    /// Device and inode of the file read (Unix only): another file at the path (rotated,
    /// replaced) is read from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inode: Option<(u64, u64)>,
    /// The first poll is still paging through: lines before `backfill_since` are skipped.
    #[serde(default, skip_serializing_if = "Not::not")]
    backfill: bool,
}

impl Position {
    /// The stored position (a first poll starts at 0 in backfill), and a note when the stored
    /// cursor could not be read (then it starts over as on a first poll).
    fn read(stored: &Value) -> (Position, Option<Skipped>) {
        let (pos, note) = cursor::parse::<Position>(stored);
        (pos.unwrap_or(Position { backfill: true, ..Position::default() }), note)
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Reads one page of the file at `path` from `pos`, at most `max_bytes` of it. Blocking.
fn read_page(
    path: &Path,
    mut pos: Position,
    max_bytes: usize,
    req: &OwnedRequest,
) -> Result<(FileLines, Position, bool), SourceError> {
    let io = |e: std::io::Error| SourceError::Io(format!("cannot read {}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(SourceError::Io(format!(
            "{} is not a regular file (for a pipe or stream, use path = \"-\" and standard input)",
            path.display()
        )));
    }
    let len = meta.len();
    let mut notes = Vec::new();
    let restart = if pos.inode.is_some() && inode(&meta).is_some() && pos.inode != inode(&meta) {
        Some("another file is at the path (rotated or replaced)")
    } else if len < pos.offset {
        Some("the file shrank below the read position (truncated)")
    } else if pos.offset > 0 && head_hash(&mut file, pos.offset).map_err(io)? != pos.head {
        Some("the start of the file changed (rewritten)")
    } else {
        None
    };
    if let Some(why) = restart {
        let item = path.display().to_string();
        notes.push(Skipped { item, why: format!("{why}: reading it again from the start") });
        pos.offset = 0;
        pos.line = 0;
    }
    pos.inode = inode(&meta);
    file.seek(SeekFrom::Start(pos.offset)).map_err(io)?;
    let mut buf = Vec::new();
    (&mut file).take(max_bytes as u64).read_to_end(&mut buf).map_err(io)?;
    let backfill = pos.backfill.then_some(req.backfill_since);
    let mut lines = parse_file(&buf, pos.line, backfill, &req.source, req.now);
    let full_buffer = buf.len() == max_bytes;
    let mut more = lines.lines == MAX_LINES as u64 && lines.consumed < buf.len();
    if full_buffer && lines.consumed == 0 {
        // One line fills the whole buffer: skip it if it has ended, else wait for its end.
        if let Some(end) = find_newline(&mut file, pos.offset + buf.len() as u64).map_err(io)? {
            let n = pos.line + 1;
            let why = format!("longer than {max_bytes} bytes");
            lines.skipped.push(Skipped { item: format!("line {n}"), why });
            lines.consumed = (end + 1 - pos.offset) as usize;
            lines.lines = 1;
            more = true;
        }
    } else if full_buffer && lines.consumed > 0 {
        more = true;
    }
    pos.offset += lines.consumed as u64;
    pos.line += lines.lines;
    pos.head = head_hash(&mut file, pos.offset).map_err(io)?;
    pos.backfill &= more;
    notes.append(&mut lines.skipped);
    lines.skipped = notes;
    Ok((lines, pos, more))
}

/// FNV-1a of the first min(`upto`, `HEAD_BYTES`) bytes of `file`.
fn head_hash(file: &mut std::fs::File, upto: u64) -> std::io::Result<u64> {
    let mut head = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.take(upto.min(HEAD_BYTES)).read_to_end(&mut head)?;
    Ok(fnv1a(&head))
}

/// The offset of the first newline at or after `from`, if the file has one.
fn find_newline(file: &mut std::fs::File, from: u64) -> std::io::Result<Option<u64>> {
    file.seek(SeekFrom::Start(from))?;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    let mut at = from;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(None);
        }
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            return Ok(Some(at + i as u64));
        }
        let n = chunk.len();
        at += n as u64;
        reader.consume(n);
    }
}

/// What a blocking read needs of the `PageRequest`, owned.
struct OwnedRequest {
    source: String,
    backfill_since: DateTime<Utc>,
    now: DateTime<Utc>,
}

/// Lines arriving on a stream (standard input), read by their own thread so that a page can
/// take what is there without blocking the runtime.
struct LineFeed {
    rx: mpsc::Receiver<FeedMsg>,
    ended: bool,
    /// Lines and bytes handed out so far.
    lines: u64,
    bytes: u64,
}

enum FeedMsg {
    /// A whole line, ending in a newline (one is added to a final line at end of input).
    Line(Vec<u8>),
    /// A line longer than the limit, dropped while reading.
    TooLong,
    End,
    Failed(String),
}

/// One page's worth of lines from a feed.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    lines: usize,
    too_long: Vec<usize>,
    error: Option<String>,
}

impl LineFeed {
    fn spawn<R: BufRead + Send + 'static>(mut reader: R, max_line: usize) -> Result<LineFeed, SourceError> {
        let (tx, rx) = mpsc::channel(MAX_LINES);
        std::thread::Builder::new()
            .name("stormwatch-stdin".into())
            .spawn(move || loop {
                let msg = match read_line_capped(&mut reader, max_line) {
                    Ok(Capped::Line(line)) => FeedMsg::Line(line),
                    Ok(Capped::TooLong) => FeedMsg::TooLong,
                    Ok(Capped::End) => FeedMsg::End,
                    Err(e) => FeedMsg::Failed(e.to_string()),
                };
                let last = matches!(msg, FeedMsg::End | FeedMsg::Failed(_));
                if tx.blocking_send(msg).is_err() || last {
                    break;
                }
            })
            .map_err(|e| SourceError::Io(format!("cannot start reading standard input: {e}")))?;
        Ok(LineFeed { rx, ended: false, lines: 0, bytes: 0 })
    }

    /// Up to `MAX_LINES` lines: waits a little for the first, then takes lines while they
    /// keep coming.
    async fn next_batch(&mut self) -> Batch {
        let mut batch = Batch::default();
        let mut wait = STDIN_FIRST_WAIT;
        while !self.ended && batch.lines < MAX_LINES {
            match tokio::time::timeout(wait, self.rx.recv()).await {
                Err(_) => break, // nothing more for now
                Ok(Some(FeedMsg::Line(line))) => {
                    self.bytes += line.len() as u64;
                    batch.bytes.extend_from_slice(&line);
                    batch.lines += 1;
                }
                Ok(Some(FeedMsg::TooLong)) => {
                    batch.bytes.push(b'\n'); // a blank placeholder keeps the line numbers right
                    batch.lines += 1;
                    batch.too_long.push(batch.lines);
                }
                Ok(Some(FeedMsg::Failed(e))) => {
                    batch.error = Some(e);
                    self.ended = true;
                }
                Ok(Some(FeedMsg::End)) | Ok(None) => self.ended = true,
            }
            wait = STDIN_NEXT_WAIT;
        }
        batch
    }

    /// The next page of mentions from the feed.
    async fn page(&mut self, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let (mut pos, note) = Position::read(req.cursor);
        let batch = self.next_batch().await;
        let backfill = pos.backfill.then_some(req.backfill_since);
        let lines = parse_file(&batch.bytes, self.lines, backfill, req.source, req.now);
        let mut skipped: Vec<Skipped> = note.into_iter().collect();
        let before = self.lines;
        skipped.extend(batch.too_long.iter().map(|i| Skipped {
            item: format!("line {}", before + *i as u64),
            why: format!("longer than {MAX_PAGE_BYTES} bytes"),
        }));
        skipped.extend(lines.skipped);
        if let Some(e) = batch.error {
            skipped.push(Skipped { item: "stdin".into(), why: format!("reading standard input failed: {e}") });
        }
        self.lines += lines.lines;
        let more = !self.ended && batch.lines >= MAX_LINES;
        pos.offset = self.bytes;
        pos.line = self.lines;
        pos.backfill &= more;
        Ok(Page { mentions: lines.mentions, skipped, cursor: cursor::write(&pos)?, more, ..Page::default() })
    }
}

/// What `read_line_capped` read.
#[derive(Debug, PartialEq)]
enum Capped {
    /// A line, ending in a newline (one is added to a final line at end of input).
    Line(Vec<u8>),
    /// A line longer than the limit, read to its end and dropped.
    TooLong,
    End,
}

/// Reads one line of at most `max` bytes (not counting its newline).
fn read_line_capped<R: BufRead>(reader: &mut R, max: usize) -> std::io::Result<Capped> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            // End of input: a final line without a newline is complete now.
            return Ok(match (line.is_empty(), too_long) {
                (_, true) => Capped::TooLong,
                (true, false) => Capped::End,
                (false, false) => {
                    line.push(b'\n');
                    Capped::Line(line)
                }
            });
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            line.extend_from_slice(&chunk[..take]);
            if line.len() - usize::from(line.ends_with(b"\n")) > max {
                too_long = true;
                line = Vec::new();
            }
        }
        reader.consume(take);
        if done {
            return Ok(if too_long { Capped::TooLong } else { Capped::Line(line) });
        }
    }
}

/// Standard input is one stream per process: every `file` source on "-" shares its reader.
/// Started once (a second reader would steal lines from the first).
fn stdin_feed() -> Result<&'static Mutex<LineFeed>, SourceError> {
    static FEED: OnceLock<Result<Mutex<LineFeed>, SourceError>> = OnceLock::new();
    FEED.get_or_init(|| LineFeed::spawn(std::io::BufReader::new(std::io::stdin()), MAX_PAGE_BYTES).map(Mutex::new))
        .as_ref()
        .map_err(Clone::clone)
}

#[async_trait::async_trait]
impl Kind for File {
    async fn page(&self, _http: &Http, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        if self.is_stdin() {
            return stdin_feed()?.lock().await.page(req).await;
        }
        let (pos, note) = Position::read(req.cursor);
        let owned = OwnedRequest { source: req.source.to_string(), backfill_since: req.backfill_since, now: req.now };
        let path = self.path.clone();
        let (mut lines, pos, more) = tokio::task::spawn_blocking(move || read_page(&path, pos, MAX_PAGE_BYTES, &owned))
            .await
            .map_err(|e| SourceError::Io(format!("reading {} stopped: {e}", self.path.display())))??;
        let skipped = note.into_iter().chain(std::mem::take(&mut lines.skipped)).collect();
        Ok(Page { mentions: lines.mentions, skipped, cursor: cursor::write(&pos)?, more, ..Page::default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        t("2024-05-01T12:00:00Z")
    }

    const LINES: &str = concat!(
        r#"{"id": "tw-1", "text": "Kroonbank app <b>down</b> again &amp; no word", "author": "@anna", "followers": 1520, "lang": "en-GB", "created": "2024-05-01T10:02:53Z", "url": "https://x.example/anna/1"}"#,
        "\n",
        r#"{"id": 2, "text": "Geen betalingen mogelijk", "author": "piet", "followers": "88", "lang": "NL", "created": 1714557800}"#,
        "\r\n",
        "\n",
        r#"{"text": "no id, no time"}"#,
        "\n",
        r#"{"id": "tw-4", "text": "a partial line"#,
    );

    #[test]
    fn json_lines_become_mentions_and_a_partial_last_line_waits() {
        let out = parse_file(LINES.as_bytes(), 0, None, "export", now());
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        assert_eq!(out.lines, 4, "three mentions and a blank line; not the partial one");
        assert_eq!(out.consumed, LINES.find(r#"{"id": "tw-4""#).unwrap());
        let [a, b, c] = &out.mentions[..] else { panic!("{:?}", out.mentions) };
        assert_eq!((a.id.as_str(), a.text.as_str()), ("tw-1", "Kroonbank app <b>down</b> again &amp; no word"), "as written");
        assert_eq!((a.author.as_deref(), a.reach, a.lang.as_deref()), (Some("@anna"), Some(1520), Some("en")));
        assert_eq!(a.published, t("2024-05-01T10:02:53Z"));
        assert_eq!(a.url.as_deref(), Some("https://x.example/anna/1"));
        assert_eq!(a.source, "export");
        assert_eq!((b.id.as_str(), b.reach, b.lang.as_deref()), ("2", Some(88), Some("nl")));
        assert_eq!(b.published, t("2024-05-01T10:03:20Z"), "epoch seconds, and a CRLF line end");
        assert!(c.id.starts_with("fnv1a-") && c.id.len() == "fnv1a-".len() + 16, "{}", c.id);
        assert_eq!(c.published, now(), "no time: the fetch time");
    }

    #[test]
    fn derived_ids_depend_only_on_the_line() {
        let line = r#"{"text": "same words", "created": "2024-05-01T09:00:00Z"}"#;
        let alone = parse_file(format!("{line}\n").as_bytes(), 0, None, "s", now());
        let later = parse_file(format!("{{\"text\": \"other\"}}\n{line}\n").as_bytes(), 7, None, "s", now());
        assert_eq!(alone.mentions[0].id, later.mentions[1].id);
        assert_ne!(later.mentions[0].id, later.mentions[1].id);
    }

    #[test]
    fn old_lines_are_published_at_their_own_time_for_replay() {
        let buf = b"{\"id\": \"old\", \"text\": \"from 2019\", \"created\": \"2019-03-01T08:00:00Z\"}\n\
                    {\"id\": \"future\", \"text\": \"clock skew\", \"created\": \"2030-01-01T00:00:00Z\"}\n";
        let out = parse_file(buf, 0, None, "replay", now());
        assert_eq!(out.mentions[0].published, t("2019-03-01T08:00:00Z"));
        assert_eq!(out.mentions[1].published, now());
    }

    #[test]
    fn bad_lines_are_skipped_with_their_number_and_why() {
        let mut buf = Vec::new();
        buf.extend_from_slice(b"{\"id\": \"a\", \"text\": \"fine\"}\n");
        buf.extend_from_slice(b"this is not json\n");
        buf.extend_from_slice(b"{\"id\": \"b\", \"text\": \"caf\xe9\"}\n");
        buf.extend_from_slice(b"[1, 2]\n");
        buf.extend_from_slice(b"{\"id\": \"c\"}\n");
        buf.extend_from_slice(b"{\"id\": \"d\", \"text\": 5}\n");
        buf.extend_from_slice(b"{\"id\": {\"x\": 1}, \"text\": \"odd id\"}\n");
        buf.extend_from_slice(b"{\"id\": \"a\", \"text\": \"again\"}\n");
        buf.extend_from_slice(b"{\"id\": \"e\", \"text\": \" \\t \\n \"}\n");
        buf.extend_from_slice(b"{\"id\": \"f\", \"text\": \"also fine\"}\n");
        let out = parse_file(&buf, 100, None, "s", now());
        let ids: Vec<&str> = out.mentions.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["a", "f"]);
        let skipped: Vec<(&str, &str)> = out.skipped.iter().map(|s| (s.item.as_str(), s.why.as_str())).collect();
        assert_eq!(skipped[0].0, "line 102");
        assert!(skipped[0].1.starts_with("not JSON"), "{}", skipped[0].1);
        assert_eq!(
            skipped[1..],
            [
                ("line 103", "invalid UTF-8 at byte 24"),
                ("line 104", "not a JSON object"),
                ("line 105", "no \"text\""),
                ("line 106", "\"text\" is not a string"),
                ("line 107", "\"id\" is not a string or number"),
                ("line 108", "duplicate id \"a\" (line 101 was kept)"),
                ("line 109", "empty \"text\""),
            ]
        );
        assert_eq!((out.lines, out.consumed), (10, buf.len()));
    }

    #[test]
    fn lines_before_the_backfill_start_are_skipped_with_why() {
        let buf = b"{\"id\": \"1\", \"text\": \"old\", \"created\": \"2024-04-01T00:00:00Z\"}\n\
                    {\"id\": \"2\", \"text\": \"recent\", \"created\": \"2024-05-01T11:00:00Z\"}\n\
                    {\"id\": \"3\", \"text\": \"no time\"}\n";
        let out = parse_file(buf, 0, Some(t("2024-04-30T12:00:00Z")), "s", now());
        let ids: Vec<&str> = out.mentions.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["2", "3"]);
        assert_eq!(out.skipped.len(), 1);
        assert_eq!(out.skipped[0].item, "line 1");
        assert!(out.skipped[0].why.contains("before the backfill start"), "{}", out.skipped[0].why);
    }

    #[test]
    fn a_page_stops_at_max_lines() {
        let buf: String = (0..MAX_LINES + 5).map(|i| format!("{{\"id\": {i}, \"text\": \"n{i}\"}}\n")).collect();
        let out = parse_file(buf.as_bytes(), 0, None, "s", now());
        assert_eq!(out.mentions.len(), MAX_LINES);
        assert_eq!(out.lines, MAX_LINES as u64);
        let rest = parse_file(&buf.as_bytes()[out.consumed..], out.lines, None, "s", now());
        assert_eq!(
            rest.mentions.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["10000", "10001", "10002", "10003", "10004"]
        );
    }

    #[test]
    fn empty_and_garbage_input_never_panics() {
        assert_eq!(parse_file(b"", 0, None, "s", now()), FileLines::default());
        let out = parse_file(b"\xff\xfe\x00\x01\n\x00\n{\n}\n", 0, None, "s", now());
        assert_eq!((out.mentions.len(), out.skipped.len(), out.lines), (0, 4, 4));
    }

    fn request(cursor: &Value) -> PageRequest<'_> {
        static VALIDATORS: OnceLock<super::super::Validators> = OnceLock::new();
        PageRequest {
            source: "s",
            cursor,
            validators: VALIDATORS.get_or_init(Default::default),
            backfill_since: t("2024-01-01T00:00:00Z"),
            now: now(),
        }
    }

    #[test]
    fn a_line_longer_than_a_page_is_skipped_once_it_has_ended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let long = format!("{{\"id\": \"long\", \"text\": \"{}\"", "x".repeat(200));
        std::fs::write(&path, &long).unwrap();
        let owned = OwnedRequest { source: "s".into(), backfill_since: t("2024-01-01T00:00:00Z"), now: now() };
        let (lines, pos, more) = read_page(&path, Position::default(), 64, &owned).unwrap();
        assert_eq!(
            (lines.mentions.len(), lines.skipped.len(), pos.offset, more),
            (0, 0, 0, false),
            "still being written"
        );
        std::fs::write(&path, format!("{long}}}\n{{\"id\": \"next\", \"text\": \"short\"}}\n")).unwrap();
        let (lines, pos, more) = read_page(&path, pos, 64, &owned).unwrap();
        assert_eq!(lines.skipped, [Skipped { item: "line 1".into(), why: "longer than 64 bytes".into() }]);
        assert!(more);
        let (lines, _, more) = read_page(&path, pos, 64, &owned).unwrap();
        assert_eq!(lines.mentions.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["next"]);
        assert!(!more);
    }

    #[test]
    fn capped_line_reading_keeps_short_lines_and_drops_long_ones() {
        let mut r = std::io::BufReader::with_capacity(4, &b"ab\nlong line here\ncd"[..]);
        assert_eq!(read_line_capped(&mut r, 5).unwrap(), Capped::Line(b"ab\n".to_vec()));
        assert_eq!(read_line_capped(&mut r, 5).unwrap(), Capped::TooLong);
        assert_eq!(
            read_line_capped(&mut r, 5).unwrap(),
            Capped::Line(b"cd\n".to_vec()),
            "a final line gets its newline"
        );
        assert_eq!(read_line_capped(&mut r, 5).unwrap(), Capped::End);
    }

    #[tokio::test]
    async fn a_stream_is_read_a_page_at_a_time_until_it_ends() {
        let mut input = String::new();
        for i in 0..MAX_LINES + 2 {
            input.push_str(&format!("{{\"id\": \"s{i}\", \"text\": \"streamed {i}\"}}\n"));
        }
        input.push_str("not json\n{\"id\": \"last\", \"text\": \"no newline at the end\"}");
        let mut feed = LineFeed::spawn(std::io::Cursor::new(input.into_bytes()), 1024).unwrap();
        let first = feed.page(&request(&Value::Null)).await.unwrap();
        assert_eq!(first.mentions.len(), MAX_LINES);
        assert!(first.more);
        let cursor = first.cursor.clone();
        let second = feed.page(&request(&cursor)).await.unwrap();
        let ids: Vec<&str> = second.mentions.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["s10000", "s10001", "last"]);
        assert_eq!(
            second.skipped,
            [Skipped { item: "line 10003".into(), why: "not JSON: expected ident at line 1 column 2".into() }]
        );
        assert!(!second.more);
        let after = feed.page(&request(&second.cursor)).await.unwrap();
        assert!(after.mentions.is_empty() && !after.more, "after the end pages are empty");
    }
}
