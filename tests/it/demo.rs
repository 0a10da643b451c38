//! `stormwatch demo`, the README's main job: the real pipeline on the embedded story, offline,
//! ending by itself with both storms alerted and delivered.

use std::time::{Duration, Instant};

use crate::support::stormwatch;

#[test]
fn the_demo_detects_both_storms_and_delivers_them_within_a_minute() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("demo");
    let started = Instant::now();
    let run = stormwatch().args(["demo", "--out"]).arg(&out).env("RUST_LOG", "warn").output().expect("run the demo");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(took < Duration::from_secs(75), "took {took:?}");
    assert!(stdout.contains("signature verified"), "{stdout}");
    // One incident per storm: the outage opens with the far-reaching complaint, and its
    // other signals join that thread instead of arriving as alerts of their own.
    let firing = |watch: &str| stdout.lines().filter(|l| l.starts_with(&format!("[CRITICAL] {watch}: "))).count();
    assert_eq!(firing("Kroon Bank"), 1, "the outage storm, once: {stdout}");
    assert!(firing("Jantar Mobile") <= 1, "{stdout}");
    assert!(stdout.contains("Jantar Mobile: negativity"), "the Polish wave: {stdout}");
    assert!(stdout.contains("holding statement (pl)"), "{stdout}");
    let files: Vec<String> = std::fs::read_dir(out.join("alerts"))
        .expect("the alerts folder")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .collect();
    assert!(files.iter().any(|f| f.ends_with(".eml")) && files.iter().any(|f| f.ends_with(".html")), "{files:?}");
    let eml = files.iter().find(|f| f.ends_with(".eml")).map(|f| std::fs::read_to_string(out.join("alerts").join(f)));
    assert!(eml.is_some_and(|e| e.is_ok_and(|e| e.contains("Content-Type: multipart/alternative"))));
}
