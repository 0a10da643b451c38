//! The real binary killed (SIGKILL) in the middle of delivering alerts, then restarted on the
//! same state file: every alert arrives, and a duplicate carries the same idempotency key and
//! the same body.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use stormwatch::store::Store;

use crate::support::alerts::webhook_receiver;
use crate::support::storm_stream;
use crate::support::stormwatch;
use crate::support::webhook_sink::WebhookSink;

#[test]
fn sigkill_mid_delivery_loses_no_alert_and_duplicates_share_their_key() {
    // Every answer takes 30 s: the deliveries are in flight when the process is killed.
    let sink = WebhookSink::start_with_delay(vec![], Duration::from_secs(30));
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("hook.secret"), "k").expect("secret");
    let receivers: String =
        ["ops", "pr", "legal"].iter().map(|r| webhook_receiver(r, &sink.url(&format!("/{r}")))).collect();
    let config = format!(
        "[storage]\npath = \"state.db\"\n[[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n\
         languages = [\"nl\", \"en\"]\n{receivers}"
    );
    let config_path = dir.path().join("stormwatch.toml");
    std::fs::write(&config_path, config).expect("config");
    let onset: DateTime<Utc> = "2024-06-05T14:00:00Z".parse().expect("time");
    let input = dir.path().join("mentions.jsonl");
    std::fs::write(&input, storm_stream::stream(onset)).expect("mentions");

    let mut child = stormwatch()
        .args(["replay", "--deliver", "-c"])
        .arg(&config_path)
        .arg("--input")
        .arg(&input)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stormwatch");
    let first = sink.wait_for(3, Duration::from_secs(60));
    assert!(first.len() >= 3, "no delivery started: {} requests", first.len());
    child.kill().expect("SIGKILL");
    let _ = child.wait();

    let store = Store::open(&dir.path().join("state.db")).expect("state file");
    let before = store.outbox_counts().expect("counts");
    assert!(before.pending >= 3 && before.delivered == 0, "killed mid-delivery: {before:?}");

    // The receivers recover; a restart sends what is pending.
    sink.set_delay(Duration::ZERO);
    let started = Instant::now();
    let out = stormwatch().args(["deliver", "-c"]).arg(&config_path).output().expect("run deliver");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(30));

    let deliveries = store.deliveries(None).expect("deliveries");
    assert!(deliveries.iter().all(|d| d.status.as_str() == "delivered"), "{deliveries:?}");
    let mut bodies: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for r in sink.requests() {
        let key = r.header("idempotency-key").expect("an idempotency key").to_string();
        bodies.entry(key).or_default().push(r.body.clone());
    }
    for d in &deliveries {
        assert!(bodies.contains_key(&d.key), "{} never arrived", d.key);
    }
    assert_eq!(bodies.len(), deliveries.len(), "one key per delivery");
    let duplicated: Vec<_> = bodies.iter().filter(|(_, b)| b.len() > 1).collect();
    assert!(!duplicated.is_empty(), "the killed in-flight sends were repeated");
    eprintln!(
        "{} deliveries, {} pending at the kill, {} requests received, {} keys sent twice",
        deliveries.len(),
        before.pending,
        sink.requests().len(),
        duplicated.len()
    );
    for (key, b) in duplicated {
        assert!(b.windows(2).all(|w| w[0] == w[1]), "{key}: a duplicate with a different body");
    }
}
