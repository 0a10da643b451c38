//! One storm, one thread (issue 20): the real daemon reads a storm from a mention file (a Dutch
//! bank's days of chatter, its last 20 minutes an outage storm, plus one complaint from an
//! account with 480,000 followers), trips several kinds of signal within minutes, and each
//! receiver — a signed webhook and an e-mail address on a real SMTP server on loopback — gets
//! exactly one "firing" notification; everything after it is an update of the same incident,
//! threaded under it.

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::support::daemon::Daemon;
use crate::support::free_port;
use crate::support::smtp_sink::{parse, SmtpSink};
use crate::support::storm_stream;
use crate::support::webhook_sink::WebhookSink;

#[test]
fn a_storm_of_several_signal_kinds_reaches_each_receiver_as_one_firing_then_updates_in_its_thread() {
    let hook = WebhookSink::start(vec![]);
    let smtp = SmtpSink::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let now = Utc::now();
    let mut lines = storm_stream::stream_until(now - chrono::Duration::minutes(20), now);
    let loud = serde_json::json!({
        "id": "loud-1",
        "text": "Kroon Bank is down again, I cannot log in and nobody answers. Terrible.",
        "author": "@famous@social.example",
        "followers": 480_000,
        "created": (now - chrono::Duration::minutes(6)).to_rfc3339(),
    });
    lines.push_str(&format!("{loud}\n"));
    std::fs::write(dir.path().join("mentions.jsonl"), lines).expect("mentions");
    std::fs::write(dir.path().join("hook.secret"), "k").expect("secret");
    let port = free_port();
    // A short group interval so the test sees the joined signals' update within seconds.
    let config = format!(
        "[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"stormwatch@kroon.test\"\n\
         [alerts]\ngroup_interval = \"5s\"\n\
         [[sources]]\nname = \"export\"\nkind = \"file\"\npath = \"mentions.jsonl\"\nbackfill = \"4d\"\ninterval = \"5s\"\n\
         [[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\nlanguages = [\"nl\", \"en\"]\n\
         [[receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret_file = \"hook.secret\"\n\
         [[receivers]]\nname = \"team\"\nkind = \"email\"\nto = [\"crisis@kroon.test\"]\n",
        smtp.port(),
        hook.url("/hook")
    );
    let config_path = dir.path().join("stormwatch.toml");
    std::fs::write(&config_path, config).expect("config");
    let mut daemon = Daemon::start(&config_path, dir.path().join("daemon.log"));

    // Wait for the storm's signals to have tripped and their update to be sent, then a
    // little longer: any second "firing" would have come by then.
    let first = hook.wait_for(1, Duration::from_secs(60));
    let settle = Instant::now() + Duration::from_secs(20);
    while Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(250));
    }
    let hooks: Vec<serde_json::Value> = hook.requests().iter().map(|r| r.json()).collect();
    let mails: Vec<_> = smtp.wait_for(1, Duration::from_secs(5)).iter().map(|m| parse(&m.data)).collect();
    daemon.stop(Duration::from_secs(12));
    let log = daemon.log();
    assert!(!first.is_empty(), "no alert within 60 s\n{log}");

    let events: Vec<&str> = hooks.iter().filter_map(|v| v["event"].as_str()).collect();
    assert_eq!(events.iter().filter(|e| **e == "firing").count(), 1, "one firing: {events:?}\n{hooks:#?}");
    assert_eq!(events[0], "firing", "{events:?}");
    let incident = hooks[0]["incident_id"].as_str().expect("an incident id").to_string();
    assert!(hooks.iter().all(|v| v["incident_id"] == incident.as_str()), "one thread: {hooks:#?}");
    // Several kinds of signal, all in the one incident.
    let kinds: Vec<String> = hooks
        .last()
        .and_then(|v| v["signals"].as_array())
        .map(|s| s.iter().filter_map(|t| t["signal"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    assert!(kinds.len() >= 2, "the storm trips several kinds: {kinds:?}");
    assert!(kinds.contains(&"high_reach".to_string()), "{kinds:?}");
    assert!(hooks.len() <= 4, "a thread, not a flood: {events:?}");
    let mentions = hooks.last().and_then(|v| v["mentions"].as_array().cloned()).unwrap_or_default();
    assert!(mentions.iter().any(|m| m["id"] == "loud-1"), "the far-reaching post stays in the evidence");

    // The same for e-mail: one firing subject, the rest updates, all referring to one thread.
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    let firing = subjects.iter().filter(|s| !s.contains("update") && !s.starts_with("[RESOLVED]")).count();
    assert_eq!(firing, 1, "{subjects:?}");
    let thread = format!("<{incident}@stormwatch>");
    for m in &mails {
        let refs = m.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("references")).map(|(_, v)| v.trim());
        assert_eq!(refs, Some(thread.as_str()), "{:?}", m.headers);
    }
    // The update names the storm by every signal in it.
    let named = |s: &&str| s.contains(" mentions/") && s.contains("negativity") && s.contains("480,000 followers");
    assert!(subjects.iter().any(named), "{subjects:?}");
}
