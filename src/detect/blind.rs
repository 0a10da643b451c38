//! Blind spots: a watch cannot see what is said on a source that fails or falls silent, and a
//! storm there goes unnoticed. A crisis team would rather hear "Mastodon has answered 401
//! for 3 polls: check the token" than trust a quiet dashboard.
//!
//! After every poll, the source's health goes in. A source is **failing** after
//! `failures` failed polls in a row (timeouts, refused connections, 401/403, 429, 5xx,
//! unreadable bodies), and **silent** when its polls succeed but bring nothing new for
//! `silent_polls` polls in a row *and* for far longer than its usual gap between new items
//! (`silent_factor` times it, at least `silent_min`). The usual gap is learned, so a quiet
//! niche feed is not flagged for the quiet it always has.
//!
//! A watch is blind while any source feeding it is failing or silent: one `BlindSpot` signal
//! starts when the first source goes, an `Ongoing` one when another joins or it turns
//! critical, `Ended` when all are back. Failing with 401/403 is critical from the start
//! (credentials do not heal by themselves); other failures turn critical after four times as
//! many polls.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StateError;

use crate::model::{BlindSource, Evidence, Measure, Phase, Severity, Signal, SignalKind};
use crate::store::SourceHealth;

#[derive(Debug, Clone, PartialEq)]
pub struct BlindSpotParams {
    /// Failed polls in a row before a source counts as failing.
    pub failures: u32,
    /// Polls in a row with nothing new before a source can count as silent...
    pub silent_polls: u32,
    /// ...and silent for this many times its usual gap between new items...
    pub silent_factor: f64,
    /// ...and at least this long.
    pub silent_min: Duration,
}

impl Default for BlindSpotParams {
    fn default() -> Self {
        BlindSpotParams { failures: 3, silent_polls: 5, silent_factor: 8.0, silent_min: Duration::from_secs(2 * 3600) }
    }
}

/// What is learned per source: saved with the window state so a restart keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SourceGaze {
    /// When a poll last brought something new.
    last_new: Option<DateTime<Utc>>,
    /// Mean gap between polls that brought something new, in seconds (EWMA), and how many
    /// gaps it has seen.
    usual_gap: f64,
    gaps: u32,
    /// Successful polls in a row that brought nothing.
    empty_polls: u32,
    /// Why the source is blind now, if it is.
    blind: Option<Blindness>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Blindness {
    reason: String,
    since: DateTime<Utc>,
    critical: bool,
}

/// Gaps learned before silence can be judged: a source seen bringing news a few times.
const MIN_GAPS: u32 = 5;
/// Weight of the newest gap in the usual gap.
const GAP_WEIGHT: f64 = 0.1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct BlindSpotState {
    sources: BTreeMap<String, SourceGaze>,
    /// Per watch, the blind sources already signalled and whether it was critical.
    open: BTreeMap<String, (BTreeSet<String>, bool)>,
}

/// Blind spots of every watch, from the health of every source.
#[derive(Debug)]
pub(crate) struct BlindSpots {
    params: BlindSpotParams,
    /// Watch name and the sources feeding it (`None`: all).
    watches: Vec<(String, Option<Vec<String>>)>,
    state: BlindSpotState,
}

impl BlindSpots {
    pub(crate) fn new(params: BlindSpotParams, watches: Vec<(String, Option<Vec<String>>)>) -> BlindSpots {
        BlindSpots { params, watches, state: BlindSpotState::default() }
    }

    /// Continues from a saved state (what was learned of each source, and open blind spots).
    pub(crate) fn restore(mut self, saved: &[u8]) -> Result<BlindSpots, StateError> {
        self.state = serde_json::from_slice(saved)
            .map_err(|source| StateError::Unreadable { what: "blind-spot state".into(), source })?;
        Ok(self)
    }

    pub(crate) fn save(&self) -> Result<Vec<u8>, StateError> {
        serde_json::to_vec(&self.state)
            .map_err(|source| StateError::Unwritable { what: "blind-spot state".into(), source })
    }

    pub(crate) fn params(&self) -> &BlindSpotParams {
        &self.params
    }

    pub(crate) fn watches(&self) -> &[(String, Option<Vec<String>>)] {
        &self.watches
    }

    /// Takes the health of `source` after a poll at `now`; returns the signals of the
    /// watches it feeds whose blind spots changed.
    pub(crate) fn observe(&mut self, source: &str, health: &SourceHealth, now: DateTime<Utc>) -> Vec<Signal> {
        let p = self.params.clone();
        let gaze = self.state.sources.entry(source.to_string()).or_default();
        let failing = health.consecutive_failures > 0;
        if !failing && health.last_items > 0 {
            if let Some(last) = gaze.last_new {
                let gap = (now - last).num_seconds().max(0) as f64;
                gaze.usual_gap =
                    if gaze.gaps == 0 { gap } else { (1.0 - GAP_WEIGHT) * gaze.usual_gap + GAP_WEIGHT * gap };
                gaze.gaps += 1;
            }
            gaze.last_new = Some(now);
            gaze.empty_polls = 0;
        } else if !failing {
            gaze.empty_polls += 1;
        }
        let previous = gaze.blind.take();
        let was_blind = previous.is_some();
        gaze.blind = judge(&p, gaze, health, now, previous);
        // A source that was not blind and is not now changes no watch's blind set (every
        // change is judged when the source that changed is observed): skip the walk over
        // every watch and source, which at 500 sources cost a core on a simulated clock.
        if !was_blind && gaze.blind.is_none() {
            return Vec::new();
        }
        self.signals(source, now)
    }

    fn signals(&mut self, source: &str, now: DateTime<Utc>) -> Vec<Signal> {
        let mut out = Vec::new();
        for (watch, sources) in &self.watches {
            if sources.as_ref().is_some_and(|s| !s.iter().any(|s| s == source)) {
                continue;
            }
            let feeds = |s: &String| sources.as_ref().is_none_or(|list| list.contains(s));
            let blind: Vec<(&String, &Blindness)> = self
                .state
                .sources
                .iter()
                .filter(|(s, _)| feeds(s))
                .filter_map(|(s, g)| g.blind.as_ref().map(|b| (s, b)))
                .collect();
            let names: BTreeSet<String> = blind.iter().map(|(s, _)| (*s).clone()).collect();
            let critical = blind.iter().any(|(_, b)| b.critical);
            let before = self.state.open.get(watch).cloned();
            let phase = match (&before, names.is_empty()) {
                (None, true) => None,
                (None, false) => Some(Phase::Started),
                (Some(_), true) => Some(Phase::Ended),
                (Some((was, was_critical)), false) => {
                    (!names.is_subset(was) || (critical && !was_critical)).then_some(Phase::Ongoing)
                }
            };
            let Some(phase) = phase else {
                if let Some(open) = self.state.open.get_mut(watch) {
                    // A source back while another stays blind: narrow the set quietly.
                    *open = (names, critical);
                }
                continue;
            };
            if phase == Phase::Ended {
                self.state.open.remove(watch);
            } else {
                self.state.open.insert(watch.clone(), (names, critical));
            }
            let evidence = Evidence {
                blind_sources: blind
                    .iter()
                    .map(|(s, b)| BlindSource { source: (*s).clone(), reason: b.reason.clone(), since: b.since })
                    .collect(),
                ..Evidence::default()
            };
            let longest = blind.iter().map(|(_, b)| (now - b.since).num_seconds().max(0) as u64).max().unwrap_or(0);
            out.push(Signal {
                watch: watch.clone(),
                kind: SignalKind::BlindSpot,
                measure: Measure::Sources,
                severity: if critical { Severity::Critical } else { Severity::Warning },
                phase,
                at: now,
                window_secs: longest,
                value: blind.len() as f64,
                baseline: 0.0,
                threshold: 1.0,
                z: 0.0,
                evidence,
            });
        }
        out
    }
}

/// Whether a source is blind after this poll, and why, in words a person can act on.
fn judge(
    p: &BlindSpotParams,
    gaze: &SourceGaze,
    health: &SourceHealth,
    now: DateTime<Utc>,
    previous: Option<Blindness>,
) -> Option<Blindness> {
    let n = health.consecutive_failures;
    if n >= p.failures {
        let what = match health.last_status {
            Some(401 | 403) => format!("answered {} (unauthorized): check its credentials", status(health)),
            Some(429) => "is rate-limiting us (429): poll less often or ask for a higher quota".to_string(),
            Some(s) if s >= 500 => format!("answers server errors ({s})"),
            Some(s) => format!("answers {s}"),
            None => format!("fails: {}", health.last_error.as_deref().unwrap_or("unknown error")),
        };
        let unauthorized = matches!(health.last_status, Some(401 | 403));
        // Blind since it went blind, or since the last success before this run of failures.
        let began = previous.map(|b| b.since).or(health.last_success).unwrap_or(now);
        return Some(Blindness {
            reason: format!("{what}; {n} failed polls in a row"),
            since: began,
            critical: unauthorized || n >= 4 * p.failures,
        });
    }
    if n > 0 {
        // A failure or two is weather: whatever was judged before stands until it settles.
        return previous;
    }
    let last_new = gaze.last_new?;
    let silent_for = (now - last_new).num_seconds().max(0) as f64;
    let limit = (p.silent_factor * gaze.usual_gap).max(p.silent_min.as_secs_f64());
    if gaze.gaps >= MIN_GAPS && gaze.empty_polls >= p.silent_polls && silent_for > limit {
        return Some(Blindness {
            reason: format!(
                "silent for {} ({} polls with nothing new); usually something new every {}",
                human(silent_for),
                gaze.empty_polls,
                human(gaze.usual_gap)
            ),
            since: last_new,
            critical: false,
        });
    }
    None
}

fn status(h: &SourceHealth) -> String {
    h.last_status.map(|s| s.to_string()).unwrap_or_default()
}

fn human(secs: f64) -> String {
    humantime::format_duration(Duration::from_secs(secs.round().max(0.0) as u64 / 60 * 60)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_717_200_000 + minutes * 60, 0).unwrap()
    }

    fn ok(items: u32) -> SourceHealth {
        SourceHealth { consecutive_failures: 0, last_status: Some(200), last_items: items, ..SourceHealth::default() }
    }

    fn failed(n: u32, status: u16) -> SourceHealth {
        SourceHealth {
            consecutive_failures: n,
            last_status: Some(status),
            last_error: Some(format!("status {status}")),
            ..SourceHealth::default()
        }
    }

    fn spots() -> BlindSpots {
        BlindSpots::new(
            BlindSpotParams::default(),
            vec![("bank".into(), None), ("shop".into(), Some(vec!["reddit".into()]))],
        )
    }

    fn kinds(signals: &[Signal]) -> Vec<(&str, Phase, Severity)> {
        signals.iter().map(|s| (s.watch.as_str(), s.phase, s.severity)).collect()
    }

    #[test]
    fn a_source_failing_n_polls_blinds_the_watches_it_feeds_until_it_recovers() {
        let mut b = spots();
        assert!(b.observe("mastodon", &ok(4), at(0)).is_empty());
        assert!(b.observe("mastodon", &failed(1, 503), at(5)).is_empty());
        assert!(b.observe("mastodon", &failed(2, 503), at(10)).is_empty(), "two failures are weather");
        let s = b.observe("mastodon", &failed(3, 503), at(15));
        assert_eq!(kinds(&s), [("bank", Phase::Started, Severity::Warning)], "shop reads only reddit");
        let why = &s[0].evidence.blind_sources[0];
        assert_eq!(why.source, "mastodon");
        assert!(why.reason.contains("server errors (503)") && why.reason.contains("3 failed polls"), "{}", why.reason);
        assert!(b.observe("mastodon", &failed(4, 503), at(20)).is_empty(), "signalled once");
        let s = b.observe("mastodon", &failed(12, 503), at(60));
        assert_eq!(kinds(&s), [("bank", Phase::Ongoing, Severity::Critical)], "escalates when it lasts");
        let s = b.observe("mastodon", &ok(2), at(65));
        assert_eq!(kinds(&s), [("bank", Phase::Ended, Severity::Warning)]);
    }

    #[test]
    fn unauthorized_is_critical_at_once_and_a_second_source_joins_the_same_blind_spot() {
        let mut b = spots();
        let s = b.observe("reddit", &failed(3, 401), at(0));
        assert_eq!(
            kinds(&s),
            [("bank", Phase::Started, Severity::Critical), ("shop", Phase::Started, Severity::Critical)]
        );
        assert!(s[0].evidence.blind_sources[0].reason.contains("check its credentials"));
        let s = b.observe("bluesky", &failed(3, 429), at(5));
        assert_eq!(kinds(&s), [("bank", Phase::Ongoing, Severity::Critical)]);
        assert_eq!(s[0].evidence.blind_sources.len(), 2);
        assert!(b.observe("bluesky", &ok(1), at(10)).is_empty(), "reddit still blinds bank");
        let s = b.observe("reddit", &ok(1), at(15));
        assert_eq!(kinds(&s), [("bank", Phase::Ended, Severity::Warning), ("shop", Phase::Ended, Severity::Warning)]);
    }

    #[test]
    fn silence_is_judged_against_the_sources_own_rhythm() {
        let mut b = spots();
        // News every 10 minutes for a while...
        for i in 0..10 {
            assert!(b.observe("news", &ok(3), at(10 * i)).is_empty());
        }
        // ...then polls every 10 minutes bring nothing. Not after 1 h (under the 2 h floor),
        // but after 2 h of nothing it is a blind spot.
        let mut started = None;
        for i in 10..40 {
            let s = b.observe("news", &ok(0), at(10 * i));
            if !s.is_empty() && started.is_none() {
                started = Some((i, s));
            }
        }
        let (i, s) = started.expect("silence noticed");
        assert_eq!(i, 10 + 12, "after 2 h (the floor; 8 × 10 min is less)");
        assert!(s[0].evidence.blind_sources[0].reason.contains("silent for 2h 10m"), "{:?}", s[0].evidence);
        let s = b.observe("news", &ok(1), at(400));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].phase, Phase::Ended);
    }

    #[test]
    fn a_naturally_quiet_source_is_not_silent_and_state_survives_a_restart() {
        let mut b = spots();
        // One item a day, polled hourly: a day without news is normal for it.
        for day in 0..8 {
            for hour in 0..24 {
                let items = u32::from(hour == 12);
                assert!(b.observe("niche", &ok(items), at((day * 24 + hour) * 60)).is_empty(), "day {day} {hour}h");
            }
        }
        let saved = b.save().unwrap();
        let mut b = spots().restore(&saved).unwrap();
        let t = 8 * 24 * 60;
        assert!(b.observe("niche", &failed(3, 500), at(t)).len() == 1);
        let mut b2 = spots().restore(&b.save().unwrap()).unwrap();
        assert_eq!(b2.observe("niche", &ok(1), at(t + 60)).len(), 1, "the open blind spot was remembered and ends");
        assert!(spots().restore(b"{").unwrap_err().to_string().contains("unreadable"));
    }
}
