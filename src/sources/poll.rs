//! Polling: when each source is asked, what happens to a page, and what a failure costs.
//!
//! One task per source. A poll asks the source's `Kind` for pages until it says there are
//! no more (at most `MAX_PAGES_PER_POLL`), and hands each page on exactly once
//! (`handoff.rs`: unseen ids, matched, journaled by detection, then committed with the
//! cursor after the page).
//!
//! Between polls a source waits its interval with ±10% jitter (so a thousand sources do not
//! fire together), or longer: after a failure, exponentially longer (interval × 2^n, capped at
//! `MAX_BACKOFF`, with jitter); when the server said `Retry-After` or ran out of rate limit,
//! at least that long. A failing source waits on its own timer only: it never delays another.
//! At most `PER_HOST` polls run against one host at a time.
//!
//! Each source's task is supervised (`supervise`): a panic in it (a bug, or a library that
//! panicked on a body) is caught, logged with the source's name, counted
//! (`stormwatch_source_panics_total{source}`), recorded in the source's health (so the status
//! page shows it), and the task starts again after `FIRST_RESTART_WAIT`, doubling per panic in
//! a row up to `MAX_RESTART_WAIT`. One broken source never silently stops polling.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use tokio::sync::watch::Receiver;
use tokio::sync::Semaphore;
use tracing::{debug, error, info, warn};

use super::handoff::{blocking, HandOff, HandOffError};
use super::http::{Http, Validators};
use super::{Kind, PageRequest, SourceError, SourceSpec};
use crate::store::{SourceHealth, SourceState, StoreError};
use crate::telemetry;

/// Pages fetched in one poll at most; a longer backlog continues at the next poll.
pub(crate) const MAX_PAGES_PER_POLL: usize = 50;
/// Polls running against the same host at once.
pub(crate) const PER_HOST: usize = 2;
/// The longest wait after repeated failures.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);
/// The wait before a panicked poll task starts again; doubled per panic in a row.
pub(crate) const FIRST_RESTART_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between restarts of a task that keeps panicking.
pub(crate) const MAX_RESTART_WAIT: Duration = Duration::from_secs(5 * 60);

/// Counters over all sources, for logs now and `/metrics` later.
#[derive(Debug, Default)]
pub struct PollStats {
    pub polls: AtomicU64,
    pub pages: AtomicU64,
    pub failures: AtomicU64,
    pub not_modified: AtomicU64,
    /// Mentions new to the seen store (matched or not).
    pub new_mentions: AtomicU64,
    /// New mentions that matched at least one watch and were handed on.
    pub handed_on: AtomicU64,
    pub duplicates: AtomicU64,
    pub skipped_items: AtomicU64,
    /// Poll tasks that panicked (and were started again).
    pub panics: AtomicU64,
}

/// What one poll of one source did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollReport {
    pub pages: usize,
    pub new: usize,
    pub handed_on: usize,
    pub duplicates: usize,
    pub skipped: usize,
    pub not_modified: bool,
    /// The server asked for a pause even though the poll succeeded.
    pub pause: Option<Duration>,
    /// Why the poll stopped early; pages before the error were handed on and committed.
    pub error: Option<SourceError>,
}

/// Why a poll could not continue at all.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the pipeline stopped taking mentions")]
    Closed,
}

/// Everything a poll needs besides the source itself.
#[derive(Clone)]
pub struct PollContext {
    pub handoff: HandOff,
    pub stats: Arc<PollStats>,
}

/// One configured source, ready to poll.
pub struct Source {
    pub spec: SourceSpec,
    pub kind: Box<dyn Kind>,
    pub http: Http,
}

impl Source {
    pub fn new(spec: SourceSpec, http: &Http, env: &crate::secret::Environment) -> Result<Source, SourceError> {
        let kind = spec.kind.build(env)?;
        let http = http.for_source(spec.max_body_bytes, spec.timeout);
        Ok(Source { spec, kind, http })
    }

    /// The host polls are limited by (sources of kind `file` share one slot).
    pub(crate) fn host(&self) -> String {
        self.spec.kind.host()
    }

    /// The first page a first poll would get, with nothing read from or written to the store:
    /// what `stormwatch sources test` shows.
    pub async fn probe(&self, now: DateTime<Utc>) -> Result<super::Page, SourceError> {
        let cursor = serde_json::Value::Null;
        let validators = Validators::default();
        let backfill_since = before(now, self.spec.backfill);
        let req =
            PageRequest { source: &self.spec.name, cursor: &cursor, validators: &validators, backfill_since, now };
        self.kind.page(&self.http, &req).await
    }

    /// Polls once: pages until done, handing on and committing page by page.
    pub async fn poll(&self, ctx: &PollContext, now: DateTime<Utc>) -> Result<PollReport, PollError> {
        let name = self.spec.name.clone();
        let store = ctx.handoff.store.clone();
        let state = blocking(move || store.source_state(&name)).await?.unwrap_or_default();
        let mut cursor = state.cursor;
        let mut validators = Validators { etag: state.etag, last_modified: state.last_modified };
        let backfill_since = before(now, self.spec.backfill);
        let mut report = PollReport::default();
        ctx.stats.polls.fetch_add(1, Ordering::Relaxed);
        for _ in 0..MAX_PAGES_PER_POLL {
            let req =
                PageRequest { source: &self.spec.name, cursor: &cursor, validators: &validators, backfill_since, now };
            let page = match self.kind.page(&self.http, &req).await {
                Ok(page) => page,
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            };
            report.pages += 1;
            ctx.stats.pages.fetch_add(1, Ordering::Relaxed);
            report.pause = page.rate_limit.pause().max(report.pause);
            if page.not_modified {
                report.not_modified = true;
                ctx.stats.not_modified.fetch_add(1, Ordering::Relaxed);
                break;
            }
            if !page.skipped.is_empty() {
                report.skipped += page.skipped.len();
                ctx.stats.skipped_items.fetch_add(page.skipped.len() as u64, Ordering::Relaxed);
                let first = &page.skipped[0];
                // Debug-formatted: an item id and the reason quote the feed, which may hold
                // terminal escapes; `?` shows them as `\u{1b}` instead of sending them to a terminal.
                warn!(source = %self.spec.name, count = page.skipped.len(), first_item = ?first.item, why = ?first.why, "items skipped");
            }
            let state = SourceState {
                cursor: page.cursor.clone(),
                etag: page.validators.etag.clone(),
                last_modified: page.validators.last_modified.clone(),
            };
            let counts = match ctx.handoff.page(&self.spec.name, page.mentions, state, now).await {
                Ok(c) => c,
                Err(HandOffError::Closed) => return Err(PollError::Closed),
                Err(HandOffError::Store(e)) => return Err(PollError::Store(e)),
                Err(HandOffError::Journal(why)) => {
                    // Not committed: the page comes again at the next poll.
                    report.error = Some(SourceError::Io(why.to_string()));
                    break;
                }
            };
            report.new += counts.new;
            report.duplicates += counts.duplicates;
            report.handed_on += counts.matched;
            ctx.stats.new_mentions.fetch_add(counts.new as u64, Ordering::Relaxed);
            ctx.stats.duplicates.fetch_add(counts.duplicates as u64, Ordering::Relaxed);
            ctx.stats.handed_on.fetch_add(counts.matched as u64, Ordering::Relaxed);
            cursor = page.cursor;
            validators = page.validators;
            if !page.more {
                break;
            }
        }
        Ok(report)
    }
}

/// `span` before `now`, or the earliest time there is when that is further back: a backfill of
/// `100000000d` means "everything", not an overflow (which panicked here once).
pub(crate) fn before(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(span).ok().and_then(|d| now.checked_sub_signed(d)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The health after a poll, from the health before it.
pub fn next_health(before: &SourceHealth, report: &PollReport, now: DateTime<Utc>) -> SourceHealth {
    let mut h = before.clone();
    h.last_attempt = Some(now);
    match &report.error {
        None => {
            h.last_success = Some(now);
            h.consecutive_failures = 0;
            h.last_status = Some(if report.not_modified { 304 } else { 200 });
            h.last_error = None;
            h.last_items = report.new as u32;
        }
        Some(e) if report.pages > 0 => {
            // Some pages came through: the source works, the backlog continues next time.
            h.last_success = Some(now);
            h.consecutive_failures = 0;
            h.last_status = e.status();
            h.last_error = Some(e.to_string());
            h.last_items = report.new as u32;
        }
        Some(e) => {
            h.consecutive_failures += 1;
            h.last_status = e.status();
            h.last_error = Some(e.to_string());
            h.last_items = 0;
        }
    }
    h
}

/// How long to wait before the next poll. `jitter` is a number in [-1, 1].
pub fn next_delay(interval: Duration, health: &SourceHealth, report: &PollReport, jitter: f64) -> Duration {
    let base = if health.consecutive_failures == 0 {
        interval
    } else {
        let exp = health.consecutive_failures.min(16);
        interval.saturating_mul(1u32 << exp).min(MAX_BACKOFF)
    };
    let jittered = base.mul_f64((1.0 + 0.1 * jitter.clamp(-1.0, 1.0)).max(0.0));
    let asked = report.error.as_ref().and_then(SourceError::retry_after).max(report.pause);
    match asked {
        Some(wait) => jittered.max(wait),
        None => jittered,
    }
}

/// How often the seen-id store is pruned while polling runs.
pub(crate) const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Polls every source on its own schedule until `shutdown` fires; forgets seen ids older
/// than `seen_ttl` every `PRUNE_EVERY`.
pub async fn run(sources: Vec<Source>, ctx: PollContext, seen_ttl: Duration, mut shutdown: Receiver<bool>) {
    let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    {
        let store = ctx.handoff.store.clone();
        let mut shutdown = shutdown.clone();
        tasks.spawn(async move {
            loop {
                let cutoff = before(crate::clock::now(), seen_ttl);
                let s = store.clone();
                match tokio::task::spawn_blocking(move || s.prune_seen(cutoff)).await {
                    Ok(Ok(n)) if n > 0 => debug!(forgotten = n, "pruned seen mention ids"),
                    Ok(Err(e)) => warn!(error = %e, "cannot prune seen mention ids"),
                    _ => {}
                }
                tokio::select! {
                    _ = crate::clock::sleep(PRUNE_EVERY) => {}
                    _ = shutdown.changed() => return,
                }
            }
        });
    }
    for source in sources {
        let permit = hosts.entry(source.host()).or_insert_with(|| Arc::new(Semaphore::new(PER_HOST))).clone();
        tasks.spawn(supervise(source, permit, ctx.clone(), shutdown.clone()));
    }
    let _ = shutdown.changed().await;
    while tasks.join_next().await.is_some() {}
}

/// Runs one source's poll loop until `shutdown` fires or the pipeline stops, starting it
/// again after a panic (see the module's doc).
async fn supervise(source: Source, permit: Arc<Semaphore>, ctx: PollContext, mut shutdown: Receiver<bool>) {
    // Spread the first polls a little so they don't all start at once, but not by more
    // than half a second: a service is not ready before its first polls.
    let spread = source.spec.interval.mul_f64(0.1).min(Duration::from_millis(500));
    let mut first_delay = spread.mul_f64(rand::random::<f64>());
    let mut wait = FIRST_RESTART_WAIT;
    let completed = AtomicU64::new(0);
    loop {
        let polling = poll_loop(&source, &permit, &ctx, shutdown.clone(), first_delay, &completed);
        let Err(panic) = AssertUnwindSafe(polling).catch_unwind().await else { return };
        // A task that polled fine before it panicked starts over from the first wait.
        if completed.swap(0, Ordering::Relaxed) > 0 {
            wait = FIRST_RESTART_WAIT;
        }
        let why = super::panic_text(&*panic);
        error!(source = %source.spec.name, panic = why, restart_in_s = wait.as_secs(), "poll task panicked; starting it again");
        ctx.stats.panics.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(telemetry::SOURCE_PANICS, "source" => source.spec.name.clone()).increment(1);
        record_panic(&ctx, &source.spec.name, why, wait).await;
        // Real time, not the daemon's clock: a crash loop must not spin faster in a replay.
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = wait.saturating_mul(2).min(MAX_RESTART_WAIT);
        first_delay = Duration::ZERO;
    }
}

/// The source's health after its poll task panicked: a failed attempt, with why.
async fn record_panic(ctx: &PollContext, source: &str, why: &str, wait: Duration) {
    let mut health = load_health(ctx, source).await;
    health.last_attempt = Some(crate::clock::now());
    health.consecutive_failures += 1;
    health.last_status = None;
    health.last_error = Some(format!(
        "the poll task panicked ({why}); started again in {}s. This is a bug: please report it with the log",
        wait.as_secs()
    ));
    health.last_items = 0;
    save_health(ctx, source, health).await;
}

/// Polls `source` on its schedule until `shutdown` fires or the pipeline stops; counts the
/// polls it completed in `completed`.
async fn poll_loop(
    source: &Source,
    permit: &Semaphore,
    ctx: &PollContext,
    mut shutdown: Receiver<bool>,
    mut delay: Duration,
    completed: &AtomicU64,
) {
    loop {
        tokio::select! {
            _ = crate::clock::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
        let Ok(_permit) = permit.acquire().await else { return };
        let now = crate::clock::now();
        let before = load_health(ctx, &source.spec.name).await;
        let report = match source.poll(ctx, now).await {
            Ok(r) => r,
            Err(PollError::Closed) => return,
            Err(e) => PollReport { error: Some(SourceError::Io(e.to_string())), ..PollReport::default() },
        };
        let health = next_health(&before, &report, now);
        log_poll(&source.spec.name, &report, &health);
        count_poll(ctx, &source.spec.name, &report);
        save_health(ctx, &source.spec.name, health.clone()).await;
        completed.fetch_add(1, Ordering::Relaxed);
        delay = next_delay(source.spec.interval, &health, &report, rand::random::<f64>() * 2.0 - 1.0);
    }
}

fn count_poll(ctx: &PollContext, source: &str, report: &PollReport) {
    let label = source.to_string();
    metrics::counter!(telemetry::POLLS, "source" => label.clone()).increment(1);
    if let Some(e) = &report.error {
        ctx.stats.failures.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(telemetry::POLL_ERRORS, "source" => label.clone(), "kind" => e.label()).increment(1);
    }
    metrics::counter!(telemetry::MENTIONS_NEW, "source" => label).increment(report.new as u64);
}

/// The source's stored health; a fresh one (logged) when the state file cannot say.
async fn load_health(ctx: &PollContext, source: &str) -> SourceHealth {
    let (store, name) = (ctx.handoff.store.clone(), source.to_string());
    match tokio::task::spawn_blocking(move || store.health(&name)).await {
        Ok(Ok(health)) => health.unwrap_or_default(),
        Ok(Err(e)) => {
            warn!(source, error = %e, "cannot read source health; counting failures from zero");
            SourceHealth::default()
        }
        Err(e) => {
            warn!(source, error = %e, "cannot read source health; counting failures from zero");
            SourceHealth::default()
        }
    }
}

async fn save_health(ctx: &PollContext, source: &str, health: SourceHealth) {
    let (store, name) = (ctx.handoff.store.clone(), source.to_string());
    match tokio::task::spawn_blocking(move || store.record_health(&name, &health)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(source, error = %e, "cannot record source health"),
        Err(e) => warn!(source, error = %e, "cannot record source health"),
    }
}

fn log_poll(source: &str, report: &PollReport, health: &SourceHealth) {
    match &report.error {
        Some(e) => warn!(
            source,
            kind = e.label(),
            error = %e,
            failures = health.consecutive_failures,
            pages = report.pages,
            "poll failed"
        ),
        None if report.new > 0 => {
            info!(source, new = report.new, handed_on = report.handed_on, pages = report.pages, "polled")
        }
        None => debug!(source, not_modified = report.not_modified, "polled, nothing new"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(n: u32) -> SourceHealth {
        SourceHealth { consecutive_failures: n, ..SourceHealth::default() }
    }

    #[test]
    fn backoff_doubles_per_failure_and_is_capped() {
        let iv = Duration::from_secs(60);
        let ok = PollReport::default();
        assert_eq!(next_delay(iv, &failures(0), &ok, 0.0), iv);
        assert_eq!(next_delay(iv, &failures(1), &ok, 0.0), Duration::from_secs(120));
        assert_eq!(next_delay(iv, &failures(3), &ok, 0.0), Duration::from_secs(480));
        assert_eq!(next_delay(iv, &failures(30), &ok, 0.0), MAX_BACKOFF);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let iv = Duration::from_secs(100);
        let ok = PollReport::default();
        assert_eq!(next_delay(iv, &failures(0), &ok, 1.0), Duration::from_secs(110));
        assert_eq!(next_delay(iv, &failures(0), &ok, -1.0), Duration::from_secs(90));
    }

    #[test]
    fn retry_after_and_rate_limits_are_honoured() {
        let iv = Duration::from_secs(60);
        let limited = PollReport {
            error: Some(SourceError::Status { status: 429, retry_after: Some(Duration::from_secs(600)) }),
            ..PollReport::default()
        };
        assert_eq!(next_delay(iv, &failures(1), &limited, 0.0), Duration::from_secs(600));
        let paused = PollReport { pause: Some(Duration::from_secs(300)), ..PollReport::default() };
        assert_eq!(next_delay(iv, &failures(0), &paused, 0.0), Duration::from_secs(300));
    }

    #[test]
    fn a_backfill_further_back_than_time_goes_is_everything_not_an_overflow() {
        let now = Utc::now();
        assert_eq!(before(now, Duration::from_secs(100_000_000 * 86_400)), DateTime::<Utc>::MIN_UTC);
        assert_eq!(before(now, Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(before(now, Duration::from_secs(3600)), now - chrono::Duration::hours(1));
    }

    #[test]
    fn health_counts_consecutive_failures_and_resets_on_success() {
        let now = Utc::now();
        let fail =
            PollReport { error: Some(SourceError::Status { status: 503, retry_after: None }), ..PollReport::default() };
        let h1 = next_health(&SourceHealth::default(), &fail, now);
        let h2 = next_health(&h1, &fail, now);
        assert_eq!((h2.consecutive_failures, h2.last_status, h2.last_success), (2, Some(503), None));
        let ok = PollReport { pages: 1, new: 4, ..PollReport::default() };
        let h3 = next_health(&h2, &ok, now);
        assert_eq!((h3.consecutive_failures, h3.last_items, h3.last_error), (0, 4, None));
        assert_eq!(h3.last_success, Some(now));
    }
}
