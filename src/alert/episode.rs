//! One alert's life: pending → firing → (updates) → resolved, driven by the signals of one
//! watch and kind, and by time. Pure: no clock, no store, no receivers — `Alerter` feeds it.
//!
//! The rules, in the order a crisis team meets them:
//! - A warning waits `for` before it fires (a blip that ends first is never sent); a critical
//!   signal fires at once.
//! - While it fires, growth is reported at most once per `repeat_interval`; a rise to critical
//!   is reported at once, because that is the moment someone has to get up.
//! - An end waits `resolve_after`: a signal within it continues the same episode silently, so
//!   a flapping detector sends one "firing" and one "resolved", not ten of each.
//! - A new start within `cooldown` of the last "resolved" reopens that episode without a new
//!   "firing" notification (only a rise in severity is sent).
//! - A high-reach signal has no end of its own: it resolves after `resolve_after` without a
//!   new one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

use super::policy::AlertPolicy;
use crate::model::{Phase, Severity, Signal, SignalKind};

/// The stable key of a watch's signal kind: the same across restarts, processes and
/// versions, so receivers can group by it.
pub(crate) fn fingerprint(watch: &str, kind: SignalKind) -> String {
    let digest = Sha256::digest(format!("{watch}\u{1f}{}", kind.as_str()).as_bytes());
    hex::encode(&digest[..8])
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// A warning waiting for `for` to pass.
    Pending {
        since: DateTime<Utc>,
    },
    Firing,
    /// The detector said it ended; waiting `resolve_after` before saying so.
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
    /// Grew, or rose to critical.
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// `<fingerprint>-<unix start>`: unique per episode, stable across restarts.
    pub alert_id: String,
    pub fingerprint: String,
    pub seq: u64,
    pub status: Status,
    /// The highest severity reached.
    pub severity: Severity,
    pub started_at: DateTime<Utc>,
    pub fired_at: Option<DateTime<Utc>>,
    pub last_signal: Signal,
    pub last_signal_at: DateTime<Utc>,
    pub notified: Option<Notified>,
    /// Grew since the last notification; sent when the repeat interval allows.
    pub update_due: bool,
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
            Ok(e) => out.push(e),
            Err(e) => tracing::warn!(episode = i, error = %e, "a saved alert episode is unreadable; it is left out"),
        }
    }
    out
}

impl Episode {
    /// A new episode for a starting signal: pending, or firing at once.
    pub(crate) fn open(signal: &Signal, seq: u64, policy: &AlertPolicy) -> (Episode, Option<Event>) {
        let fingerprint = fingerprint(&signal.watch, signal.kind);
        let now = signal.at;
        let fire_now = signal.severity == Severity::Critical || policy.pending_for.is_zero();
        let mut e = Episode {
            // The start second makes the id unique even after old episodes are forgotten.
            alert_id: format!("{fingerprint}-{}", now.timestamp()),
            fingerprint,
            seq,
            status: Status::Pending { since: now },
            severity: signal.severity,
            started_at: now,
            fired_at: None,
            last_signal: signal.clone(),
            last_signal_at: now,
            notified: None,
            update_due: false,
            acknowledged: None,
            receivers: BTreeMap::new(),
            escalated_from: BTreeSet::new(),
            notices: 0,
        };
        let event = fire_now.then(|| e.fire(now));
        (e, event)
    }

    pub(crate) fn is_open(&self) -> bool {
        !matches!(self.status, Status::Resolved { .. })
    }

    /// Whether it was ever notified (a pending blip that ended never was).
    pub(crate) fn fired(&self) -> bool {
        self.fired_at.is_some()
    }

    fn fire(&mut self, now: DateTime<Utc>) -> Event {
        self.status = Status::Firing;
        self.fired_at = Some(now);
        Event::Firing
    }

    /// A signal of this episode's watch and kind. Returns what to tell receivers, if anything.
    pub(crate) fn on_signal(&mut self, signal: &Signal, policy: &AlertPolicy) -> Option<Event> {
        let now = signal.at;
        let rose = signal.severity > self.severity;
        if signal.phase != Phase::Ended {
            self.last_signal = signal.clone();
            self.last_signal_at = now;
            self.severity = self.severity.max(signal.severity);
        }
        match (self.status, signal.phase) {
            (Status::Pending { .. }, Phase::Ended) => {
                // Ended before `for` passed: a blip, never sent.
                self.status = Status::Resolved { at: now };
                None
            }
            (Status::Pending { .. }, _) => (signal.severity == Severity::Critical).then(|| self.fire(now)),
            (Status::Firing, Phase::Ended) => {
                self.status = Status::Resolving { since: now };
                None
            }
            (Status::Resolving { .. } | Status::Resolved { .. }, Phase::Ended) => None,
            (Status::Resolved { .. }, _) if !self.fired() => {
                // A reopened blip: it starts waiting again.
                self.status = Status::Pending { since: now };
                (signal.severity == Severity::Critical).then(|| self.fire(now))
            }
            (Status::Firing | Status::Resolving { .. } | Status::Resolved { .. }, _) => {
                self.status = Status::Firing;
                self.grew(signal, rose, now, policy)
            }
        }
    }

    /// Decides whether a signal of a firing episode is news.
    fn grew(&mut self, signal: &Signal, rose: bool, now: DateTime<Utc>, policy: &AlertPolicy) -> Option<Event> {
        let last = self.notified?;
        if rose && signal.severity > last.severity {
            return Some(Event::Update);
        }
        let bigger = signal.value.abs() >= last.value.abs() * GROWTH && signal.measure == self.last_signal.measure;
        if bigger || signal.severity > last.severity {
            self.update_due = true;
        }
        self.due_update(now, policy)
    }

    fn due_update(&mut self, now: DateTime<Utc>, policy: &AlertPolicy) -> Option<Event> {
        let last = self.notified?;
        let interval = chrono::Duration::from_std(policy.repeat_interval).unwrap_or(chrono::Duration::MAX);
        (self.update_due && self.status == Status::Firing && now - last.at >= interval).then_some(Event::Update)
    }

    /// Time passing: pending fires, updates fall due, resolving resolves.
    pub(crate) fn tick(&mut self, now: DateTime<Utc>, policy: &AlertPolicy) -> Option<Event> {
        let after = |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        match self.status {
            Status::Pending { since } if now - since >= after(policy.pending_for) => Some(self.fire(now)),
            Status::Resolving { since } if now - since >= after(policy.resolve_after) => {
                self.status = Status::Resolved { at: now };
                Some(Event::Resolved)
            }
            Status::Firing
                if self.last_signal.kind == SignalKind::HighReach
                    && now - self.last_signal_at >= after(policy.resolve_after) =>
            {
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
            Status::Resolved { at } => {
                now - at < chrono::Duration::from_std(policy.cooldown).unwrap_or(chrono::Duration::MAX)
            }
            _ => true,
        }
    }

    /// Records that a notification went out (to at least one receiver).
    pub(crate) fn mark_notified(&mut self, event: Event, now: DateTime<Utc>) {
        if event != Event::Resolved {
            self.notified = Some(Notified { at: now, severity: self.severity, value: self.last_signal.value });
            self.update_due = false;
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
        let mut episode: Option<Episode> = None;
        let mut out = Vec::new();
        for minute in 0..=until {
            for s in signals.iter().filter(|s| s.at == at(minute)) {
                let event = match episode.as_mut() {
                    Some(e) if s.phase == Phase::Ended || e.continues_at(s.at, policy) => e.on_signal(s, policy),
                    _ if s.phase == Phase::Ended => None,
                    _ => {
                        let seq = episode.as_ref().map_or(1, |e| e.seq + 1);
                        let (e, event) = Episode::open(s, seq, policy);
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
        out
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

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        assert_eq!(fingerprint("Kroon Bank", SignalKind::Volume), fingerprint("Kroon Bank", SignalKind::Volume));
        assert_ne!(fingerprint("Kroon Bank", SignalKind::Volume), fingerprint("Kroon Bank", SignalKind::Negativity));
        assert_eq!(fingerprint("Kroon Bank", SignalKind::Volume).len(), 16);
    }
}
