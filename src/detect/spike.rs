//! Is the count in the short window a spike against the baseline? One test for every count
//! series a watch has (all mentions, negative mentions), and for count-only replay.
//!
//! A window is judged by how improbable its count is against what the baseline expects for
//! that many buckets: `z` is the signed root of the negative-binomial deviance, so counting
//! noise is judged exactly at a few mentions a window and over-dispersion at many
//! (`Expectation::window_z`). A spike must also be large in plain terms:
//! at least `min_excess` mentions and `min_factor` times the expected count above normal
//! (so "3 instead of 0.5" never pages anyone), and, when `novelty_buckets` is set, the
//! busiest bucket must be a record for that many buckets: a storm is bigger than anything
//! the last days brought, while a brand's usual evening peak is not.
//!
//! Decisions are made on the rise: an event starts at the first window that passes, and
//! stays open (no new alert) until `calm_buckets` buckets in a row fall below `k_end`. The
//! alerting step turns event starts, growth and ends into notifications.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, BaselineParams, Expectation};

/// See `learn`: how close to a new count an older record may be and still be replaced.
const RECORD_TOLERANCE: f64 = 1.0 + 1.0 / 64.0;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpikeParams {
    pub baseline: BaselineParams,
    /// `z` at which an event starts.
    pub k: f64,
    /// `z` at which it is critical.
    pub k_critical: f64,
    /// Below this `z` a bucket counts as calm.
    pub k_end: f64,
    /// Calm buckets in a row that end an event.
    pub calm_buckets: u32,
    /// Absolute excess over the expected count a window must reach.
    pub min_excess: f64,
    /// The window count must be at least this multiple of the expected count.
    pub min_factor: f64,
    /// The busiest bucket must top every bucket of this many before (0: off).
    pub novelty_buckets: u32,
    /// Buckets learned before any event may start (no alert on day one).
    pub warm_up: u64,
}

/// How a set of windows compares with the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// The strongest window's `z`.
    pub z: f64,
    /// That window's count, expected count and length in buckets.
    pub count: f64,
    pub expected: f64,
    pub buckets: u32,
    /// Passes every condition of an event start.
    pub triggered: bool,
    /// `z` of the longest window: what decides calm. The strongest of many windows is at
    /// least `k_end` far more often than any one of them, so judging calm by it would keep
    /// an event open for days at 1-minute buckets.
    pub calm_z: f64,
}

/// What changed in the event state with a judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Quiet,
    Started,
    Ongoing,
    Ended,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Event {
    calm: u32,
    peak_z: f64,
}

/// The spike test of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeDetector {
    pub params: SpikeParams,
    baseline: Baseline,
    /// (bucket number, count) of past buckets, decreasing counts: the sliding maximum.
    record: VecDeque<(u64, f64)>,
    learned: u64,
    event: Option<Event>,
}

impl SpikeDetector {
    pub fn new(params: SpikeParams) -> SpikeDetector {
        SpikeDetector { params, baseline: Baseline::new(0.5), record: VecDeque::new(), learned: 0, event: None }
    }

    pub(crate) fn warmed_up(&self) -> bool {
        self.learned >= self.params.warm_up
    }

    /// The expectation for one bucket in `slot`.
    pub(crate) fn expect(&self, slot: usize) -> Expectation {
        self.baseline.expect(&self.params.baseline, slot)
    }

    /// The expected count of one bucket in `slot`, and the count at which one bucket alone
    /// would be `k` noise units above it: the band a chart draws.
    pub(crate) fn band(&self, slot: usize) -> (f64, f64) {
        self.band_of(self.expect(slot))
    }

    /// `band` for an expectation already at hand.
    pub(crate) fn band_of(&self, e: Expectation) -> (f64, f64) {
        (e.count(), ((1.0 + e.count()) * (self.params.k * e.window_noise(1)).exp() - 1.0).max(0.0))
    }

    /// Judges windows `(buckets, count)` ending now, and the busiest single bucket in them.
    pub fn judge(&self, windows: &[(u32, f64)], busiest_bucket: f64, slot: usize) -> Judgement {
        self.judge_expected(windows, busiest_bucket, self.expect(slot))
    }

    /// `judge`, with the expectation for the bucket's slot already at hand.
    pub(crate) fn judge_expected(&self, windows: &[(u32, f64)], busiest_bucket: f64, e: Expectation) -> Judgement {
        let p = &self.params;
        let per_bucket = e.count();
        let mut best = Judgement {
            z: f64::NEG_INFINITY,
            count: 0.0,
            expected: 0.0,
            buckets: 0,
            triggered: false,
            calm_z: f64::NEG_INFINITY,
        };
        let mut longest = (0, f64::NEG_INFINITY);
        let longest_n = windows.iter().map(|&(n, _)| n.max(1)).max().unwrap_or(1);
        for &(n, count) in windows {
            let n = n.max(1);
            let expected = per_bucket * n as f64;
            // A window at or below its expectation has z ≤ 0: once another has z ≥ 0 it cannot
            // be the strongest, and its two logarithms are most of a quiet bucket's cost. The
            // longest window is always scored: calm is judged by it.
            if count <= expected && best.z >= 0.0 && n != longest_n {
                continue;
            }
            let z = e.window_z(n, count);
            if z > best.z {
                best = Judgement { z, count, expected, buckets: n, ..best };
            }
            if n >= longest.0 {
                longest = (n, z);
            }
        }
        best.calm_z = longest.1;
        let record = self.record.front().map_or(0.0, |&(_, c)| c);
        let novel = p.novelty_buckets == 0 || busiest_bucket >= record;
        best.triggered = self.warmed_up()
            && best.z >= p.k
            && best.count - best.expected >= p.min_excess
            && best.count >= p.min_factor * best.expected
            && novel;
        best
    }

    /// Moves the event state on with a judgement.
    pub fn advance(&mut self, j: &Judgement) -> Transition {
        match &mut self.event {
            None if j.triggered => {
                self.event = Some(Event { calm: 0, peak_z: j.z });
                Transition::Started
            }
            None => Transition::Quiet,
            Some(ev) => {
                ev.peak_z = ev.peak_z.max(j.z);
                // Calm buckets need not come in one unbroken run (at 1-minute buckets an
                // hour without a single noisy minute almost never happens); a window back at
                // spike level starts the count again.
                if j.calm_z < self.params.k_end {
                    ev.calm += 1;
                } else if j.z >= self.params.k {
                    ev.calm = 0;
                }
                if ev.calm >= self.params.calm_buckets {
                    self.event = None;
                    Transition::Ended
                } else {
                    Transition::Ongoing
                }
            }
        }
    }

    /// Learns one finished bucket.
    pub fn learn(&mut self, count: f64, slot: usize) {
        self.learn_expected(count, slot, self.expect(slot));
    }

    /// `learn`, with the expectation for `slot` already at hand.
    pub(crate) fn learn_expected(&mut self, count: f64, slot: usize, e: Expectation) {
        let in_event = self.event.is_some();
        self.baseline.learn_expected(&self.params.baseline, count, slot, in_event, e);
        let n = self.learned;
        self.learned += 1;
        if self.params.novelty_buckets > 0 {
            while self.record.front().is_some_and(|&(i, _)| i + (self.params.novelty_buckets as u64) < n + 1) {
                self.record.pop_front();
            }
            // A record only 1/64 above the new count is replaced by it: that bounds the
            // queue to ~64 small counts plus ~620 steps up to a million (≤ 11 kB), at the
            // price of records under 1.6% lower than exact after the larger one expires.
            while self.record.back().is_some_and(|&(_, c)| c <= count * RECORD_TOLERANCE) {
                self.record.pop_back();
            }
            self.record.push_back((n, count));
        }
    }

    /// Severity of a judgement that started or continues an event.
    pub(crate) fn critical(&self, j: &Judgement) -> bool {
        j.z >= self.params.k_critical
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SpikeParams {
        SpikeParams {
            baseline: BaselineParams {
                level_half_life: 288.0,
                scale_half_life: 288.0,
                season_half_life: 2016.0,
                clip: 3.0,
                scale_floor: 0.1,
                poisson_weight: 1.0,
                event_slow: 0.1,
                season_slots: 0,
                slot_buckets: 1.0,
            },
            k: 4.0,
            k_critical: 8.0,
            k_end: 1.0,
            calm_buckets: 6,
            min_excess: 10.0,
            min_factor: 2.0,
            novelty_buckets: 0,
            warm_up: 100,
        }
    }

    /// Feeds counts; returns the indexes where events started.
    fn run(d: &mut SpikeDetector, counts: &[f64]) -> Vec<usize> {
        let mut starts = Vec::new();
        for (i, &c) in counts.iter().enumerate() {
            let j = d.judge(&[(1, c)], c, 0);
            if d.advance(&j) == Transition::Started {
                starts.push(i);
            }
            d.learn(c, 0);
        }
        starts
    }

    fn noisy(n: usize, level: f64) -> Vec<f64> {
        // Deterministic over-dispersed noise around `level`.
        (0..n)
            .map(|i| (level * (1.0 + 0.4 * ((i as f64 * 1.7).sin() + (i as f64 * 0.31).cos()) / 2.0)).round())
            .collect()
    }

    #[test]
    fn a_surge_fires_once_on_the_rise_and_not_after_the_peak() {
        let mut d = SpikeDetector::new(params());
        let mut counts = noisy(500, 30.0);
        counts.extend([90.0, 300.0, 800.0, 600.0, 400.0, 200.0]);
        counts.extend(noisy(100, 30.0));
        let starts = run(&mut d, &counts);
        // 90, three times a ±40% noisy 30, is already improbable by its tail; either way the
        // alert comes on the rise, two buckets before the peak, and once.
        assert_eq!(starts, [500], "one alert, on the rise");
    }

    #[test]
    fn no_alert_during_warm_up_or_for_small_absolute_changes() {
        let mut d = SpikeDetector::new(params());
        let mut counts = vec![1.0; 50];
        counts.push(500.0); // during warm-up
        counts.extend(vec![0.0; 300]);
        counts.extend([6.0, 0.0, 0.0]); // 6 instead of 0: large in z, tiny in mentions
        assert!(run(&mut d, &counts).is_empty());
    }

    #[test]
    fn everyday_noise_of_an_overdispersed_series_stays_quiet() {
        let mut d = SpikeDetector::new(params());
        assert!(run(&mut d, &noisy(5000, 200.0)).is_empty());
    }

    #[test]
    fn novelty_requires_a_record() {
        let p = SpikeParams { novelty_buckets: 1000, ..params() };
        let mut d = SpikeDetector::new(p);
        let mut counts = noisy(400, 20.0);
        counts.push(500.0);
        counts.extend(noisy(100, 20.0));
        counts.push(300.0); // a spike, but smaller than the one 100 buckets ago
        counts.extend(noisy(20, 20.0));
        assert_eq!(run(&mut d, &counts), [400]);
    }

    #[test]
    fn an_event_ends_after_calm_buckets_and_a_new_one_can_start() {
        let mut d = SpikeDetector::new(params());
        let mut counts = noisy(400, 20.0);
        counts.push(400.0);
        counts.extend(noisy(50, 20.0));
        counts.push(400.0);
        counts.extend(noisy(10, 20.0));
        assert_eq!(run(&mut d, &counts), [400, 451]);
    }
}
