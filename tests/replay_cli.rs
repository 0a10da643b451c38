//! `stormwatch replay` end to end: the real binary on files, as a person tuning thresholds
//! runs it.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

fn stormwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stormwatch"))
}

/// A small deterministic generator (xorshift), so the stream is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A Poisson draw (Knuth's method; rates here are small).
    fn poisson(&mut self, rate: f64) -> u32 {
        let limit = (-rate).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.next();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() * items.len() as f64) as usize % items.len()]
    }
}

const CALM: &[&str] = &[
    "Just opened a savings account at Kroon Bank, smooth and friendly service",
    "Kroon Bank app update looks nice",
    "Meeting at the Kroon Bank office tomorrow",
    "Kroon Bank heeft een nieuwe vestiging geopend in Utrecht",
    "Goede uitleg gekregen bij Kroon Bank over mijn hypotheek",
    "Does Kroon Bank have a branch in Leiden?",
    "Kroon Bank sponsort het jeugdvoetbal, mooi initiatief",
];
const ANGRY: &[&str] = &[
    "Kroon Bank is down again, terrible, I cannot pay anything",
    "Storing bij Kroon Bank, weer geen toegang tot mijn rekening. Belachelijk!",
    "Kroon Bank outage for hours, awful service and no answers",
    "Waardeloze bank, Kroon Bank app werkt al de hele ochtend niet",
    "Worst bank ever, Kroon Bank lost my payment",
];

/// Four days of mentions: a daily rhythm, ~10% negative; on day 3 at 14:00 an outage
/// storm (negative share ~50%, volume ×2.5) for an hour.
fn stream(onset: DateTime<Utc>) -> String {
    let start = onset - Duration::hours(2 * 24 + 14);
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let mut out = String::new();
    let mut n = 0;
    for minute in 0..(4 * 24 * 60) {
        let t = start + Duration::minutes(minute);
        let hour = (minute % (24 * 60)) as f64 / 60.0;
        let mut rate = 2.0 + 1.5 * (std::f64::consts::PI * (hour - 8.0) / 12.0).sin().max(-0.8);
        let storm = t >= onset && t < onset + Duration::hours(1);
        let negative_share = if storm { 0.5 } else { 0.1 };
        if storm {
            rate *= 2.5;
        }
        for _ in 0..rng.poisson(rate) {
            n += 1;
            let text = if rng.next() < negative_share { rng.pick(ANGRY) } else { rng.pick(CALM) };
            let at = t + Duration::seconds((rng.next() * 59.0) as i64);
            let followers = (rng.next() * 2000.0) as u64;
            out.push_str(
                &serde_json::json!({"id": format!("m{n}"), "text": text, "published": at.to_rfc3339(),
                    "author": format!("user{}", n % 300), "followers": followers, "source": "mastodon"})
                .to_string(),
            );
            out.push('\n');
        }
    }
    out
}

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
