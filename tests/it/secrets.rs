//! Secrets never leave where they were put: the SMTP password, the API token, a webhook
//! signing key, a Slack webhook URL and Bluesky credentials are configured (by env var and by
//! file), and the daemon runs at `RUST_LOG=trace` through a storm whose deliveries fail (SMTP
//! refuses the login, Slack answers 500, Bluesky refuses the session). Then every place a
//! secret could show is read — the daemon's log, `check`, `notify-test`, `alerts` and
//! `sources test` output, `/metrics`, the status page, the JSON API and its error answers,
//! and the state file itself — and none may hold any secret, plain or base64-encoded.

use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::support::daemon::signal;
use crate::support::http::exchange;
use crate::support::webhook_sink::{Reply, WebhookSink};
use crate::support::{free_port, smtp_sink, storm_stream, stormwatch, text};

const SMTP_PASSWORD: &str = "smtp-Pw-4f9d1c88";
const API_TOKEN: &str = "api-Tok-77aa21bb";
const HOOK_SECRET: &str = "hook-Sec-e3b0c442";
const SLACK_PATH: &str = "services/T0001/B0001/slackPath9c1e2d";
const BSKY_ID: &str = "bsky-Id-1a2b3c.example";
const BSKY_PASSWORD: &str = "bsky-Pw-5d6e-7f80-aa11";

/// A tiny base64 (standard alphabet, padded): the forms a secret takes in an AUTH line.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn no_secret_appears_in_logs_outputs_metrics_pages_api_answers_or_the_state_file() {
    let smtp = smtp_sink::SmtpSink::start();
    let slack = WebhookSink::start(vec![Reply::status(500); 100]);
    let hook = WebhookSink::start(vec![]);
    let bluesky = WebhookSink::start(vec![Reply::status(401); 100]);
    let dir = tempfile::tempdir().expect("temp dir");
    let now = Utc::now();
    let lines = storm_stream::stream_until(now - chrono::Duration::minutes(20), now);
    std::fs::write(dir.path().join("mentions.jsonl"), lines).expect("mentions");
    std::fs::write(dir.path().join("smtp.pw"), SMTP_PASSWORD).expect("password file");
    let port = free_port();
    let config = format!(
        "[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\ntoken_env = \"SW_TEST_API_TOKEN\"\n\
         [alerts]\npublic_url = \"http://127.0.0.1:{port}\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"sw@kroon.test\"\nusername = \"stormwatch\"\n\
         password_file = \"smtp.pw\"\ntimeout = \"3s\"\n\
         [[sources]]\nname = \"export\"\nkind = \"file\"\npath = \"mentions.jsonl\"\nbackfill = \"4d\"\ninterval = \"5s\"\n\
         [[sources]]\nname = \"bsky\"\nkind = \"bluesky\"\nquery = \"kroon bank\"\nidentifier_env = \"SW_TEST_BSKY_ID\"\n\
         password_env = \"SW_TEST_BSKY_PW\"\nurl = \"{}\"\ninterval = \"5s\"\n\
         [[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n\
         [[receivers]]\nname = \"team\"\nkind = \"email\"\nto = [\"crisis@kroon.test\"]\n\
         [[receivers]]\nname = \"slack\"\nkind = \"slack\"\nurl_env = \"SW_TEST_SLACK_URL\"\n\
         [[receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret_env = \"SW_TEST_HOOK_SECRET\"\n",
        smtp.port(),
        bluesky.url(""),
        hook.url("/hook")
    );
    let config_path = dir.path().join("stormwatch.toml");
    std::fs::write(&config_path, config).expect("config");
    let slack_url = slack.url(&format!("/{SLACK_PATH}"));
    let cli = |args: &[&str]| {
        let mut c = stormwatch();
        c.args(args)
            .arg("-c")
            .arg(&config_path)
            .env("RUST_LOG", "trace")
            .env("SW_TEST_API_TOKEN", API_TOKEN)
            .env("SW_TEST_HOOK_SECRET", HOOK_SECRET)
            .env("SW_TEST_SLACK_URL", &slack_url)
            .env("SW_TEST_BSKY_ID", BSKY_ID)
            .env("SW_TEST_BSKY_PW", BSKY_PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let mut seen: Vec<(String, String)> = Vec::new();
    let check = cli(&["check"]).output().expect("check");
    assert!(check.status.success(), "{}", text(&check));
    seen.push(("check".into(), text(&check)));

    // The log goes to a file: at trace level it would fill a pipe and stall the daemon.
    let log_path = dir.path().join("daemon.log");
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let mut daemon = cli(&["run"]).stderr(log_file).spawn().expect("start the daemon");
    // Until every receiver was tried (email and Slack fail, the webhook gets it).
    let end = Instant::now() + Duration::from_secs(60);
    while (hook.requests().is_empty() || slack.requests().is_empty()) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    for path in ["/metrics", "/", "/api/v1/alerts", "/api/v1/watches", "/readyz"] {
        seen.push((path.into(), exchange(port, "GET", path, "", "")));
    }
    let wrong = format!("Authorization: Bearer {}x\r\nContent-Type: application/json\r\n", &API_TOKEN[..8]);
    seen.push(("ingest, wrong token".into(), exchange(port, "POST", "/api/v1/ingest", &wrong, "[]")));
    seen.push(("ack, wrong token".into(), exchange(port, "POST", "/api/v1/alerts/x/ack", &wrong, "")));
    let _ = signal(daemon.id(), "TERM");
    let status = daemon.wait().expect("wait");
    let log = std::fs::read_to_string(&log_path).expect("daemon log");
    assert!(status.success(), "{log}");
    assert!(
        log.contains("slack") && log.contains("HTTP 500"),
        "the Slack failure is logged: it must be, without the URL"
    );
    assert!(log.contains("bsky"), "the Bluesky failure is logged");
    assert!(log.contains("receiver=team"), "so is the email receiver's");
    assert!(!log.contains('\u{1b}'), "a log that is not a terminal has no colour codes");
    seen.push(("daemon log at trace".into(), log));

    for args in [&["notify-test"][..], &["alerts"], &["sources", "test"]] {
        let o = cli(args).output().expect("cli");
        seen.push((args.join(" "), text(&o)));
    }
    let state = std::fs::read(dir.path().join("state.db")).expect("state file");
    let mut wal = std::fs::read(dir.path().join("state.db-wal")).unwrap_or_default();
    wal.extend(state);
    seen.push(("state file".into(), String::from_utf8_lossy(&wal).into_owned()));

    assert!(!hook.requests().is_empty(), "the webhook got the alert");
    let secrets = [SMTP_PASSWORD, API_TOKEN, HOOK_SECRET, SLACK_PATH, BSKY_ID, BSKY_PASSWORD];
    let mut forms: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    forms.extend(secrets.iter().map(|s| base64(s.as_bytes())));
    forms.push(base64(format!("\0stormwatch\0{SMTP_PASSWORD}").as_bytes()));
    for (place, content) in &seen {
        assert!(!content.is_empty() || place == "state file", "{place} was read");
        for f in &forms {
            assert!(!content.contains(f.as_str()), "a secret ({f}) shows in {place}");
        }
    }
    assert!(base64(b"Man") == "TWFu" && base64(b"Ma") == "TWE=", "the encoder the check relies on");
}
