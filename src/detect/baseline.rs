//! What "normal" is for one series of bucket counts, learned as the series goes, in O(1)
//! time and a few hundred bytes per series.
//!
//! Mention counts are over-dispersed: a quiet brand sees 2 a minute and then 40, a busy one
//! swings by a factor of ten between night and day. A mean and standard deviation of the raw
//! counts are dragged up by every burst and fire constantly (so does a Poisson test). So the
//! baseline works on `log(1 + count)`, where a doubling is the same step at any volume, and
//! learns robustly:
//!
//! * **level** and **scale** are exponentially weighted (half-lives in buckets), and every
//!   update uses the residual *clipped* at `clip` scales: a burst moves the baseline by at
//!   most a few scales per bucket instead of pulling it up to the burst;
//! * a **seasonal profile** per hour of the week (168 slots; or of the day when history is
//!   short) learns the daily and weekly shape, so a Monday-morning peak is not a spike;
//! * while an event is under way, learning slows down (`event_slow`): a storm is not the new
//!   normal, and the baseline should not adapt to it within the hour;
//! * what it expects is a **mean** count, not `exp(level) − 1`: the level is a mean of
//!   `log(1 + count)`, whose exponential is a geometric mean and falls short of the mean by a
//!   quarter at one mention a bucket (the sparse-count bias, fixed 2026-12-08);
//! * a window of n buckets is judged as a count, by a negative-binomial tail: its counting
//!   noise is that of the sum (not one bucket's log noise over √n, which made ordinary
//!   Poisson windows of a quiet watch look two to three times as far out as they are), and
//!   its over-dispersion is what the scale shows beyond counting noise, shrunk over the window
//!   only as far as consecutive buckets are not correlated (a brand's chatter drifts for half
//!   an hour at a time, and a drift does not average out over ten minutes).

use serde::{Deserialize, Serialize};

/// Hour-of-week slots of the seasonal profile.
pub(crate) const SEASON_SLOTS: usize = 168;

/// The largest seasonal offset learned from one bucket, in log units (e² ≈ 7.4×).
const SEASON_CLIP: f64 = 2.0;

/// How a baseline learns. Durations are in buckets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BaselineParams {
    pub level_half_life: f64,
    pub scale_half_life: f64,
    pub season_half_life: f64,
    /// Residuals beyond this many scales are clipped before they are learned.
    pub clip: f64,
    /// The smallest scale (in log units) a series may have.
    pub scale_floor: f64,
    /// Weight of the Poisson counting noise in the judging scale (0 turns it off).
    pub poisson_weight: f64,
    /// Learning-rate factor while an event is under way.
    pub event_slow: f64,
    /// Slots of the seasonal profile in use: 24 (hour of day), 168 (hour of week), 0 (off).
    pub season_slots: usize,
    /// Buckets in one slot of the profile (60 for 1-minute buckets and hourly slots): with
    /// `season_slots` it says when the first full cycle of the profile is behind.
    #[serde(default)]
    pub slot_buckets: f64,
}

impl BaselineParams {
    /// Buckets in one full cycle of the seasonal profile (a day or a week), 0 when off.
    fn cycle(&self) -> f64 {
        self.season_slots as f64 * self.slot_buckets.max(1.0)
    }
}

/// The learned state of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Baseline {
    /// Log level; `None` until the first bucket is learned.
    level: Option<f64>,
    scale: f64,
    /// Seasonal offset per hour-of-week slot (log units); f32 keeps a watch's state small.
    season: Vec<f32>,
    /// Buckets each slot learned (saturating): a slot's running mean needs its own count.
    /// Empty in states saved before it was kept; then estimated as before, from `learned`.
    #[serde(default)]
    visits: Vec<u16>,
    /// Buckets learned so far.
    pub learned: u64,
    /// Mean square of the (clipped) residual, and mean product of consecutive residuals:
    /// how much of one bucket's deviation the next one shares. A brand's chatter drifts for
    /// half an hour at a time, so a window's buckets are not independent draws; this says by
    /// how much (zero in states saved before it was kept, and learned from there).
    #[serde(default)]
    resid_sq: f64,
    #[serde(default)]
    resid_lag: f64,
    #[serde(default)]
    last_resid: Option<f64>,
}

/// What the baseline expects for a bucket, and how noisy that expectation is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Expectation {
    /// Expected `log(1 + count)` per bucket.
    pub log_level: f64,
    /// Scale (log units) a single bucket's deviation is clipped by when it is learned.
    pub noise: f64,
    /// Expected count per bucket: the mean, not `exp(log_level) − 1` (see `expect`).
    mean: f64,
    /// Variance of `log(1 + count)` per bucket beyond counting noise (over-dispersion).
    extra: f64,
    /// Correlation of that over-dispersion from one bucket to the next (0 to 0.95).
    persistence: f64,
    poisson_weight: f64,
    floor: f64,
}

impl Expectation {
    /// The expected count per bucket.
    pub(crate) fn count(&self) -> f64 {
        self.mean
    }

    /// The noise (log units) of `log(1 + sum)` over `n` buckets: the counting noise of the
    /// sum itself, plus the over-dispersion beyond it.
    ///
    /// Dividing one bucket's log noise by √n, as this once did, holds for dense counts only.
    /// For a sum of counts near 1, `log(1 + sum)` is much noisier than that: the counting
    /// noise of one bucket in log units is `√μ/(1+μ)`, of n buckets `√(nμ)/(1+nμ)`, which is
    /// `n(1+μ)/(1+nμ)` times the first over √n: over ten buckets 1.8 times at one mention a
    /// bucket, 2.5 times at 0.5. (Windows are judged by `window_z`; this is the noise the
    /// chart's band is drawn with.)
    pub(crate) fn window_noise(&self, n: u32) -> f64 {
        let n = n.max(1) as f64;
        let m = self.mean * n;
        let counting = self.poisson_weight * m / ((1.0 + m) * (1.0 + m));
        let extra = self.extra * persisting_share(self.persistence, n);
        (counting + extra).sqrt().max(self.floor / n.sqrt()).max(self.floor / 2.0)
    }
}

/// The variance of the mean of `n` buckets whose deviations are correlated `phi` from one
/// bucket to the next (an AR(1) drift), as a share of one bucket's variance: `1/n` for
/// independent buckets, 1 when a drift holds for the whole window.
fn persisting_share(phi: f64, n: f64) -> f64 {
    if phi <= 0.0 || n <= 1.0 {
        return 1.0 / n.max(1.0);
    }
    let mut sum = 1.0;
    let mut power = 1.0;
    let mut k = 1.0;
    while k < n {
        power *= phi;
        sum += 2.0 * (1.0 - k / n) * power;
        k += 1.0;
    }
    (sum / n).min(1.0)
}

impl Expectation {
    /// How far `count` mentions over `n` buckets stand above this expectation, in standard
    /// normal units: the signed root of the negative-binomial deviance of `count` against the
    /// expected `n × mean`, with the over-dispersion the window has shown (`extra`, as much of
    /// it as persists over `n` buckets).
    ///
    /// A normal z of `log(1 + count)` is right for dense counts, but at a few mentions a
    /// window it misjudges the tail: 24 negative mentions where 4 are expected is a
    /// one-in-ten-billion window for Poisson counts, yet only 3.8 log-noise units. The
    /// deviance is the likelihood-ratio measure (like the share test's binomial z): exact in
    /// the tail for sparse counts, and for dense ones the same as the log-normal z, since a
    /// gamma-Poisson count of many mentions varies by `√(1/M + extra)` in relative terms.
    pub(crate) fn window_z(&self, n: u32, count: f64) -> f64 {
        let n = n.max(1) as f64;
        let m = (self.mean * n).max(MIN_EXPECTED);
        let c = count.max(0.0);
        // Relative variance beyond counting noise of an n-bucket sum; the floor keeps a
        // perfectly steady series from reading a 1% wobble as a storm.
        let over = (self.extra * persisting_share(self.persistence, n)).max(self.floor * self.floor / 4.0);
        let poisson = if c > 0.0 { c * (c / m).ln() } else { 0.0 };
        // (c + r) · log((c + r) / (m + r)) with r = 1 / over, written to stay exact as r grows.
        let r = 1.0 / over;
        let deviance = 2.0 * (poisson - (c + r) * ((c - m) / (m + r)).ln_1p());
        deviance.max(0.0).sqrt().copysign(c - m)
    }
}

/// The smallest expected window count judged against: a watch that has never been
/// mentioned does not stand infinitely far out at its first mention.
const MIN_EXPECTED: f64 = 0.1;

/// The scale is a mean absolute deviation; for normal residuals its square times π/2 is the
/// variance.
const MAD_TO_VARIANCE: f64 = std::f64::consts::FRAC_PI_2;

fn rate(half_life: f64) -> f64 {
    if half_life <= 0.0 {
        1.0
    } else {
        1.0 - 0.5f64.powf(1.0 / half_life)
    }
}

impl Baseline {
    pub(crate) fn new(initial_scale: f64) -> Baseline {
        Baseline {
            level: None,
            scale: initial_scale,
            season: vec![0.0; SEASON_SLOTS],
            visits: vec![0; SEASON_SLOTS],
            learned: 0,
            resid_sq: 0.0,
            resid_lag: 0.0,
            last_resid: None,
        }
    }

    fn seasonal(&self, p: &BaselineParams, slot: usize) -> f64 {
        if p.season_slots > 0 {
            self.season.get(slot).copied().unwrap_or(0.0) as f64
        } else {
            0.0
        }
    }

    /// The expectation for a bucket in seasonal `slot` (hour of week).
    pub(crate) fn expect(&self, p: &BaselineParams, slot: usize) -> Expectation {
        let log_level = self.level.unwrap_or(0.0) + self.seasonal(p, slot);
        // The level is a mean of log(1 + count): exp of it is the geometric mean of 1 + count,
        // which lies below the mean whenever counts vary (by a quarter at one mention a bucket,
        // where most of the variation is counting noise). A log-normal's mean corrects it,
        // from the variance the scale has learned.
        let var = MAD_TO_VARIANCE * self.scale * self.scale;
        let mean = (log_level + var / 2.0).exp_m1().max(0.0);
        let poisson = p.poisson_weight * mean / ((1.0 + mean) * (1.0 + mean));
        let noise = (self.scale * self.scale + poisson).sqrt().max(p.scale_floor);
        // What the counts vary by beyond counting noise: over-dispersion.
        let extra = (var - poisson).max(0.0);
        // Counting noise is independent from bucket to bucket, so the residuals' lag-one
        // covariance is all over-dispersion: its share of the over-dispersion's variance is
        // the persistence.
        let over = self.resid_sq - poisson;
        let persistence = if over > 1e-9 { (self.resid_lag / over).clamp(0.0, 0.95) } else { 0.0 };
        Expectation {
            log_level,
            noise,
            mean,
            extra,
            persistence,
            poisson_weight: p.poisson_weight,
            floor: p.scale_floor,
        }
    }

    /// Learns one bucket, computing its expectation (tests; the detector already has it).
    #[cfg(test)]
    pub(crate) fn learn(&mut self, p: &BaselineParams, count: f64, slot: usize, in_event: bool) {
        let e = self.expect(p, slot);
        self.learn_expected(p, count, slot, in_event, e);
    }

    /// Learns one finished bucket with `count` mentions in `slot`; `in_event` slows learning.
    /// Takes the expectation the bucket was judged by, so it is computed once (that saves a
    /// fifth of a count replay).
    pub(crate) fn learn_expected(
        &mut self,
        p: &BaselineParams,
        count: f64,
        slot: usize,
        in_event: bool,
        e: Expectation,
    ) {
        let y = count.max(0.0).ln_1p();
        let first = self.level.is_none();
        let level = *self.level.get_or_insert(y);
        // Before anything was learned the expectation said level 0; the first bucket sets it.
        let e = if first { self.expect(p, slot) } else { e };
        let r = y - e.log_level;
        let c = p.clip * e.noise;
        let clipped = r.clamp(-c, c);
        let slow = if in_event { p.event_slow } else { 1.0 };
        // Early on, the level is a running mean: with half-lives of days, a plain EWMA would
        // still sit near the first bucket's value when warm-up ends. The scale keeps its
        // wide initial value longer on purpose: early judgements should be cautious.
        let warm = 1.0 / (self.learned as f64 + 1.0);
        // Until the profile has seen every slot once, the level is the plain running mean of
        // what came. Learning it net of a profile that is still being filled lets the two
        // trade the same residual: the slot seen first soaks up each bucket's deviation, the
        // level barely moves from the first bucket (often a partial one), and every slot not
        // yet seen is expected at that level. Found by the accelerated soak: a 105-minute
        // warm-up on 3.6 mentions/min expected 1.5/min in the hours after it.
        let first_cycle = p.season_slots > 0 && (self.learned as f64) < p.cycle();
        let level_residual = if first_cycle { (y - level).clamp(-c, c) } else { clipped };
        let level = level + rate(p.level_half_life).max(warm) * level_residual * slow;
        self.level = Some(level);
        self.scale += rate(p.scale_half_life) * (r.abs().min(c) - self.scale) * slow;
        // Warm-started like the level: a 5-day EWMA from zero would read no persistence at all
        // when warm-up ends.
        let co = rate(p.scale_half_life).max(warm) * slow;
        self.resid_sq += co * (clipped * clipped - self.resid_sq);
        if let Some(previous) = self.last_resid {
            self.resid_lag += co * (clipped * previous - self.resid_lag);
        }
        self.last_resid = Some(clipped);
        if p.season_slots > 0 {
            if self.visits.len() != SEASON_SLOTS {
                let estimate = (self.learned / p.season_slots as u64).min(u16::MAX as u64) as u16;
                self.visits = vec![estimate; SEASON_SLOTS];
            }
            if let (Some(s), Some(visits)) = (self.season.get_mut(slot), self.visits.get_mut(slot)) {
                // A slot sees one bucket in `season_slots` over a cycle: its half-life in its
                // own updates is shorter by that factor, so the profile adapts in
                // `season_half_life` time. A running mean of the slot's own buckets early on,
                // so day two knows day one's shape.
                let per_slot = rate(p.season_half_life / p.season_slots as f64).max(1.0 / (*visits as f64 + 1.0));
                // A regular peak can be many scales above the level (a 9:00 newsletter), so
                // the profile's target is bounded in plain log units instead: up to ~7x.
                let target = (y - level).clamp(-SEASON_CLIP, SEASON_CLIP);
                *s += (per_slot * (target - *s as f64) * slow) as f32;
                *visits = visits.saturating_add(1);
            }
        }
        self.learned += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BaselineParams {
        BaselineParams {
            level_half_life: 100.0,
            scale_half_life: 100.0,
            season_half_life: 1000.0,
            clip: 3.0,
            scale_floor: 0.1,
            poisson_weight: 1.0,
            event_slow: 0.1,
            season_slots: 0,
            slot_buckets: 1.0,
        }
    }

    #[test]
    fn a_steady_series_is_expected_at_its_level() {
        let p = params();
        let mut b = Baseline::new(0.5);
        for _ in 0..2000 {
            b.learn(&p, 50.0, 0, false);
        }
        let e = b.expect(&p, 0);
        assert!((e.count() - 50.0).abs() < 1.0, "{e:?}");
        assert!(e.noise < 0.2, "a steady series has little noise: {e:?}");
    }

    #[test]
    fn one_burst_barely_moves_the_baseline() {
        let p = params();
        let mut b = Baseline::new(0.5);
        for _ in 0..2000 {
            b.learn(&p, 20.0, 0, false);
        }
        let before = b.expect(&p, 0).count();
        for _ in 0..5 {
            b.learn(&p, 2000.0, 0, false);
        }
        let after = b.expect(&p, 0).count();
        assert!(after < before * 1.5, "five bursting buckets moved the level from {before} to {after}");
    }

    #[test]
    fn sparse_series_are_judged_with_counting_noise() {
        let p = params();
        let mut b = Baseline::new(0.0);
        for i in 0..2000 {
            b.learn(&p, if i % 2 == 0 { 1.0 } else { 2.0 }, 0, false);
        }
        let noisy = b.expect(&p, 0).noise;
        let p0 = BaselineParams { poisson_weight: 0.0, ..p };
        assert!(noisy > b.expect(&p0, 0).noise + 0.1, "Poisson noise widens a sparse series' scale");
    }

    /// Poisson counts with mean `mu` from a fixed-seed generator (Knuth's method).
    fn poisson(n: usize, mu: f64) -> Vec<f64> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut uniform = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let (limit, mut k, mut p) = ((-mu).exp(), 0.0, uniform());
                while p > limit {
                    k += 1.0;
                    p *= uniform();
                }
                k
            })
            .collect()
    }

    #[test]
    fn sparse_counts_are_expected_at_their_mean_not_their_geometric_mean() {
        // exp(mean of log(1 + count)) − 1 is 0.77 for Poisson counts of mean 1, and 0.72 of
        // 0.3: the bias that made ordinary bursts of a quiet watch look like spikes.
        let p = params();
        for mu in [0.3, 1.0, 3.0] {
            let mut b = Baseline::new(0.5);
            for c in poisson(4000, mu) {
                b.learn(&p, c, 0, false);
            }
            let got = b.expect(&p, 0).count();
            assert!((got / mu - 1.0).abs() < 0.12, "mean {mu}: expected {got:.3}");
        }
    }

    #[test]
    fn sparse_windows_are_judged_by_their_poisson_tail() {
        // One mention a bucket: ten buckets hold 21 or more in one window of 600 (Poisson(10)),
        // which a quiet watch sees every few hours. Judged by one bucket's log noise over √10
        // against an expectation of 7.7, that window stood 4.5 noise units out, above every
        // preset's k; its tail probability is z ≈ 2.9. And 24 where 4 are expected is a
        // one-in-ten-billion window that a normal z of log counts put at only 3.8.
        let p = params();
        let learned = |mu: f64| {
            let mut b = Baseline::new(0.5);
            poisson(4000, mu).into_iter().for_each(|c| b.learn(&p, c, 0, false));
            b.expect(&p, 0)
        };
        let z = learned(1.0).window_z(10, 21.0);
        assert!((2.5..3.4).contains(&z), "21 of 10 expected: z {z:.2}");
        let z = learned(0.4).window_z(10, 24.0);
        assert!(z > 5.5, "24 of 4 expected: z {z:.2}");
        assert!(learned(0.4).window_z(10, 0.0) < 0.0);
    }

    #[test]
    fn a_drift_that_lasts_is_learned_as_persistent_and_widens_long_windows() {
        // The same counts in two orders: a slow drift (30 buckets up, 30 down) and shuffled.
        // Only the drift makes ten buckets in a row vary together.
        let p = params();
        let drift: Vec<f64> = (0..6000).map(|i| if (i / 30) % 2 == 0 { 60.0 } else { 30.0 }).collect();
        let shuffled: Vec<f64> = (0..6000).map(|i| if (i * 7919 / 13) % 2 == 0 { 60.0 } else { 30.0 }).collect();
        let learned = |counts: &[f64]| {
            let mut b = Baseline::new(0.5);
            counts.iter().for_each(|&c| b.learn(&p, c, 0, false));
            b.expect(&p, 0)
        };
        let (slow, fast) = (learned(&drift), learned(&shuffled));
        assert!(slow.persistence > 0.8 && fast.persistence < 0.2, "{slow:?} {fast:?}");
        assert!(slow.window_noise(10) > 2.0 * fast.window_noise(10), "{slow:?} {fast:?}");
    }

    #[test]
    fn the_seasonal_profile_learns_a_daily_peak() {
        let p = BaselineParams { season_slots: 24, ..params() };
        let mut b = Baseline::new(0.5);
        for _day in 0..100 {
            for hour in 0..24 {
                // A regular 9:00 peak five times the rest of the day.
                let count = if hour == 9 { 100.0 } else { 20.0 };
                b.learn(&p, count, hour, false);
            }
        }
        let (peak, night) = (b.expect(&p, 9).count(), b.expect(&p, 3).count());
        assert!(peak > 3.5 * night && (night - 20.0).abs() < 4.0, "peak {peak}, night {night}");
    }
}
