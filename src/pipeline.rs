//! The daemon's wiring: sources → score → detect → alert → notify as tokio tasks joined by
//! bounded channels (a slow step holds the one before it back; nothing queues without
//! bound). A stop request stops polling, lets the mentions and signals already handed on
//! through, saves the window state, and gives deliveries in flight a few seconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::config::SourceKind;
use crate::detect::{persist, BlindSpots, WatchDetector};
use crate::dispatch::Dispatcher;
use crate::model::{Signal, WatchedMention};
use crate::notify::{Channels, Until};
use crate::sentiment::{Analysis, Scorer};
use crate::server::{router, AppState, Ingest};
use crate::sources::matching::Matcher;
use crate::sources::poll::{self, PollContext, PollStats, Source};
use crate::sources::Http;
use crate::store::{LoggedMention, Store};
use crate::telemetry;

/// Mentions waiting for scoring; beyond this the pollers wait.
const MENTION_QUEUE: usize = 4096;
const SIGNAL_QUEUE: usize = 1024;
/// How often detectors close buckets, blind spots are checked and episodes tick.
const TICK: Duration = Duration::from_secs(5);
const BLIND_EVERY: Duration = Duration::from_secs(30);
/// Fresh watches wait at most this long for every source's first poll.
const FIRST_ROUND_LIMIT: Duration = Duration::from_secs(120);
/// Window state is saved this often (and at stop), so a crash loses at most this much.
const SAVE_EVERY: Duration = Duration::from_secs(60);
/// Deliveries in flight at stop get this long before they are left for the next start.
const DELIVERY_GRACE: Duration = Duration::from_secs(5);
/// Counted mentions kept in memory while the history cannot be written.
const LOG_BACKLOG: usize = 200_000;
/// Counted mentions are written to the history each tick, or when this many are waiting.
const LOG_BATCH: usize = 1000;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A watch as the status page shows it, refreshed every tick.
#[derive(Debug, Clone, Default)]
pub struct WatchView {
    pub name: String,
    pub timeline: Vec<crate::model::TimelinePoint>,
    pub usual_share: Option<f64>,
    pub share_threshold: f64,
}

/// Counters the HTTP server shows; shared by the steps.
#[derive(Debug, Default)]
pub struct Stats {
    /// The watches' recent history, for the status page.
    pub views: std::sync::RwLock<Vec<WatchView>>,
    pub poll: Arc<PollStats>,
}

/// Everything `run` needs, built (and checked) before anything starts.
pub struct Pipeline {
    config: Config,
    store: Store,
    scorer: Arc<Scorer>,
    channels: Arc<Channels>,
    sources: Vec<Source>,
    /// The API token, read at build.
    token: Option<Arc<String>>,
    pub stats: Arc<Stats>,
}

impl Pipeline {
    /// Opens the state file, reads secrets, builds sources: every problem before start.
    /// `stats` outlive one pipeline: a reload builds a new one with the same counters.
    pub fn build(
        config: Config,
        store: Store,
        scorer: Arc<Scorer>,
        stats: Arc<Stats>,
    ) -> Result<Pipeline, Vec<String>> {
        let channels = Channels::build(&config)?;
        let http = Http::new(&format!("stormwatch/{} (social-media monitoring)", env!("CARGO_PKG_VERSION")))
            .map_err(|e| vec![e.to_string()])?;
        let mut sources = Vec::new();
        let mut problems = Vec::new();
        for (i, spec) in config.sources.iter().enumerate() {
            match Source::new(spec.clone(), &http) {
                Ok(s) => sources.push(s),
                Err(e) => problems.push(format!("sources[{i}] ({}): {e}", spec.name)),
            }
        }
        let token = match &config.server.token {
            Some(t) => t.read().map(|t| Some(Arc::new(t))).unwrap_or_else(|e| {
                problems.push(format!("server.token: {e}"));
                None
            }),
            None => None,
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Pipeline { config, store, scorer, channels, sources, token, stats })
    }

    /// Runs until `stop` turns true.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub async fn run(self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let Pipeline { config, store, scorer, channels, sources, stats, token } = self;
        // Before anything counts: the steps' counters go to the recorder /metrics renders.
        telemetry::install();
        let (mention_tx, mention_rx) = mpsc::channel::<WatchedMention>(MENTION_QUEUE);
        let (signal_tx, signal_rx) = mpsc::channel::<Signal>(SIGNAL_QUEUE);
        let matcher = Arc::new(Matcher::new(&config.watches));
        // Push sources are not polled: their mentions come through the ingest route.
        let (push, polled): (Vec<Source>, Vec<Source>) =
            sources.into_iter().partition(|s| matches!(s.spec.kind, SourceKind::Push));
        let polled_names: Vec<String> = polled.iter().map(|s| s.spec.name.clone()).collect();
        let ingest = Ingest {
            store: store.clone(),
            matcher: matcher.clone(),
            out: mention_tx.clone(),
            sources: Arc::new(push.iter().map(|s| s.spec.name.clone()).collect()),
            max_bytes: config.server.ingest_max_bytes,
        };
        let ctx = PollContext { store: store.clone(), matcher, out: mention_tx, stats: stats.poll.clone() };
        let polling = tokio::spawn(poll::run(polled, ctx, config.storage.seen_ttl, stop.clone()));
        let detection = Detection::load(&config, &store, scorer, polled_names.clone())?;
        let detecting = tokio::spawn(detection.run(mention_rx, signal_tx, stats.clone()));
        let mut dispatcher = Dispatcher::open(&config, store.clone())?;
        let worker = dispatcher.worker(channels, None);
        let listen = config.server.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("server.listen: cannot listen on {listen}: {e}"))?;
        let state = AppState {
            store: store.clone(),
            signer: crate::dispatch::ack_signer(&config, &store)?,
            stats: stats.clone(),
            sources: Arc::new(config.sources.iter().map(|s| s.name.clone()).collect()),
            polled: Arc::new(polled_names),
            ingest: Some(ingest),
            started: Utc::now() - chrono::Duration::seconds(1),
            watches: Arc::new(config.watches.iter().map(|w| w.name.clone()).collect()),
            volume_factors: Arc::new(
                config.watches.iter().map(|w| (w.name.clone(), w.detection.spec.min_factor)).collect(),
            ),
            token,
        };
        let mut server_stop = stop.clone();
        let serving = tokio::spawn(async move {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(async move {
                    let _ = server_stop.wait_for(|s| *s).await;
                })
                .await
        });
        let alerting = tokio::spawn(alert(dispatcher, signal_rx));
        let delivering = tokio::spawn(async move { worker.run(Until::Stopped { stop, grace: DELIVERY_GRACE }).await });
        tracing::info!(
            url = %format!("http://{listen}/"),
            sources = config.sources.len(),
            watches = config.watches.len(),
            receivers = config.receivers.len(),
            "stormwatch running"
        );
        // Pollers stop first; their senders drop, so detection drains and ends, then alerting.
        polling.await?;
        detecting.await??;
        alerting.await??;
        delivering.await??;
        serving.await??;
        tracing::info!("stormwatch stopped");
        Ok(())
    }
}

/// Scoring and detection: every watch's window, and blind spots.
struct Detection {
    store: Store,
    scorer: Arc<Scorer>,
    detectors: Vec<WatchDetector>,
    /// Watch name → detector index, and the languages each watch scores.
    index: HashMap<String, usize>,
    languages: Vec<Vec<crate::model::Lang>>,
    blind: BlindSpots,
    /// Every source (blind spots), and the polled ones (the first round waits for them).
    sources: Vec<String>,
    polled: Vec<String>,
    /// Counted mentions not yet written to the history, and how long the history keeps them.
    log: Vec<LoggedMention>,
    history: Duration,
    last_pruned: Option<tokio::time::Instant>,
}

impl Detection {
    fn load(config: &Config, store: &Store, scorer: Arc<Scorer>, polled: Vec<String>) -> anyhow::Result<Detection> {
        let now = Utc::now();
        let mut detectors = Vec::new();
        for w in &config.watches {
            let (d, note) = persist::load_watch(store, &w.name, w.detection.clone(), now)?;
            if let Some(why) = note {
                tracing::warn!(watch = %w.name, why = %why, "window state not restored; the watch warms up again");
            }
            detectors.push(d);
        }
        let fresh = BlindSpots::new(
            config.blind_spots.clone(),
            config.watches.iter().map(|w| (w.name.clone(), w.sources.clone())).collect(),
        );
        let (blind, note) = persist::load_blind_spots(store, fresh)?;
        if let Some(why) = note {
            tracing::warn!(why = %why, "blind-spot state not restored");
        }
        Ok(Detection {
            store: store.clone(),
            scorer,
            index: config.watches.iter().enumerate().map(|(i, w)| (w.name.clone(), i)).collect(),
            languages: config.watches.iter().map(|w| w.languages.clone()).collect(),
            detectors,
            blind,
            sources: config.sources.iter().map(|s| s.name.clone()).collect(),
            polled,
            log: Vec::new(),
            history: config.storage.history,
            last_pruned: None,
        })
    }

    async fn run(
        mut self,
        mut mentions: mpsc::Receiver<WatchedMention>,
        signals: mpsc::Sender<Signal>,
        stats: Arc<Stats>,
    ) -> anyhow::Result<()> {
        let mut analysis = Analysis::default();
        let mut tick = tokio::time::interval(TICK);
        let mut blind = tokio::time::interval(BLIND_EVERY);
        let mut save = tokio::time::interval(SAVE_EVERY);
        // Fresh watches wait for every source's first poll, then count its backfill in time
        // order: a watch's clock starts with the first mention it counts, and history from a
        // slower source arriving after a faster source's recent posts would be "too late".
        let mut first_round = self.detectors.iter().all(|d| !d.started()).then(Vec::new);
        let first_round_until = tokio::time::Instant::now() + FIRST_ROUND_LIMIT;
        loop {
            let mut out = Vec::new();
            tokio::select! {
                m = mentions.recv() => match (m, first_round.as_mut()) {
                    (Some(m), Some(buffer)) => buffer.push(m),
                    (Some(m), None) => {
                        out.extend(self.observe(&m, &mut analysis));
                    }
                    (None, _) => break,
                },
                _ = tick.tick() => {
                    if first_round.is_some() && (self.all_polled() || tokio::time::Instant::now() >= first_round_until) {
                        let mut buffer = first_round.take().unwrap_or_default();
                        while let Ok(m) = mentions.try_recv() {
                            buffer.push(m);
                        }
                        buffer.sort_by_key(|m| m.mention.published);
                        tracing::info!(mentions = buffer.len(), "first poll of every source in: counting its history in time order");
                        for m in &buffer {
                            out.extend(self.observe(m, &mut analysis));
                        }
                    }
                    self.write_log();
                    let now = Utc::now();
                    // A new watch starts its clock with its first mention, so that the first
                    // poll's backfill of history seeds the baseline instead of arriving late.
                    for d in self.detectors.iter_mut().filter(|d| d.started()) {
                        out.extend(d.tick(now));
                    }
                    let views: Vec<WatchView> = self
                        .detectors
                        .iter()
                        .map(|d| {
                            let (timeline, usual_share, share_threshold) = d.snapshot(now);
                            WatchView { name: d.name().to_string(), timeline, usual_share, share_threshold }
                        })
                        .collect();
                    publish_gauges(&views, mentions.len(), signals.max_capacity() - signals.capacity());
                    if let Ok(mut v) = stats.views.write() {
                        *v = views;
                    }
                }
                _ = blind.tick() => out.extend(self.blind_spots()),
                _ = save.tick() => self.save(),
            }
            for s in out {
                metrics::counter!(telemetry::SIGNALS, "watch" => s.watch.clone(), "kind" => s.kind.as_str(),
                    "severity" => s.severity.as_str())
                .increment(1);
                if signals.send(s).await.is_err() {
                    anyhow::bail!("the alert step stopped");
                }
            }
        }
        if let Some(buffer) = first_round {
            // Stopped before the first round was complete: count what came.
            for m in &buffer {
                let _ = self.observe(m, &mut analysis);
            }
        }
        self.save();
        Ok(())
    }

    /// Whether every source has finished a first poll (its backfill is handed on by then).
    fn all_polled(&self) -> bool {
        self.polled.iter().all(|s| self.store.health(s).ok().flatten().is_some_and(|h| h.last_attempt.is_some()))
    }

    fn observe(&mut self, m: &WatchedMention, analysis: &mut Analysis) -> Vec<Signal> {
        let now = Utc::now();
        let started = std::time::Instant::now();
        self.scorer.analyze(&m.mention.text, m.mention.scored_lang(), analysis);
        metrics::histogram!(telemetry::SCORING_SECONDS).record(started.elapsed().as_secs_f64());
        let sentiment = analysis.to_sentiment();
        metrics::counter!(telemetry::MENTIONS_SCORED).increment(1);
        metrics::counter!(telemetry::MENTIONS_INGESTED, "source" => m.mention.source.clone(),
            "lang" => sentiment.lang.map_or("unknown", |l| l.code()), "label" => sentiment.label.as_str())
        .increment(1);
        let mut out = Vec::new();
        for name in &m.watches {
            let Some(&i) = self.index.get(name) else { continue };
            // A watch scores only its languages (a text in another one is not about it).
            if sentiment.lang.is_some_and(|l| !self.languages[i].contains(&l)) {
                continue;
            }
            out.extend(self.detectors[i].observe(&m.mention, &sentiment, now));
            self.log.push(LoggedMention::new(name, &m.mention, &sentiment));
        }
        // A backfill counts thousands at once: write them in batches rather than hold them
        // (and, while writes fail, retry once per batch, not per mention).
        if !self.log.is_empty() && self.log.len() % LOG_BATCH == 0 {
            self.write_log();
        }
        out
    }

    /// Writes counted mentions to the history (each tick). A failed write keeps them for the
    /// next one, up to `LOG_BACKLOG`; beyond that the oldest are dropped, and the error says so.
    fn write_log(&mut self) {
        if let Err(e) = self.store.log_mentions(&self.log) {
            let over = self.log.len().saturating_sub(LOG_BACKLOG);
            self.log.drain(..over);
            tracing::error!(error = %e, waiting = self.log.len(), dropped = over,
                "cannot write mention history (reports will miss what is dropped); retrying");
            return;
        }
        self.log.clear();
        let due = self.last_pruned.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
        if due {
            self.last_pruned = Some(tokio::time::Instant::now());
            let before = chrono::Duration::from_std(self.history)
                .ok()
                .and_then(|d| Utc::now().checked_sub_signed(d))
                .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
            match self.store.prune_mention_log(before) {
                Ok(0) => {}
                Ok(n) => tracing::info!(mentions = n, "pruned mention history older than [storage] history"),
                Err(e) => tracing::warn!(error = %e, "cannot prune mention history"),
            }
        }
    }

    fn blind_spots(&mut self) -> Vec<Signal> {
        let now = Utc::now();
        let mut out = Vec::new();
        for source in &self.sources {
            match self.store.health(source) {
                Ok(Some(h)) => out.extend(self.blind.observe(source, &h, now)),
                Ok(None) => {}
                Err(e) => tracing::warn!(source = %source, error = %e, "cannot read source health"),
            }
        }
        out
    }

    fn save(&mut self) {
        self.write_log();
        if let Err(e) = persist::save(&self.store, &self.detectors, &self.blind, Utc::now()) {
            tracing::error!(error = %e, "cannot save window state; it will be retried");
        }
    }
}

/// The gauges of `/metrics` that describe now: channel depths and each watch's last step.
fn publish_gauges(views: &[WatchView], mentions_waiting: usize, signals_waiting: usize) {
    metrics::gauge!(telemetry::CHANNEL_DEPTH, "channel" => "mentions").set(mentions_waiting as f64);
    metrics::gauge!(telemetry::CHANNEL_DEPTH, "channel" => "signals").set(signals_waiting as f64);
    for v in views {
        // The last point is the step in progress; the one before is the last complete one.
        let Some(p) = v.timeline.iter().rev().nth(1).or(v.timeline.last()) else { continue };
        let watch = v.name.clone();
        metrics::gauge!(telemetry::WATCH_MENTIONS, "watch" => watch.clone()).set(p.mentions as f64);
        metrics::gauge!(telemetry::WATCH_EXPECTED, "watch" => watch.clone()).set(p.expected);
        let share = if p.mentions > 0 { p.negative as f64 / p.mentions as f64 } else { 0.0 };
        metrics::gauge!(telemetry::WATCH_NEGATIVE_SHARE, "watch" => watch.clone()).set(share);
        if let Some(u) = v.usual_share {
            metrics::gauge!(telemetry::WATCH_USUAL_NEGATIVE_SHARE, "watch" => watch).set(u);
        }
    }
    telemetry::upkeep();
}

/// The alert step: signals in, episodes and notices into the outbox; timers every tick.
async fn alert(mut dispatcher: Dispatcher, mut signals: mpsc::Receiver<Signal>) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(TICK);
    loop {
        let result = tokio::select! {
            s = signals.recv() => match s {
                Some(s) => dispatcher.signal(&s),
                None => break,
            },
            _ = tick.tick() => dispatcher.tick(Utc::now()),
        };
        if let Err(e) = result {
            // The notices stay in memory and are written with the next commit.
            tracing::error!(error = %e, "cannot write alerts to the state file; retrying with the next one");
        }
    }
    dispatcher.tick(Utc::now())?;
    Ok(())
}
