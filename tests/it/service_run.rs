//! `stormwatch run`: the real daemon on a config, reading a mention file with a storm in its
//! last minutes, alerting a webhook receiver on loopback, serving health and metrics, and
//! stopping cleanly on SIGTERM with its window state saved.

use std::time::{Duration, Instant};

use chrono::Utc;
use stormwatch::store::Store;

use crate::support::daemon::{signal, Daemon};
use crate::support::http::{get, request};
use crate::support::webhook_sink::WebhookSink;
use crate::support::{free_port, storm_stream, stormwatch};

#[test]
fn the_daemon_detects_a_storm_alerts_serves_metrics_and_stops_on_sigterm() {
    let sink = WebhookSink::start(vec![]);
    let dir = tempfile::tempdir().expect("temp dir");
    // Three days of history ending now, the last 20 minutes a storm.
    let now = Utc::now();
    let lines = storm_stream::stream_until(now - chrono::Duration::minutes(20), now);
    std::fs::write(dir.path().join("mentions.jsonl"), lines).expect("mentions");
    std::fs::write(dir.path().join("hook.secret"), "k").expect("secret");
    std::fs::write(dir.path().join("api.token"), "tok-123").expect("token");
    let port = free_port();
    let config = format!(
        "[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"api.token\"\n\
         [alerts]\npublic_url = \"http://127.0.0.1:{port}\"\n\
         [[sources]]\nname = \"export\"\nkind = \"file\"\npath = \"mentions.jsonl\"\nbackfill = \"4d\"\ninterval = \"5s\"\n\
         [[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\nlanguages = [\"nl\", \"en\"]\n\
         [[receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret_file = \"hook.secret\"\n",
        sink.url("/hook")
    );
    let config_path = dir.path().join("stormwatch.toml");
    std::fs::write(&config_path, config).expect("config");

    let check = stormwatch().args(["check", "-c"]).arg(&config_path).output().expect("check");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    let mut daemon = Daemon::start(&config_path, dir.path().join("daemon.log"));
    let alerts = sink.wait_for(1, Duration::from_secs(60));
    let (health, _) = get(port, "/healthz");
    let healthcheck = stormwatch()
        .args(["healthcheck", "--url", &format!("http://127.0.0.1:{port}/healthz")])
        .status()
        .expect("healthcheck");
    let (ready, _) = get(port, "/readyz");
    let (_, metrics) = get(port, "/metrics");
    let (page_status, status_html) = get(port, "/");
    let id = alerts.first().and_then(|a| a.json()["alert_id"].as_str().map(str::to_string)).unwrap_or_default();
    let (listed, listing) = get(port, "/api/v1/alerts");
    let ack_path = |v: &serde_json::Value| {
        v["ack_url"].as_str().and_then(|u| u.split_once(&format!(":{port}"))).map(|(_, p)| p.to_string())
    };
    let link = alerts.first().and_then(|a| ack_path(&a.json())).unwrap_or_default();
    let (forged, _) = get(port, &link.replace("sig=", "sig=00"));
    let (no_token, _) = request(port, "POST", &format!("/api/v1/alerts/{id}/ack"), "", "");
    let (wrong_token, _) =
        request(port, "POST", &format!("/api/v1/alerts/{id}/ack"), "Authorization: Bearer nope\r\n", "");
    // The link's page asks; its button posts to the same signed URL, which acknowledges.
    let (by_link, page) = request(port, "POST", &link, "", "");
    let auth = "Authorization: Bearer tok-123\r\nContent-Type: application/json\r\n";
    let (by_api, api_answer) = request(port, "POST", &format!("/api/v1/alerts/{id}/ack"), auth, r#"{"by": "ann"}"#);
    // SIGTERM, as systemd and docker stop send it.
    let (status, _) = daemon.stop(Duration::from_secs(12));
    let log = daemon.log();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(!alerts.is_empty(), "no alert within 60 s\n{log}");
    let v = alerts[0].json();
    assert_eq!(v["watch"], "kroon-bank");
    assert_eq!(health, 200);
    assert!(healthcheck.success(), "the container health check passes");
    assert_eq!(ready, 200, "the source was polled");
    assert!(
        metrics.contains("stormwatch_mentions_scored_total") && metrics.contains("stormwatch_signals_total"),
        "{metrics}"
    );
    assert_eq!(page_status, 200);
    assert!(
        status_html.contains("<h2>kroon-bank</h2>") && status_html.contains("<svg"),
        "the status page draws the watch: {status_html}"
    );
    assert!(
        status_html.contains("class=\"critical\"") || status_html.contains("class=\"warning\""),
        "and its open alert"
    );
    assert!(status_html.contains("<td>export</td>"), "and the source's health");
    assert_eq!(listed, 200);
    assert!(listing.contains(&id), "{listing}");
    assert_eq!(forged, 403, "a forged link is refused");
    assert_eq!((no_token, wrong_token), (401, 401), "the API needs the token");
    assert_eq!(by_link, 200, "{page}");
    assert!(page.contains("acknowledged"), "{page}");
    assert_eq!(by_api, 200, "{api_answer}");
    assert!(api_answer.contains("\"already\":true"), "the link acknowledged it first: {api_answer}");
    let store = Store::open(&dir.path().join("state.db")).expect("state");
    assert_eq!(store.acknowledgements().expect("acks")[0].1, "acknowledge link");
    assert!(store.detector_state("watch:kroon-bank").expect("read").is_some(), "window state saved at stop");

    // After the storm: the report over the last days, from the same state file.
    let html = dir.path().join("report.html");
    let report = stormwatch()
        .args(["report", "-c"])
        .arg(&config_path)
        .args(["--watch", "kroon-bank", "--from", "4d", "--out"])
        .arg(&html)
        .output()
        .expect("report");
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "{text}{}", String::from_utf8_lossy(&report.stderr));
    let counted: u64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" mentions, ").and_then(|(n, _)| n.replace(',', "").parse().ok()))
        .unwrap_or(0);
    let exported = std::fs::read_to_string(dir.path().join("mentions.jsonl")).expect("mentions").lines().count();
    assert!(counted > 100 && counted as usize <= exported, "the report counts the mentions: {counted}\n{text}");
    assert!(text.contains("episodes: ") && !text.contains("episodes: 0"), "{text}");
    assert!(text.contains("to ops: delivered after 1 attempt(s)"), "the delivery and its attempt: {text}");
    let page = std::fs::read_to_string(&html).expect("report.html");
    assert!(page.contains("<svg") && page.contains("Deliveries") && page.contains("acknowledged by"), "{page}");
    let unknown =
        stormwatch().args(["report", "-c"]).arg(&config_path).args(["--watch", "kroon-bnak"]).output().expect("report");
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success() && err.contains("kroon-bank"), "names the watches it knows: {err}");
}

#[test]
fn sighup_or_an_edit_applies_a_valid_config_and_refuses_an_invalid_one_without_stopping() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("mentions.jsonl"), "").expect("mentions");
    let port = free_port();
    let config = |watches: &str| {
        format!(
            "[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
             [[sources]]\nname = \"export\"\nkind = \"file\"\npath = \"mentions.jsonl\"\ninterval = \"5s\"\n{watches}"
        )
    };
    let bank = "[[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n";
    let config_path = dir.path().join("stormwatch.toml");
    std::fs::write(&config_path, config(bank)).expect("config");
    let mut daemon = Daemon::start(&config_path, dir.path().join("daemon.log"));
    let wait_for = |what: &dyn Fn() -> bool| {
        let end = Instant::now() + Duration::from_secs(20);
        while !what() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(100));
        }
        what()
    };
    let hup = |pid: u32| signal(pid, "HUP");
    assert!(wait_for(&|| get(port, "/healthz").0 == 200), "the daemon did not come up");

    // A broken file is refused: the daemon keeps running the old one and counts the refusal.
    std::fs::write(&config_path, config(&format!("{bank}preset = \"wild\"\n"))).expect("config");
    assert_eq!(hup(daemon.child.id()).ok(), Some(true));
    // A counter's value in the metrics (0 when absent).
    let metric = |name: &str| -> u64 {
        get(port, "/metrics").1.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0)
    };
    // Writing the file may reload it before the SIGHUP does: at least one of them counts.
    assert!(wait_for(&|| metric("stormwatch_config_reload_failures_total ") >= 1), "the refusal is counted");
    assert_eq!(get(port, "/api/v1/watches").1, "[\"kroon-bank\"]");

    // A valid one is applied: a second watch appears.
    let shop = "[[watches]]\nname = \"shop\"\nterms = [\"shop\"]\n";
    std::fs::write(&config_path, config(&format!("{bank}{shop}"))).expect("config");
    assert_eq!(hup(daemon.child.id()).ok(), Some(true));
    assert!(wait_for(&|| get(port, "/api/v1/watches").1 == "[\"kroon-bank\",\"shop\"]"), "the new watch is running");
    assert!(metric("stormwatch_config_reloads_total ") >= 1);

    // An edit without a SIGHUP is noticed too: the second watch goes again.
    std::fs::write(&config_path, config(bank)).expect("config");
    assert!(wait_for(&|| get(port, "/api/v1/watches").1 == "[\"kroon-bank\"]"), "the edit alone reloads");

    let status = daemon.terminate();
    let log = daemon.log();
    assert!(status.success(), "{log}");
    assert!(log.contains("reload refused") && log.contains("preset"), "the log says why: {log}");
    assert!(!log.contains("warms up again"), "the unchanged watch kept its window state: {log}");
}

#[test]
fn pushed_mentions_are_checked_deduplicated_counted_and_show_in_metrics_and_the_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("api.token"), "tok-123").expect("token");
    let port = free_port();
    let config = format!(
        "[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"api.token\"\n\
         ingest_max_bytes = 4096\n\
         [[sources]]\nname = \"crm\"\nkind = \"push\"\n\
         [[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n"
    );
    let config_path = dir.path().join("stormwatch.toml");
    std::fs::write(&config_path, config).expect("config");
    let mut daemon = Daemon::start(&config_path, dir.path().join("daemon.log"));
    let end = Instant::now() + Duration::from_secs(20);
    while get(port, "/readyz").0 != 200 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(port, "/readyz").0, 200, "a push source does not hold readiness back");
    let auth = "Authorization: Bearer tok-123\r\nContent-Type: application/json\r\n";
    let now = Utc::now().to_rfc3339();
    // Pushed text is plain text, kept as written: a tag in it is text that looks like a tag.
    let batch = format!(
        r#"[{{"id": "1", "text": "Kroon Bank app is down again, <script>alert(1)</script> useless", "created": "{now}",
             "author": "ann", "followers": 50000}},
            {{"id": "2", "text": "Kroon Bank helped me quickly, great service", "created": "{now}"}},
            {{"id": "3", "text": "nothing about the bank here", "created": "{now}"}}]"#
    );
    let post = |headers: &str, body: &str| request(port, "POST", "/api/v1/ingest", headers, body);
    let (no_token, _) = post("", &batch);
    let (too_large, large_answer) = post(auth, &format!("[{}]", "{\"text\": \"kroon bank\"},".repeat(200) + "{}"));
    let (bad, bad_answer) = post(auth, r#"[{"text": "kroon bank ok"}, {"id": 5}, "x"]"#);
    let (ok, answer) = post(auth, &batch);
    let (again, again_answer) = post(auth, &batch);
    let wait_metrics = || {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let m = get(port, "/metrics").1;
            if m.contains("stormwatch_mentions_scored_total 2") || Instant::now() > end {
                return m;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let metrics = wait_metrics();
    let status = daemon.terminate();
    let log = daemon.log();
    assert!(status.success(), "{log}");

    assert_eq!(no_token, 401);
    assert_eq!(too_large, 413, "{large_answer}");
    assert!(large_answer.contains("ingest_max_bytes"), "{large_answer}");
    assert_eq!(bad, 422, "{bad_answer}");
    let bad: serde_json::Value = serde_json::from_str(&bad_answer).expect("JSON");
    assert_eq!(bad["items"][0]["index"], 1);
    assert_eq!(bad["items"][0]["error"], "no \"text\"");
    assert_eq!(bad["items"][1]["index"], 2);
    assert_eq!(ok, 200, "{answer}");
    let counts: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(
        (counts["received"].as_u64(), counts["new"].as_u64(), counts["matched"].as_u64()),
        (Some(3), Some(3), Some(2))
    );
    assert_eq!(again, 200);
    assert!(again_answer.contains("\"duplicates\":3") && again_answer.contains("\"new\":0"), "{again_answer}");
    assert!(metrics.contains("stormwatch_mentions_scored_total 2"), "only the first batch's matches: {metrics}");
    assert!(
        metrics.lines().any(|l| l.starts_with("stormwatch_mentions_ingested_total{")
            && l.contains("source=\"crm\"")
            && l.contains("label=\"neg\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );
    assert!(metrics.contains("stormwatch_mentions_new_total{source=\"crm\"} 3"), "{metrics}");
    assert!(metrics.contains("stormwatch_scoring_seconds_bucket"), "the scoring latency histogram: {metrics}");
    assert!(metrics.contains("stormwatch_channel_depth{channel=\"mentions\"}"), "{metrics}");

    let html = dir.path().join("report.html");
    let report = stormwatch()
        .args(["report", "--state"])
        .arg(dir.path().join("state.db"))
        .args(["--watch", "kroon-bank", "--from", "1h", "--out"])
        .arg(&html)
        .output()
        .expect("report");
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "{text}{}", String::from_utf8_lossy(&report.stderr));
    assert!(text.contains("2 mentions, 50% negative"), "{text}");
    assert!(text.contains("sources: crm 2"), "{text}");
    let page = std::fs::read_to_string(&html).expect("report.html");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the mention is shown as text");
    assert!(!page.contains("<script>"), "and never as markup");
}

#[test]
fn an_unreadable_simulated_clock_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("stormwatch.toml");
    std::fs::write(&config_path, "[storage]\npath = \"state.db\"\n").expect("config");
    let out = stormwatch()
        .args(["run", "-c"])
        .arg(&config_path)
        .env("STORMWATCH_CLOCK", "168,next monday,2026-12-03T17:00:00Z")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("STORMWATCH_CLOCK: simulated time \"next monday\" is not RFC 3339"), "{err}");
    assert!(err.contains("expected SPEED,SIM,REAL"), "says what is expected: {err}");
    assert!(!dir.path().join("state.db").exists(), "nothing was opened");
}
