//! A poll task that panics is not a source that silently stops: the poller (`poll::run`, as
//! the daemon runs it) catches the panic, records it in the source's health (what the status
//! page shows), counts it, and starts the task again after a wait that doubles per panic in a
//! row. And the panic that once started this, a backfill further back than chrono can count,
//! is no longer one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use stormwatch::config::Config;
use stormwatch::secret::Environment;
use stormwatch::sources::handoff::{HandOff, MentionBatch};
use stormwatch::sources::poll::{self, PollContext, PollStats, Source};
use stormwatch::sources::{file, rss, Http, Kind, Page, PageRequest, SourceError, SourceKind, SourceSpec};
use stormwatch::store::{SourceHealth, Store};

/// A kind whose first `panics` pages panic, as a bug or a library panicking on a body would;
/// after that it answers empty pages.
struct Flaky {
    calls: Arc<AtomicUsize>,
    panics: usize,
}

#[async_trait::async_trait]
impl Kind for Flaky {
    async fn page(&self, _http: &Http, _req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        assert!(n >= self.panics, "flaky kind: page {n} panics");
        Ok(Page { cursor: json!({ "page": n }), ..Page::default() })
    }
}

fn spec(name: &str, kind: SourceKind, backfill: Duration) -> SourceSpec {
    SourceSpec {
        name: name.into(),
        interval: Duration::from_secs(3600),
        backfill,
        max_body_bytes: 1 << 20,
        timeout: Duration::from_secs(10),
        kind,
    }
}

fn context(store: &Store) -> PollContext {
    let config = Config::from_toml_with_env(
        "[[watches]]\nname = \"kroon\"\nterms = [\"kroon bank\"]\n",
        std::path::Path::new("/"),
    )
    .unwrap();
    let (tx, mut batches) = mpsc::channel::<MentionBatch>(16);
    tokio::spawn(async move {
        while let Some(b) = batches.recv().await {
            let _ = b.counted.send(Ok(()));
        }
    });
    PollContext {
        handoff: HandOff { store: store.clone(), matcher: Arc::new(config.matcher()), out: tx },
        stats: Arc::new(PollStats::default()),
    }
}

/// Waits up to `limit` for the source's health to satisfy `ok`; the last health seen.
async fn health_until(store: &Store, limit: Duration, ok: impl Fn(&SourceHealth) -> bool) -> SourceHealth {
    let end = Instant::now() + limit;
    loop {
        let h = store.health("flaky").unwrap().unwrap_or_default();
        if ok(&h) || Instant::now() > end {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_poll_task_is_recorded_in_health_and_started_again_with_a_growing_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db")).unwrap();
    let ctx = context(&store);
    let calls = Arc::new(AtomicUsize::new(0));
    let url = "http://flaky.invalid/feed.xml".parse().unwrap();
    let source = Source {
        spec: spec("flaky", SourceKind::Rss(rss::Spec { url }), Duration::from_secs(3600)),
        kind: Box::new(Flaky { calls: calls.clone(), panics: 2 }),
        http: Http::new("stormwatch-test").unwrap(),
    };
    let (stop, shutdown) = watch::channel(false);
    let started = Instant::now();
    let poller = tokio::spawn(poll::run(vec![source], ctx.clone(), Duration::from_secs(86_400), shutdown));

    let first = health_until(&store, Duration::from_secs(5), |h| h.consecutive_failures >= 1).await;
    assert_eq!(first.consecutive_failures, 1, "{first:?}");
    let why = first.last_error.clone().unwrap_or_default();
    assert!(why.contains("panicked") && why.contains("flaky kind: page 0 panics"), "{why}");
    assert!(first.last_attempt.is_some(), "a panic is an attempt: the status page shows when");

    // Started again after 1 s, panics again, then after 2 s more polls fine.
    let second = health_until(&store, Duration::from_secs(5), |h| h.consecutive_failures >= 2).await;
    assert!(second.last_error.unwrap_or_default().contains("page 1 panics"));
    let healed = health_until(&store, Duration::from_secs(8), |h| h.last_success.is_some()).await;
    let took = started.elapsed();
    assert_eq!((healed.consecutive_failures, healed.last_error.as_deref()), (0, None), "{healed:?}");
    assert!(took >= Duration::from_secs(3), "waited 1 s then 2 s before the third try, not {took:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(ctx.stats.panics.load(Ordering::Relaxed), 2);

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), poller).await.expect("the poller stops on shutdown").unwrap();
}

#[tokio::test]
async fn a_backfill_further_back_than_time_goes_reads_everything_instead_of_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.jsonl");
    std::fs::write(&path, "{\"id\": \"1\", \"text\": \"kroon bank in 1999\", \"created\": \"1999-01-01T00:00:00Z\"}\n")
        .unwrap();
    let spec = spec("old", SourceKind::File(file::Spec { path }), Duration::from_secs(100_000_000 * 86_400));
    let source = Source::new(spec, &Http::new("stormwatch-test").unwrap(), &Environment::default()).unwrap();
    let page = source.probe(Utc::now()).await.unwrap();
    let ids: Vec<&str> = page.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["1"], "{:?}", page.skipped);
}
