//! Text written by strangers arrives inert, end to end: a storm whose evidence holds hostile
//! posts goes through the real dispatcher and outbox worker to a Slack webhook, a Teams
//! webhook and a signed generic webhook (all on loopback) and by email to a real SMTP server
//! on loopback; and the real binary reads a loopback feed whose items hold terminal escapes.
//! - Slack: no live `<!channel>`, `<@U…>` or `<url|label>` syntax (entity-escaped);
//! - Teams: no live markdown link;
//! - email: no header or recipient added from an author name, no tag from a post in the HTML;
//! - generic webhook: every text exactly as written, as a JSON string (machines decide);
//! - terminal: no raw ESC or BEL on the binary's stdout or stderr.
//!
//! The renderers' unit tests (src/alert/render.rs) check each escaping function; these check
//! that what reaches a receiver over the wire went through them.

use std::process::Output;
use std::time::Duration;

use chrono::Utc;
use stormwatch::model::{Measure, MentionRef, Phase, Severity, Signal, SignalKind};
use stormwatch::notify::RetryPolicy;
use stormwatch::pipeline::Dispatcher;
use stormwatch::secret::Environment;

use crate::support::alerts::{self, Setup};
use crate::support::smtp_sink::{parse, SmtpSink};
use crate::support::webhook_sink::WebhookSink;
use crate::support::{http, kroon_signal, stormwatch};

/// Slack's mrkdwn: a channel-wide ping, a user ping, a link with a label that hides it, formatting.
const SLACK: &str = "<!channel> <@U123> <https://evil.example|click> *bold* _x_ ~y~ `code`";
/// HTML that would run or load something in a mail client or a web view.
const HTML: &str = "<script>alert(1)</script> \"><img src=x onerror=alert(1)>";
/// A Teams / Adaptive Card markdown link, and terminal escapes (clear screen, set the window title).
const TEAMS_AND_TERMINAL: &str = "[click](https://evil.example) \u{1b}[2J\u{1b}]0;pwned\u{7}";
/// An author name that tries to end the Subject header and add its own.
const AUTHOR: &str = "mallory\r\nBcc: victim@example.org\r\nSubject: pwned";

fn mention(id: &str, text: &str, author: &str, reach: u64) -> MentionRef {
    MentionRef {
        source: "mastodon-social".into(),
        id: id.into(),
        author: Some(author.into()),
        reach: Some(reach),
        url: Some(format!("https://social.example/@x/{id}")),
        text: format!("Kroon Bank {text}"),
        compound: -0.8,
        published: Utc::now(),
    }
}

/// A high-reach post storm: the most-reached author's name goes into the subject too.
fn hostile_signal() -> Signal {
    let mut s = kroon_signal::signal(Phase::Started, Severity::Critical, Utc::now());
    s.kind = SignalKind::HighReach;
    s.measure = Measure::Reach;
    s.value = 2e6;
    s.evidence.top_mentions = vec![
        mention("1", SLACK, AUTHOR, 2_000_000),
        mention("2", HTML, "<b>ann</b>", 900_000),
        mention("3", TEAMS_AND_TERMINAL, "bob\u{1b}[31m", 500_000),
    ];
    s
}

fn has_control_escape(s: &str) -> bool {
    s.contains('\u{1b}') || s.contains('\u{7}')
}

#[test]
fn hostile_posts_arrive_inert_at_slack_teams_email_and_verbatim_in_the_webhook_json() {
    let hooks = WebhookSink::start(vec![]);
    let smtp = SmtpSink::start();
    let text = format!(
        "[storage]\npath = \"state.db\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"stormwatch@kroon.test\"\ntimeout = \"3s\"\n\
         [[watches]]\nname = \"Kroon Bank\"\nterms = [\"kroon bank\"]\n\
         [[receivers]]\nname = \"slack\"\nkind = \"slack\"\nurl = \"{}\"\n\
         [[receivers]]\nname = \"teams\"\nkind = \"teams\"\nurl = \"{}\"\n\
         [[receivers]]\nname = \"machines\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret_file = \"hook.secret\"\n\
         [[receivers]]\nname = \"crisis-team\"\nkind = \"email\"\nto = [\"crisis@kroon.test\"]\n",
        smtp.port(),
        hooks.url("/slack"),
        hooks.url("/teams"),
        hooks.url("/hook"),
    );
    let Setup { _dir, config, store } = alerts::setup(&[("hook.secret", "k")], &text);
    let mut d = Dispatcher::open(&config, store.clone(), &Environment::default()).expect("dispatcher");
    assert_eq!(d.signal(&hostile_signal()).expect("signal"), 4, "one delivery per receiver");
    let retry = RetryPolicy { base: Duration::from_millis(100), ..RetryPolicy::new(Duration::from_secs(60)) };
    alerts::drain(&mut d, &config, retry, Duration::from_secs(20));

    let posts = hooks.wait_for(3, Duration::from_secs(5));
    let body = |path: &str| {
        let r = posts.iter().find(|r| r.path == path).unwrap_or_else(|| panic!("nothing at {path}: {posts:?}"));
        (String::from_utf8_lossy(&r.body).into_owned(), r.json())
    };

    // Slack: the raw JSON and every decoded string in it.
    let (slack_raw, slack) = body("/slack");
    let slack_text = strings(&slack).join("\n");
    for live in ["<!channel>", "<@U123>", "<@", "<https://evil.example", "<http", "<script", "<img", "<b>"] {
        assert!(!slack_text.contains(live), "{live} is live in Slack: {slack_text}");
    }
    assert!(slack_text.contains("&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt;"), "{slack_text}");
    assert!(!has_control_escape(&slack_text), "a terminal escape reached Slack: {slack_raw}");
    // A post stays on its own quoted line: line breaks in it cannot start a block of its own.
    assert!(slack_text.contains(">Kroon Bank &lt;!channel&gt;"), "{slack_text}");
    assert!(!slack_text.contains("\nBcc:") && !slack_text.contains("\nSubject: pwned"), "{slack_text}");

    // Teams: no markdown link from a post survives, in any text of the card.
    let (teams_raw, teams) = body("/teams");
    let teams_text = strings(&teams).join("\n");
    assert!(teams_raw.contains("application/vnd.microsoft.card.adaptive"), "{teams_raw}");
    assert!(!teams_text.contains("[click](https://evil.example)"), "a live link reached Teams: {teams_text}");
    assert!(!teams_text.contains("](https://evil"), "{teams_text}");
    assert!(teams_text.contains("[click]") && teams_text.contains("https://evil.example"), "shown, not linked");
    for live in ["<script", "<img", "<b>"] {
        assert!(!teams_text.contains(live), "{live} reached Teams: {teams_text}");
    }
    assert!(!has_control_escape(&teams_text), "a terminal escape reached Teams: {teams_raw}");

    // The generic webhook: the contract for machines is the text exactly as written.
    let (_, hook) = body("/hook");
    let sent = hostile_signal().evidence.top_mentions;
    let got = hook["mentions"].as_array().expect("mentions in the webhook JSON");
    assert_eq!(got.len(), sent.len());
    for (g, s) in got.iter().zip(&sent) {
        assert_eq!(g["text"].as_str(), Some(s.text.as_str()), "the text verbatim");
        assert_eq!(g["author"].as_str(), s.author.as_deref(), "the author verbatim");
    }

    // Email: the envelope and headers are the configured ones; the HTML holds no tag from a post.
    let mail = smtp.wait_for(1, Duration::from_secs(5));
    assert_eq!(mail.len(), 1, "one message");
    assert_eq!(mail[0].to, ["crisis@kroon.test"], "no recipient added");
    let m = parse(&mail[0].data);
    let named = |name: &str| m.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count();
    assert_eq!(named("bcc"), 0, "{:?}", m.headers);
    assert_eq!(named("subject"), 1, "{:?}", m.headers);
    assert!(m.subject.starts_with("[CRITICAL] Kroon Bank: negative post by mallory"), "{}", m.subject);
    assert!(!m.subject.contains('\r') && !m.subject.contains('\n') && !has_control_escape(&m.subject));
    assert!(!m.headers.iter().any(|(_, v)| v.trim() == "pwned"), "{:?}", m.headers);
    let html = m.html.expect("an HTML part");
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<b>ann</b>"), "{html}");
    let images: Vec<&str> = html.match_indices("<img").map(|(i, _)| &html[i..html.len().min(i + 40)]).collect();
    assert!(images.iter().all(|tag| tag.starts_with("<img src=\"cid:chart@stormwatch\"")), "{images:?}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "shown as text: {html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "shown as text: {html}");
    let text = m.text.expect("a text part");
    assert!(!has_control_escape(&text) && !has_control_escape(&html), "a terminal escape reached the email");
    assert!(text.contains("[click](https://evil.example)"), "the plain text shows the post: {text}");
}

/// Every string in a JSON value, decoded (the form a chat client renders).
fn strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().flat_map(strings).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// `stormwatch args… -c config` at `RUST_LOG=debug`, run to its end.
fn run_debug(args: &[&str], config: &std::path::Path) -> Output {
    stormwatch().args(args).arg("-c").arg(config).env("RUST_LOG", "debug").output().expect("run stormwatch")
}

#[test]
fn terminal_escapes_in_a_feed_reach_neither_stdout_nor_the_log() {
    const ESC: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}";
    let now = Utc::now().to_rfc3339();
    let feed = serde_json::json!({"data": [
        {"id": "1", "text": format!("Kroon Bank storing {ESC} weer"), "author": format!("mallory{ESC}"),
         "followers": 10, "created": now, "url": format!("https://social.example/1{ESC}")},
        // No text: skipped, and its id is shown in the skip line and logged.
        {"id": format!("evil{ESC}"), "created": now},
        {"id": "3", "text": "Kroon Bank is down", "created": "not a time \u{1b}[31m"},
    ]});
    // The same page for every request.
    let feed = feed.to_string();
    let addr = http::serve_json(move |_| feed.clone());
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("stormwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"state.db\"\n\
             [[sources]]\nname = \"feed\"\nkind = \"json\"\nurl = \"http://{addr}/feed\"\nitems = \"/data\"\n\
             [sources.fields]\nid = \"/id\"\ntext = \"/text\"\nauthor = \"/author\"\nfollowers = \"/followers\"\n\
             created = \"/created\"\nurl = \"/url\"\n\
             [sources.cursor]\nstrategy = \"max_id\"\nparam = \"since_id\"\n\
             [[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n"
        ),
    )
    .expect("config");

    let test = run_debug(&["sources", "test"], &config);
    let shown = String::from_utf8_lossy(&test.stdout);
    assert!(test.status.success(), "{shown}\n{}", String::from_utf8_lossy(&test.stderr));
    assert!(shown.contains("\\u{1b}[2J"), "the escape is shown, visibly: {shown}");
    assert!(shown.contains("skipped evil\\u{1b}"), "the skipped item is named: {shown}");
    let poll = run_debug(&["sources", "poll", "--once"], &config);
    let log = String::from_utf8_lossy(&poll.stderr);
    assert!(log.contains("items skipped"), "the skip is logged: {log}");
    let lines = String::from_utf8_lossy(&poll.stdout);
    let printed: Vec<serde_json::Value> = lines.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(
        printed.iter().any(|m| m["text"].as_str().is_some_and(|t| t.contains(ESC))),
        "the JSON line carries the text exactly (JSON-escaped): {lines}"
    );

    for (what, out) in [("sources test", &test), ("sources poll", &poll)] {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !bytes.contains(&0x1b) && !bytes.contains(&0x07),
                "a raw ESC or BEL reached {what}'s {stream}: {}",
                String::from_utf8_lossy(bytes).escape_debug()
            );
        }
    }
}
