//! Alerts delivered through the real outbox (a SQLite file) to real receivers on loopback:
//! signed webhooks, Slack and Teams payloads, retries on 5xx and 429, fallback, quiet-hour
//! summaries, escalation, acknowledgement, and no re-alerting after a restart.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use stormwatch::config::Config;
use stormwatch::model::{Measure, Phase, Severity, SignalKind};
use stormwatch::notify::{Channels, RetryPolicy};
use stormwatch::pipeline::Dispatcher;
use stormwatch::secret::Environment;
use stormwatch::store::Store;

use crate::support::alerts::{self, webhook_receiver, Setup};
use crate::support::kroon_signal::{signal, NASTY};
use crate::support::webhook_sink::{verify_signature, Reply, WebhookSink};

const SECRET: &str = "s3cret-for-tests";

/// A config with `receivers` (TOML) and a state file in a fresh folder.
fn setup(alerts: &str, receivers: &str) -> Setup {
    let text = format!(
        "[storage]\npath = \"state.db\"\n[alerts]\nresolve_after = \"0s\"\n{alerts}\n\
         [[watches]]\nname = \"Kroon Bank\"\nterms = [\"kroon bank\"]\n{receivers}"
    );
    alerts::setup(&[("hook.secret", SECRET)], &text)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy { base: Duration::from_millis(50), ..RetryPolicy::new(Duration::from_secs(60)) }
}

/// Runs the outbox until nothing is pending (or 20 s).
fn drain(dispatcher: &mut Dispatcher, config: &Config, retry: RetryPolicy) {
    alerts::drain(dispatcher, config, retry, Duration::from_secs(20));
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

#[test]
fn a_firing_alert_arrives_signed_and_its_resolution_follows() {
    let sink = WebhookSink::start(vec![]);
    let s = setup("", &webhook_receiver("ops", &sink.url("/hook")));
    let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
    let t = now();
    assert_eq!(d.signal(&signal(Phase::Started, Severity::Critical, t)).expect("signal"), 1);
    drain(&mut d, &s.config, fast_retries());
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    let r = &got[0];
    let sig = r.header("stormwatch-signature").expect("signature header");
    assert!(verify_signature(sig, &r.body, SECRET.as_bytes(), Utc::now().timestamp(), 300), "{sig}");
    assert!(!verify_signature(sig, &r.body, b"wrong", Utc::now().timestamp(), 300));
    let mut tampered = r.body.clone();
    tampered[10] ^= 1;
    assert!(!verify_signature(sig, &tampered, SECRET.as_bytes(), Utc::now().timestamp(), 300));
    let v = r.json();
    assert_eq!(v["schema"], "stormwatch.alert.v1");
    assert_eq!(
        (v["status"].as_str(), v["severity"].as_str(), v["watch"].as_str()),
        (Some("firing"), Some("critical"), Some("Kroon Bank"))
    );
    assert_eq!(v["numbers"]["mentions"], 342);
    assert_eq!(v["mentions"][0]["text"], NASTY, "JSON carries the text as is, JSON-escaped");
    assert_eq!(v["holding_statement"]["lang"], "nl");
    let id = v["alert_id"].as_str().expect("alert id").to_string();
    assert_eq!(r.header("idempotency-key"), Some(format!("{id}.1.ops").as_str()));
    assert!(v["ack_url"].as_str().is_some_and(|u| u.contains(&format!("/ack/{id}?exp="))));

    // The end, then (resolve_after = 0) the resolution.
    d.signal(&signal(Phase::Ended, Severity::Critical, t + chrono::Duration::minutes(30))).expect("end");
    d.tick(t + chrono::Duration::minutes(31)).expect("tick");
    drain(&mut d, &s.config, fast_retries());
    let got = sink.wait_for(2, Duration::from_secs(5));
    assert_eq!(got.len(), 2);
    let v = got[1].json();
    assert_eq!((v["status"].as_str(), v["alert_id"].as_str()), (Some("resolved"), Some(id.as_str())));
    assert!(v["subject"].as_str().is_some_and(|s| s.starts_with("[RESOLVED] Kroon Bank")));
}

#[test]
fn three_500s_then_200_is_delivered_once_with_every_attempt_recorded() {
    let sink = WebhookSink::start(vec![Reply::status(500), Reply::status(502), Reply::status(503)]);
    let s = setup("", &webhook_receiver("ops", &sink.url("/hook")));
    let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
    d.signal(&signal(Phase::Started, Severity::Critical, now())).expect("signal");
    drain(&mut d, &s.config, fast_retries());
    let got = sink.requests();
    assert_eq!(got.len(), 4, "three failures and the success");
    let keys: Vec<_> = got.iter().map(|r| r.header("idempotency-key").map(str::to_string)).collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "one key for every attempt: {keys:?}");
    let deliveries = s.store.deliveries(None).expect("deliveries");
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status.as_str(), "delivered");
    let attempts = s.store.attempts(deliveries[0].id).expect("attempts");
    let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["retry", "retry", "retry", "delivered"]);
    assert_eq!(attempts[0].detail.as_deref(), Some("HTTP 500"));
}

#[test]
fn a_429_with_retry_after_is_waited_out() {
    let sink = WebhookSink::start(vec![Reply { status: 429, retry_after: Some(1), delay: Duration::ZERO }]);
    let s = setup("", &webhook_receiver("ops", &sink.url("/hook")));
    let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
    d.signal(&signal(Phase::Started, Severity::Critical, now())).expect("signal");
    drain(&mut d, &s.config, fast_retries());
    let got = sink.requests();
    assert_eq!(got.len(), 2);
    let waited = got[1].at - got[0].at;
    assert!(waited >= Duration::from_millis(950), "retried after {waited:?}, not the 1 s asked for");
}

#[test]
fn a_refused_delivery_is_given_up_and_sent_to_the_fallback() {
    let broken = WebhookSink::start(vec![Reply::status(404)]);
    let backup = WebhookSink::start(vec![]);
    let receivers = format!(
        "{}{}",
        webhook_receiver("ops", &broken.url("/gone")),
        webhook_receiver("backup", &backup.url("/hook"))
    );
    let mut s = setup("fallback = \"backup\"", &receivers);
    // Only "ops" gets first notifications; "backup" is for fallbacks and escalations.
    s.config.receivers[1].policy.escalation_only = true;
    let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
    d.signal(&signal(Phase::Started, Severity::Critical, now())).expect("signal");
    drain(&mut d, &s.config, fast_retries());
    assert_eq!(broken.requests().len(), 1, "a 404 is not retried");
    let got = backup.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert!(got[0].header("idempotency-key").is_some_and(|k| k.ends_with(".ops.fallback")));
    let c = s.store.outbox_counts().expect("counts");
    assert_eq!((c.given_up, c.delivered, c.pending), (1, 1, 0));
}

#[test]
fn slack_and_teams_get_their_formats_with_no_injection_from_a_post() {
    let sink = WebhookSink::start(vec![]);
    let receivers = format!(
        "[[receivers]]\nname = \"slack\"\nkind = \"slack\"\nurl = \"{}\"\n\
         [[receivers]]\nname = \"teams\"\nkind = \"teams\"\nurl = \"{}\"\n",
        sink.url("/slack"),
        sink.url("/teams")
    );
    let s = setup("", &receivers);
    let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
    d.signal(&signal(Phase::Started, Severity::Critical, now())).expect("signal");
    drain(&mut d, &s.config, fast_retries());
    let got = sink.wait_for(2, Duration::from_secs(5));
    let body = |path: &str| {
        let r = got.iter().find(|r| r.path == path).unwrap_or_else(|| panic!("nothing at {path}"));
        String::from_utf8_lossy(&r.body).to_string()
    };
    let slack = body("/slack");
    for bad in ["<!channel>", "<!here>", "<@U024BE7LH>", "<https://evil.example|", "<script>"] {
        assert!(!slack.contains(bad), "{bad} reached Slack: {slack}");
    }
    assert!(slack.contains("&lt;!channel&gt;") && slack.contains("\"blocks\""), "{slack}");
    let teams = body("/teams");
    assert!(teams.contains("application/vnd.microsoft.card.adaptive"), "{teams}");
    assert!(!teams.contains("[login](https://evil.example)"), "a post's link reached Teams: {teams}");
}

#[test]
fn quiet_hours_hold_warnings_and_release_them_as_one_summary() {
    let sink = WebhookSink::start(vec![]);
    // Quiet all day but one minute, in UTC: a warning is held.
    // One alert per signal kind (group_by = "signal"), so two alerts are held.
    let receivers = format!(
        "{}quiet_hours = \"00:00-23:59\"\ngroup_by = \"signal\"\n",
        webhook_receiver("ops", &sink.url("/hook"))
    );
    let s = setup("", &receivers);
    let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
    let t = now();
    d.signal(&signal(Phase::Started, Severity::Warning, t)).expect("signal");
    let mut other = signal(Phase::Started, Severity::Warning, t);
    other.kind = SignalKind::Volume;
    other.measure = Measure::Mentions;
    d.signal(&other).expect("signal");
    let c = s.store.outbox_counts().expect("counts");
    assert_eq!((c.held, c.pending), (2, 0), "both held");
    let outbox = stormwatch::notify::Outbox::new(s.store.clone(), d.alerter().routes().clone());
    outbox.release(t + chrono::Duration::days(1)).expect("release");
    drain(&mut d, &s.config, fast_retries());
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1, "one summary, not two alerts");
    let v = got[0].json();
    assert_eq!((v["type"].as_str(), v["reason"].as_str()), (Some("summary"), Some("quiet_hours")));
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(2));
    let c = s.store.outbox_counts().expect("counts");
    assert_eq!((c.summarized, c.delivered, c.held), (2, 1, 0));
}

#[test]
fn past_the_hourly_cap_alerts_are_held_and_summarized_not_dropped() {
    let sink = WebhookSink::start(vec![]);
    // One alert per signal kind, so four alerts meet the cap of two.
    let receivers = format!("{}max_per_hour = 2\ngroup_by = \"signal\"\n", webhook_receiver("ops", &sink.url("/hook")));
    let s = setup("", &receivers);
    let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
    let t = now();
    for (i, kind) in [SignalKind::Negativity, SignalKind::Volume, SignalKind::SentimentDip, SignalKind::BlindSpot]
        .into_iter()
        .enumerate()
    {
        let mut sig = signal(Phase::Started, Severity::Critical, t + chrono::Duration::seconds(i as i64));
        sig.kind = kind;
        d.signal(&sig).expect("signal");
    }
    drain(&mut d, &s.config, fast_retries());
    assert_eq!(sink.requests().len(), 2, "two within the cap");
    let c = s.store.outbox_counts().expect("counts");
    assert_eq!((c.delivered, c.held), (2, 2), "the other two held");
    let outbox = stormwatch::notify::Outbox::new(s.store.clone(), d.alerter().routes().clone());
    outbox.release(Utc::now() + chrono::Duration::minutes(61)).expect("release");
    drain(&mut d, &s.config, fast_retries());
    let got = sink.wait_for(3, Duration::from_secs(5));
    assert_eq!(got.len(), 3);
    let v = got[2].json();
    assert_eq!((v["type"].as_str(), v["reason"].as_str()), (Some("summary"), Some("hourly_cap")));
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(2), "every held alert in the summary");
}

#[test]
fn an_unacknowledged_critical_alert_escalates_and_an_acknowledged_one_does_not() {
    for acknowledge in [false, true] {
        let team = WebhookSink::start(vec![]);
        let boss = WebhookSink::start(vec![]);
        let receivers = format!(
            "{}escalate_after = \"10m\"\nescalate_to = [\"boss\"]\n{}escalation_only = true\n",
            webhook_receiver("team", &team.url("/hook")),
            webhook_receiver("boss", &boss.url("/hook"))
        );
        let s = setup("", &receivers);
        let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
        let t = now();
        d.signal(&signal(Phase::Started, Severity::Critical, t)).expect("signal");
        let id = d.alerter().episodes().next().map(|e| e.alert_id.clone()).expect("an episode");
        if acknowledge {
            s.store.acknowledge(&id, "ann", t).expect("ack");
        }
        d.tick(t + chrono::Duration::minutes(5)).expect("tick");
        d.tick(t + chrono::Duration::minutes(11)).expect("tick");
        d.tick(t + chrono::Duration::minutes(12)).expect("tick");
        drain(&mut d, &s.config, fast_retries());
        assert_eq!(team.requests().len(), 1);
        let escalated = boss.wait_for(if acknowledge { 0 } else { 1 }, Duration::from_secs(5));
        if acknowledge {
            assert!(escalated.is_empty(), "acknowledged, yet escalated");
        } else {
            assert_eq!(escalated.len(), 1, "exactly one escalation");
            assert_eq!(escalated[0].json()["event"], "escalated");
        }
    }
}

#[test]
fn a_restart_does_not_re_alert_an_episode_and_keeps_its_escalation() {
    let team = WebhookSink::start(vec![]);
    let boss = WebhookSink::start(vec![]);
    let receivers = format!(
        "{}escalate_after = \"10m\"\nescalate_to = [\"boss\"]\n{}escalation_only = true\n",
        webhook_receiver("team", &team.url("/hook")),
        webhook_receiver("boss", &boss.url("/hook"))
    );
    let s = setup("", &receivers);
    let t = now();
    {
        let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
        d.signal(&signal(Phase::Started, Severity::Critical, t)).expect("signal");
        drain(&mut d, &s.config, fast_retries());
    }
    // A new process on the same file: the detector repeats itself after its own restart.
    let store = Store::open(Path::new(&s.config.storage.path)).expect("reopen");
    let mut d = Dispatcher::open(&s.config, store, &Environment::default()).expect("dispatcher");
    assert_eq!(
        d.signal(&signal(Phase::Started, Severity::Critical, t + chrono::Duration::minutes(2))).expect("signal"),
        0
    );
    d.tick(t + chrono::Duration::minutes(11)).expect("tick");
    drain(&mut d, &s.config, fast_retries());
    assert_eq!(team.requests().len(), 1, "no second firing after the restart");
    assert_eq!(boss.wait_for(1, Duration::from_secs(5)).len(), 1, "the escalation timer survived");
}

#[test]
fn missing_secrets_are_named_at_start() {
    let s = setup(
        "",
        "[[receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\n\
         secret_env = \"STORMWATCH_TEST_SECRET_THAT_IS_NOT_SET\"\n",
    );
    let err = Channels::build(s.config.channels(), s.config.smtp.as_ref(), &Environment::default())
        .expect_err("a missing secret");
    assert_eq!(err, ["receivers[0].secret: environment variable STORMWATCH_TEST_SECRET_THAT_IS_NOT_SET is not set"]);
}
