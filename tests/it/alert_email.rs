//! Alerts by email, over SMTP, to a real SMTP server on loopback (mailin-embedded): the MIME
//! structure, the subject, both parts, the chart, escaping, and a relay that is down at first.

use std::time::Duration;

use chrono::Utc;
use stormwatch::config::Config;
use stormwatch::model::{Measure, Phase, Severity, SignalKind};
use stormwatch::notify::RetryPolicy;
use stormwatch::pipeline::Dispatcher;
use stormwatch::secret::Environment;
use stormwatch::store::Store;

use crate::support::alerts::{self, Setup};
use crate::support::free_port;
use crate::support::kroon_signal::signal as storm;
use crate::support::smtp_sink::{parse, SmtpSink};

fn setup(port: u16) -> (tempfile::TempDir, Config, Store) {
    let text = format!(
        "[storage]\npath = \"state.db\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"stormwatch@kroon.test\"\ntimeout = \"3s\"\n\
         [[watches]]\nname = \"Kroon Bank\"\nterms = [\"kroon bank\"]\n\
         [[receivers]]\nname = \"crisis-team\"\nkind = \"email\"\nto = [\"crisis@kroon.test\", \"cto@kroon.test\"]\n"
    );
    let Setup { _dir, config, store } = alerts::setup(&[], &text);
    (_dir, config, store)
}

/// The critical storm every test here mails.
fn signal(at: chrono::DateTime<Utc>) -> stormwatch::model::Signal {
    storm(Phase::Started, Severity::Critical, at)
}

fn drain(d: &mut Dispatcher, config: &Config, within: Duration) {
    let retry = RetryPolicy { base: Duration::from_millis(200), ..RetryPolicy::new(Duration::from_secs(120)) };
    alerts::drain(d, config, retry, within);
}

#[test]
fn the_alert_email_has_subject_both_parts_the_chart_and_escaped_mentions() {
    let sink = SmtpSink::start();
    let (_dir, config, store) = setup(sink.port());
    let mut d = Dispatcher::open(&config, store.clone(), &Environment::default()).expect("dispatcher");
    d.signal(&signal(Utc::now())).expect("signal");
    drain(&mut d, &config, Duration::from_secs(20));
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1, "one message for both recipients");
    assert_eq!(got[0].to, ["crisis@kroon.test", "cto@kroon.test"]);
    let mail = parse(&got[0].data);
    assert_eq!(mail.subject, "[CRITICAL] Kroon Bank: negativity 71% (baseline 12%), 342 mentions/15 min (baseline 40)");
    let text = mail.text.expect("a text part");
    assert!(text.contains("243 negative") && text.contains("Suggested holding statement (nl, outage)"), "{text}");
    assert!(text.contains("/ack/"), "the acknowledge link: {text}");
    let html = mail.html.expect("an HTML part");
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    assert!(html.contains("&lt;!channel&gt;"), "{html}");
    assert!(html.contains("src=\"cid:chart@stormwatch\""), "{html}");
    assert_eq!(mail.images.len(), 1);
    let image = &mail.images[0];
    assert_eq!((image.content_type.as_str(), image.content_id.as_deref()), ("image/png", Some("chart@stormwatch")));
    assert!(image.bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let message_id = mail.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("message-id")).map(|(_, v)| v.clone());
    assert!(message_id.is_some_and(|m| m.contains(".1.crisis-team@stormwatch")), "Message-ID from the idempotency key");
}

#[test]
fn line_breaks_in_an_author_name_cannot_add_headers() {
    let sink = SmtpSink::start();
    let (_dir, config, store) = setup(sink.port());
    let mut d = Dispatcher::open(&config, store, &Environment::default()).expect("dispatcher");
    let mut s = signal(Utc::now());
    s.kind = SignalKind::HighReach;
    s.measure = Measure::Reach;
    s.value = 2e6;
    s.evidence.top_mentions[0].author = Some("mallory\r\nBcc: everyone@evil.example\r\n".into());
    d.signal(&s).expect("signal");
    drain(&mut d, &config, Duration::from_secs(20));
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["crisis@kroon.test", "cto@kroon.test"], "no extra recipient");
    let mail = parse(&got[0].data);
    assert!(!mail.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("bcc")), "{:?}", mail.headers);
    assert!(mail.subject.starts_with("[CRITICAL] Kroon Bank: negative post by mallory"), "{}", mail.subject);
}

#[test]
fn smtp_down_then_up_delivers_once_after_recovery() {
    let port = free_port();
    let (_dir, config, store) = setup(port);
    let mut d = Dispatcher::open(&config, store.clone(), &Environment::default()).expect("dispatcher");
    d.signal(&signal(Utc::now())).expect("signal");
    // The relay comes up after the first attempts have failed.
    let starter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        SmtpSink::start_on(port)
    });
    drain(&mut d, &config, Duration::from_secs(30));
    let sink = starter.join().expect("sink thread");
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1, "delivered exactly once after recovery");
    let deliveries = store.deliveries(None).expect("deliveries");
    assert_eq!(deliveries[0].status.as_str(), "delivered");
    let attempts = store.attempts(deliveries[0].id).expect("attempts");
    assert!(attempts.len() >= 2, "{attempts:?}");
    assert_eq!(attempts[0].outcome, "retry");
    assert!(attempts[0].detail.as_deref().is_some_and(|d| d.starts_with("SMTP:")), "{attempts:?}");
}
