//! The `file` kind on real files in a temporary directory: appends between polls, a half-written
//! last line, truncation, replacement, bad lines and a file larger than one page.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use stormwatch::secret::Environment;
use stormwatch::sources::{file, SourceKind};
use stormwatch::sources::{Http, Kind, Page, SourceError};

use crate::support::sources::{self, build_kind, PollAt};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const NOW: &str = "2024-05-01T12:00:00Z";
const SINCE: &str = "2024-04-30T12:00:00Z";

fn source(path: &Path) -> Box<dyn Kind> {
    build_kind(
        "export",
        Duration::from_secs(24 * 3600),
        1024 * 1024,
        SourceKind::File(file::Spec { path: path.to_path_buf() }),
        &Environment::default(),
    )
}

fn at() -> PollAt<'static> {
    PollAt { source: "export", backfill_since: t(SINCE), now: t(NOW) }
}

async fn page(kind: &dyn Kind, cursor: &Value) -> Result<Page, SourceError> {
    sources::page(kind, &Http::new("stormwatch-test").unwrap(), at(), cursor).await
}

/// Pages until `more` is false, like the poller; returns the pages.
async fn poll(kind: &dyn Kind, cursor: &mut Value) -> Vec<Page> {
    let http = Http::new("stormwatch-test").unwrap();
    sources::pages(kind, &http, at(), cursor, 10).await.unwrap_or_else(|e| panic!("{e}"))
}

fn ids(pages: &[Page]) -> Vec<String> {
    pages.iter().flat_map(|p| p.mentions.iter().map(|m| m.id.clone())).collect()
}

fn line(id: &str, created: &str) -> String {
    format!("{{\"id\": \"{id}\", \"text\": \"kroonbank storing {id}\", \"author\": \"@u{id}\", \"created\": \"{created}\"}}\n")
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[tokio::test]
async fn first_poll_skips_lines_before_the_backfill_start_and_keeps_their_own_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mentions.jsonl");
    let mut text = line("a", "2024-04-29T08:00:00Z");
    text += &line("b", "2024-04-30T18:30:00Z");
    text += &line("c", "2024-05-01T11:59:00Z");
    std::fs::write(&path, text).unwrap();
    let kind = source(&path);
    let mut cursor = Value::Null;
    let first = poll(kind.as_ref(), &mut cursor).await;
    assert_eq!(ids(&first), ["b", "c"]);
    assert_eq!(first[0].mentions[0].published, t("2024-04-30T18:30:00Z"), "published is the line's own time");
    assert_eq!(first[0].mentions[0].author.as_deref(), Some("@ub"));
    assert_eq!(first[0].skipped.len(), 1);
    assert_eq!(first[0].skipped[0].item, "line 1");
    assert!(first[0].skipped[0].why.contains("before the backfill start"), "{}", first[0].skipped[0].why);

    // After the first poll, old lines are not skipped any more (a replay appends history).
    append(&path, &line("d", "2024-04-01T00:00:00Z"));
    let second = poll(kind.as_ref(), &mut cursor).await;
    assert_eq!(ids(&second), ["d"]);
    assert_eq!(second[0].mentions[0].published, t("2024-04-01T00:00:00Z"));
}

#[tokio::test]
async fn appended_lines_are_read_next_poll_and_a_half_written_line_waits_for_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mentions.jsonl");
    let whole = line("3", "2024-05-01T11:03:00Z");
    let (head, tail) = whole.split_at(20);
    std::fs::write(&path, line("1", "2024-05-01T11:01:00Z") + &line("2", "2024-05-01T11:02:00Z") + head).unwrap();
    let kind = source(&path);
    let mut cursor = Value::Null;
    assert_eq!(ids(&poll(kind.as_ref(), &mut cursor).await), ["1", "2"]);
    assert_eq!(ids(&poll(kind.as_ref(), &mut cursor).await), Vec::<String>::new(), "line 3 is still being written");

    append(&path, tail);
    append(&path, &line("4", "2024-05-01T11:04:00Z"));
    let third = poll(kind.as_ref(), &mut cursor).await;
    assert_eq!(ids(&third), ["3", "4"]);
    assert!(third.iter().all(|p| p.skipped.is_empty()), "{:?}", third[0].skipped);

    append(&path, "{\"text\": \"no id on this one\"}\n");
    let fourth = poll(kind.as_ref(), &mut cursor).await;
    assert_eq!(fourth[0].mentions.len(), 1);
    assert!(fourth[0].mentions[0].id.starts_with("fnv1a-"));
    assert!(ids(&poll(kind.as_ref(), &mut cursor).await).is_empty(), "nothing read twice");
}

#[tokio::test]
async fn a_truncated_file_is_read_again_from_the_start_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mentions.jsonl");
    std::fs::write(&path, line("1", "2024-05-01T11:01:00Z") + &line("2", "2024-05-01T11:02:00Z")).unwrap();
    let kind = source(&path);
    let mut cursor = Value::Null;
    assert_eq!(ids(&poll(kind.as_ref(), &mut cursor).await), ["1", "2"]);

    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(0).unwrap();
    drop(f);
    append(&path, &line("9", "2024-05-01T11:09:00Z"));
    let after = poll(kind.as_ref(), &mut cursor).await;
    assert_eq!(ids(&after), ["9"]);
    assert!(
        after[0].skipped.iter().any(|s| s.why.contains("truncated") && s.why.contains("from the start")),
        "{:?}",
        after[0].skipped
    );
}

#[tokio::test]
async fn a_replaced_or_rewritten_file_is_read_again_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mentions.jsonl");
    std::fs::write(&path, line("1", "2024-05-01T11:01:00Z")).unwrap();
    let kind = source(&path);
    let mut cursor = Value::Null;
    assert_eq!(ids(&poll(kind.as_ref(), &mut cursor).await), ["1"]);

    // Rotated: a new, longer file is renamed over the old one.
    let fresh = dir.path().join("fresh.jsonl");
    std::fs::write(&fresh, line("r1", "2024-05-01T11:10:00Z") + &line("r2", "2024-05-01T11:11:00Z")).unwrap();
    std::fs::rename(&fresh, &path).unwrap();
    let rotated = poll(kind.as_ref(), &mut cursor).await;
    assert_eq!(ids(&rotated), ["r1", "r2"]);
    let why = &rotated[0].skipped[0].why;
    assert!(why.contains("from the start") && (why.contains("rotated") || cfg!(not(unix))), "{why}");

    // Rewritten in place (same file, longer, different start).
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(0).unwrap();
    drop(f);
    append(
        &path,
        &(line("w1", "2024-05-01T11:20:00Z")
            + &line("w2", "2024-05-01T11:21:00Z")
            + &line("w3", "2024-05-01T11:22:00Z")),
    );
    let rewritten = poll(kind.as_ref(), &mut cursor).await;
    assert_eq!(ids(&rewritten), ["w1", "w2", "w3"]);
    assert!(rewritten[0].skipped.iter().any(|s| s.why.contains("changed")), "{:?}", rewritten[0].skipped);
}

#[tokio::test]
async fn bad_lines_are_skipped_with_their_line_number_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mentions.jsonl");
    let mut bytes = line("ok1", "2024-05-01T11:00:00Z").into_bytes();
    bytes.extend_from_slice(b"<html>not json</html>\n");
    bytes.extend_from_slice(b"{\"id\": \"bin\", \"text\": \"\xc3\x28\"}\n");
    bytes.extend_from_slice(b"{\"id\": \"notext\", \"created\": \"2024-05-01T11:00:00Z\"}\n");
    bytes.extend_from_slice(line("ok1", "2024-05-01T11:05:00Z").as_bytes());
    bytes.extend_from_slice(line("ok2", "2024-05-01T11:06:00Z").as_bytes());
    std::fs::write(&path, bytes).unwrap();
    let kind = source(&path);
    let p = page(kind.as_ref(), &Value::Null).await.unwrap();
    assert_eq!(ids(std::slice::from_ref(&p)), ["ok1", "ok2"]);
    let items: Vec<&str> = p.skipped.iter().map(|s| s.item.as_str()).collect();
    assert_eq!(items, ["line 2", "line 3", "line 4", "line 5"]);
    assert!(p.skipped[0].why.starts_with("not JSON"));
    assert!(p.skipped[1].why.contains("UTF-8"));
    assert!(p.skipped[2].why.contains("text"));
    assert!(p.skipped[3].why.contains("duplicate"));
    assert!(!p.more);
}

#[tokio::test]
async fn a_large_file_is_read_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let text: String = (0..10_050).map(|i| format!("{{\"id\": {i}, \"text\": \"mention {i}\"}}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let kind = source(&path);
    let mut cursor = Value::Null;
    let pages = poll(kind.as_ref(), &mut cursor).await;
    assert_eq!(pages.len(), 2);
    assert_eq!((pages[0].mentions.len(), pages[0].more), (10_000, true));
    assert_eq!((pages[1].mentions.len(), pages[1].more), (50, false));
    let all = ids(&pages);
    assert_eq!((all.first().map(String::as_str), all.last().map(String::as_str)), (Some("0"), Some("10049")));
}

#[tokio::test]
async fn a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-there.jsonl");
    let kind = source(&path);
    let err = page(kind.as_ref(), &Value::Null).await.unwrap_err();
    assert!(matches!(&err, SourceError::Io(m) if m.contains("not-there.jsonl")), "{err}");
    let err = page(source(dir.path()).as_ref(), &Value::Null).await.unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}
