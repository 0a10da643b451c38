//! `stormwatch score` as users run it: the real binary, real stdin/stdout/stderr and exit codes.

use std::io::Write;
use std::process::{Output, Stdio};

use crate::support::stormwatch;

/// `stormwatch args…` with `stdin` as its standard input; what it wrote and how it exited.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = stormwatch()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the stormwatch binary starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    // Write from another thread so a large input cannot deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("the stormwatch binary finishes");
    writer.join().expect("stdin writer");
    out
}

/// One output stream as text (`support::text` joins both of a command's).
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn examples_in_all_four_languages_are_explained() {
    let out = run(&["score", "--examples"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for lang in ["en (given)", "nl (given)", "sv (given)", "pl (given)"] {
        assert!(stdout.contains(lang), "{lang} missing:\n{stdout}");
    }
    assert!(stdout.contains("label neg") && stdout.contains("label pos"));
    assert!(stdout.contains("crisis categories: outage"));
}

#[test]
fn one_text_is_explained_term_by_term() {
    let out = run(&["score", "Alweer een storing bij Kroon Bank, inloggen lukt niet!!", "--lang", "nl"], b"");
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("label neg"), "{stdout}");
    assert!(stdout.contains("storing") && stdout.contains("[outage]"), "{stdout}");
    assert!(stdout.contains("! and ? emphasis"), "{stdout}");
}

#[test]
fn unknown_language_is_a_clear_error_listing_the_supported_codes() {
    let out = run(&["score", "Hallo Welt", "--lang", "de"], b"");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("unsupported language \"de\"") && stderr.contains("en, nl, sv, pl"), "{stderr}");
}

#[test]
fn bad_thresholds_are_refused() {
    let out = run(&["score", "ok", "--pos-threshold", "0.1", "--neg-threshold", "0.5"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("label thresholds"), "{}", text(&out.stderr));
}

#[test]
fn terminal_escapes_in_a_text_are_shown_not_obeyed() {
    let out = run(&["score", "bad \u{1b}[2J news", "--lang", "en"], b"");
    assert!(out.status.success());
    assert!(!out.stdout.contains(&0x1b), "raw ESC reached the terminal");
    assert!(text(&out.stdout).contains("\\u{1b}[2J"));
}

#[test]
fn batch_scores_every_good_line_in_order_and_reports_each_bad_one() {
    let mut input = Vec::new();
    input.extend_from_slice(
        "{\"id\":\"1\",\"text\":\"De app ligt er weer uit, echt waardeloos\",\"lang\":\"nl\"}\n".as_bytes(),
    );
    input.extend_from_slice(b"this is not json\n");
    input.extend_from_slice(b"{\"id\":\"3\",\"text\":\"bad \xff\xfe bytes\"}\n");
    input.extend_from_slice(b"{\"id\":\"4\"}\n");
    input.extend_from_slice("{\"id\":\"5\",\"text\":\"Świetna obsługa, dziękuję!\"}\n".as_bytes());
    input.extend_from_slice(b"{\"id\":\"6\",\"text\":\"\"}\n");
    input.extend_from_slice("{\"id\":\"7\",\"text\":\"😡😡😡\"}\n".as_bytes());
    let out = run(&["score", "--batch"], &input);

    assert_eq!(out.status.code(), Some(1), "a skipped line makes the exit code 1");
    let lines: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("each output line is JSON")).collect();
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap_or("")).collect();
    assert_eq!(ids, ["1", "5", "6", "7"], "good lines, in input order");
    assert_eq!(lines[0]["label"], "neg");
    assert_eq!(lines[1]["lang"], "pl");
    assert_eq!(lines[1]["label"], "pos");
    assert_eq!((lines[2]["label"].as_str(), lines[2]["lang"].is_null()), (Some("neu"), true), "empty text");
    assert_eq!((lines[3]["label"].as_str(), lines[3]["lang"].is_null()), (Some("neg"), true), "only emoji");
    for l in &lines {
        let c = l["compound"].as_f64().expect("compound is a number");
        assert!((-1.0..=1.0).contains(&c));
        assert!(l["terms"].is_array() && l["categories"].is_array());
    }

    let stderr = text(&out.stderr);
    for needle in ["line 2: expected one JSON object per line", "line 3: invalid UTF-8", "line 4: expected {\"text\""] {
        assert!(stderr.contains(needle), "{needle:?} missing from:\n{stderr}");
    }
    assert!(stderr.contains("scored 4 lines, skipped 3"), "{stderr}");
}

#[test]
fn batch_exits_zero_when_every_line_scored() {
    let out = run(&["score", "--batch"], b"{\"text\":\"fine\"}\n\n{\"text\":\"great\"}");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 2, "the blank line is not a record");
}

#[test]
fn a_one_megabyte_post_is_scored_with_bounded_work() {
    let big = "terrible service, never again. ".repeat(35_000);
    let line = serde_json::json!({"id": "big", "text": big, "lang": "en"}).to_string();
    let out = run(&["score", "--batch"], line.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).expect("one JSON line");
    assert_eq!(v["label"], "neg");
    // The explanation is capped, whatever the input size.
    assert!(v["terms"].as_array().map_or(0, Vec::len) <= 256);
}

#[test]
fn mixed_language_posts_are_scored_in_one_detected_language() {
    let out =
        run(&["score", "--batch"], "{\"text\":\"Great bank maar de app werkt niet, beetje jammer\"}\n".as_bytes());
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).expect("one JSON line");
    assert!(v["lang"].is_string());
}

#[test]
fn batch_takes_objects_only_and_its_messages_never_name_internal_types() {
    // Before: an array of fields was read as a line, and errors named `struct InLine`.
    let out = run(&["score", "--batch"], b"[\"ok\", \"hi\", null]\n{\"txt\": \"hi\"}\n{\"text\": \"good\"}\n");
    let err = text(&out.stderr);
    assert!(err.contains("line 1: expected one JSON object per line") && err.contains("got a JSON array"), "{err}");
    assert!(err.contains("line 2:") && err.contains("missing field `text`"), "{err}");
    assert!(!err.contains("InLine"), "{err}");
    assert_eq!(text(&out.stdout).lines().count(), 1, "the good line is scored");
}

#[test]
fn an_empty_text_is_called_empty() {
    let out = run(&["score", ""], b"");
    let said = text(&out.stdout);
    assert!(said.contains("language none (the text is empty)") && !said.contains("emoji"), "{said}");
}
