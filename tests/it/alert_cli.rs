//! `stormwatch notify-test`, `ack` and `alerts`: the real binary on a config and a state file.

use chrono::{DateTime, Utc};
use stormwatch::store::Store;

use crate::support::alerts::webhook_receiver;
use crate::support::storm_stream;
use crate::support::stormwatch;
use crate::support::webhook_sink::{Reply, WebhookSink};

fn config(dir: &std::path::Path, receivers: &[(&str, String)]) -> std::path::PathBuf {
    std::fs::write(dir.join("hook.secret"), "k").expect("secret");
    let mut text = String::from(
        "[storage]\npath = \"state.db\"\n[[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n\
         languages = [\"nl\", \"en\"]\n",
    );
    for (name, url) in receivers {
        text += &webhook_receiver(name, url);
    }
    let path = dir.join("stormwatch.toml");
    std::fs::write(&path, text).expect("config");
    path
}

#[test]
fn notify_test_says_what_each_receiver_answered() {
    let good = WebhookSink::start(vec![]);
    let bad = WebhookSink::start(vec![Reply::status(403)]);
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config(dir.path(), &[("good", good.url("/hook")), ("bad", bad.url("/hook"))]);
    let out = stormwatch().args(["notify-test", "-c"]).arg(&cfg).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a failing receiver fails the command");
    assert!(stdout.contains("good: delivered"), "{stdout}");
    assert!(stdout.contains("bad: FAILED: HTTP 403"), "{stdout}");
    let v = good.requests()[0].json();
    assert!(v["subject"].as_str().is_some_and(|s| s.contains("TEST kroon-bank")), "{v}");
}

#[test]
fn an_alert_is_acknowledged_from_the_shell_and_listed() {
    let sink = WebhookSink::start(vec![]);
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config(dir.path(), &[("ops", sink.url("/hook"))]);
    let onset: DateTime<Utc> = "2024-06-05T14:00:00Z".parse().expect("time");
    let input = dir.path().join("mentions.jsonl");
    std::fs::write(&input, storm_stream::stream(onset)).expect("mentions");
    let out =
        stormwatch().args(["replay", "--deliver", "-c"]).arg(&cfg).arg("--input").arg(&input).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first = sink.requests().first().map(|r| r.json()).expect("an alert was delivered");
    let id = first["alert_id"].as_str().expect("alert id").to_string();

    let out = stormwatch().args(["ack", &id, "--by", "ann", "-c"]).arg(&cfg).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("acknowledged {id} (kroon-bank) as ann")));
    let store = Store::open(&dir.path().join("state.db")).expect("state");
    assert_eq!(store.acknowledgements().expect("acks")[0].1, "ann");

    let out = stormwatch().args(["ack", "no-such-alert", "-c"]).arg(&cfg).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no alert \"no-such-alert\""));

    let out = stormwatch().args(["alerts", "--alert", &id, "-c"]).arg(&cfg).output().expect("run");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("delivered") && listing.contains(&format!("{id}.1.ops")), "{listing}");
    assert!(listing.contains("acknowledged") && listing.contains("by ann"), "{listing}");
}
