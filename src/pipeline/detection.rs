//! The scoring and detection step of the daemon: batches of matched mentions in, signals out.
//!
//! Each mention is counted exactly once, across crashes and restarts, by way of the mention
//! journal (`store::history`):
//! 1. a page's mentions are scored, and journaled per watch in one transaction, which says
//!    which rows are new (a page fetched again after a crash is not);
//! 2. the new rows are counted into the watch's window, and only then is the poller told it
//!    may remember the page as done;
//! 3. every `SAVE_EVERY` (and at stop) the windows are saved together with the journal seq
//!    they counted through. At start, each window is restored and the journal rows after
//!    that seq are counted again: what a crash lost from memory comes back from the journal.
//!
//! Fresh watches wait for every polled source's first poll, then count that backfill in time
//! order (journaled at once, counted later): a watch's clock starts with the first mention it
//! counts, and history from a slower source arriving after a faster source's recent posts
//! would otherwise be "too late".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use super::publish_gauges;
use crate::config::Config;
use crate::detect::{persist, BlindSpots, WatchDetector};
use crate::model::{Lang, Mention, Sentiment, Signal};
use crate::sentiment::{Analysis, Scorer};
use crate::server::{Stats, WatchView};
use crate::sources::handoff::{MentionBatch, NotJournaled};
use crate::store::{LoggedMention, Store};
use crate::telemetry;

/// How often detectors close buckets, blind spots are checked and episodes tick.
pub(super) const TICK: Duration = Duration::from_secs(5);
const BLIND_EVERY: Duration = Duration::from_secs(30);
/// Fresh watches wait at most this long for every source's first poll.
const FIRST_ROUND_LIMIT: Duration = Duration::from_secs(120);
/// Window state is saved this often (and at stop); a crash costs a recount from the journal
/// of at most this much, never a lost or doubled mention. Real time, on a simulated clock too:
/// it bounds the work of a recount, not anything a watch measures.
const SAVE_EVERY: Duration = Duration::from_secs(60);
/// How often journal rows older than `[storage] history` are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A journaled mention of one watch, waiting to be counted.
struct Pending {
    watch: usize,
    mention: Mention,
    sentiment: Sentiment,
}

pub(super) struct Detection {
    store: Store,
    scorer: Arc<Scorer>,
    detectors: Vec<WatchDetector>,
    /// Watch name → detector index, and the languages each watch scores.
    index: HashMap<String, usize>,
    languages: Vec<Vec<Lang>>,
    blind: BlindSpots,
    /// Every source (blind spots), and the polled ones (the first round waits for them).
    sources: Vec<String>,
    polled: Vec<String>,
    history: Duration,
    last_pruned: Option<chrono::DateTime<Utc>>,
    /// The journal seq through which every row is counted in the windows.
    counted_through: i64,
    /// The last seq journaled.
    journaled_through: i64,
    /// While fresh watches wait for the first round: journaled, not yet counted.
    first_round: Option<Vec<Pending>>,
    /// Signals raised while recounting the journal at start, sent when the step runs.
    recounted: Vec<Signal>,
}

impl Detection {
    /// Restores every window and recounts the journal after its last save.
    pub(super) fn load(
        config: &Config,
        store: &Store,
        scorer: Arc<Scorer>,
        polled: Vec<String>,
    ) -> anyhow::Result<Detection> {
        let now = crate::clock::now();
        let names: Vec<&str> = config.watches.iter().map(|w| w.name.as_str()).collect();
        let forgotten = persist::forget_removed(store, &names)?;
        if !forgotten.is_empty() {
            tracing::info!(watches = ?forgotten, "forgot the window state of watches no longer configured");
        }
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
        let counted_through = store.counted_through()?;
        let mut recounted = Vec::new();
        let mut rows = 0;
        for d in &mut detectors {
            let mut after: Vec<LoggedMention> =
                store.journal_after(d.name(), counted_through)?.into_iter().map(|(_, m)| m).collect();
            after.sort_by_key(|m| m.published);
            rows += after.len();
            for m in &after {
                let (mention, sentiment) = m.to_scored();
                recounted.extend(d.observe(&mention, &sentiment, now));
            }
        }
        if rows > 0 {
            tracing::info!(mentions = rows, "counted again from the journal what the last saved windows had not");
        }
        let journaled_through = store.journal_end()?;
        let first_round = detectors.iter().all(|d| !d.started()).then(Vec::new);
        Ok(Detection {
            store: store.clone(),
            scorer,
            index: config.watches.iter().enumerate().map(|(i, w)| (w.name.clone(), i)).collect(),
            languages: config.watches.iter().map(|w| w.languages.clone()).collect(),
            detectors,
            blind,
            sources: config.sources.iter().map(|s| s.name.clone()).collect(),
            polled,
            history: config.storage.history,
            last_pruned: None,
            counted_through: journaled_through,
            journaled_through,
            first_round,
            recounted,
        })
    }

    pub(super) async fn run(
        mut self,
        mut batches: mpsc::Receiver<MentionBatch>,
        signals: mpsc::Sender<Signal>,
        stats: Arc<Stats>,
    ) -> anyhow::Result<()> {
        let mut analysis = Analysis::default();
        let mut tick = crate::clock::interval(TICK);
        let mut blind = crate::clock::interval(BLIND_EVERY);
        let mut save = tokio::time::interval(SAVE_EVERY);
        let first_round_until = tokio::time::Instant::now() + FIRST_ROUND_LIMIT;
        let mut out = std::mem::take(&mut self.recounted);
        loop {
            for s in out.drain(..) {
                metrics::counter!(telemetry::SIGNALS, "watch" => s.watch.clone(), "kind" => s.kind.as_str(),
                    "severity" => s.severity.as_str())
                .increment(1);
                if signals.send(s).await.is_err() {
                    anyhow::bail!("the alert step stopped");
                }
            }
            tokio::select! {
                b = batches.recv() => match b {
                    Some(b) => out.extend(self.take(b, &mut analysis)),
                    None => break,
                },
                _ = tick.tick() => {
                    if self.first_round.is_some()
                        && (self.all_polled() || tokio::time::Instant::now() >= first_round_until)
                    {
                        out.extend(self.count_first_round());
                    }
                    let now = crate::clock::now();
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
                    publish_gauges(&views, batches.len(), signals.max_capacity() - signals.capacity());
                    if let Ok(mut v) = stats.views.write() {
                        *v = views;
                    }
                }
                _ = blind.tick() => out.extend(self.blind_spots()),
                _ = save.tick() => self.save(),
            }
        }
        // Stopped before the first round was complete: count what came (signals of it are
        // found again by the next start's ticks).
        let _ = self.count_first_round();
        self.save();
        Ok(())
    }

    /// Scores a batch, journals it, counts what is new, and answers the batch's sender.
    fn take(&mut self, batch: MentionBatch, analysis: &mut Analysis) -> Vec<Signal> {
        let mut rows = Vec::new();
        let mut scored = Vec::new();
        for wm in &batch.mentions {
            let started = std::time::Instant::now();
            self.scorer.analyze(&wm.mention.text, wm.mention.scored_lang(), analysis);
            metrics::histogram!(telemetry::SCORING_SECONDS).record(started.elapsed().as_secs_f64());
            let sentiment = analysis.to_sentiment();
            metrics::counter!(telemetry::MENTIONS_SCORED).increment(1);
            metrics::counter!(telemetry::MENTIONS_INGESTED, "source" => wm.mention.source.clone(),
                "lang" => sentiment.lang.map_or("unknown", |l| l.code()), "label" => sentiment.label.as_str())
            .increment(1);
            for name in &wm.watches {
                let Some(&i) = self.index.get(name) else { continue };
                // A watch scores only its languages (a text in another one is not about it).
                if sentiment.lang.is_some_and(|l| !self.languages[i].contains(&l)) {
                    continue;
                }
                rows.push(LoggedMention::new(name, &wm.mention, &sentiment));
                scored.push(Pending { watch: i, mention: wm.mention.clone(), sentiment: sentiment.clone() });
            }
        }
        let seqs = match self.store.log_mentions(&rows) {
            Ok(seqs) => seqs,
            Err(e) => {
                tracing::error!(error = %e, mentions = batch.mentions.len(),
                    "cannot journal mentions; their page is not taken and comes again");
                let _ = batch.counted.send(Err(NotJournaled(e.to_string())));
                return Vec::new();
            }
        };
        let now = crate::clock::now();
        let mut out = Vec::new();
        for (p, seq) in scored.into_iter().zip(seqs) {
            let Some(seq) = seq else { continue };
            self.journaled_through = self.journaled_through.max(seq);
            match &mut self.first_round {
                Some(waiting) => waiting.push(p),
                None => out.extend(self.detectors[p.watch].observe(&p.mention, &p.sentiment, now)),
            }
        }
        if self.first_round.is_none() {
            self.counted_through = self.journaled_through;
        }
        let _ = batch.counted.send(Ok(()));
        out
    }

    /// Counts the first round's mentions in time order; from now on mentions count at once.
    fn count_first_round(&mut self) -> Vec<Signal> {
        let Some(mut waiting) = self.first_round.take() else { return Vec::new() };
        waiting.sort_by_key(|p| p.mention.published);
        tracing::info!(mentions = waiting.len(), "first poll of every source in: counting its history in time order");
        let now = crate::clock::now();
        let mut out = Vec::new();
        for p in &waiting {
            out.extend(self.detectors[p.watch].observe(&p.mention, &p.sentiment, now));
        }
        self.counted_through = self.journaled_through;
        out
    }

    /// Whether every polled source has finished a first poll (its backfill is journaled by then).
    fn all_polled(&self) -> bool {
        self.polled.iter().all(|s| self.store.health(s).ok().flatten().is_some_and(|h| h.last_attempt.is_some()))
    }

    fn blind_spots(&mut self) -> Vec<Signal> {
        let now = crate::clock::now();
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
        if let Err(e) =
            persist::save(&self.store, &self.detectors, &self.blind, self.counted_through, crate::clock::now())
        {
            tracing::error!(error = %e, "cannot save window state; it will be retried (the journal keeps the counts)");
        }
        self.prune();
    }

    fn prune(&mut self) {
        let now = crate::clock::now();
        if self.last_pruned.is_some_and(|t| (now - t).to_std().is_ok_and(|d| d < PRUNE_EVERY)) {
            return;
        }
        self.last_pruned = Some(now);
        let before = chrono::Duration::from_std(self.history)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        match self.store.prune_mention_log(before) {
            Ok(0) => {}
            Ok(n) => tracing::info!(mentions = n, "pruned journaled mentions older than [storage] history"),
            Err(e) => tracing::warn!(error = %e, "cannot prune the mention journal"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(dir: &std::path::Path, watches: &[&str]) -> Config {
        let mut text = "[storage]\npath = \"state.db\"\n".to_string();
        for w in watches {
            text.push_str(&format!("[[watches]]\nname = \"{w}\"\nterms = [\"{w}\"]\n"));
        }
        Config::from_toml_with_env(&text, dir).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A day of mentions each minute, so the watch learns a baseline and is warmed up.
    fn warm_up(detection: &mut Detection, watch: usize) {
        let start = chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let sentiment =
            Sentiment { lang: None, label: crate::model::Label::Neu, compound: 0.0, terms: vec![], categories: vec![] };
        for m in 0..2 * 1440 {
            let at = start + chrono::Duration::minutes(m);
            for i in 0..5 {
                let mention = Mention {
                    source: "feed".into(),
                    id: format!("{m}-{i}"),
                    text: "x".into(),
                    author: None,
                    reach: None,
                    lang: None,
                    published: at,
                    url: None,
                };
                detection.detectors[watch].observe(&mention, &sentiment, at);
            }
        }
        assert!(detection.detectors[watch].warmed_up());
    }

    #[test]
    fn a_watch_removed_by_a_reload_is_forgotten_and_starts_fresh_when_added_again() {
        let dir = tempfile::tempdir().unwrap();
        let scorer = Arc::new(Scorer::builtin().unwrap());
        let both = config(dir.path(), &["bank", "shop"]);
        let store = Store::open(&both.storage.path).unwrap();
        let mut first = Detection::load(&both, &store, scorer.clone(), Vec::new()).unwrap();
        warm_up(&mut first, 0);
        warm_up(&mut first, 1);
        first.save();
        assert_eq!(store.detector_state_keys().unwrap(), ["blind_spots", "watch:bank", "watch:shop"]);

        // Reload without "shop": its saved state goes; "bank" keeps its baseline.
        let bank_only = config(dir.path(), &["bank"]);
        let mut second = Detection::load(&bank_only, &store, scorer.clone(), Vec::new()).unwrap();
        second.save();
        assert!(second.detectors[0].warmed_up(), "a kept watch resumes");
        assert_eq!(store.detector_state_keys().unwrap(), ["blind_spots", "watch:bank"]);

        // "shop" again: a new watch under an old name, not the stale baselines.
        let third = Detection::load(&both, &store, scorer, Vec::new()).unwrap();
        assert!(third.detectors[0].warmed_up() && !third.detectors[1].warmed_up());
    }
}
