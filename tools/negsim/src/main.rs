//! negsim: a labeled benchmark for stormwatch's per-watch negativity detector, which has no
//! public one. It simulates watches for two weeks — real labeled posts from
//! `shared/data/sentiment`, volume shaped like the NAB tweet series, negativity episodes of
//! different sizes, lengths and languages injected in week 2, and quiet control watches — runs
//! `WatchDetector` over them, and reports detection rate, delay and false alerts per watch per
//! week. Several values of a parameter make a sweep, run on the very same streams.
//!
//! ```text
//! negsim --seed 2 --out results.md
//! negsim --seed 1 --share-z 3.5,4,4.5,5 --negativity-window 10,15 --share-factor 1.5,1.8
//! ```

mod candidate;
mod data;
mod eval;
mod report;
mod stream;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use stormwatch::detect::presets::PresetSpec;
use stormwatch::detect::{Preset, WatchParams};
use stormwatch::model::Lang;
use stormwatch::sentiment::Scorer;

use crate::candidate::CountTest;
use crate::data::{DailyProfile, Pools, NAB_TUNING};
use crate::eval::{run_watch, score_watch, WatchScore};
use crate::stream::{plan_watches, SimConfig, WatchPlan, SIM_MINUTES};

#[derive(Parser, Debug)]
#[command(about = "Simulates mention streams with negativity episodes and scores stormwatch's negativity detector")]
struct Args {
    /// The shared data folder (holding sentiment/ and nab-realtweets/).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))]
    data: PathBuf,
    /// Simulated watches (two weeks each).
    #[arg(long, default_value_t = 400)]
    watches: usize,
    #[arg(long, default_value_t = 2)]
    seed: u64,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,

    /// Base volumes in mentions per hour (daily mean); watches cycle through them.
    #[arg(long, value_delimiter = ',', default_values_t = [60.0, 200.0, 600.0])]
    volumes: Vec<f64>,
    /// Lowest and highest base gold-negative share of a watch.
    #[arg(long, value_delimiter = ',', num_args = 2, default_values_t = [0.10, 0.15])]
    neg_share: Vec<f64>,
    #[arg(long, default_value_t = 4)]
    episodes_per_watch: u32,
    /// Share of watches that are quiet controls (no episodes).
    #[arg(long, default_value_t = 0.25)]
    quiet_share: f64,
    /// Gamma shape of per-minute counts (variance = λ + λ²/dispersion); 0: plain Poisson.
    #[arg(long, default_value_t = 10.0)]
    dispersion: f64,
    /// Spread (log sd) of the slow wobble of volume (30-min half-life).
    #[arg(long, default_value_t = 0.2)]
    volume_wobble: f64,
    /// Spread (log sd) of the slow wobble of the negative share (1-h half-life).
    #[arg(long, default_value_t = 0.15)]
    share_wobble: f64,
    /// Let the scorer detect each text's language instead of declaring it.
    #[arg(long)]
    detect_lang: bool,

    /// Detector preset.
    #[arg(long, default_value = "balanced")]
    preset: Preset,
    /// WatchParams overrides; several values (comma-separated) make a sweep over every
    /// combination. Unset: the library's default.
    #[arg(long, value_delimiter = ',')]
    share_z: Vec<f64>,
    #[arg(long, value_delimiter = ',')]
    share_factor: Vec<f64>,
    /// In minutes.
    #[arg(long, value_delimiter = ',')]
    negativity_window: Vec<u64>,
    #[arg(long, value_delimiter = ',')]
    negative_share: Vec<f64>,
    #[arg(long, value_delimiter = ',')]
    min_negative: Vec<u32>,
    #[arg(long, value_delimiter = ',')]
    dip_z: Vec<f64>,
    /// The volume test's `k` (the preset's unless given).
    #[arg(long, value_delimiter = ',')]
    volume_k: Vec<f64>,
    #[arg(long, value_delimiter = ',')]
    dip_drop: Vec<f64>,

    /// The candidate negative-count test (run beside the detector, not part of it): `z` to start.
    #[arg(long, default_value_t = 7.0)]
    count_k: f64,
    /// ...negative mentions above the expected count in the window...
    #[arg(long, default_value_t = 15.0)]
    count_min_excess: f64,
    /// ...and this multiple of the expected count...
    #[arg(long, default_value_t = 2.0)]
    count_min_factor: f64,
    /// ...with the busiest minute a record for this many hours (0: off).
    #[arg(long, default_value_t = 0)]
    count_novelty_hours: u64,
}

impl Args {
    fn count_test(&self) -> CountTest {
        CountTest {
            preset: self.preset,
            k: self.count_k,
            min_excess: self.count_min_excess,
            min_factor: self.count_min_factor,
            novelty_hours: self.count_novelty_hours,
        }
    }

    fn sim_config(&self) -> Result<SimConfig> {
        if self.volumes.is_empty() || self.volumes.iter().any(|v| v.is_nan() || *v <= 0.0) {
            bail!("--volumes needs at least one positive rate per hour");
        }
        let (lo, hi) = (self.neg_share[0], self.neg_share[1]);
        if !(0.0 < lo && lo <= hi && hi < 0.5) {
            bail!("--neg-share needs 0 < low ≤ high < 0.5, got {lo},{hi}");
        }
        if !(0.0..=1.0).contains(&self.quiet_share) {
            bail!("--quiet-share is a share of watches, between 0 and 1");
        }
        Ok(SimConfig {
            volumes: self.volumes.clone(),
            neg_share: (lo, hi),
            episodes_per_watch: self.episodes_per_watch,
            quiet_share: self.quiet_share,
            dispersion: self.dispersion,
            volume_wobble: self.volume_wobble,
            share_wobble: self.share_wobble,
        })
    }

    /// Every combination of the given parameter values, the library's defaults elsewhere.
    fn variants(&self) -> Vec<WatchParams> {
        let base = WatchParams::new(self.preset.spec());
        let or = |given: &[f64], default: f64| if given.is_empty() { vec![default] } else { given.to_vec() };
        let windows = if self.negativity_window.is_empty() {
            vec![base.negativity_window]
        } else {
            self.negativity_window.iter().map(|m| Duration::from_secs(m * 60)).collect()
        };
        let min_negative =
            if self.min_negative.is_empty() { vec![base.min_negative] } else { self.min_negative.clone() };
        let mut out = Vec::new();
        for &share_z in &or(&self.share_z, base.share_z) {
            for &negativity_window in &windows {
                for &share_factor in &or(&self.share_factor, base.share_factor) {
                    for &negative_share in &or(&self.negative_share, base.negative_share) {
                        for &min_negative in &min_negative {
                            for &dip_z in &or(&self.dip_z, base.dip_z) {
                                for &dip_drop in &or(&self.dip_drop, base.dip_drop) {
                                    for &k in &or(&self.volume_k, base.spec.k) {
                                        let spec = PresetSpec { k, ..base.spec };
                                        out.push(WatchParams {
                                            spec,
                                            share_z,
                                            negativity_window,
                                            share_factor,
                                            negative_share,
                                            min_negative,
                                            dip_z,
                                            dip_drop,
                                            ..base.clone()
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let cfg = args.sim_config()?;
    let variants = args.variants();
    let began = Instant::now();

    let scorer = Scorer::builtin().context("loading the built-in lexicons")?;
    let pools = Pools::load(&args.data, &scorer, !args.detect_lang)?;
    let profile = DailyProfile::from_nab(&args.data.join("nab-realtweets"), &NAB_TUNING)?;
    let plans = plan_watches(&cfg, &profile, args.watches, args.seed);
    eprintln!(
        "negsim: {} watches × {} days, {} variant(s), {} thread(s)",
        plans.len(),
        SIM_MINUTES / 1440,
        variants.len(),
        args.threads
    );

    let count_test = args.count_test();
    let (scores, mentions) = simulate(&plans, &pools, &profile, &cfg, &variants, &count_test, args.threads.max(1));
    let elapsed = began.elapsed();

    let mut report = String::new();
    let _ = writeln!(report, "# negsim: stormwatch negativity detection on simulated watches\n");
    report.push_str(&setup(&args, &cfg, &pools, &profile, &plans, mentions, elapsed));
    let _ = writeln!(report, "\nCandidate beside the detector: {}.", count_test.describe());
    let _ = writeln!(report, "\n## Detector variant {}\n", describe(&variants[0]));
    report.push_str(&report::detail(&scores[0]));
    if variants.len() > 1 {
        let _ = writeln!(report, "\n## Sweep ({} variants, same streams)\n", variants.len());
        let rows: Vec<(WatchParams, Vec<WatchScore>)> = variants.into_iter().zip(scores).collect();
        report.push_str(&report::sweep(&rows));
    }
    print!("{report}");
    if let Some(path) = &args.out {
        std::fs::write(path, &report).with_context(|| format!("writing the report to {}", path.display()))?;
    }
    Ok(())
}

/// One watch's scores (one per variant) and how many mentions it had.
type WatchResult = (Vec<WatchScore>, u64);

/// Runs every watch through every variant on `threads` threads. Returns the scores per
/// variant (in watch order, so the result does not depend on scheduling) and the mentions
/// simulated.
fn simulate(
    plans: &[WatchPlan],
    pools: &Pools,
    profile: &DailyProfile,
    cfg: &SimConfig,
    variants: &[WatchParams],
    count_test: &CountTest,
    threads: usize,
) -> (Vec<Vec<WatchScore>>, u64) {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<WatchResult>>> = Mutex::new(vec![None; plans.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(plan) = plans.get(i) else { break };
                let run = run_watch(plan, pools, profile, cfg, variants, count_test);
                let mentions = run.tallies.iter().map(|t| t.all as u64).sum();
                let scores = (0..variants.len()).map(|v| score_watch(plan, &run, v)).collect();
                results.lock().expect("no worker panicked")[i] = Some((scores, mentions));
                if (i + 1).is_multiple_of(25) {
                    eprintln!("negsim: {} of {} watches", i + 1, plans.len());
                }
            });
        }
    });
    let mut by_variant = vec![Vec::with_capacity(plans.len()); variants.len()];
    let mut mentions = 0;
    for (scores, n) in results.into_inner().expect("no worker panicked").into_iter().flatten() {
        mentions += n;
        for (v, score) in scores.into_iter().enumerate() {
            by_variant[v].push(score);
        }
    }
    (by_variant, mentions)
}

fn describe(p: &WatchParams) -> String {
    format!(
        "share_z {}, negativity_window {} min, share_factor {}, negative_share {}, min_negative {}, dip_z {}, \
         dip_drop {}, volume k {}",
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

/// What was simulated: enough to reproduce it and to judge how realistic it is.
fn setup(
    args: &Args,
    cfg: &SimConfig,
    pools: &Pools,
    profile: &DailyProfile,
    plans: &[WatchPlan],
    mentions: u64,
    elapsed: Duration,
) -> String {
    let mut out = String::new();
    let quiet = plans.iter().filter(|p| p.quiet).count();
    let episodes: usize = plans.iter().map(|p| p.episodes.len()).sum();
    let _ = writeln!(
        out,
        "Seed {}, {} watches ({} quiet controls), 2 simulated weeks each (week 1 warm-up, {} episodes in week 2), \
         {} mentions, preset {:?}, language {}; {:.0} s on {} thread(s).\n",
        args.seed,
        plans.len(),
        quiet,
        episodes,
        mentions,
        args.preset,
        if args.detect_lang { "detected by the scorer" } else { "declared" },
        elapsed.as_secs_f64(),
        args.threads
    );
    let _ = writeln!(
        out,
        "Stream: base volumes {:?}/h, base gold-negative share {:.0}–{:.0}%, gamma shape {}, volume wobble {}, \
         share wobble {}; episodes: share × {:?}, length {:?} min, volume × {:?}, \
         ramp {:?} min (at most half the episode), language the watch's main one or any (½ each).\n",
        cfg.volumes,
        100.0 * cfg.neg_share.0,
        100.0 * cfg.neg_share.1,
        cfg.dispersion,
        cfg.volume_wobble,
        cfg.share_wobble,
        stream::SHARE_FACTORS,
        stream::LENGTHS_MIN,
        stream::VOLUME_FACTORS,
        stream::RAMPS_MIN,
    );
    let _ = writeln!(out, "Text pools (`sentiment/*/dev.tsv`) and how the scorer labels them:\n");
    let _ =
        writeln!(out, "| lang | gold neg texts | other texts | scored neg among gold neg | scored neg among other |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for lang in Lang::ALL {
        let p = pools.get(lang);
        let _ = writeln!(
            out,
            "| {lang} | {} | {} | {:.1}% | {:.1}% |",
            p.negative.len(),
            p.other.len(),
            100.0 * p.scored_negative_among_negative(),
            100.0 * p.scored_negative_among_other()
        );
    }
    let hourly: Vec<String> = profile.hourly().iter().map(|h| format!("{h:.2}")).collect();
    let _ = writeln!(out, "\nDaily profile (NAB tuning series, UTC hours 0–23): {}", hourly.join(" "));
    out
}
