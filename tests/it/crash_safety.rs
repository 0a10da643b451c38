//! Crash safety: the real binary polls a JSON feed on loopback (four days of a bank's
//! mentions with an outage storm, the live part appearing as wall-clock time passes) and
//! alerts a webhook receiver that answers slowly, and is killed with SIGKILL at random
//! moments (while polling, journaling, saving windows, delivering), restarted each time on
//! the same state file. Then it runs to the end of the feed and stops. Afterwards:
//! - every served mention is in the journal exactly once, and the watch's windows count
//!   each exactly once (per 5-minute step, against the feed itself);
//! - no window warmed up again (the baseline continued through every restart);
//! - every delivery in the outbox was delivered, the receiver saw duplicates only with the
//!   same Idempotency-Key, and no alert fired twice (one firing per fingerprint and alert).
//!
//! The short form (10 kills) runs in `cargo test`; the long form is
//! `STORMWATCH_CRASH_KILLS=50 cargo test --release --test it crash_safety:: -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use stormwatch::store::{DeliveryStatus, Store};

use crate::support::daemon::Daemon;
use crate::support::webhook_sink::WebhookSink;
use crate::support::{free_port, http, storm_stream};

/// One feed item: numeric id (the cursor compares ids), text, author, audience, time.
#[derive(Clone)]
struct Item {
    id: u64,
    text: String,
    author: String,
    followers: u64,
    published: DateTime<Utc>,
}

/// The feed: items published up to now (and up to `end`), after `since_id`, oldest first.
struct Feed {
    items: Vec<Item>,
    end: DateTime<Utc>,
}

async fn feed(State(f): State<Arc<Feed>>, Query(q): Query<BTreeMap<String, String>>) -> axum::Json<serde_json::Value> {
    let since: u64 = q.get("since_id").and_then(|s| s.parse().ok()).unwrap_or(0);
    let upto = Utc::now().min(f.end);
    let data: Vec<serde_json::Value> = f
        .items
        .iter()
        .filter(|i| i.id > since && i.published <= upto)
        // All of it in one page: with the `max_id` cursor a first poll is one request, and
        // a backfill must arrive in it to be counted in time order.
        .take(20_000)
        .map(|i| {
            serde_json::json!({"id": i.id, "text": i.text, "author": i.author, "followers": i.followers,
                "created": i.published.to_rfc3339()})
        })
        .collect();
    axum::Json(serde_json::json!({ "data": data }))
}

#[test]
fn killed_at_random_moments_it_counts_every_mention_once_and_delivers_every_alert() {
    let kills: usize = std::env::var("STORMWATCH_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let t0 = Utc::now();
    // The storm began 20 minutes ago; the feed ends 25 s from now.
    let onset = t0 - chrono::Duration::minutes(20);
    let end = t0 + chrono::Duration::seconds(25);
    let items: Vec<Item> = storm_stream::stream(onset)
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some(Item {
                id: v["id"].as_str()?.trim_start_matches('m').parse().ok()?,
                text: v["text"].as_str()?.to_string(),
                author: v["author"].as_str()?.to_string(),
                followers: v["followers"].as_u64()?,
                published: v["published"].as_str()?.parse().ok()?,
            })
        })
        .filter(|i| i.published <= end)
        .collect();
    // Ids in order of publication, as a real API numbers posts (the cursor relies on it).
    let mut items = items;
    items.sort_by_key(|i| (i.published, i.id));
    for (n, i) in items.iter_mut().enumerate() {
        i.id = n as u64 + 1;
    }
    let served = items.len();
    let feed_state = Arc::new(Feed { items: items.clone(), end });
    let feed_addr =
        http::serve_in_background(axum::Router::new().route("/feed", axum::routing::get(feed)).with_state(feed_state));
    // A slow receiver, so that kills land in the middle of deliveries too.
    let sink = WebhookSink::start_with_delay(vec![], Duration::from_millis(300));
    std::fs::write(dir.path().join("hook.secret"), "k").expect("secret");
    let port = free_port();
    let config = format!(
        "[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
         [alerts]\npublic_url = \"http://127.0.0.1:{port}\"\n\
         [[sources]]\nname = \"feed\"\nkind = \"json\"\nurl = \"http://{feed_addr}/feed\"\nitems = \"/data\"\n\
         interval = \"5s\"\nbackfill = \"4d\"\n\
         [sources.fields]\nid = \"/id\"\ntext = \"/text\"\nauthor = \"/author\"\nfollowers = \"/followers\"\ncreated = \"/created\"\n\
         [sources.cursor]\nstrategy = \"max_id\"\nparam = \"since_id\"\n\
         [[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n\
         [[receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret_file = \"hook.secret\"\n",
        sink.url("/hook")
    );
    let config_path = dir.path().join("stormwatch.toml");
    std::fs::write(&config_path, config).expect("config");
    let log_path = dir.path().join("daemon.log");

    // Kill at random moments (a fixed seed: the same moments on every run).
    let mut rng = storm_stream::Rng(0x00c0_ffee_d00d_5eed);
    // Every start appends to the one log, so the starts can be counted in it.
    let mut daemon = Daemon::start(&config_path, log_path.clone());
    // Where the log stood when the last start began: a kill can come before a start logs
    // "running" (on a loaded machine start-up takes longer than the shortest gap), so the
    // starts that came up cannot be counted; the last one's own lines can be.
    let mut last_start = 0;
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(200 + (rng.next() * 2800.0) as u64));
        let _ = daemon.child.kill(); // SIGKILL
        let _ = daemon.child.wait();
        last_start = daemon.log().len();
        daemon = Daemon::start(&config_path, log_path.clone());
    }

    // Then let it run: up, to the end of the feed, every mention journaled, nothing pending.
    let store = Store::open(&dir.path().join("state.db")).expect("state file");
    let deadline = Instant::now() + Duration::from_secs(120);
    // Up means its last start logged "running" (signal handlers are in place by then, so the
    // SIGTERM below is a stop request, not a kill).
    while !daemon.log().get(last_start..).is_some_and(|l| l.contains("stormwatch running")) {
        if Instant::now() > deadline {
            let _ = daemon.child.kill();
            panic!("the last start never came up:\n{}", daemon.log());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let journaled = |store: &Store| {
        store
            .each_logged_mention(
                "kroon-bank",
                onset - chrono::Duration::days(4),
                end + chrono::Duration::seconds(1),
                |_| {},
            )
            .unwrap_or(0)
    };
    loop {
        let settled = Utc::now() > end + chrono::Duration::seconds(6)
            && journaled(&store) as usize == served
            && store.outbox_counts().map(|c| c.pending == 0 && c.held == 0).unwrap_or(false);
        if settled || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let status = daemon.terminate();
    let log = daemon.log();
    assert!(status.success(), "the last run stops cleanly: {status:?}\n{log}");

    // Every mention once, in the journal and in the windows.
    let counted = journaled(&store) as usize;
    assert_eq!(counted, served, "every served mention is journaled exactly once");
    let saved = store.detector_state("watch:kroon-bank").expect("read").expect("window state saved");
    let params = stormwatch::config::Config::load(&config_path).expect("config").watches[0].detection.clone();
    let detector = stormwatch::detect::WatchDetector::restore("kroon-bank", params, &saved.bytes).expect("restore");
    let (timeline, _, _) = detector.snapshot(Utc::now());
    assert!(!timeline.is_empty(), "the window has a timeline");
    let mut compared = 0;
    for p in &timeline {
        let upto = p.at + chrono::Duration::minutes(5);
        let truth = items.iter().filter(|i| i.published >= p.at && i.published < upto).count();
        assert_eq!(p.mentions as usize, truth, "the window counted the step at {} once each", p.at);
        compared += truth;
    }
    assert!(compared > 100, "the steps compared hold the live part of the feed: {compared}");
    assert!(!log.contains("warms up again"), "no restart lost a window's baseline");
    // A start killed before it logged "running" does not count; the last one came up (above).
    let restarts = log.matches("stormwatch running").count();
    assert!((1..=kills + 1).contains(&restarts), "{restarts} starts logged for {kills} kills");

    // Every delivery delivered; duplicates only under one key; no alert fired twice.
    let deliveries = store.deliveries(None).expect("deliveries");
    assert!(!deliveries.is_empty(), "the storm alerted:\n{log}");
    let requests = sink.requests();
    let keys: BTreeMap<String, usize> = requests.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.header("idempotency-key").unwrap_or("").to_string()).or_default() += 1;
        m
    });
    for d in &deliveries {
        assert_eq!(d.status, DeliveryStatus::Delivered, "delivery {} ended {:?}", d.key, d.status);
        assert!(keys.contains_key(&d.key), "delivery {} reached the receiver", d.key);
    }
    assert!(!keys.contains_key(""), "every request carried an Idempotency-Key");
    assert_eq!(keys.len(), deliveries.len(), "the receiver saw nothing the outbox did not send");
    let mut firings: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &requests {
        let v = r.json();
        if v["event"] == "firing" {
            let fingerprint = v["fingerprint"].as_str().unwrap_or("").to_string();
            firings.entry(fingerprint).or_default().insert(v["alert_id"].as_str().unwrap_or("").to_string());
        }
    }
    for (fingerprint, ids) in &firings {
        assert_eq!(ids.len(), 1, "signal {fingerprint} fired as one alert, not again after a restart: {ids:?}");
    }
    let duplicates: usize = keys.values().map(|n| n - 1).sum();
    eprintln!(
        "crash safety: {kills} SIGKILLs; {served} mentions served, {counted} journaled, {compared} compared per step \
         in the window; {} deliveries, {} requests received ({duplicates} repeats under the same key); {} alerts fired",
        deliveries.len(),
        requests.len(),
        firings.len()
    );
}
