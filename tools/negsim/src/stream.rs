//! Simulated watches and their mention streams, minute by minute.
//!
//! A watch has a base volume (mentions per hour, shaped over the day by the NAB profile), a
//! base share of gold-negative mentions, and a language mix. Its stream is over-dispersed the
//! way real mention counts are: the per-minute rate wobbles slowly (a log-AR(1) process with
//! `volume_wobble` spread and a 30-minute half-life), so does the negative share
//! (`share_wobble`, 1-hour half-life), and each minute's count is gamma-Poisson.
//!
//! Episode watches get `episodes_per_watch` negativity episodes in week 2 (week 1 is
//! warm-up), at random times of day and night, at least 3 h apart. During an episode the gold
//! negative share is `share_factor` × the usual one and the volume `volume_factor` × the
//! usual one, reached linearly over `ramp` minutes from onset. The mentions the episode adds
//! (its extra negatives, and its extra neutral/positive chatter when the volume rises) are in
//! the episode's language; the usual mentions keep the watch's mix. Quiet control watches
//! have no episodes at all.
//!
//! Everything is drawn from a seeded `StdRng` per watch, so a run is reproducible and watches
//! can be simulated in any order or in parallel.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use stormwatch::model::Lang;

use crate::data::{DailyProfile, PoolText, Pools};

pub const MINUTES_PER_DAY: u32 = 24 * 60;
pub const MINUTES_PER_WEEK: u32 = 7 * MINUTES_PER_DAY;
/// Week 1 is warm-up, week 2 carries the episodes.
pub const SIM_MINUTES: u32 = 2 * MINUTES_PER_WEEK;

/// Episodes end at least this long before the next one starts: the detector's event ends
/// after an hour of calm, and a start up to an hour after an episode is credited to it.
const EPISODE_GAP_MIN: u32 = 3 * 60;

pub const SHARE_FACTORS: [f64; 4] = [1.5, 2.0, 3.0, 5.0];
pub const LENGTHS_MIN: [u32; 3] = [15, 60, 240];
pub const VOLUME_FACTORS: [f64; 4] = [1.0, 1.5, 2.0, 3.0];
pub const RAMPS_MIN: [u32; 2] = [0, 10];

/// How watches and their streams are generated.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Base volumes (mentions per hour, daily mean); watches cycle through them.
    pub volumes: Vec<f64>,
    /// Range of the base gold-negative share, drawn uniformly per watch.
    pub neg_share: (f64, f64),
    pub episodes_per_watch: u32,
    /// Every n-th watch (n = round(1 / quiet_share)) is a quiet control.
    pub quiet_share: f64,
    /// Gamma shape of the per-minute rate: variance = λ + λ²/dispersion.
    pub dispersion: f64,
    /// Standard deviation of the slow log-wobble of volume and of the negative share.
    pub volume_wobble: f64,
    pub share_wobble: f64,
}

/// One injected negativity episode.
#[derive(Debug, Clone)]
pub struct Episode {
    /// Minute (since the simulation start) of onset.
    pub onset: u32,
    pub minutes: u32,
    pub ramp: u32,
    pub share_factor: f64,
    pub volume_factor: f64,
    pub lang: Lang,
    /// Whether `lang` is the watch's main language.
    pub main_lang: bool,
    /// Gold-negative mentions per hour expected at full strength (without the wobble).
    pub neg_per_hour: f64,
}

impl Episode {
    pub fn end(&self) -> u32 {
        self.onset + self.minutes
    }

    /// How far the episode is under way at minute `t`: 0 outside it, up to 1 after the ramp.
    fn intensity(&self, t: u32) -> f64 {
        if !(self.onset..self.end()).contains(&t) {
            0.0
        } else if self.ramp == 0 {
            1.0
        } else {
            ((t - self.onset + 1) as f64 / self.ramp as f64).min(1.0)
        }
    }
}

#[derive(Debug, Clone)]
pub struct WatchPlan {
    pub name: String,
    pub quiet: bool,
    pub per_hour: f64,
    pub neg_share: f64,
    pub main_lang: Lang,
    /// Weights of the four languages in the usual stream (index: `Lang::index`).
    pub mix: [f64; 4],
    pub episodes: Vec<Episode>,
    pub seed: u64,
}

/// SplitMix64: turns (seed, index) into well-spread per-watch seeds.
fn mix_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// Plans `n` watches: volumes, shares, languages and episodes.
pub fn plan_watches(cfg: &SimConfig, profile: &DailyProfile, n: usize, seed: u64) -> Vec<WatchPlan> {
    // Watches come in blocks of `quiet_every`, the last of each block quiet; blocks cycle
    // through the volumes, so quiet and episode watches see every volume alike.
    let quiet_every = if cfg.quiet_share > 0.0 { (1.0 / cfg.quiet_share).round().max(1.0) as usize } else { 1 };
    (0..n)
        .map(|i| {
            let seed = mix_seed(seed, i as u64);
            let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED);
            let quiet = cfg.quiet_share > 0.0 && i % quiet_every == quiet_every - 1;
            let per_hour = cfg.volumes[(i / quiet_every) % cfg.volumes.len()];
            let neg_share = rng.random_range(cfg.neg_share.0..=cfg.neg_share.1);
            let main_lang = pick(&mut rng, &Lang::ALL);
            let main_weight = rng.random_range(0.6..=1.0);
            let mut mix = [(1.0 - main_weight) / 3.0; 4];
            mix[main_lang.index()] = main_weight;
            let mut plan = WatchPlan {
                name: format!("w{i:03}-{}-{}ph{}", main_lang, per_hour, if quiet { "-quiet" } else { "" }),
                quiet,
                per_hour,
                neg_share,
                main_lang,
                mix,
                episodes: Vec::new(),
                seed,
            };
            if !quiet {
                plan.episodes = plan_episodes(cfg, profile, &plan, &mut rng);
            }
            plan
        })
        .collect()
}

fn plan_episodes(cfg: &SimConfig, profile: &DailyProfile, plan: &WatchPlan, rng: &mut StdRng) -> Vec<Episode> {
    let mut episodes: Vec<Episode> = Vec::new();
    for _ in 0..cfg.episodes_per_watch {
        let minutes = pick(rng, &LENGTHS_MIN);
        let share_factor = pick(rng, &SHARE_FACTORS);
        let volume_factor = pick(rng, &VOLUME_FACTORS);
        let ramp = pick(rng, &RAMPS_MIN).min(minutes / 2);
        let lang = if rng.random_bool(0.5) { plan.main_lang } else { pick(rng, &Lang::ALL) };
        // Rejection sampling of the onset: anywhere in week 2, day or night, apart from the others.
        let (lo, hi) = (MINUTES_PER_WEEK + 60, SIM_MINUTES - minutes - 2 * 60);
        for _ in 0..200 {
            let onset = rng.random_range(lo..hi);
            let clear = episodes
                .iter()
                .all(|e| onset >= e.end() + EPISODE_GAP_MIN || onset + minutes + EPISODE_GAP_MIN <= e.onset);
            if clear {
                let mut e = Episode {
                    onset,
                    minutes,
                    ramp,
                    share_factor,
                    volume_factor,
                    lang,
                    main_lang: lang == plan.main_lang,
                    neg_per_hour: 0.0,
                };
                e.neg_per_hour = expected_neg_per_hour(plan, profile, &e);
                episodes.push(e);
                break;
            }
        }
    }
    episodes.sort_by_key(|e| e.onset);
    episodes
}

/// Gold-negative mentions per hour over the episode's full-strength minutes.
fn expected_neg_per_hour(plan: &WatchPlan, profile: &DailyProfile, e: &Episode) -> f64 {
    let full = (e.onset + e.ramp)..e.end();
    let n = full.len().max(1) as f64;
    let share = (plan.neg_share * e.share_factor).min(MAX_SHARE);
    let sum: f64 = full.map(|t| plan.per_hour * profile.at(t % MINUTES_PER_DAY) * e.volume_factor * share).sum();
    sum / n
}

const MAX_SHARE: f64 = 0.95;

/// One simulated mention, before it becomes a `Mention`.
pub struct Draw<'a> {
    /// Second within its minute.
    pub second: u32,
    pub lang: Lang,
    pub text: &'a PoolText,
    pub gold_negative: bool,
}

/// A slow random walk in log space, stationary with spread `sd`.
struct Wobble {
    x: f64,
    phi: f64,
    sd: f64,
}

impl Wobble {
    fn new(sd: f64, half_life_min: f64, rng: &mut StdRng) -> Wobble {
        Wobble { x: sd * normal(rng), phi: 0.5f64.powf(1.0 / half_life_min), sd }
    }

    fn step(&mut self, rng: &mut StdRng) -> f64 {
        self.x = self.phi * self.x + (1.0 - self.phi * self.phi).sqrt() * self.sd * normal(rng);
        // Centred so the wobble does not change the mean: E[exp(x)] = exp(sd²/2).
        (self.x - self.sd * self.sd / 2.0).exp()
    }
}

/// The mention stream of one watch.
pub struct Stream<'a> {
    plan: &'a WatchPlan,
    pools: &'a Pools,
    profile: &'a DailyProfile,
    cfg: &'a SimConfig,
    rng: StdRng,
    volume: Wobble,
    share: Wobble,
}

impl<'a> Stream<'a> {
    pub fn new(plan: &'a WatchPlan, pools: &'a Pools, profile: &'a DailyProfile, cfg: &'a SimConfig) -> Stream<'a> {
        let mut rng = StdRng::seed_from_u64(plan.seed);
        let volume = Wobble::new(cfg.volume_wobble, 30.0, &mut rng);
        let share = Wobble::new(cfg.share_wobble, 60.0, &mut rng);
        Stream { plan, pools, profile, cfg, rng, volume, share }
    }

    /// The mentions published in minute `t`, in time order, into `out`.
    pub fn minute(&mut self, t: u32, out: &mut Vec<Draw<'a>>) {
        out.clear();
        let plan = self.plan;
        let usual = plan.per_hour / 60.0 * self.profile.at(t % MINUTES_PER_DAY) * self.volume.step(&mut self.rng);
        let share = (plan.neg_share * self.share.step(&mut self.rng)).min(0.5);
        let episode = plan.episodes.iter().find(|e| e.intensity(t) > 0.0);
        let (a, storm_lang) = episode.map_or((0.0, plan.main_lang), |e| (e.intensity(t), e.lang));
        let (f, v) =
            episode.map_or((1.0, 1.0), |e| (1.0 + a * (e.share_factor - 1.0), 1.0 + a * (e.volume_factor - 1.0)));
        let total = usual * v;
        let storm_share = (share * f).min(MAX_SHARE);
        // Rates of the four kinds of mention; the usual ones first, the episode's on top.
        let usual_neg = usual * share;
        let storm_neg = (total * storm_share - usual_neg).max(0.0);
        let usual_other = (total * (1.0 - storm_share)).min(usual * (1.0 - share));
        let storm_other = (total * (1.0 - storm_share) - usual_other).max(0.0);
        let rates = [usual_neg, usual_other, storm_neg, storm_other];
        let sum: f64 = rates.iter().sum();
        if sum <= 0.0 {
            return;
        }
        let lambda = sum * gamma(&mut self.rng, self.cfg.dispersion);
        let n = poisson(&mut self.rng, lambda);
        let pools = self.pools;
        for _ in 0..n {
            let mut u = self.rng.random::<f64>() * sum;
            let kind = rates.iter().position(|&r| {
                u -= r;
                u < 0.0
            });
            let kind = kind.unwrap_or(1);
            let lang = if kind >= 2 { storm_lang } else { self.pick_lang() };
            let pool = pools.get(lang);
            let gold_negative = kind % 2 == 0;
            let texts = if gold_negative { &pool.negative } else { &pool.other };
            let text = &texts[self.rng.random_range(0..texts.len())];
            out.push(Draw { second: self.rng.random_range(0..60), lang, text, gold_negative });
        }
        out.sort_by_key(|d| d.second);
    }

    fn pick_lang(&mut self) -> Lang {
        let mut u = self.rng.random::<f64>();
        for lang in Lang::ALL {
            u -= self.plan.mix[lang.index()];
            if u < 0.0 {
                return lang;
            }
        }
        self.plan.main_lang
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A gamma draw with shape `k` and mean 1 (Marsaglia–Tsang); `k` ≤ 0 or infinite: exactly 1.
fn gamma(rng: &mut StdRng, k: f64) -> f64 {
    if !(k > 0.0 && k.is_finite()) {
        return 1.0;
    }
    if k < 1.0 {
        let u = 1.0 - rng.random::<f64>();
        // Gamma(k) = Gamma(k + 1) · U^(1/k), in raw units (the call returns Gamma(k + 1) / (k + 1)).
        return gamma(rng, k + 1.0) * (k + 1.0) / k * u.powf(1.0 / k);
    }
    let d = k - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v / k;
        }
    }
}

/// A Poisson draw by multiplying uniforms, in chunks of mean ≤ 30 (exact, O(λ)).
fn poisson(rng: &mut StdRng, lambda: f64) -> u32 {
    let mut left = lambda.max(0.0);
    let mut n = 0;
    while left > 0.0 {
        let chunk = left.min(30.0);
        left -= chunk;
        let limit = (-chunk).exp();
        let mut p = rng.random::<f64>();
        while p > limit {
            n += 1;
            p *= rng.random::<f64>();
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samplers_have_the_right_means() {
        let mut rng = StdRng::seed_from_u64(1);
        let n = 200_000;
        let p: f64 = (0..n).map(|_| poisson(&mut rng, 47.0) as f64).sum::<f64>() / n as f64;
        assert!((p - 47.0).abs() < 0.1, "poisson mean {p}");
        let g: f64 = (0..n).map(|_| gamma(&mut rng, 10.0)).sum::<f64>() / n as f64;
        assert!((g - 1.0).abs() < 0.01, "gamma mean {g}");
        let g: f64 = (0..n).map(|_| gamma(&mut rng, 0.5)).sum::<f64>() / n as f64;
        assert!((g - 1.0).abs() < 0.02, "gamma mean {g}");
    }

    #[test]
    fn an_episode_ramps_up_and_ends() {
        let e = Episode {
            onset: 100,
            minutes: 60,
            ramp: 10,
            share_factor: 2.0,
            volume_factor: 1.0,
            lang: Lang::Nl,
            main_lang: true,
            neg_per_hour: 0.0,
        };
        assert_eq!(e.intensity(99), 0.0);
        assert!((e.intensity(100) - 0.1).abs() < 1e-9);
        assert_eq!(e.intensity(120), 1.0);
        assert_eq!(e.intensity(160), 0.0);
    }
}
