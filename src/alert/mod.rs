//! The alert step: signals become episodes (`episode`), episodes become notices for the
//! receivers that should hear about them (`routing`), with holding statements and signed
//! acknowledge links. Whether a notice goes out now or is held (`policy`) is decided where it
//! is written to the outbox, because that needs what was sent in the last hour.
//!
//! `Alerter` is pure state: signals and clock ticks in, `Outgoing` notices out. The caller
//! saves `changed()` episodes in the same transaction as the notices it enqueues, so a crash
//! can never lose a notice of an episode it remembers as notified.

pub(crate) mod ack;
pub(crate) mod episode;
pub(crate) mod holding;
pub(crate) mod policy;
pub(crate) mod routing;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{CrisisCategory, Lang, Phase, Severity, Signal, SignalKind};

pub use ack::AckSigner;
pub(crate) use episode::{Acknowledged, Episode, Event, Status, Track};
pub(crate) use policy::{AlertPolicy, QuietHours};
pub use routing::GroupBy;
pub(crate) use routing::{ReceiverPolicy, Routes};

/// What one notification says about one episode: a snapshot with everything a channel
/// needs to render it, so a delivery retried after a restart says what it said then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The episode's id: for an incident, the incident id.
    pub alert_id: String,
    pub fingerprint: String,
    /// An incident (`watch`) or one signal kind (`signal`).
    #[serde(default = "GroupBy::by_signal")]
    pub group: GroupBy,
    pub event: Event,
    /// Counts the episode's notices: with the alert id and the receiver, the idempotency key.
    pub seq: u32,
    pub severity: Severity,
    pub watch: String,
    /// The signal whose evidence is shown: the latest, unless a more severe one is going on.
    pub signal: Signal,
    /// Every kind of signal in the episode, with its phase and numbers, in kind order.
    #[serde(default)]
    pub signals: Vec<Track>,
    pub started_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub ack_url: Option<String>,
    pub acknowledged: Option<Acknowledged>,
    pub holding: Option<Holding>,
}

impl Notice {
    /// "firing" or "resolved": what a receiver that only tracks state needs.
    pub(crate) fn status(&self) -> &'static str {
        if self.event == Event::Resolved {
            "resolved"
        } else {
            "firing"
        }
    }
}

/// A suggested first public reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holding {
    pub lang: Lang,
    pub category: Option<CrisisCategory>,
    pub text: String,
}

/// What a delivery carries: one notice, or the summary of notices held for a receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Alert(Box<Notice>),
    Summary(Summary),
}

/// Notices held by quiet hours or the hourly cap, sent together when released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub receiver: String,
    /// "quiet_hours" or "hourly_cap".
    pub reason: String,
    pub at: DateTime<Utc>,
    pub notices: Vec<Notice>,
}

/// A notice for one receiver.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outgoing {
    pub receiver: String,
    pub notice: Notice,
}

/// A made-up alert with every part filled in, for `stormwatch notify-test` and previews.
pub fn sample_notice(watch: &str, now: DateTime<Utc>) -> Notice {
    use crate::model::{Evidence, Measure, MentionRef, TimelinePoint};
    let timeline = (0..36)
        .map(|i: i64| TimelinePoint {
            at: now - chrono::Duration::minutes(5 * (36 - i)),
            mentions: if i >= 33 { 110 + 20 * (i as u32 - 33) } else { 10 + (i as u32 % 4) },
            negative: if i >= 33 { 70 + 15 * (i as u32 - 33) } else { 1 },
            expected: 12.0,
        })
        .collect();
    let mention = MentionRef {
        source: "mastodon".into(),
        id: "1".into(),
        author: Some("@example@social.example".into()),
        reach: Some(48_000),
        url: Some("https://social.example/@example/1".into()),
        text: "This is a test alert from stormwatch: no action needed.".into(),
        compound: -0.6,
        published: now,
    };
    let signal = Signal {
        watch: watch.to_string(),
        kind: SignalKind::Negativity,
        measure: Measure::NegativeShare,
        severity: Severity::Warning,
        phase: Phase::Started,
        at: now,
        window_secs: 900,
        value: 0.64,
        baseline: 0.1,
        threshold: 0.3,
        z: 5.2,
        evidence: Evidence {
            mentions: 345,
            negative: 221,
            positive: 14,
            top_terms: vec![("outage".into(), 90), ("down".into(), 61)],
            categories: vec![(CrisisCategory::Outage, 120)],
            top_mentions: vec![mention],
            languages: vec![("en".into(), 345)],
            sources: vec![("mastodon".into(), 345)],
            expected_mentions: Some(36.0),
            usual_share: Some(0.1),
            timeline,
            ..Evidence::default()
        },
    };
    let text = holding::default_template(Some(CrisisCategory::Outage), Lang::En).replace("{brand}", watch);
    let signals = vec![episode::Track::of(&signal)];
    Notice {
        alert_id: format!("test-{}", now.timestamp()),
        fingerprint: "test".into(),
        group: GroupBy::Watch,
        event: Event::Firing,
        seq: 1,
        severity: Severity::Warning,
        watch: watch.to_string(),
        signal,
        signals,
        started_at: now,
        at: now,
        ack_url: None,
        acknowledged: None,
        holding: Some(Holding { lang: Lang::En, category: Some(CrisisCategory::Outage), text }),
    }
}

/// A storm as replay tells it: one incident of a watch, its signal kinds, when it fired and
/// when it resolved (what receivers would have been sent, under the default policy).
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSummary {
    pub id: String,
    pub watch: String,
    pub severity: Severity,
    pub started_at: DateTime<Utc>,
    /// `None`: a warning that ended before `for` passed, never sent.
    pub fired_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub kinds: Vec<SignalKind>,
}

/// Groups replayed signals (in time order) into the incidents the alert step would have
/// made of them with `policy` (`group_by` decides whether they are incidents or one episode
/// per signal kind).
pub fn incidents(signals: &[Signal], policy: &AlertPolicy) -> Vec<IncidentSummary> {
    let mut alerter = Alerter::new(policy.clone(), Routes::default(), AckSigner::new(Vec::new()), Vec::new());
    let mut seen: Vec<IncidentSummary> = Vec::new();
    let mut record = |episodes: Vec<Episode>| {
        for e in episodes {
            let summary = IncidentSummary {
                id: e.alert_id.clone(),
                watch: e.watch().to_string(),
                severity: e.severity,
                started_at: e.started_at,
                fired_at: e.fired_at,
                resolved_at: match e.status {
                    Status::Resolved { at } => Some(at),
                    _ => None,
                },
                kinds: e.kinds().collect(),
            };
            match seen.iter_mut().find(|s| s.id == summary.id) {
                Some(s) => *s = summary,
                None => seen.push(summary),
            }
        }
    };
    for s in signals {
        alerter.tick(s.at);
        alerter.on_signal(s);
        record(alerter.changed());
    }
    if let Some(last) = signals.last() {
        // Long enough after the last signal for every incident to resolve.
        alerter.tick(last.at + chrono::Duration::days(2));
        record(alerter.changed());
    }
    seen
}

pub struct Alerter {
    policy: AlertPolicy,
    routes: Routes,
    signer: AckSigner,
    /// The latest episode of each fingerprint (open, or resolved and kept for the cooldown).
    episodes: HashMap<String, Episode>,
    changed: BTreeSet<String>,
    /// The groupings receivers use (and `[alerts] group_by`): signals feed an episode of each.
    groupings: Vec<GroupBy>,
}

impl Alerter {
    /// `episodes`: as saved by an earlier run, so nothing is re-alerted after a restart.
    pub(crate) fn new(policy: AlertPolicy, routes: Routes, signer: AckSigner, episodes: Vec<Episode>) -> Alerter {
        let mut groupings = routes.groupings();
        groupings.push(policy.group_by);
        groupings.sort();
        groupings.dedup();
        Alerter {
            policy,
            routes,
            signer,
            episodes: episodes.into_iter().map(|e| (e.fingerprint.clone(), e)).collect(),
            changed: BTreeSet::new(),
            groupings,
        }
    }

    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    pub fn episodes(&self) -> impl Iterator<Item = &Episode> {
        self.episodes.values()
    }

    /// Episodes changed since the last call: to be saved with the notices they produced.
    pub(crate) fn changed(&mut self) -> Vec<Episode> {
        let keys = std::mem::take(&mut self.changed);
        keys.into_iter().filter_map(|k| self.episodes.get(&k).cloned()).collect()
    }

    /// A signal: it continues or opens an episode in each grouping receivers use (blind spots
    /// have one episode, heard by everyone).
    pub(crate) fn on_signal(&mut self, signal: &Signal) -> Vec<Outgoing> {
        let groupings =
            if signal.kind == SignalKind::BlindSpot { vec![GroupBy::Signal] } else { self.groupings.clone() };
        let corroborated = self.corroborated(&signal.watch);
        let mut out = Vec::new();
        for group in groupings {
            out.extend(self.feed(signal, group, corroborated));
        }
        out
    }

    /// Whether an open episode of the watch holds a signal that says more than "more
    /// mentions": then a volume spike may be critical in every grouping.
    fn corroborated(&self, watch: &str) -> bool {
        self.episodes
            .values()
            .filter(|e| e.is_open() && e.watch() == watch)
            .any(|e| e.tracks.iter().any(|t| t.open && episode::corroborates(t.kind)))
    }

    fn feed(&mut self, signal: &Signal, group: GroupBy, corroborated: bool) -> Vec<Outgoing> {
        let fp = match group {
            GroupBy::Watch if signal.kind != SignalKind::BlindSpot => episode::incident_fingerprint(&signal.watch),
            _ => episode::fingerprint(&signal.watch, signal.kind),
        };
        let policy = &self.policy;
        let event = match self.episodes.get_mut(&fp) {
            Some(e) if signal.phase == Phase::Ended || e.continues_at(signal.at, policy) => {
                e.on_signal(signal, corroborated, policy)
            }
            // An end without a start (e.g. it started before the state was lost): nothing to say.
            _ if signal.phase == Phase::Ended => return Vec::new(),
            previous => {
                let seq = previous.map_or(1, |e| e.seq + 1);
                let (e, event) = Episode::open(signal, group, seq, corroborated, policy);
                self.episodes.insert(fp.clone(), e);
                event
            }
        };
        self.changed.insert(fp.clone());
        event.map(|ev| self.notify(&fp, ev, signal.at)).unwrap_or_default()
    }

    /// Whether receivers of an episode's grouping still exist: an episode saved under a
    /// grouping nobody uses any more (the config changed) gets no signals and is wound down.
    fn fed(&self, e: &Episode) -> bool {
        e.last_signal.kind == SignalKind::BlindSpot || self.groupings.contains(&e.group)
    }

    /// Whether a receiver hears about an episode: blind spots reach everyone, the rest only
    /// receivers of the episode's grouping.
    fn hears(r: &ReceiverPolicy, e: &Episode) -> bool {
        e.last_signal.kind == SignalKind::BlindSpot || r.group_by == e.group
    }

    /// Time passing: pending episodes fire, updates fall due, episodes resolve, critical
    /// episodes nobody acknowledged escalate.
    pub(crate) fn tick(&mut self, now: DateTime<Utc>) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let keys: Vec<String> = self.episodes.keys().cloned().collect();
        for fp in keys {
            let fed = self.episodes.get(&fp).is_some_and(|e| self.fed(e));
            let Some(e) = self.episodes.get_mut(&fp) else { continue };
            if !fed && e.end_all(now) {
                self.changed.insert(fp.clone());
            }
            if let Some(ev) = e.tick(now, &self.policy) {
                self.changed.insert(fp.clone());
                out.extend(self.notify(&fp, ev, now));
            }
            out.extend(self.escalate(&fp, now));
        }
        self.forget_old(now);
        out
    }

    /// Marks an alert acknowledged: it stops escalating. Someone is on the storm, so the
    /// watch's other open episodes about what people say (those of another grouping) are
    /// acknowledged with it; a blind spot is acknowledged on its own. False if no episode has
    /// the id.
    pub(crate) fn acknowledge(&mut self, alert_id: &str, by: &str, at: DateTime<Utc>) -> bool {
        let Some(e) = self.episodes.values().find(|e| e.alert_id == alert_id) else { return false };
        let blind = e.last_signal.kind == SignalKind::BlindSpot;
        let watch = e.watch().to_string();
        for e in self.episodes.values_mut() {
            let covered = e.alert_id == alert_id
                || (!blind && e.is_open() && e.watch() == watch && e.last_signal.kind != SignalKind::BlindSpot);
            if covered && e.acknowledged.is_none() {
                e.acknowledged = Some(Acknowledged { at, by: by.to_string() });
                self.changed.insert(e.fingerprint.clone());
            }
        }
        true
    }

    fn escalate(&mut self, fp: &str, now: DateTime<Utc>) -> Vec<Outgoing> {
        let Some(e) = self.episodes.get(fp) else { return Vec::new() };
        if e.status != Status::Firing || e.severity != Severity::Critical || e.acknowledged.is_some() {
            return Vec::new();
        }
        let mut targets = Vec::new();
        let mut from = Vec::new();
        for (name, since) in &e.receivers {
            let (Some(since), Some(r)) = (since, self.routes.get(name)) else { continue };
            let Some(after) = r.escalate_after else { continue };
            let after = chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
            if e.escalated_from.contains(name) || now - *since < after {
                continue;
            }
            from.push(name.clone());
            let next = r.escalate_to.iter().filter(|t| !e.receivers.contains_key(*t));
            let next = next.filter(|t| self.routes.get(t).is_some_and(|r| Self::hears(r, e)));
            targets.extend(next.cloned());
        }
        if from.is_empty() {
            return Vec::new();
        }
        targets.sort();
        targets.dedup();
        let Some(e) = self.episodes.get_mut(fp) else { return Vec::new() };
        e.escalated_from.extend(from);
        self.changed.insert(fp.to_string());
        self.send(fp, Event::Escalated, now, targets)
    }

    /// The receivers of an event, recorded on the episode, and a notice for each.
    fn notify(&mut self, fp: &str, event: Event, now: DateTime<Utc>) -> Vec<Outgoing> {
        let Some(e) = self.episodes.get(fp) else { return Vec::new() };
        let told: Vec<String> = e.receivers.keys().cloned().collect();
        let targets: Vec<String> = match event {
            Event::Resolved | Event::Escalated => told,
            Event::Firing | Event::Update => {
                let mut t = told;
                let routed = self.routes.targets(e.watch(), e.severity);
                t.extend(routed.into_iter().filter(|r| Self::hears(r, e)).map(|r| r.name.clone()));
                t.sort();
                t.dedup();
                t
            }
        };
        self.send(fp, event, now, targets)
    }

    fn send(&mut self, fp: &str, event: Event, now: DateTime<Utc>, targets: Vec<String>) -> Vec<Outgoing> {
        let Some(e) = self.episodes.get_mut(fp) else { return Vec::new() };
        let critical = e.severity == Severity::Critical;
        for t in &targets {
            let since = e.receivers.entry(t.clone()).or_insert(None);
            if critical && since.is_none() {
                *since = Some(now);
            }
        }
        e.mark_notified(event, now);
        e.notices += 1;
        if targets.is_empty() {
            return Vec::new();
        }
        let e = e.clone();
        let notice = self.notice(&e, event, now);
        targets.into_iter().map(|receiver| Outgoing { receiver, notice: notice.clone() }).collect()
    }

    fn notice(&self, e: &Episode, event: Event, now: DateTime<Utc>) -> Notice {
        let signal = &e.last_signal;
        let expires = now + chrono::Duration::from_std(self.policy.ack_link_ttl).unwrap_or(chrono::Duration::days(7));
        let wants_ack = event != Event::Resolved && e.acknowledged.is_none();
        Notice {
            alert_id: e.alert_id.clone(),
            fingerprint: e.fingerprint.clone(),
            group: e.group,
            event,
            seq: e.notices,
            severity: e.severity,
            watch: signal.watch.clone(),
            signal: signal.clone(),
            signals: e.tracks.clone(),
            started_at: e.started_at,
            at: now,
            ack_url: wants_ack.then(|| self.signer.link(&self.policy.public_url, &e.alert_id, expires)),
            acknowledged: e.acknowledged.clone(),
            holding: (event != Event::Resolved).then(|| self.holding(signal)).flatten(),
        }
    }

    /// The statement for the dominant category in the dominant language, for signals about
    /// what people say (a blind spot is about stormwatch, not the brand).
    fn holding(&self, signal: &Signal) -> Option<Holding> {
        if signal.kind == SignalKind::BlindSpot {
            return None;
        }
        let category = signal.evidence.categories.first().map(|(c, _)| *c);
        let lang =
            signal.evidence.languages.first().and_then(|(l, _)| Lang::from_tag(l)).unwrap_or(self.policy.language);
        Some(Holding { lang, category, text: self.policy.holding_statements.statement(category, lang, &signal.watch) })
    }

    /// Resolved episodes are kept for the cooldown (to reopen) and then forgotten.
    fn forget_old(&mut self, now: DateTime<Utc>) {
        let policy = &self.policy;
        self.episodes.retain(|_, e| e.is_open() || e.continues_at(now, policy));
    }
}
