//! The daemon's wiring: sources → score → detect → alert → notify as tokio tasks joined by
//! bounded channels (a slow step holds the one before it back; nothing queues without
//! bound). A stop request stops polling, lets the mentions and signals already handed on
//! through, saves the window state, and gives deliveries in flight a few seconds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::model::Signal;
use crate::notify::{Channels, Until};
use crate::secret::Environment;
use crate::sentiment::Scorer;
use crate::server::{router, serve, AllowedHosts, AppState, Ingest, Listener, Stats, WatchView};
use crate::sources::handoff::{HandOff, MentionBatch};
use crate::sources::poll::{self, PollContext, Source};
use crate::sources::Http;
use crate::store::Store;
use crate::telemetry;

mod detection;
pub(crate) mod dispatch;

use detection::{Detection, TICK};
pub use dispatch::{ack_signer, Dispatcher};

/// Batches (pages) waiting for scoring; beyond this the pollers wait. Each poller and each
/// ingest request has at most one batch in flight, waiting for its answer.
const MENTION_QUEUE: usize = 64;
const SIGNAL_QUEUE: usize = 1024;
/// Deliveries in flight at stop get this long before they are left for the next start.
const DELIVERY_GRACE: Duration = Duration::from_secs(5);

/// Everything `run` needs, built (and checked) before anything starts.
pub struct Pipeline {
    config: Config,
    store: Store,
    scorer: Arc<Scorer>,
    channels: Arc<Channels>,
    sources: Vec<Source>,
    /// The API token, read at build.
    token: Option<Arc<String>>,
    /// Where secrets are read (the acknowledge-link key is read when the pipeline runs).
    env: Environment,
    pub stats: Arc<Stats>,
}

impl Pipeline {
    /// Reads secrets and builds sources and receivers (`prepare`) around an open state file:
    /// every problem before start. `stats` outlive one pipeline: a reload builds a new one
    /// with the same counters.
    pub fn build(
        config: Config,
        store: Store,
        scorer: Arc<Scorer>,
        stats: Arc<Stats>,
        env: Environment,
    ) -> Result<Pipeline, Vec<String>> {
        let Prepared { channels, sources, token } = prepare(&config, &env)?;
        Ok(Pipeline { config, store, scorer, channels, sources, token, env, stats })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Binds `[server] listen`, then runs until `stop` turns true.
    pub async fn run(self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let listener = Listener::bind(self.config.server.listen).await?;
        self.run_on(listener, stop).await
    }

    /// Runs until `stop` turns true, serving on `listener` (bound by the caller, which keeps it
    /// across reloads: `server::Listener`).
    pub async fn run_on(self, listener: Listener, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let Pipeline { config, store, scorer, channels, sources, stats, token, env } = self;
        // Before anything counts: the steps' counters go to the recorder /metrics renders.
        telemetry::install();
        let (mention_tx, mention_rx) = mpsc::channel::<MentionBatch>(MENTION_QUEUE);
        let (signal_tx, signal_rx) = mpsc::channel::<Signal>(SIGNAL_QUEUE);
        let matcher = Arc::new(config.matcher());
        // Push sources are not polled: their mentions come through the ingest route.
        let (push, polled): (Vec<Source>, Vec<Source>) = sources.into_iter().partition(|s| !s.spec.kind.is_polled());
        let polled_names: Vec<String> = polled.iter().map(|s| s.spec.name.clone()).collect();
        let handoff = HandOff { store: store.clone(), matcher, out: mention_tx };
        let ingest = Ingest {
            handoff: handoff.clone(),
            sources: Arc::new(push.iter().map(|s| s.spec.name.clone()).collect()),
            max_bytes: config.server.ingest_max_bytes,
        };
        let ctx = PollContext { handoff, stats: stats.poll.clone() };
        let polling = tokio::spawn(poll::run(polled, ctx, config.storage.seen_ttl, stop.clone()));
        let detection = Detection::load(&config, &store, scorer, polled_names.clone())?;
        let detecting = tokio::spawn(detection.run(mention_rx, signal_tx, stats.clone()));
        let mut dispatcher = Dispatcher::open(&config, store.clone(), &env)?;
        let worker = dispatcher.worker(channels, None);
        let listen = listener.addr();
        let hosts = AllowedHosts::new(listen, &config.alerts.public_url);
        let state = AppState {
            store: store.clone(),
            signer: ack_signer(&config, &store, &env)?,
            stats: stats.clone(),
            sources: Arc::new(config.sources.iter().map(|s| s.name.clone()).collect()),
            polled: Arc::new(polled_names),
            ingest: Some(ingest),
            started: crate::clock::now() - chrono::Duration::seconds(1),
            watches: Arc::new(config.watches.iter().map(|w| w.name.clone()).collect()),
            volume_factors: Arc::new(
                config.watches.iter().map(|w| (w.name.clone(), w.detection.spec.min_factor)).collect(),
            ),
            token,
        };
        let serving = tokio::spawn(serve(listener, router(state, hosts), stop.clone()));
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
        serving.await?;
        tracing::info!("stormwatch stopped");
        Ok(())
    }
}

/// What `run` builds from a configuration before it starts, short of the state file.
pub struct Prepared {
    channels: Arc<Channels>,
    sources: Vec<Source>,
    /// The API token, read at build.
    token: Option<Arc<String>>,
}

/// Reads every secret the configuration names (receivers, mail relay, sources, API token,
/// acknowledge-link key) and builds the sources and receivers, collecting every problem.
/// `run` starts from this and `check` runs exactly this, so `check` sees what `run` sees.
pub fn prepare(config: &Config, env: &Environment) -> Result<Prepared, Vec<String>> {
    let mut problems = Vec::new();
    let channels = Channels::build(config.channels(), config.smtp.as_ref(), env).map_err(|p| problems.extend(p)).ok();
    let sources = match Http::new(&format!("stormwatch/{} (social-media monitoring)", env!("CARGO_PKG_VERSION"))) {
        Ok(http) => config
            .sources
            .iter()
            .enumerate()
            .filter_map(|(i, spec)| {
                Source::new(spec.clone(), &http, env)
                    .map_err(|e| problems.push(format!("sources[{i}] ({}): {e}", spec.name)))
                    .ok()
            })
            .collect(),
        Err(e) => {
            problems.push(e.to_string());
            Vec::new()
        }
    };
    let token = config
        .server
        .token
        .as_ref()
        .and_then(|t| t.read(env).map(Arc::new).map_err(|e| problems.push(format!("server.token: {e}"))).ok());
    if let Some(secret) = &config.alerts.ack_secret {
        if let Err(e) = secret.read(env) {
            problems.push(format!("alerts.ack_secret: {e}"));
        }
    }
    match channels {
        Some(channels) if problems.is_empty() => Ok(Prepared { channels, sources, token }),
        _ => Err(problems),
    }
}

/// Signing keys and tokens that are read fine but easy to guess, for `check` to warn about.
pub fn weak_secrets(config: &Config, env: &Environment) -> Vec<String> {
    const ENOUGH: usize = 16;
    let mut named: Vec<(String, &crate::secret::SecretRef)> = Vec::new();
    named.extend(config.server.token.as_ref().map(|s| ("server.token".to_string(), s)));
    named.extend(config.alerts.ack_secret.as_ref().map(|s| ("alerts.ack_secret".to_string(), s)));
    for (i, (_, kind)) in config.channels().enumerate() {
        if let crate::notify::ReceiverKind::Webhook { secret, .. }
        | crate::notify::ReceiverKind::Action { secret: Some(secret), .. } = kind
        {
            named.push((format!("receivers[{i}].secret"), secret));
        }
    }
    named
        .into_iter()
        .filter_map(|(at, secret)| {
            let n = secret.read(env).ok()?.chars().count();
            (n < ENOUGH).then(|| format!("{at}: {n} characters is easy to guess; use at least {ENOUGH} random ones"))
        })
        .collect()
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
    let mut tick = crate::clock::interval(TICK);
    loop {
        let result = tokio::select! {
            s = signals.recv() => match s {
                Some(s) => dispatcher.signal(&s),
                None => break,
            },
            _ = tick.tick() => dispatcher.tick(crate::clock::now()),
        };
        if let Err(e) = result {
            // The notices stay in memory and are written with the next commit.
            tracing::error!(error = %e, "cannot write alerts to the state file; retrying with the next one");
        }
    }
    dispatcher.tick(crate::clock::now())?;
    Ok(())
}
