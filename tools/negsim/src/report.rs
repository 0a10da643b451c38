//! Markdown tables from scored watches: episodes by class, the target class and its
//! breakdown, false alerts per watch per week, and one line per variant for a sweep.

use std::fmt::Write as _;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use stormwatch::detect::WatchParams;

use crate::eval::{EpisodeResult, FalseStarts, WatchScore, COUNT, DEADLINE_MIN, INCIDENT_JOIN_MIN, KIND_NAMES};
use crate::stream::MINUTES_PER_WEEK;
use crate::stream::{LENGTHS_MIN, SHARE_FACTORS, VOLUME_FACTORS};

/// Gold-negative mentions per hour: the class edges.
const NEG_PER_HOUR_EDGES: [f64; 2] = [30.0, 100.0];

/// The target: the negative share at least doubles, with ≥ 30 negative mentions/h.
pub fn in_target(e: &EpisodeResult) -> bool {
    e.episode.share_factor >= 2.0 && e.episode.neg_per_hour >= NEG_PER_HOUR_EDGES[0]
}

fn neg_bucket(neg_per_hour: f64) -> usize {
    NEG_PER_HOUR_EDGES.iter().filter(|&&edge| neg_per_hour >= edge).count()
}

const NEG_BUCKET_NAMES: [&str; 3] = ["<30", "30–100", "≥100"];

/// Evidence at the deadline (binomial z): the class edges.
const Z_EDGES: [f64; 4] = [3.0, 4.5, 6.0, 9.0];
const Z_BUCKET_NAMES: [&str; 5] = ["<3", "3–4.5", "4.5–6", "6–9", "≥9"];

fn z_bucket(z: f64) -> usize {
    Z_EDGES.iter().filter(|&&edge| z >= edge).count()
}

/// Detection statistics of a set of episodes.
struct Detection {
    n: usize,
    within: usize,
    within_or_dip: usize,
    within_count: usize,
    within_or_count: usize,
    by_aftermath: usize,
    /// Delays of the episodes detected at all (by end + 1 h), sorted.
    delays: Vec<u32>,
    scored_share_factors: Vec<f64>,
}

impl Detection {
    fn of<'a>(episodes: impl Iterator<Item = &'a EpisodeResult>) -> Detection {
        let mut d = Detection {
            n: 0,
            within: 0,
            within_or_dip: 0,
            within_count: 0,
            within_or_count: 0,
            by_aftermath: 0,
            delays: Vec::new(),
            scored_share_factors: Vec::new(),
        };
        for e in episodes {
            d.n += 1;
            d.within += e.detected() as usize;
            d.within_or_dip += e.detected_by_negativity_or_dip() as usize;
            d.within_count += e.detected_by_count() as usize;
            d.within_or_count += e.detected_by_negativity_or_count() as usize;
            if let Some(delay) = e.negativity_delay() {
                d.by_aftermath += 1;
                d.delays.push(delay);
            }
            if e.scored_share_factor.is_finite() {
                d.scored_share_factors.push(e.scored_share_factor);
            }
        }
        d.delays.sort_unstable();
        d.scored_share_factors.sort_by(f64::total_cmp);
        d
    }

    fn rate(&self, hits: usize) -> String {
        if self.n == 0 {
            "–".into()
        } else {
            format!("{:.1}%", 100.0 * hits as f64 / self.n as f64)
        }
    }

    fn delay(&self, q: f64) -> String {
        percentile(&self.delays, q).map_or("–".into(), |d| format!("{d} min"))
    }

    fn share_factor(&self) -> String {
        percentile(&self.scored_share_factors, 0.5).map_or("–".into(), |f| format!("{f:.2}×"))
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// 95% interval of the target-class detection rate, in percent, by resampling whole
/// watches (1,000 times, fixed seed): a watch's episodes share its volume, languages and
/// baseline, so they are not independent and an interval over episodes would be too narrow.
fn bootstrap_over_watches(scores: &[WatchScore]) -> (f64, f64) {
    let per_watch: Vec<(usize, usize)> = scores
        .iter()
        .map(|s| {
            let target = s.episodes.iter().filter(|e| in_target(e));
            target.fold((0, 0), |(hits, n), e| (hits + e.detected() as usize, n + 1))
        })
        .collect();
    if per_watch.is_empty() {
        return (0.0, 100.0);
    }
    let mut rng = StdRng::seed_from_u64(0);
    let mut rates: Vec<f64> = (0..1000)
        .map(|_| {
            let (mut hits, mut n) = (0, 0);
            for _ in 0..per_watch.len() {
                let (h, k) = per_watch[rng.random_range(0..per_watch.len())];
                hits += h;
                n += k;
            }
            100.0 * hits as f64 / n.max(1) as f64
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    (rates[24], rates[974])
}

fn episodes(scores: &[WatchScore]) -> impl Iterator<Item = &EpisodeResult> {
    scores.iter().flat_map(|s| s.episodes.iter())
}

/// The false starts of a group of watches, summed.
fn false_starts<'a>(scores: impl Iterator<Item = &'a WatchScore>, week2: bool) -> FalseStarts {
    let mut total = FalseStarts::default();
    for s in scores {
        total.add(if week2 { &s.week2 } else { &s.week1 });
    }
    total
}

/// The headline: the target class's detection within the deadline.
pub fn headline(scores: &[WatchScore]) -> String {
    let d = Detection::of(episodes(scores).filter(|e| in_target(e)));
    let (lo, hi) = bootstrap_over_watches(scores);
    format!(
        "Target class (gold negative share ≥ 2×, ≥ 30 gold-negative mentions/h): {} episodes, \
         **{} detected by a negativity signal within {DEADLINE_MIN} min** (95% interval {lo:.1}–{hi:.1}%, \
         bootstrap over watches), median delay {}, p90 {} (of the {} detected by end + 1 h); \
         negativity or sentiment dip within {DEADLINE_MIN} min: {}; the candidate negative-count test: {}, \
         negativity or count: {}.",
        d.n,
        d.rate(d.within),
        d.delay(0.5),
        d.delay(0.9),
        d.by_aftermath,
        d.rate(d.within_or_dip),
        d.rate(d.within_count),
        d.rate(d.within_or_count),
    )
}

const DETECTION_HEADER: &str = "| episodes | negativity ≤ 15 min | negativity or dip ≤ 15 min \
     | count candidate ≤ 15 min | negativity or count ≤ 15 min | negativity by end + 1 h \
     | median delay | p90 delay | scorer-seen share × (median) |";
const DETECTION_RULE: &str = "|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

fn detection_cells(d: &Detection) -> String {
    format!(
        "{} | {} | {} | {} | {} | {} | {} | {} | {} |",
        d.n,
        d.rate(d.within),
        d.rate(d.within_or_dip),
        d.rate(d.within_count),
        d.rate(d.within_or_count),
        d.rate(d.by_aftermath),
        d.delay(0.5),
        d.delay(0.9),
        d.share_factor()
    )
}

/// The full report of one variant.
pub fn detail(scores: &[WatchScore]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", headline(scores));
    let mut ratios: Vec<f64> = episodes(scores)
        .filter(|e| e.episode.neg_per_hour > 0.0)
        .map(|e| e.realized_neg_per_hour / e.episode.neg_per_hour)
        .collect();
    ratios.sort_by(f64::total_cmp);
    if let (Some(lo), Some(mid), Some(hi)) =
        (percentile(&ratios, 0.1), percentile(&ratios, 0.5), percentile(&ratios, 0.9))
    {
        let _ = writeln!(
            out,
            "Gold-negative mentions per hour drawn at full strength, over the expected: median {mid:.2}, \
             p10 {lo:.2}, p90 {hi:.2} (the wobble and over-dispersion at work).\n"
        );
    }

    let _ = writeln!(out, "### Episodes by class\n");
    let _ = writeln!(
        out,
        "Class: gold share factor × expected gold-negative mentions per hour at full strength. \
         Delays are from onset to the signal, among episodes detected by end + 1 h.\n"
    );
    let _ = writeln!(out, "| share × | gold neg/h {}", DETECTION_HEADER);
    let _ = writeln!(out, "|---:|---:{DETECTION_RULE}");
    for f in SHARE_FACTORS {
        for (b, name) in NEG_BUCKET_NAMES.iter().enumerate() {
            let d = Detection::of(
                episodes(scores).filter(|e| e.episode.share_factor == f && neg_bucket(e.episode.neg_per_hour) == b),
            );
            let _ = writeln!(out, "| {f} | {name} | {}", detection_cells(&d));
        }
    }

    let _ = writeln!(out, "\n### By the evidence there was at the deadline\n");
    let _ = writeln!(
        out,
        "The binomial z of the scorer-labeled negatives among all mentions of an episode's first \
         {DEADLINE_MIN} minutes, against the usual scored share of the day before: what any share test \
         could have seen by the deadline (the detector starts at `share_z`, default 4.5).\n"
    );
    let _ = writeln!(out, "| episodes | deadline z {}", DETECTION_HEADER);
    let _ = writeln!(out, "|---|---{DETECTION_RULE}");
    for (name, keep) in [("target class", true), ("all", false)] {
        for (b, zname) in Z_BUCKET_NAMES.iter().enumerate() {
            let d = Detection::of(episodes(scores).filter(|e| (!keep || in_target(e)) && z_bucket(e.deadline_z) == b));
            let _ = writeln!(out, "| {name} | {zname} | {}", detection_cells(&d));
        }
    }

    let _ = writeln!(out, "\n### Target class, broken down\n");
    let _ = writeln!(out, "| by | value {}", DETECTION_HEADER);
    let _ = writeln!(out, "|---|---{DETECTION_RULE}");
    let target: Vec<&EpisodeResult> = episodes(scores).filter(|e| in_target(e)).collect();
    let mut row = |by: &str, value: String, keep: &dyn Fn(&EpisodeResult) -> bool| {
        let d = Detection::of(target.iter().copied().filter(|e| keep(e)));
        let _ = writeln!(out, "| {by} | {value} | {}", detection_cells(&d));
    };
    for f in SHARE_FACTORS.iter().filter(|&&f| f >= 2.0) {
        row("share ×", f.to_string(), &|e| e.episode.share_factor == *f);
    }
    for (b, name) in NEG_BUCKET_NAMES.iter().enumerate().skip(1) {
        row("gold neg/h", name.to_string(), &|e| neg_bucket(e.episode.neg_per_hour) == b);
    }
    for len in LENGTHS_MIN {
        row("length", format!("{len} min"), &|e| e.episode.minutes == len);
    }
    // A ramp is at most half the episode, so 15-minute episodes ramp over 7 minutes.
    let mut ramps: Vec<u32> = target.iter().map(|e| e.episode.ramp).collect();
    ramps.sort_unstable();
    ramps.dedup();
    for ramp in ramps {
        row("ramp", format!("{ramp} min"), &|e| e.episode.ramp == ramp);
    }
    for v in VOLUME_FACTORS {
        row("volume ×", v.to_string(), &|e| e.episode.volume_factor == v);
    }
    for lang in stormwatch::model::Lang::ALL {
        row("episode language", lang.to_string(), &|e| e.episode.lang == lang);
    }
    row("episode language", "the watch's main one".into(), &|e| e.episode.main_lang);
    row("episode language", "another one".into(), &|e| !e.episode.main_lang);
    let mut volumes: Vec<f64> = target.iter().map(|e| e.watch_per_hour).collect();
    volumes.sort_by(f64::total_cmp);
    volumes.dedup();
    for v in volumes {
        row("watch volume", format!("{v}/h"), &|e| e.watch_per_hour == v);
    }

    let _ = writeln!(out, "\n### False alerts per watch per simulated week\n");
    let _ = writeln!(
        out,
        "Starts outside every episode window [onset, end + 1 h]. Week 1 includes the 1-day warm-up \
         (no signal can start in it) and young baselines.\n"
    );
    let quiet = false_starts(scores.iter().filter(|s| s.quiet), true);
    let busy = false_starts(scores.iter().filter(|s| !s.quiet), true);
    let week1 = false_starts(scores.iter(), false);
    let weeks = |f: &FalseStarts| f.minutes as f64 / MINUTES_PER_WEEK as f64;
    let _ = writeln!(
        out,
        "| signal | quiet controls, week 2 ({:.0} watch-weeks) | episode watches, week 2 outside episodes \
         ({:.0} watch-weeks) | all watches, week 1 ({:.0} watch-weeks) |",
        weeks(&quiet),
        weeks(&busy),
        weeks(&week1)
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for (k, kind) in KIND_NAMES.iter().enumerate() {
        let cell = |f: &FalseStarts| format!("{:.3} ({})", f.per_week(k), f.counts[k]);
        let _ = writeln!(out, "| {kind} | {} | {} | {} |", cell(&quiet), cell(&busy), cell(&week1));
    }
    let all_kinds = |f: &FalseStarts| {
        let n: u32 = f.counts[..COUNT].iter().sum();
        format!("{:.3} ({n})", n as f64 / (f.minutes.max(1) as f64 / MINUTES_PER_WEEK as f64))
    };
    let _ = writeln!(
        out,
        "| **all detector signals** (negativity + volume + dip starts) | {} | {} | {} |",
        all_kinds(&quiet),
        all_kinds(&busy),
        all_kinds(&week1)
    );
    for (critical, name) in [
        (false, "**incidents**: signals of a watch grouped as the alert layer does"),
        (true, "incidents that would be critical (not volume-only)"),
    ] {
        let cell = |f: &FalseStarts| {
            let n = if critical { f.critical_incidents } else { f.incidents };
            format!("{:.3} ({n})", f.incidents_per_week(critical))
        };
        let _ = writeln!(out, "| {name} | {} | {} | {} |", cell(&quiet), cell(&busy), cell(&week1));
    }
    let _ = writeln!(
        out,
        "\nAn incident: the detector's signals of one watch (the candidate is not one) that overlap or \
         start within {INCIDENT_JOIN_MIN} min after the previous ones ended, as the alert layer folds them into \
         one notification; false when none of its starts is in an episode window. A volume-only \
         incident is capped at warning by the alert layer and wakes no one.\n"
    );
    let _ = writeln!(out, "\nBy watch volume (week 2 unless marked):\n");
    let _ = writeln!(
        out,
        "| watch volume | negativity, quiet | negativity, episode watches | negativity, week 1 | {} | volume | \
         sentiment_dip |",
        KIND_NAMES[COUNT]
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
    let mut volumes: Vec<f64> = scores.iter().map(|s| s.per_hour).collect();
    volumes.sort_by(f64::total_cmp);
    volumes.dedup();
    for v in volumes {
        let at = |s: &&WatchScore| s.per_hour == v;
        let quiet = false_starts(scores.iter().filter(at).filter(|s| s.quiet), true);
        let busy = false_starts(scores.iter().filter(at).filter(|s| !s.quiet), true);
        let all = false_starts(scores.iter().filter(at), true);
        let week1 = false_starts(scores.iter().filter(at), false);
        let cell = |f: &FalseStarts, k: usize| format!("{:.3} ({})", f.per_week(k), f.counts[k]);
        let _ = writeln!(
            out,
            "| {v}/h | {} | {} | {} | {} | {} | {} |",
            cell(&quiet, 0),
            cell(&busy, 0),
            cell(&week1, 0),
            cell(&all, COUNT),
            cell(&all, 1),
            cell(&all, 2)
        );
    }
    out
}

/// The columns that describe a variant in the sweep table.
pub fn variant_cells(p: &WatchParams) -> String {
    format!(
        "{} | {} min | {} | {} | {} | {} | {} | {}",
        p.share_z,
        p.negativity_window.as_secs() / 60,
        p.share_factor,
        p.negative_share,
        p.min_negative,
        p.dip_z,
        p.dip_drop,
        p.spec.k
    )
}

/// One line per variant: target-class detection against false alerts on quiet controls.
pub fn sweep(rows: &[(WatchParams, Vec<WatchScore>)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| share_z | negativity_window | share_factor | negative_share | min_negative | dip_z | dip_drop | volume k \
         | target ≤ 15 min (95% interval over watches) | target median / p90 delay | all episodes ≤ 15 min \
         | target negativity or dip ≤ 15 min \
         | false / quiet watch / week (week 2): negativity | volume | sentiment_dip \
         | incidents (critical) | false negativity, episode watches, week 2 | all, week 1 |"
    );
    let _ =
        writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (params, scores) in rows {
        let target = Detection::of(episodes(scores).filter(|e| in_target(e)));
        let (lo, hi) = bootstrap_over_watches(scores);
        let all = Detection::of(episodes(scores));
        let quiet = false_starts(scores.iter().filter(|s| s.quiet), true);
        let busy = false_starts(scores.iter().filter(|s| !s.quiet), true);
        let week1 = false_starts(scores.iter(), false);
        let _ = writeln!(
            out,
            "| {} | {} ({}/{}; {lo:.0}–{hi:.0}%) | {} / {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} ({:.3}) | {:.3} | {:.3} |",
            variant_cells(params),
            target.rate(target.within),
            target.within,
            target.n,
            target.delay(0.5),
            target.delay(0.9),
            all.rate(all.within),
            target.rate(target.within_or_dip),
            quiet.per_week(0),
            quiet.per_week(1),
            quiet.per_week(2),
            quiet.incidents_per_week(false),
            quiet.incidents_per_week(true),
            busy.per_week(0),
            week1.per_week(0),
        );
    }
    out
}
