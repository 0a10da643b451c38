//! What the simulation is made of, read from `../shared/data` at run time (never copied into
//! the repository):
//!
//! * **text pools** per language from `sentiment/{lang}/dev.tsv`: gold-negative texts and the
//!   rest (neutral and positive), each scored once by stormwatch's own scorer. The detector
//!   counts what the *scorer* calls negative, so a stream drawn from these pools carries the
//!   scorer's real errors: missed complaints and false negatives among the rest;
//! * the **daily shape** of mention volume, from the NAB tuning series (5-minute tweet
//!   counts of AAPL, AMZN, CRM, CVS, FB): a robust hour-of-day profile with mean 1.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use stormwatch::model::{Label, Lang, Sentiment};
use stormwatch::sentiment::Scorer;

/// NAB series used for the daily profile: the tuning half only (the rest is for reporting).
pub const NAB_TUNING: [&str; 5] = ["AAPL", "AMZN", "CRM", "CVS", "FB"];

/// One labeled text with the scorer's verdict on it.
pub struct PoolText {
    pub text: String,
    pub sentiment: Sentiment,
}

/// The texts of one language, split by their gold label.
#[derive(Default)]
pub struct LangPool {
    /// Gold label `neg`.
    pub negative: Vec<PoolText>,
    /// Gold label `neu` or `pos`.
    pub other: Vec<PoolText>,
}

impl LangPool {
    /// Share of the gold-negative texts the scorer labels negative.
    pub fn scored_negative_among_negative(&self) -> f64 {
        scored_negative_share(&self.negative)
    }

    /// Share of the other texts the scorer (wrongly) labels negative.
    pub fn scored_negative_among_other(&self) -> f64 {
        scored_negative_share(&self.other)
    }
}

fn scored_negative_share(texts: &[PoolText]) -> f64 {
    let neg = texts.iter().filter(|t| t.sentiment.label == Label::Neg).count();
    neg as f64 / texts.len().max(1) as f64
}

/// Text pools for the four languages.
pub struct Pools {
    by_lang: [LangPool; 4],
}

impl Pools {
    /// Reads `sentiment/{lang}/dev.tsv` under `data` and scores every text once. With
    /// `declare_lang` the scorer is told the language (as a feed's tag would); without it the
    /// scorer detects it.
    pub fn load(data: &Path, scorer: &Scorer, declare_lang: bool) -> Result<Pools> {
        let mut by_lang: [LangPool; 4] = Default::default();
        for lang in Lang::ALL {
            let path = data.join("sentiment").join(lang.code()).join("dev.tsv");
            let pool = &mut by_lang[lang.index()];
            for (text, label) in read_labeled(&path)? {
                let sentiment = scorer.score(&text, declare_lang.then_some(lang));
                let item = PoolText { text, sentiment };
                match label {
                    Label::Neg => pool.negative.push(item),
                    Label::Neu | Label::Pos => pool.other.push(item),
                }
            }
            if pool.negative.is_empty() || pool.other.is_empty() {
                bail!("{} has no negative or no other texts: cannot draw a {} stream from it", path.display(), lang);
            }
        }
        Ok(Pools { by_lang })
    }

    pub fn get(&self, lang: Lang) -> &LangPool {
        &self.by_lang[lang.index()]
    }
}

/// Rows of a `id, source, label, text` file with a header line.
fn read_labeled(path: &Path) -> Result<Vec<(String, Label)>> {
    let raw = fs::read_to_string(path)
        .with_context(|| format!("reading {} (pass --data pointing at shared/data)", path.display()))?;
    let mut lines = raw.lines();
    let header = lines.next().unwrap_or("");
    if header.split('\t').collect::<Vec<_>>() != ["id", "source", "label", "text"] {
        bail!("{}: expected the header `id source label text` (tab-separated), found {header:?}", path.display());
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let fields: Vec<&str> = line.splitn(4, '\t').collect();
        let [_, _, label, text] = fields[..] else {
            bail!("{} line {}: expected 4 tab-separated columns", path.display(), i + 2);
        };
        let label = label.parse::<Label>().map_err(|e| anyhow::anyhow!("{} line {}: {e}", path.display(), i + 2))?;
        rows.push((text.to_string(), label));
    }
    Ok(rows)
}

/// Relative mention volume by time of day, mean 1 over the day.
#[derive(Debug, Clone)]
pub struct DailyProfile {
    hourly: [f64; 24],
}

impl DailyProfile {
    /// The average of the series' hour-of-day profiles. Each series' profile is the mean
    /// 5-minute count per hour of day without that hour's busiest 5% (so the storms in these
    /// series do not shape "normal"; a median would be 0 all day for a sparse series like
    /// CVS), divided by its own mean so that busy and quiet series weigh the same.
    pub fn from_nab(dir: &Path, series: &[&str]) -> Result<DailyProfile> {
        let mut hourly = [0.0; 24];
        for name in series {
            let path: PathBuf = dir.join(format!("Twitter_volume_{name}.csv"));
            let raw = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let mut by_hour: Vec<Vec<f64>> = vec![Vec::new(); 24];
            for (i, line) in raw.lines().enumerate().skip(1) {
                let parsed = line.split_once(',').and_then(|(ts, v)| {
                    let hour = ts.get(11..13)?.parse::<usize>().ok()?;
                    Some((hour, v.trim().parse::<f64>().ok()?))
                });
                let Some((hour, value)) = parsed.filter(|(h, _)| *h < 24) else {
                    bail!("{} line {}: expected `YYYY-MM-DD HH:MM:SS,count`", path.display(), i + 1);
                };
                by_hour[hour].push(value);
            }
            let typical: Vec<f64> = by_hour.iter_mut().map(|v| mean_without_top(v, 0.05)).collect();
            let mean = typical.iter().sum::<f64>() / 24.0;
            if mean <= 0.0 {
                bail!("{}: no mentions to take a daily shape from", path.display());
            }
            for (h, m) in typical.iter().enumerate() {
                hourly[h] += m / mean / series.len() as f64;
            }
        }
        Ok(DailyProfile { hourly })
    }

    /// Relative volume at `minute_of_day`, interpolated linearly between hour midpoints so
    /// the rate has no steps at the hour.
    pub fn at(&self, minute_of_day: u32) -> f64 {
        let x = (minute_of_day % 1440) as f64 / 60.0 - 0.5;
        let lo = x.floor();
        let frac = x - lo;
        let h = |i: f64| self.hourly[(i as i64).rem_euclid(24) as usize];
        h(lo) * (1.0 - frac) + h(lo + 1.0) * frac
    }

    pub fn hourly(&self) -> &[f64; 24] {
        &self.hourly
    }
}

/// The mean of `v` without its largest `top` share of values.
fn mean_without_top(v: &mut [f64], top: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let keep = ((v.len() as f64) * (1.0 - top)).ceil() as usize;
    let kept = &v[..keep.min(v.len())];
    kept.iter().sum::<f64>() / kept.len().max(1) as f64
}
