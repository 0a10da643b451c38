//! `stormwatch replay` end to end: the real binary on files, as a person tuning thresholds
//! runs it.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::support::storm_stream::{stream, Rng};
use crate::support::stormwatch;

const CONFIG: &str = r#"
[[sources]]
name = "mastodon"
kind = "file"
path = "unused.jsonl"

[[watches]]
name = "kroon-bank"
terms = ["kroon bank"]
languages = ["nl", "en"]

[[watches]]
name = "other"
terms = ["nobody mentions this"]
"#;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(text.as_bytes()).expect("write");
    path
}

#[test]
fn a_recorded_storm_replays_into_signals_with_evidence_and_a_chart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let onset = DateTime::parse_from_rfc3339("2024-06-05T14:00:00Z").expect("time").with_timezone(&Utc);
    let mut input = stream(onset);
    // Bad lines among the good: each is named with its line number, none stops the replay.
    input.push_str("{\"text\": \"Kroon Bank without a time\"}\n");
    input.push_str("this is not json\n");
    let lines = input.lines().count();
    let mentions = write(dir.path(), "mentions.jsonl", &input);
    let config = write(dir.path(), "stormwatch.toml", CONFIG);
    let chart = dir.path().join("chart.html");
    let out = stormwatch()
        .args(["replay", "-c"])
        .arg(&config)
        .arg("--input")
        .arg(&mentions)
        .arg("--chart")
        .arg(&chart)
        .output()
        .expect("run stormwatch");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("line {}: no timestamp", lines - 1)), "{stderr}");
    assert!(stderr.contains(&format!("line {}: not JSON", lines)), "{stderr}");
    assert!(stderr.contains("2 skipped"), "{stderr}");
    assert!(stderr.contains("watch \"other\": 0 mentions"), "{stderr}");

    let signals: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let started = |kind: &str| -> Vec<&Value> {
        signals.iter().filter(|s| s["kind"] == kind && s["phase"] == "started").collect()
    };
    let negativity = started("negativity");
    assert_eq!(negativity.len(), 1, "{signals:#?}");
    let s = negativity[0];
    let at = DateTime::parse_from_rfc3339(s["at"].as_str().expect("at")).expect("time").with_timezone(&Utc);
    assert!(at > onset && at <= onset + Duration::minutes(15), "negativity detected at {at}, onset {onset}");
    assert_eq!(s["watch"], "kroon-bank");
    assert!(s["value"].as_f64() > s["threshold"].as_f64(), "{s}");
    let top_mentions = s["evidence"]["top_mentions"].as_array().expect("top mentions");
    assert!(!top_mentions.is_empty() && top_mentions.len() <= 5);
    let categories = s["evidence"]["categories"].to_string();
    assert!(categories.contains("outage"), "{categories}");
    // Nothing before the storm: no false alarm in two and a half quiet days.
    assert!(signals.iter().all(|s| s["at"].as_str().is_some_and(|a| a >= onset.to_rfc3339().as_str())), "{signals:#?}");
    let html = std::fs::read_to_string(&chart).expect("chart written");
    assert!(html.contains("<svg") && html.contains("kroon-bank: negative share"));
    // The storm's signals are one incident, named with its kinds.
    assert!(stderr.contains("watch \"kroon-bank\": 1 incident(s) sent"), "{stderr}");
    assert!(stderr.contains("negativity") && stderr.contains("critical ("), "{stderr}");
}

#[test]
fn params_tune_every_watch_and_mistakes_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let onset = DateTime::parse_from_rfc3339("2024-06-05T14:00:00Z").expect("time").with_timezone(&Utc);
    let mentions = write(dir.path(), "mentions.jsonl", &stream(onset));
    let config = write(dir.path(), "stormwatch.toml", CONFIG);
    let run = |param: &str| {
        stormwatch()
            .args(["replay", "-c"])
            .arg(&config)
            .arg("--input")
            .arg(&mentions)
            .args(["--param", param])
            .output()
            .expect("run stormwatch")
    };
    // A bar no storm reaches (both negativity tests need this many negative mentions): no
    // negativity signal, where the defaults give one.
    let out = run("min_negative=100000");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"negativity\""));
    assert!(String::from_utf8_lossy(&run("k=3.5").stdout).contains("\"negativity\""));
    let out = run("negative_shar=0.3");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did you mean \"negative_share\""), "{stderr}");
}

#[test]
fn an_empty_input_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mentions = write(dir.path(), "empty.jsonl", "\n");
    let config = write(dir.path(), "stormwatch.toml", CONFIG);
    let out = stormwatch()
        .args(["replay", "-c"])
        .arg(&config)
        .arg("--input")
        .arg(&mentions)
        .output()
        .expect("run stormwatch");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mentions"));
}

#[test]
fn counts_replay_prints_alerts_in_the_inputs_own_time_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut csv = String::from("timestamp,value\n");
    let start = DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z").expect("time").with_timezone(&Utc);
    let mut rng = Rng(7);
    let storm_at = start + Duration::minutes(5 * (4 * 288 + 150));
    for i in 0..(5 * 288) {
        let t = start + Duration::minutes(5 * i);
        let hour = (i % 288) as f64 / 12.0;
        let mut rate = 30.0 + 20.0 * (std::f64::consts::PI * hour / 12.0).sin().max(0.0);
        if (4 * 288 + 150..4 * 288 + 170).contains(&i) {
            rate *= 10.0;
        }
        let value = rate + (rng.next() - 0.5) * 2.0 * rate.sqrt() * 2.0;
        csv.push_str(&format!("{},{}\n", t.format("%Y-%m-%d %H:%M:%S"), value.round()));
    }
    csv.push_str("2024-06-06 00:00:00,-4\n");
    let series = write(dir.path(), "series.csv", &csv);
    let out = stormwatch().args(["replay", "--counts"]).arg(&series).output().expect("run stormwatch");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("line {}: -4 is not a count", 5 * 288 + 2)), "{stderr}");
    let alerts: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["at"], storm_at.format("%Y-%m-%d %H:%M:%S").to_string());
    assert_eq!(alerts[0]["signal"], "volume");
}
