//! The volume spike test over a plain series of bucket counts: what `replay --counts` runs,
//! and the core of what a watch runs on its mention counts.
//!
//! Each point is judged on two windows ending at it, the point itself and the short window
//! (default 15 minutes), then learned. Judging before learning keeps it causal: a point is
//! judged only by the points before it.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::presets::{PresetSpec, Season};
use super::spike::{Judgement, SpikeDetector, Transition};

/// An event start in a count series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountsAlert {
    pub index: usize,
    pub critical: bool,
    pub judgement: Judgement,
}

/// What the detector saw at one point, for charts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trace {
    pub count: f64,
    /// Expected count per bucket.
    pub expected: f64,
    /// The count per bucket at which the point would pass the `z` threshold.
    pub threshold: f64,
    pub z: f64,
}

/// Windows judged per point at most (one per bucket of the short window).
const MAX_WINDOWS: usize = 16;

pub struct CountsDetector {
    spike: SpikeDetector,
    season: Season,
    short: u32,
    recent: VecDeque<f64>,
    index: usize,
}

impl CountsDetector {
    pub fn new(spec: &PresetSpec, bucket: Duration) -> CountsDetector {
        let params = spec.spike_params(bucket);
        let short = (spec.short.as_secs_f64() / bucket.as_secs_f64().max(1.0)).round().max(1.0) as u32;
        CountsDetector {
            spike: SpikeDetector::new(params),
            season: spec.season,
            short,
            recent: VecDeque::new(),
            index: 0,
        }
    }

    /// Judges and learns one point; returns an alert when an event starts at it.
    pub fn step(&mut self, at: DateTime<Utc>, count: f64) -> (Option<CountsAlert>, Trace) {
        let slot = self.season.slot(at);
        self.recent.push_back(count);
        if self.recent.len() > self.short as usize {
            self.recent.pop_front();
        }
        // Every window from one bucket up to the short window, all ending now: a sudden
        // spike shows in the shortest, a steady climb in the longer ones.
        let mut windows = [(0u32, 0.0f64); MAX_WINDOWS];
        let mut sum = 0.0;
        let mut n = 0;
        for (len, c) in self.recent.iter().rev().enumerate() {
            sum += c;
            if n < MAX_WINDOWS {
                windows[n] = (len as u32 + 1, sum);
                n += 1;
            }
        }
        let e = self.spike.expect(slot);
        let j = self.spike.judge_expected(&windows[..n], count, e);
        let (expected, threshold) = self.spike.band_of(e);
        let trace = Trace { count, expected, threshold, z: j.z };
        let alert = match self.spike.advance(&j) {
            Transition::Started => {
                Some(CountsAlert { index: self.index, critical: self.spike.critical(&j), judgement: j })
            }
            _ => None,
        };
        // Judged and learned by the same expectation: the baseline has not moved in between.
        self.spike.learn_expected(count, slot, e);
        self.index += 1;
        (alert, trace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Preset;

    #[test]
    fn a_series_with_one_storm_gets_one_alert_at_its_start() {
        let spec = Preset::Balanced.spec();
        let mut d = CountsDetector::new(&spec, Duration::from_secs(300));
        let start = DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let mut alerts = Vec::new();
        for i in 0..(6 * 288) {
            let t = start + chrono::Duration::minutes(5 * i);
            // A daily rhythm with noise, then a storm on day 5 at 14:00.
            let hour = (i % 288) as f64 / 12.0;
            let mut c = 40.0 + 30.0 * (std::f64::consts::PI * hour / 12.0).sin().max(0.0) + ((i * 7919) % 13) as f64;
            if (5 * 288 + 168..5 * 288 + 190).contains(&i) {
                c *= 12.0;
            }
            if let (Some(a), _) = d.step(t, c.round()) {
                alerts.push(a.index);
            }
        }
        assert_eq!(alerts, [5 * 288 + 168]);
    }
}
