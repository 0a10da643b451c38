//! Acknowledge links on the real daemon: opening one (as a mail or chat link scanner does)
//! only shows what it would acknowledge; the page's button (a POST to the same signed URL)
//! acknowledges. Forged links are refused both ways.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use stormwatch::model::{Phase, Severity};
use stormwatch::notify::RetryPolicy;
use stormwatch::pipeline::Dispatcher;
use stormwatch::secret::Environment;
use stormwatch::store::Store;

use crate::support::alerts::{self, webhook_receiver};
use crate::support::daemon::Daemon;
use crate::support::free_port;
use crate::support::http::{exchange, get, header, status_of};
use crate::support::kroon_signal::signal;
use crate::support::webhook_sink::WebhookSink;

/// Who acknowledged alert `id`, as the state file records it (the episode that
/// `/api/v1/alerts` lists follows at the alert step's next tick).
fn acknowledged_by(store: &Store, id: &str) -> Option<String> {
    store.acknowledgements().expect("acknowledgements").into_iter().find(|(a, ..)| a == id).map(|(_, by, _)| by)
}

/// The alert's `acknowledged` as `/api/v1/alerts` lists it, once it is not null (or 20 s).
fn listed_acknowledged(port: u16, id: &str) -> Value {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(port, "/api/v1/alerts");
        assert_eq!(status, 200, "{body}");
        let list: Vec<Value> = serde_json::from_str(&body).expect("JSON");
        let ack = list.into_iter().find(|a| a["alert_id"] == id).unwrap_or_else(|| panic!("{id} not listed: {body}"))
            ["acknowledged"]
            .clone();
        if !ack.is_null() || Instant::now() > end {
            return ack;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn opening_an_acknowledge_link_only_asks_and_its_button_acknowledges() {
    // An alert, fired and delivered before the daemon starts on the same state file.
    let sink = WebhookSink::start(vec![]);
    let port = free_port();
    let text = format!(
        "[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
         [alerts]\npublic_url = \"http://127.0.0.1:{port}\"\n\
         [[watches]]\nname = \"Kroon Bank\"\nterms = [\"kroon bank\"]\n{}",
        webhook_receiver("ops", &sink.url("/hook"))
    );
    let s = alerts::setup(&[("hook.secret", "k")], &text);
    let mut d = Dispatcher::open(&s.config, s.store.clone(), &Environment::default()).expect("dispatcher");
    d.signal(&signal(Phase::Started, Severity::Critical, Utc::now())).expect("signal");
    let retry = RetryPolicy { base: Duration::from_millis(50), ..RetryPolicy::new(Duration::from_secs(60)) };
    alerts::drain(&mut d, &s.config, retry, Duration::from_secs(20));
    drop(d);
    let delivered = sink.wait_for(1, Duration::from_secs(5));
    let v = delivered.first().map(|r| r.json()).expect("the alert was delivered");
    let id = v["alert_id"].as_str().expect("alert id").to_string();
    let url = v["ack_url"].as_str().expect("ack url").to_string();
    let link = url.split_once(&format!(":{port}")).map(|(_, p)| p.to_string()).expect("link path");

    let config_path = s._dir.path().join("stormwatch.toml");
    std::fs::write(&config_path, &text).expect("config");
    let mut daemon = Daemon::start(&config_path, s._dir.path().join("daemon.log"));
    daemon.wait_serving(port);

    let opened = exchange(port, "GET", &link, "", "");
    let opened_twice = exchange(port, "GET", &link, "", "");
    let after_get = acknowledged_by(&s.store, &id);
    let forged_post = exchange(port, "POST", &link.replace("sig=", "sig=00"), "", "");
    let after_forged = acknowledged_by(&s.store, &id);
    // What a browser sends for the page's form: an empty urlencoded body.
    let form = "Content-Type: application/x-www-form-urlencoded\r\nOrigin: null\r\n";
    let pressed = exchange(port, "POST", &link, form, "");
    let after_post = acknowledged_by(&s.store, &id);
    let pressed_again = exchange(port, "POST", &link, form, "");
    let opened_after = exchange(port, "GET", &link, "", "");
    let listed = listed_acknowledged(port, &id);
    daemon.alive();

    assert_eq!(status_of(&opened), 200, "{opened}");
    assert!(opened.contains("Kroon Bank") && opened.contains(&id), "says what it acknowledges: {opened}");
    assert!(opened.contains("<form method=\"post\"") && opened.contains("<button"), "{opened}");
    assert!(!opened.contains(" acknowledged by "), "{opened}");
    let csp = header(&opened, "content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("form-action 'self'")
            && csp.contains("style-src 'unsafe-inline'"),
        "{opened}"
    );
    assert_eq!(status_of(&opened_twice), 200);
    assert_eq!(after_get, None, "opening the link acknowledged nothing");
    assert_eq!(status_of(&forged_post), 403, "{forged_post}");
    assert_eq!(after_forged, None);
    assert_eq!(status_of(&pressed), 200, "{pressed}");
    assert!(pressed.contains("acknowledged: it will not escalate further"), "{pressed}");
    assert_eq!(after_post.as_deref(), Some("acknowledge link"));
    assert_eq!(listed["by"], "acknowledge link", "the API lists it: {listed}");
    assert!(pressed_again.contains("already acknowledged"), "{pressed_again}");
    assert!(opened_after.contains("already acknowledged"), "the page says so, without a button: {opened_after}");
    assert!(!opened_after.contains("<form"), "{opened_after}");
}
