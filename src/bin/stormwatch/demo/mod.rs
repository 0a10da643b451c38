//! `stormwatch demo`: the real pipeline on an embedded configuration and an offline story.
//! The process serves the story itself on loopback — a Mastodon instance's tag timelines and
//! a news RSS feed, in their real shapes, beside a history export — and receives its own
//! webhooks (checking each signature, as a receiver would). Alerts are printed, written as
//! `.eml` and `.html` to a folder, and kept in the state file.

mod scenario;

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};

use scenario::Post;
use stormwatch::config::Config;
use stormwatch::pipeline::Pipeline;
use stormwatch::secret::Environment;
use stormwatch::sentiment::Scorer;
use stormwatch::server::Stats;
use stormwatch::store::Store;

/// The demo ends by itself after this, or once both storms were alerted.
const LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Story {
    posts: Arc<Vec<Post>>,
    secret: Arc<Vec<u8>>,
    received: Arc<Mutex<Vec<Value>>>,
}

#[derive(serde::Deserialize)]
struct Page {
    max_id: Option<u64>,
    min_id: Option<u64>,
    limit: Option<usize>,
}

/// `GET /api/v1/timelines/tag/{tag}`: statuses whose time has come, newest first, honouring
/// `max_id` (older than) and `min_id` (the page just newer than), as Mastodon does.
async fn timeline(State(s): State<Story>, UrlPath(tag): UrlPath<String>, Query(q): Query<Page>) -> impl IntoResponse {
    let now = Utc::now();
    let mut due: Vec<&Post> = s
        .posts
        .iter()
        .filter(|p| p.channel == tag && p.at <= now)
        .filter(|p| q.max_id.is_none_or(|m| p.id < m))
        .collect();
    let limit = q.limit.unwrap_or(20).clamp(1, 40);
    if let Some(min) = q.min_id {
        due.retain(|p| p.id > min);
        due.sort_by_key(|p| p.id);
        due.truncate(limit);
    }
    due.sort_by_key(|p| std::cmp::Reverse(p.id));
    due.truncate(limit);
    let statuses: Vec<Value> = due.iter().map(|p| status(p)).collect();
    axum::Json(statuses)
}

fn status(p: &Post) -> Value {
    let user = &p.author;
    json!({
        "id": p.id.to_string(),
        "created_at": p.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "in_reply_to_id": null, "in_reply_to_account_id": null, "sensitive": false, "spoiler_text": "",
        "visibility": "public", "language": p.lang,
        "uri": format!("https://social.example/users/{user}/statuses/{}", p.id),
        "url": format!("https://social.example/@{user}/{}", p.id),
        "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
        "content": format!("<p>{}</p>", html_escape::encode_text(&p.text)),
        "reblog": null, "application": {"name": "Web", "website": null},
        "account": {
            "id": p.id.to_string(), "username": user, "acct": format!("{user}@social.example"), "display_name": user,
            "locked": false, "bot": false, "url": format!("https://social.example/@{user}"),
            "followers_count": p.followers, "following_count": 10, "statuses_count": 100, "emojis": [], "fields": []
        },
        "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": null, "poll": null
    })
}

/// `GET /news.rss`: the news items whose time has come.
async fn news(State(s): State<Story>) -> impl IntoResponse {
    let now = Utc::now();
    let mut items = String::new();
    for p in s.posts.iter().filter(|p| p.channel == "news" && p.at <= now) {
        items += &format!(
            "<item><title>{t}</title><link>https://news.example/{id}</link><guid>https://news.example/{id}</guid>\
             <pubDate>{d}</pubDate><description>{t}</description></item>",
            t = html_escape::encode_text(&p.text),
            id = p.id,
            d = p.at.to_rfc2822()
        );
    }
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>News</title>\
         <link>https://news.example/</link><description>Business news</description>{items}</channel></rss>"
    );
    ([(header::CONTENT_TYPE, "application/rss+xml")], body)
}

/// `POST /hook`: a receiver of stormwatch's signed webhooks, checking the signature from the
/// documented scheme before it believes a word.
async fn hook(State(s): State<Story>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let sig = headers.get("stormwatch-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(t) = sig.split(',').find_map(|p| p.strip_prefix("t=")).and_then(|t| t.parse::<i64>().ok()) else {
        return StatusCode::UNAUTHORIZED;
    };
    let expected = stormwatch::notify::signature(&s.secret, t, &body);
    if expected != sig || (Utc::now().timestamp() - t).abs() > 300 {
        println!("demo receiver: REJECTED a webhook with a bad signature");
        return StatusCode::UNAUTHORIZED;
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            println!("demo receiver: REJECTED a signed webhook that is not JSON ({e})");
            return StatusCode::BAD_REQUEST;
        }
    };
    print_alert(&v);
    if let Ok(mut r) = s.received.lock() {
        r.push(v);
    }
    StatusCode::OK
}

fn print_alert(v: &Value) {
    let text = |v: &Value| stormwatch::escape::plain(v.as_str().unwrap_or(""));
    println!("\n── webhook received, signature verified ─────────────────────────────");
    println!("{}", text(&v["subject"]));
    if let Some(m) = v["mentions"].as_array().and_then(|m| m.first()) {
        println!(
            "  most reached: {} ({} followers): \"{}\"",
            text(&m["author"]),
            m["reach"].as_u64().unwrap_or(0),
            text(&m["text"])
        );
    }
    let terms: Vec<String> =
        v["top_terms"].as_array().into_iter().flatten().take(5).map(|t| text(&t["term"])).collect();
    if !terms.is_empty() {
        println!("  top terms: {}", terms.join(", "));
    }
    if let Some(h) = v["holding_statement"].as_object() {
        println!("  holding statement ({}): {}", text(&h["lang"]), text(&h["text"]));
    }
    if let Some(url) = v["ack_url"].as_str() {
        println!("  acknowledge: {url}");
    }
}

fn free_port(preferred: u16) -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", preferred))
        .or_else(|_| std::net::TcpListener::bind(("127.0.0.1", 0)))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(preferred)
}

fn config_text(feeds: u16, server: u16) -> String {
    format!(
        r#"
[storage]
path = "stormwatch.db"

[server]
listen = "127.0.0.1:{server}"

[alerts]
public_url = "http://127.0.0.1:{server}"
resolve_after = "2m"

[[sources]]
name = "history-export"
kind = "file"
path = "history.jsonl"
backfill = "4d"
interval = "5s"

[[sources]]
name = "mastodon"
kind = "mastodon"
url = "http://127.0.0.1:{feeds}"
tags = ["kroonbank", "jantar"]
interval = "5s"
backfill = "1h"

[[sources]]
name = "news"
kind = "rss"
url = "http://127.0.0.1:{feeds}/news.rss"
interval = "5s"

[[watches]]
name = "Kroon Bank"
terms = ["kroon bank"]
languages = ["nl", "en"]
[watches.thresholds]
bucket = "10s"

[[watches]]
name = "Jantar Mobile"
terms = ["jantar mobile"]
languages = ["pl"]
[watches.thresholds]
bucket = "10s"

[[receivers]]
name = "crisis-team"
kind = "folder"
path = "alerts"

[[receivers]]
name = "ops-hook"
kind = "webhook"
url = "http://127.0.0.1:{feeds}/hook"
secret_file = "hook.secret"
"#
    )
}

/// What the demo saw, for its closing lines (and the test).
#[derive(Debug, Clone)]
struct Outcome {
    /// Every webhook the story's receiver took, signature checked.
    alerts: Vec<Value>,
}

/// Runs the story in `dir` (created; its earlier demo files are replaced). Ends after both
/// storms were alerted or `LIMIT`, unless `follow`, which runs until `stop`.
async fn story(dir: &Path, follow: bool, stop: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(dir)?;
    for old in ["stormwatch.db", "stormwatch.db-wal", "stormwatch.db-shm"] {
        let _ = std::fs::remove_file(dir.join(old));
    }
    let _ = std::fs::remove_dir_all(dir.join("alerts"));
    let start = Utc::now();
    std::fs::write(dir.join("history.jsonl"), scenario::history(start))?;
    let secret: Vec<u8> = stormwatch::alert::AckSigner::generate_key();
    std::fs::write(dir.join("hook.secret"), hex::encode(&secret))?;
    let story = Story {
        posts: Arc::new(scenario::live(start)),
        secret: Arc::new(hex::encode(&secret).into_bytes()),
        received: Arc::default(),
    };
    let feeds = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let feeds_port = feeds.local_addr()?.port();
    let app = Router::new()
        .route("/api/v1/timelines/tag/{tag}", get(timeline))
        .route("/news.rss", get(news))
        .route("/hook", post(hook))
        .with_state(story.clone());
    let mut feeds_stop = stop.clone();
    let (pipeline_stop_tx, pipeline_stop) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(async move {
        axum::serve(feeds, app)
            .with_graceful_shutdown(async move {
                let _ = feeds_stop.wait_for(|s| *s).await;
            })
            .await
    });
    let server_port = free_port(9464);
    let config =
        Config::from_toml_with_env(&config_text(feeds_port, server_port), dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = Store::open(&config.storage.path)?;
    let scorer = Arc::new(Scorer::builtin()?);
    let pipeline = Pipeline::build(config, store.clone(), scorer, Arc::new(Stats::default()), Environment::process())
        .map_err(|p| anyhow::anyhow!("{}", p.join("\n")))?;
    let status_url = format!("http://127.0.0.1:{server_port}/");
    println!(
        "stormwatch demo: a story of two storms, served on 127.0.0.1:{feeds_port}; state and alerts in {}",
        dir.display()
    );
    println!("stormwatch demo: watching Kroon Bank (nl, en) and Jantar Mobile (pl); status page at {status_url}");
    let running = tokio::spawn(pipeline.run(pipeline_stop));
    let deadline = tokio::time::Instant::now() + LIMIT;
    let mut stop = stop;
    loop {
        let both = story.received.lock().map(|r| {
            let seen = |w: &str| r.iter().any(|a| a["watch"] == w && a["status"] == "firing");
            seen("Kroon Bank") && seen("Jantar Mobile")
        });
        if (!follow && (both.unwrap_or(false) || tokio::time::Instant::now() >= deadline)) || *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stop.changed() => {}
        }
    }
    let _ = pipeline_stop_tx.send(true);
    running.await??;
    serving.abort();
    let alerts = story.received.lock().map(|r| r.clone()).unwrap_or_default();
    if !follow {
        println!("stormwatch demo: run with --follow to keep it running and open the status page at {status_url}");
    }
    let files = std::fs::read_dir(dir.join("alerts")).map(|d| d.count()).unwrap_or(0);
    let counts = store.outbox_counts()?;
    println!(
        "\nstormwatch demo: {} alerts received by the webhook; {files} files in {} (.eml and .html); \
         outbox: {} delivered, {} pending",
        alerts.len(),
        dir.join("alerts").display(),
        counts.delivered,
        counts.pending
    );
    Ok(Outcome { alerts })
}

/// Runs the story; fails unless both storms were alerted.
pub(crate) fn run(out: &Path, follow: bool) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("starting the async runtime: {e}"))?;
    rt.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(true);
        });
        let outcome = story(out, follow, stop_rx).await?;
        let watches: std::collections::BTreeSet<&str> =
            outcome.alerts.iter().filter_map(|a| a["watch"].as_str()).collect();
        if watches.len() < 2 {
            eprintln!("stormwatch demo: expected alerts for both storms, got them for {watches:?}");
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    })
}
