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
//! * the noise used to judge a bucket combines the learned scale with the Poisson noise of
//!   counting (`log(1+X)` of a small count is noisy by itself), so a sparse series is not
//!   judged by a scale learned in its quiet hours.

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
}

/// What the baseline expects for a bucket, and how noisy that expectation is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Expectation {
    /// Expected `log(1 + count)` per bucket.
    pub log_level: f64,
    /// Scale (log units) to judge a deviation by.
    pub noise: f64,
}

impl Expectation {
    /// The expected count per bucket.
    pub(crate) fn count(&self) -> f64 {
        self.log_level.exp_m1().max(0.0)
    }
}

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
        let mu = log_level.exp_m1().max(0.0);
        let poisson = p.poisson_weight * mu / ((1.0 + mu) * (1.0 + mu));
        let noise = (self.scale * self.scale + poisson).sqrt().max(p.scale_floor);
        Expectation { log_level, noise }
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
