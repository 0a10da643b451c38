//! The post-crisis report: what happened to one watch between two times, read back from the
//! state file's history (`store::history`) and its outbox. After the storm, a team wants the
//! timeline against the usual level, every episode with the alerts it sent, who got them, how
//! each delivery went and who acknowledged it, and what was said: top terms, crisis
//! categories, languages, sources and the most-reached negative mentions.
//!
//! `gather` reads and aggregates (one pass over the mentions, never all of them in memory);
//! `render` turns the result into a self-contained HTML page or a text summary. The usual level
//! comes from the seven days before the report's start, at the same step, so a report on a
//! storm says "3,400 mentions per 15 min, usually 40".

pub mod render;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::alert::{Acknowledged, Episode, Status};
use crate::model::{CrisisCategory, Label};
use crate::store::{Attempt, DeliveryStatus, LoggedMention, Store, StoreError};

/// Steps the timeline is cut into at most; the step is the smallest of `STEPS` that fits.
const MAX_STEPS: i64 = 300;
const STEPS: [i64; 8] = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400];
/// How far before the start the usual level is learned.
const USUAL_DAYS: i64 = 7;
const TOP_TERMS: usize = 15;
const TOP_MENTIONS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("--from {from} is not before --to {to}")]
    EmptyRange { from: DateTime<Utc>, to: DateTime<Utc> },
}

/// One step of the timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub mentions: u32,
    pub negative: u32,
    pub positive: u32,
}

impl Step {
    pub(crate) fn negative_share(&self) -> f64 {
        if self.mentions == 0 {
            0.0
        } else {
            self.negative as f64 / self.mentions as f64
        }
    }
}

/// The level of the days before the report: what "usual" means in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usual {
    /// Median mentions per step (steps without mentions count as zero).
    pub mentions_per_step: f64,
    pub negative_share: f64,
    /// Mentions the level was learned from.
    pub mentions: u64,
}

/// A delivery of one of an episode's notices, with every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryReport {
    pub receiver: String,
    pub event: String,
    pub status: DeliveryStatus,
    pub created: DateTime<Utc>,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeReport {
    pub episode: Episode,
    /// When it resolved, if it did by the time of the report.
    pub resolved_at: Option<DateTime<Utc>>,
    pub acknowledged: Option<Acknowledged>,
    pub deliveries: Vec<DeliveryReport>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub watch: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Seconds per timeline step.
    pub step_secs: i64,
    pub steps: Vec<Step>,
    pub usual: Option<Usual>,
    pub mentions: u64,
    pub negative: u64,
    pub positive: u64,
    pub mean_compound: f64,
    /// Terms that pulled negative mentions down, most frequent first.
    pub top_terms: Vec<(String, u32)>,
    pub categories: Vec<(CrisisCategory, u32)>,
    /// Language codes ("unknown" for texts without words to tell), most first.
    pub languages: Vec<(String, u32)>,
    pub sources: Vec<(String, u32)>,
    /// The negative mentions with the largest audience, largest first.
    pub top_mentions: Vec<LoggedMention>,
    pub episodes: Vec<EpisodeReport>,
}

impl Report {
    /// The step with the most mentions.
    pub(crate) fn peak(&self) -> Option<&Step> {
        self.steps.iter().filter(|s| s.mentions > 0).max_by_key(|s| (s.mentions, std::cmp::Reverse(s.at)))
    }
}

/// `a / b` rounded up, for positive `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1).div_euclid(b)
}

/// The step for a range: the smallest that cuts it into at most `MAX_STEPS` (whole days for
/// ranges of more than 300 days).
fn step_for(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let span = (to - from).num_seconds().max(1);
    STEPS.into_iter().find(|s| ceil_div(span, *s) <= MAX_STEPS).unwrap_or(ceil_div(span, MAX_STEPS * 86_400) * 86_400)
}

/// Aggregates mentions into steps of `step_secs` starting at `from`.
struct Timeline {
    from: DateTime<Utc>,
    step_secs: i64,
    steps: Vec<Step>,
}

impl Timeline {
    fn new(from: DateTime<Utc>, to: DateTime<Utc>, step_secs: i64) -> Timeline {
        let n = ceil_div((to - from).num_seconds().max(0), step_secs).max(1);
        let steps = (0..n).map(|i| Step { at: from + Duration::seconds(i * step_secs), ..Step::default() }).collect();
        Timeline { from, step_secs, steps }
    }

    fn add(&mut self, m: &LoggedMention) {
        let i = (m.published - self.from).num_seconds().div_euclid(self.step_secs);
        let Some(step) = usize::try_from(i).ok().and_then(|i| self.steps.get_mut(i)) else { return };
        step.mentions += 1;
        match m.label {
            Label::Neg => step.negative += 1,
            Label::Pos => step.positive += 1,
            Label::Neu => {}
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Counts by key, most first (ties by name, so the report is stable).
fn ranked<K: Ord + Clone>(counts: HashMap<K, u32>, limit: usize) -> Vec<(K, u32)> {
    let mut v: Vec<(K, u32)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    v
}

/// Reads everything the report on `watch` over `[from, to)` shows. `now` decides which
/// episodes are still open.
pub fn gather(
    store: &Store,
    watch: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Report, ReportError> {
    if from >= to {
        return Err(ReportError::EmptyRange { from, to });
    }
    let step_secs = step_for(from, to);
    let mut timeline = Timeline::new(from, to, step_secs);
    let (mut negative, mut positive, mut compound) = (0u64, 0u64, 0f64);
    let mut terms: HashMap<String, u32> = HashMap::new();
    let mut categories: HashMap<CrisisCategory, u32> = HashMap::new();
    let mut languages: HashMap<String, u32> = HashMap::new();
    let mut sources: HashMap<String, u32> = HashMap::new();
    let mut reached: Vec<LoggedMention> = Vec::new();
    let mentions = store.each_logged_mention(watch, from, to, |m| {
        timeline.add(&m);
        compound += m.compound as f64;
        *languages.entry(m.lang.map_or("unknown", |l| l.code()).to_string()).or_default() += 1;
        *sources.entry(m.source.clone()).or_default() += 1;
        for c in &m.categories {
            *categories.entry(*c).or_default() += 1;
        }
        match m.label {
            Label::Pos => positive += 1,
            Label::Neu => {}
            Label::Neg => {
                negative += 1;
                for (term, score) in &m.terms {
                    if *score < 0.0 {
                        *terms.entry(term.clone()).or_default() += 1;
                    }
                }
                reached.push(m);
                // Keep only the candidates, so memory stays small however long the range.
                if reached.len() >= 8 * TOP_MENTIONS {
                    keep_most_reached(&mut reached);
                }
            }
        }
    })?;
    keep_most_reached(&mut reached);
    Ok(Report {
        watch: watch.to_string(),
        from,
        to,
        step_secs,
        steps: timeline.steps,
        usual: usual(store, watch, from, step_secs)?,
        mentions,
        negative,
        positive,
        mean_compound: if mentions > 0 { compound / mentions as f64 } else { 0.0 },
        top_terms: ranked(terms, TOP_TERMS),
        categories: ranked(categories, CrisisCategory::ALL.len()),
        languages: ranked(languages, usize::MAX),
        sources: ranked(sources, usize::MAX),
        top_mentions: reached,
        episodes: episodes(store, watch, from, to, now)?,
    })
}

/// Most reached first; among equals the most negative, then the earliest.
fn keep_most_reached(v: &mut Vec<LoggedMention>) {
    v.sort_by(|a, b| {
        b.reach
            .unwrap_or(0)
            .cmp(&a.reach.unwrap_or(0))
            .then_with(|| a.compound.total_cmp(&b.compound))
            .then_with(|| a.published.cmp(&b.published))
    });
    v.truncate(TOP_MENTIONS);
}

/// The level of the `USUAL_DAYS` before `from`, or `None` when nothing was counted then.
fn usual(store: &Store, watch: &str, from: DateTime<Utc>, step_secs: i64) -> Result<Option<Usual>, ReportError> {
    let start = from - Duration::days(USUAL_DAYS);
    let mut before = Timeline::new(start, from, step_secs);
    let mut negative = 0u64;
    let n = store.each_logged_mention(watch, start, from, |m| {
        negative += u64::from(m.label == Label::Neg);
        before.add(&m);
    })?;
    if n == 0 {
        return Ok(None);
    }
    // Steps before the first counted mention are before the watch existed, not quiet.
    let first = before.steps.iter().position(|s| s.mentions > 0).unwrap_or(0);
    let per_step = median(before.steps[first..].iter().map(|s| s.mentions as f64).collect());
    Ok(Some(Usual { mentions_per_step: per_step, negative_share: negative as f64 / n as f64, mentions: n }))
}

/// The episodes that fired and overlap the range, with their deliveries and acknowledgement.
fn episodes(
    store: &Store,
    watch: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<EpisodeReport>, ReportError> {
    let acks: HashMap<String, Acknowledged> =
        store.acknowledgements()?.into_iter().map(|(id, by, at)| (id, Acknowledged { at, by })).collect();
    let mut out = Vec::new();
    for record in store.episode_history(watch, to)? {
        let episode: Episode = match serde_json::from_str(&record.state) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(alert = %record.alert_id, error = %e, "an episode in the history is unreadable; left out");
                continue;
            }
        };
        let resolved_at = match episode.status {
            Status::Resolved { at } => Some(at),
            _ => None,
        };
        if !episode.fired() || resolved_at.unwrap_or(now) < from {
            continue;
        }
        let mut deliveries = Vec::new();
        for d in store.deliveries(Some(&record.alert_id))? {
            deliveries.push(DeliveryReport {
                receiver: d.receiver,
                event: d.event,
                status: d.status,
                created: DateTime::from_timestamp_millis(d.created_ms).unwrap_or(record.started_at),
                attempts: store.attempts(d.id)?,
            });
        }
        let acknowledged = episode.acknowledged.clone().or_else(|| acks.get(&record.alert_id).cloned());
        out.push(EpisodeReport { episode, resolved_at, acknowledged, deliveries });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_760_000_000 - 1_760_000_000 % 86_400, 0).unwrap() + Duration::minutes(min)
    }

    fn logged(id: &str, at: DateTime<Utc>, label: Label, reach: Option<u64>) -> LoggedMention {
        LoggedMention {
            watch: "kroon".into(),
            source: if id.starts_with('m') { "mastodon".into() } else { "news".into() },
            id: id.into(),
            published: at,
            lang: Some(crate::model::Lang::Nl),
            label,
            compound: if label == Label::Neg { -0.6 } else { 0.1 },
            reach,
            author: None,
            url: None,
            text: format!("text {id}"),
            terms: if label == Label::Neg { vec![("storing".into(), -1.2), ("snel".into(), 0.4)] } else { vec![] },
            categories: if label == Label::Neg { vec![CrisisCategory::Outage] } else { vec![] },
        }
    }

    #[test]
    fn steps_fit_the_range() {
        assert_eq!(step_for(t(0), t(60)), 60);
        assert_eq!(step_for(t(0), t(24 * 60)), 300);
        assert_eq!(step_for(t(0), t(3 * 24 * 60)), 900);
        assert_eq!(step_for(t(0), t(365 * 24 * 60)), 86_400 * 2);
    }

    #[test]
    fn the_report_counts_the_range_against_the_week_before() {
        let store = Store::in_memory().unwrap();
        // The week before: two neutral mentions an hour, one negative a day.
        let mut rows = Vec::new();
        for h in 0..(7 * 24) {
            for k in 0..2 {
                let label = if k == 0 && h % 24 == 0 { Label::Neg } else { Label::Neu };
                rows.push(logged(&format!("n{h}-{k}"), t(-7 * 24 * 60 + h * 60 + k * 20), label, None));
            }
        }
        // The storm: 30 negative mentions in the first hour, one from a big account.
        for i in 0..30 {
            let reach = if i == 7 { Some(250_000) } else { Some(100 + i as u64) };
            rows.push(logged(&format!("m{i}"), t(i * 2), Label::Neg, reach));
        }
        rows.push(logged("late", t(5 * 60), Label::Pos, None));
        store.log_mentions(&rows).unwrap();

        let r = gather(&store, "kroon", t(0), t(6 * 60), t(6 * 60)).unwrap();
        assert_eq!(r.step_secs, 300, "six hours in 5-minute steps");
        assert_eq!((r.mentions, r.negative, r.positive), (31, 30, 1));
        assert_eq!(r.steps.len(), 72);
        assert_eq!(r.steps.iter().map(|s| s.mentions).sum::<u32>(), 31);
        let peak = r.peak().unwrap();
        assert_eq!(peak.at, t(0), "the storm's first step is the peak");
        let usual = r.usual.unwrap();
        assert_eq!(usual.mentions, 7 * 24 * 2);
        assert_eq!(usual.mentions_per_step, 0.0, "two an hour: most 5-minute steps are empty");
        assert!((usual.negative_share - 7.0 / 336.0).abs() < 1e-9);
        assert_eq!(r.top_terms, [("storing".to_string(), 30)], "only terms that pulled down");
        assert_eq!(r.categories, [(CrisisCategory::Outage, 30)]);
        assert_eq!(r.sources, [("mastodon".to_string(), 30), ("news".to_string(), 1)]);
        assert_eq!(r.top_mentions.len(), TOP_MENTIONS);
        assert_eq!(r.top_mentions[0].id, "m7", "the largest account first");
        assert_eq!(r.top_mentions[0].reach, Some(250_000));
    }

    #[test]
    fn an_empty_range_is_refused() {
        let store = Store::in_memory().unwrap();
        assert!(matches!(gather(&store, "w", t(10), t(10), t(10)), Err(ReportError::EmptyRange { .. })));
    }
}
