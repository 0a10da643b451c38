//! Drives stormwatch's `WatchDetector` over simulated streams and scores what it signals.
//!
//! One generated stream feeds several detectors at once, one per parameter variant, so a
//! sweep compares variants on exactly the same mentions. Per variant, every `Started` signal
//! is kept; scoring then decides, per episode, when the first negativity start came, and
//! counts starts outside episodes as false alerts:
//!
//! * an episode's window is [onset, end + 1 h]: the first start of a kind in it is that
//!   kind's detection, its delay `at − onset` (a signal's `at` is the end of the bucket that
//!   fired, so a step at onset is seen after 1 minute at best); "detected" means a
//!   negativity start within 15 minutes of onset;
//! * any start outside every episode window is a false alert of its kind; week 1 (which
//!   holds the 1-day warm-up) and week 2 are counted separately.
//!
//! The candidate negative-count test (`candidate.rs`) is scored the same way, as a fourth kind.
//!
//! **Incidents** count false alerts the way a crisis team feels them: the alert layer folds
//! every signal of one watch that overlaps or follows within `resolve_after` (15 min) into one
//! incident with one firing notification. So the detector's starts and ends (negativity,
//! volume, dip; not the candidate) are grouped per watch: a start while an incident is open,
//! or within `INCIDENT_JOIN_MIN` after its last signal ended, joins it. An incident none of
//! whose starts falls in an episode window is false. It is *critical* (it wakes someone) when
//! it holds anything but volume: a volume spike with no change in sentiment is capped at
//! warning by the alert layer.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use stormwatch::detect::{WatchDetector, WatchParams};
use stormwatch::model::{Label, Mention, Phase, SignalKind};

use crate::candidate::CountTest;
use crate::data::{DailyProfile, Pools};
use crate::stream::{Draw, Episode, SimConfig, Stream, WatchPlan, MINUTES_PER_DAY, MINUTES_PER_WEEK, SIM_MINUTES};

/// A detection within this many minutes of onset counts as detected.
pub const DEADLINE_MIN: u32 = 15;
/// A start up to this long after an episode ends is still credited to it.
pub const AFTERMATH_MIN: u32 = 60;
/// A start this long after an incident's last signal ended still joins it: the alert
/// layer's default `resolve_after`.
pub const INCIDENT_JOIN_MIN: u32 = 15;

/// The detector's signal kinds scored, in report order; the candidate count test comes after.
pub const KINDS: [SignalKind; 3] = [SignalKind::Negativity, SignalKind::Volume, SignalKind::SentimentDip];
/// Index of the candidate negative-count test among the kinds scored.
pub const COUNT: usize = 3;
pub const KIND_NAMES: [&str; 4] = ["negativity", "volume", "sentiment_dip", "negative count (candidate)"];

fn kind_index(kind: SignalKind) -> Option<usize> {
    KINDS.iter().position(|&k| k == kind)
}

/// The simulation's clock: 2026-01-05 (a Monday) 00:00 UTC.
pub fn sim_start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_571_200, 0).expect("a valid timestamp")
}

/// Mentions in one minute: all, labeled negative by the scorer, gold-negative.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub all: u32,
    pub scored_neg: u32,
    pub gold_neg: u32,
}

/// A signal start: its kind and the minute (since the simulation start) of its `at`.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    pub kind: usize,
    pub minute: u32,
}

/// One watch simulated: what it saw each minute and what each variant signalled.
pub struct WatchRun {
    pub tallies: Vec<Tally>,
    pub starts: Vec<Vec<Start>>,
    /// The detector's signal ends per variant (the candidate's are not tracked): what
    /// closes an incident.
    pub ends: Vec<Vec<Start>>,
}

/// Streams one watch through one detector per variant.
pub fn run_watch(
    plan: &WatchPlan,
    pools: &Pools,
    profile: &DailyProfile,
    cfg: &SimConfig,
    variants: &[WatchParams],
    count_test: &CountTest,
) -> WatchRun {
    let start = sim_start();
    let mut detectors: Vec<WatchDetector> =
        variants.iter().map(|p| WatchDetector::new(&plan.name, p.clone())).collect();
    let mut starts = vec![Vec::new(); variants.len()];
    let mut ends = vec![Vec::new(); variants.len()];
    let mut tallies = vec![Tally::default(); SIM_MINUTES as usize];
    let mut stream = Stream::new(plan, pools, profile, cfg);
    let mut draws: Vec<Draw> = Vec::new();
    let mut mention = Mention {
        source: "sim".into(),
        id: String::new(),
        text: String::new(),
        author: None,
        reach: None,
        lang: None,
        published: start,
        url: None,
    };
    let mut next_id: u64 = 0;
    for t in 0..=SIM_MINUTES {
        let minute_start = start + Duration::minutes(t as i64);
        for ((d, out), closed) in detectors.iter_mut().zip(starts.iter_mut()).zip(ends.iter_mut()) {
            for s in d.tick(minute_start) {
                let minute = ((s.at - start).num_seconds() / 60) as u32;
                match (s.phase, kind_index(s.kind)) {
                    (Phase::Started, Some(kind)) => out.push(Start { kind, minute }),
                    (Phase::Ended, Some(kind)) => closed.push(Start { kind, minute }),
                    _ => {}
                }
            }
        }
        if t == SIM_MINUTES {
            break;
        }
        stream.minute(t, &mut draws);
        let tally = &mut tallies[t as usize];
        for draw in &draws {
            next_id += 1;
            mention.id.clear();
            let _ = write!(mention.id, "{}-{next_id}", plan.name);
            mention.text.clear();
            mention.text.push_str(&draw.text.text);
            mention.lang = Some(draw.lang.code().to_string());
            mention.published = minute_start + Duration::seconds(draw.second as i64);
            let sentiment = &draw.text.sentiment;
            tally.all += 1;
            tally.scored_neg += (sentiment.label == Label::Neg) as u32;
            tally.gold_neg += draw.gold_negative as u32;
            for d in &mut detectors {
                // High reach is off (no reach is simulated): nothing to collect here.
                let _ = d.observe(&mention, sentiment, mention.published);
            }
        }
    }
    let counted = count_test.starts(&tallies);
    for out in &mut starts {
        out.extend(counted.iter().map(|&minute| Start { kind: COUNT, minute }));
        out.sort_by_key(|s| s.minute);
    }
    WatchRun { tallies, starts, ends }
}

/// What happened to one episode under one variant.
#[derive(Debug, Clone)]
pub struct EpisodeResult {
    pub episode: Episode,
    pub watch_per_hour: f64,
    /// Minutes from onset to the first start of each kind (`KINDS` order) in the episode's window.
    pub delays: [Option<u32>; 4],
    /// Scored-negative share at full strength over the usual scored share (the 24 h before,
    /// outside episodes): the change the detector can see, against the gold `share_factor`.
    pub scored_share_factor: f64,
    /// Gold-negative mentions per hour actually drawn at full strength.
    pub realized_neg_per_hour: f64,
    /// The evidence any share test had at the deadline: the binomial z of the scored
    /// negatives among all mentions of the first 15 minutes, against the usual scored share.
    pub deadline_z: f64,
}

impl EpisodeResult {
    pub fn negativity_delay(&self) -> Option<u32> {
        self.delays[0]
    }

    pub fn detected(&self) -> bool {
        self.negativity_delay().is_some_and(|d| d <= DEADLINE_MIN)
    }

    fn within(&self, kind: usize) -> bool {
        self.delays[kind].is_some_and(|d| d <= DEADLINE_MIN)
    }

    /// Negativity or sentiment dip within the deadline: either reaches the crisis team.
    pub fn detected_by_negativity_or_dip(&self) -> bool {
        self.detected() || self.within(2)
    }

    /// The candidate count test within the deadline.
    pub fn detected_by_count(&self) -> bool {
        self.within(COUNT)
    }

    pub fn detected_by_negativity_or_count(&self) -> bool {
        self.detected() || self.detected_by_count()
    }
}

/// False starts per kind, false incidents, and the minutes they were counted over.
#[derive(Debug, Clone, Copy, Default)]
pub struct FalseStarts {
    pub counts: [u32; 4],
    /// False incidents (see the module header), and those of them that hold more than volume.
    pub incidents: u32,
    pub critical_incidents: u32,
    pub minutes: u64,
}

impl FalseStarts {
    pub fn add(&mut self, other: &FalseStarts) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        self.incidents += other.incidents;
        self.critical_incidents += other.critical_incidents;
        self.minutes += other.minutes;
    }

    fn rate(&self, n: u32) -> f64 {
        if self.minutes == 0 {
            return 0.0;
        }
        n as f64 / (self.minutes as f64 / MINUTES_PER_WEEK as f64)
    }

    /// False incidents per watch per week; `critical`: only those that wake someone.
    pub fn incidents_per_week(&self, critical: bool) -> f64 {
        self.rate(if critical { self.critical_incidents } else { self.incidents })
    }

    /// False starts of kind `k` per watch per week.
    pub fn per_week(&self, k: usize) -> f64 {
        if self.minutes == 0 {
            return 0.0;
        }
        self.counts[k] as f64 / (self.minutes as f64 / MINUTES_PER_WEEK as f64)
    }
}

/// One watch scored under one variant.
#[derive(Debug, Clone)]
pub struct WatchScore {
    pub quiet: bool,
    pub per_hour: f64,
    pub episodes: Vec<EpisodeResult>,
    pub week1: FalseStarts,
    pub week2: FalseStarts,
}

pub fn score_watch(plan: &WatchPlan, run: &WatchRun, variant: usize) -> WatchScore {
    let starts = &run.starts[variant];
    let in_window = |e: &Episode, m: u32| (e.onset..=e.end() + AFTERMATH_MIN).contains(&m);
    let episodes = plan
        .episodes
        .iter()
        .map(|e| {
            let mut delays = [None; 4];
            for s in starts.iter().filter(|s| in_window(e, s.minute)) {
                delays[s.kind].get_or_insert(s.minute - e.onset);
            }
            let usual = usual_scored_share(plan, &run.tallies, e);
            let during = scored_share(&run.tallies[full_strength(e)]);
            let first = &run.tallies[e.onset as usize..(e.onset + DEADLINE_MIN) as usize];
            let (n, k) = (first.iter().map(|t| t.all as f64).sum(), first.iter().map(|t| t.scored_neg as f64).sum());
            EpisodeResult {
                episode: e.clone(),
                watch_per_hour: plan.per_hour,
                delays,
                scored_share_factor: if usual > 0.0 { during / usual } else { f64::NAN },
                realized_neg_per_hour: realized_neg_per_hour(&run.tallies, e),
                deadline_z: binomial_z(k, n, usual),
            }
        })
        .collect();
    let mut week1 = FalseStarts { minutes: MINUTES_PER_WEEK as u64, ..Default::default() };
    let covered: u32 = plan.episodes.iter().map(|e| e.minutes + AFTERMATH_MIN + 1).sum();
    let mut week2 = FalseStarts { minutes: (MINUTES_PER_WEEK - covered) as u64, ..Default::default() };
    for s in starts {
        if plan.episodes.iter().any(|e| in_window(e, s.minute)) {
            continue;
        }
        let week = if s.minute < MINUTES_PER_WEEK { &mut week1 } else { &mut week2 };
        week.counts[s.kind] += 1;
    }
    for incident in incidents(starts, &run.ends[variant]) {
        if incident.starts.iter().any(|&m| plan.episodes.iter().any(|e| in_window(e, m))) {
            continue;
        }
        let week = if incident.starts[0] < MINUTES_PER_WEEK { &mut week1 } else { &mut week2 };
        week.incidents += 1;
        week.critical_incidents += incident.critical as u32;
    }
    WatchScore { quiet: plan.quiet, per_hour: plan.per_hour, episodes, week1, week2 }
}

/// The signals of one watch folded into one incident: the minutes of its starts, and
/// whether any of them is more than volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub starts: Vec<u32>,
    pub critical: bool,
}

/// Groups a watch's detector starts and ends (candidate starts are left out) into incidents:
/// a start joins the open incident while any of its signals is open, or within
/// `INCIDENT_JOIN_MIN` after the last one ended; otherwise it opens a new one. Ends are
/// applied before starts of the same minute (an end and a start in one tick are a hand-over).
pub fn incidents(starts: &[Start], ends: &[Start]) -> Vec<Incident> {
    let mut events: Vec<(u32, bool, usize)> = starts
        .iter()
        .filter(|s| s.kind < KINDS.len())
        .map(|s| (s.minute, true, s.kind))
        .chain(ends.iter().map(|e| (e.minute, false, e.kind)))
        .collect();
    // Ends (false) sort before starts (true) within a minute.
    events.sort();
    let mut out: Vec<Incident> = Vec::new();
    let mut open = [false; 3];
    // When the incident's last open signal ended; `None` while one is open.
    let mut quiet_since: Option<u32> = Some(0);
    for (minute, is_start, kind) in events {
        if !is_start {
            if open[kind] {
                open[kind] = false;
                if !open.iter().any(|&o| o) {
                    quiet_since = Some(minute);
                }
            }
            continue;
        }
        let joins = !out.is_empty() && quiet_since.is_none_or(|q| minute <= q + INCIDENT_JOIN_MIN);
        let critical = KINDS[kind] != SignalKind::Volume;
        match out.last_mut() {
            Some(incident) if joins => {
                incident.starts.push(minute);
                incident.critical |= critical;
            }
            _ => out.push(Incident { starts: vec![minute], critical }),
        }
        open[kind] = true;
        quiet_since = None;
    }
    out
}

fn full_strength(e: &Episode) -> std::ops::Range<usize> {
    (e.onset + e.ramp) as usize..e.end() as usize
}

fn scored_share(tallies: &[Tally]) -> f64 {
    let (all, neg) = tallies.iter().fold((0u64, 0u64), |(a, n), t| (a + t.all as u64, n + t.scored_neg as u64));
    neg as f64 / all.max(1) as f64
}

/// The scored-negative share of the 24 h before an episode, outside every episode window.
fn usual_scored_share(plan: &WatchPlan, tallies: &[Tally], e: &Episode) -> f64 {
    let usual: Vec<Tally> = (e.onset.saturating_sub(MINUTES_PER_DAY)..e.onset)
        .filter(|&m| !plan.episodes.iter().any(|o| (o.onset..=o.end() + AFTERMATH_MIN).contains(&m)))
        .map(|m| tallies[m as usize])
        .collect();
    scored_share(&usual)
}

/// The signed root of the binomial likelihood-ratio statistic of `k` of `n` at rate `p`:
/// the same measure of surprise the detector's share test uses.
fn binomial_z(k: f64, n: f64, p: f64) -> f64 {
    if n <= 0.0 || !(p > 0.0 && p < 1.0) {
        return 0.0;
    }
    let term = |observed: f64, expected: f64| if observed > 0.0 { observed * (observed / expected).ln() } else { 0.0 };
    let g = 2.0 * (term(k, n * p) + term(n - k, n * (1.0 - p)));
    g.max(0.0).sqrt().copysign(k - n * p)
}

fn realized_neg_per_hour(tallies: &[Tally], e: &Episode) -> f64 {
    let range = full_strength(e);
    let minutes = range.len().max(1) as f64;
    tallies[range].iter().map(|t| t.gold_neg as f64).sum::<f64>() * 60.0 / minutes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(kind: usize, minute: u32) -> Start {
        Start { kind, minute }
    }

    #[test]
    fn signals_that_overlap_or_follow_within_fifteen_minutes_are_one_incident() {
        // Volume 100–170; a dip starts while it is open, ends at 200; negativity at 214 joins
        // (14 min after the last end); volume at 300 is a new, volume-only incident.
        let starts = [at(1, 100), at(2, 120), at(0, 214), at(1, 300)];
        let ends = [at(1, 170), at(2, 200), at(0, 260)];
        let got = incidents(&starts, &ends);
        assert_eq!(
            got,
            [Incident { starts: vec![100, 120, 214], critical: true }, Incident { starts: vec![300], critical: false }]
        );
    }

    #[test]
    fn a_start_sixteen_minutes_after_the_last_end_opens_a_new_incident_and_candidates_do_not_count() {
        let starts = [at(1, 100), at(COUNT, 105), at(1, 176)];
        let ends = [at(1, 160)];
        let got = incidents(&starts, &ends);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|i| !i.critical));
    }
}
