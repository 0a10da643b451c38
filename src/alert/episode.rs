//! One alert's life: pending → firing → (updates) → resolved, driven by signals and by time.
//! Pure: no clock, no store, no receivers — `Alerter` feeds it.
//!
//! An episode is either an **incident** (`group_by = "watch"`, the default): every signal
//! about what people say of one watch — volume, negativity, sentiment dip, high reach, topic —
//! that overlap or follow within `resolve_after`, one thread per storm; or one **signal
//! kind** of one watch (`group_by = "signal"`, and always for blind spots, which are about
//! stormwatch rather than the brand). Each kind in it is a `Track` with its own start and end.
//!
//! The rules, in the order a crisis team meets them:
//! - A warning waits `for` before it fires (a blip that ends first is never sent); a critical
//!   signal fires at once.
//! - A volume spike alone is at most a warning; it takes a change in sentiment, a topic or a
//!   far-reaching post to make a storm critical.
//! - While it fires, a rise to critical is reported at once, because that is the moment
//!   someone has to get up; a new kind of signal joining is reported after `group_interval`
//!   (so a storm's signals, which trip within minutes of each other, arrive as one update);
//!   growth by half is reported at most once per `repeat_interval`.
//! - It ends when every signal in it has ended, after `resolve_after`: a signal within it
//!   continues the same episode silently, so a flapping detector sends one "firing" and one
//!   "resolved", not ten of each.
//! - A new start within `cooldown` of the last "resolved" reopens that episode without a new
//!   "firing" notification (only a rise in severity is sent).
//! - A high-reach signal has no end of its own: it ends `resolve_after` after the last one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

use super::policy::AlertPolicy;
use super::routing::GroupBy;
use crate::model::{Measure, MentionRef, Phase, Severity, Signal, SignalKind};

/// The stable key of a watch's signal kind: the same across restarts, processes and
/// versions, so receivers can group by it.
pub(crate) fn fingerprint(watch: &str, kind: SignalKind) -> String {
    digest(&format!("{watch}\u{1f}{}", kind.as_str()))
}

/// The stable key of a watch's incidents (every signal about what people say, grouped).
pub(crate) fn incident_fingerprint(watch: &str) -> String {
    digest(&format!("{watch}\u{1f}incident"))
}

fn digest(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// Whether a kind of signal says something about the brand beyond "more mentions": what makes
/// a volume spike worth waking someone for.
pub(crate) fn corroborates(kind: SignalKind) -> bool {
    !matches!(kind, SignalKind::Volume | SignalKind::BlindSpot)
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// A warning waiting for `for` to pass.
    Pending {
        since: DateTime<Utc>,
    },
    Firing,
    /// Every signal ended; waiting `resolve_after` before saying so.
    Resolving {
        since: DateTime<Utc>,
    },
    Resolved {
        at: DateTime<Utc>,
    },
}

/// What a notification about an episode says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Firing,
    /// Grew, rose to critical, or another kind of signal joined.
    Update,
    /// Critical and not acknowledged in time: sent to the next receivers.
    Escalated,
    Resolved,
}

impl Event {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Event::Firing => "firing",
            Event::Update => "update",
            Event::Escalated => "escalated",
            Event::Resolved => "resolved",
        }
    }
}

/// The last notification sent about an episode: what "grew" is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Notified {
    pub at: DateTime<Utc>,
    pub severity: Severity,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledged {
    pub at: DateTime<Utc>,
    pub by: String,
}

/// One kind of signal's part in an episode: when it started and ended, and its latest numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub kind: SignalKind,
    /// The highest severity its signals reached (before the volume-only cap).
    pub severity: Severity,
    /// Started and not ended yet (high reach, which never sends an end, closes after
    /// `resolve_after` without a new one).
    pub open: bool,
    pub started_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub measure: Measure,
    pub value: f64,
    pub baseline: f64,
    pub threshold: f64,
    pub window_secs: u64,
    /// Mentions in its latest window.
    pub mentions: u32,
    /// What to name it by beyond numbers: the author of a high-reach post, a topic's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Its value when receivers were last told; `None` while they have not heard of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_value: Option<f64>,
}

impl Track {
    /// A signal's part on its own (for previews).
    pub(crate) fn of(signal: &Signal) -> Track {
        Track::new(signal)
    }

    fn new(signal: &Signal) -> Track {
        let mut t = Track {
            kind: signal.kind,
            severity: signal.severity,
            open: true,
            started_at: signal.at,
            last_at: signal.at,
            ended_at: None,
            measure: signal.measure,
            value: signal.value,
            baseline: signal.baseline,
            threshold: signal.threshold,
            window_secs: signal.window_secs,
            mentions: signal.evidence.mentions,
            detail: None,
            notified_value: None,
        };
        t.update(signal);
        t
    }

    fn update(&mut self, signal: &Signal) {
        self.severity = self.severity.max(signal.severity);
        self.open = true;
        self.last_at = signal.at;
        self.ended_at = None;
        self.measure = signal.measure;
        self.value = signal.value;
        self.baseline = signal.baseline;
        self.threshold = signal.threshold;
        self.window_secs = signal.window_secs;
        self.mentions = signal.evidence.mentions;
        let e = &signal.evidence;
        self.detail = match signal.kind {
            SignalKind::HighReach => e.top_mentions.first().and_then(|m| m.author.clone()),
            SignalKind::Topic => e.topics.first().map(|t| t.terms.join(", ")),
            _ => None,
        };
    }

    fn end(&mut self, at: DateTime<Utc>) {
        self.open = false;
        self.ended_at = Some(at);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// `<fingerprint>-<unix start>`: unique per episode, stable across restarts. For an
    /// incident this is the incident id.
    pub alert_id: String,
    pub fingerprint: String,
    /// One signal kind (`signal`, and every episode saved before incidents existed), or every
    /// signal of the watch (`watch`: an incident).
    #[serde(default = "GroupBy::by_signal")]
    pub group: GroupBy,
    pub seq: u64,
    pub status: Status,
    /// The highest severity reached.
    pub severity: Severity,
    pub started_at: DateTime<Utc>,
    pub fired_at: Option<DateTime<Utc>>,
    /// The signal whose evidence notifications show: the latest, unless it is less severe than
    /// one still going on.
    pub last_signal: Signal,
    pub last_signal_at: DateTime<Utc>,
    /// Every kind of signal in the episode, in kind order.
    #[serde(default)]
    pub tracks: Vec<Track>,
    pub notified: Option<Notified>,
    /// Grew since the last notification; sent when the repeat interval allows.
    pub update_due: bool,
    /// The update due is about a kind of signal receivers have not heard of: it waits only
    /// `group_interval`.
    #[serde(default)]
    pub joined: bool,
    pub acknowledged: Option<Acknowledged>,
    /// Receivers that were told, with when they were first told it is critical (for
    /// escalation) — `None` while they know only a warning.
    pub receivers: BTreeMap<String, Option<DateTime<Utc>>>,
    /// Receivers whose escalation has been sent.
    pub escalated_from: BTreeSet<String>,
    /// Notices sent so far.
    #[serde(default)]
    pub notices: u32,
}

/// A value grown by this factor since the last notification is worth an update.
const GROWTH: f64 = 1.5;

/// Episodes as the state file keeps them (JSON). One that cannot be read (a state file from
/// another version) is logged with its place and left out, never silently dropped.
pub(crate) fn decode_saved(saved: &[String]) -> Vec<Episode> {
    let mut out = Vec::with_capacity(saved.len());
    for (i, json) in saved.iter().enumerate() {
        match serde_json::from_str::<Episode>(json) {
            Ok(e) => out.push(e.with_tracks()),
            Err(e) => tracing::warn!(episode = i, error = %e, "a saved alert episode is unreadable; it is left out"),
        }
    }
    out
}

/// Mentions an incident shows at most.
const SHOWN_MENTIONS: usize = 5;

/// Adds `more` to `mentions` without repeats, keeps the most reached.
fn merge_mentions(mentions: &mut Vec<MentionRef>, more: impl Iterator<Item = MentionRef>) {
    for m in more {
        if !mentions.iter().any(|k| k.source == m.source && k.id == m.id) {
            mentions.push(m);
        }
    }
    mentions.sort_by_key(|m| std::cmp::Reverse(m.reach.unwrap_or(0)));
    mentions.truncate(SHOWN_MENTIONS);
}

fn after(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Episode {
    /// A new episode for a starting signal: pending, or firing at once. `corroborated`: some
    /// other signal of the watch says more than "more mentions" (see `severity_of`).
    pub(crate) fn open(
        signal: &Signal,
        group: GroupBy,
        seq: u64,
        corroborated: bool,
        policy: &AlertPolicy,
    ) -> (Episode, Option<Event>) {
        let fingerprint = match group {
            GroupBy::Watch if signal.kind != SignalKind::BlindSpot => incident_fingerprint(&signal.watch),
            _ => fingerprint(&signal.watch, signal.kind),
        };
        let now = signal.at;
        let mut e = Episode {
            // The start second makes the id unique even after old episodes are forgotten.
            alert_id: format!("{fingerprint}-{}", now.timestamp()),
            fingerprint,
            group,
            seq,
            status: Status::Pending { since: now },
            // Worked out from the tracks below.
            severity: Severity::Warning,
            started_at: now,
            fired_at: None,
            last_signal: signal.clone(),
            last_signal_at: now,
            tracks: vec![Track::new(signal)],
            notified: None,
            update_due: false,
            joined: false,
            acknowledged: None,
            receivers: BTreeMap::new(),
            escalated_from: BTreeSet::new(),
            notices: 0,
        };
        e.severity = e.severity_of(corroborated);
        let fire_now = e.severity == Severity::Critical || policy.pending_for.is_zero();
        let event = fire_now.then(|| e.fire(now));
        (e, event)
    }

    /// An episode saved before tracks existed gets the one its last signal describes.
    fn with_tracks(mut self) -> Episode {
        if self.tracks.is_empty() {
            let mut t = Track::new(&self.last_signal);
            t.started_at = self.started_at;
            t.open = !matches!(self.status, Status::Resolving { .. } | Status::Resolved { .. });
            t.notified_value = self.notified.map(|n| n.value);
            self.tracks.push(t);
        }
        self
    }

    pub(crate) fn watch(&self) -> &str {
        &self.last_signal.watch
    }

    /// Whether this is an incident (every signal of a watch) rather than one signal kind.
    pub(crate) fn is_incident(&self) -> bool {
        self.group == GroupBy::Watch && self.last_signal.kind != SignalKind::BlindSpot
    }

    pub(crate) fn is_open(&self) -> bool {
        !matches!(self.status, Status::Resolved { .. })
    }

    /// Whether it was ever notified (a pending blip that ended never was).
    pub(crate) fn fired(&self) -> bool {
        self.fired_at.is_some()
    }

    /// The kinds of signal in it, in kind order.
    pub(crate) fn kinds(&self) -> impl Iterator<Item = SignalKind> + '_ {
        self.tracks.iter().map(|t| t.kind)
    }

    /// The highest severity of its signals, except that a volume spike on its own is at most
    /// a warning: more mentions with no change in sentiment, topic or reach is a busy day
    /// more often than a crisis, and should not wake anyone. `corroborated`: another signal of
    /// the watch (in another episode) says more.
    fn severity_of(&self, corroborated: bool) -> Severity {
        let corroborated = corroborated || self.tracks.iter().any(|t| corroborates(t.kind));
        let highest = self
            .tracks
            .iter()
            .map(|t| if t.kind == SignalKind::Volume && !corroborated { Severity::Warning } else { t.severity })
            .max()
            .unwrap_or(Severity::Warning);
        self.severity.max(highest)
    }

    fn fire(&mut self, now: DateTime<Utc>) -> Event {
        self.status = Status::Firing;
        self.fired_at = Some(now);
        Event::Firing
    }

    /// Ends every signal still going on (the episode will get no more signals). Returns
    /// whether any was.
    pub(crate) fn end_all(&mut self, now: DateTime<Utc>) -> bool {
        let mut any = false;
        for t in self.tracks.iter_mut().filter(|t| t.open) {
            t.end(now);
            any = true;
        }
        any
    }

    fn all_ended(&self) -> bool {
        self.tracks.iter().all(|t| !t.open)
    }

    /// A signal of this episode's watch (and kind, unless it is an incident). Returns what to
    /// tell receivers, if anything.
    pub(crate) fn on_signal(&mut self, signal: &Signal, corroborated: bool, policy: &AlertPolicy) -> Option<Event> {
        let now = signal.at;
        let before = self.severity;
        let mut joined = false;
        if signal.phase == Phase::Ended {
            if let Some(t) = self.tracks.iter_mut().find(|t| t.kind == signal.kind && t.open) {
                t.end(now);
            }
        } else {
            match self.tracks.iter_mut().find(|t| t.kind == signal.kind) {
                Some(t) => t.update(signal),
                None => {
                    self.tracks.push(Track::new(signal));
                    self.tracks.sort_by_key(|t| t.kind);
                }
            }
            joined = self.tracks.iter().any(|t| t.kind == signal.kind && t.notified_value.is_none());
            let kept = std::mem::take(&mut self.last_signal.evidence.top_mentions);
            if self.leads(signal) {
                self.last_signal = signal.clone();
            }
            if self.group == GroupBy::Watch {
                // The far-reaching posts of the whole storm, not only of the latest window:
                // the 480k-follower complaint that opened it stays in every update.
                let mentions = &mut self.last_signal.evidence.top_mentions;
                merge_mentions(mentions, kept.into_iter().chain(signal.evidence.top_mentions.iter().cloned()));
            } else if self.last_signal.evidence.top_mentions.is_empty() {
                self.last_signal.evidence.top_mentions = kept;
            }
            self.last_signal_at = now;
            self.severity = self.severity_of(corroborated);
            // Signals are stamped with the end of the window they judged, and a high-reach
            // post with when it arrived: a storm's volume signal can carry an earlier time
            // than the post that opened the incident.
            self.started_at = self.started_at.min(now);
        }
        let rose = self.severity > before;
        match (self.status, signal.phase) {
            (Status::Pending { .. }, Phase::Ended) if self.all_ended() => {
                // Ended before `for` passed: a blip, never sent.
                self.status = Status::Resolved { at: now };
                None
            }
            (Status::Firing, Phase::Ended) if self.all_ended() => {
                self.status = Status::Resolving { since: now };
                None
            }
            (_, Phase::Ended) => None,
            (Status::Pending { .. }, _) => (self.severity == Severity::Critical).then(|| self.fire(now)),
            (Status::Resolved { .. }, _) if !self.fired() => {
                // A reopened blip: it starts waiting again.
                self.status = Status::Pending { since: now };
                (self.severity == Severity::Critical).then(|| self.fire(now))
            }
            (Status::Firing | Status::Resolving { .. } | Status::Resolved { .. }, _) => {
                self.status = Status::Firing;
                self.grew(signal, joined, rose, now, policy)
            }
        }
    }

    /// Whether a new signal's evidence should be the one shown: not when it is less severe
    /// than the shown one and that one is still going on (a warning-level dip joining a
    /// critical negativity storm should not turn the e-mail into a dip e-mail).
    fn leads(&self, signal: &Signal) -> bool {
        let shown = &self.last_signal;
        let shown_open = self.tracks.iter().any(|t| t.kind == shown.kind && t.open);
        signal.kind == shown.kind || signal.severity >= shown.severity || !shown_open
    }

    /// Decides whether a signal of a firing episode is news: a rise in severity at once; a new
    /// kind of signal after `group_interval`; growth by half after `repeat_interval`.
    fn grew(
        &mut self,
        signal: &Signal,
        joined: bool,
        rose: bool,
        now: DateTime<Utc>,
        policy: &AlertPolicy,
    ) -> Option<Event> {
        let last = self.notified?;
        if rose && self.severity > last.severity {
            return Some(Event::Update);
        }
        let track = self.tracks.iter().find(|t| t.kind == signal.kind);
        let bigger = track
            .and_then(|t| t.notified_value)
            .is_some_and(|v| signal.value.abs() >= v.abs() * GROWTH && signal.measure == self.last_signal.measure);
        if joined {
            self.joined = true;
        }
        if joined || bigger {
            self.update_due = true;
        }
        self.due_update(now, policy)
    }

    fn due_update(&mut self, now: DateTime<Utc>, policy: &AlertPolicy) -> Option<Event> {
        let last = self.notified?;
        let interval = if self.joined { policy.group_interval } else { policy.repeat_interval };
        (self.update_due && self.status == Status::Firing && now - last.at >= after(interval)).then_some(Event::Update)
    }

    /// Time passing: pending fires, updates fall due, high reach closes after a quiet spell,
    /// resolving resolves.
    pub(crate) fn tick(&mut self, now: DateTime<Utc>, policy: &AlertPolicy) -> Option<Event> {
        let quiet = after(policy.resolve_after);
        if self.status == Status::Firing {
            // High reach has no end of its own: it is over when no new one came for a while.
            for t in self.tracks.iter_mut().filter(|t| t.open && t.kind == SignalKind::HighReach) {
                if now - t.last_at >= quiet {
                    t.end(t.last_at);
                }
            }
            if self.all_ended() {
                let since = self.tracks.iter().filter_map(|t| t.ended_at).max().unwrap_or(now);
                self.status = Status::Resolving { since };
            }
        }
        match self.status {
            Status::Pending { since } if now - since >= after(policy.pending_for) => Some(self.fire(now)),
            Status::Resolving { since } if now - since >= quiet => {
                self.status = Status::Resolved { at: now };
                Some(Event::Resolved)
            }
            Status::Firing => self.due_update(now, policy),
            _ => None,
        }
    }

    /// Whether a new start at `now` continues this episode (still open, or resolved within
    /// the cooldown) rather than opening a new one.
    pub(crate) fn continues_at(&self, now: DateTime<Utc>, policy: &AlertPolicy) -> bool {
        match self.status {
            Status::Resolved { at } => now - at < after(policy.cooldown),
            _ => true,
        }
    }

    /// Records that a notification went out (to at least one receiver).
    pub(crate) fn mark_notified(&mut self, event: Event, now: DateTime<Utc>) {
        if event != Event::Resolved {
            self.notified = Some(Notified { at: now, severity: self.severity, value: self.last_signal.value });
            self.update_due = false;
            self.joined = false;
            for t in &mut self.tracks {
                t.notified_value = Some(t.value);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Evidence, Measure};
    use std::time::Duration;

    pub(crate) fn signal(phase: Phase, severity: Severity, value: f64, minute: i64) -> Signal {
        Signal {
            watch: "Kroon Bank".into(),
            kind: SignalKind::Negativity,
            measure: Measure::NegativeShare,
            severity,
            phase,
            at: DateTime::from_timestamp(1_700_000_000 + minute * 60, 0).unwrap_or_default(),
            window_secs: 900,
            value,
            baseline: 0.12,
            threshold: 0.3,
            z: 5.0,
            evidence: Evidence::default(),
        }
    }

    fn policy(pending_min: u64) -> AlertPolicy {
        AlertPolicy {
            pending_for: Duration::from_secs(pending_min * 60),
            repeat_interval: Duration::from_secs(30 * 60),
            resolve_after: Duration::from_secs(15 * 60),
            cooldown: Duration::from_secs(60 * 60),
            ..AlertPolicy::default()
        }
    }

    fn at(minute: i64) -> DateTime<Utc> {
        signal(Phase::Started, Severity::Warning, 0.0, minute).at
    }

    /// Feeds signals and minute ticks; returns the events with their minute.
    fn run(policy: &AlertPolicy, signals: &[Signal], until: i64) -> Vec<(i64, Event)> {
        run_grouped(policy, signals, until, GroupBy::Signal).0
    }

    /// `run` for one grouping; also returns the episode at the end.
    fn run_grouped(
        policy: &AlertPolicy,
        signals: &[Signal],
        until: i64,
        group: GroupBy,
    ) -> (Vec<(i64, Event)>, Option<Episode>) {
        let mut episode: Option<Episode> = None;
        let mut out = Vec::new();
        for minute in 0..=until {
            for s in signals.iter().filter(|s| s.at == at(minute)) {
                let event = match episode.as_mut() {
                    Some(e) if s.phase == Phase::Ended || e.continues_at(s.at, policy) => e.on_signal(s, false, policy),
                    _ if s.phase == Phase::Ended => None,
                    _ => {
                        let seq = episode.as_ref().map_or(1, |e| e.seq + 1);
                        let (e, event) = Episode::open(s, group, seq, false, policy);
                        episode = Some(e);
                        event
                    }
                };
                if let (Some(ev), Some(e)) = (event, episode.as_mut()) {
                    e.mark_notified(ev, s.at);
                    out.push((minute, ev));
                }
            }
            if let Some(e) = episode.as_mut() {
                if let Some(ev) = e.tick(at(minute), policy) {
                    e.mark_notified(ev, at(minute));
                    out.push((minute, ev));
                }
            }
        }
        (out, episode)
    }

    fn of_kind(kind: SignalKind, phase: Phase, severity: Severity, value: f64, minute: i64) -> Signal {
        let measure = match kind {
            SignalKind::Volume => Measure::Mentions,
            SignalKind::SentimentDip => Measure::MeanSentiment,
            SignalKind::HighReach => Measure::Reach,
            SignalKind::Topic => Measure::TopicMentions,
            _ => Measure::NegativeShare,
        };
        Signal { kind, measure, ..signal(phase, severity, value, minute) }
    }

    use Phase::{Ended, Ongoing, Started};
    use Severity::{Critical, Warning};

    #[test]
    fn one_firing_and_one_resolved_for_a_storm_that_flaps() {
        let signals = [
            signal(Started, Warning, 0.4, 0),
            signal(Ended, Warning, 0.1, 5),
            signal(Started, Warning, 0.4, 8),
            signal(Ended, Warning, 0.1, 12),
            signal(Started, Warning, 0.45, 20),
            signal(Ended, Warning, 0.1, 30),
        ];
        assert_eq!(run(&policy(0), &signals, 120), [(0, Event::Firing), (45, Event::Resolved)]);
    }

    #[test]
    fn a_warning_that_ends_within_for_is_never_sent_and_critical_skips_the_wait() {
        let blip = [signal(Started, Warning, 0.4, 0), signal(Ended, Warning, 0.1, 3)];
        assert_eq!(run(&policy(5), &blip, 60), []);
        let lasting = [signal(Started, Warning, 0.4, 0)];
        assert_eq!(run(&policy(5), &lasting, 10), [(5, Event::Firing)]);
        let critical = [signal(Started, Critical, 0.8, 0)];
        assert_eq!(run(&policy(5), &critical, 10), [(0, Event::Firing)]);
    }

    #[test]
    fn growth_is_reported_once_per_repeat_interval_and_a_rise_to_critical_at_once() {
        let signals = [
            signal(Started, Warning, 0.3, 0),
            signal(Ongoing, Warning, 0.5, 5),
            signal(Ongoing, Warning, 0.8, 10),
            signal(Ongoing, Critical, 0.9, 40),
            signal(Ongoing, Critical, 0.95, 45),
        ];
        assert_eq!(run(&policy(0), &signals, 80), [(0, Event::Firing), (30, Event::Update), (40, Event::Update)]);
    }

    #[test]
    fn a_new_start_within_the_cooldown_reopens_without_a_new_firing() {
        let signals = [
            signal(Started, Warning, 0.4, 0),
            signal(Ended, Warning, 0.1, 10),
            // resolved at 25; a start at 50 is within the hour of cooldown
            signal(Started, Warning, 0.4, 50),
            signal(Ended, Warning, 0.1, 60),
            // resolved at 75; a start after 135 is a new episode
            signal(Started, Warning, 0.4, 140),
        ];
        assert_eq!(
            run(&policy(0), &signals, 150),
            [(0, Event::Firing), (25, Event::Resolved), (75, Event::Resolved), (140, Event::Firing)]
        );
    }

    #[test]
    fn high_reach_resolves_after_a_quiet_spell() {
        let mut s = signal(Started, Critical, 2e6, 0);
        s.kind = SignalKind::HighReach;
        assert_eq!(run(&policy(0), &[s], 30), [(0, Event::Firing), (15, Event::Resolved)]);
    }

    use SignalKind::{HighReach, Negativity, SentimentDip, Volume};

    #[test]
    fn a_storm_of_four_signal_kinds_is_one_incident_one_firing_one_update_one_resolved() {
        // The loopback storm of issue 20: high reach, negativity, a dip and volume trip within
        // minutes; they end at different times.
        let signals = [
            of_kind(HighReach, Started, Critical, 480_000.0, 0),
            of_kind(Negativity, Started, Warning, 0.4, 1),
            of_kind(SentimentDip, Started, Warning, -0.3, 2),
            of_kind(Volume, Started, Critical, 84.0, 3),
            of_kind(Negativity, Ongoing, Critical, 0.55, 4),
            of_kind(Volume, Ended, Critical, 20.0, 30),
            of_kind(SentimentDip, Ended, Warning, 0.0, 35),
            of_kind(Negativity, Ended, Warning, 0.1, 40),
        ];
        let (events, episode) = run_grouped(&policy(0), &signals, 120, GroupBy::Watch);
        // Critical at once; the three kinds that joined in the first minutes, one update when
        // `group_interval` (5 min) has passed; resolved 15 min after the last end.
        assert_eq!(events, [(0, Event::Firing), (5, Event::Update), (55, Event::Resolved)]);
        let e = episode.expect("an incident");
        assert_eq!(e.kinds().collect::<Vec<_>>(), [Volume, Negativity, SentimentDip, HighReach]);
        assert!(e.is_incident() && e.tracks.iter().all(|t| !t.open && t.ended_at.is_some()));
        assert_eq!(e.fingerprint, incident_fingerprint("Kroon Bank"));
    }

    #[test]
    fn the_same_storm_grouped_by_signal_is_one_episode_per_kind() {
        let negativity = [of_kind(Negativity, Started, Warning, 0.4, 1), of_kind(Negativity, Ended, Warning, 0.1, 40)];
        let (events, e) = run_grouped(&policy(0), &negativity, 120, GroupBy::Signal);
        assert_eq!(events, [(1, Event::Firing), (55, Event::Resolved)]);
        assert!(e.is_some_and(|e| !e.is_incident() && e.fingerprint == fingerprint("Kroon Bank", Negativity)));
    }

    #[test]
    fn volume_alone_is_a_warning_and_turns_critical_when_sentiment_joins() {
        let signals = [of_kind(Volume, Started, Critical, 300.0, 0), of_kind(Negativity, Started, Warning, 0.35, 10)];
        let (events, e) = run_grouped(&policy(0), &signals[..1], 5, GroupBy::Watch);
        assert_eq!(events, [(0, Event::Firing)]);
        assert_eq!(e.map(|e| e.severity), Some(Warning), "a busy day is not a crisis");
        let (events, e) = run_grouped(&policy(0), &signals, 20, GroupBy::Watch);
        // The negativity makes the volume spike count: critical, sent at once.
        assert_eq!(events, [(0, Event::Firing), (10, Event::Update)]);
        assert_eq!(e.map(|e| e.severity), Some(Critical));
    }

    #[test]
    fn an_incident_stays_open_while_any_signal_goes_on() {
        let signals = [
            of_kind(Volume, Started, Warning, 80.0, 0),
            of_kind(Negativity, Started, Warning, 0.4, 2),
            of_kind(Volume, Ended, Warning, 20.0, 10),
            // volume ended, negativity goes on: no resolution at 25
            of_kind(Negativity, Ended, Warning, 0.1, 60),
        ];
        let (events, _) = run_grouped(&policy(0), &signals, 120, GroupBy::Watch);
        assert_eq!(events, [(0, Event::Firing), (5, Event::Update), (75, Event::Resolved)]);
    }

    #[test]
    fn a_saved_episode_from_before_incidents_reads_as_one_signal_kind() {
        let (e, _) = Episode::open(&signal(Started, Warning, 0.4, 0), GroupBy::Signal, 1, false, &policy(0));
        let mut json: serde_json::Value = serde_json::to_value(&e).expect("serializes");
        let Some(o) = json.as_object_mut() else { panic!("an object") };
        o.remove("group");
        o.remove("tracks");
        o.remove("joined");
        let back = decode_saved(&[json.to_string()]);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].group, GroupBy::Signal);
        assert_eq!(back[0].kinds().collect::<Vec<_>>(), [Negativity]);
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        assert_eq!(fingerprint("Kroon Bank", SignalKind::Volume), fingerprint("Kroon Bank", SignalKind::Volume));
        assert_ne!(fingerprint("Kroon Bank", SignalKind::Volume), fingerprint("Kroon Bank", SignalKind::Negativity));
        assert_eq!(fingerprint("Kroon Bank", SignalKind::Volume).len(), 16);
    }
}
