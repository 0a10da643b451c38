//! Email alerts through a relay that misbehaves: a scripted SMTP server on loopback
//! (`support/smtp_script.rs`) refuses at the greeting, greylists, hangs, drops the connection
//! after taking the message, or refuses the recipient, and the real outbox worker has to cope:
//! - transient faults are retried until a good session, which stores exactly one message, and
//!   every failed attempt is recorded with what happened;
//! - a permanent refusal is given up at once (no retry loop) and handed to the fallback;
//! - a relay that hangs holds up neither the other receivers of the alert nor the worker
//!   beyond the configured `[smtp] timeout`.

use std::time::{Duration, Instant};

use chrono::Utc;
use stormwatch::config::Config;
use stormwatch::model::{Phase, Severity};
use stormwatch::notify::{Channels, RetryPolicy, Until};
use stormwatch::pipeline::Dispatcher;
use stormwatch::secret::Environment;
use stormwatch::store::DeliveryStatus;

use crate::support::alerts::{self, webhook_receiver, Setup};
use crate::support::kroon_signal;
use crate::support::smtp_script::{Fault, ScriptedSmtp};
use crate::support::webhook_sink::WebhookSink;

/// The client's `[smtp] timeout`; a hang lasts well beyond it.
const SMTP_TIMEOUT: Duration = Duration::from_secs(3);
const HANG: Duration = Duration::from_secs(25);

/// The relay on `port`, an email receiver "crisis-team", and `more` (TOML) after it.
fn setup(port: u16, alerts: &str, more: &str) -> Setup {
    let text = format!(
        "[storage]\npath = \"state.db\"\n[alerts]\n{alerts}\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"stormwatch@kroon.test\"\n\
         timeout = \"{}s\"\n\
         [[watches]]\nname = \"Kroon Bank\"\nterms = [\"kroon bank\"]\n\
         [[receivers]]\nname = \"crisis-team\"\nkind = \"email\"\nto = [\"crisis@kroon.test\"]\n{more}",
        SMTP_TIMEOUT.as_secs()
    );
    alerts::setup(&[("hook.secret", "k")], &text)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy { base: Duration::from_millis(200), ..RetryPolicy::new(Duration::from_secs(120)) }
}

/// Runs the outbox worker until nothing is pending (or `within`); returns how long it took.
fn drain(d: &mut Dispatcher, config: &Config, within: Duration) -> Duration {
    alerts::drain(d, config, fast_retries(), within)
}

fn raise_storm(s: &Setup) -> Dispatcher {
    let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
    let written = d.signal(&kroon_signal::signal(Phase::Started, Severity::Critical, Utc::now())).expect("signal");
    assert!(written >= 1, "the storm was written to the outbox");
    d
}

#[test]
fn transient_relay_faults_are_retried_until_one_message_is_delivered() {
    let relay = ScriptedSmtp::start(vec![
        Fault::RefuseAtGreeting(421),
        Fault::GreylistAtRcpt,
        Fault::Hang(HANG),
        Fault::DropAfterData,
    ]);
    let s = setup(relay.port(), "", "");
    let mut d = raise_storm(&s);
    let took = drain(&mut d, &s.config, Duration::from_secs(45));

    assert_eq!(relay.unplayed(), 0, "every fault was played: {:?}", relay.sessions());
    let got = relay.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1, "exactly one message stored (the dropped one is not): {got:?}");
    assert_eq!(got[0].to, ["crisis@kroon.test"]);
    let deliveries = s.store.deliveries(None).expect("deliveries");
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].status, DeliveryStatus::Delivered, "{deliveries:?}");
    let attempts = s.store.attempts(deliveries[0].id).expect("attempts");
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["retry", "retry", "retry", "retry", "delivered"], "{attempts:#?}");
    let detail = |i: usize| attempts[i].detail.clone().unwrap_or_default();
    assert!(detail(0).contains("421"), "the greeting refusal is named: {:?}", detail(0));
    assert!(detail(1).contains("451") && detail(1).contains("Greylisted"), "greylisting is named: {:?}", detail(1));
    assert!(detail(2).contains("timed out"), "the hang is named as a timeout: {:?}", detail(2));
    assert!(
        attempts[2].duration_ms < (SMTP_TIMEOUT.as_millis() as i64) * 2,
        "the hang was given up after about the configured {SMTP_TIMEOUT:?}, not after {} ms",
        attempts[2].duration_ms
    );
    assert!(detail(3).contains("incomplete response"), "the missing answer after DATA is named: {:?}", detail(3));
    assert!(took < HANG, "the worker did not wait out the hang ({took:?})");
    eprintln!("attempts: {:#?}", attempts.iter().map(|a| (&a.outcome, a.duration_ms, &a.detail)).collect::<Vec<_>>());
}

#[test]
fn a_refused_recipient_or_greeting_is_given_up_at_once_and_the_fallback_is_told() {
    for fault in [Fault::RejectAtRcpt, Fault::RefuseAtGreeting(554)] {
        let relay = ScriptedSmtp::start(vec![fault]);
        let backup = WebhookSink::start(vec![]);
        let mut s = setup(relay.port(), "fallback = \"backup\"", &webhook_receiver("backup", &backup.url("/hook")));
        // "backup" only gets fallbacks and escalations, not the first notification.
        s.config.receivers[1].policy.escalation_only = true;
        let mut d = raise_storm(&s);
        drain(&mut d, &s.config, Duration::from_secs(20));

        let told = backup.wait_for(1, Duration::from_secs(5));
        assert_eq!(told.len(), 1, "{fault:?}: the fallback got the alert");
        assert!(
            told[0].header("idempotency-key").is_some_and(|k| k.ends_with(".crisis-team.fallback")),
            "{fault:?}: {:?}",
            told[0].header("idempotency-key")
        );
        assert_eq!(told[0].json()["watch"], "Kroon Bank");
        assert_eq!(relay.sessions().len(), 1, "{fault:?}: a permanent refusal is not retried");
        assert!(relay.received().is_empty(), "{fault:?}");
        let deliveries = s.store.deliveries(None).expect("deliveries");
        let email = deliveries.iter().find(|d| d.receiver == "crisis-team").expect("the email delivery");
        assert_eq!(email.status, DeliveryStatus::GivenUp, "{fault:?}: {email:?}");
        let code = match fault {
            Fault::RejectAtRcpt => "550",
            _ => "554",
        };
        assert!(email.last_error.as_deref().is_some_and(|e| e.contains(code)), "{fault:?}: {:?}", email.last_error);
        let attempts = s.store.attempts(email.id).expect("attempts");
        assert_eq!(attempts.iter().map(|a| a.outcome.as_str()).collect::<Vec<_>>(), ["given_up"], "{fault:?}");
        let c = s.store.outbox_counts().expect("counts");
        assert_eq!((c.given_up, c.delivered, c.pending), (1, 1, 0), "{fault:?}");
    }
}

#[test]
fn a_hanging_relay_does_not_hold_up_a_webhook_on_the_same_alert() {
    let relay = ScriptedSmtp::start(vec![Fault::Hang(HANG)]);
    let hook = WebhookSink::start(vec![]);
    let s = setup(relay.port(), "", &webhook_receiver("ops", &hook.url("/hook")));
    let mut d = raise_storm(&s);
    let channels = Channels::build(s.config.channels(), s.config.smtp.as_ref(), &Environment::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let worker = d.worker(channels, Some(fast_retries()));
    let started = Instant::now();
    let running = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(worker.run(Until::Idle { deadline: Instant::now() + Duration::from_secs(40) })).expect("worker");
    });

    let got = hook.wait_for(1, SMTP_TIMEOUT);
    assert_eq!(got.len(), 1, "the webhook was not delivered while the relay hung");
    // On a busy machine the webhook may even arrive before the e-mail worker has connected;
    // wait for the connection, then check the session had not ended when the webhook came.
    let connected_by = Instant::now() + SMTP_TIMEOUT;
    let mut sessions = relay.sessions();
    while sessions.is_empty() && Instant::now() < connected_by {
        std::thread::sleep(Duration::from_millis(20));
        sessions = relay.sessions();
    }
    let hung = sessions.first().expect("the relay was connected to");
    assert_eq!(hung.fault, Some(Fault::Hang(HANG)));
    assert!(hung.ended.is_none_or(|ended| ended > got[0].at), "the webhook arrived while the relay still hung");
    assert!(got[0].at - started < SMTP_TIMEOUT, "the webhook waited for the relay: {:?}", got[0].at - started);

    running.join().expect("worker thread");
    let mail = relay.wait_for(1, Duration::from_secs(5));
    assert_eq!(mail.len(), 1, "the email went out after the hang: {:?}", relay.sessions());
    let deliveries = s.store.deliveries(None).expect("deliveries");
    assert!(deliveries.iter().all(|d| d.status == DeliveryStatus::Delivered), "{deliveries:#?}");
    assert!(started.elapsed() < HANG, "the worker was held by the hang: {:?}", started.elapsed());
}
