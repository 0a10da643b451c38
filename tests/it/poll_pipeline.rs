//! The polling step against a real HTTP server on loopback and a real SQLite file: what a
//! crisis team relies on when feeds misbehave.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use tokio::sync::mpsc;

use stormwatch::config::Config;
use stormwatch::model::WatchedMention;
use stormwatch::secret::Environment;
use stormwatch::sources::handoff::{HandOff, MentionBatch};
use stormwatch::sources::poll::{next_delay, next_health, PollContext, PollStats, Source};
use stormwatch::sources::SourceSpec;
use stormwatch::sources::{Http, SourceError};
use stormwatch::store::{SourceHealth, Store};

use crate::support::{http, stormwatch};

/// What the fake news site answers next.
#[derive(Clone, Debug, PartialEq)]
enum Mode {
    Feed,
    TooMany { retry_after: u64 },
    ServerError,
    HtmlErrorPage,
    Truncated,
    InvalidUtf8,
    Huge,
    RedirectLoop,
}

#[derive(Debug)]
struct Site {
    /// (guid, title) newest first, as feeds list them.
    items: Vec<(String, String)>,
    mode: Mode,
    requests: usize,
    conditional_hits: usize,
}

type Shared = Arc<Mutex<Site>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Site> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn etag_of(items: &[(String, String)]) -> String {
    format!("\"{}-{}\"", items.len(), items.first().map(|i| i.0.as_str()).unwrap_or(""))
}

fn rss(items: &[(String, String)]) -> String {
    let entries: String = items
        .iter()
        .map(|(id, title)| {
            format!(
                "<item><guid>{id}</guid><title>{title}</title><link>https://news.example/{id}</link>\
                 <pubDate>{}</pubDate></item>",
                Utc::now().to_rfc2822()
            )
        })
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>News</title>{entries}</channel></rss>")
}

async fn feed(State(site): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&site);
    s.requests += 1;
    match s.mode.clone() {
        Mode::Feed => {
            let etag = etag_of(&s.items);
            if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
                s.conditional_hits += 1;
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
            }
            ([(header::ETAG, etag), (header::CONTENT_TYPE, "application/rss+xml".into())], rss(&s.items))
                .into_response()
        }
        Mode::TooMany { retry_after } => {
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, retry_after.to_string())], "slow down")
                .into_response()
        }
        Mode::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        Mode::HtmlErrorPage => {
            ([(header::CONTENT_TYPE, "text/html")], "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>")
                .into_response()
        }
        Mode::Truncated => {
            let full = rss(&s.items);
            full[..full.len() / 2].to_string().into_response()
        }
        Mode::InvalidUtf8 => {
            let mut body = rss(&s.items).into_bytes();
            body.splice(60..60, [0xff, 0xfe, 0xfd]);
            body.into_response()
        }
        Mode::Huge => vec![b' '; 2 * 1024 * 1024].into_response(),
        Mode::RedirectLoop => (StatusCode::FOUND, [(header::LOCATION, "/feed.xml")]).into_response(),
    }
}

async fn serve(items: &[(&str, &str)]) -> (SocketAddr, Shared) {
    let site = Arc::new(Mutex::new(Site {
        items: items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
        mode: Mode::Feed,
        requests: 0,
        conditional_hits: 0,
    }));
    let addr = http::serve(Router::new().route("/feed.xml", get(feed)).with_state(site.clone())).await;
    (addr, site)
}

fn config(addr: SocketAddr, db: &std::path::Path) -> Config {
    let toml = format!(
        r#"
        [storage]
        path = "{}"
        [[sources]]
        name = "news"
        kind = "rss"
        url = "http://{addr}/feed.xml"
        interval = "60s"
        max_body_bytes = 1048576
        [[watches]]
        name = "kroon"
        terms = ["kroon bank"]
        "#,
        db.display()
    );
    Config::from_toml_with_env(&toml, std::path::Path::new("/")).expect("test config is valid")
}

struct Rig {
    source: Source,
    ctx: PollContext,
    rx: mpsc::Receiver<WatchedMention>,
}

/// A stand-in for detection: takes each page's batch, passes its mentions on to the test
/// and says they are journaled.
fn acking() -> (mpsc::Sender<MentionBatch>, mpsc::Receiver<WatchedMention>) {
    let (tx, mut batches) = mpsc::channel::<MentionBatch>(16);
    let (fwd, rx) = mpsc::channel(100_000);
    tokio::spawn(async move {
        while let Some(b) = batches.recv().await {
            for m in b.mentions {
                let _ = fwd.send(m).await;
            }
            let _ = b.counted.send(Ok(()));
        }
    });
    (tx, rx)
}

fn rig(config: &Config, store: Store) -> Rig {
    let spec: SourceSpec = config.sources[0].clone();
    let http = Http::new("stormwatch-test").expect("client");
    let (tx, rx) = acking();
    let handoff = HandOff { store, matcher: Arc::new(config.matcher()), out: tx };
    let ctx = PollContext { handoff, stats: Arc::new(PollStats::default()) };
    Rig { source: Source::new(spec, &http, &Environment::default()).expect("source builds"), ctx, rx }
}

fn drain(rx: &mut mpsc::Receiver<WatchedMention>) -> Vec<String> {
    let mut ids = Vec::new();
    while let Ok(m) = rx.try_recv() {
        ids.push(m.mention.id);
    }
    ids
}

#[tokio::test]
async fn overlapping_polls_hand_each_mention_on_once_and_unmatched_ones_not_at_all() {
    let (addr, site) =
        serve(&[("a", "Kroon Bank storing"), ("b", "weather today"), ("c", "kroon bank app down")]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(addr, &dir.path().join("state.db"));
    let mut r = rig(&cfg, Store::open(&cfg.storage.path).expect("store"));

    let report = r.source.poll(&r.ctx, Utc::now()).await.expect("poll");
    assert_eq!((report.new, report.handed_on, report.error.clone()), (3, 2, None));
    assert_eq!(drain(&mut r.rx), ["a", "c"]);

    // The feed grows at the top and keeps the old items: only the new one is handed on.
    lock(&site).items.insert(0, ("d".into(), "Kroon Bank: sorry for the outage".into()));
    let report = r.source.poll(&r.ctx, Utc::now()).await.expect("poll");
    assert_eq!((report.new, report.duplicates), (1, 3));
    assert_eq!(drain(&mut r.rx), ["d"]);
}

#[tokio::test]
async fn an_unchanged_feed_costs_a_304_and_nothing_else() {
    let (addr, site) = serve(&[("a", "Kroon Bank storing")]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(addr, &dir.path().join("state.db"));
    let mut r = rig(&cfg, Store::open(&cfg.storage.path).expect("store"));
    r.source.poll(&r.ctx, Utc::now()).await.expect("first poll");
    drain(&mut r.rx);
    let report = r.source.poll(&r.ctx, Utc::now()).await.expect("second poll");
    assert!(report.not_modified, "{report:?}");
    assert_eq!((report.new, report.duplicates), (0, 0), "a 304 is not parsed");
    assert_eq!(lock(&site).conditional_hits, 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let (addr, site) = serve(&[("a", "Kroon Bank")]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(addr, &dir.path().join("state.db"));
    let r = rig(&cfg, Store::open(&cfg.storage.path).expect("store"));
    lock(&site).mode = Mode::TooMany { retry_after: 900 };
    let report = r.source.poll(&r.ctx, Utc::now()).await.expect("poll");
    let err = report.error.clone().expect("a 429 is a failed poll");
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(900)));
    let health = next_health(&SourceHealth::default(), &report, Utc::now());
    let wait = next_delay(cfg.sources[0].interval, &health, &report, 0.0);
    assert!(wait >= Duration::from_secs(900), "waited only {wait:?}");
}

#[tokio::test]
async fn server_errors_back_off_exponentially_and_count_as_failures() {
    let (addr, site) = serve(&[("a", "Kroon Bank")]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(addr, &dir.path().join("state.db"));
    let r = rig(&cfg, Store::open(&cfg.storage.path).expect("store"));
    lock(&site).mode = Mode::ServerError;
    let mut health = SourceHealth::default();
    let mut waits = Vec::new();
    for _ in 0..3 {
        let report = r.source.poll(&r.ctx, Utc::now()).await.expect("poll");
        assert_eq!(report.error.as_ref().map(SourceError::label), Some("server_error"));
        health = next_health(&health, &report, Utc::now());
        waits.push(next_delay(cfg.sources[0].interval, &health, &report, 0.0).as_secs());
    }
    assert_eq!(waits, [120, 240, 480]);
    assert_eq!(health.consecutive_failures, 3);
    assert_eq!(health.last_status, Some(500));
}

#[tokio::test]
async fn bad_bodies_fail_the_poll_with_a_clear_error_and_keep_the_cursor() {
    let (addr, site) = serve(&[("a", "Kroon Bank storing")]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(addr, &dir.path().join("state.db"));
    let mut r = rig(&cfg, Store::open(&cfg.storage.path).expect("store"));
    for (mode, label, words) in [
        (Mode::HtmlErrorPage, "parse", "HTML page"),
        (Mode::Truncated, "parse", "feed"),
        (Mode::Huge, "too_large", "max_body_bytes"),
        (Mode::RedirectLoop, "redirects", "redirects"),
    ] {
        lock(&site).mode = mode.clone();
        let report = r.source.poll(&r.ctx, Utc::now()).await.expect("a bad body is a failed poll, not a crash");
        let err = report.error.clone().unwrap_or_else(|| panic!("{mode:?} should fail"));
        assert_eq!(err.label(), label, "{mode:?}: {err}");
        assert!(err.to_string().contains(words), "{mode:?}: {err}");
        assert_eq!(r.ctx.handoff.store.source_state("news").expect("state"), None, "{mode:?} moved the cursor");
    }
    // Invalid UTF-8 inside the XML: refused or read around, but never a panic or a lost feed.
    lock(&site).mode = Mode::InvalidUtf8;
    let report = r.source.poll(&r.ctx, Utc::now()).await.expect("poll");
    assert!(report.error.is_some() || report.new == 1, "{report:?}");
    // Once the site is fine again, nothing was lost.
    lock(&site).mode = Mode::Feed;
    let report = r.source.poll(&r.ctx, Utc::now()).await.expect("poll");
    assert_eq!(report.error, None);
    drain(&mut r.rx);
    assert_eq!(r.ctx.handoff.store.seen_count("news").expect("count"), 1);
}

#[tokio::test]
async fn a_failing_source_does_not_hold_up_another() {
    let (good, _) = serve(&[("a", "Kroon Bank storing")]).await;
    let (bad, bad_site) = serve(&[]).await;
    lock(&bad_site).mode = Mode::ServerError;
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        r#"
        [storage]
        path = "{}"
        [[sources]]
        name = "broken"
        kind = "rss"
        url = "http://{bad}/feed.xml"
        interval = "5s"
        [[sources]]
        name = "news"
        kind = "rss"
        url = "http://{good}/feed.xml"
        interval = "5s"
        [[watches]]
        name = "kroon"
        terms = ["kroon bank"]
        "#,
        dir.path().join("state.db").display()
    );
    let cfg = Config::from_toml_with_env(&toml, std::path::Path::new("/")).expect("config");
    let http = Http::new("stormwatch-test").expect("client");
    let sources: Vec<Source> =
        cfg.sources.iter().map(|s| Source::new(s.clone(), &http, &Environment::default()).expect("source")).collect();
    let (tx, mut rx) = acking();
    let store = Store::open(&cfg.storage.path).expect("store");
    let handoff = HandOff { store: store.clone(), matcher: Arc::new(cfg.matcher()), out: tx };
    let ctx = PollContext { handoff, stats: Arc::new(PollStats::default()) };
    let (stop, watch) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(stormwatch::sources::poll::run(sources, ctx, Duration::from_secs(3600), watch));
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("the good source delivers promptly");
    assert_eq!(got.map(|m| m.mention.id).as_deref(), Some("a"));
    // First polls are spread over the first tenth of the interval: wait for the broken one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while store.health("broken").expect("health").is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    runner.await.expect("runner stops");
    let broken = store.health("broken").expect("health").expect("the broken source was polled");
    assert!(broken.consecutive_failures >= 1 && broken.last_status == Some(500), "{broken:?}");
    assert_eq!(store.health("news").expect("health").map(|h| h.consecutive_failures), Some(0));
}

/// Two runs of the real binary, as a restart would be: the second process resumes from the
/// state file and prints only what is new, nothing twice and nothing missed.
#[tokio::test]
async fn a_new_process_on_the_same_state_file_resumes_without_gap_or_double_count() {
    let (addr, site) = serve(&[("a", "Kroon Bank storing"), ("b", "Kroon Bank app down")]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg_path = dir.path().join("stormwatch.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[storage]\npath = \"state.db\"\n[[sources]]\nname = \"news\"\nkind = \"rss\"\nurl = \"http://{addr}/feed.xml\"\n\
             [[watches]]\nname = \"kroon\"\nterms = [\"kroon bank\"]\n"
        ),
    )
    .expect("write config");
    let run = |cfg: std::path::PathBuf| async move {
        tokio::task::spawn_blocking(move || {
            stormwatch().args(["sources", "poll", "--once", "-c"]).arg(&cfg).output().expect("run stormwatch")
        })
        .await
        .expect("join")
    };
    let ids = |out: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("JSON line")["id"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    let first = run(cfg_path.clone()).await;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(ids(&first), ["a", "b"]);

    // While stormwatch is down, the feed moves on.
    lock(&site).items.insert(0, ("c".into(), "Kroon Bank: we are working on it".into()));
    lock(&site).items.insert(0, ("d".into(), "still no kroon bank app".into()));
    let second = run(cfg_path.clone()).await;
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(ids(&second), ["d", "c"]);

    let third = run(cfg_path).await;
    assert!(ids(&third).is_empty(), "nothing new, nothing repeated");
}

/// `sources test` as users debug a feed: what came back per source, and a failing exit
/// status when any source failed; no state written.
#[tokio::test]
async fn sources_test_shows_each_source_and_fails_when_one_fails() {
    let (good, _) = serve(&[("a", "Kroon Bank storing \u{1b}[2J"), ("b", "weer")]).await;
    let (bad, bad_site) = serve(&[]).await;
    lock(&bad_site).mode = Mode::ServerError;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("stormwatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\npath = \"state.db\"\n\
             [[sources]]\nname = \"news\"\nkind = \"rss\"\nurl = \"http://{good}/feed.xml\"\n\
             [[sources]]\nname = \"broken\"\nkind = \"rss\"\nurl = \"http://{bad}/feed.xml\"\n"
        ),
    )
    .expect("write config");
    let run = |args: Vec<String>| async move {
        tokio::task::spawn_blocking(move || stormwatch().args(args).output().expect("run")).await.expect("join")
    };
    let cfg_arg = cfg.display().to_string();
    let out = run(vec!["sources".into(), "test".into(), "-c".into(), cfg_arg.clone()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("news (rss): 2 items, 0 skipped"), "{stdout}");
    assert!(stdout.contains("broken (rss): FAILED (server_error): HTTP 500"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "terminal escapes in feed text are shown, not obeyed");
    assert!(!dir.path().join("state.db").exists(), "sources test writes no state");

    let out =
        run(vec!["sources".into(), "test".into(), "-c".into(), cfg_arg.clone(), "--source".into(), "news".into()])
            .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(vec!["sources".into(), "test".into(), "-c".into(), cfg_arg, "--source".into(), "nope".into()]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no source is named \"nope\""));
}
